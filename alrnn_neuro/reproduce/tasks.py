"""``reproduce tasks``: sweeps over P on the classic tasks and the 11-task suite.

Steps (see docs/reproduce.md):

1. for each classic task (addition, copy, variable-delay copy, contextual integration):
   generate it (seed ``--seed``) into ``tasks/<task>/sweep/dataset.h5`` and sweep P x seeds
   (:func:`alrnn_neuro.sweep.run_sweep`, test accuracy on common held-out trials);
2. the multi-task suite (:func:`~alrnn_neuro.simulate.tasks.make_multitask`): the same into
   ``tasks/multitask/sweep``, then region usage per task for every cell
   (:func:`alrnn_neuro.sweep.multitask.sweep_multitask`) into ``multitask/multitask.nc``
   with a summary ``multitask/multitask.json``;
3. the claims (minimal sufficient P per task; shared index vs P), ``reproduce.json``,
   ``report.html``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import save_dataset, write_netcdf
from alrnn_neuro.reproduce import common
from alrnn_neuro.reproduce import task_claims as cl
from alrnn_neuro.reproduce.settings import TaskSettings, TaskSpec, task_settings
from alrnn_neuro.simulate.tasks import make_multitask, make_task
from alrnn_neuro.sweep import SweepGrid
from alrnn_neuro.sweep.multitask import sweep_multitask
from alrnn_neuro.training.config import FitConfig

logger = logging.getLogger(__name__)

MULTITASK = "multitask"


def reproduce_tasks(
    out: str | os.PathLike,
    *,
    settings: TaskSettings | str = "quick",
    seed: int = 2014,
    resume: bool = False,
    command: str = "",
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the task reproduction into ``out`` and return the ``reproduce.json`` record.

    Parameters
    ----------
    out : str or PathLike
        Output folder.
    settings : TaskSettings or str
        ``quick``, ``full``, ``tiny`` or a custom :class:`TaskSettings`.
    seed : int
        Seed of the task generators and of the trial split (data seed of every fit).
    resume : bool
        Continue a reproduction with the same settings in ``out``.
    command : str
        The command line, recorded in ``reproduce.json``.
    progress : callable, optional
        Progress callback of every task's sweep (see :func:`~alrnn_neuro.sweep.run_sweep`).
    """
    started = time.perf_counter()
    s = task_settings(settings) if isinstance(settings, str) else settings
    identity = {"target": "tasks", "setting": s.name, "settings": s.to_dict(), "seed": seed}
    root = common.prepare_out(out, identity, resume=resume)
    claims, configs, times = [], {}, {}
    for task, spec in s.tasks.items():
        tick = time.perf_counter()
        results, base = _task_sweep(root, task, spec, s, seed, progress)
        claims.append(cl.task_claim(task, results, spec.latent_dim))
        configs[task] = base.to_dict()
        times[task] = time.perf_counter() - tick
    tick = time.perf_counter()
    results, base = _task_sweep(root, MULTITASK, s.multitask, s, seed, progress)
    configs[MULTITASK] = base.to_dict()

    sweep_dir = root / "tasks" / MULTITASK / "sweep"
    mt = sweep_multitask(sweep_dir, sweep_dir / "dataset.h5")
    summary = write_multitask(mt, root / MULTITASK)
    claims.append(cl.task_claim(MULTITASK, results, s.multitask.latent_dim))
    claims += cl.multitask_claims(summary, s.multitask.latent_dim)
    times[MULTITASK] = time.perf_counter() - tick
    specs = {**s.tasks, MULTITASK: s.multitask}
    record = {
        "command": command,
        "target": "tasks",
        "setting": s.name,
        "seconds": time.perf_counter() - started,
        "step_seconds": times,
        "fit_config": configs,
        "grid": {t: _grid(sp, s).to_dict() for t, sp in specs.items()},
        "settings": s.to_dict(),
        "dataset": "generated: tasks/<task>/sweep/dataset.h5",
        "seed": seed,
        "identity": identity,
        "claims": claims,
    }
    common.write_record(root, record)
    common.write_report(root)
    return record


