"""Fit settings of the AL-RNN study (Brenner & Koppe, TMLR 2026) as :class:`FitConfig` s.

:data:`~alrnn_neuro.simulate.tasks.STUDY_PRESETS` records how the study's public code
(fnnrth/Linear_Nonlinear_Memory) trains each task model; :func:`study_fit_config` turns one
preset into a toolbox configuration and :func:`study_dataset` draws the matching task
dataset (``variant="study"``, the preset's task parameters and trial counts)::

    ds = study_dataset("copy", seed=0)
    result = fit(ds, study_fit_config("copy", pwl_units=5))

What the configuration reproduces: M, P, Adam with the study's learning rate and no weight
decay, learning-rate schedule or gradient clipping, batch size, epochs, MAR with the study's
strength, units and definition (``mar_definition="study"``: ``(W_ii + A_i - 1)^2``), ``A`` on
the rectified units only (``a_placement="pwl"``) with the study's ``N(mean, sd^2)``
initialisation, no early stopping, the last epoch's parameters (``keep_epoch="last"``;
``contextual_integration`` keeps the best validation epoch, as the study does), zero initial
states where the study uses them, fresh trials every epoch for the task suite.

What it does not reproduce (the toolbox has no equivalent, or differs by design):

- the classic tasks' initial state: the study draws ``z0 ~ U(-1/sqrt(batch), 1/sqrt(batch))``
  per unit anew in every forward pass; here ``z0 = 0`` (``init_state="zero"``);
- initialisation of ``W`` (toolbox: N(0, 0.01^2); suite: 0.1 / sqrt(M) = 0.0125 at M = 64),
  ``h`` (toolbox: 0; classic tasks: N(0, 0.01^2)) and the readout: the toolbox's readouts
  have a bias, initialised to the mean target (MSE) or the log class frequencies
  (cross-entropy), where the study's readout ``D z_t`` has none;
- the suite's loss weights: the study sums MSE(fixation) and MSE(cos, sin), i.e. weights
  (1, 1/2, 1/2); the toolbox's MSE readout weighs the three outputs equally;
- the suite's tasks per epoch: the study draws each trial's task uniformly from 5,000
  trials; here ``make_task("multitask", n_trials=455)`` draws 455 trials of each of the 11
  tasks (5,005 trials);
- validation: the toolbox needs a validation set; for presets without one (all but
  ``contextual_integration``) the test-set size is used for it, and with
  ``keep_epoch="last"`` it only reports. ``contextual_integration`` is validated every
  epoch, the study every 50 epochs;
- the test trials of the suite stay fixed (the study draws them anew too).
"""

from __future__ import annotations

import math
from typing import Any

import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks import MULTITASK, STUDY_PRESETS, SUITE, StudyPreset, make_task
from alrnn_neuro.training.config import FitConfig

#: presets whose study code keeps the best validation epoch (the others keep the last)
BEST_EPOCH_TASKS = ("contextual_integration",)


def study_preset(task: str) -> StudyPreset:
    """The study's preset of ``task``, or a :class:`ConfigError` listing the choices."""
    if task not in STUDY_PRESETS:
        raise ConfigError(f"task={task!r} has no study preset; fix: one of {sorted(STUDY_PRESETS)}")
    return STUDY_PRESETS[task]


def study_trial_counts(task: str, *, trial_share: float = 1.0) -> dict[str, int]:
    """Trials per set: ``train``, ``val``, ``test`` (the preset's counts times ``trial_share``).

    ``val`` is the preset's validation count, or its test count where the study has no
    validation set (the toolbox needs one). Each count is at least 1.

    Examples
    --------
    >>> study_trial_counts("copy")
    {'train': 1000, 'val': 200, 'test': 200}
    """
    preset = study_preset(task)
    share = _positive("trial_share", trial_share)
    counts = {
        "train": preset.n_train,
        "val": preset.n_val or preset.n_test,
        "test": preset.n_test,
    }
    return {k: max(1, round(v * share)) for k, v in counts.items()}


