"""``reproduce tasks``: sweeps over P on the classic tasks and the 11-task suite, calibrated claims.

Steps (see docs/reproduce.md):

1. for each classic task (addition, copy, variable-delay copy, contextual integration):
   generate it (seed ``--seed``) into ``tasks/<task>/sweep/dataset.h5`` and sweep P x seeds
   (:func:`alrnn_neuro.sweep.run_sweep`; per held-out trial correctness in each cell's
   ``task_scores.nc``), then its claim (:mod:`~alrnn_neuro.reproduce.task_claims`) and controls
   (:mod:`~alrnn_neuro.reproduce.task_controls`);
2. the multi-task suite (:func:`~alrnn_neuro.simulate.tasks.make_multitask`): the same into
   ``tasks/multitask/sweep``, then region usage per task for every cell and for the same
   networks untrained (:func:`alrnn_neuro.sweep.multitask.sweep_multitask`) into
   ``multitask/multitask.nc`` and ``multitask/multitask_untrained.nc``, with a summary
   ``multitask/multitask.json``; the sharing claim against the untrained null;
3. cost vs P (:mod:`~alrnn_neuro.reproduce.task_cost`): nonlinear operations per step,
   regions and measured training-step and fixed-point time of every task's model per P, into
   ``cost/cost.nc`` and ``cost/cost.png``;
4. the low-data comparison (:mod:`~alrnn_neuro.reproduce.task_baselines`): the classic tasks'
   sweeps also fit the setting's baselines (GRU, LSTM) and every network at each train
   fraction; held-out accuracy per fraction and network into ``baselines/baselines.nc`` and
   ``baselines/baselines.png``, and the ``low_data:TASK`` claim with its controls;
5. ``reproduce.json`` (claims with effect, CI, p, controls and false-positive rates, the
   criteria and their sha256) and ``report.html``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import save_dataset, write_netcdf
from alrnn_neuro.reproduce import common
from alrnn_neuro.reproduce import task_baselines as tb
from alrnn_neuro.reproduce import task_claims as tc
from alrnn_neuro.reproduce import task_controls as tctl
from alrnn_neuro.reproduce.claim_records import Claim
from alrnn_neuro.reproduce.criteria import criteria, criteria_sha256
from alrnn_neuro.reproduce.settings import TaskSettings, TaskSpec, task_settings
from alrnn_neuro.reproduce.task_cost import task_cost
from alrnn_neuro.reproduce.task_primitives import primitives_claim
from alrnn_neuro.simulate.tasks import make_task
from alrnn_neuro.sweep import SweepGrid
from alrnn_neuro.sweep.multitask import sweep_multitask
from alrnn_neuro.sweep.task_scores import sweep_task_scores
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
        Seed of the task generators and of the trial split (data seed of every fit), and of
        the claims' bootstraps and permutations.
    resume : bool
        Continue a reproduction with the same settings in ``out``.
    command : str
        The command line, recorded in ``reproduce.json``.
    progress : callable, optional
        Progress callback of every task's sweep (see :func:`~alrnn_neuro.sweep.run_sweep`).
    """
    started = time.perf_counter()
    s = task_settings(settings) if isinstance(settings, str) else settings
    identity = {
        "target": "tasks",
        "setting": s.name,
        "settings": s.to_dict(),
        "seed": seed,
        "criteria_sha256": criteria_sha256(),
    }
    root = common.prepare_out(out, identity, resume=resume)
    claims, configs, times, accuracy, tables = [], {}, {}, {}, {}
    specs = {**s.tasks, MULTITASK: s.multitask}
    with common.sweep_client(s.workers) as client:  # one cluster for the five sweeps
        for task, spec in specs.items():
            tick = time.perf_counter()
            base = _task_sweep(root, task, spec, s, seed, progress, client)
            configs[task] = base.to_dict()
            times[f"{task}_sweep"] = time.perf_counter() - tick
            tick = time.perf_counter()
            task_claims, accuracy[task], table = _task_claim(root, task, spec, s, base, seed)
            claims.extend(task_claims)
            if table is not None:
                tables[task] = table
            times[f"{task}_claims"] = time.perf_counter() - tick
    tick = time.perf_counter()
    claims.append(_sharing_claim(root, s, seed))
    times["multitask_sharing"] = time.perf_counter() - tick
    tick = time.perf_counter()
    cost = task_cost(root, specs, seed)
    times["cost_vs_p"] = time.perf_counter() - tick
    if tables:
        tb.write_comparison(tables, root / "baselines")
    record = {
        "command": command,
        "target": "tasks",
        "setting": s.name,
        "seconds": time.perf_counter() - started,
        "step_seconds": times,
        "criteria_sha256": criteria_sha256(),
        "criteria": criteria(),
        "controls_run": bool(s.control_seeds),
        "fit_config": configs,
        "grid": {t: _grid(sp, s, classic=t != MULTITASK).to_dict() for t, sp in specs.items()},
        "settings": s.to_dict(),
        "dataset": "generated: tasks/<task>/sweep/dataset.h5",
        "seed": seed,
        "held_out_accuracy": accuracy,
        "cost_vs_p": cost,
        "baseline_comparison": {t: tb.table_record(table) for t, table in tables.items()},
        "identity": identity,
        "claims": [c.to_dict() for c in claims],
    }
    common.write_record(root, record)
    common.write_report(root)
    return record


