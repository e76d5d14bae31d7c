"""The 11-task suite as the AL-RNN study's public code defines it (``variant="study"``).

Rebuilt from ``multi_task_training/Dataset.py`` and ``train_models.py`` of
fnnrth/Linear_Nonlinear_Memory (read, not copied). The suite shares its task names with the
toolbox's short suite (:mod:`~alrnn_neuro.simulate.tasks.multitask`) but not its encoding:

- ``inputs`` (18): 7 base channels whose meaning depends on the task, then the task one-hot
  ``task_<name>`` (on for the whole trial):

  ==  ======================  ==============================================================
  #   name                    content
  ==  ======================  ==============================================================
  0   ``fixation``            1 on every step before ``response``
  1   ``mod1_cos``            stimulus cos (modality 1 for the CtxInt tasks), x amplitude
  2   ``mod1_sin``            stimulus sin, x amplitude
  3   ``rule1_or_mod2_cos``   rule of DelayPro, ReactPro, CatPro, Match2Sample, GoNogo
                              (whole trial); modality-2 cos in the CtxInt tasks
  4   ``rule2_or_mod2_sin``   rule of DelayAnti, ReactAnti, CatAnti, NonMatch2Sample (whole
                              trial); modality-2 sin in the CtxInt tasks
  5   ``rule_mod1``           rule of CtxIntMod1 (whole trial)
  6   ``rule_mod2``           rule of CtxIntMod2 (whole trial)
  ==  ======================  ==============================================================

- ``targets`` (``fixation, cos, sin``, ``task_loss="mse"``): one vector per trial, scored on
  the trial's *last step only* (the study reads its output from the final state). Accuracy:
  the angle of the predicted (cos, sin) within 30 degrees of the target's, fixation ignored
  (:func:`~alrnn_neuro.simulate.tasks.metrics.final_angle_accuracy`).
- Epochs in order (absent ones have zero length): ``context``, ``stimulus``, ``delay``,
  ``test``, ``delay2``, ``response``. The study draws durations with ``randint(lo, hi)``
  (``hi`` excluded); :data:`STUDY_DURATIONS` holds them as inclusive ranges.

==================  ================================================  =========================
task                epochs and stimulus                               target direction
==================  ================================================  =========================
DelayPro / Anti     context, stimulus (theta), delay, response        theta / theta + pi
ReactPro / Anti     context, response (theta shown, length drawn      theta / theta + pi
                    from the ``stimulus`` range)
CatPro / Anti       context, stimulus (theta), response               Pro: 0 if theta < pi
                                                                      else pi; Anti: opposite
Match2Sample /      context, stimulus (theta), delay, test (theta2),  Match2Sample: 0 on match
NonMatch2Sample     delay2 (5..14 steps), response; match (p = 1/2):  trials, pi otherwise;
                    theta2 = theta + U(-pi/8, pi/8), else theta +     NonMatch2Sample: the
                    U(pi/4, 7pi/4)                                    opposite
CtxIntMod1 / Mod2   context, stimulus (two draws of the range),       theta of the relevant
                    delay (10..19 steps), response; relevant          modality
                    modality 0.8 x (cos, sin)(theta), the other 0.3 x
                    (cos, sin)(theta'), constant
GoNogo              context, stimulus amplitude a ~ U(0.2, 1) x       go (a > 0.5): 0 with
                    (cos, sin)(theta), response                       fixation 0; no-go:
                                                                      fixation 1, (0, 0)
==================  ================================================  =========================

Every trial is padded at the end to the longest trial its task can have, so repeated draws
(fresh trials each epoch) keep one shape.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks._common import (
    BIN_SIZE,
    OUTPUT_NAMES,
    SUITE,
    check_common,
    check_steps,
    draw_steps,
    epoch_timeline,
    pad_time,
    task_dataset,
)

TWO_PI = 2 * np.pi
EPOCHS = ("context", "stimulus", "delay", "test", "delay2", "response")
BASE_INPUTS = (
    "fixation",
    "mod1_cos",
    "mod1_sin",
    "rule1_or_mod2_cos",
    "rule2_or_mod2_sin",
    "rule_mod1",
    "rule_mod2",
)
INPUT_NAMES = BASE_INPUTS + tuple(f"task_{name}" for name in SUITE)
STUDY_DURATIONS: dict[str, dict[str, tuple[int, int]]] = {
    "hard": {"context": (10, 19), "stimulus": (10, 39), "delay": (20, 49), "response": (10, 19)},
    "simple": {"context": (5, 9), "stimulus": (10, 14), "delay": (10, 14), "response": (5, 9)},
}
"""The study's ``DURATION_PARAMS_HARD`` / ``_SIMPLE`` as inclusive step ranges."""
MATCH_DELAY2 = (5, 14)
CTXINT_DELAY = (10, 19)
MATCH_HALF_WIDTH = np.pi / 8
NONMATCH_MIN = np.pi / 4
RELEVANT_STRENGTH, IRRELEVANT_STRENGTH = 0.8, 0.3
GONOGO_AMPLITUDE, GONOGO_THRESHOLD = (0.2, 1.0), 0.5
RULE_CHANNEL = {
    "DelayPro": 3,
    "ReactPro": 3,
    "CatPro": 3,
    "Match2Sample": 3,
    "GoNogo": 3,
    "DelayAnti": 4,
    "ReactAnti": 4,
    "CatAnti": 4,
    "NonMatch2Sample": 4,
    "CtxIntMod1": 5,
    "CtxIntMod2": 6,
}


