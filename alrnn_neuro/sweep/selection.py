"""Nonlinearity selection from a sweep folder: read per-trial scores, decide, write the verdict.

Notebook use::

    from alrnn_neuro.sweep.selection import select_nonlinearity, verdict_lines
    result = select_nonlinearity("sweeps/demo")        # a sweep run with folds=5
    print("\\n".join(verdict_lines(result)))

The inputs are the ``trial_scores.nc`` files of the AL-RNN cells (one M, one train fraction):
per held-out trial, the Poisson log-likelihood of each (P, model seed) and of the PSTH. In a
K-fold sweep every trial is held out once, so every trial of the dataset counts; otherwise the
sweep's common test trials do. Each P's per-trial log-likelihood is averaged over model seeds
before the tests of :mod:`alrnn_neuro.sweep.selection_verdict`; the verdicts are then repeated
on each model seed alone (replication). docs/selection.md explains the method and defaults.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro._json import dumps
from alrnn_neuro.data.h5 import write_netcdf
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.plotting.selection import plot_selection, save_selection_figure
from alrnn_neuro.sweep.convergence import training_caution, undertrained_cells
from alrnn_neuro.sweep.grid import SweepGrid
from alrnn_neuro.sweep.layout import SWEEP_FILE, require_complete
from alrnn_neuro.sweep.selection_stats import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    DEFAULT_MARGIN,
    DEFAULT_MIN_EFFECT,
    DEFAULT_N_BOOT,
    LN2,
    check_n_boot,
)
from alrnn_neuro.sweep.selection_verdict import replicate_over_seeds, select_pwl_units
from alrnn_neuro.sweep.trial_scores import read_trial_scores
from alrnn_neuro.training import rundir as rd

SELECTION_FILES = ("selection.json", "selection.nc", "selection.png")
#: attrs naming the cells that had not finished training (comma-separated)
UNDERTRAINED = ("cells_still_improving", "cells_diverged")


def held_out_log_likelihoods(
    sweep_dir: str | os.PathLike,
    *,
    latent_dim: int | None = None,
    train_fraction: float | None = None,
) -> xr.Dataset:
    """Per-trial held-out log-likelihoods of every (P, model seed) of a sweep's AL-RNN cells.

    Parameters
    ----------
    sweep_dir : str or PathLike
        Folder written by :func:`~alrnn_neuro.sweep.run_sweep` on spike data.
    latent_dim : int, optional
        M to use (required when the grid has several).
    train_fraction : float, optional
        Train fraction to use (default: the largest).

    Returns
    -------
    xr.Dataset
        ``ll_model`` (pwl_units, seed, trial) in nats; ``ll_psth``, ``n_spikes`` and ``fold``
        (trial; -1 for one common test split). attrs: ``sweep``, ``latent_dim``,
        ``train_fraction``, ``folds``, ``split_seed``, ``n_cells`` and the cells that had not
        finished training, comma-separated (``cells_still_improving``, ``cells_diverged``;
        see :mod:`~alrnn_neuro.sweep.convergence`).

    Raises
    ------
    RunDirError
        No sweep, no AL-RNN cells, unfinished cells, cells without ``trial_scores.nc``, or
        folds that do not hold every trial out exactly once.
    ConfigError
        A ``latent_dim`` / ``train_fraction`` the grid lacks, or none given for several M.
    """
    root = Path(sweep_dir)
    if not (root / SWEEP_FILE).is_file():
        raise RunDirError(
            f"{str(root)!r} holds no {SWEEP_FILE}; fix: pass a folder written by "
            "`alrnn-neuro sweep DATASET --folds K --out DIR`"
        )
    record = rd.read_json(root / SWEEP_FILE)
    grid = SweepGrid.from_dict(record["grid"])
    if "alrnn" not in grid.models:
        raise RunDirError(f"sweep {root} has no AL-RNN cells; fix: sweep --model alrnn")
    m, f = _pick(grid, latent_dim, train_fraction)
    cells = [
        c
        for c in grid.cells()
        if c.model == "alrnn" and c.latent_dim == m and c.train_fraction == f
    ]
    require_complete(root, [c.name for c in cells])
    parts: dict[tuple[int, int], list[xr.Dataset]] = {}
    for cell in cells:
        scores = read_trial_scores(root / "cells" / cell.name)
        if scores is None:
            raise RunDirError(
                f"cell {cell.name} of {root} has no trial_scores.nc (a sweep of non-spike data, "
                "or one made before per-trial scores); fix: sweep spike counts (Poisson) with "
                "this version, into a new --out"
            )
        fold = -1 if cell.fold is None else cell.fold
        scores = scores.assign_coords(fold=("trial", np.full(scores.sizes["trial"], fold)))
        parts.setdefault((cell.pwl_units, cell.seed), []).append(scores)
    tables = {key: xr.concat(t, dim="trial").sortby("trial") for key, t in parts.items()}
    data = _assemble(tables, grid, record, root, m, f)
    undertrained = undertrained_cells(root, [c.name for c in cells])
    data.attrs["n_cells"] = len(cells)
    data.attrs["cells_still_improving"] = ", ".join(undertrained["still improving"])
    data.attrs["cells_diverged"] = ", ".join(undertrained["diverged"])
    return data


def _assemble(
    tables: dict[tuple[int, int], xr.Dataset],
    grid: SweepGrid,
    record: dict,
    root: Path,
    m: int,
    f: float,
) -> xr.Dataset:
    """Stack the (P, seed) tables into (pwl_units, seed, trial); check folds and baselines."""
    first = next(iter(tables.values()))
    shape = (len(grid.pwl_units), len(grid.seeds), first.sizes["trial"])
    ll = np.full(shape, np.nan)
    for (p, s), table in tables.items():
        if np.unique(table["trial"].values).size != table.sizes["trial"]:
            raise RunDirError(
                f"sweep {root}: a trial is held out by more than one fold of P={p}, seed={s}; "
                "fix: rerun the sweep into a new --out"
            )
        same = (
            np.array_equal(table["trial"].values, first["trial"].values)
            and np.allclose(table["ll_psth"].values, first["ll_psth"].values, rtol=1e-9)
            and np.array_equal(table["n_spikes"].values, first["n_spikes"].values)
        )
        if not same:
            raise RunDirError(
                f"sweep {root}: cell P={p}, seed={s} was scored on other held-out trials or "
                "another baseline than the others; fix: rerun the sweep into a new --out"
            )
        ll[grid.pwl_units.index(p), grid.seeds.index(s)] = table["ll_model"].values
    n_trials = int(record["data"]["n_trials"])
    if grid.folds > 1 and first.sizes["trial"] != n_trials:
        raise RunDirError(
            f"sweep {root}: the folds hold out {first.sizes['trial']} of {n_trials} trials; "
            "fix: rerun the sweep into a new --out"
        )
    split = record.get("split", {"folds": 1, "split_seed": record["base_config"]["seed"]})
    return xr.Dataset(
        {
            "ll_model": (("pwl_units", "seed", "trial"), ll),
            "ll_psth": ("trial", first["ll_psth"].values),
            "n_spikes": ("trial", first["n_spikes"].values),
            "fold": ("trial", first["fold"].values.astype(np.int64)),
        },
        coords={
            "pwl_units": list(grid.pwl_units),
            "seed": list(grid.seeds),
            "trial": first["trial"].values,
        },
        attrs={
            "sweep": str(root),
            "latent_dim": m,
            "train_fraction": f,
            "folds": int(split["folds"]),
            "split_seed": int(split["split_seed"]),
        },
    )


def _pick(grid: SweepGrid, latent_dim: int | None, train_fraction: float | None):
    if latent_dim is None and len(grid.latent_dims) > 1:
        raise ConfigError(
            f"the sweep has latent_dims {list(grid.latent_dims)}; fix: choose one with --latent-dim"
        )
    m = grid.latent_dims[0] if latent_dim is None else int(latent_dim)
    f = max(grid.train_fractions) if train_fraction is None else float(train_fraction)
    if m not in grid.latent_dims:
        raise ConfigError(
            f"latent_dim={m} is not in the sweep {list(grid.latent_dims)}; fix: choose one of them"
        )
    if f not in grid.train_fractions:
        raise ConfigError(
            f"train_fraction={f:g} is not in the sweep "
            f"{list(grid.train_fractions)}; fix: choose one of them"
        )
    return m, f


def select_nonlinearity(
    sweep_dir: str | os.PathLike,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = DEFAULT_MIN_EFFECT,
    margin: float = DEFAULT_MARGIN,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    latent_dim: int | None = None,
    train_fraction: float | None = None,
) -> xr.Dataset:
    """How many PWL units a sweep's data need, as calibrated inference over held-out trials.

    Parameters
    ----------
    sweep_dir : str or PathLike
        Sweep folder (ideally run with ``folds=K``).
    alpha, min_effect, margin, n_boot, confidence, seed
        See :func:`~alrnn_neuro.sweep.selection_verdict.select_pwl_units` (defaults:
        0.05, 0.002 and 0.003 bits/spike, 2000 resamples, 95 %, seed 0). ``n_boot`` is 0 (no
        intervals) or at least :data:`~alrnn_neuro._resampling.MIN_N_BOOT` (200).
    latent_dim, train_fraction : optional
        Which cells (see :func:`held_out_log_likelihoods`).

    Returns
    -------
    xr.Dataset
        The variables of :func:`~alrnn_neuro.sweep.selection_verdict.select_pwl_units` (on
        the seed-averaged log-likelihoods), of
        :func:`~alrnn_neuro.sweep.selection_verdict.replicate_over_seeds` (dim ``seed`` =
        the model seeds), ``seed_bits_per_spike`` (pwl_units, seed), the per-trial inputs of
        :func:`held_out_log_likelihoods` (``ll_model``, ``ll_psth``, ``n_spikes``, ``fold``;
        dim ``trial``) so the tests can be redone from the file; attrs add the sweep,
        M, train fraction, folds, split seed and ``verdict`` (the words of
        :func:`verdict_lines`).

    Raises
    ------
    ConfigError
        ``n_boot`` negative or from 1 to ``MIN_N_BOOT - 1`` (too few resamples for a
        percentile interval), a bad ``seed`` or other parameter.
    RunDirError
        No sweep, or an unfinished one.
    """
    n_boot = check_n_boot(n_boot)  # before reading: a bad value is refused at once
    data = held_out_log_likelihoods(sweep_dir, latent_dim=latent_dim, train_fraction=train_fraction)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed={seed!r}; fix: an integer in 0 .. 2**63 - 1, e.g. 0")
    options = {"alpha": alpha, "min_effect": min_effect, "margin": margin}
    ll = data["ll_model"].values
    psth, spikes = data["ll_psth"].values, data["n_spikes"].values
    pwl = data["pwl_units"].values.tolist()
    pooled = select_pwl_units(
        ll.mean(axis=1),
        psth,
        spikes,
        pwl,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        **options,
    )
    seeds = replicate_over_seeds(ll, psth, spikes, pwl, pooled, **options)
    per_seed = (ll - psth).sum(axis=2) / (LN2 * spikes.sum())
    out = xr.merge(
        [pooled, seeds.assign_coords(seed=data["seed"].values)], combine_attrs="override"
    )
    out["seed_bits_per_spike"] = (("pwl_units", "seed"), per_seed)
    out = out.merge(data[["ll_model", "ll_psth", "n_spikes", "fold"]])
    out.attrs.update({k: v for k, v in data.attrs.items()})
    out.attrs["verdict"] = "\n".join(verdict_lines(out))
    return out


def verdict_lines(result: xr.Dataset) -> list[str]:
    """The verdicts of a selection in words: P = 0, the minimal sufficient P, replication."""
    a = result.attrs
    level = f"{100 * a['confidence']:g}% CI"
    best = int(result["best_pwl_units"])
    counts = [len(str(a.get(k, "")).split(", ")) if a.get(k) else 0 for k in UNDERTRAINED]
    caution = training_caution(int(a.get("n_cells", 0)), *counts)
    lines = [] if caution is None else [caution]
    insufficient = float(result["zero_insufficient"])
    if math.isnan(insufficient):
        lines.append("P = 0 is not in the sweep: its sufficiency is not tested.")
    else:
        # when P = 0 itself is best, name the best P > 0 (not "P = 0 beats P = 0 by 0")
        shown = best
        if best == 0:
            others = result["gain_vs_zero"].where(result["pwl_units"] != 0, drop=True)
            shown = int(others["pwl_units"].values[int(np.argmax(others.values))])
        gain = result["gain_vs_zero"].sel(pwl_units=shown)
        lo, hi = result["gain_vs_zero_ci"].sel(pwl_units=shown).values
        interval = (
            f"{level} {lo:+.4f} to {hi:+.4f}"
            if np.isfinite(lo) and np.isfinite(hi)
            else "no CI: n_boot = 0 draws no bootstrap"
        )
        change = f"{float(gain):+.4f} bits/spike ({interval})"
        if best == 0:
            effect = f"P = 0 is the best P; the best P > 0, P = {shown}, differs by {change}"
        else:
            effect = f"best P = {best} beats P = 0 by {change}"
        p = float(result["zero_insufficient_p"])
        rule = f"minimum effect {a['min_effect']:g}, Bonferroni-corrected p = {p:.2g}"
        if insufficient:
            lines.append(f"P = 0 is insufficient: {effect}; {rule} < alpha = {a['alpha']:g}.")
        else:
            lines.append(f"P = 0 is not shown insufficient: {effect}; {rule}.")
    minimal = float(result["minimal_pwl_units"])
    if math.isnan(minimal):
        lines.append(
            f"Minimal sufficient P: cannot tell. No P is shown within {a['margin']:g} "
            f"bits/spike of every other P at alpha = {a['alpha']:g} ({a['n_trials']} held-out "
            "trials): more trials, or a wider margin, are needed."
        )
    else:
        p_eq = float(result["p_equivalent"].sel(pwl_units=minimal))
        lines.append(
            f"Minimal sufficient P = {minimal:g}: the smallest P within {a['margin']:g} "
            f"bits/spike of the best (P = {best}; equivalence p = {p_eq:.2g})."
        )
    if minimal == 0 and insufficient == 1.0:
        lines.append(
            f"Both hold: P = 0 loses more than {a['min_effect']:g} but less than "
            f"{a['margin']:g} bits/spike, a detectable loss inside the margin."
        )
    if "seed_minimal_pwl_units" in result:
        n = result.sizes["seed"]
        per_seed = ", ".join(
            "?" if np.isnan(v) else f"{v:g}" for v in result["seed_minimal_pwl_units"].values
        )
        lines.append(
            f"Replication over {n} model seed(s), each alone: minimal sufficient P {per_seed} "
            f"(agrees with the pooled verdict in {float(result['minimal_agreement']):.0%}); "
            "P = 0 insufficient agrees in "
            f"{float(result['insufficient_agreement']):.0%}."
        )
    return lines


def write_selection(result: xr.Dataset, out: str | os.PathLike) -> list[Path]:
    """Write ``selection.json``, ``selection.nc`` and ``selection.png`` into ``out``.

    Returns
    -------
    list of Path
        The files written (each atomically).
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in SELECTION_FILES]
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(dumps(selection_summary(result)))
    write_netcdf(result, paths[1])
    save_selection_figure(plot_selection(result), paths[2])
    return paths


