"""The low-data claim of ``reproduce tasks``: sparse AL-RNNs against fully nonlinear networks.

Each classic task is swept at several train fractions (nested shares of the training trials,
``TaskSettings.train_fractions``) with the AL-RNN P values and the setting's baselines
(``TaskSettings.baselines``: GRU, LSTM), every network scored on the same held-out trials by
the study's criterion (:func:`~alrnn_neuro.simulate.tasks.metrics.trial_accuracy`). The
comparison table (accuracy per train fraction and model, bootstrap CI over trials) goes to
``baselines/baselines.nc``, ``baselines/baselines.png`` (and ``.svg``) and ``reproduce.json``.

Claim ``low_data:TASK``: at the smallest train fraction, the task's sparse P (the minimal
sufficient P of its sparse-P claim at the largest fraction, 0 < P < M) is *non-inferior* to each
fully nonlinear network (P = M and every baseline): the mean per-trial accuracy difference
(sparse minus other, model seeds averaged per held-out trial) exceeds ``-low_data.margin`` by a
one-sided paired t-test at alpha (:func:`~alrnn_neuro.sweep.selection_stats.one_sided_test`).
All comparisons must pass (an intersection-union test: no correction); the effect is the worst
difference. n.a. when there is no sparse P, no smaller fraction, no baseline, or when the best
comparison network at that fraction is below ``tasks.min_learned_accuracy`` (matching networks
that learned nothing is no finding).

Controls, per control data seed (the task drawn anew, scored on the trials with the sweep's
held-out ids; the comparison networks are the reproduction's fitted ones):

* ``untrained``: the sparse slot held by untrained networks of the same P (model seeds
  ``100 * data_seed + k``): must fail;
* power: the fitted sparse networks, judged exactly as on the reproduction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import read_netcdf, write_netcdf
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.plotting.baselines import plot_low_data
from alrnn_neuro.plotting.regimes import save_figure
from alrnn_neuro.reproduce.claim_records import ClaimResult
from alrnn_neuro.reproduce.criteria import criteria
from alrnn_neuro.reproduce.task_controls import SEED_STRIDE, untrained_correct
from alrnn_neuro.simulate.tasks.metrics import trial_accuracy
from alrnn_neuro.sweep import SweepGrid
from alrnn_neuro.sweep.layout import require_complete
from alrnn_neuro.sweep.selection_stats import LN2, bootstrap_ci, one_sided_test
from alrnn_neuro.sweep.task_scores import TASK_SCORES_FILE
from alrnn_neuro.training import rundir as rd
from alrnn_neuro.training.api import load_run, torch_threads
from alrnn_neuro.training.config import FitConfig

LOW_DATA_CRITERION = (
    "smallest train fraction: the sparse P (minimal sufficient P of the sparse-P claim, 0 < P < "
    "M) is non-inferior to P = M and every baseline: mean held-out accuracy difference > "
    "-low_data.margin, one-sided paired t-test p < alpha for each (all must pass); n.a. when "
    "the best of them is below tasks.min_learned_accuracy"
)

NO_SPARSE = "no sparse P (0 < P < M) sufficed with all trials"


def claim_name(task: str) -> str:
    """Name of the low-data claim of ``task`` in ``reproduce.json``."""
    return f"low_data:{task}"


def claim_text(task: str) -> str:
    """The low-data claim of ``task`` in words."""
    return (
        f"{task}: with few training trials a sparse AL-RNN is as accurate as fully nonlinear "
        "networks (P = M, GRU, LSTM)"
    )


def model_label(model: str, pwl_units: int) -> str:
    """Label of a network in the comparison: ``"P=2"`` for an AL-RNN, else the model name."""
    return f"P={int(pwl_units)}" if model == "alrnn" else model


def sparse_choice(selection: xr.Dataset, latent_dim: int) -> int | None:
    """The sparse P of the claim: the selection's minimal sufficient P when 0 < P < M."""
    minimal = float(selection["minimal_pwl_units"])
    if math.isfinite(minimal) and 0 < minimal < latent_dim:
        return int(minimal)
    return None


