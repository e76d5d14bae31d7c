"""Report sections of sweep results: performance vs P and vs training-set size, regions used,
the minimal sufficient P, and one small panel per task sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import read_netcdf
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.plotting import sweep as plot
from alrnn_neuro.report.html import Section, esc, fmt, img_figure, note, table
from alrnn_neuro.sweep import collect_results, summarize
from alrnn_neuro.sweep.grid import SweepGrid
from alrnn_neuro.sweep.layout import SWEEP_FILE, finished_cells
from alrnn_neuro.training import rundir as rd

HIGHER = ("test_bits_per_spike", "test_accuracy")
#: in place of the metric's name while no cell of a sweep has finished
_NO_METRIC = "none yet (no cell has finished)"


def load_results(folder: Path) -> xr.Dataset:
    """``folder/results.nc``, or the results collected from the cells of an unfinished sweep."""
    if (folder / "results.nc").is_file():
        return read_netcdf(folder / "results.nc")

    return collect_results(folder, write=False)


def _metric(results: xr.Dataset) -> str | None:
    """The metric the sweep is scored by (:func:`~alrnn_neuro.plotting.sweep.default_metric`),
    None while no cell has finished and it cannot be known (``results.attrs["metric"] == ""``)."""
    return None if results.attrs.get("metric") == "" else plot.default_metric(results)


def _unfinished(folder: Path) -> tuple[int, int] | None:
    """(finished, total) cells of the sweep in ``folder`` when some are missing, else None."""
    if not (folder / SWEEP_FILE).is_file():
        return None
    cells = SweepGrid.from_dict(rd.read_json(folder / SWEEP_FILE)["grid"]).cells()
    done = set(finished_cells(folder))
    finished = sum(c.name in done for c in cells)
    return None if finished == len(cells) else (finished, len(cells))


def _selection_verdict(folder: Path) -> list[str]:
    """The verdict lines of the sweep's ``selection.json``, or what to run to get them."""
    path = folder / "selection.json"
    if not path.is_file():
        return [
            f"No selection.json in {folder}: run `alrnn-neuro select {folder}` (spike data) for "
            "the tested verdict, then this report again."
        ]
    try:
        record = rd.read_json(path)
        lines = [str(line) for line in record["verdict"]]
    except (OSError, RunDirError, KeyError, TypeError) as error:
        return [f"selection.json in {folder} could not be read ({error}); fix: run select again"]
    stale = _selection_gap(folder, record)
    return [stale] if stale else lines


def _selection_gap(folder: Path, record: dict) -> str | None:
    """Why ``selection.json`` no longer speaks for the sweep (it was extended since), or None.

    A sweep rerun into its folder with more P values or seeds keeps the earlier
    ``selection.json``; its verdict covers only the cells that existed then.
    """
    try:
        grid = SweepGrid.from_dict(rd.read_json(folder / SWEEP_FILE)["grid"])
        covered_p = {int(r["pwl_units"]) for r in record["per_pwl_units"]}
        covered_seeds = {int(s) for s in record["replication"]["seeds"]}
    except (OSError, RunDirError, KeyError, TypeError, ValueError):
        return None  # an older or partial record: shown as it is
    missing = {
        "P = ": sorted(set(grid.pwl_units) - covered_p),
        "seeds ": sorted(set(grid.seeds) - covered_seeds),
    }
    added = "; ".join(f"{what}{', '.join(map(str, v))}" for what, v in missing.items() if v)
    if not added:
        return None
    return (
        f"The selection.json in {folder} was made before the sweep grew ({added} are not in "
        f"it), so its verdict is left out; fix: run `alrnn-neuro select {folder}` again, "
        "then this report again."
    )


def by_latent_dim(results: xr.Dataset) -> list[tuple[str, xr.Dataset]]:
    """(label, results of one M): one entry per M when ``latent_dim`` is a dim."""
    if "latent_dim" not in results.dims:
        m = results.coords.get("latent_dim")
        return [("" if m is None else f"M = {int(m)}", results)]
    return [(f"M = {int(m)}", results.sel(latent_dim=m)) for m in results["latent_dim"].values]