def study_dataset(task: str, *, seed: int = 0, trial_share: float = 1.0) -> xr.Dataset:
    """The study's task dataset for :func:`study_fit_config`: train + val + test trials.

    Parameters
    ----------
    task : str
        A key of :data:`~alrnn_neuro.simulate.tasks.STUDY_PRESETS`.
    seed : int
        Seed of the trials (>= 0).
    trial_share : float
        Scale the preset's trial counts (e.g. 0.01 for a quick try); > 0.

    Returns
    -------
    xr.Dataset
        ``make_task(task, variant="study", **preset.task_params)`` with
        ``sum(study_trial_counts(task, trial_share=...).values())`` trials (for
        ``"multitask"`` that many per task, divided by 11 and rounded up).
    """
    preset = study_preset(task)
    n_trials = sum(study_trial_counts(task, trial_share=trial_share).values())
    if task == MULTITASK:
        n_trials = math.ceil(n_trials / len(SUITE))
    params: dict[str, Any] = dict(preset.task_params)
    return make_task(task, n_trials=n_trials, seed=seed, variant="study", **params)


def study_fit_config(
    task: str,
    *,
    pwl_units: int | None = None,
    epoch_share: float = 1.0,
    trial_share: float = 1.0,
    seed: int = 0,
    **overrides: Any,
) -> FitConfig:
    """The study's training setting of ``task`` as a :class:`FitConfig`.

    Parameters
    ----------
    task : str
        A key of :data:`~alrnn_neuro.simulate.tasks.STUDY_PRESETS`: ``addition``, ``copy``,
        ``variable_delay_copy``, ``contextual_integration`` or ``multitask``.
    pwl_units : int, optional
        P (0 <= P <= M); default: the largest P of the preset's grid.
    epoch_share : float
        Train ``max(1, round(epochs * epoch_share))`` epochs (> 0; 1 = the study's count).
    trial_share : float
        Scale of the fresh trials per epoch (task suite), as in :func:`study_dataset`.
    seed : int
        Model seed (initialisation, batch order, the fresh-trial stream).
    **overrides
        Further :class:`FitConfig` fields, applied last (e.g. ``threads=1``).

    Returns
    -------
    FitConfig
        ``latent_dim``, ``lr``, ``batch_size``, ``epochs``, ``mar``, ``mar_units``,
        ``a_init`` from the preset; ``a_placement="pwl"``, ``mar_definition="study"``,
        ``lr_schedule="constant"``, ``grad_clip=0``, ``weight_decay=0``, ``patience=0``,
        ``keep_epoch="last"`` (``"best"`` for ``contextual_integration``),
        ``init_state="zero"``, ``obs="auto"`` (the dataset's task loss), ``split`` from
        :func:`study_trial_counts`, ``fresh_trials`` for the suite. See the module docstring
        for what differs from the study's code.

    Raises
    ------
    ConfigError
        Unknown task, ``epoch_share`` / ``trial_share`` not > 0, or an invalid override.

    Examples
    --------
    >>> cfg = study_fit_config("copy", pwl_units=5, epoch_share=0.001)
    >>> cfg.latent_dim, cfg.pwl_units, cfg.epochs, cfg.batch_size, cfg.mar, cfg.a_init
    (50, 5, 8, 64, 0.1, (0.0, 0.01))
    """
    preset = study_preset(task)
    share = _positive("epoch_share", epoch_share)
    counts = study_trial_counts(task, trial_share=trial_share)
    total = sum(counts.values())
    fresh = 0
    if preset.fresh_trials_each_epoch:
        fresh = counts["train"]
        if task == MULTITASK:  # make_task's n_trials is per task there
            fresh = math.ceil(fresh / len(SUITE))
    values: dict[str, Any] = {
        "model": "alrnn",
        "latent_dim": preset.latent_dim,
        "pwl_units": max(preset.pwl_grid) if pwl_units is None else pwl_units,
        "obs": "auto",
        "init_state": "zero",
        "epochs": max(1, round(preset.epochs * share)),
        "batch_size": preset.batch_size,
        "lr": preset.learning_rate,
        "lr_schedule": "constant",
        "optimizer": "adam",
        "weight_decay": 0.0,
        "grad_clip": 0.0,
        "patience": 0,
        "keep_epoch": "best" if task in BEST_EPOCH_TASKS else "last",
        "tf_interval": 0,
        "mar": preset.mar_tau,
        "mar_units": preset.mar_units,
        "mar_definition": "study",
        "a_placement": preset.a_placement,
        "a_init": tuple(preset.a_init),
        "fresh_trials": fresh,
        "split": tuple(counts[k] / total for k in ("train", "val", "test")),
        "seed": seed,
    }
    return FitConfig(**{**values, **overrides})


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name}={value!r} is invalid; fix: a number > 0, e.g. {name}=0.1")
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name}={value!r} is invalid; fix: a finite number > 0, e.g. 0.1")
    return float(value)
