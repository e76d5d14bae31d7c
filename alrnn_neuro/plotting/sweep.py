"""Figures of sweep results: performance and regions used vs P, training-set size, multi-task.

Inputs are the labelled results of :func:`alrnn_neuro.sweep.collect_results` (dims ``model``,
``pwl_units``, ``seed``, ``train_fraction``; one M, i.e. ``latent_dim`` not a dim — select one
M first) and the ``multitask.nc`` table (dims ``pwl_units``, ``seed``, ``task``, ``region``).
Matplotlib only, drawn on :class:`~matplotlib.figure.Figure` objects with the Agg canvas (no
pyplot state); every function returns the Figure. Means are over seeds with the standard error
of the mean (``std(ddof=1) / sqrt(n)``, 0 with one seed); single seeds are drawn as points.
Baselines (models other than ``alrnn``) do not depend on P and are drawn as horizontal bands
(mean ± sem).
"""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from alrnn_neuro.errors import DataValidationError

#: default metric order: the first one present in the results is plotted
METRICS = ("test_bits_per_spike", "test_accuracy", "test_loss")
LABELS = {
    "test_bits_per_spike": "test bits/spike (higher is better)",
    "test_accuracy": "test accuracy (higher is better)",
    "test_loss": "test loss (lower is better)",
    "val_loss": "validation loss (lower is better)",
    "regions_used": "regions used",
}
SWEEP_DIMS = ("model", "pwl_units", "seed", "train_fraction")


def default_metric(results: xr.Dataset) -> str:
    """The metric a report ranks by: bits/spike (spikes), else accuracy (tasks), else loss."""
    for name in METRICS:
        if name in results and bool(results[name].notnull().any()):
            return name
    for name in METRICS:
        if name in results:
            return name
    raise DataValidationError(
        f"sweep results hold none of {list(METRICS)} (variables: {list(results.data_vars)}); "
        "fix: pass the results.nc written by `alrnn-neuro sweep`"
    )


def mean_sem(data: xr.DataArray, dim: str = "seed") -> tuple[xr.DataArray, xr.DataArray]:
    """Mean and standard error over ``dim`` (NaN ignored; sem 0 where fewer than 2 values)."""
    n = data.notnull().sum(dim)
    sem = (data.std(dim, ddof=1) / np.sqrt(n)).where(n > 1, 0.0)
    return data.mean(dim), sem


def _figure(width: float = 5.5, height: float = 3.8) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _check(results: xr.Dataset, var: str) -> xr.DataArray:
    if var not in results:
        raise DataValidationError(
            f"sweep results lack the variable {var!r} (have {list(results.data_vars)}); fix: "
            "choose a metric present in results.nc"
        )
    data = results[var]
    extra = [d for d in data.dims if d not in SWEEP_DIMS]
    missing = [d for d in ("model", "pwl_units", "seed") if d not in data.dims]
    if extra or missing:
        raise DataValidationError(
            f"sweep variable {var!r} has dims {list(data.dims)}; expected {list(SWEEP_DIMS)} "
            f"(extra {extra}, missing {missing}); fix: select one latent_dim first, e.g. "
            "results.sel(latent_dim=6)"
        )
    return data


def _fraction(data: xr.DataArray, train_fraction: float | None) -> tuple[xr.DataArray, str]:
    if "train_fraction" not in data.dims:
        f = data.coords.get("train_fraction")
        return data, "" if f is None else f", train fraction {float(f):g}"
    f = float(data["train_fraction"].max()) if train_fraction is None else train_fraction
    return data.sel(train_fraction=f), f", train fraction {f:g}"


def _baselines(ax: Axes, data: xr.DataArray) -> None:
    """Horizontal mean ± sem bands of every non-AL-RNN model (values do not depend on P)."""
    for k, model in enumerate(m for m in data["model"].values if m != "alrnn"):
        values = data.sel(model=model).isel(pwl_units=0)
        mean, sem = mean_sem(values)
        if not np.isfinite(float(mean)):
            continue
        colour = f"C{k + 1}"
        ax.axhspan(float(mean - sem), float(mean + sem), color=colour, alpha=0.15, lw=0)
        ax.axhline(float(mean), color=colour, ls="--", lw=1.2, label=f"{model} (mean ± sem)")


