"""Figures of sweep results: performance and regions used vs P, training-set size, multi-task.

Inputs are the labelled results of :func:`alrnn_neuro.sweep.collect_results` (dims ``model``,
``pwl_units``, ``seed``, ``train_fraction``; one M, i.e. ``latent_dim`` not a dim — select one
M first); the figures of the ``multitask.nc`` table are in :mod:`.multitask` (and importable
from here).
Matplotlib only, drawn on :class:`~matplotlib.figure.Figure` objects with the Agg canvas (no
pyplot state); every function takes ``ax=`` (``axes=`` for several panels) to draw into the
caller's layout and returns the Figure. Means are over seeds with the standard error
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
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.plotting.axes import figure_and_ax, figure_and_axes
from alrnn_neuro.plotting.multitask import pick_model as pick_model
from alrnn_neuro.plotting.multitask import plot_region_usage as plot_region_usage
from alrnn_neuro.plotting.multitask import plot_shared_index as plot_shared_index
from alrnn_neuro.plotting.seeds import mean_sem as mean_sem

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
    """The metric a report ranks by: the one the sweep recorded (``attrs["metric"]``, see
    :func:`alrnn_neuro.sweep.collect_results`), else bits/spike (spikes), else accuracy
    (tasks), else loss."""
    recorded = results.attrs.get("metric")
    if recorded and recorded in results:
        return str(recorded)
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
    fig, ax = figure_and_ax(ax, 5.5, 3.8)
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


def plot_performance_vs_train_fraction(
    results: xr.Dataset, *, metric: str | None = None, ax: Axes | None = None
) -> Figure:
    """Test performance vs training-set size: one mean ± sem line per P, baselines dashed.

    Parameters
    ----------
    results : xr.Dataset
        Sweep results, dims (model, pwl_units, seed, train_fraction).
    metric : str, optional
        Variable to plot (default :func:`default_metric`).
    ax : Axes, optional
        Draw here instead of a new figure.

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
    fig, ax = figure_and_ax(ax, 5.5, 3.8)
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


def plot_regions_vs_p(results: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """Distinct linear regions used by the fitted AL-RNNs vs P, one line per train fraction.

    Seeds are points (largest fraction only), lines are mean ± sem; the dotted line is the
    number of regions that exist, 2**P.

    Parameters
    ----------
    results : xr.Dataset
        Sweep results with ``regions_used`` (model, pwl_units, seed[, train_fraction]).
    ax : Axes, optional
        Draw here instead of a new figure.

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
    fig, ax = figure_and_ax(ax, 5.5, 3.8)
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


def plot_task_sweeps(
    results_by_task: dict[str, xr.Dataset], *, ncols: int = 3, axes: Any = None
) -> Figure:
    """One small performance-vs-P panel per task (largest train fraction, baselines as bands).

    Parameters
    ----------
    results_by_task : dict of str to xr.Dataset
        Task name -> that task's sweep results (each with one M).
    ncols : int
        Panels per row.
    axes : array of Axes, optional
        At least one panel per task (rows x ``ncols``), instead of a new figure.

    Returns
    -------
    Figure
    """
    if not results_by_task:
        raise DataValidationError("no task sweeps given; fix: pass at least one task's results")
    n = len(results_by_task)
    cols = min(ncols, n)
    rows = int(np.ceil(n / cols))
    fig, grid = figure_and_axes(axes, rows, cols, 3.6 * cols, 2.9 * rows)
    axes = grid.ravel()
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