def _task_claim(root: Path, task: str, spec: TaskSpec, s: TaskSettings, base, seed: int):
    """The sparse-P, primitives and (classic tasks with baselines) low-data claims of one task
    with their controls (the primitive counts into ``tasks/<task>/primitives.nc``); the task's
    per-P held-out accuracy; its comparison table (:func:`~alrnn_neuro.reproduce.
    task_baselines.accuracy_table`) or None."""
    sweep_dir = root / "tasks" / task / "sweep"
    correct = sweep_task_scores(sweep_dir)
    selection = tc.task_selection(correct, seed=seed)
    ds = xr.open_dataset(sweep_dir / "dataset.h5", engine="h5netcdf")
    what = tc.accuracy_criterion(ds)
    ds.close()
    result = tc.sparse_suffices_result(selection, spec.latent_dim, what=what)
    make = partial(generate_task, task, spec)
    untrained = tctl.untrained_task_outcomes(make, base, spec.pwl_units, s.n_seeds, s.control_seeds)
    linear = tctl.linear_model_outcomes(correct, spec.latent_dim)
    redrawn = tctl.redrawn_task_outcomes(sweep_dir, make, spec.latent_dim, s.control_seeds, what)
    claim = Claim(
        name=tc.claim_name(task),
        text=tc.claim_text(task, spec.latent_dim),
        criterion=tc.TASK_CRITERION,
        result=result,
        controls={
            "untrained": tctl.control_entry(untrained),
            "linear_models": tctl.control_entry(linear),
        },
        power=tctl.power_entry(redrawn),
    )
    ps = [int(p) for p in selection["pwl_units"].values]
    primitives, counts = primitives_claim(
        sweep_dir,
        task,
        make,
        s.control_seeds,
        learned=tc.task_learned(selection),
        seed=seed,
        shuffled_seeds=s.shuffled_seeds,
    )
    write_netcdf(counts, sweep_dir.parent / "primitives.nc")
    per_p = dict(zip(ps, selection["accuracy"].values.tolist(), strict=True))
    if task == MULTITASK or not s.baselines:
        return [claim, primitives], per_p, None
    sparse_p = tb.sparse_choice(selection, spec.latent_dim)
    scores = tb.comparison_scores(sweep_dir)
    table = tb.accuracy_table(scores, n_boot=criteria()["low_data"]["n_boot"], seed=seed)
    table.attrs["sparse_pwl_units"] = -1 if sparse_p is None else sparse_p
    low_data = Claim(
        name=tb.claim_name(task),
        text=tb.claim_text(task),
        criterion=tb.LOW_DATA_CRITERION,
        result=tb.low_data_result(scores, sparse_p, seed=seed, what=what),
        controls={
            "untrained": tctl.control_entry(
                tb.untrained_outcomes(sweep_dir, make, base, sparse_p, s.control_seeds)
            )
        },
        power=tctl.power_entry(tb.redrawn_outcomes(sweep_dir, make, sparse_p, s.control_seeds)),
    )
    return [claim, primitives, low_data], per_p, table