def comparison_scores(
    sweep_dir: str | Path,
    ds: xr.Dataset | None = None,
    *,
    train_fraction: float | None = None,
    runs: dict[str, Any] | None = None,
) -> xr.DataArray:
    """Per held-out trial correctness of every network of a task sweep (one test split).

    Parameters
    ----------
    sweep_dir : str or Path
        A task sweep (:func:`~alrnn_neuro.sweep.run_sweep`), AL-RNN and baseline cells.
    ds : xr.Dataset, optional
        A fresh draw of the task: the fitted networks are run on its trials with the sweep's
        held-out ids (else the cells' own ``task_scores.nc`` are read).
    train_fraction : float, optional
        Score only the networks of this train fraction (the others stay NaN).
    runs : dict, optional
        Cache of loaded runs (cell name -> run), filled here; pass the same dict to rescore
        several draws without loading the networks again.

    Returns
    -------
    xr.DataArray
        ``correct`` (train_fraction, model, seed, trial); ``model`` labels as
        :func:`model_label`. attrs: ``latent_dim``, ``sweep``.

    Raises
    ------
    RunDirError
        No sweep, K folds, or unfinished cells.
    """
    root = Path(sweep_dir)
    record = rd.read_json(root / "sweep.json")
    if "test_trials" not in record:
        raise RunDirError(f"sweep {root} has K folds; fix: compare on a sweep with one test split")
    grid = SweepGrid.from_dict(record["grid"])
    m = max(grid.latent_dims)
    cells = [c for c in grid.cells() if c.latent_dim == m]
    require_complete(root, [c.name for c in cells])
    if train_fraction is not None:
        cells = [c for c in cells if c.train_fraction == train_fraction]
    runs = {} if runs is None else runs
    test = np.asarray(record["test_trials"])
    labels = [model_label("alrnn", p) for p in grid.pwl_units if "alrnn" in grid.models]
    labels += [name for name in grid.models if name != "alrnn"]
    fractions = sorted(grid.train_fractions)
    values = np.full((len(fractions), len(labels), len(grid.seeds), test.size), np.nan)
    sub = None if ds is None else ds.sel(trial=test)
    with torch_threads(1):
        for cell in cells:
            run = root / "cells" / cell.name
            if sub is None:
                row = read_netcdf(run / TASK_SCORES_FILE)["correct"].sel(trial=test).values
            else:
                if cell.name not in runs:
                    runs[cell.name] = load_run(run)
                row = trial_accuracy(runs[cell.name].encode(sub)["prediction"].values, sub)
            where = (
                fractions.index(cell.train_fraction),
                labels.index(model_label(cell.model, cell.pwl_units)),
                grid.seeds.index(cell.seed),
            )
            values[where] = row
    return xr.DataArray(
        values,
        dims=("train_fraction", "model", "seed", "trial"),
        coords={
            "train_fraction": fractions,
            "model": labels,
            "seed": list(grid.seeds),
            "trial": test,
        },
        name="correct",
        attrs={"latent_dim": m, "sweep": str(root)},
    )


def accuracy_table(correct: xr.DataArray, *, n_boot: int = 1000, seed: int = 0) -> xr.Dataset:
    """Held-out accuracy per train fraction and model, with percentile bootstrap CIs over trials.

    Parameters
    ----------
    correct : xr.DataArray
        (train_fraction, model, seed, trial), as :func:`comparison_scores`.
    n_boot, seed : int
        Bootstrap resamples of the held-out trials and their seed.

    Returns
    -------
    xr.Dataset
        ``accuracy`` (train_fraction, model) and ``accuracy_ci`` (train_fraction, model,
        bound): model seeds averaged per trial, then trials.
    """
    per_trial = correct.mean("seed")  # NaN where a trial is unscored
    accuracy = per_trial.mean("trial", skipna=True)
    ci = np.full((*accuracy.shape, 2), np.nan)
    for i in range(per_trial.sizes["train_fraction"]):
        for j in range(per_trial.sizes["model"]):
            row = per_trial.values[i, j]
            ci[i, j] = _mean_ci(row[np.isfinite(row)], n_boot, seed)
    return xr.Dataset(
        {
            "accuracy": accuracy,
            "accuracy_ci": (("train_fraction", "model", "bound"), ci),
        },
        coords={"bound": ["low", "high"]},
        attrs={**correct.attrs, "n_trials": int(correct.sizes["trial"]), "n_boot": n_boot},
    )


