"""Seeded, vectorised task generators that return canonical TASK datasets.

Every generator has the signature ``generator(n_trials, *, seed, **params) -> xr.Dataset``
and returns a validated task dataset (``targets`` (trial, time, output), ``loss_mask``,
``inputs``, ``valid``, ``epoch``; ``attrs["task"]`` and the parameters as provenance).

=========================  ===============================================================
name                       generator
=========================  ===============================================================
``addition``               :func:`~.classic.addition_task`
``copy``                   :func:`~.classic.copy_task`
``variable_delay_copy``    :func:`~.classic.variable_delay_copy_task`
``contextual_integration`` :func:`~.classic.contextual_integration_task`
``DelayPro`` ... ``GoNogo`` :func:`~.multitask.suite_task` (the 11 tasks of :data:`SUITE`)
``stimulus_selection``     :func:`~.behaviour.stimulus_selection_task`
=========================  ===============================================================

:func:`~.multitask.make_multitask` concatenates the suite; :mod:`.metrics` scores predictions.

Two *variants* of the study's tasks exist (``attrs["variant"]`` records which):
``"short"`` (the table above: the toolbox's quick versions) and ``"study"`` (:data:`STUDY_TASKS`:
the definitions of the AL-RNN study's public code, :mod:`.study_classic` and
:mod:`.study_suite`; its training settings are data in :mod:`.study_presets`).
:func:`make_task` picks one by ``variant=``; :func:`epoch_seed` derives the seed of a fresh
draw per training epoch (the study draws new suite trials every epoch).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks._common import VARIANTS, check_int, check_variant
from alrnn_neuro.simulate.tasks.behaviour import stimulus_selection_task
from alrnn_neuro.simulate.tasks.classic import (
    addition_task,
    contextual_integration_task,
    copy_task,
    variable_delay_copy_task,
)
from alrnn_neuro.simulate.tasks.metrics import (
    angular_accuracy,
    classification_accuracy,
    final_angle_accuracy,
    mse,
    regression_accuracy,
    task_accuracy,
)
from alrnn_neuro.simulate.tasks.multitask import SUITE, make_multitask, pad_time, suite_task
from alrnn_neuro.simulate.tasks.study_classic import (
    study_addition_task,
    study_contextual_integration_task,
    study_copy_task,
    study_variable_delay_copy_task,
)
from alrnn_neuro.simulate.tasks.study_presets import STUDY_PRESETS, StudyPreset
from alrnn_neuro.simulate.tasks.study_suite import study_suite_task

MULTITASK = "multitask"
#: ``attrs`` key of the JSON record of the :func:`make_task` call that made a dataset
RECIPE_ATTR = "make_task"

TASKS: dict[str, Callable[..., xr.Dataset]] = {
    "addition": addition_task,
    "copy": copy_task,
    "variable_delay_copy": variable_delay_copy_task,
    "contextual_integration": contextual_integration_task,
    **{name: partial(suite_task, name) for name in SUITE},
    "stimulus_selection": stimulus_selection_task,
}
"""Task name -> generator ``(n_trials, *, seed, **params) -> xr.Dataset`` (``variant="short"``)."""

STUDY_TASKS: dict[str, Callable[..., xr.Dataset]] = {
    "addition": study_addition_task,
    "copy": study_copy_task,
    "variable_delay_copy": study_variable_delay_copy_task,
    "contextual_integration": study_contextual_integration_task,
    **{name: partial(study_suite_task, name) for name in SUITE},
}
"""Task name -> generator of the AL-RNN study's definition (``variant="study"``)."""