def _sharing_claim(root: Path, s: TaskSettings, seed: int) -> Claim:
    """Region sharing of the suite against untrained networks of the same P; controls."""
    sweep_dir = root / "tasks" / MULTITASK / "sweep"
    data = sweep_dir / "dataset.h5"
    trained = sweep_multitask(sweep_dir, data)
    untrained = sweep_multitask(sweep_dir, data, untrained=True)
    test = tc.sharing_test(trained, untrained, seed=seed)
    write_multitask(trained, root / MULTITASK, untrained=untrained, test=test)
    make = partial(generate_task, MULTITASK, s.multitask)
    outcomes = tctl.untrained_sharing_outcomes(sweep_dir, make, s.control_seeds)
    redrawn = tctl.redrawn_sharing_outcomes(sweep_dir, make, s.control_seeds)
    return Claim(
        name=tc.SHARING,
        text=tc.SHARING_TEXT,
        criterion=tc.SHARING_CRITERION,
        result=tc.sharing_result(test, s.multitask.latent_dim),
        controls={"untrained": tctl.control_entry(outcomes)},
        power=tctl.power_entry(redrawn),
    )


def generate_task(task: str, spec: TaskSpec, seed: int) -> xr.Dataset:
    """Draw ``task`` (a classic task's name or ``"multitask"``) as the reproduction does.

    Parameters
    ----------
    task : str
        Key of ``TaskSettings.tasks``, or ``"multitask"`` for the suite.
    spec : TaskSpec
        Its settings (number of trials, generator parameters).
    seed : int
        Data seed (the reproduction's ``--seed``, or a control seed).
    """
    return make_task(task, n_trials=spec.n_trials, seed=seed, **spec.params)


def _grid(spec: TaskSpec, s: TaskSettings, *, classic: bool = True) -> SweepGrid:
    """The sweep of one task: P x seeds, and for classic tasks the setting's baselines and
    train fractions (the suite: AL-RNNs on all its training trials only)."""
    n_cells = len(spec.pwl_units) * s.n_seeds  # split the ensemble so every worker gets one
    members = s.max_members or max(1, -(-n_cells // max(s.workers, 1)))
    return SweepGrid(
        models=("alrnn", *(s.baselines if classic else ())),
        pwl_units=spec.pwl_units,
        seeds=tuple(range(s.n_seeds)),
        train_fractions=tuple(s.train_fractions) if classic else (1.0,),
        latent_dims=(spec.latent_dim,),
        max_members=members,
    )


def _task_sweep(
    root: Path, task: str, spec: TaskSpec, s: TaskSettings, seed: int, progress, client=None
):
    """Generate ``task`` into its sweep folder (once), sweep it on ``client``
    (:func:`~alrnn_neuro.reproduce.common.sweep_client`); return the base config."""

    out = root / "tasks" / task / "sweep"
    data = out / "dataset.h5"
    if not data.is_file():
        save_dataset(generate_task(task, spec, seed), data)
    base = FitConfig(
        latent_dim=spec.latent_dim,
        pwl_units=0,
        epochs=spec.epochs,
        patience=spec.patience,
        lr=spec.lr,
        batch_size=spec.batch_size,
        split=tuple(spec.split),
        seed=seed,
    ).replace(**spec.fit_options)
    logger.info("task %s: sweep P=%s", task, list(spec.pwl_units))
    grid = _grid(spec, s, classic=task != MULTITASK)
    common.sweep(data, grid, base, out, client, progress)
    return base


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


def write_multitask(
    mt: xr.Dataset,
    out_dir: str | os.PathLike,
    *,
    untrained: xr.Dataset | None = None,
    test: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``multitask.nc`` and ``multitask.json`` (the summary); return the summary.

    With ``untrained`` (the same measures for the networks at their initialisation) also
    ``multitask_untrained.nc``, its summary under ``untrained`` and the sharing test under
    ``sharing_test`` in the JSON.
    """

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize_multitask(mt)
    write_netcdf(mt, out / "multitask.nc")
    if untrained is not None:
        summary["untrained"] = summarize_multitask(untrained)
        write_netcdf(untrained, out / "multitask_untrained.nc")
    if test is not None:
        summary["sharing_test"] = test
    common.write_json(out / "multitask.json", summary)
    return summary