def study_durations(durations: str | Mapping[str, int | tuple[int, int]]) -> dict:
    """Resolve ``"hard"`` / ``"simple"`` or a mapping of inclusive ranges (steps, >= 1).

    Examples
    --------
    >>> study_durations("hard")["delay"]
    (20, 49)
    """
    if isinstance(durations, str):
        if durations not in STUDY_DURATIONS:
            raise ConfigError(
                f"durations={durations!r}; fix: one of {list(STUDY_DURATIONS)} or a mapping"
            )
        return dict(STUDY_DURATIONS[durations])
    if not isinstance(durations, Mapping) or set(durations) != set(STUDY_DURATIONS["hard"]):
        raise ConfigError(
            f"durations={durations!r}; fix: 'hard', 'simple' or a mapping with exactly the "
            f"keys {list(STUDY_DURATIONS['hard'])} (inclusive step ranges)"
        )
    return {key: check_steps(f"durations[{key!r}]", v, low=1) for key, v in durations.items()}


def max_trial_steps(task: str, durations: str | Mapping = "hard") -> int:
    """The longest trial ``task`` can have under ``durations`` (the padded length).

    Examples
    --------
    >>> max_trial_steps("Match2Sample")
    179
    """
    bounds = study_durations(durations)
    high = {key: value[1] for key, value in bounds.items()}
    if task.startswith("React"):
        return high["context"] + high["stimulus"]
    if task.startswith("Delay"):
        return high["context"] + high["stimulus"] + high["delay"] + high["response"]
    if "Match" in task:
        spans = high["stimulus"] * 2 + high["delay"] + MATCH_DELAY2[1]
        return high["context"] + spans + high["response"]
    if task.startswith("CtxInt"):
        return high["context"] + 2 * high["stimulus"] + CTXINT_DELAY[1] + high["response"]
    return high["context"] + high["stimulus"] + high["response"]  # Cat, GoNogo


def _epoch_lengths(task: str, rng: np.random.Generator, bounds: dict, n: int) -> np.ndarray:
    """Per-trial epoch lengths (trial, epoch) in the order of :data:`EPOCHS`."""

    def draw(key: str) -> np.ndarray:
        return draw_steps(rng, bounds[key], n)

    lengths = np.zeros((n, len(EPOCHS)), np.int64)
    lengths[:, 0] = draw("context")
    if task.startswith("React"):
        lengths[:, 5] = draw("stimulus")
        return lengths
    lengths[:, 1] = draw("stimulus")
    if task.startswith("Delay"):
        lengths[:, 2] = draw("delay")
    elif "Match" in task:
        lengths[:, 2] = draw("delay")
        lengths[:, 3] = draw("stimulus")
        lengths[:, 4] = draw_steps(rng, MATCH_DELAY2, n)
    elif task.startswith("CtxInt"):
        lengths[:, 1] += draw("stimulus")  # two presentations of one constant stimulus
        lengths[:, 2] = draw_steps(rng, CTXINT_DELAY, n)
    lengths[:, 5] = draw("response")
    return lengths