def low_data_result(
    correct: xr.DataArray,
    sparse_p: int | None,
    *,
    require_learned: bool = True,
    seed: int = 0,
    what: str = "accuracy",
) -> ClaimResult:
    """The low-data claim from the comparison scores of one task (see the module docstring).

    Parameters
    ----------
    correct : xr.DataArray
        (train_fraction, model, seed, trial), as :func:`comparison_scores`.
    sparse_p : int or None
        The task's sparse P (:func:`sparse_choice`); None: n.a.
    require_learned : bool
        The n.a. rule on the comparison networks' accuracy (kept in the controls too: it is
        about the comparison networks, which are the fitted ones there as well).
    seed : int
        Seed of the bootstrap.
    what : str
        The accuracy's name in the evidence.
    """
    c = criteria()
    margin, alpha = c["low_data"]["margin"], c["calibration"]["alpha"]
    if sparse_p is None:
        return ClaimResult.not_testable(NO_SPARSE)
    fraction = float(correct["train_fraction"].min())
    if fraction >= float(correct["train_fraction"].max()):
        return ClaimResult.not_testable("the sweep has one train fraction only")
    m = int(correct.attrs["latent_dim"])
    others = [model_label("alrnn", m)] + [
        name for name in correct["model"].values.tolist() if not name.startswith("P=")
    ]
    if len(others) < 2:
        return ClaimResult.not_testable("no baseline network (GRU, LSTM) was fitted")
    small = correct.sel(train_fraction=fraction).mean("seed")  # (model, trial)
    sparse = small.sel(model=model_label("alrnn", sparse_p)).values
    accuracy = {name: float(np.nanmean(small.sel(model=name).values)) for name in others}
    per_model = ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items())
    head = f"train fraction {fraction:g}: P={sparse_p} {np.nanmean(sparse):.3f} vs {per_model}"
    best = max(accuracy.values())
    learned = c["tasks"]["min_learned_accuracy"]
    if require_learned and not best >= learned:
        return ClaimResult.not_testable(
            f"no fully nonlinear network learned the task with few trials: best {what} "
            f"{best:.3f} < tasks.min_learned_accuracy = {learned:g}; {head}"
        )
    tests = []
    for name in others:
        d = sparse - small.sel(model=name).values
        d = d[np.isfinite(d)]
        test = one_sided_test(LN2 * d, np.ones(d.size), -margin, greater=True)
        tests.append((name, float(d.mean()), test.p_value, d))
    worst = min(tests, key=lambda t: t[1])
    ci = _mean_ci(worst[3], c["low_data"]["n_boot"], seed)
    p_value = max(t[2] for t in tests)
    detail = "; ".join(f"vs {n}: {diff:+.3f} (p = {p:.3g})" for n, diff, p, _ in tests)
    return ClaimResult(
        holds=bool(p_value < alpha),
        effect=worst[1],
        effect_name=f"{what} of P={sparse_p} minus {worst[0]} at train fraction {fraction:g}",
        ci=(float(ci[0]), float(ci[1])),
        p_value=p_value,
        evidence=(
            f"{head}; differences (non-inferiority margin {margin:g}): {detail}; "
            f"{worst[3].size} held-out trials, {correct.sizes['seed']} seeds"
        ),
    )


