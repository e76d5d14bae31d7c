"""The 11-task cognitive suite after Yang et al. (Nat Neurosci 2019), as used by the AL-RNN study.

One step = 20 ms (``bin_size = 0.02`` s, ``align_event = "start"``). Every task shares the
same channels, so datasets can be concatenated along ``trial`` (:func:`make_multitask`):

- ``inputs`` (16): ``fixation``; modality 1 and 2 as ``mod1_cos, mod1_sin, mod2_cos,
  mod2_sin`` = strength * (cos theta, sin theta) (a direction code, not a ring of units);
  the task one-hot ``task_<name>`` (on during the whole trial) for the 11 names in
  :data:`SUITE`.
- ``targets`` (3, ``task_loss="mse"``): ``fixation`` (1 = keep fixating) and the response
  direction ``cos, sin`` (0, 0 while fixating). ``loss_mask`` = all valid steps.

Epochs, in order (absent ones have zero length): ``context`` (fixation + task cue),
``stimulus``, ``delay``, ``test`` (second stimulus, match tasks only), ``response``. Their
lengths are drawn per trial from ``durations`` (steps; ``test`` uses the ``stimulus`` range),
so trials are ragged. The fixation input is 1 on all valid steps before ``response`` and 0
during it, except in the React tasks, where it stays on and stimulus onset is the go signal.
On *go* trials the target during ``response`` is fixation 0 and direction (cos phi, sin phi);
on *no-go* trials fixation stays 1 and the direction 0. Before ``response`` the target is
fixation 1, direction 0.

======================  ==========================================================  ========
task                    stimulus / rule                                             phi
======================  ==========================================================  ========
DelayPro / DelayAnti    theta in a random modality during ``stimulus``, then delay  theta /
                                                                                    theta+pi
ReactPro / ReactAnti    epochs ``context``, ``response``; theta appears at response theta /
                        onset in a random modality and stays on                     theta+pi
CatPro / CatAnti        as DelayPro; category = upper (sin theta >= 0) or lower      pi/2 or
                        half-plane; Pro points to the category's centre, Anti away  3pi/2
Match2Sample            sample theta (``stimulus``) and test theta2 (``test``) in the theta2,
                        same modality; match (p=1/2): theta2 = theta, else theta2   go iff
                        = theta + U(min_separation, 2pi - min_separation)           match
NonMatch2Sample         as Match2Sample                                             theta2,
                                                                                    go iff
                                                                                    non-match
CtxIntMod1 / CtxIntMod2 both modalities show (c_m + noise * xi_m(t)) * (cos theta,   theta or
                        sin theta) during ``stimulus``, c_m = +-coherence per       theta+pi
                        modality; phi = theta if the summed strength of the
                        relevant modality (1 / 2) is > 0, else theta + pi
GoNogo                  theta in modality 1 (go) or modality 2 (no-go), then delay  theta,
                                                                                    go iff mod 1
======================  ==========================================================  ========
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks._common import (
    BIN_SIZE,
    OUTPUT_NAMES,
    SUITE,
    check_common,
    check_float,
    check_int,
    check_steps,
    check_variant,
    draw_steps,
    epoch_timeline,
    pad_time,
    provenance,
    task_dataset,
)
from alrnn_neuro.simulate.tasks.study_suite import study_suite_task

EPOCHS = ("context", "stimulus", "delay", "test", "response")
INPUT_NAMES = ("fixation", "mod1_cos", "mod1_sin", "mod2_cos", "mod2_sin") + tuple(
    f"task_{name}" for name in SUITE
)
DEFAULT_DURATIONS = {
    "context": (5, 10),
    "stimulus": (10, 15),
    "delay": (10, 15),
    "response": (5, 10),
}
"""Inclusive ranges of epoch lengths in 20-ms steps (the study's short setting)."""
TWO_PI = 2 * np.pi


def suite_task(
    task: str,
    n_trials: int,
    *,
    seed: int,
    durations: Mapping[str, int | tuple[int, int]] | None = None,
    min_separation: float = np.pi / 4,
    coherence: tuple[float, ...] = (0.1, 0.2, 0.4),
    noise: float = 0.5,
) -> xr.Dataset:
    """Generate trials of one task of the suite (see the module docstring for each task).

    Parameters
    ----------
    task : str
        One of :data:`SUITE`.
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0); the same seed gives identical arrays.
    durations : mapping, optional
        Epoch lengths in steps (int or inclusive ``(lo, hi)``) for keys ``context``,
        ``stimulus``, ``delay``, ``response`` (>= 1 each); missing keys use
        :data:`DEFAULT_DURATIONS`.
    min_separation : float
        Smallest test-sample angle (rad) on non-match trials, in (0, pi].
    coherence : tuple of float
        CtxInt mean strengths (>= 0), drawn per trial and modality with a random sign.
    noise : float
        CtxInt per-step noise s.d. (>= 0) of each modality's strength.

    Returns
    -------
    xr.Dataset
        Task dataset (``bin_size`` 0.02 s). Trial coords: ``task``, ``modality`` (1/2 of the
        stimulus; 0 for CtxInt, which uses both), ``stim_theta`` and ``test_theta`` (rad;
        ``test_theta`` NaN outside match tasks), ``match`` (bool), ``category`` (+1 upper /
        -1 lower half-plane of ``stim_theta``), ``go`` (bool), ``target_theta`` (rad, NaN on
        no-go trials), ``coherence_mod1/2`` and ``evidence_mod1/2`` (CtxInt mean and summed
        strengths; NaN elsewhere) and ``event_<epoch>`` (onset, s; NaN if absent).

    Examples
    --------
    >>> ds = suite_task("DelayAnti", 4, seed=0)
    >>> ds.sizes["input"], ds.output.values.tolist()
    (16, ['fixation', 'cos', 'sin'])
    """
    if task not in SUITE:
        raise ConfigError(f"task={task!r}; fix: one of {list(SUITE)}")
    rng = check_common(n_trials, seed)
    bounds = _check_durations(durations)
    check_float("min_separation", min_separation, 1e-6, np.pi)
    check_float("noise", noise, 0.0)
    if not isinstance(coherence, tuple | list) or not coherence:
        raise ConfigError(f"coherence={coherence!r}; fix: a non-empty tuple of numbers >= 0")
    levels = np.array([check_float("coherence", c, 0.0) for c in coherence])
    react, match_task = task.startswith("React"), "Match" in task
    lengths = np.stack([draw_steps(rng, bounds[k], n_trials) for k in EPOCHS], axis=1)
    lengths[:, 1:4] *= np.array([not react, not react, match_task])
    timeline = epoch_timeline(lengths, EPOCHS)
    n = n_trials
    theta = rng.uniform(0, TWO_PI, n)
    modality = rng.integers(1, 3, n)
    is_match = match_task & (rng.random(n) < 0.5)
    offset = rng.uniform(min_separation, TWO_PI - min_separation, n)
    theta2 = np.where(is_match, theta, (theta + offset) % TWO_PI)
    category = np.where(np.sin(theta) >= 0, 1, -1)
    phi, go = theta.copy(), np.ones(n, bool)
    if task.endswith("Anti"):
        phi = theta + np.pi
    if task.startswith("Cat"):
        phi = category * np.pi / 2 + (np.pi if task == "CatAnti" else 0.0)
    if match_task:
        phi, go = theta2, is_match == (task == "Match2Sample")
    if task == "GoNogo":
        go = modality == 1
    mods = np.zeros((*timeline.valid.shape, 2))  # strength per modality
    shown = timeline.mask("response" if react else "stimulus")
    mods[np.arange(n), :, modality - 1] = shown
    test = timeline.mask("test")
    extra = {k: np.full(n, np.nan) for k in ("coherence_mod1", "coherence_mod2")}
    extra.update(evidence_mod1=np.full(n, np.nan), evidence_mod2=np.full(n, np.nan))
    if match_task:
        mods[np.arange(n), :, modality - 1] += test
    if task.startswith("CtxInt"):
        modality[:] = 0
        c = levels[rng.integers(0, len(levels), (n, 2))] * rng.choice([-1, 1], (n, 2))
        xi = rng.standard_normal(mods.shape)
        mods = (c[:, None, :] + noise * xi) * shown[..., None]
        total = mods.sum(axis=1)
        relevant = total[:, int(task[-1]) - 1]
        phi = np.where(relevant > 0, theta, theta + np.pi)
        extra.update(coherence_mod1=c[:, 0], coherence_mod2=c[:, 1])
        extra.update(evidence_mod1=total[:, 0], evidence_mod2=total[:, 1])
    angle = np.where(test, theta2[:, None], theta[:, None])
    inputs = np.zeros((*timeline.valid.shape, len(INPUT_NAMES)), np.float32)
    inputs[..., 0] = timeline.valid if react else timeline.valid & ~timeline.mask("response")
    inputs[..., 1:5] = (
        mods[..., :, None] * np.stack([np.cos(angle), np.sin(angle)], -1)[..., None, :]
    ).reshape(*angle.shape, 4)
    inputs[..., 5 + SUITE.index(task)] = 1.0
    response = timeline.mask("response")
    respond = response & go[:, None]
    phi = np.mod(phi, TWO_PI)
    targets = np.stack(
        [~respond, respond * np.cos(phi)[:, None], respond * np.sin(phi)[:, None]], axis=-1
    )
    return task_dataset(
        task=task,
        targets=targets,
        inputs=inputs,
        input_names=INPUT_NAMES,
        output_names=OUTPUT_NAMES,
        timeline=timeline,
        loss_mask=timeline.valid,
        task_loss="mse",
        bin_size=BIN_SIZE,
        trial_coords={
            "modality": modality,
            "stim_theta": theta,
            "test_theta": np.where(match_task, theta2, np.nan),
            "match": is_match,
            "category": category,
            "go": go,
            "target_theta": np.where(go, phi, np.nan),
            **extra,
        },
        params={
            "suite": "yang2019_11",
            "durations": {k: bounds[k] for k in EPOCHS if k != "test"},
            "min_separation": float(min_separation),
            "coherence": ",".join(f"{c:g}" for c in levels),
            "noise": float(noise),
            "seed": seed,
        },
    )


def _check_durations(durations: Mapping | None) -> dict[str, tuple[int, int]]:
    """Merge ``durations`` into the defaults and check every range (>= 1 step)."""
    merged = dict(DEFAULT_DURATIONS)
    for key, value in (durations or {}).items():
        if key not in DEFAULT_DURATIONS:
            raise ConfigError(
                f"durations key {key!r}; fix: one of {list(DEFAULT_DURATIONS)} (steps of 20 ms)"
            )
        merged[key] = value
    bounds = {key: check_steps(f"durations[{key!r}]", v, low=1) for key, v in merged.items()}
    bounds["test"] = bounds["stimulus"]
    return bounds


def make_multitask(
    n_trials_per_task: int,
    seed: int,
    *,
    tasks: tuple[str, ...] = SUITE,
    variant: str = "short",
    **kwargs: object,
) -> xr.Dataset:
    """All suite tasks in one dataset: trials concatenated, padded to a common length.

    Parameters
    ----------
    n_trials_per_task : int
        Trials per task (>= 1).
    seed : int
        Seed (>= 0); each task gets its own stream derived from it.
    tasks : tuple of str
        Subset/order of :data:`SUITE`.
    variant : {"short", "study"}
        ``"short"``: this module's suite (:func:`suite_task`); ``"study"``: the AL-RNN
        study's definitions (:func:`~alrnn_neuro.simulate.tasks.study_suite.study_suite_task`;
        the study draws the task of each trial at random, here every task gets
        ``n_trials_per_task`` trials).
    **kwargs
        Passed to the task generator (``durations``, ``min_separation``, ...).

    Returns
    -------
    xr.Dataset
        Task dataset with trials ``0 .. len(tasks) * n_trials_per_task - 1`` grouped by task;
        trial coord ``task`` names each trial's task; ``attrs["task"] = "multitask"``,
        ``attrs["variant"]``.

    Examples
    --------
    >>> ds = make_multitask(2, seed=0, tasks=("DelayPro", "GoNogo"))
    >>> ds.task.values.tolist()
    ['DelayPro', 'DelayPro', 'GoNogo', 'GoNogo']
    """
    check_int("n_trials_per_task", n_trials_per_task, 1)
    check_int("seed", seed, 0)
    check_variant(variant)
    if not tasks or any(t not in SUITE for t in tasks):
        raise ConfigError(f"tasks={tasks!r}; fix: a non-empty tuple of names from {list(SUITE)}")
    generator = study_suite_task if variant == "study" else suite_task
    seeds = np.random.SeedSequence(seed).generate_state(len(tasks))
    parts = [
        generator(name, n_trials_per_task, seed=int(s), **kwargs)  # type: ignore[arg-type]
        for name, s in zip(tasks, seeds, strict=True)
    ]
    n_time = max(part.sizes["time"] for part in parts)
    ds = xr.concat([pad_time(p, n_time) for p in parts], dim="trial", combine_attrs="override")
    ds = ds.assign_coords(trial=np.arange(ds.sizes["trial"]))
    kept = {k: parts[0].attrs[k] for k in ("align_event", "bin_size", "alrnn_neuro_version")}
    ds.attrs = {
        **kept,
        "schema_version": parts[0].attrs["schema_version"],
        "task_loss": "mse",
        "source": "alrnn_neuro.simulate.tasks (multitask suite)",
        "task": "multitask",
        "variant": variant,
        "tasks": ",".join(tasks),
        **provenance({"n_trials_per_task": n_trials_per_task, "seed": seed}),
    }
    return validate_dataset(ds)
