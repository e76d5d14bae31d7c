"""Multi-task region sharing over the AL-RNN cells of a sweep (``multitask.nc``).

The measures themselves are in :mod:`alrnn_neuro.analysis.multitask`; this module runs every
finished cell of a multi-task sweep on the dataset and stacks them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.multitask import task_region_usage, usage_measures
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError, RunDirError
from alrnn_neuro.models.params import MAX_PWL, has_region_codes
from alrnn_neuro.simulate.tasks.metrics import task_accuracy
from alrnn_neuro.sweep.grid import Cell, SweepGrid
from alrnn_neuro.sweep.layout import SWEEP_FILE, cell_complete
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.api import initial_fit, load_run
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.evaluate import predict_all
from alrnn_neuro.training.session import prepare_session

logger = logging.getLogger(__name__)

__all__ = ["sweep_multitask"]


def sweep_multitask(
    sweep_dir: str | os.PathLike,
    dataset: str | os.PathLike | xr.Dataset | None = None,
    *,
    train_fraction: float | None = None,
    latent_dim: int | None = None,
    untrained: bool = False,
    seed_offset: int = 0,
) -> xr.Dataset:
    """Region usage per task and its sharing measures for every AL-RNN cell of a sweep.

    Each cell's model is run free on every trial of the dataset (driven by the trials'
    inputs); region usage counts all valid steps, accuracy is scored per task on the
    sweep's common test trials (``sweep.json``), which no cell was fitted to.

    With ``untrained=True`` the same measures come from each cell's network at its
    initialisation (the sweep's base config with the cell's M and P, model seed = the cell's
    seed + ``seed_offset``; nothing is trained): a null matched on the number of regions and on
    the inputs, since overlap falls with 2^P by region counting alone.

    Parameters
    ----------
    sweep_dir : str or PathLike
        Folder written by :func:`~alrnn_neuro.sweep.run_sweep` on a multi-task dataset.
    dataset : str, PathLike or xr.Dataset, optional
        That dataset (needs a ``task`` trial coord); default ``sweep_dir/dataset.h5``.
    train_fraction, latent_dim : optional
        Which cells to use when the grid has several (default: the largest).
    untrained : bool
        Measure the networks at their initialisation instead of the fitted ones.
    seed_offset : int
        Added to the cells' seeds for the untrained networks (>= 0).

    Returns
    -------
    xr.Dataset
        dims ``pwl_units``, ``seed``, ``task``, ``region`` (``task_b``): ``region_usage``
        (pwl_units, seed, task, region; 0 for regions a P cannot reach), ``usage_entropy``
        and ``task_accuracy`` and ``regions_per_task`` (pwl_units, seed, task),
        ``shared_index``, ``task_specificity`` and ``regions_used`` (pwl_units, seed),
        ``overlap`` (pwl_units, seed, task, task_b). Missing cells are NaN; cells with more
        than 62 rectified units (no region codes) have their ``task_accuracy`` and NaN for
        every region measure.

    Raises
    ------
    RunDirError
        If ``sweep_dir`` holds no sweep, no AL-RNN cells, or K folds.
    DataValidationError
        If the dataset has no ``task`` coord.
    ConfigError
        A negative ``seed_offset``.
    """
    root = Path(sweep_dir)
    if isinstance(seed_offset, bool) or not isinstance(seed_offset, int) or seed_offset < 0:
        raise ConfigError(f"seed_offset={seed_offset!r}; fix: use an integer >= 0")
    if not (root / SWEEP_FILE).is_file():
        raise RunDirError(f"{root} holds no {SWEEP_FILE}; fix: run the multi-task sweep there")
    record = rd.read_json(root / SWEEP_FILE)
    grid = SweepGrid.from_dict(record["grid"])
    if "alrnn" not in grid.models:
        raise RunDirError(f"sweep {root} has no AL-RNN cells; fix: sweep --model alrnn")
    if grid.folds != 1:
        raise RunDirError(
            f"sweep {root} has folds={grid.folds}; multi-task sharing reads one common test "
            "split, fix: sweep the multi-task dataset without --folds"
        )
    ds = _load(dataset if dataset is not None else root / "dataset.h5")
    if "task" not in ds.coords:
        raise DataValidationError(
            "dataset has no 'task' trial coord; fix: pass the multi-task dataset (make_multitask)"
        )
    f = max(grid.train_fractions) if train_fraction is None else float(train_fraction)
    m = max(grid.latent_dims) if latent_dim is None else int(latent_dim)
    test_ids = np.asarray(record["test_trials"])
    tasks = list(dict.fromkeys(ds["task"].values.astype(str).tolist()))
    cells = {}
    for cell in grid.cells():
        if (cell.model, cell.train_fraction, cell.latent_dim) != ("alrnn", f, m):
            continue
        run = root / "cells" / cell.name
        if not has_region_codes(cell.pwl_units):
            logger.info(
                "cell %s: P > %d, no region codes; its region measures are NaN (accuracy is kept)",
                cell.name,
                MAX_PWL,
            )
        if untrained:  # initialised on the trials a sweep fits (all but the test trials)
            base = FitConfig.from_dict(record["base_config"])
            pool = np.setdiff1d(ds["trial"].values, test_ids)
            fitted = initial_fit(ds.sel(trial=pool), _initial_config(base, cell, seed_offset))
        elif cell_complete(run):
            fitted = load_run(run)
        else:
            logger.warning("cell %s is missing; its values are NaN", cell.name)
            continue
        cells[(cell.pwl_units, cell.seed)] = _cell_measures(fitted, ds, test_ids, tasks)
    if not cells:
        raise RunDirError(f"sweep {root} has no finished AL-RNN cell with M={m}, tf={f:g}")
    regions = sorted({int(r) for c in cells.values() for r in c["region"].values})
    # a cell without region codes has an empty region axis: the reindex fills its usage
    # with NaN, not 0 ("never used"), so it cannot pass for a measured usage
    parts = [
        c.reindex(region=regions, fill_value=0.0 if c.sizes["region"] else np.nan).expand_dims(
            pwl_units=[p], seed=[s]
        )
        for (p, s), c in cells.items()
    ]
    result = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs="drop")
    result = result.reindex(pwl_units=list(grid.pwl_units), seed=list(grid.seeds))
    result = result.transpose("pwl_units", "seed", "task", "region", "task_b")
    result.attrs.update(
        sweep=str(root), train_fraction=f, latent_dim=m, n_test_trials=int(test_ids.size)
    )
    result.attrs.update(networks="untrained" if untrained else "fitted", seed_offset=seed_offset)
    return result


def _initial_config(base: FitConfig, cell: Cell, seed_offset: int) -> FitConfig:
    """The config of a cell's network at its initialisation (two-way split, as a sweep fits)."""
    train, val = base.split[0], base.split[1]
    return base.replace(
        model="alrnn",
        latent_dim=cell.latent_dim,
        pwl_units=cell.pwl_units,
        seed=cell.seed + int(seed_offset),
        split=(train / (train + val), val / (train + val)),
    )


