"""Figure of a nonlinearity selection: bits/spike vs P with CIs, and losses against the best P.

Input: the Dataset of :func:`alrnn_neuro.sweep.selection.select_nonlinearity` (dims
``pwl_units``, ``bound``, ``seed``). Matplotlib only, drawn on a
:class:`~matplotlib.figure.Figure` with the Agg canvas (no pyplot state), or on the caller's
``axes=``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro.plotting.axes import figure_and_axes, require_variables

REQUIRED = (
    "bits_per_spike",
    "bits_per_spike_ci",
    "gain_vs_best",
    "gain_vs_best_ci",
    "equivalent",
    "best_pwl_units",
    "minimal_pwl_units",
)


def plot_selection(selection: xr.Dataset, *, axes: Any = None) -> Figure:
    """Two panels: held-out bits/spike per P (seed-averaged model, bootstrap CI over trials,
    each model seed as a dot), and each P's loss against the best P with the ±margin band;
    the minimal sufficient P (or "cannot tell") is marked and named in the title.

    Parameters
    ----------
    selection : xr.Dataset
        Output of :func:`~alrnn_neuro.sweep.selection.select_nonlinearity`.
    axes : pair of Axes, optional
        The two panels (left: bits/spike, right: loss against the best P) to draw into,
        instead of a new figure; the verdict goes into the figure's title.

    Returns
    -------
    Figure

    Raises
    ------
    DataValidationError
        If ``selection`` lacks the selection variables.
    """
    fix = "pass the Dataset of select_nonlinearity (or selection.nc)"
    require_variables(selection, REQUIRED, "selection", fix)
    fig, panels = figure_and_axes(axes, 1, 2, 9.0, 3.8)
    left, right = panels[0]
    pwl = selection["pwl_units"].values
    minimal = float(selection["minimal_pwl_units"])
    _bits_panel(left, selection, pwl, minimal)
    _gain_panel(right, selection, pwl, minimal)
    verdict = "cannot tell" if np.isnan(minimal) else f"P = {minimal:g}"
    insufficient = float(selection.get("zero_insufficient", np.nan))
    zero = "not tested" if np.isnan(insufficient) else ("yes" if insufficient else "not shown")
    fig.suptitle(f"minimal sufficient P: {verdict}   |   P = 0 insufficient: {zero}", fontsize=11)
    return fig


def _bits_panel(ax: Axes, sel: xr.Dataset, pwl: np.ndarray, minimal: float) -> None:
    mean = sel["bits_per_spike"].values
    ci = sel["bits_per_spike_ci"].values
    if "seed_bits_per_spike" in sel:
        seeds = sel["seed_bits_per_spike"].transpose("pwl_units", "seed").values
        jitter = np.linspace(-0.08, 0.08, seeds.shape[1])
        for k in range(seeds.shape[1]):
            ax.plot(pwl + jitter[k], seeds[:, k], "o", color="0.6", ms=3, zorder=1)
    _errorbars(ax, pwl, mean, ci, "seed-averaged model, CI over trials")
    _mark(ax, pwl, mean, sel, minimal)
    ax.set_xlabel("PWL units P")
    ax.set_ylabel("held-out bits/spike vs PSTH")
    ax.set_xticks(pwl)
    ax.legend(fontsize=7, loc="lower right")


def _gain_panel(ax: Axes, sel: xr.Dataset, pwl: np.ndarray, minimal: float) -> None:
    margin = float(sel.attrs.get("margin", np.nan))
    gain = sel["gain_vs_best"].values
    ci = sel["gain_vs_best_ci"].values
    if np.isfinite(margin):
        ax.axhspan(-margin, margin, color="C2", alpha=0.15, lw=0, label=f"±margin {margin:g}")
    ax.axhline(0.0, color="0.3", lw=0.8)
    _errorbars(ax, pwl, gain, ci, "P − best P")
    _mark(ax, pwl, gain, sel, minimal)
    ax.set_xlabel("PWL units P")
    ax.set_ylabel("bits/spike relative to the best P")
    ax.set_xticks(pwl)
    ax.legend(fontsize=7, loc="lower right")


def _errorbars(ax: Axes, x: np.ndarray, y: np.ndarray, ci: np.ndarray, label: str) -> None:
    lower = np.where(np.isfinite(ci[:, 0]), y - ci[:, 0], 0.0)
    upper = np.where(np.isfinite(ci[:, 1]), ci[:, 1] - y, 0.0)
    err = np.clip(np.stack([lower, upper]), 0.0, None)
    ax.errorbar(x, y, yerr=err, fmt="-o", color="C0", capsize=3, label=label, zorder=2)


def _mark(ax: Axes, x: np.ndarray, y: np.ndarray, sel: xr.Dataset, minimal: float) -> None:
    """Hollow squares: P equivalent to the best; a star: the minimal sufficient P."""
    equivalent = sel["equivalent"].values.astype(bool)
    ax.plot(
        x[equivalent],
        y[equivalent],
        "s",
        mfc="none",
        mec="C2",
        ms=10,
        mew=1.5,
        label="equivalent to the best",
        zorder=3,
    )
    if np.isfinite(minimal):
        k = int(np.flatnonzero(x == minimal)[0])
        ax.plot(
            x[k],
            y[k],
            "*",
            color="C3",
            ms=14,
            label=f"minimal sufficient P = {minimal:g}",
            zorder=4,
        )


def save_selection_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically."""
    final = Path(path)
    with atomic_path(final) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return final
