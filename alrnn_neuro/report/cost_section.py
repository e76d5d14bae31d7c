"""Report section of cost vs P (``cost/cost.nc`` of ``reproduce tasks``).

Contract of ``cost.nc``: dims ``task`` (optional) and ``pwl_units``; variables of
:func:`alrnn_neuro.analysis.cost.model_cost` (``nonlinear_ops_per_step``, ``n_regions``,
``step_seconds``, ``step_ratio``, ``fixed_point_seconds``) and ``latent_dim`` per task.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alrnn_neuro.data.h5 import read_netcdf
from alrnn_neuro.plotting.cost import plot_cost_vs_p
from alrnn_neuro.report.html import Section, fmt, img_figure, note, table


def cost_section(path: Path) -> Section:
    """The cost figure and one table row per task and P."""
    cost = read_netcdf(path)
    section = Section("cost", "Cost of nonlinearity vs P")
    clock = cost.attrs.get("clock", "cpu")
    section.add(
        note(
            f"From {path}: nonlinear operations per step (= P) and linear regions (2^P) are "
            f"exact; times are measured on this machine ({clock} time, median of "
            f"{cost.attrs.get('repeats', '?')} interleaved rounds, "
            f"{cost.attrs.get('torch_threads', '?')} torch thread(s)) and comparable only "
            "between the P of one task."
        )
    )
    section.add(img_figure(plot_cost_vs_p(cost), "cost vs P"))
    stacked = cost if "task" in cost.dims else cost.expand_dims(task=[""])
    rows = []
    for task in stacked["task"].values:
        per_task = stacked.sel(task=task)
        for p in per_task["pwl_units"].values:
            row = per_task.sel(pwl_units=p)
            if not np.isfinite(float(row["step_ratio"])):
                continue
            rows.append(
                [
                    str(task),
                    int(p),
                    int(row["n_regions"]),
                    fmt(1e3 * float(row["step_seconds"])),
                    fmt(float(row["step_ratio"])),
                    fmt(1e3 * float(row["fixed_point_seconds"])),
                ]
            )
    headers = [
        "task",
        "P (nonlinear ops / step)",
        "regions",
        "training step (ms)",
        "step / smallest P",
        "fixed points of all regions (ms)",
    ]
    section.add(table(headers, rows))
    return section