def study_suite_task(
    task: str, n_trials: int, *, seed: int, durations: str | Mapping = "hard"
) -> xr.Dataset:
    """Generate trials of one task of the study's suite (see the module docstring).

    Parameters
    ----------
    task : str
        One of :data:`~alrnn_neuro.simulate.tasks.multitask.SUITE`.
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0); the same seed gives identical arrays.
    durations : {"hard", "simple"} or mapping
        Epoch length ranges (inclusive, steps) for ``context``, ``stimulus``, ``delay`` and
        ``response``; the study trains on ``"hard"``.

    Returns
    -------
    xr.Dataset
        Task dataset (trial, time = :func:`max_trial_steps`), ``attrs["variant"] = "study"``.
        Trial coords: ``stim_theta`` (theta; the relevant modality's in CtxInt),
        ``test_theta`` (theta2, NaN outside the match tasks), ``irrelevant_theta`` (CtxInt,
        else NaN), ``amplitude`` (GoNogo, else NaN), ``match`` and ``go`` (bool),
        ``target_theta`` (rad in [0, 2 pi), NaN on no-go trials), ``event_<epoch>``.

    Examples
    --------
    >>> ds = study_suite_task("DelayAnti", 3, seed=0)
    >>> ds.sizes["input"], int(ds.loss_mask.sum())
    (18, 3)
    """
    if task not in SUITE:
        raise ConfigError(f"task={task!r}; fix: one of {list(SUITE)}")
    rng = check_common(n_trials, seed)
    bounds = study_durations(durations)
    n = n_trials
    timeline = epoch_timeline(_epoch_lengths(task, rng, bounds, n), EPOCHS)
    theta = rng.uniform(0, TWO_PI, n)
    nan = np.full(n, np.nan)
    test_theta, other_theta, amplitude = nan, nan, nan
    is_match, go = np.zeros(n, bool), np.ones(n, bool)
    phi = theta.copy()
    if task.endswith("Anti") and not task.startswith("Cat"):
        phi = theta + np.pi
    if task.startswith("Cat"):
        phi = np.where((theta < np.pi) == (task == "CatPro"), 0.0, np.pi)
    if "Match" in task:
        is_match = rng.random(n) < 0.5
        offset = np.where(
            is_match,
            rng.uniform(-MATCH_HALF_WIDTH, MATCH_HALF_WIDTH, n),
            rng.uniform(NONMATCH_MIN, TWO_PI - NONMATCH_MIN, n),
        )
        test_theta = (theta + offset) % TWO_PI
        phi = np.where(is_match == (task == "Match2Sample"), 0.0, np.pi)
    if task.startswith("CtxInt"):
        other_theta = rng.uniform(0, TWO_PI, n)
    if task == "GoNogo":
        amplitude = rng.uniform(*GONOGO_AMPLITUDE, n)
        go = amplitude > GONOGO_THRESHOLD
        phi = np.zeros(n)
    inputs = _inputs(task, timeline, theta, test_theta, other_theta, amplitude)
    n_steps = timeline.valid.sum(axis=1)
    last = np.arange(timeline.valid.shape[1])[None, :] == (n_steps - 1)[:, None]
    targets = np.stack([np.zeros(n), np.cos(phi), np.sin(phi)], axis=-1)
    targets[~go] = (1.0, 0.0, 0.0)  # no-go: keep fixating
    ds = task_dataset(
        task=task,
        targets=targets[:, None, :] * last[..., None],
        inputs=inputs,
        input_names=INPUT_NAMES,
        output_names=OUTPUT_NAMES,
        timeline=timeline,
        loss_mask=last,
        task_loss="mse",
        bin_size=BIN_SIZE,
        trial_coords={
            "stim_theta": theta,
            "test_theta": test_theta,
            "irrelevant_theta": other_theta,
            "amplitude": amplitude,
            "match": is_match,
            "go": go,
            "target_theta": np.where(go, np.mod(phi, TWO_PI), np.nan),
        },
        params={"suite": "brenner_koppe_11", "durations": bounds, "seed": seed},
        variant="study",
    )
    return pad_time(ds, max_trial_steps(task, bounds))


def _inputs(task, timeline, theta, test_theta, other_theta, amplitude) -> np.ndarray:
    """Inputs (trial, time, 18) of ``task`` (see the module docstring)."""
    n, n_time = timeline.valid.shape
    inputs = np.zeros((n, n_time, len(INPUT_NAMES)), np.float32)
    valid, response = timeline.valid, timeline.mask("response")
    inputs[..., 0] = valid & ~response
    inputs[..., RULE_CHANNEL[task]] = valid
    inputs[..., len(BASE_INPUTS) + SUITE.index(task)] = valid
    shown = timeline.mask("response" if task.startswith("React") else "stimulus")
    if task.startswith("CtxInt"):
        mod1, mod2 = (theta, other_theta) if task == "CtxIntMod1" else (other_theta, theta)
        strength = (RELEVANT_STRENGTH, IRRELEVANT_STRENGTH)
        if task == "CtxIntMod2":
            strength = strength[::-1]
        for channel, angle, size in ((1, mod1, strength[0]), (3, mod2, strength[1])):
            inputs[..., channel] = shown * size * np.cos(angle)[:, None]
            inputs[..., channel + 1] = shown * size * np.sin(angle)[:, None]
        return inputs
    angle = np.broadcast_to(theta[:, None], shown.shape)
    if "Match" in task:
        test = timeline.mask("test")
        angle = np.where(test, test_theta[:, None], angle)
        shown = shown | test
    size = amplitude[:, None] if task == "GoNogo" else 1.0
    inputs[..., 1] = shown * size * np.cos(angle)
    inputs[..., 2] = shown * size * np.sin(angle)
    return inputs
