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
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import xarray as xr

from alrnn_neuro.errors import ConfigError
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
    mse,
    regression_accuracy,
    task_accuracy,
)
from alrnn_neuro.simulate.tasks.multitask import SUITE, make_multitask, pad_time, suite_task

TASKS: dict[str, Callable[..., xr.Dataset]] = {
    "addition": addition_task,
    "copy": copy_task,
    "variable_delay_copy": variable_delay_copy_task,
    "contextual_integration": contextual_integration_task,
    **{name: partial(suite_task, name) for name in SUITE},
    "stimulus_selection": stimulus_selection_task,
}
"""Task name -> generator ``(n_trials, *, seed, **params) -> xr.Dataset``."""


def make_task(name: str, *, n_trials: int, seed: int, **kwargs: object) -> xr.Dataset:
    """Generate ``n_trials`` trials of the task called ``name`` (see :data:`TASKS`).

    Parameters
    ----------
    name : str
        A key of :data:`TASKS`.
    n_trials : int
        Number of trials (>= 1).
    seed : int
        Seed (>= 0); the same seed gives identical arrays.
    **kwargs
        Task-specific parameters of the generator.

    Returns
    -------
    xr.Dataset
        Validated task dataset.

    Raises
    ------
    ConfigError
        Unknown ``name`` (the message lists the choices) or a bad parameter.

    Examples
    --------
    >>> ds = make_task("copy", n_trials=2, seed=0, seq_len=3, delay=4)
    >>> ds.attrs["task"], ds.sizes["trial"]
    ('copy', 2)
    """
    if name not in TASKS:
        raise ConfigError(f"task name {name!r} is unknown; fix: one of {sorted(TASKS)}")
    return TASKS[name](n_trials, seed=seed, **kwargs)


__all__ = [
    "SUITE",
    "TASKS",
    "addition_task",
    "angular_accuracy",
    "classification_accuracy",
    "contextual_integration_task",
    "copy_task",
    "make_multitask",
    "make_task",
    "mse",
    "pad_time",
    "regression_accuracy",
    "stimulus_selection_task",
    "suite_task",
    "task_accuracy",
    "variable_delay_copy_task",
]
