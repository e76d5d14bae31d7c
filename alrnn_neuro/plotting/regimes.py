"""Figures of an analysed run: trajectories by region, region x epoch, transitions, spectra.

Matplotlib only, drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas (no
pyplot state, no display needed); every ``plot_*`` takes ``ax=`` (or ``axes=``) to draw into
a layout of the caller's and returns the figure. Regions are labelled by their bit string
(one character per ReLU unit, the first PWL latent first; code 2 of P = 2 is ``"10"``).
:func:`save_figure` writes PNG and SVG atomically; :func:`plot_analysis` draws and saves every
figure of an :class:`~alrnn_neuro.analysis.pipeline.AnalysisResult`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from alrnn_neuro.models.params import region_labels
from alrnn_neuro.plotting.axes import figure_and_ax, figure_and_axes
from alrnn_neuro.plotting.files import save_png_and_svg
from alrnn_neuro.plotting.text import literal

CMAP = "tab10"
#: how the transition graph reads (drawn under it)
GRAPH_CAPTION = (
    "node = linear region, labelled by its bit string (one bit per ReLU unit, 1 = active);\n"
    "node size = share of time steps; number = probability of staying;\n"
    "arrow width = transition probability (>= 0.02 shown)"
)


def region_names(regions: np.ndarray, bits: Any = None, n_pwl: int | None = None) -> list[str]:
    """Labels of region codes: their bit strings (from a ``bits`` coord or ``n_pwl``), else the
    codes themselves."""
    if bits is not None:
        lookup = dict(zip(np.asarray(bits.region).tolist(), np.asarray(bits).tolist(), strict=True))
        return [str(lookup.get(int(r), r)) for r in regions]
    if n_pwl is not None:
        return region_labels(np.asarray(regions, dtype=np.int64), int(n_pwl))
    return [str(r) for r in regions]


def _bits_of(*arrays: Any) -> Any:
    """The first ``bits`` coord (dim ``region``) found on the given DataArrays/Datasets."""
    for array in arrays:
        if array is not None and "bits" in array.coords and array["bits"].dims == ("region",):
            return array["bits"]
    return None


def _colours(regions: np.ndarray) -> dict[int, Any]:
    cmap = matplotlib.colormaps[CMAP]
    return {int(r): cmap(int(r) % 10) for r in regions}  # same colour in every figure


def save_figure(fig: Figure, out_dir: str | os.PathLike, name: str) -> list[Path]:
    """Save ``fig`` as ``name.png`` and ``name.svg`` in ``out_dir`` (atomic writes, the same
    bytes on every run: :func:`~alrnn_neuro.plotting.files.save_png_and_svg`)."""
    return save_png_and_svg(fig, Path(out_dir) / name, png_dpi=120, svg_dpi=120)


def plot_trajectories(
    latents: xr.Dataset, *, max_trials: int = 40, n_pwl: int | None = None, ax: Axes | None = None
) -> Figure:
    """Latent trajectories projected on their first two PCs, points coloured by region.

    Parameters
    ----------
    latents : Dataset
        ``latents`` (trial, time, latent), ``bitcode``, ``valid`` and ``epoch`` (trial, time).
    max_trials : int
        Trials drawn (the first ones).
    n_pwl : int, optional
        P, for bit-string region labels (default: ``latents.attrs["n_pwl"]`` if recorded).
    ax : Axes, optional
        Draw here instead of a new figure.

    Returns
    -------
    Figure
    """
    z = latents["latents"].transpose("trial", "time", "latent").values.astype(float)
    ok = latents["valid"].values.astype(bool) & np.all(np.isfinite(z), axis=-1)
    codes = latents["bitcode"].values
    mean = z[ok].mean(0)
    _, _, vt = np.linalg.svd(z[ok] - mean, full_matrices=False)
    pcs = vt[:2] if vt.shape[0] >= 2 else np.vstack([vt, np.zeros_like(vt)])
    xy = (z - mean) @ pcs.T
    fig, ax = figure_and_ax(ax, 6, 5)
    colours = _colours(np.unique(codes[ok]))
    n_pwl = latents.attrs.get("n_pwl") if n_pwl is None else n_pwl
    names = dict(zip(colours, region_names(np.array(list(colours)), n_pwl=n_pwl), strict=True))
    labels = latents["epoch"].values.astype(str)
    for i in range(min(max_trials, len(z))):
        m = ok[i]
        ax.plot(xy[i, m, 0], xy[i, m, 1], color="0.8", lw=0.6, zorder=1)
        ax.scatter(
            xy[i, m, 0], xy[i, m, 1], s=6, c=[colours[int(c)] for c in codes[i, m]], zorder=2
        )
        lab = labels[i]
        edge = np.nonzero(m[1:] & m[:-1] & (lab[1:] != lab[:-1]))[0] + 1
        ax.scatter(xy[i, edge, 0], xy[i, edge, 1], marker="x", s=18, c="k", lw=0.7, zorder=3)
    for r, col in colours.items():
        ax.scatter([], [], color=col, s=12, label=f"region {names[r]}")
    ax.scatter([], [], marker="x", c="k", label="epoch boundary")
    ax.legend(fontsize=7, loc="best")
    ax.set(xlabel="PC 1", ylabel="PC 2", title="Latent trajectories by region")
    return fig


def plot_region_epoch(table: xr.DataArray, *, ax: Axes | None = None) -> Figure:
    """Heatmap of the region x epoch table, each epoch column normalised to fractions.

    Parameters
    ----------
    table : DataArray of int, dims (region, epoch)
        Valid steps per region and epoch (``regimes.nc`` ``region_epoch``); a ``bits`` coord
        on ``region`` labels the rows by bit string.
    ax : Axes, optional
        Draw here instead of a new figure.

    Returns
    -------
    Figure
    """
    frac = (table / table.sum("region").clip(min=1)).transpose("region", "epoch")
    n_region, n_epoch = table.sizes["region"], table.sizes["epoch"]
    fig, ax = figure_and_ax(ax, 2.2 + 0.75 * n_epoch, 1.6 + 0.32 * n_region)
    im = ax.imshow(frac.values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    epochs = [literal(e) for e in table.epoch.values]
    ax.set_xticks(range(n_epoch), epochs, rotation=45, ha="right", rotation_mode="anchor")
    names = region_names(table.region.values, _bits_of(table))
    ax.set_yticks(range(n_region), names, fontsize=8 if n_region <= 24 else 6)
    ax.set(xlabel="task epoch", ylabel="region (bit string)")
    ax.set_title("Share of each epoch's steps per region", fontsize=10)
    fig.colorbar(im, ax=ax, label="fraction of epoch steps", shrink=0.9)
    return fig


def plot_transition_graph(
    probability: xr.DataArray, usage: xr.DataArray, *, ax: Axes | None = None
) -> Figure:
    """Regions on a circle (size = usage), arrows for transition probabilities >= 0.02.

    Parameters
    ----------
    probability : DataArray, dims (region_from, region_to)
        Row-normalised transition probabilities (``regimes.nc``).
    usage : DataArray, dim region
        Share of valid steps per region (``regimes.nc`` ``frequency``, whose ``bits`` coord
        labels the nodes).
    ax : Axes, optional
        Draw here instead of a new figure.

    Returns
    -------
    Figure
        Nodes are labelled by bit string and probability of staying; the caption under the
        graph says how to read it (:data:`GRAPH_CAPTION`).
    """
    regions = probability.region_from.values
    n = len(regions)
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False) + np.pi / 2
    pos = {int(r): (np.cos(a), np.sin(a)) for r, a in zip(regions, angle, strict=True)}
    fig, ax = figure_and_ax(ax, 5, 5.6)
    names = region_names(regions, _bits_of(usage, probability))
    colours = _colours(regions)
    P = np.nan_to_num(probability.transpose("region_from", "region_to").values)
    for i, a in enumerate(regions):
        for j, b in enumerate(regions):
            if i == j or P[i, j] < 0.02:
                continue
            (x0, y0), (x1, y1) = pos[int(a)], pos[int(b)]
            arrow = {"arrowstyle": "->", "lw": 0.5 + 4 * P[i, j], "alpha": 0.7}
            arrow.update(connectionstyle="arc3,rad=0.15", shrinkA=14, shrinkB=14)
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=arrow)
    use = usage.reindex(region=regions).fillna(0).values
    for k, r in enumerate(regions):
        x, y = pos[int(r)]
        ax.scatter(x, y, s=200 + 1500 * use[k], color=colours[int(r)], zorder=3)
        label = f"{names[k]}\n{P[k, k]:.2f}"
        ax.text(x, y, label, ha="center", va="center", fontsize=7, zorder=4)
    ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", title="Region transitions")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)
    ax.set_xlabel(GRAPH_CAPTION, fontsize=7)  # a label, so the layout keeps room for it
    return fig


def plot_eigenvalues(dynamics: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """Eigenvalues of each region's Jacobian in the complex plane, with the unit circle.

    Parameters
    ----------
    dynamics : Dataset
        ``eigenvalue_real`` and ``eigenvalue_imag`` (region, mode), as in ``dynamics.nc``.
    ax : Axes, optional
        Draw here instead of a new figure.

    Returns
    -------
    Figure
    """
    fig, ax = figure_and_ax(ax, 5, 5)
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.5", lw=0.8)
    colours = _colours(dynamics.region.values)
    names = region_names(dynamics.region.values, _bits_of(dynamics))
    for r, name in zip(dynamics.region.values, names, strict=True):
        re = dynamics["eigenvalue_real"].sel(region=r).values
        im = dynamics["eigenvalue_imag"].sel(region=r).values
        ax.scatter(re, im, s=18, color=colours[int(r)], label=f"region {name}", alpha=0.8)
    ax.axhline(0, color="0.85", lw=0.5)
    ax.axvline(0, color="0.85", lw=0.5)
    ax.set(xlabel="Re λ", ylabel="Im λ", aspect="equal", title="Region spectra")
    ax.legend(fontsize=7)
    return fig


def plot_switch_latency(latency: xr.DataArray, *, axes: Any = None) -> Figure:
    """Histogram of the time from each event to the next region switch, one row per event.

    Parameters
    ----------
    latency : DataArray, dims (trial, event)
        Seconds from each event to the next change of region (``regimes.nc``).
    axes : sequence of Axes, optional
        One per event with latencies (rows of a new figure by default).

    Returns
    -------
    Figure
    """
    events = [e for e in latency.event.values if np.isfinite(latency.sel(event=e).values).any()]
    rows = max(len(events), 1)
    fig, grid = figure_and_axes(axes, rows, 1, 5, 1.2 + 1.3 * rows)
    panels = grid[:, 0]
    for ax, e in zip(panels, events, strict=False):
        x = latency.sel(event=e).values
        ax.hist(x[np.isfinite(x)], bins=20, color="C0")
        ax.set_ylabel("trials", fontsize=8)
        ax.set_title(f"after {literal(e)}", fontsize=8, loc="left")
    if not events:
        panels[0].text(0.5, 0.5, "no region switches after events", ha="center")
    panels[-1].set_xlabel("latency to the next region switch (s)")
    fig.suptitle("Switch latency", fontsize=10)
    return fig


def plot_analysis(result: Any, out_dir: str | os.PathLike) -> list[Path]:
    """Draw and save every figure of an ``AnalysisResult`` into ``out_dir`` (PNG + SVG)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reg = result.regimes
    figures = {
        "trajectories_pc": plot_trajectories(result.latents, n_pwl=reg.attrs.get("n_pwl")),
        "region_epoch": plot_region_epoch(reg["region_epoch"]),
        "transition_graph": plot_transition_graph(reg["transition_probability"], reg["frequency"]),
        "eigenvalues": plot_eigenvalues(result.dynamics),
    }
    if "switch_latency" in reg:
        figures["switch_latency"] = plot_switch_latency(reg["switch_latency"])
    paths: list[Path] = []
    for name, fig in figures.items():
        paths += save_figure(fig, out, name)
    return paths