def _grid(spec: TaskSpec, s: TaskSettings):

    n_cells = len(spec.pwl_units) * s.n_seeds  # split the ensemble so every worker gets one
    return SweepGrid(
        models=("alrnn",),
        pwl_units=spec.pwl_units,
        seeds=tuple(range(s.n_seeds)),
        latent_dims=(spec.latent_dim,),
        max_members=max(1, -(-n_cells // max(s.workers, 1))),
    )


def _task_sweep(root: Path, task: str, spec: TaskSpec, s: TaskSettings, seed: int, progress):
    """Generate ``task`` into its sweep folder (once) and sweep it."""

    out = root / "tasks" / task / "sweep"
    data = out / "dataset.h5"
    if not data.is_file():
        if task == MULTITASK:
            ds = make_multitask(spec.n_trials, seed=seed, **spec.params)
        else:
            ds = make_task(task, n_trials=spec.n_trials, seed=seed, **spec.params)
        save_dataset(ds, data)
    base = FitConfig(
        latent_dim=spec.latent_dim,
        pwl_units=0,
        epochs=spec.epochs,
        patience=spec.patience,
        lr=spec.lr,
        batch_size=spec.batch_size,
        seed=seed,
    )
    logger.info("task %s: sweep P=%s", task, list(spec.pwl_units))
    return common.sweep(data, _grid(spec, s), base, out, s.workers, progress), base


def summarize_multitask(mt: xr.Dataset) -> dict[str, Any]:
    """Mean ± sem over seeds per P, and the trend of the shared index with P (P > 0).

    Parameters
    ----------
    mt : xr.Dataset
        Output of :func:`~alrnn_neuro.sweep.multitask.sweep_multitask`.

    Returns
    -------
    dict
        ``by_pwl_units``: one record per P with ``shared_index``, ``task_specificity``,
        ``usage_entropy`` (mean over tasks), ``task_accuracy`` (mean over tasks) as
        ``[mean, sem]`` and ``n_seeds``; ``spearman_shared_vs_p``: Spearman ``rho``,
        ``p_value`` and ``n_cells`` of the cells' shared index vs P over P > 0 (P = 0 has one
        region, shared trivially); ``rho`` is None with fewer than two such P values.
    """
    from scipy.stats import spearmanr

    per_cell = {
        "shared_index": mt["shared_index"],
        "task_specificity": mt["task_specificity"],
        "usage_entropy": mt["usage_entropy"].mean("task"),
        "task_accuracy": mt["task_accuracy"].mean("task"),
    }
    records = []
    for p in mt["pwl_units"].values:
        rec: dict[str, Any] = {"pwl_units": int(p)}
        for name, values in per_cell.items():
            v = values.sel(pwl_units=p).values
            v = v[np.isfinite(v)]
            sem = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
            rec[name] = [float(v.mean()), sem] if v.size else [None, None]
        rec["n_seeds"] = int(np.isfinite(mt["shared_index"].sel(pwl_units=p).values).sum())
        records.append(rec)
    cells = mt["shared_index"].where(mt["pwl_units"] > 0).stack(cell=("pwl_units", "seed"))
    ok = np.isfinite(cells.values)
    ps, values = cells["pwl_units"].values[ok], cells.values[ok]
    trend: dict[str, Any] = {"rho": None, "p_value": None, "n_cells": int(ok.sum())}
    if np.unique(ps).size > 1 and np.unique(values).size > 1:
        res = spearmanr(ps, values)
        trend.update(rho=float(res.statistic), p_value=float(res.pvalue))
    return {
        "by_pwl_units": records,
        "spearman_shared_vs_p": trend,
        "train_fraction": mt.attrs.get("train_fraction"),
        "latent_dim": mt.attrs.get("latent_dim"),
    }


def write_multitask(mt: xr.Dataset, out_dir: str | os.PathLike) -> dict[str, Any]:
    """Write ``multitask.nc`` and ``multitask.json`` (the summary); return the summary."""

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize_multitask(mt)
    write_netcdf(mt, out / "multitask.nc")
    common.write_json(out / "multitask.json", summary)
    return summary
