"""Figures of an analysed run: trajectories by region, region x epoch, transitions, spectra.

Matplotlib only, drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas (no
pyplot state, no display needed). :func:`save_figure` writes PNG and SVG atomically;
:func:`plot_analysis` draws and saves every figure of an
:class:`~alrnn_neuro.analysis.pipeline.AnalysisResult`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro.plotting.text import literal

CMAP = "tab10"


def _figure(width: float = 5.0, height: float = 4.0) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _colours(regions: np.ndarray) -> dict[int, Any]:
    cmap = matplotlib.colormaps[CMAP]
    return {int(r): cmap(int(r) % 10) for r in regions}  # same colour in every figure


def save_figure(fig: Figure, out_dir: str | os.PathLike, name: str) -> list[Path]:
    """Save ``fig`` as ``name.png`` and ``name.svg`` in ``out_dir`` (atomic writes)."""
    paths = []
    for ext in ("png", "svg"):
        path = Path(out_dir) / f"{name}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=120)
        paths.append(path)
    return paths


def plot_trajectories(latents: xr.Dataset, *, max_trials: int = 40) -> Figure:
    """Latent trajectories projected on their first two PCs, points coloured by region.

    Parameters
    ----------
    latents : Dataset
        ``latents`` (trial, time, latent), ``bitcode``, ``valid`` and ``epoch`` (trial, time).
    max_trials : int
        Trials drawn (the first ones).
    """
    z = latents["latents"].transpose("trial", "time", "latent").values.astype(float)
    ok = latents["valid"].values.astype(bool) & np.all(np.isfinite(z), axis=-1)
    codes = latents["bitcode"].values
    mean = z[ok].mean(0)
    _, _, vt = np.linalg.svd(z[ok] - mean, full_matrices=False)
    pcs = vt[:2] if vt.shape[0] >= 2 else np.vstack([vt, np.zeros_like(vt)])
    xy = (z - mean) @ pcs.T
    fig, ax = _figure(6, 5)
    colours = _colours(np.unique(codes[ok]))
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
        ax.scatter([], [], color=col, s=12, label=f"region {r}")
    ax.scatter([], [], marker="x", c="k", label="epoch boundary")
    ax.legend(fontsize=7, loc="best")
    ax.set(xlabel="PC 1", ylabel="PC 2", title="Latent trajectories by region")
    return fig


def plot_region_epoch(table: xr.DataArray) -> Figure:
    """Heatmap of the region x epoch table, each epoch column normalised to fractions."""
    frac = table / table.sum("region").clip(min=1)
    fig, ax = _figure(1.2 + 0.9 * table.sizes["epoch"], 1.2 + 0.45 * table.sizes["region"])
    im = ax.imshow(frac.transpose("region", "epoch").values, cmap="viridis", vmin=0, vmax=1)
    epochs = [literal(e) for e in table.epoch.values]
    ax.set_xticks(range(table.sizes["epoch"]), epochs, rotation=45)
    ax.set_yticks(range(table.sizes["region"]), [str(r) for r in table.region.values])
    ax.set(xlabel="epoch", ylabel="region", title="Fraction of epoch steps per region")
    fig.colorbar(im, ax=ax, label="fraction")
    return fig


def plot_transition_graph(probability: xr.DataArray, usage: xr.DataArray) -> Figure:
    """Regions on a circle (size = usage), arrows for transition probabilities >= 0.02."""
    regions = probability.region_from.values
    n = len(regions)
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False) + np.pi / 2
    pos = {int(r): (np.cos(a), np.sin(a)) for r, a in zip(regions, angle, strict=True)}
    fig, ax = _figure(5, 5)
    colours = _colours(regions)
    P = np.nan_to_num(probability.transpose("region_from", "region_to").values)
    for i, a in enumerate(regions):
        for j, b in enumerate(regions):
            if i == j or P[i, j] < 0.02:
                continue
            (x0, y0), (x1, y1) = pos[int(a)], pos[int(b)]
            ax.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops={
                    "arrowstyle": "->",
                    "lw": 0.5 + 4 * P[i, j],
                    "alpha": 0.7,
                    "connectionstyle": "arc3,rad=0.15",
                    "shrinkA": 14,
                    "shrinkB": 14,
                },
            )
    use = usage.reindex(region=regions).fillna(0).values
    for k, r in enumerate(regions):
        x, y = pos[int(r)]
        ax.scatter(x, y, s=200 + 1500 * use[k], color=colours[int(r)], zorder=3)
        ax.text(x, y, f"{r}\n{P[k, k]:.2f}", ha="center", va="center", fontsize=7, zorder=4)
    ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", title="Region transitions")
    ax.axis("off")
    return fig


def plot_eigenvalues(dynamics: xr.Dataset) -> Figure:
    """Eigenvalues of each region's Jacobian in the complex plane, with the unit circle."""
    fig, ax = _figure(5, 5)
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.5", lw=0.8)
    colours = _colours(dynamics.region.values)
    for r in dynamics.region.values:
        re = dynamics["eigenvalue_real"].sel(region=r).values
        im = dynamics["eigenvalue_imag"].sel(region=r).values
        ax.scatter(re, im, s=18, color=colours[int(r)], label=f"region {r}", alpha=0.8)
    ax.axhline(0, color="0.85", lw=0.5)
    ax.axvline(0, color="0.85", lw=0.5)
    ax.set(xlabel="Re λ", ylabel="Im λ", aspect="equal", title="Region spectra")
    ax.legend(fontsize=7)
    return fig


def plot_switch_latency(latency: xr.DataArray) -> Figure:
    """Histogram of the time from each event to the next region switch, one row per event."""
    events = [e for e in latency.event.values if np.isfinite(latency.sel(event=e).values).any()]
    fig = Figure(figsize=(5, 1.2 + 1.3 * max(len(events), 1)), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(len(events), 1), 1, squeeze=False)[:, 0]
    for ax, e in zip(axes, events, strict=False):
        x = latency.sel(event=e).values
        ax.hist(x[np.isfinite(x)], bins=20, color="C0")
        ax.set_ylabel(literal(e), fontsize=8)
    if not events:
        axes[0].text(0.5, 0.5, "no region switches after events", ha="center")
    axes[-1].set_xlabel("latency to next region switch (s)")
    axes[0].set_title("Switch latency")
    return fig


def plot_analysis(result: Any, out_dir: str | os.PathLike) -> list[Path]:
    """Draw and save every figure of an ``AnalysisResult`` into ``out_dir`` (PNG + SVG)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reg = result.regimes
    figures = {
        "trajectories_pc": plot_trajectories(result.latents),
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
