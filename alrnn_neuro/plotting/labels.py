"""Point labels that do not overlap: a small, deterministic repulsion (no extra dependency).

Each label starts just off its point, on the side away from the points' centre, and is then
pushed apart from the labels and points it overlaps, for a fixed number of rounds, inside
the axes. A label that ends up away from its point is joined to it by a thin leader line.
Good for the dozen or so conditions of an MDS plot; for hundreds of points use a legend.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes

from alrnn_neuro.plotting.text import literal

#: how far a label sits off its point to begin with, in axes fractions
START_OFFSET = 0.05
#: a label this far (axes fractions) from its point gets a leader line
LEADER_AT = 0.07


def spread_labels(
    points: np.ndarray,
    sizes: np.ndarray,
    *,
    rounds: int = 200,
    point_size: float = 0.03,
) -> np.ndarray:
    """Centres of label boxes near their points without overlaps (as far as rounds allow).

    Parameters
    ----------
    points : ndarray, shape (n, 2)
        Points in axes fractions (0..1).
    sizes : ndarray, shape (n, 2)
        Width and height of each label box, in axes fractions.
    rounds : int
        Push rounds.
    point_size : float
        Side of the square each point keeps clear of labels.

    Returns
    -------
    ndarray, shape (n, 2)
        Label centres in axes fractions, inside the axes.

    Examples
    --------
    >>> pts = np.array([[0.5, 0.5], [0.5, 0.5]])
    >>> at = spread_labels(pts, np.full((2, 2), 0.1))
    >>> bool(np.abs(at[0] - at[1]).max() >= 0.1 - 1e-9)  # the two labels no longer overlap
    True
    """
    n = len(points)
    centre = points.mean(axis=0)
    away = points - centre
    norm = np.linalg.norm(away, axis=1, keepdims=True)
    spread = np.stack([np.cos(np.arange(n) * 2.4), np.sin(np.arange(n) * 2.4)], axis=1)
    away = np.where(norm > 1e-9, away / np.maximum(norm, 1e-9), spread)  # ties: golden angle
    at = points + away * (START_OFFSET + sizes / 2)
    at = np.clip(at, sizes / 2, 1 - sizes / 2)
    point_sizes = np.full((n, 2), point_size)  # points, as boxes labels must leave free
    for _ in range(rounds):
        moved = False
        for i in range(n):
            boxes = np.concatenate([np.delete(at, i, 0), points])
            box_sizes = np.concatenate([np.delete(sizes, i, 0), point_sizes])
            delta = at[i] - boxes
            overlap = (sizes[i] + box_sizes) / 2 - np.abs(delta)
            hit = (overlap > 0).all(axis=1)
            if not hit.any():
                continue
            k = np.flatnonzero(hit)[np.argmax(overlap[hit].min(axis=1))]
            at[i] = _step_out(at[i], sizes[i], delta[k], overlap[k], i)
            moved = True
        if not moved:
            break
    return at


def _step_out(
    centre: np.ndarray, size: np.ndarray, delta: np.ndarray, overlap: np.ndarray, i: int
) -> np.ndarray:
    """Move one label box clear of one overlapping box: along the shorter way out, or, where
    the axes edge blocks it, the other way or along the other axis."""
    shorter = int(np.argmin(overlap))
    for axis in (shorter, 1 - shorter):
        first = np.sign(delta[axis]) or (1.0 if i % 2 else -1.0)
        for direction in (first, -first):
            shift = overlap[axis] if direction == first else 2 * np.abs(delta[axis]) + overlap[axis]
            moved = centre.copy()
            moved[axis] += direction * (shift + 1e-3)
            if size[axis] / 2 <= moved[axis] <= 1 - size[axis] / 2:
                return moved
    return np.clip(centre + 1e-2 * (1 if i % 2 else -1), size / 2, 1 - size / 2)


def label_points(
    ax: Axes, xy: np.ndarray, names: Sequence[str], *, fontsize: float = 6.0
) -> list[object]:
    """Write ``names`` beside the points ``xy`` (data coordinates) of ``ax`` without overlaps.

    The axes limits are fixed first (with room for the labels); NaN points get no label.

    Returns
    -------
    list
        The matplotlib annotations drawn.
    """
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any():
        return []
    ax.margins(0.25)
    ax.autoscale_view()
    ax.set_xlim(ax.get_xlim())  # freeze the limits the labels are placed in
    ax.set_ylim(ax.get_ylim())
    points = ax.transAxes.inverted().transform(ax.transData.transform(xy[ok]))
    fig = ax.figure.figure
    box = ax.get_position()
    width_pt = max(box.width * fig.get_figwidth() * 72, 1.0)
    height_pt = max(box.height * fig.get_figheight() * 72, 1.0)
    shown = [literal(n) for n, keep in zip(names, ok, strict=True) if keep]
    sizes = np.array([[0.6 * fontsize * len(s), 1.3 * fontsize] for s in shown])
    sizes /= np.array([width_pt, height_pt])
    at = spread_labels(points, sizes)
    drawn = []
    for name, point, place in zip(shown, points, at, strict=True):
        far = np.linalg.norm(place - point) > LEADER_AT
        arrow = {"arrowstyle": "-", "lw": 0.4, "color": "0.5"} if far else None
        drawn.append(
            ax.annotate(
                name,
                xy=tuple(point),
                xycoords="axes fraction",
                xytext=tuple(place),
                textcoords="axes fraction",
                ha="center",
                va="center",
                fontsize=fontsize,
                arrowprops=arrow,
            )
        )
    return drawn
