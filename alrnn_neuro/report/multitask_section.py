"""Report section of the multi-task analysis (``multitask.nc``): region sharing vs P.

Contract of ``multitask.nc``: dims ``pwl_units``, ``seed``, ``task``, ``region``; variables
``region_usage`` (pwl_units, seed, task, region; fraction of valid steps), ``shared_index``
(pwl_units, seed; mean pairwise overlap of the tasks' usage distributions), ``usage_entropy``
(pwl_units, seed, task; bits), ``task_accuracy`` (pwl_units, seed, task) and optionally
``task_specificity`` (pwl_units, seed). Missing variables only drop their part.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import read_netcdf
from alrnn_neuro.plotting import sweep as plot
from alrnn_neuro.report.html import Section, esc, fmt, img_figure, note, table

#: (variable, column title) of the per-P table, averaged over tasks where the var has ``task``
COLUMNS = (
    ("shared_index", "shared index"),
    ("task_specificity", "task specificity"),
    ("usage_entropy", "usage entropy (bits, mean over tasks)"),
    ("task_accuracy", "task accuracy (mean over tasks)"),
    ("regions_used", "regions used"),
)


def _per_p_rows(mt: xr.Dataset) -> tuple[list[str], list[list]]:
    present = [(v, t) for v, t in COLUMNS if v in mt and "pwl_units" in mt[v].dims]
    headers = ["P", "seeds"] + [f"{t} (mean ± sem)" for _, t in present]
    rows = []
    for p in mt["pwl_units"].values:
        row: list = [str(p)]
        n = 0
        for var, _ in present:
            data = mt[var].sel(pwl_units=p)
            if "task" in data.dims:
                data = data.mean("task")
            data = data if "seed" in data.dims else data.expand_dims(seed=[0])
            mean, sem = plot.mean_sem(data)
            n = max(n, int(data.notnull().sum()))
            row.append(
                "-"
                if not np.isfinite(float(mean))
                else f"{fmt(float(mean))} ± {fmt(float(sem), 2)}"
            )
        rows.append([row[0], n, *row[1:]])
    return headers, rows


def multitask_section(path: Path) -> Section:
    """Shared index vs P, a task x region usage heatmap for one P, and a per-P table."""

    mt = read_netcdf(path)
    section = Section("multitask", "Multi-task region sharing")
    tasks = mt["task"].values if "task" in mt.coords else []
    section.add(
        note(
            f"From {path}: {len(tasks)} task(s) ({', '.join(map(str, tasks))}); shared index = "
            "mean "
            "pairwise overlap of the tasks' region-usage distributions (1 = all tasks use the same "
            "regions, 0 = each task its own)."
        )
    )
    missing = [
        v for v in ("region_usage", "shared_index", "usage_entropy", "task_accuracy") if v not in mt
    ]
    if missing:
        section.add(note(f"multitask.nc lacks {', '.join(missing)}; those parts are skipped."))
    if "shared_index" in mt and "pwl_units" in mt["shared_index"].dims:
        section.add("<h3>Shared index vs P</h3>")
        section.add(img_figure(plot.plot_shared_index(mt), "shared index vs P"))
    if "region_usage" in mt:
        usage = mt["region_usage"]
        if set(usage.dims) >= {"pwl_units", "seed", "task", "region"}:
            p, seed = plot.pick_model(usage.transpose("pwl_units", "seed", "task", "region"))
            section.add(f"<h3>Region usage per task (P = {esc(p)}, seed {esc(seed)})</h3>")
            fig = plot.plot_region_usage(mt, pwl_units=p, seed=seed)
            section.add(img_figure(fig, f"task x region usage, P = {p}, seed {seed}"))
    if "pwl_units" in mt.dims:
        headers, rows = _per_p_rows(mt)
        if len(headers) > 2:
            section.add("<h3>Per P</h3>")
            section.add(table(headers, rows))
    summary = path.with_suffix(".json")
    if summary.is_file():
        try:
            record = json.loads(summary.read_text())
        except ValueError:
            record = {}
        rho = record.get("spearman_shared_vs_p") if isinstance(record, dict) else None
        if isinstance(rho, dict):
            section.add(
                note(
                    f"Spearman correlation of shared index with P: rho = "
                    f"{fmt(rho.get('rho'))}, p = {fmt(rho.get('p_value'))}."
                )
            )
    return section