def untrained_outcomes(
    sweep_dir: Path,
    make: Callable[[int], xr.Dataset],
    base: FitConfig,
    sparse_p: int | None,
    control_seeds: Sequence[int],
) -> list[tuple[int, ClaimResult]]:
    """The low-data claim with untrained networks in the sparse slot, per control data seed
    (not testable for every seed when the task has no sparse P)."""
    if sparse_p is None:
        return _untestable(control_seeds)
    found, runs = [], {}
    fraction = _smallest_fraction(sweep_dir)
    for data_seed in control_seeds:
        draw = make(data_seed)
        correct = comparison_scores(sweep_dir, draw, train_fraction=fraction, runs=runs)
        sub = draw.sel(trial=correct["trial"].values)
        seeds = [SEED_STRIDE * data_seed + k for k in range(correct.sizes["seed"])]
        untrained = untrained_correct(sub, base, [sparse_p], seeds)[0]  # (seed, trial)
        slot = {"train_fraction": fraction, "model": model_label("alrnn", sparse_p)}
        correct.loc[slot] = untrained
        found.append((int(data_seed), low_data_result(correct, sparse_p, seed=data_seed)))
    return found


def redrawn_outcomes(
    sweep_dir: Path,
    make: Callable[[int], xr.Dataset],
    sparse_p: int | None,
    control_seeds: Sequence[int],
) -> list[tuple[int, ClaimResult]]:
    """The low-data claim of the fitted networks on fresh draws of the task (power)."""
    if sparse_p is None:
        return _untestable(control_seeds)
    runs: dict[str, Any] = {}
    fraction = _smallest_fraction(sweep_dir)
    found = []
    for data_seed in control_seeds:
        correct = comparison_scores(sweep_dir, make(data_seed), train_fraction=fraction, runs=runs)
        found.append((int(data_seed), low_data_result(correct, sparse_p, seed=data_seed)))
    return found


def table_record(table: xr.Dataset) -> dict[str, Any]:
    """``reproduce.json`` form of :func:`accuracy_table`: fraction -> model -> [acc, lo, hi]."""
    out: dict[str, Any] = {}
    for f in table["train_fraction"].values:
        row = table.sel(train_fraction=f)
        out[f"{float(f):g}"] = {
            str(m): [
                _num(v) for v in (row["accuracy"].sel(model=m), *row["accuracy_ci"].sel(model=m))
            ]
            for m in row["model"].values
        }
    return out


def write_comparison(tables: dict[str, xr.Dataset], out: Path) -> Path:
    """Write the tasks' comparison tables, stacked over ``task``, to ``out/baselines.nc`` and
    their figure to ``out/baselines.png``; return the netCDF path.

    The file has ``accuracy`` (task, train_fraction, model), ``accuracy_ci`` (..., bound), and
    per task ``latent_dim`` and ``sparse_pwl_units`` (-1: none); models a task lacks are NaN.
    """
    parts = []
    for task, table in tables.items():
        extra = {
            "latent_dim": int(table.attrs["latent_dim"]),
            "sparse_pwl_units": int(table.attrs.get("sparse_pwl_units", -1)),
            "n_trials": int(table.attrs["n_trials"]),
        }
        part = table[["accuracy", "accuracy_ci"]].assign(extra).expand_dims(task=[task])
        parts.append(part.drop_attrs())
    stacked = xr.concat(parts, dim="task", join="outer", combine_attrs="drop")
    stacked.attrs["n_boot"] = int(next(iter(tables.values())).attrs.get("n_boot", 0))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = write_netcdf(stacked, out / "baselines.nc")
    save_figure(plot_low_data(stacked), out, "baselines")
    return path


def _untestable(control_seeds: Sequence[int]) -> list[tuple[int, ClaimResult]]:
    return [(int(s), ClaimResult.not_testable(NO_SPARSE)) for s in control_seeds]


def _mean_ci(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Percentile bootstrap CI of the mean of per-trial values (NaN with < 2 trials)."""
    if values.size < 2:
        return np.full(2, np.nan)
    return bootstrap_ci(LN2 * values[None], np.ones(values.size), n_boot=n_boot, seed=seed)[0]


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _smallest_fraction(sweep_dir: Path) -> float:
    grid = SweepGrid.from_dict(rd.read_json(Path(sweep_dir) / "sweep.json")["grid"])
    return min(grid.train_fractions)
