"""Trial, block and behaviour structure of the stimulus-selection task.

After Rodgers & DeWeese (Neuron 2014): every trial plays two simultaneous sounds, a white-noise
burst from the left or right speaker and a high- or low-pitched warble. In ``"local"`` blocks
the animal must poke on the side of the noise, in ``"pitch"`` blocks on the side mapped to the
pitch. **Pitch mapping of this simulator: high -> left, low -> right.** Blocks alternate; each
starts with a few *cue trials* that carry only the relevant sound.

Sides are coded ``-1`` (left) / ``+1`` (right) internally, ``"left"`` / ``"right"`` in coords.
A trial's epochs, in order, relative to stimulus onset (time 0):

``iti`` [trial_start, hold_on) · ``hold`` [hold_on, 0) · ``stimulus`` [0, rt) ·
``response`` [rt, choice) · ``outcome`` [choice, trial_end)

where ``rt`` is the reaction time (leaving the centre port ends the sound) and ``choice`` the
side-port entry. A bin belongs to the epoch that contains its centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alrnn_neuro.errors import ConfigError

RULES = ("local", "pitch")
EPOCHS = ("iti", "hold", "stimulus", "response", "outcome")
EVENTS = ("trial_start", "hold_on", "stim_on", "response", "choice", "trial_end")
_DURATIONS = ("iti", "hold", "movement", "outcome")
INPUT_NAMES = (
    "left_noise",
    "right_noise",
    "high_pitch",
    "low_pitch",
    "cue_local",
    "cue_pitch",
    "hold",
    "reward",
)
"""Input channels (all 0/1): the noise burst on the left / right speaker, the high / low warble
(each on during the ``stimulus`` epoch when that sound plays), ``cue_local`` / ``cue_pitch``
(on during the ``stimulus`` epoch of the cue trials of a localization / pitch block, which
carry the relevant sound alone), ``hold`` (on during the pre-stimulus hold in the centre port)
and ``reward`` (on during the ``outcome`` epoch of correct trials)."""


@dataclass(frozen=True)
class TaskParams:
    """Parameters of the task and of the simulated animal's behaviour (times in seconds).

    Attributes
    ----------
    block_length : (int, int)
        Inclusive range of trials per block (cue trials included), drawn uniformly.
    n_cue_trials : int
        Cue trials (relevant sound only) at the start of every block.
    first_rule : {"local", "pitch"} or None
        Rule of the first block; ``None`` draws it.
    iti, hold, movement, outcome : (float, float)
        Uniform ranges of the inter-trial, pre-stimulus hold, response (centre -> side port)
        and outcome durations.
    rt_shift, rt_shape, rt_scale, rt_max : float
        Reaction time = ``rt_shift + Gamma(rt_shape, rt_scale)``, clipped at ``rt_max``.
    rt_incongruent : float
        Extra mean reaction time on incongruent trials.
    lapse : float
        Probability that the choice is a coin flip, whatever the latent state.
    belief_start, belief_tau : float
        Rule-belief strength on the first trial of a new block and its recovery time constant
        (trials): ``1 - (1 - belief_start) * exp(-j / belief_tau)`` after ``j`` non-cue trials.
        The first block starts at full strength (no switch).
    belief_noise : float
        Trial-to-trial s.d. of the belief.
    n_switch_trials : int
        Non-cue trials after a block change flagged ``switch=True``.
    """

    block_length: tuple[int, int] = (40, 80)
    n_cue_trials: int = 4
    first_rule: str | None = None
    iti: tuple[float, float] = (0.5, 1.0)
    hold: tuple[float, float] = (0.3, 0.6)
    movement: tuple[float, float] = (0.15, 0.35)
    outcome: tuple[float, float] = (0.4, 0.8)
    rt_shift: float = 0.3
    rt_shape: float = 3.0
    rt_scale: float = 0.06
    rt_max: float = 1.5
    rt_incongruent: float = 0.04
    lapse: float = 0.06
    belief_start: float = -0.5
    belief_tau: float = 3.0
    belief_noise: float = 0.5
    n_switch_trials: int = 5

    def __post_init__(self) -> None:
        lo, hi = self.block_length
        if not (isinstance(lo, int | np.integer) and 1 <= lo <= hi):
            raise ConfigError(f"block_length={self.block_length!r}; fix: integers 1 <= lo <= hi")
        if not 0 <= self.n_cue_trials < lo:
            raise ConfigError(
                f"n_cue_trials={self.n_cue_trials!r}; fix: 0 <= n_cue_trials < block_length[0]"
            )
        if self.first_rule not in (None, *RULES):
            raise ConfigError(f"first_rule={self.first_rule!r}; fix: one of {RULES} or None")
        for name in ("iti", "hold", "movement", "outcome"):
            lo_s, hi_s = getattr(self, name)
            if not 0 < lo_s <= hi_s:
                raise ConfigError(f"{name}={getattr(self, name)!r}; fix: 0 < lo <= hi seconds")
        if not 0 < self.rt_shift < self.rt_max or self.rt_shape <= 0 or self.rt_scale <= 0:
            raise ConfigError("rt_shift/rt_shape/rt_scale/rt_max; fix: 0 < rt_shift < rt_max")
        if not 0 <= self.lapse <= 1:
            raise ConfigError(f"lapse={self.lapse!r}; fix: a probability in [0, 1]")
        if self.belief_tau <= 0 or self.belief_noise < 0:
            raise ConfigError("belief_tau must be > 0 and belief_noise >= 0")


def make_trials(n_trials: int, *, rng: np.random.Generator, params: TaskParams) -> dict:
    """Draw blocks, stimuli, reaction times, epoch durations and the rule belief.

    Parameters
    ----------
    n_trials : int
        Number of trials.
    rng : numpy.random.Generator
        Source of randomness.
    params : TaskParams
        Task parameters.

    Returns
    -------
    dict of str to ndarray, each shape (trial,)
        ``rule``, ``block``, ``trial_in_block``, ``cue_trial``, ``location``
        (``"left"``/``"right"``/``"none"``), ``pitch`` (``"high"``/``"low"``/``"none"``),
        ``congruent`` (False on cue trials: no distractor), ``target`` (correct side),
        ``target_sign`` (-1/+1), ``location_sign`` / ``pitch_sign`` (-1/+1, 0 when absent),
        ``switch``, ``belief`` (signed rule belief, + = local), ``rt``, and the durations
        ``iti``, ``hold``, ``movement``, ``outcome``.
    """
    first = params.first_rule or RULES[int(rng.integers(2))]
    lengths = []
    while sum(lengths) < n_trials:
        lengths.append(int(rng.integers(params.block_length[0], params.block_length[1] + 1)))
    block = np.repeat(np.arange(len(lengths)), lengths)[:n_trials]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    trial_in_block = np.arange(n_trials) - starts[block]
    rule_index = (block + RULES.index(first)) % 2
    rule = np.array(RULES)[rule_index]
    local = rule == "local"
    cue = trial_in_block < params.n_cue_trials
    loc_sign = rng.choice([-1, 1], n_trials)
    pitch_sign = rng.choice([-1, 1], n_trials)
    loc_sign[cue & ~local] = 0
    pitch_sign[cue & local] = 0
    target_sign = np.where(local, loc_sign, pitch_sign)
    congruent = ~cue & (loc_sign == pitch_sign)
    since_cues = trial_in_block - params.n_cue_trials
    switch = (block > 0) & ~cue & (since_cues < params.n_switch_trials)
    recovery = np.exp(-np.maximum(since_cues, 0) / params.belief_tau)
    strength = 1 - (1 - params.belief_start) * recovery
    strength = np.where(block == 0, 1.0, strength)
    belief = np.where(local, 1.0, -1.0) * strength
    belief = belief + params.belief_noise * rng.standard_normal(n_trials)
    rt = params.rt_shift + rng.gamma(params.rt_shape, params.rt_scale, n_trials)
    rt = rt + np.where(~cue & ~congruent, rng.exponential(params.rt_incongruent, n_trials), 0.0)
    return {
        "rule": rule,
        "block": block,
        "trial_in_block": trial_in_block,
        "cue_trial": cue,
        "location": np.where(loc_sign == 0, "none", np.where(loc_sign < 0, "left", "right")),
        "pitch": np.where(pitch_sign == 0, "none", np.where(pitch_sign < 0, "high", "low")),
        "congruent": congruent,
        "target": np.where(target_sign < 0, "left", "right"),
        "target_sign": target_sign,
        "location_sign": loc_sign,
        "pitch_sign": pitch_sign,
        "switch": switch,
        "belief": belief,
        "rt": np.minimum(rt, params.rt_max),
        **{name: rng.uniform(*getattr(params, name), n_trials) for name in _DURATIONS},
    }


def event_times(trials: dict) -> dict[str, np.ndarray]:
    """Event times (s) of every trial relative to stimulus onset, keyed by event name."""
    rt = trials["rt"]
    choice = rt + trials["movement"]
    return {
        "trial_start": -(trials["hold"] + trials["iti"]),
        "hold_on": -trials["hold"],
        "stim_on": np.zeros_like(rt),
        "response": rt,
        "choice": choice,
        "trial_end": choice + trials["outcome"],
    }


@dataclass(frozen=True)
class Timeline:
    """Trials on a common grid of bins aligned to stimulus onset.

    Attributes
    ----------
    time : ndarray, shape (time,)
        Bin centres (s); bin edges sit at integer multiples of ``bin_size``.
    valid : ndarray of bool, shape (trial, time)
        Bin centre inside [trial_start, trial_end).
    epoch : ndarray of str, shape (trial, time)
        Epoch label of each bin ("" on padded bins).
    decision_bin : ndarray of int, shape (trial,)
        Last bin of the stimulus epoch (the choice is read out there).
    events : dict of str to ndarray (trial,)
        Event times relative to stimulus onset.
    bin_size : float
        Bin width (s).
    """

    time: np.ndarray
    valid: np.ndarray
    epoch: np.ndarray
    decision_bin: np.ndarray
    events: dict
    bin_size: float


def build_timeline(trials: dict, *, bin_size: float) -> Timeline:
    """Place every trial on one bin grid (edges at multiples of ``bin_size``; 0 = stim onset)."""
    events = event_times(trials)
    first = int(np.floor(events["trial_start"].min() / bin_size))
    last = int(np.ceil(events["trial_end"].max() / bin_size))
    time = (np.arange(first, last) + 0.5) * bin_size
    centre = time[None, :]
    valid = (centre >= events["trial_start"][:, None]) & (centre < events["trial_end"][:, None])
    bounds = [events[name][:, None] for name in ("hold_on", "stim_on", "response", "choice")]
    index = sum((centre >= bound).astype(int) for bound in bounds)
    epoch = np.where(valid, np.array(EPOCHS)[index], "")
    stimulus = epoch == "stimulus"
    decision_bin = stimulus.shape[1] - 1 - np.argmax(stimulus[:, ::-1], axis=1)
    return Timeline(time, valid, epoch, decision_bin, events, float(bin_size))


def decide(
    choice_value: np.ndarray, trials: dict, *, rng: np.random.Generator, params: TaskParams
) -> dict[str, np.ndarray]:
    """Turn the choice latent at the decision bin into choices, with lapses.

    Parameters
    ----------
    choice_value : ndarray, shape (trial,)
        Choice latent at each trial's decision bin; ``> 0`` means right.
    trials : dict
        Output of :func:`make_trials`.
    rng : numpy.random.Generator
        Source of randomness (lapses).
    params : TaskParams
        Task parameters (``lapse``).

    Returns
    -------
    dict
        ``choice`` ("left"/"right"), ``choice_sign`` (-1/+1), ``correct`` (bool) and ``lapse``
        (bool, the choice was a coin flip).
    """
    sign = np.where(choice_value > 0, 1, -1)
    lapse = rng.random(sign.shape) < params.lapse
    coin = rng.choice([-1, 1], sign.shape)
    sign = np.where(lapse, coin, sign)
    return {
        "choice": np.where(sign < 0, "left", "right"),
        "choice_sign": sign,
        "correct": sign == trials["target_sign"],
        "lapse": lapse,
    }


def make_inputs(trials: dict, timeline: Timeline, correct: np.ndarray | None = None) -> np.ndarray:
    """Build the input array (see :data:`INPUT_NAMES`) from trials and their timeline.

    Parameters
    ----------
    trials : dict
        Output of :func:`make_trials`.
    timeline : Timeline
        Output of :func:`build_timeline`.
    correct : ndarray of bool, shape (trial,), optional
        Correct trials; ``reward`` stays 0 when omitted.

    Returns
    -------
    ndarray of float32, shape (trial, time, input)
        0 on padded bins.
    """
    stim = timeline.epoch == "stimulus"
    loc, pitch, cue = trials["location_sign"], trials["pitch_sign"], trials["cue_trial"]
    local = trials["rule"] == "local"
    reward = np.zeros(len(loc), bool) if correct is None else np.asarray(correct, bool)
    per_trial = np.stack(
        [loc < 0, loc > 0, pitch < 0, pitch > 0, cue & local, cue & ~local], axis=1
    )
    inputs = np.zeros((*stim.shape, len(INPUT_NAMES)), np.float32)
    inputs[:, :, :6] = stim[:, :, None] & per_trial[:, None, :]
    inputs[:, :, 6] = timeline.epoch == "hold"
    inputs[:, :, 7] = (timeline.epoch == "outcome") & reward[:, None]
    return inputs
