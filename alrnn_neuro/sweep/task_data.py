"""Sweep a task by name: generate its dataset once, into the sweep folder, and sweep that file.

``alrnn-neuro sweep addition --out sweeps/addition`` generates the ``addition`` task
(:func:`alrnn_neuro.simulate.tasks.make_task`; ``multitask`` = the whole suite,
:func:`~alrnn_neuro.simulate.tasks.make_multitask`) and saves it as ``OUT/dataset.h5``, so dask
workers read a file like for any other sweep. Running the same command again finds the same
file (same name, trial count and seed give identical data) and resumes the sweep.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import xarray as xr

from alrnn_neuro.data.h5 import load_dataset, save_dataset
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.simulate.tasks import TASKS, make_multitask, make_task
from alrnn_neuro.sweep.layout import DATASET_FILE, SWEEP_FILE
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.fingerprint import dataset_fingerprint
from alrnn_neuro.training.resolve import resolve_config

logger = logging.getLogger(__name__)

MULTITASK = "multitask"


def task_names() -> list[str]:
    """Names ``sweep`` accepts instead of a file: every key of ``TASKS`` and ``multitask``."""

    return [*sorted(TASKS), MULTITASK]


def generate_task(name: str, *, n_trials: int, seed: int) -> xr.Dataset:
    """The task dataset ``name`` (``multitask``: ``n_trials`` trials *per task* of the suite).

    Examples
    --------
    >>> generate_task("copy", n_trials=3, seed=0).attrs["task"]
    'copy'
    """

    if name == MULTITASK:
        return make_multitask(n_trials, seed=seed)
    return make_task(name, n_trials=n_trials, seed=seed)


def sweep_source(
    dataset_or_task: str | os.PathLike,
    out: str | os.PathLike,
    *,
    n_trials: int = 500,
    seed: int = 0,
    base_config: FitConfig | None = None,
) -> Path:
    """The dataset file to sweep: an existing file, or a task generated into ``out``.

    Parameters
    ----------
    dataset_or_task : str or PathLike
        Path of a dataset file, or a task name (see :func:`task_names`).
    out : str or PathLike
        Sweep folder; a generated task goes to ``out/dataset.h5``.
    n_trials : int
        Trials of a generated task (per task for ``multitask``).
    seed : int
        Seed of the task generator.
    base_config : FitConfig, optional
        Checked against a generated dataset before anything is written.

    Returns
    -------
    Path
        The dataset file.

    Raises
    ------
    ConfigError
        ``dataset_or_task`` is neither a file nor a task name, or the config does not fit the
        task.
    RunDirError
        ``out`` holds another sweep or other files, or a ``dataset.h5`` of other data.
    """
    path = Path(dataset_or_task)
    if path.is_file():
        return path
    name = str(dataset_or_task)
    names = task_names()
    if name not in names:
        raise ConfigError(
            f"{name!r} is neither an existing dataset file nor a task name; fix: give the "
            f"path of a dataset.h5, or one of the tasks {', '.join(names)}"
        )

    ds = generate_task(name, n_trials=n_trials, seed=seed)
    resolve_config(FitConfig() if base_config is None else base_config, ds)
    root = Path(out)
    target = root / DATASET_FILE
    if target.is_file():
        if dataset_fingerprint(load_dataset(target)) == dataset_fingerprint(ds):
            logger.info("%s already holds this %s dataset; reusing it", target, name)
            return target
        raise RunDirError(
            f"{target} holds other data than task {name!r} with --n-trials {n_trials} "
            f"--task-seed {seed}; fix: the settings of that sweep, or another --out"
        )
    if root.is_dir() and any(p.name != "staging" for p in root.iterdir()):
        what = "another sweep" if (root / SWEEP_FILE).is_file() else "other files"
        raise RunDirError(f"{root} holds {what}; fix: choose another --out")
    save_dataset(ds, target)
    return target
