"""Collect a sweep's cells into one labelled table, and summarise it over seeds."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import write_netcdf
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.sweep.grid import Cell, SweepGrid
from alrnn_neuro.sweep.layout import CELL_FILE, RESULTS_FILE, SWEEP_FILE, cell_complete
from alrnn_neuro.training import rundir as rd

logger = logging.getLogger(__name__)

DIMS = ("model", "pwl_units", "seed", "train_fraction", "latent_dim")
VARIABLES = (
    "test_bits_per_spike",
    "test_accuracy",
    "test_loss",
    "val_loss",
    "regions_used",
    "primitives_found",
    "fit_seconds",
)
#: metrics where higher is better (the others are losses)
HIGHER_IS_BETTER = ("test_bits_per_spike", "test_accuracy")
#: the metric a sweep is scored by, from its fits' observation model (``sweep.json`` base
#: config): Poisson fits give bits/spike, task readouts accuracy, other fits the test loss
METRIC_OF_OBS = {
    "poisson": "test_bits_per_spike",
    "mse": "test_accuracy",
    "cross_entropy": "test_accuracy",
    "gaussian": "test_loss",
    "identity": "test_loss",
}


def collect_results(out: str | os.PathLike, *, write: bool = True) -> xr.Dataset:
    """Read every cell of the sweep in ``out`` into one dataset (and ``out/results.nc``).

    Parameters
    ----------
    out : str or PathLike
        Sweep folder written by :func:`~alrnn_neuro.sweep.run_sweep`.
    write : bool
        Also save the result to ``out/results.nc``.

    Returns
    -------
    xr.Dataset
        dims (model, pwl_units, seed, train_fraction[, latent_dim]; ``latent_dim`` is a scalar
        coord when the grid has one M); variables ``test_bits_per_spike`` (Poisson fits),
        ``test_accuracy`` (task datasets: the task's accuracy, see
        :func:`~alrnn_neuro.simulate.tasks.metrics.task_accuracy`), ``test_loss`` (all on the
        sweep's common test trials), ``val_loss`` (best validation
        loss of the fit), ``regions_used`` (distinct bitcodes on valid steps of the fitted
        trials, AL-RNN only), ``primitives_found`` (distinct integration and gating primitives
        detected, AL-RNN only; see :mod:`~alrnn_neuro.sweep.cell_primitives`) and
        ``fit_seconds`` (wall time of the task / members). Missing
        cells are NaN. Baselines do not depend on P: their values are repeated along
        ``pwl_units``. In a K-fold sweep each value pools the K fold cells of a model (NaN
        unless all are finished): bits/spike from the summed log-likelihoods and spikes of all
        held-out trials, test loss and accuracy weighted by held-out trials, ``val_loss``,
        ``regions_used`` and ``primitives_found`` averaged, ``fit_seconds`` summed; the number
        of folds is in ``attrs["folds"]``. ``attrs["metric"]`` names the metric the sweep is
        scored by (see :func:`sweep_metric`; ``""`` while it cannot be known), and that
        variable is kept even while all its values are NaN (an unfinished sweep).

    Raises
    ------
    RunDirError
        If ``out`` holds no ``sweep.json``.
    """
    root = Path(out)
    if not (root / SWEEP_FILE).is_file():
        raise RunDirError(f"{root} holds no {SWEEP_FILE}; fix: run the sweep there first")
    record = rd.read_json(root / SWEEP_FILE)
    grid = SweepGrid.from_dict(record["grid"])
    coords = {
        "model": list(grid.models),
        "pwl_units": list(grid.pwl_units),
        "seed": list(grid.seeds),
        "train_fraction": list(grid.train_fractions),
        "latent_dim": list(grid.latent_dims),
    }
    shape = tuple(len(coords[d]) for d in DIMS)
    values = {name: np.full(shape, np.nan) for name in VARIABLES}
    folds: dict[Cell, list[dict[str, float] | None]] = {}
    for cell in grid.cells():
        run = root / "cells" / cell.name
        if not cell_complete(run):
            logger.warning("cell %s is missing; its values are NaN", cell.name)
        row = _read_cell(run) if cell_complete(run) else None
        folds.setdefault(dataclasses.replace(cell, fold=None), []).append(row)
    for cell, rows in folds.items():
        if any(row is None for row in rows):
            continue
        row = rows[0] if len(rows) == 1 else _pool_folds(rows)
        m = coords["model"].index(cell.model)
        s = coords["seed"].index(cell.seed)
        f = coords["train_fraction"].index(cell.train_fraction)
        d = coords["latent_dim"].index(cell.latent_dim)
        ps = [coords["pwl_units"].index(cell.pwl_units)] if cell.model == "alrnn" else slice(None)
        for name in VARIABLES:
            values[name][m, ps, s, f, d] = row[name]
    results = xr.Dataset({k: (DIMS, v) for k, v in values.items()}, coords=coords)
    finished = [row for rows in folds.values() for row in rows if row is not None]
    metric = sweep_metric(finished, record)
    for name in HIGHER_IS_BETTER:
        if name != metric and np.isnan(results[name]).all():
            results = results.drop_vars(name)
    if results.sizes["latent_dim"] == 1:
        results = results.squeeze("latent_dim")
    results.attrs["sweep"] = str(root)
    results.attrs["folds"] = grid.folds
    results.attrs["metric"] = metric or ""
    if write:
        write_netcdf(results, root / RESULTS_FILE)
    return results


def sweep_metric(rows: list[dict[str, float]], record: dict) -> str | None:
    """The metric a sweep is scored by, or None while it cannot be known.

    Parameters
    ----------
    rows : list of dict
        The values of the finished cells (in a K-fold sweep every finished fold cell, also
        of configurations whose other folds are not finished yet).
    record : dict
        The sweep's ``sweep.json``.

    Returns
    -------
    str or None
        The first of :data:`HIGHER_IS_BETTER` that a finished cell has, else ``test_loss``
        when any cell finished; with no finished cell, the metric of the base config's
        observation model (:data:`METRIC_OF_OBS`; ``test_accuracy`` for a task dataset),
        else None (``obs="auto"`` on recordings: spikes or a continuous signal).

    Examples
    --------
    >>> sweep_metric([{"test_bits_per_spike": float("nan"), "test_accuracy": 0.9}], {})
    'test_accuracy'
    >>> sweep_metric([], {"base_config": {"obs": "poisson"}})
    'test_bits_per_spike'
    >>> sweep_metric([], {"base_config": {"obs": "auto"}, "data": {"task": ""}}) is None
    True
    """
    if rows:
        present = (m for m in HIGHER_IS_BETTER if any(_finite(r.get(m)) for r in rows))
        return next(present, "test_loss")
    if (record.get("data") or {}).get("task"):
        return "test_accuracy"
    return METRIC_OF_OBS.get((record.get("base_config") or {}).get("obs"))


def _read_cell(run: Path) -> dict[str, float]:
    cell = rd.read_json(run / CELL_FILE)
    metrics = rd.read_json(run / rd.METRICS)
    if "regions_used" in cell:  # recorded when the cell was written
        regions = _number(cell["regions_used"])
    else:  # cells of older versions: count from the saved latents
        regions = np.nan
        if (run / rd.LATENTS).is_file():
            with xr.open_dataset(run / rd.LATENTS, engine="h5netcdf") as latents:
                regions = regions_used(latents)
    test = cell["test"]
    return {
        "test_bits_per_spike": test.get("bits_per_spike", np.nan),
        "test_accuracy": test.get("accuracy", np.nan),
        "test_loss": test["loss"],
        "val_loss": metrics["val"]["loss"],
        "regions_used": regions,
        "primitives_found": _number(cell.get("primitives_found")),
        "fit_seconds": cell["fit_seconds"],
        **{k: _number(test.get(k)) for k in ("ll_model", "ll_psth", "n_spikes", "n_trials")},
    }


def regions_used(latents: xr.Dataset) -> float:
    """Distinct linear regions visited on valid steps (``latents.nc`` variables ``bitcode``
    and ``valid``); NaN without region codes (baselines, P > 62).

    Examples
    --------
    >>> lat = xr.Dataset({"bitcode": (("trial", "time"), [[0, 1], [1, 3]]),
    ...                   "valid": (("trial", "time"), [[True, True], [True, False]])})
    >>> regions_used(lat)
    2.0
    """
    if "bitcode" not in latents:
        return float("nan")
    code = np.asarray(latents["bitcode"].values)
    return float(np.unique(code[np.asarray(latents["valid"].values, bool) & (code >= 0)]).size)


def _pool_folds(rows: list[dict[str, float]]) -> dict[str, float]:
    """One model's values over the K cells of a fold sweep (see :func:`collect_results`)."""

    def total(key: str) -> float:
        return float(sum(row[key] for row in rows))

    def by_trials(key: str) -> float:
        return float(sum(row[key] * row["n_trials"] for row in rows)) / total("n_trials")

    spikes = total("n_spikes")
    gain = total("ll_model") - total("ll_psth")
    return {
        "test_bits_per_spike": gain / (spikes * math.log(2.0)) if spikes > 0 else np.nan,
        "test_accuracy": by_trials("test_accuracy"),
        "test_loss": by_trials("test_loss"),
        "val_loss": float(np.mean([row["val_loss"] for row in rows])),
        "regions_used": float(np.mean([row["regions_used"] for row in rows])),
        "primitives_found": float(np.mean([row["primitives_found"] for row in rows])),
        "fit_seconds": total("fit_seconds"),
    }


