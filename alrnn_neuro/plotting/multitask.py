"""Figures of a multi-task sweep's ``multitask.nc``: region sharing vs P, region usage per task.

Input: the table of :func:`alrnn_neuro.sweep.multitask.sweep_multitask` (dims ``pwl_units``,
``seed``, ``task``, ``region``). Matplotlib only (Agg canvas, no pyplot state); every function
takes ``ax=`` and returns the Figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.models.params import region_labels
from alrnn_neuro.plotting.axes import figure_and_ax
from alrnn_neuro.plotting.seeds import mean_sem


def plot_shared_index(multitask: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """Shared-vs-distributed index vs P (mean ± sem over seeds, seeds as points).

    Parameters
    ----------
    multitask : xr.Dataset
        ``shared_index`` (pwl_units, seed) and, if present, ``task_specificity``
        (pwl_units, seed).
    ax : Axes, optional
        Draw here instead of a new figure.

    Returns
    -------
    Figure
    """
    if "shared_index" not in multitask:
        raise DataValidationError(
            f"multitask results lack 'shared_index' (have {list(multitask.data_vars)}); fix: "
            "pass the multitask.nc written by the multi-task analysis"
        )
    fig, ax = figure_and_ax(ax, 5.0, 3.6)
    pwl = multitask["pwl_units"].values
    x = np.arange(pwl.size, dtype=float)
    for k, (name, label) in enumerate(
        (("shared_index", "shared index (mean overlap)"), ("task_specificity", "task specificity"))
    ):
        if name not in multitask:
            continue
        data = multitask[name].transpose("pwl_units", "seed")
        for s in range(data.sizes["seed"]):
            ax.plot(x, data.values[:, s], "o", color=f"C{k}", ms=3, alpha=0.4)
        mean, sem = mean_sem(data)
        ax.errorbar(
            x,
            mean.values,
            yerr=sem.values,
            marker="s",
            ms=5,
            capsize=3,
            color=f"C{k}",
            label=f"{label}, mean ± sem",
        )
    ax.set_xticks(x, [str(p) for p in pwl])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("PWL units P")
    ax.set_ylabel("index (1 = shared regions)")
    ax.set_title("Region sharing across tasks vs P", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_region_usage(
    multitask: xr.Dataset,
    *,
    pwl_units: Any = None,
    seed: Any = None,
    max_regions: int = 40,
    ax: Axes | None = None,
) -> Figure:
    """Task x region usage heatmap of one fitted model (one P, one seed).

    Parameters
    ----------
    multitask : xr.Dataset
        ``region_usage`` (pwl_units, seed, task, region): fraction of each task's valid steps.
    pwl_units, seed : optional
        The model to show (default: the largest P and its first seed with data).
    max_regions : int
        Most-used regions shown (regions are columns), labelled by bit string.
    ax : Axes, optional
        Draw here instead of a new figure.

    Returns
    -------
    Figure
    """
    if "region_usage" not in multitask:
        raise DataValidationError(
            f"multitask results lack 'region_usage' (have {list(multitask.data_vars)}); fix: "
            "pass the multitask.nc written by the multi-task analysis"
        )
    usage = multitask["region_usage"].transpose("pwl_units", "seed", "task", "region")
    pwl_units, seed = pick_model(usage, pwl_units, seed)
    table = usage.sel(pwl_units=pwl_units, seed=seed).fillna(0.0)
    total = table.sum("task").values
    keep = np.argsort(-total, kind="stable")[: max(1, min(max_regions, int((total > 0).sum())))]
    table = table.isel(region=np.sort(keep))
    width, height = 3.2 + 0.3 * table.sizes["region"], 1.6 + 0.3 * table.sizes["task"]
    fig, ax = figure_and_ax(ax, width, height)
    im = ax.imshow(
        table.values, cmap="magma", vmin=0, vmax=max(float(table.max()), 1e-9), aspect="auto"
    )
    codes = table["region"].values.astype(np.int64)
    ax.set_xticks(range(codes.size), region_labels(codes, int(pwl_units)), rotation=90, fontsize=7)
    ax.set_yticks(range(table.sizes["task"]), [str(t) for t in table["task"].values], fontsize=7)
    ax.set_xlabel("region (bit string, first ReLU unit first)")
    ax.set_title(f"Region usage per task, P = {pwl_units}, seed {seed}", fontsize=10)
    fig.colorbar(im, ax=ax, label="fraction of task steps")
    return fig


def pick_model(usage: xr.DataArray, pwl_units: Any = None, seed: Any = None) -> tuple[Any, Any]:
    """(P, seed) with data: the given ones, or the largest P with usage and its first seed."""
    has = usage.notnull().any(("task", "region")) & (usage.fillna(0).sum(("task", "region")) > 0)
    if pwl_units is None:
        ok = has.any("seed").values
        if not ok.any():
            raise DataValidationError(
                "region_usage is empty (all NaN or 0); fix: rerun the multi-task analysis"
            )
        pwl_units = usage["pwl_units"].values[np.flatnonzero(ok)[-1]]
    if seed is None:
        ok = has.sel(pwl_units=pwl_units).values
        seed = usage["seed"].values[int(np.flatnonzero(ok)[0]) if ok.any() else 0]
    return pwl_units, seed