def plot_performance_vs_p(
    results: xr.Dataset,
    *,
    metric: str | None = None,
    train_fraction: float | None = None,
    minimal_p: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Test performance vs the number of PWL units P: seeds as points, mean ± sem, baselines.

    Parameters
    ----------
    results : xr.Dataset
        Sweep results, dims (model, pwl_units, seed[, train_fraction]).
    metric : str, optional
        Variable to plot (default :func:`default_metric`).
    train_fraction : float, optional
        Fraction to show (default: the largest).
    minimal_p : float, optional
        Minimal sufficient P to mark with a vertical line.
    ax : Axes, optional
        Draw into this axes (e.g. a panel of a larger figure) instead of a new figure.
    title : str, optional
        Axes title (default: names the fraction).

    Returns
    -------
    Figure
    """
    metric = default_metric(results) if metric is None else metric
    data, where = _fraction(_check(results, metric), train_fraction)
    if ax is None:
        fig, ax = _figure()
    else:
        fig = ax.figure
    pwl = data["pwl_units"].values
    x = np.arange(pwl.size, dtype=float)
    if "alrnn" in data["model"].values:
        alrnn = data.sel(model="alrnn").transpose("pwl_units", "seed")
        n_seeds = alrnn.sizes["seed"]
        offsets = np.linspace(-0.12, 0.12, n_seeds) if n_seeds > 1 else np.zeros(1)
        for s in range(n_seeds):
            ax.plot(
                x + offsets[s],
                alrnn.values[:, s],
                "o",
                color="0.55",
                ms=3.5,
                alpha=0.8,
                label="AL-RNN seeds" if s == 0 else None,
            )
        mean, sem = mean_sem(alrnn)
        ax.errorbar(
            x,
            mean.values,
            yerr=sem.values,
            color="C0",
            marker="s",
            ms=5,
            lw=1.8,
            capsize=3,
            label="AL-RNN mean ± sem",
        )
    _baselines(ax, data)
    if minimal_p is not None and np.isfinite(minimal_p) and minimal_p in pwl:
        k = float(np.flatnonzero(pwl == minimal_p)[0])
        ax.axvline(k, color="C3", ls=":", lw=1.5, label=f"minimal sufficient P = {minimal_p:g}")
    ax.set_xticks(x, [str(p) for p in pwl])
    ax.set_xlim(x[0] - 0.5, x[-1] + 0.5)
    ax.set_xlabel("PWL units P")
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.set_title(title if title is not None else f"Performance vs P{where}", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_performance_vs_train_fraction(results: xr.Dataset, *, metric: str | None = None) -> Figure:
    """Test performance vs training-set size: one mean ± sem line per P, baselines dashed.

    Parameters
    ----------
    results : xr.Dataset
        Sweep results, dims (model, pwl_units, seed, train_fraction).
    metric : str, optional
        Variable to plot (default :func:`default_metric`).

    Returns
    -------
    Figure
    """
    metric = default_metric(results) if metric is None else metric
    data = _check(results, metric)
    if "train_fraction" not in data.dims:
        raise DataValidationError(
            "sweep results have one train fraction; fix: sweep --train-fraction with several "
            "values (e.g. 0.1,0.3,1) to plot performance vs training-set size"
        )
    fig, ax = _figure()
    f = data["train_fraction"].values
    colours = _p_colours(data["pwl_units"].values)
    if "alrnn" in data["model"].values:
        for p in data["pwl_units"].values:
            mean, sem = mean_sem(data.sel(model="alrnn", pwl_units=p))
            ax.errorbar(
                f,
                mean.values,
                yerr=sem.values,
                marker="o",
                ms=4,
                capsize=3,
                color=colours[p],
                label=f"AL-RNN P = {p}",
            )
    for k, model in enumerate(m for m in data["model"].values if m != "alrnn"):
        mean, sem = mean_sem(data.sel(model=model).isel(pwl_units=0))
        ax.errorbar(
            f,
            mean.values,
            yerr=sem.values,
            marker="^",
            ms=4,
            capsize=3,
            ls="--",
            color=f"C{k + 1}",
            label=model,
        )
    ax.set_xscale("log")
    ax.set_xticks(f, [f"{v:g}" for v in f])
    ax.minorticks_off()
    ax.set_xlabel("training-set size (fraction of training trials)")
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.set_title("Performance vs training-set size (mean ± sem over seeds)", fontsize=10)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    return fig


def _p_colours(pwl: np.ndarray) -> dict[Any, Any]:
    cmap = matplotlib.colormaps["viridis"]
    n = max(len(pwl) - 1, 1)
    return {p: cmap(0.9 * k / n) for k, p in enumerate(pwl)}


def plot_regions_vs_p(results: xr.Dataset) -> Figure:
    """Distinct linear regions used by the fitted AL-RNNs vs P, one line per train fraction.

    Seeds are points (largest fraction only), lines are mean ± sem; the dotted line is the
    number of regions that exist, 2**P.

    Parameters
    ----------
    results : xr.Dataset
        Sweep results with ``regions_used`` (model, pwl_units, seed[, train_fraction]).

    Returns
    -------
    Figure
    """
    data = _check(results, "regions_used")
    if "alrnn" not in data["model"].values:
        raise DataValidationError(
            "sweep results have no 'alrnn' model; fix: regions exist only for AL-RNN sweeps"
        )
    data = data.sel(model="alrnn")
    pwl = data["pwl_units"].values
    x = np.arange(pwl.size, dtype=float)
    fig, ax = _figure()
    fractions = data["train_fraction"].values if "train_fraction" in data.dims else [None]
    for k, f in enumerate(fractions):
        sub = data.sel(train_fraction=f) if f is not None else data
        mean, sem = mean_sem(sub.transpose("pwl_units", "seed"))
        label = "mean ± sem" if f is None else f"train fraction {f:g}"
        ax.errorbar(
            x, mean.values, yerr=sem.values, marker="s", ms=4, capsize=3, color=f"C{k}", label=label
        )
    top = data.sel(train_fraction=max(fractions)) if fractions[0] is not None else data
    top = top.transpose("pwl_units", "seed")
    for s in range(top.sizes["seed"]):
        ax.plot(
            x,
            top.values[:, s],
            "o",
            color="0.55",
            ms=3,
            alpha=0.8,
            label="seeds (largest fraction)" if s == 0 else None,
        )
    ax.plot(x, 2.0 ** pwl.astype(float), ":", color="0.3", label="2^P regions exist")
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xticks(x, [str(p) for p in pwl])
    ax.set_xlabel("PWL units P")
    ax.set_ylabel("regions used (valid steps)")
    ax.set_title("Linear regions used vs P", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_task_sweeps(results_by_task: dict[str, xr.Dataset], *, ncols: int = 3) -> Figure:
    """One small performance-vs-P panel per task (largest train fraction, baselines as bands).

    Parameters
    ----------
    results_by_task : dict of str to xr.Dataset
        Task name -> that task's sweep results (each with one M).
    ncols : int
        Panels per row.

    Returns
    -------
    Figure
    """
    if not results_by_task:
        raise DataValidationError("no task sweeps given; fix: pass at least one task's results")
    n = len(results_by_task)
    cols = min(ncols, n)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(3.6 * cols, 2.9 * rows), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (task, results) in zip(axes, results_by_task.items(), strict=False):
        plot_performance_vs_p(results, ax=ax, title=task)
        ax.xaxis.label.set_size(8)
        ax.yaxis.label.set_size(7)
        legend = ax.get_legend()
        if legend is not None and ax is not axes[0]:
            legend.remove()
    for ax in axes[n:]:
        ax.axis("off")
    return fig


def plot_shared_index(multitask: xr.Dataset) -> Figure:
    """Shared-vs-distributed index vs P (mean ± sem over seeds, seeds as points).

    Parameters
    ----------
    multitask : xr.Dataset
        ``shared_index`` (pwl_units, seed) and, if present, ``task_specificity``
        (pwl_units, seed).

    Returns
    -------
    Figure
    """
    if "shared_index" not in multitask:
        raise DataValidationError(
            f"multitask results lack 'shared_index' (have {list(multitask.data_vars)}); fix: "
            "pass the multitask.nc written by the multi-task analysis"
        )
    fig, ax = _figure(5.0, 3.6)
    pwl = multitask["pwl_units"].values
    x = np.arange(pwl.size, dtype=float)
    for k, (name, label) in enumerate(
        (("shared_index", "shared index (mean overlap)"), ("task_specificity", "task specificity"))
    ):
        if name not in multitask:
            continue
        data = multitask[name].transpose("pwl_units", "seed")
        for s in range(data.sizes["seed"]):
            ax.plot(x, data.values[:, s], "o", color=f"C{k}", ms=3, alpha=0.4)
        mean, sem = mean_sem(data)
        ax.errorbar(
            x,
            mean.values,
            yerr=sem.values,
            marker="s",
            ms=5,
            capsize=3,
            color=f"C{k}",
            label=f"{label}, mean ± sem",
        )
    ax.set_xticks(x, [str(p) for p in pwl])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("PWL units P")
    ax.set_ylabel("index (1 = shared regions)")
    ax.set_title("Region sharing across tasks vs P", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_region_usage(
    multitask: xr.Dataset, *, pwl_units: Any = None, seed: Any = None, max_regions: int = 40
) -> Figure:
    """Task x region usage heatmap of one fitted model (one P, one seed).

    Parameters
    ----------
    multitask : xr.Dataset
        ``region_usage`` (pwl_units, seed, task, region): fraction of each task's valid steps.
    pwl_units, seed : optional
        The model to show (default: the largest P and its first seed with data).
    max_regions : int
        Most-used regions shown (regions are columns).

    Returns
    -------
    Figure
    """
    if "region_usage" not in multitask:
        raise DataValidationError(
            f"multitask results lack 'region_usage' (have {list(multitask.data_vars)}); fix: "
            "pass the multitask.nc written by the multi-task analysis"
        )
    usage = multitask["region_usage"].transpose("pwl_units", "seed", "task", "region")
    pwl_units, seed = pick_model(usage, pwl_units, seed)
    table = usage.sel(pwl_units=pwl_units, seed=seed).fillna(0.0)
    total = table.sum("task").values
    keep = np.argsort(-total, kind="stable")[: max(1, min(max_regions, int((total > 0).sum())))]
    table = table.isel(region=np.sort(keep))
    fig, ax = _figure(3.2 + 0.3 * table.sizes["region"], 1.6 + 0.3 * table.sizes["task"])
    im = ax.imshow(
        table.values, cmap="magma", vmin=0, vmax=max(float(table.max()), 1e-9), aspect="auto"
    )
    ax.set_xticks(
        range(table.sizes["region"]),
        [str(r) for r in table["region"].values],
        rotation=90,
        fontsize=7,
    )
    ax.set_yticks(range(table.sizes["task"]), [str(t) for t in table["task"].values], fontsize=7)
    ax.set_xlabel("region (bitcode)")
    ax.set_title(f"Region usage per task, P = {pwl_units}, seed {seed}", fontsize=10)
    fig.colorbar(im, ax=ax, label="fraction of task steps")
    return fig


def pick_model(usage: xr.DataArray, pwl_units: Any = None, seed: Any = None) -> tuple[Any, Any]:
    """(P, seed) with data: the given ones, or the largest P with usage and its first seed."""
    has = usage.notnull().any(("task", "region")) & (usage.fillna(0).sum(("task", "region")) > 0)
    if pwl_units is None:
        ok = has.any("seed").values
        if not ok.any():
            raise DataValidationError(
                "region_usage is empty (all NaN or 0); fix: rerun the multi-task analysis"
            )
        pwl_units = usage["pwl_units"].values[np.flatnonzero(ok)[-1]]
    if seed is None:
        ok = has.sel(pwl_units=pwl_units).values
        seed = usage["seed"].values[int(np.flatnonzero(ok)[0]) if ok.any() else 0]
    return pwl_units, seed
