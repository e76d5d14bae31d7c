"""Multi-task analysis: which linear regions each task uses, and how much tasks share them.

For an AL-RNN trained on several tasks (e.g. the 11-task suite of
:func:`~alrnn_neuro.simulate.tasks.make_multitask`), every valid step has a region (its
bitcode). Per task the steps give a distribution over regions, ``p_task(region)``. Brenner &
Koppe (TMLR 2026) report that small P gives *shared* regions across tasks and large P
task-specific (*distributed*) ones. The measures here quantify that:

=======================  ==================================================================
measure                  meaning
=======================  ==================================================================
``usage_entropy``        H(p_task) in bits: 0 = the task lives in one region
``overlap``              sum_r min(p_a(r), p_b(r)) of two tasks: 1 = same distribution,
                         0 = disjoint regions
``shared_index``         mean overlap over all task pairs (1 = fully shared, 0 = every task
                         has its own regions; P = 0 gives 1)
``task_specificity``     I(task; region) / H(task), tasks weighted equally: the share of the
                         task identity that the region reveals (0 = shared, 1 = disjoint)
=======================  ==================================================================

The functions on arrays are pure; :func:`sweep_multitask` assembles them over the AL-RNN cells
of a sweep (dims ``pwl_units``, ``seed``, ``task``, ``region``), with each cell's per-task
accuracy on the sweep's test trials (``alrnn-neuro reproduce tasks`` writes it to
``multitask/multitask.nc``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.checks import check_bitcode
from alrnn_neuro.errors import DataValidationError, RunDirError

logger = logging.getLogger(__name__)


def task_region_usage(
    bitcode: xr.DataArray,
    valid: xr.DataArray | None = None,
    task: xr.DataArray | Sequence[str] | None = None,
    *,
    regions: Sequence[int] | None = None,
    tasks: Sequence[str] | None = None,
) -> xr.DataArray:
    """Per-task distribution of valid steps over linear regions.

    Parameters
    ----------
    bitcode : xr.DataArray of int, dims (trial, time)
        Region code of every step (``latents.nc`` ``bitcode``; negative = padding).
    valid : xr.DataArray of bool, dims (trial, time), optional
        Steps to count (default: steps with a code >= 0).
    task : xr.DataArray or sequence of str, dims (trial,), optional
        Task of each trial (default: the ``task`` coord of ``bitcode``).
    regions : sequence of int, optional
        Region codes of the output (default: the codes used, sorted). Codes outside it are
        an error.
    tasks : sequence of str, optional
        Tasks of the output, in this order (default: the tasks present, in order of first
        appearance). A task without valid steps gets a NaN row.

    Returns
    -------
    xr.DataArray, dims (task, region)
        ``p_task(region)``: each row sums to 1 (NaN for tasks without valid steps).
        ``attrs["n_steps"]`` lists the counted steps per task.

    Raises
    ------
    DataValidationError
        Bad dims/shapes, no task labels, or codes outside ``regions``.

    Examples
    --------
    >>> code = xr.DataArray([[0, 0, 1], [1, 1, -1]], dims=("trial", "time"),
    ...                     coords={"task": ("trial", ["a", "b"])})
    >>> task_region_usage(code).values.round(2).tolist()
    [[0.67, 0.33], [0.0, 1.0]]
    """
    codes, ok = check_bitcode(bitcode, valid)
    labels = _task_labels(bitcode, task)
    names = list(dict.fromkeys(labels.tolist())) if tasks is None else [str(t) for t in tasks]
    used = np.unique(codes[ok & (codes >= 0)])
    axis = used if regions is None else np.asarray(sorted(set(int(r) for r in regions)), int)
    outside = np.setdiff1d(used, axis)
    if outside.size:
        raise DataValidationError(
            f"bitcode holds regions {outside[:5].tolist()} that are not in regions="
            f"{axis.tolist()}; fix: pass every region code (e.g. range(2 ** P)) or none"
        )
    counts = np.zeros((len(names), axis.size))
    for i, name in enumerate(names):
        rows = labels == name
        hit = codes[rows][ok[rows] & (codes[rows] >= 0)]
        counts[i] = np.bincount(np.searchsorted(axis, hit), minlength=axis.size)
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, counts / total, np.nan)
    out = xr.DataArray(p, dims=("task", "region"), coords={"task": names, "region": axis})
    out.attrs["n_steps"] = total[:, 0].astype(int).tolist()
    return out


def usage_entropy(usage: xr.DataArray) -> xr.DataArray:
    """Shannon entropy (bits) of each task's region distribution.

    Parameters
    ----------
    usage : xr.DataArray, dims (..., task, region)
        Output of :func:`task_region_usage` (rows sum to 1).

    Returns
    -------
    xr.DataArray, dims (..., task)
        0 when a task uses one region; log2(k) for k equally used regions; NaN rows stay NaN.

    Examples
    --------
    >>> u = xr.DataArray([[0.5, 0.5], [1.0, 0.0]], dims=("task", "region"))
    >>> usage_entropy(u).values.tolist()
    [1.0, 0.0]
    """
    _check_usage(usage)
    terms = xr.where(usage > 0, -usage * np.log2(usage.where(usage > 0, 1.0)), 0.0)
    return terms.sum("region").where(usage.notnull().all("region"))


def pairwise_overlap(usage: xr.DataArray) -> xr.DataArray:
    """Overlap sum_r min(p_a(r), p_b(r)) of every pair of tasks.

    Parameters
    ----------
    usage : xr.DataArray, dims (task, region)

    Returns
    -------
    xr.DataArray, dims (task, task_b)
        Symmetric, 1 on the diagonal (for tasks with steps), in [0, 1]; equals
        1 - total-variation distance of the two distributions.
    """
    _check_usage(usage)
    p = usage.transpose("task", "region").values
    mins = np.minimum(p[:, None, :], p[None, :, :]).sum(-1)
    bad = np.isnan(p).any(-1)
    mins[bad, :], mins[:, bad] = np.nan, np.nan
    names = usage["task"].values
    return xr.DataArray(mins, dims=("task", "task_b"), coords={"task": names, "task_b": names})


def shared_index(usage: xr.DataArray) -> float:
    """Mean pairwise overlap across task pairs: 1 = regions fully shared, 0 = disjoint.

    Tasks without valid steps are left out; NaN with fewer than two tasks.

    Examples
    --------
    >>> u = xr.DataArray([[1.0, 0.0], [0.0, 1.0]], dims=("task", "region"))
    >>> shared_index(u)
    0.0
    """
    m = pairwise_overlap(usage).values
    keep = ~np.isnan(np.diag(m))
    m = m[np.ix_(keep, keep)]
    if m.shape[0] < 2:
        return float("nan")
    return float(m[np.triu_indices(m.shape[0], k=1)].mean())


def task_specificity(usage: xr.DataArray) -> float:
    """Normalised mutual information I(task; region) / H(task), tasks weighted equally.

    0 when all tasks use regions in the same proportions (shared), 1 when the region
    identifies the task (disjoint regions). NaN with fewer than two tasks with steps.

    Examples
    --------
    >>> u = xr.DataArray([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], dims=("task", "region"))
    >>> task_specificity(u)
    1.0
    """
    _check_usage(usage)
    p = usage.transpose("task", "region").values
    p = p[~np.isnan(p).any(-1)]
    if p.shape[0] < 2:
        return float("nan")
    joint = p / p.shape[0]
    marginal = joint.sum(0)
    ratio = np.where(joint > 0, joint / (marginal[None, :] * (1.0 / p.shape[0])), 1.0)
    mi = float(np.sum(np.where(joint > 0, joint * np.log2(ratio), 0.0)))
    return float(np.clip(mi / np.log2(p.shape[0]), 0.0, 1.0))


def usage_measures(usage: xr.DataArray) -> dict[str, object]:
    """All measures of one (task, region) usage table.

    Returns
    -------
    dict
        ``usage_entropy`` (DataArray, task), ``overlap`` (DataArray, task x task_b),
        ``shared_index`` (float), ``task_specificity`` (float), ``regions_used`` (int: regions
        with any use), ``regions_per_task`` (DataArray, task: regions with p > 0).
    """
    return {
        "usage_entropy": usage_entropy(usage),
        "overlap": pairwise_overlap(usage),
        "shared_index": shared_index(usage),
        "task_specificity": task_specificity(usage),
        "regions_used": int((usage.fillna(0) > 0).any("task").sum()),
        "regions_per_task": (usage > 0).sum("region").where(usage.notnull().all("region")),
    }


def sweep_multitask(
    sweep_dir: str | os.PathLike,
    dataset: str | os.PathLike | xr.Dataset | None = None,
    *,
    train_fraction: float | None = None,
    latent_dim: int | None = None,
) -> xr.Dataset:
    """Region usage per task and its sharing measures for every AL-RNN cell of a sweep.

    Each cell's model is run free on every trial of the dataset (driven by the trials'
    inputs); region usage counts all valid steps, accuracy is scored per task on the
    sweep's common test trials (``sweep.json``), which no cell was fitted to.

    Parameters
    ----------
    sweep_dir : str or PathLike
        Folder written by :func:`~alrnn_neuro.sweep.run_sweep` on a multi-task dataset.
    dataset : str, PathLike or xr.Dataset, optional
        That dataset (needs a ``task`` trial coord); default ``sweep_dir/dataset.h5``.
    train_fraction, latent_dim : optional
        Which cells to use when the grid has several (default: the largest).

    Returns
    -------
    xr.Dataset
        dims ``pwl_units``, ``seed``, ``task``, ``region`` (``task_b``): ``region_usage``
        (pwl_units, seed, task, region; 0 for regions a P cannot reach), ``usage_entropy``
        and ``task_accuracy`` and ``regions_per_task`` (pwl_units, seed, task),
        ``shared_index``, ``task_specificity`` and ``regions_used`` (pwl_units, seed),
        ``overlap`` (pwl_units, seed, task, task_b). Missing cells are NaN.

    Raises
    ------
    RunDirError
        If ``sweep_dir`` holds no sweep or no AL-RNN cells.
    DataValidationError
        If the dataset has no ``task`` coord.
    """
    from alrnn_neuro.sweep.grid import SweepGrid
    from alrnn_neuro.sweep.run import SWEEP_FILE, cell_complete
    from alrnn_neuro.training import rundir as rd

    root = Path(sweep_dir)
    if not (root / SWEEP_FILE).is_file():
        raise RunDirError(f"{root} holds no {SWEEP_FILE}; fix: run the multi-task sweep there")
    record = rd.read_json(root / SWEEP_FILE)
    grid = SweepGrid.from_dict(record["grid"])
    if "alrnn" not in grid.models:
        raise RunDirError(f"sweep {root} has no AL-RNN cells; fix: sweep --model alrnn")
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
        if not cell_complete(run):
            logger.warning("cell %s is missing; its values are NaN", cell.name)
            continue
        cells[(cell.pwl_units, cell.seed)] = _cell_measures(run, ds, test_ids, tasks)
    if not cells:
        raise RunDirError(f"sweep {root} has no finished AL-RNN cell with M={m}, tf={f:g}")
    regions = sorted({int(r) for c in cells.values() for r in c["region"].values})
    parts = [c.reindex(region=regions, fill_value=0.0).expand_dims(pwl_units=[p], seed=[s])
             for (p, s), c in cells.items()]  # fmt: skip
    result = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs="drop")
    result = result.reindex(pwl_units=list(grid.pwl_units), seed=list(grid.seeds))
    result = result.transpose("pwl_units", "seed", "task", "region", "task_b")
    result.attrs.update(sweep=str(root), train_fraction=f, latent_dim=m,
                        n_test_trials=int(test_ids.size))  # fmt: skip
    return result


def _cell_measures(run: Path, ds: xr.Dataset, test_ids: np.ndarray, tasks: list[str]) -> dict:
    """Usage (task, region), its measures and per-task test accuracy of one cell (Dataset)."""
    from alrnn_neuro.simulate.tasks.metrics import task_accuracy
    from alrnn_neuro.training.api import load_run
    from alrnn_neuro.training.outputs import predict_all
    from alrnn_neuro.training.session import prepare_session

    fit = load_run(run)
    pool = np.setdiff1d(ds["trial"].values, test_ids)
    val = np.intersect1d(np.asarray(fit.split["val"]), pool)
    session = prepare_session(ds, fit.config, split={"train": np.setdiff1d(pool, val),
                                                     "val": val, "test": test_ids})  # fmt: skip
    predicted = predict_all(fit.model, session.tensors)
    n_time = ds.sizes["time"]
    code = session.tensors.restore_time(predicted["bitcode"], n_time, -1)
    valid = ds["valid"].values.astype(bool)
    code[~valid] = -1
    bitcode = xr.DataArray(code, dims=("trial", "time"))
    usage = task_region_usage(bitcode, None, ds["task"].values, tasks=tasks)
    pred = session.tensors.restore_time(predicted["prediction"], n_time, 0.0)
    labels = ds["task"].values.astype(str)
    is_test = np.isin(ds["trial"].values, test_ids)
    accuracy = np.full(len(tasks), np.nan)
    for k, name in enumerate(tasks):
        idx = np.flatnonzero(is_test & (labels == name))
        sub = ds.isel(trial=idx)
        if idx.size and bool(sub["loss_mask"].values.any()):
            accuracy[k] = float(task_accuracy(pred[idx], sub))
    mm = usage_measures(usage)
    return xr.Dataset(
        {"region_usage": usage, "overlap": mm["overlap"],
         "usage_entropy": mm["usage_entropy"], "regions_per_task": mm["regions_per_task"],
         "task_accuracy": ("task", accuracy), "shared_index": mm["shared_index"],
         "task_specificity": mm["task_specificity"], "regions_used": mm["regions_used"]},
    )  # fmt: skip


def _load(source: str | os.PathLike | xr.Dataset) -> xr.Dataset:
    if isinstance(source, xr.Dataset):
        return source
    if not Path(source).is_file():
        raise RunDirError(
            f"dataset {str(source)!r} does not exist; fix: pass the multi-task dataset the "
            "sweep was fitted to"
        )
    from alrnn_neuro.data.h5 import load_dataset

    return load_dataset(source)


def _task_labels(bitcode: xr.DataArray, task) -> np.ndarray:
    if task is None:
        if "task" not in bitcode.coords:
            raise DataValidationError(
                "bitcode has no 'task' coord; fix: pass task= (one name per trial) or the "
                "latents.nc of a multi-task fit"
            )
        task = bitcode["task"]
    labels = np.asarray(task.values if isinstance(task, xr.DataArray) else task).astype(str)
    if labels.shape != (bitcode.sizes["trial"],):
        raise DataValidationError(
            f"task has shape {labels.shape} but bitcode has {bitcode.sizes['trial']} trials; "
            "fix: one task name per trial"
        )
    return labels


def _check_usage(usage: xr.DataArray) -> None:
    if not isinstance(usage, xr.DataArray) or not {"task", "region"} <= set(usage.dims):
        got = getattr(usage, "dims", type(usage).__name__)
        raise DataValidationError(
            f"usage must be a DataArray with dims (task, region); got {got}; fix: pass the "
            "output of task_region_usage"
        )
