"""Where a figure is drawn: a new Agg figure, or axes the caller passes (``ax=`` / ``axes=``).

Every ``plot_*`` function takes ``ax=`` (one panel) or ``axes=`` (several) so that a notebook
or a paper figure can place it in its own layout, and returns the Figure it drew on. Without
them a new :class:`~matplotlib.figure.Figure` with the Agg canvas is made (no pyplot state, no
display needed), sized for the content.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from alrnn_neuro.errors import ConfigError, DataValidationError


def new_figure(width: float, height: float) -> Figure:
    """An empty Agg figure of ``width`` x ``height`` inches with constrained layout."""
    fig = Figure(figsize=(width, height), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig


def figure_and_ax(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure of ``width`` x ``height`` with one axes."""
    if ax is not None:
        return root_figure(ax), ax
    fig = new_figure(width, height)
    return fig, fig.add_subplot()


def figure_and_axes(
    axes: Sequence[Axes] | np.ndarray | None,
    rows: int,
    cols: int,
    width: float,
    height: float,
    *,
    name: str = "axes",
) -> tuple[Figure, np.ndarray]:
    """The caller's ``axes`` (at least ``rows * cols``, as a (rows, cols) array) and their
    figure, or a new figure with a ``rows`` x ``cols`` grid.

    Raises
    ------
    ConfigError
        If ``axes`` holds fewer panels than the plot draws.
    """
    if axes is None:
        fig = new_figure(width, height)
        return fig, fig.subplots(rows, cols, squeeze=False)
    flat = np.asarray(axes, dtype=object).ravel()
    if flat.size < rows * cols:
        raise ConfigError(
            f"{name}= has {flat.size} axes but this plot draws {rows} x {cols} panels; fix: "
            f"pass {rows * cols} axes (e.g. fig.subplots({rows}, {cols})) or leave {name}=None"
        )
    return root_figure(flat[0]), flat[: rows * cols].reshape(rows, cols)


def root_figure(ax: Axes) -> Figure:
    """The top-level figure of ``ax`` (not a subfigure it may sit in)."""
    return ax.figure.figure  # a SubFigure's .figure is its root; a Figure's is itself


def require_variables(data: Any, names: Sequence[str], what: str, fix: str) -> None:
    """Raise :class:`DataValidationError` naming the variables of ``names`` that ``data``
    (a Dataset, or any container) lacks: ``"{what} lacks [...]; fix: {fix}"``."""
    missing = [name for name in names if name not in data]
    if missing:
        raise DataValidationError(f"{what} lacks {missing}; fix: {fix}")