def _summary(results: xr.Dataset, metric: str) -> xr.Dataset:
    """:func:`~alrnn_neuro.sweep.summarize`; without the minimal P where a slice has no data."""

    try:
        return summarize(results, metric=metric)
    except ValueError:  # an all-NaN slice (unfinished cells): mean and sem only
        mean, sem = plot.mean_sem(results[metric])
        n = results[metric].notnull().sum("seed")
        return xr.Dataset({"mean": mean, "sem": sem, "n_seeds": n}, attrs={"metric": metric})


def _at(da: xr.DataArray, **sel) -> xr.DataArray:
    return da.sel({k: v for k, v in sel.items() if k in da.dims})


def _pm(mean: float, sem: float) -> str:
    return "-" if not np.isfinite(mean) else f"{fmt(mean)} ± {fmt(sem, 2)}"


def minimal_p_table(results: xr.Dataset, summary: xr.Dataset) -> str:
    """One row per train fraction: minimal sufficient P, best P, P = 0 and the baselines."""
    mean, sem = summary["mean"], summary["sem"]
    fractions = results["train_fraction"].values if "train_fraction" in results.dims else [None]
    baselines = [str(m) for m in results["model"].values if m != "alrnn"]
    rows = []
    for f in fractions:
        m = _at(mean, train_fraction=f)
        s = _at(sem, train_fraction=f)
        row: list = ["all" if f is None else float(f)]
        if "alrnn" in results["model"].values and "minimal_pwl_units" in summary:
            am, asem = m.sel(model="alrnn"), s.sel(model="alrnn")
            minimal = float(_at(summary["minimal_pwl_units"], train_fraction=f))
            higher = summary.attrs["metric"] in HIGHER
            ok = np.isfinite(am.values)
            best = None
            if ok.any():
                values = np.where(ok, am.values, -np.inf if higher else np.inf)
                best = am["pwl_units"].values[
                    int(np.argmax(values) if higher else np.argmin(values))
                ]
            row += [
                "-" if not np.isfinite(minimal) else f"{minimal:g}",
                "-" if best is None else str(best),
                _pm(float(am.sel(pwl_units=best)), float(asem.sel(pwl_units=best)))
                if best is not None
                else "-",
                _pm(float(am.isel(pwl_units=0)), float(asem.isel(pwl_units=0))),
            ]
        for b in baselines:
            row.append(
                _pm(
                    float(m.sel(model=b).isel(pwl_units=0)), float(s.sel(model=b).isel(pwl_units=0))
                )
            )
        rows.append(row)
    p0 = f"P = {results['pwl_units'].values[0]}"
    headers = ["train fraction"]
    if "alrnn" in results["model"].values and "minimal_pwl_units" in summary:
        headers += ["minimal sufficient P", "best P", "best P (mean ± sem)", f"{p0} (mean ± sem)"]
    headers += [f"{b} (mean ± sem)" for b in baselines]
    return table(headers, rows)


