"""Figure of what P costs: nonlinear operations and regions per P, measured step and analysis time.

Input: the Dataset of :func:`alrnn_neuro.analysis.cost.model_cost`, optionally stacked over a
``task`` dim (``reproduce tasks`` writes one per task into ``cost/cost.nc``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from alrnn_neuro.plotting.axes import figure_and_axes, require_variables

REQUIRED = ("nonlinear_ops_per_step", "n_regions", "step_ratio", "fixed_point_seconds")


def plot_cost_vs_p(cost: xr.Dataset, *, axes: Any = None) -> Figure:
    """Two panels against P: what P adds (nonlinear operations per step, linear regions) and
    what it costs here (training-step time relative to the smallest P, fixed-point search time).

    Parameters
    ----------
    cost : xr.Dataset
        Output of :func:`~alrnn_neuro.analysis.cost.model_cost`, dim ``pwl_units`` and
        optionally ``task`` (one line per task; NaN P of a task are skipped).
    axes : pair of Axes, optional
        The two panels to draw into instead of a new figure.

    Returns
    -------
    Figure

    Raises
    ------
    DataValidationError
        If ``cost`` lacks the variables of ``model_cost``.
    ConfigError
        If ``axes`` holds fewer than two panels.
    """
    require_variables(cost, REQUIRED, "cost", "pass the Dataset of analysis.cost.model_cost")
    fig, grid = figure_and_axes(axes, 1, 2, 10.0, 3.8)
    counts, timing = grid[0]
    stacked = cost if "task" in cost.dims else cost.expand_dims(task=[""])
    for k, task in enumerate(stacked["task"].values):
        row = stacked.sel(task=task)
        keep = np.isfinite(row["step_ratio"].values)
        p = row["pwl_units"].values[keep]
        colour = f"C{k % 10}"
        seconds = row["fixed_point_seconds"].values[keep]
        timing.plot(
            p,
            row["step_ratio"].values[keep],
            "-o",
            ms=3,
            color=colour,
            label=f"{task}: training step" if task else "training step",
        )
        timing.plot(
            p,
            seconds / np.nanmin(seconds),
            "--s",
            ms=3,
            color=colour,
            label=f"{task}: fixed points" if task else "fixed points of all regions",
        )
    measured = stacked["step_ratio"].notnull().any("task")  # P measured for some task
    every_p = stacked["pwl_units"].values[measured.values]
    counts.plot(every_p, 2.0**every_p, "-o", ms=3, color="C0", label="linear regions 2^P")
    counts.plot(
        every_p, every_p, ":s", ms=3, color="0.3", label="nonlinear operations per step = P"
    )
    counts.set_yscale("symlog", base=2, linthresh=1)
    counts.set_xlabel("PWL units P")
    counts.set_ylabel("count")
    counts.set_title("what P adds", fontsize=10)
    timing.set_yscale("log")
    timing.axhline(1.0, color="0.6", lw=0.8)
    timing.set_xlabel("PWL units P")
    timing.set_ylabel("time relative to the smallest P")
    clock = cost.attrs.get("clock", "cpu")
    timing.set_title(f"what it costs here ({clock} time, median of rounds)", fontsize=10)
    counts.legend(fontsize=7, loc="upper left")
    timing.legend(
        fontsize=6,
        loc="upper left",
        ncol=2 if stacked.sizes["task"] > 2 else 1,
        title="solid: training step, dashed: fixed points",
        title_fontsize=6,
    )
    fig.suptitle("cost of nonlinearity vs P", fontsize=10)
    return fig