def _cell_measures(fit: Any, ds: xr.Dataset, test_ids: np.ndarray, tasks: list[str]) -> dict:
    """Usage (task, region), its measures and per-task test accuracy of one fit (Dataset)."""
    pool = np.setdiff1d(ds["trial"].values, test_ids)
    val = np.intersect1d(np.asarray(fit.split["val"]), pool)
    split = {"train": np.setdiff1d(pool, val), "val": val, "test": test_ids}
    session = prepare_session(ds, fit.config, split=split)
    predicted = predict_all(fit.model, session.tensors)
    n_time = ds.sizes["time"]
    pred = session.tensors.restore_time(predicted["prediction"], n_time, 0.0)
    labels = ds["task"].values.astype(str)
    is_test = np.isin(ds["trial"].values, test_ids)
    accuracy = np.full(len(tasks), np.nan)
    for k, name in enumerate(tasks):
        idx = np.flatnonzero(is_test & (labels == name))
        sub = ds.isel(trial=idx)
        if idx.size and bool(sub["loss_mask"].values.any()):
            accuracy[k] = float(task_accuracy(pred[idx], sub))
    if "bitcode" in predicted:
        code = session.tensors.restore_time(predicted["bitcode"], n_time, -1)
        code[~ds["valid"].values.astype(bool)] = -1
        bitcode = xr.DataArray(code, dims=("trial", "time"))
        usage = task_region_usage(bitcode, None, ds["task"].values, tasks=tasks)
        mm = usage_measures(usage)
    else:  # more than 62 rectified units: no region codes, every region measure is NaN
        usage, mm = _no_region_measures(tasks)
    return xr.Dataset(
        {
            "region_usage": usage,
            "overlap": mm["overlap"],
            "usage_entropy": mm["usage_entropy"],
            "regions_per_task": mm["regions_per_task"],
            "task_accuracy": ("task", accuracy),
            "shared_index": mm["shared_index"],
            "task_specificity": mm["task_specificity"],
            "regions_used": mm["regions_used"],
        },
    )


def _no_region_measures(tasks: list[str]) -> tuple[xr.DataArray, dict]:
    """An empty (task, region) usage and NaN measures, for a network without region codes."""
    n, nan = len(tasks), float("nan")
    usage = xr.DataArray(
        np.empty((n, 0)),
        dims=("task", "region"),
        coords={"task": tasks, "region": np.array([], dtype=np.int64)},
    )
    per_task = xr.DataArray(np.full(n, nan), dims="task", coords={"task": tasks})
    overlap = xr.DataArray(
        np.full((n, n), nan), dims=("task", "task_b"), coords={"task": tasks, "task_b": tasks}
    )
    measures = {"usage_entropy": per_task, "regions_per_task": per_task, "overlap": overlap}
    return usage, {**measures, "shared_index": nan, "task_specificity": nan, "regions_used": nan}


def _load(source: str | os.PathLike | xr.Dataset) -> xr.Dataset:
    if isinstance(source, xr.Dataset):
        return source
    if not Path(source).is_file():
        raise RunDirError(
            f"dataset {str(source)!r} does not exist; fix: pass the multi-task dataset the "
            "sweep was fitted to"
        )
    return load_dataset(source)
