"""Run a sweep: one run directory per grid cell, locally or on a dask cluster, resumably.

Layout of ``out``::

    sweep.json          grid, base config, dataset fingerprint and file path (and task name),
                        the split seed and the held-out trials (``test_trials``, or
                        ``fold_test_trials``)
    dataset.h5          only for ``alrnn-neuro sweep TASK``: the generated task dataset
    cells/<cell-name>/  an ordinary run directory (``load_run`` reads it) + ``sweep_cell.json``
                        (test metrics, fit time, ``primitives_found``, ``regions_used``) +
                        ``trial_scores.nc`` (Poisson data: per held-out trial log-likelihoods, see
                        :mod:`alrnn_neuro.sweep.trial_scores`) or ``task_scores.nc`` (task
                        data: per held-out trial correctness, :mod:`alrnn_neuro.sweep.task_scores`)
    results.nc          the collected metrics (see :mod:`alrnn_neuro.sweep.results`)

Train fraction and test trials
------------------------------
The sweep holds trials out once (:mod:`alrnn_neuro.sweep.folds`, stratified by the base
config's conditions, seeded by the *split seed*): with ``folds=1`` one test split
(``base_config.split``) common to every cell; with ``folds=K`` K folds, each cell fitted once per
fold and scored on that fold's trials, so every trial is held out exactly once. Held-out trials
never reach a fit. A cell with train fraction f fits a seeded share f of the other trials of its
fold (train + validation); the shares are nested (a smaller fraction's trials are a subset of a
larger one's). The fit splits them into train/validation in the base ratio, and the sweep then
scores the model on the held-out trials (``sweep_cell.json``), with the PSTH baseline of
``bits_per_spike`` taken from all trials that are not held out. FitConfig has no field for this,
so the sweep subsets the dataset itself.

Seeds
-----
The split seed (``split_seed``, default ``base_config.split_seed``) draws the held-out
trials; it is the same for every model seed. AL-RNN cells sharing M, train fraction and fold
are trained together by :func:`~alrnn_neuro.training.fit_ensemble`: member seed =
initialisation seed, batch order = ``base_config.seed``, train/val split =
``base_config.split_seed``, so the model seeds of a sweep differ only in their
initialisation. Baselines use
:func:`~alrnn_neuro.training.fit` with ``seed`` = the cell's seed (initialisation and batch
order) and the same split seed.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.schema import TASK_LOSSES, observation_variable
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.sweep.cell_primitives import count_primitives
from alrnn_neuro.sweep.cluster import close, connect, local_workers, quiet_after_interrupt
from alrnn_neuro.sweep.grid import Cell, SweepGrid, group_cells
from alrnn_neuro.sweep.group_fit import check_group_split, group_config
from alrnn_neuro.sweep.layout import (
    CELL_FILE,
    cell_complete,
    finished_cells,
)
from alrnn_neuro.sweep.memory import ensemble_size, member_bytes
from alrnn_neuro.sweep.results import collect_results, regions_used
from alrnn_neuro.sweep.sweep_record import prepare_sweep_dir
from alrnn_neuro.sweep.task_scores import held_out_task_scores, write_task_scores
from alrnn_neuro.sweep.trial_scores import held_out_trial_scores, write_trial_scores
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.ensemble import fit_ensemble, member_dir_name
from alrnn_neuro.training.evaluate import compute_metrics, predict_all
from alrnn_neuro.training.session import prepare_session
from alrnn_neuro.training.threads import torch_threads

logger = logging.getLogger(__name__)

#: a generated task dataset in the sweep folder (``alrnn-neuro sweep TASK``)
EXECUTORS = ("local", "dask")
#: ``run_sweep(progress=...)``: called with the progress dict (see :func:`run_sweep`)
ProgressCallback = Callable[[dict[str, Any]], None]


@quiet_after_interrupt()
def run_sweep(
    ds_or_path: xr.Dataset | str | os.PathLike,
    grid: SweepGrid,
    base_config: FitConfig | None = None,
    *,
    out: str | os.PathLike,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = True,
    retries: int = 2,
    task_hook: Callable[[tuple[Cell, ...]], None] | None = None,
    dashboard: bool = False,
    folds: int | None = None,
    split_seed: int | None = None,
    progress: ProgressCallback | None = None,
    client: Any = None,
) -> xr.Dataset:
    """Fit every cell of ``grid`` and collect the metrics into ``out/results.nc``.

    Parameters
    ----------
    ds_or_path : xr.Dataset or path
        Canonical dataset, or a dataset.h5 path (dask workers then read the file themselves,
        so it must be visible to them).
    grid : SweepGrid
        Models, P values, seeds, train fractions, M values and folds.
    base_config : FitConfig, optional
        Settings shared by all cells (epochs, lr, ...); its ``model``, ``latent_dim`` and
        ``pwl_units`` are set per cell, its ``seed`` is the data seed (train/val split and
        batch order of the ensembles); ``split`` must have three fractions (train, val, test);
        with folds, only the train/val ratio is used.
    out : str or PathLike
        Sweep folder.
    executor : {"local", "dask"}
        Run groups one after another here, or one dask task per group.
    scheduler : str, optional
        Address of a running dask scheduler (e.g. ``tls://10.0.0.5:8786``); default: start a
        ``LocalCluster`` of ``workers`` single-threaded processes, on 127.0.0.1 with mutual
        TLS from temporary credentials and no HTTP server (see
        :mod:`alrnn_neuro.sweep.cluster`).
    workers : int, optional
        Worker processes of that LocalCluster (default: the CPU cores divided by
        ``base_config.threads``; a larger request is capped there, so that workers x torch
        threads never oversubscribe the cores, see
        :func:`~alrnn_neuro.sweep.cluster.local_workers`).
    resume : bool
        Reuse an existing sweep in ``out``: finished cells are skipped, missing ones fitted.
        The grid may differ (cells are named by their settings); base config and data may not.
    retries : int
        Dask retries of a failed task (a killed worker's task is rescheduled by dask itself).
    task_hook : callable, optional
        Called with the group's cells at the start of every task (logging, fault injection).
    dashboard : bool
        Serve dask's dashboard (local cluster, on 127.0.0.1); off by default.
    folds : int, optional
        K >= 2: K-fold cross-validation over trials (every trial held out exactly once);
        1: one common test split. Default: ``grid.folds`` (this argument replaces it).
    split_seed : int, optional
        Seed of the held-out trials (test split or fold assignment), independent of the model
        seeds; default ``base_config.split_seed``.
    progress : callable, optional
        Called once every group's settings are checked (before the first fit) and after
        every finished group with a dict: ``sweep``
        (the folder), ``done`` and ``total`` (cells of the grid, finished ones included),
        ``cells`` (names just finished) and ``dashboard`` (the dask dashboard's address, or
        None); :class:`~alrnn_neuro.training.progress.CellProgress` shows it.
    client : dask.distributed.Client, optional
        A connected client to run the groups on (``executor="dask"``, no ``scheduler``),
        e.g. of one local cluster kept for several sweeps
        (:func:`~alrnn_neuro.sweep.cluster.connect`): starting and closing a local cluster
        takes about 6 s. The caller closes it; on an error its tasks may still be running, so
        ``out/staging`` is left as with an external scheduler.

    Returns
    -------
    xr.Dataset
        The collected results (see :func:`~alrnn_neuro.sweep.results.collect_results`).

    Raises
    ------
    ConfigError
        Unknown executor, an unreachable scheduler, a two-way split, too few trials, a bad
        number of folds or split seed.
    RunDirError
        ``out`` holds another sweep (other base config, data or held-out trials), or any sweep
        without resume.
    """

    base = FitConfig() if base_config is None else base_config
    if folds is not None:
        grid = dataclasses.replace(grid, folds=folds)
    split_seed = base.split_seed if split_seed is None else split_seed
    check_sweep_args(
        base, executor=executor, scheduler=scheduler, workers=workers, split_seed=split_seed
    )
    if client is not None and (executor != "dask" or scheduler is not None):
        raise ConfigError(
            f"client= runs on dask: executor={executor!r}, scheduler={scheduler!r}; fix: pass "
            "executor='dask' and no scheduler with a client"
        )
    ds = _load(ds_or_path)
    source = ds if isinstance(ds_or_path, xr.Dataset) else str(ds_or_path)
    given, cluster = client, None
    if executor == "dask" and given is None:
        if scheduler is None:
            workers = local_workers(workers, base.threads)
        client, cluster = connect(scheduler, workers, dashboard=dashboard)
    root = Path(out)
    created = not root.exists()
    try:
        root = Path(out)
        path = None if isinstance(source, xr.Dataset) else str(Path(source).resolve())
        held_out = prepare_sweep_dir(root, ds, grid, base, resume, split_seed, path)
        todo = [c for c in grid.cells() if not cell_complete(root / "cells" / c.name)]
        logger.info("%d of %d cells to fit", len(todo), len(grid.cells()))
        report = _reporter(progress, root, len(grid.cells()) - len(todo), len(grid.cells()))
        tasks = []
        sizes = _ensemble_sizes(ds, grid, base, workers=_n_workers(client))
        for group in group_cells(todo, sizes):
            first = group[0]
            test_ids = held_out[first.fold or 0]
            pool = np.setdiff1d(ds["trial"].values, test_ids)
            keep = _keep_ids(pool, first.train_fraction, base.split_seed)
            config = group_config(base, first.model, first.latent_dim)
            check_group_split(ds, keep, config, first.train_fraction)  # before any fit
            tasks.append((source, keep, test_ids, group, base.to_dict(), str(root), task_hook))
        report([], getattr(client, "dashboard_link", None) if dashboard else None)  # checked
        if client is None:
            for task in tasks:
                report(run_group(*task))
        else:
            _run_dask(client, tasks, retries, report)
        shutil.rmtree(root / "staging", ignore_errors=True)
    except BaseException:
        if given is None:
            close(client, cluster, quiet=True)
        if client is None or cluster is not None:  # all fits were ours and have stopped
            shutil.rmtree(root / "staging", ignore_errors=True)
            if created and not finished_cells(root):  # e.g. a full disk at sweep.json
                shutil.rmtree(root, ignore_errors=True)
        raise
    if given is None:
        close(client, cluster)
    return collect_results(root)


def _ensemble_sizes(ds: xr.Dataset, grid: SweepGrid, base: FitConfig, workers: int):
    """Members per ensemble for each M: the grid's ``max_members``, capped by memory."""
    n_out = int(ds[observation_variable(ds)].shape[-1])
    return {
        m: ensemble_size(
            grid.max_members,
            member_bytes(
                n_time=int(ds.sizes["time"]),
                n_units=n_out,
                latent_dim=m,
                batch_size=base.batch_size,
            ),
            workers=workers,
        )
        for m in grid.latent_dims
    }


def _n_workers(client: Any) -> int:
    """Worker processes that train at once (1 for the local executor)."""
    if client is None:
        return 1
    return max(1, len(client.scheduler_info().get("workers", {})))


def check_sweep_args(
    base: FitConfig,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    split_seed: int = 0,
) -> None:
    """Raise :class:`ConfigError` for settings :func:`run_sweep` cannot use (before any work)."""
    if executor not in EXECUTORS:
        raise ConfigError(f"executor={executor!r} is unknown; fix: use one of {EXECUTORS}")
    if scheduler is not None and executor != "dask":
        raise ConfigError(f"scheduler={scheduler!r} needs executor='dask'; fix: --executor dask")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ConfigError(f"workers={workers!r} is invalid; fix: use a positive integer")
    if workers is not None and executor != "dask":
        raise ConfigError(
            f"workers={workers} sets the processes of a local dask cluster and needs "
            "executor='dask' (the local executor fits one cell group after another); fix: "
            "--executor dask, or leave --workers out"
        )
    if (
        isinstance(split_seed, bool)
        or not isinstance(split_seed, numbers.Integral)
        or split_seed < 0
    ):
        raise ConfigError(f"split_seed={split_seed!r} is invalid; fix: use an integer >= 0")
    if len(base.split) != 3:
        raise ConfigError(
            f"split={list(base.split)}: a sweep scores every cell on common test trials; fix: "
            "give three fractions (train, val, test), e.g. 0.7,0.15,0.15"
        )


def run_group(
    source: xr.Dataset | str,
    keep: np.ndarray,
    test_ids: np.ndarray,
    cells: Sequence[Cell],
    base: dict[str, Any],
    out: str,
    hook: Callable[[tuple[Cell, ...]], None] | None = None,
) -> list[str]:
    """Fit one group (an AL-RNN ensemble or one baseline) and move its run dirs into place.

    Every run is trained in ``out/staging/<random>/`` and renamed to ``out/cells/<name>`` only
    when finished and scored, so a killed task leaves no half-written cell.

    Returns
    -------
    list of str
        The names of the cells written.
    """
    # in this (maybe worker) process: the fit's threads for the scoring after the fit too
    with torch_threads(int(base.get("threads", 1))):
        return _run_group(source, keep, test_ids, cells, base, out, hook)


def _run_group(source, keep, test_ids, cells, base, out, hook) -> list[str]:
    if hook is not None:
        hook(tuple(cells))
    ds = _load(source)
    sub = ds.sel(trial=np.asarray(keep))
    first = cells[0]
    config = group_config(FitConfig.from_dict(base), first.model, first.latent_dim)
    staging = Path(out) / "staging" / uuid.uuid4().hex
    started = time.perf_counter()
    try:
        if first.model == "alrnn":
            results = fit_ensemble(
                sub,
                config,
                pwl_units=[c.pwl_units for c in cells],
                seeds=[c.seed for c in cells],
                out=staging,
            )
            dirs = [staging / member_dir_name(c.pwl_units, c.seed) for c in cells]
        else:
            # staging is discarded on any interruption: one checkpoint, after the last epoch
            run = staging / first.name
            results = [fit(sub, config.replace(seed=first.seed), out=run, checkpoints="end")]
            dirs = [run]
    except BaseException:  # Ctrl-C or a failed fit: no half-trained run stays behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds = (time.perf_counter() - started) / len(cells)
    for cell, result, run in zip(cells, results, dirs, strict=True):
        test, scores = _score_test(ds, result, test_ids)
        provenance = {"cell": cell.name, "fold": _fold_attr(cell)}
        if scores is not None and "correct" in scores:
            write_task_scores(scores, run, provenance)
        elif scores is not None:
            write_trial_scores(scores, run, provenance)
        record = {
            "cell": cell.name,
            "fit_seconds": seconds,
            "n_members": len(cells),
            "test": test,
            "fold": cell.fold,
            "primitives_found": count_primitives(result, sub),
            "regions_used": regions_used(result.latents),
        }
        rd.write_json(run / CELL_FILE, record)
        final = Path(out) / "cells" / cell.name
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # an incomplete leftover (complete cells are never refitted)
            shutil.rmtree(final)
        os.replace(run, final)
    shutil.rmtree(staging, ignore_errors=True)
    return [c.name for c in cells]


def _fold_attr(cell: Cell) -> int:
    """The cell's fold as a netCDF attribute (-1: one common test split)."""
    return -1 if cell.fold is None else int(cell.fold)


def _score_test(
    ds: xr.Dataset, result: Any, test_ids: np.ndarray
) -> tuple[dict[str, Any], xr.Dataset | None]:
    """Metrics of a fitted model on its held-out trials, and per-trial scores: Poisson
    log-likelihoods (:mod:`~alrnn_neuro.sweep.trial_scores`) or, for task data, correctness
    (:mod:`~alrnn_neuro.sweep.task_scores`); None for other data.

    The PSTH baseline of ``bits_per_spike`` is computed from all trials not held out, the same
    for every cell of a fold, so scores compare across train fractions.
    """

    pool = np.setdiff1d(ds["trial"].values, test_ids)
    split = {"train": pool, "val": result.split["val"], "test": test_ids}
    session = prepare_session(ds, result.config, split=split)
    predicted = predict_all(result.model, session.tensors)
    metrics = compute_metrics(result.model, ds, session.tensors, predicted, session.positions)
    scores = None
    if result.model.config.obs == "poisson":
        test, train = session.positions["test"], session.positions["train"]
        config = result.model.config
        prediction = predicted["prediction"]  # left-justified, as the tensors
        scores = held_out_trial_scores(config, ds, session.tensors, prediction, test, train)
    elif result.model.config.obs in TASK_LOSSES:
        outputs = session.tensors.restore_time(predicted["prediction"], ds.sizes["time"], 0.0)
        scores = held_out_task_scores(outputs, ds, session.positions["test"])
    return metrics["test"], scores


def _load(source: xr.Dataset | str | os.PathLike) -> xr.Dataset:
    if isinstance(source, xr.Dataset):
        return source

    return load_dataset(source)


def _keep_ids(pool: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded, nested share ``fraction`` of the trial ids ``pool`` (sorted)."""
    order = np.random.default_rng(seed).permutation(pool)
    return np.sort(order[: max(2, round(fraction * pool.size))])


def _reporter(
    progress: ProgressCallback | None, root: Path, done: int, total: int
) -> Callable[..., None]:
    """``report(cells, dashboard=None)``: count finished cells and call ``progress``."""
    state = {"done": done}

    def report(cells: Sequence[str], dashboard: str | None = None) -> None:
        state["done"] += len(cells)
        if progress is not None:
            event = {"sweep": str(root), "done": state["done"], "total": total}
            progress({**event, "cells": list(cells), "dashboard": dashboard})

    return report


def _run_dask(client: Any, tasks: list[tuple], retries: int, report: Callable[..., None]) -> None:
    from dask.distributed import as_completed

    futures = [client.submit(run_group, *task, retries=retries, pure=False) for task in tasks]
    for future in as_completed(futures):
        names = future.result()
        logger.info("finished %s", ", ".join(names))
        report(names)
