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

The functions are pure; :func:`alrnn_neuro.sweep.multitask.sweep_multitask` assembles them
over the AL-RNN cells of a sweep (dims ``pwl_units``, ``seed``, ``task``, ``region``), with
each cell's per-task accuracy on the sweep's test trials (``alrnn-neuro reproduce tasks``
writes it to ``multitask/multitask.nc``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.checks import check_bitcode
from alrnn_neuro.errors import DataValidationError

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