def make_task(
    name: str, *, n_trials: int, seed: int, variant: str = "short", **kwargs: object
) -> xr.Dataset:
    """Generate ``n_trials`` trials of the task called ``name`` in the chosen variant.

    Parameters
    ----------
    name : str
        A key of :data:`TASKS` (``variant="short"``) or :data:`STUDY_TASKS`
        (``variant="study"``), or ``"multitask"`` for the whole suite
        (:func:`~.multitask.make_multitask`; ``n_trials`` is then per task).
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0); the same seed gives identical arrays. For a fresh draw every training
        epoch pass ``seed=epoch_seed(seed, epoch)``.
    variant : {"short", "study"}
        The toolbox's quick version or the AL-RNN study's definition (recorded in
        ``attrs["variant"]``).
    **kwargs
        Task-specific parameters of the generator.

    Returns
    -------
    xr.Dataset
        Validated task dataset. ``attrs["make_task"]`` records this call as JSON (``name``,
        ``variant``, ``n_trials``, ``seed``, ``params``), so more trials of the same task
        can be drawn (``FitConfig.fresh_trials``); left out when a parameter is not plain
        JSON.

    Raises
    ------
    ConfigError
        Unknown ``name`` or ``variant`` (the message lists the choices) or a bad parameter.

    Examples
    --------
    >>> ds = make_task("copy", n_trials=2, seed=0, seq_len=3, delay=4)
    >>> ds.attrs["task"], ds.sizes["trial"], ds.attrs["variant"]
    ('copy', 2, 'short')
    >>> make_task("copy", n_trials=2, seed=0, variant="study").sizes["time"]
    117
    """
    check_variant(variant)
    if name == MULTITASK:
        ds = make_multitask(n_trials, seed, variant=variant, **kwargs)  # type: ignore[arg-type]
        return _record_call(ds, name, variant, n_trials, seed, kwargs)
    registry = STUDY_TASKS if variant == "study" else TASKS
    if name not in registry:
        choices = [*sorted(registry), MULTITASK]
        if name in TASKS:
            raise ConfigError(
                f"task name {name!r} has no 'study' variant; fix: variant='short', or one of "
                f"{choices}"
            )
        raise ConfigError(f"task name {name!r} is unknown; fix: one of {choices}")
    ds = registry[name](n_trials, seed=seed, **kwargs)
    return _record_call(ds, name, variant, n_trials, seed, kwargs)


def _record_call(
    ds: xr.Dataset, name: str, variant: str, n_trials: int, seed: int, params: dict
) -> xr.Dataset:
    """Write the call into ``attrs["make_task"]`` (JSON), so the task can be drawn again.

    Parameters that JSON cannot hold (or that it would change, such as NaN) leave the
    attribute out: such a dataset cannot stream fresh trials (``FitConfig.fresh_trials``).
    """
    record = {"name": name, "variant": variant, "n_trials": n_trials, "seed": seed}
    try:
        text = json.dumps({**record, "params": params}, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError):
        return ds
    if json.loads(text)["params"] != _as_json_types(params):
        return ds
    ds.attrs[RECIPE_ATTR] = text
    return ds


def _as_json_types(value: object) -> object:
    """``value`` with tuples as lists (what a JSON round trip gives)."""
    if isinstance(value, dict):
        return {k: _as_json_types(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_json_types(v) for v in value]
    return value


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of training epoch ``epoch``'s fresh trials, derived from the run's ``seed``.

    ``make_task(name, variant="study", n_trials=n, seed=epoch_seed(seed, epoch))`` draws
    new trials every epoch, reproducibly: the same ``(seed, epoch)`` always gives the same
    trials, different epochs (or seeds) give independent streams
    (``numpy.random.SeedSequence((seed, epoch))``, 63 bits). Ensemble members trained on
    shared data use the same ``epoch_seed``; the study draws its 11-task suite this way
    (5,000 fresh trials each of 300 epochs).

    Parameters
    ----------
    seed : int
        The run's task seed (>= 0).
    epoch : int
        Epoch index (>= 0).

    Returns
    -------
    int
        A seed >= 0 for :func:`make_task`.

    Examples
    --------
    >>> epoch_seed(0, 1) == epoch_seed(0, 1), epoch_seed(0, 1) == epoch_seed(0, 2)
    (True, False)
    """
    check_int("seed", seed, 0)
    check_int("epoch", epoch, 0)
    state = np.random.SeedSequence((seed, epoch)).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


__all__ = [
    "MULTITASK",
    "RECIPE_ATTR",
    "STUDY_PRESETS",
    "STUDY_TASKS",
    "SUITE",
    "TASKS",
    "VARIANTS",
    "StudyPreset",
    "addition_task",
    "angular_accuracy",
    "classification_accuracy",
    "contextual_integration_task",
    "copy_task",
    "epoch_seed",
    "final_angle_accuracy",
    "make_multitask",
    "make_task",
    "mse",
    "pad_time",
    "regression_accuracy",
    "stimulus_selection_task",
    "study_addition_task",
    "study_contextual_integration_task",
    "study_copy_task",
    "study_suite_task",
    "study_variable_delay_copy_task",
    "suite_task",
    "task_accuracy",
    "variable_delay_copy_task",
]