def _default_metric(results: xr.Dataset) -> str:
    """The metric :func:`summarize` ranks by when none is given."""
    recorded = results.attrs.get("metric")
    if recorded == "":
        raise RunDirError(
            f"no cell of the sweep in {results.attrs.get('sweep', 'these results')} has "
            "finished, so the metric it is scored by is not known yet; fix: run the sweep "
            "again to finish its cells, or pass metric="
        )
    if recorded in results:
        return str(recorded)
    return next((m for m in HIGHER_IS_BETTER if m in results), "test_loss")


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _number(value) -> float:
    """A JSON value as float (null / missing -> NaN)."""
    return float("nan") if value is None else float(value)


def summarize(results: xr.Dataset, metric: str | None = None) -> xr.Dataset:
    """Mean and standard error over seeds, and the minimal sufficient nonlinearity.

    Parameters
    ----------
    results : xr.Dataset
        Output of :func:`collect_results`.
    metric : str, optional
        Variable to rank by; default the sweep's own (``results.attrs["metric"]``, see
        :func:`collect_results`), else (results of older versions) ``test_bits_per_spike``
        (spikes) or ``test_accuracy`` (task datasets), both higher is better, if present,
        else ``test_loss`` (lower is better).

    Returns
    -------
    xr.Dataset
        ``mean``, ``sem`` and ``n_seeds`` with the dims of ``results`` minus ``seed``, and
        ``minimal_pwl_units`` (AL-RNN only; dims without ``model``/``pwl_units``/``seed``): the
        smallest P whose mean is within one sem of the best P's mean (NaN where no P has data).
        The metric's name is in ``attrs["metric"]``.

    Raises
    ------
    RunDirError
        Without ``metric`` when no cell of the sweep has finished and its metric cannot be
        known yet (``results.attrs["metric"] == ""``).
    """
    if metric is None:
        metric = _default_metric(results)
    higher = metric.endswith(("bits_per_spike", "accuracy"))
    data = results[metric]
    n = data.notnull().sum("seed")
    mean = data.mean("seed")
    sem = (data.std("seed", ddof=1) / np.sqrt(n)).where(n > 1, 0.0)
    out = xr.Dataset({"mean": mean, "sem": sem, "n_seeds": n}, attrs={"metric": metric})
    if "alrnn" in results["model"].values:
        am, asem = mean.sel(model="alrnn", drop=True), sem.sel(model="alrnn", drop=True)
        # fill NaN (unfinished cells) with the worst value: argmax/argmin reject all-NaN slices
        worst = -np.inf if higher else np.inf
        filled = am.fillna(worst)
        best = filled.argmax("pwl_units") if higher else filled.argmin("pwl_units")
        has = am.notnull().any("pwl_units")
        best_mean, best_sem = am.isel(pwl_units=best), asem.isel(pwl_units=best)
        ok = am >= best_mean - best_sem if higher else am <= best_mean + best_sem
        pwl = xr.DataArray(results["pwl_units"].values.astype(float), dims="pwl_units")
        minimal = pwl.where(ok & am.notnull()).min("pwl_units")
        out["minimal_pwl_units"] = minimal.where(has)
    return out
