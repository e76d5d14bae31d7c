"""The stimulus-selection task (Rodgers & DeWeese, Neuron 2014) at the level of behaviour.

Reuses :mod:`alrnn_neuro.simulate.task_structure` for blocks, cue trials, stimuli and
timing, so trials match :func:`~alrnn_neuro.simulate.stimulus_selection.simulate_stimulus_selection`
(same epochs, same stimulus-onset alignment, same first 8 input channels), but the observed
variable is the *correct choice* a model should learn, not spikes.
"""

from __future__ import annotations

import numbers

import numpy as np
import xarray as xr

from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate import task_structure as ts
from alrnn_neuro.simulate.tasks._common import check_common, check_int, provenance

RULE_CUES = ("hold", "trial", "none")
INPUT_NAMES = (*ts.INPUT_NAMES, "rule_local", "rule_pitch")
OUTPUT_NAMES = ("left", "right")
MIN_BIN, MAX_BIN = 0.005, 0.15


def stimulus_selection_task(
    n_trials: int,
    *,
    seed: int,
    bin_size: float = 0.05,
    rule_cue: str = "hold",
    block_length: tuple[int, int] = (40, 80),
    n_cue_trials: int = 4,
    first_rule: str | None = None,
) -> xr.Dataset:
    """Stimulus selection as a task dataset: sounds and rule cues in, the correct side out.

    Trials come in alternating ``local`` / ``pitch`` blocks of ``block_length`` trials; the
    first ``n_cue_trials`` of each block play only the relevant sound. Each trial is one
    sequence aligned to stimulus onset (``align_event="stim_on"``), epochs ``iti``, ``hold``,
    ``stimulus``, ``response`` (leaving the centre port -> side-port entry), ``outcome``
    (timing as in :mod:`~alrnn_neuro.simulate.task_structure`, ragged across trials).

    - ``inputs`` (10 channels, all 0/1): the 8 channels of
      :data:`alrnn_neuro.simulate.task_structure.INPUT_NAMES` (``left_noise``,
      ``right_noise``, ``high_pitch``, ``low_pitch`` during ``stimulus``; ``cue_local`` /
      ``cue_pitch`` during ``stimulus`` of cue trials; ``hold``; ``reward`` during
      ``outcome``, on for every trial: the ideal agent is always right), then
      ``rule_local`` / ``rule_pitch``, the rule of the block, shown during ``hold``
      (``rule_cue="hold"``), on every valid step (``"trial"``) or never (``"none"``: the
      rule is then only given by cue trials, and incongruent trials cannot be solved
      within one sequence).
    - ``targets`` (outputs ``left``, ``right``; ``task_loss="cross_entropy"``): one-hot of
      the correct side on the ``response`` steps, 0 elsewhere. Correct side = noise side in
      ``local`` blocks, pitch side in ``pitch`` blocks (high -> left, low -> right).
    - ``loss_mask``: the ``response`` steps (at least one per trial).

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0); the same seed gives identical arrays.
    bin_size : float
        Step width in seconds, in [0.005, 0.15] (<= the shortest response epoch).
    rule_cue : {"hold", "trial", "none"}
        When the rule channels are on.
    block_length : (int, int)
        Inclusive range of trials per block.
    n_cue_trials : int
        Cue trials at the start of each block (< block_length[0]).
    first_rule : {"local", "pitch"} or None
        Rule of the first block (None: drawn).

    Returns
    -------
    xr.Dataset
        Task dataset with trial coords ``rule``, ``block``, ``trial_in_block``,
        ``cue_trial``, ``location``, ``pitch`` (``"none"`` when absent), ``congruent``,
        ``target`` (correct side, "left"/"right"), ``target_sign`` (-1/+1), ``rt`` (s) and
        ``event_<name>`` (s from stimulus onset).

    Examples
    --------
    >>> ds = stimulus_selection_task(10, seed=0)
    >>> ds.attrs["task_loss"], ds.sizes["input"]
    ('cross_entropy', 10)
    """
    rng = check_common(n_trials, seed)
    ok = isinstance(bin_size, numbers.Real) and not isinstance(bin_size, bool)
    if not ok or not MIN_BIN <= bin_size <= MAX_BIN:
        raise ConfigError(f"bin_size={bin_size!r} s; fix: a bin width in [{MIN_BIN}, {MAX_BIN}] s")
    if rule_cue not in RULE_CUES:
        raise ConfigError(f"rule_cue={rule_cue!r}; fix: one of {list(RULE_CUES)}")
    check_int("n_cue_trials", n_cue_trials, 0)
    params = ts.TaskParams(
        block_length=tuple(block_length), n_cue_trials=n_cue_trials, first_rule=first_rule
    )
    trials = ts.make_trials(n_trials, rng=rng, params=params)
    timeline = ts.build_timeline(trials, bin_size=bin_size)
    base = ts.make_inputs(trials, timeline, correct=np.ones(n_trials, bool))
    local = (trials["rule"] == "local")[:, None]
    shown = {"hold": timeline.epoch == "hold", "trial": timeline.valid}.get(
        rule_cue, np.zeros_like(timeline.valid)
    )
    rules = np.stack([shown & local, shown & ~local], axis=-1)
    inputs = np.concatenate([base, rules.astype(np.float32)], axis=-1)
    response = timeline.epoch == "response"
    right = trials["target_sign"] > 0
    targets = np.stack([response & ~right[:, None], response & right[:, None]], -1)
    names = ("rule", "block", "trial_in_block", "cue_trial", "location", "pitch", "congruent")
    coords = {name: trials[name] for name in names}
    coords.update(target=trials["target"], target_sign=trials["target_sign"], rt=trials["rt"])
    coords.update({f"event_{k}": v for k, v in timeline.events.items()})
    ds = make_dataset(
        targets.astype(np.float32),
        kind="targets",
        inputs=inputs,
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        valid=timeline.valid,
        epoch=timeline.epoch,
        time=timeline.time,
        loss_mask=response,
        task_loss="cross_entropy",
        bin_size=bin_size,
        align_event="stim_on",
        trial_coords={"task": np.full(n_trials, "stimulus_selection"), **coords},
        source="alrnn_neuro.simulate.tasks (stimulus_selection, after Rodgers & DeWeese 2014)",
    )
    ds.attrs.update(
        task="stimulus_selection",
        variant="short",
        **provenance(
            {
                "rule_cue": rule_cue,
                "block_length": tuple(block_length),
                "n_cue_trials": n_cue_trials,
                "first_rule": first_rule,
                "pitch_mapping": "high=left,low=right",
                "seed": seed,
            }
        ),
    )
    return ds
