"""Report section of the low-data comparison (``baselines/baselines.nc`` of ``reproduce tasks``).

Contract of ``baselines.nc``: see :func:`alrnn_neuro.reproduce.task_baselines.write_comparison`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alrnn_neuro.data.h5 import read_netcdf
from alrnn_neuro.plotting.baselines import compared_models, plot_low_data
from alrnn_neuro.report.html import Section, fmt, img_figure, note, table


def baseline_section(path: Path) -> Section:
    """The comparison figure and one table row per task, network and train fraction."""
    data = read_netcdf(path)
    section = Section("baselines", "Sparse P vs fully nonlinear networks")
    section.add(
        note(
            f"From {path}: held-out accuracy by the study's criterion of P = 0, each task's "
            "sparse P (its minimal sufficient P with all training trials), P = M and the "
            "baselines, at every train fraction; model seeds averaged per trial, 95 % CI a "
            f"bootstrap over {int(data['n_trials'].max())} held-out trials. The claim "
            "low_data:TASK above judges the smallest fraction."
        )
    )
    section.add(img_figure(plot_low_data(data), "accuracy vs train fraction"))
    rows = []
    for task in data["task"].values:
        for label, role in compared_models(data, str(task)):
            cells = [str(task), f"{label} ({role})"]
            for f in data["train_fraction"].values:
                value = data.sel(task=task, model=label, train_fraction=f)
                accuracy = float(value["accuracy"])
                low, high = (float(v) for v in value["accuracy_ci"].values)
                if np.isfinite(accuracy):
                    cells.append(f"{fmt(accuracy)} [{fmt(low)}, {fmt(high)}]")
                else:
                    cells.append("–")
            rows.append(cells)
    fractions = [f"train fraction {f:g}" for f in data["train_fraction"].values]
    section.add(table(["task", "network", *fractions], rows))
    return section
