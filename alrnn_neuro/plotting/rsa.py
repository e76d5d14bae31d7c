"""Figures of an RSA result (:func:`alrnn_neuro.analysis.rsa.pipeline.run_rsa`).

- :func:`plot_rdms`: RDM heatmaps per segment, model and each area side by side;
- :func:`plot_mds`: 2-D metric MDS of the conditions per segment (seeded);
- :func:`plot_similarity`: model-neural similarity per segment with CI band and noise ceiling
  (for a two-condition result: the model and neural distances vs 0);
- :func:`save_rsa_figures`: all three as PNG + SVG.

Figures are drawn on :class:`~matplotlib.figure.Figure` objects with the Agg canvas (no
pyplot state, so importing this module leaves a notebook's backend alone); every ``plot_*``
takes ``ax=`` / ``axes=`` to draw into the caller's layout and returns the Figure.
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

from alrnn_neuro.plotting.axes import figure_and_ax, figure_and_axes
from alrnn_neuro.plotting.files import save_png_and_svg
from alrnn_neuro.plotting.labels import label_points
from alrnn_neuro.plotting.text import literal

MAX_PANELS = 5
MAX_LABELLED = 12  # conditions named on the axes up to this many


def _segments(rsa: xr.Dataset, max_panels: int = MAX_PANELS) -> tuple[str, np.ndarray]:
    """Segment dim and at most ``max_panels`` evenly spaced labels with a finite estimate."""
    seg = rsa.attrs.get("segment_dim", "epoch")
    value = "estimate" if "estimate" in rsa else "neural_distance"
    ok = np.isfinite(rsa[value]).any("area").values
    labels = rsa[seg].values[ok] if ok.any() else rsa[seg].values
    if labels.size > max_panels:
        labels = labels[np.linspace(0, labels.size - 1, max_panels).round().astype(int)]
    return seg, labels


def _sources(rsa: xr.Dataset) -> list[tuple[str, xr.DataArray]]:
    """(title, RDM stack over the segment dim) for the model and each area."""
    out = [("model", rsa["model_rdm"])]
    out += [(literal(a), rsa["neural_rdm"].sel(area=a)) for a in rsa["area"].values]
    return out


def _title(seg: str, label) -> str:
    if isinstance(label, float | np.floating):
        return f"{literal(seg)} {label:.2f} s"
    return f"{literal(seg)} {literal(label)}"


def plot_rdms(rsa: xr.Dataset, *, max_panels: int = MAX_PANELS, axes: Any = None) -> Figure:
    """RDM heatmaps: one row per segment, columns model and each area.

    Each panel has its own colour scale from 0 (dark) to its maximum (shown in the title);
    negative crossnobis estimates (noise around 0) show as 0.

    Parameters
    ----------
    rsa : xr.Dataset
        The result of ``run_rsa`` (or ``rsa.nc``).
    max_panels : int
        Most segments (rows) drawn, evenly spaced.
    axes : 2-D array of Axes, optional
        (segments, 1 + areas) panels to draw into instead of a new figure.

    Returns
    -------
    Figure
    """
    seg, labels = _segments(rsa, max_panels)
    sources = _sources(rsa)
    names = [literal(c) for c in rsa["condition"].values]
    rows, cols = len(labels), len(sources)
    fig, axes = figure_and_axes(axes, rows, cols, 3.0 * cols, 2.6 * rows + 1)
    ticks = np.arange(len(names))
    shown = names if len(names) <= MAX_LABELLED else []
    for col, (title, stack) in enumerate(sources):
        for row, label in enumerate(labels):
            ax = axes[row, col]
            values = stack.sel({seg: label}).values
            top = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
            ax.imshow(values, cmap="viridis", vmin=0.0, vmax=top if top > 0 else 1.0)
            ax.set_title(f"{title}: {_title(seg, label)}\n(max {top:.3g})", fontsize=8)
            ax.set_xticks(ticks, shown if row == len(labels) - 1 else [], rotation=90, fontsize=6)
            ax.set_yticks(ticks, shown if col == 0 else [], fontsize=6)
    over = literal(rsa.attrs.get("conditions", ""))
    fig.suptitle(f"RDMs ({literal(rsa.attrs.get('distance', ''))}) over {over}")
    return fig


def mds_embedding(rdm: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """2-D metric MDS of one RDM (negative crossnobis estimates clipped at 0).

    Parameters
    ----------
    rdm : ndarray, shape (condition, condition)
        Dissimilarities; conditions with NaN get NaN coordinates.
    seed : int
        Seed of the MDS initialisation.

    Returns
    -------
    ndarray, shape (condition, 2)
    """
    from sklearn.manifold import MDS

    rdm = np.asarray(rdm, dtype=np.float64)
    ok = ~np.isnan(rdm).all(axis=1) & ~np.isnan(rdm).any(axis=0)
    out = np.full((rdm.shape[0], 2), np.nan)
    if ok.sum() < 3:
        return out
    sub = np.clip(rdm[np.ix_(ok, ok)], 0.0, None)
    sub = (sub + sub.T) / 2
    if not sub.any():  # all conditions alike: one point (SMACOF would divide by zero)
        out[ok] = 0.0
        return out
    out[ok] = MDS(**_mds_kwargs(seed)).fit_transform(sub, init=_classical_init(sub, seed))
    return out


def _mds_kwargs(seed: int) -> dict:
    """Precomputed-dissimilarity MDS settings for old (``dissimilarity=``) and new
    (``metric=``, scikit-learn >= 1.8) signatures, without deprecation warnings."""
    import inspect

    from sklearn.manifold import MDS

    params = inspect.signature(MDS).parameters
    kwargs = {"n_components": 2, "random_state": seed, "n_init": 1}
    if "metric_mds" in params:
        kwargs.update(metric="precomputed", metric_mds=True, init="random")
    else:
        kwargs.update(dissimilarity="precomputed")
    return kwargs


def _classical_init(rdm: np.ndarray, seed: int) -> np.ndarray:
    """Classical (Torgerson) MDS start for SMACOF, negative eigenvalues clipped, plus a tiny
    seeded jitter so that coincident conditions can separate."""
    n = rdm.shape[0]
    centre = np.eye(n) - 1.0 / n
    w, v = np.linalg.eigh(-0.5 * centre @ (rdm**2) @ centre)
    start = v[:, ::-1][:, :2] * np.sqrt(np.clip(w[::-1][:2], 0.0, None))
    scale = max(float(np.abs(start).max()), float(np.nanmax(rdm)), 1e-12)
    return start + 1e-3 * scale * np.random.default_rng(seed).normal(size=start.shape)


def plot_mds(
    rsa: xr.Dataset, *, seed: int = 0, max_panels: int = MAX_PANELS, axes: Any = None
) -> Figure:
    """MDS of the conditions per segment (rows) for model and each area (columns).

    Up to :data:`MAX_LABELLED` conditions are named beside their points (labels pushed
    apart, with leader lines where they moved); more get a colour legend instead.

    Parameters
    ----------
    rsa : xr.Dataset
        The result of ``run_rsa`` (or ``rsa.nc``).
    seed : int
        Seed of the MDS initialisation.
    max_panels : int
        Most segments (rows) drawn.
    axes : 2-D array of Axes, optional
        (segments, 1 + areas) panels to draw into instead of a new figure.

    Returns
    -------
    Figure
    """
    seg, labels = _segments(rsa, max_panels)
    sources = _sources(rsa)
    names = [str(c) for c in rsa["condition"].values]
    colours = matplotlib.colormaps["tab20"](np.arange(len(names)) % 20)
    rows, cols = len(labels), len(sources)
    fig, axes = figure_and_axes(axes, rows, cols, 3.2 * cols, 2.8 * rows + 0.6)
    for row, label in enumerate(labels):
        for col, (title, stack) in enumerate(sources):
            ax = axes[row, col]
            xy = mds_embedding(stack.sel({seg: label}).values, seed=seed)
            ax.scatter(xy[:, 0], xy[:, 1], c=colours, s=30)
            if len(names) <= MAX_LABELLED:
                label_points(ax, xy, names)
            ax.set_title(f"{title}: {_title(seg, label)}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    if len(names) > MAX_LABELLED:
        handles = [
            matplotlib.lines.Line2D([], [], marker="o", ls="", color=c, label=literal(n))
            for n, c in zip(names, colours, strict=True)
        ]
        fig.legend(handles=handles, fontsize=6, loc="outside right upper")
    fig.suptitle("MDS of conditions")
    return fig


def plot_similarity(rsa: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """Model-neural similarity per segment and area: line, CI band, noise-ceiling band (and
    the model against the split RDMs the ceiling is made of, as open circles). For a
    two-condition result: the neural and model distances per segment, with 0 marked.

    Parameters
    ----------
    rsa : xr.Dataset
        The result of ``run_rsa`` (or ``rsa.nc``).
    ax : Axes, optional
        Draw here instead of a new figure.

    Returns
    -------
    Figure
    """
    seg = rsa.attrs.get("segment_dim", "epoch")
    values = rsa[seg].values
    numeric = np.issubdtype(values.dtype, np.number)
    x = values.astype(float) if numeric else np.arange(values.size)
    fig, ax = figure_and_ax(ax, max(4.0, 0.9 * min(values.size, 12) + 2), 3.2)
    if "estimate" in rsa:
        _similarity_lines(ax, rsa, x)
        ax.set_ylabel(f"similarity ({literal(rsa.attrs.get('compare', ''))})")
        ax.set_title("model-neural RDM similarity (* p_corrected < 0.05)", fontsize=10)
    else:
        _distance_lines(ax, rsa, x)
        ax.set_ylabel(f"{literal(rsa.attrs.get('distance', ''))} distance")
        ax.set_title("two conditions: distance vs 0 (* p_corrected < 0.05)", fontsize=10)
    ax.axhline(0.0, color="0.5", lw=0.8)
    if not numeric:
        ax.set_xticks(x, [literal(v) for v in values])
    ax.set_xlabel(f"{literal(seg)} (s)" if numeric else literal(seg))
    ax.legend(fontsize=7, frameon=False)
    return fig


def _similarity_lines(ax, rsa: xr.Dataset, x: np.ndarray) -> None:
    for k, area in enumerate(rsa["area"].values):
        r = rsa.sel(area=area)
        colour = f"C{k}"
        ax.fill_between(
            x,
            r["noise_ceiling_low"],
            r["noise_ceiling_high"],
            color=colour,
            alpha=0.12,
            hatch="//",
            label=f"{literal(area)} noise ceiling",
        )
        ax.fill_between(x, r["ci_low"], r["ci_high"], color=colour, alpha=0.25)
        ax.plot(x, r["estimate"], "o-", color=colour, label=f"model vs {literal(area)}")
        if "model_vs_splits" in r:
            ax.plot(x, r["model_vs_splits"], "o", mfc="none", color=colour, ms=5)
        sig = np.asarray(r["p_corrected"] < 0.05)
        ax.plot(x[sig], np.asarray(r["estimate"])[sig], "*", color="k", ms=9)


def _distance_lines(ax, rsa: xr.Dataset, x: np.ndarray) -> None:
    for k, area in enumerate(rsa["area"].values):
        r = rsa.sel(area=area)
        ax.plot(x, r["neural_distance"], "o-", color=f"C{k}", label=literal(area))
        sig = np.asarray(r["neural_p_corrected"] < 0.05)
        ax.plot(x[sig], np.asarray(r["neural_distance"])[sig], "*", color="k", ms=9)
    model = np.asarray(rsa["model_distance"])
    ax.plot(x, model, "s--", color="0.3", label="model")
    sig = np.asarray(rsa["model_p_corrected"] < 0.05)
    ax.plot(x[sig], model[sig], "*", color="k", ms=9)


def save_figure(fig: Figure, stem: str | os.PathLike) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.svg`` (SVG text as text: small, fast files; the
    same bytes on every run); return the paths."""
    return save_png_and_svg(fig, Path(stem), png_dpi=100, svg_text=True)


def save_rsa_figures(rsa: xr.Dataset, folder: str | os.PathLike, *, seed: int = 0) -> list[Path]:
    """Write ``rsa_rdms``, ``rsa_mds``, ``rsa_similarity`` (PNG + SVG) into ``folder``."""
    folder = Path(folder)
    paths = save_figure(plot_rdms(rsa), folder / "rsa_rdms")
    paths += save_figure(plot_mds(rsa, seed=seed), folder / "rsa_mds")
    paths += save_figure(plot_similarity(rsa), folder / "rsa_similarity")
    return paths
