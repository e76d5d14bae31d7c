"""Per-trial held-out task scores of a sweep cell: ``cells/<name>/task_scores.nc``.

For every held-out trial of a cell fitted to a *task* dataset it holds ``correct``: 1.0 when the
model's free-running output gets the trial right by the AL-RNN study's criterion
(:func:`~alrnn_neuro.simulate.tasks.metrics.trial_accuracy`: whole sequence for copy tasks,
the suite's angle criterion, regression within tolerance), else 0.0 (NaN: nothing scored), and
the trial's ``task`` where the dataset has several. These let
:mod:`alrnn_neuro.sweep.task_selection` compare P values with the trial as the unit, as
:mod:`alrnn_neuro.sweep.trial_scores` does for spike data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import read_netcdf, write_netcdf
from alrnn_neuro.errors import ConfigError, DataValidationError, RunDirError
from alrnn_neuro.simulate.tasks.metrics import trial_accuracy
from alrnn_neuro.sweep.grid import SweepGrid
from alrnn_neuro.sweep.layout import SWEEP_FILE, require_complete
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.api import load_run

__all__ = ["held_out_task_scores", "rescore_sweep", "sweep_task_scores", "write_task_scores"]

TASK_SCORES_FILE = "task_scores.nc"


def held_out_task_scores(prediction: np.ndarray, ds: xr.Dataset, test: np.ndarray) -> xr.Dataset:
    """Per-trial correctness of the held-out trials of a task dataset.

    Parameters
    ----------
    prediction : ndarray, shape (trial, time, output)
        Model outputs on the dataset's time axis, for every trial of ``ds``.
    ds : xr.Dataset
        The task dataset.
    test : ndarray of int
        Positions along ``trial`` of the held-out trials.

    Returns
    -------
    xr.Dataset
        dim ``trial`` (the held-out trial ids): ``correct`` (float: 1, 0, NaN unscored), and the
        ``task`` coord where ``ds`` has one.
    """
    test = np.asarray(test, dtype=np.int64)
    sub = ds.isel(trial=test)
    out = xr.Dataset(
        {"correct": ("trial", trial_accuracy(np.asarray(prediction)[test], sub))},
        coords={"trial": sub["trial"].values},
    )
    if "task" in sub.coords:
        out = out.assign_coords(task=("trial", sub["task"].values.astype(str)))
    return out


def write_task_scores(scores: xr.Dataset, run: Path, attrs: dict) -> Path:
    """Write ``scores`` (with provenance ``attrs``) to ``run/task_scores.nc`` atomically."""
    return write_netcdf(scores.assign_attrs(attrs), Path(run) / TASK_SCORES_FILE)


def sweep_task_scores(
    sweep_dir: str | os.PathLike,
    *,
    latent_dim: int | None = None,
    train_fraction: float | None = None,
) -> xr.DataArray:
    """Per-trial held-out correctness of every (P, model seed) of a task sweep's AL-RNN cells.

    Parameters
    ----------
    sweep_dir : str or PathLike
        Folder written by :func:`~alrnn_neuro.sweep.run_sweep` on a task dataset.
    latent_dim : int, optional
        M (default: the largest of the grid).
    train_fraction : float, optional
        Train fraction (default: the largest).

    Returns
    -------
    xr.DataArray
        ``correct`` (pwl_units, seed, trial): 1.0 / 0.0, NaN where a trial is not scored; the
        held-out trials of the sweep (every trial once with K folds). attrs: ``sweep``,
        ``latent_dim``, ``train_fraction``.

    Raises
    ------
    RunDirError
        No sweep, no AL-RNN cells, unfinished cells, cells without ``task_scores.nc``, or
        cells scored on other trials than the others.
    ConfigError
        A ``latent_dim`` / ``train_fraction`` the grid lacks.
    """
    root = Path(sweep_dir)
    grid = SweepGrid.from_dict(_sweep_record(root)["grid"])
    m = max(grid.latent_dims) if latent_dim is None else int(latent_dim)
    f = max(grid.train_fractions) if train_fraction is None else float(train_fraction)
    if m not in grid.latent_dims or f not in grid.train_fractions:
        raise ConfigError(
            f"latent_dim={m}, train_fraction={f:g} are not in the sweep (M "
            f"{list(grid.latent_dims)}, fractions {list(grid.train_fractions)}); fix: one of them"
        )
    parts: dict[tuple[int, int], list[xr.DataArray]] = {}
    for cell in alrnn_cells(root, grid, m, f):
        path = root / "cells" / cell.name / TASK_SCORES_FILE
        if not path.is_file():
            raise RunDirError(
                f"cell {cell.name} of {root} has no {TASK_SCORES_FILE} (not a task sweep, or one "
                "made before per-trial task scores); fix: sweep the task with this version, "
                "into a new --out"
            )
        parts.setdefault((cell.pwl_units, cell.seed), []).append(read_netcdf(path)["correct"])
    tables = {k: xr.concat(v, dim="trial").sortby("trial") for k, v in parts.items()}
    trials = next(iter(tables.values()))["trial"].values
    values = np.full((len(grid.pwl_units), len(grid.seeds), trials.size), np.nan)
    for (p, s), table in tables.items():
        if not np.array_equal(table["trial"].values, trials):
            raise RunDirError(
                f"sweep {root}: cell P={p}, seed={s} was scored on other held-out trials than "
                "the others; fix: rerun the sweep into a new --out"
            )
        values[grid.pwl_units.index(p), grid.seeds.index(s)] = table.values
    return xr.DataArray(
        values,
        dims=("pwl_units", "seed", "trial"),
        coords={"pwl_units": list(grid.pwl_units), "seed": list(grid.seeds), "trial": trials},
        name="correct",
        attrs={"sweep": str(root), "latent_dim": m, "train_fraction": f},
    )


def rescore_sweep(sweep_dir: str | os.PathLike, ds: xr.Dataset) -> xr.DataArray:
    """Per-trial correctness of a task sweep's fitted AL-RNN cells on *other* trials of the task.

    For the claims' power (:mod:`alrnn_neuro.reproduce.task_controls`): the same fitted
    networks scored on a fresh draw of the task, trials the fits never saw. Only the trials of
    ``ds`` whose ids are the sweep's held-out ids are scored, so the sample size is that of
    :func:`sweep_task_scores` (the sweep's M and train fraction: the largest).

    Parameters
    ----------
    sweep_dir : str or PathLike
        Folder written by :func:`~alrnn_neuro.sweep.run_sweep` on a task dataset (one split).
    ds : xr.Dataset
        A new draw of the same task (same inputs and outputs), e.g. another data seed.

    Returns
    -------
    xr.DataArray
        ``correct`` (pwl_units, seed, trial), as :func:`sweep_task_scores`.

    Raises
    ------
    RunDirError
        No sweep, K folds, no AL-RNN cells or unfinished cells.
    DataValidationError
        ``ds`` lacks the sweep's held-out trial ids.
    """
    root = Path(sweep_dir)
    record = _sweep_record(root)
    if "test_trials" not in record:
        raise RunDirError(f"sweep {root} has K folds; fix: rescore a sweep with one test split")
    grid = SweepGrid.from_dict(record["grid"])
    m, f = max(grid.latent_dims), max(grid.train_fractions)
    test = np.asarray(record["test_trials"])
    missing = np.setdiff1d(test, ds["trial"].values)
    if missing.size:
        raise DataValidationError(
            f"the dataset lacks {missing.size} held-out trial id(s) of the sweep (e.g. "
            f"{missing[0]}); fix: draw the task with at least as many trials as the sweep's"
        )
    sub = ds.sel(trial=test)
    values = np.full((len(grid.pwl_units), len(grid.seeds), test.size), np.nan)
    for cell in alrnn_cells(root, grid, m, f):
        prediction = load_run(root / "cells" / cell.name).encode(sub)["prediction"].values
        row, column = grid.pwl_units.index(cell.pwl_units), grid.seeds.index(cell.seed)
        values[row, column] = trial_accuracy(prediction, sub)
    return xr.DataArray(
        values,
        dims=("pwl_units", "seed", "trial"),
        coords={"pwl_units": list(grid.pwl_units), "seed": list(grid.seeds), "trial": test},
        name="correct",
        attrs={"sweep": str(root), "latent_dim": m, "train_fraction": f},
    )


def alrnn_cells(root: Path, grid: SweepGrid, latent_dim: int, train_fraction: float) -> list:
    """The AL-RNN cells of ``grid`` with this M and train fraction, all finished.

    Raises
    ------
    RunDirError
        If any of them is unfinished.
    """
    cells = [
        c
        for c in grid.cells()
        if (c.model, c.latent_dim, c.train_fraction) == ("alrnn", latent_dim, train_fraction)
    ]
    require_complete(root, [c.name for c in cells])
    return cells


def _sweep_record(root: Path) -> dict:
    if not (root / SWEEP_FILE).is_file():
        raise RunDirError(
            f"{str(root)!r} holds no {SWEEP_FILE}; fix: pass a folder written by "
            "`alrnn-neuro sweep TASK --out DIR`"
        )
    record = rd.read_json(root / SWEEP_FILE)
    if "alrnn" not in SweepGrid.from_dict(record["grid"]).models:
        raise RunDirError(f"sweep {root} has no AL-RNN cells; fix: sweep --model alrnn")
    return record