def selection_summary(result: xr.Dataset) -> dict:
    """JSON-ready summary: parameters, one row per P, the verdicts and their replication."""
    rows = []
    for p in result["pwl_units"].values:
        row = {"pwl_units": int(p)}
        sel = result.sel(pwl_units=p)
        for name in ("bits_per_spike", "gain_vs_zero", "gain_vs_best"):
            row[name] = float(sel[name])
            row[f"{name}_ci"] = sel[f"{name}_ci"].values.tolist()
        row["p_vs_zero"] = float(sel["p_vs_zero"])
        row["p_equivalent"] = float(sel["p_equivalent"])
        row["equivalent"] = bool(sel["equivalent"])
        row["seed_bits_per_spike"] = sel["seed_bits_per_spike"].values.tolist()
        rows.append(row)
    minimal = float(result["minimal_pwl_units"])
    insufficient = float(result["zero_insufficient"])
    return {
        "parameters": {k: v for k, v in result.attrs.items() if k != "verdict"},
        "per_pwl_units": rows,
        "best_pwl_units": int(result["best_pwl_units"]),
        "minimal_pwl_units": None if math.isnan(minimal) else minimal,
        "minimal_pwl_units_verdict": "cannot tell" if math.isnan(minimal) else f"P = {minimal:g}",
        "zero_insufficient": None if math.isnan(insufficient) else bool(insufficient),
        "zero_insufficient_p": float(result["zero_insufficient_p"]),
        "replication": {
            "seeds": result["seed"].values.tolist(),
            "minimal_pwl_units": result["seed_minimal_pwl_units"].values.tolist(),
            "zero_insufficient": result["seed_zero_insufficient"].values.tolist(),
            "best_pwl_units": result["seed_best_pwl_units"].values.tolist(),
            "minimal_agreement": float(result["minimal_agreement"]),
            "insufficient_agreement": float(result["insufficient_agreement"]),
        },
        "verdict": verdict_lines(result),
    }