def sweep_section(folder: Path) -> Section:
    """Performance vs P (seeds + mean ± sem + baselines), minimal sufficient P, performance
    vs training-set size per P, regions used vs P."""
    results = load_results(folder)
    section = Section("sweep", "Nonlinearity sweep (P)")
    metric = _metric(results)
    seeds = results.sizes.get("seed", 1)
    folds = int(results.attrs.get("folds", 1))
    held_out = (
        f"the held-out folds of a {folds}-fold cross-validation (every trial held out once)"
        if folds > 1
        else "the sweep's common held-out test trials"
    )
    section.add(
        note(
            f"From {folder}: metric {metric or _NO_METRIC} on {held_out}; models "
            f"{', '.join(map(str, results['model'].values))}; P = "
            f"{', '.join(map(str, results['pwl_units'].values))}; {seeds} seed(s). Minimal "
            "sufficient P in this section is a rule of thumb over model seeds: the smallest P "
            "whose mean is within one sem of the best P's mean (no test); the tested verdict "
            "over held-out trials is alrnn-neuro select's, below."
        )
    )
    section.add("<h3>Tested verdict (alrnn-neuro select)</h3>")
    for line in _selection_verdict(folder):
        section.add(note(line))
    unfinished = _unfinished(folder)
    if unfinished:
        section.add(
            note(
                f"Unfinished sweep: {unfinished[0]} of {unfinished[1]} cells are finished; the "
                "missing cells are NaN and leave out their seeds, so means, sems and the "
                "minimal P below use fewer seeds than the grid has. Fix: run the same sweep "
                "command again (finished cells are kept), then the report."
            )
        )
    if metric is None:
        return section.add(
            note(
                "No finished cells yet, so no metric yet (bits/spike for spike counts, "
                "accuracy for tasks, else the test loss: the first finished cell tells). Fix: "
                "run the same sweep command again."
            )
        )
    if not bool(results[metric].notnull().any()):
        if folds > 1 and unfinished and unfinished[0]:
            return section.add(
                note(
                    f"No {metric} value yet: this {folds}-fold sweep scores each "
                    f"configuration by {metric} on the held-out trials of all {folds} folds "
                    f"together, so a configuration has none until every fold of it is "
                    f"finished ({unfinished[0]} of {unfinished[1]} cells are). Fix: run the "
                    "same sweep command again."
                )
            )
        return section.add(note(f"No finished cells yet: every {metric} value is NaN."))
    for label, sub in by_latent_dim(results):
        suffix = f" ({label})" if label else ""
        summary = _summary(sub, metric)
        minimal = None
        if "minimal_pwl_units" in summary:
            top = summary["minimal_pwl_units"]
            if "train_fraction" in top.dims:
                top = top.sel(train_fraction=sub["train_fraction"].max())
            minimal = float(top)
        section.add(f"<h3>Performance vs P{esc(suffix)}</h3>")
        section.add(
            img_figure(
                plot.plot_performance_vs_p(sub, metric=metric, minimal_p=minimal),
                f"performance vs P{suffix}",
            )
        )
        section.add(f"<h3>Minimal sufficient P{esc(suffix)}</h3>")
        section.add(minimal_p_table(sub, summary))
        fractions = sub.sizes.get("train_fraction", 1)
        section.add(f"<h3>Performance vs training-set size{esc(suffix)}</h3>")
        if fractions > 1:
            fig = plot.plot_performance_vs_train_fraction(sub, metric=metric)
            section.add(img_figure(fig, f"performance vs training-set size{suffix}"))
        else:
            section.add(note("One train fraction in this sweep: no training-set-size curve."))
        section.add(f"<h3>Regions used vs P{esc(suffix)}</h3>")
        has_regions = "regions_used" in sub and "alrnn" in sub["model"].values
        if has_regions and bool(sub["regions_used"].sel(model="alrnn").notnull().any()):
            section.add(img_figure(plot.plot_regions_vs_p(sub), f"regions used vs P{suffix}"))
        else:
            section.add(note("No AL-RNN regions_used values in this sweep."))
    return section


def tasks_section(sweeps: dict[str, Path]) -> Section:
    """One small performance-vs-P panel per task sweep, and a table of the minimal P."""
    section = Section("tasks", "Per-task sweeps")
    results, rows, failed = {}, [], []
    for task, folder in sweeps.items():
        try:
            res = load_results(folder)
        except (OSError, ValueError) as error:
            failed.append(f"{task}: {error}")
            continue
        label, res = by_latent_dim(res)[-1]  # the largest M
        metric = _metric(res)
        if metric is None:
            rows.append([task, _NO_METRIC, label or "-", "-"])
            continue
        results[task] = res
        minimal = np.nan
        summary = _summary(res, metric)
        if "minimal_pwl_units" in summary:
            top = summary["minimal_pwl_units"]
            if "train_fraction" in top.dims:
                top = top.sel(train_fraction=res["train_fraction"].max())
            minimal = float(top)
        rows.append(
            [task, metric, label or "-", "-" if not np.isfinite(minimal) else f"{minimal:g}"]
        )
    if results:
        section.add(
            note(
                "Largest train fraction and largest M of each task's sweep; baselines as "
                "bands (mean ± sem), AL-RNN seeds as points."
            )
        )
        section.add(img_figure(plot.plot_task_sweeps(results), "performance vs P per task"))
    if rows:
        section.add(table(["task", "metric", "M", "minimal sufficient P"], rows))
    for line in failed:
        section.add(note(f"could not read the sweep of {line}"))
    return section
