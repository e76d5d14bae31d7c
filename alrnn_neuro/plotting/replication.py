"""Figure of a replication report: in how many fits each finding holds.

Input: the table of :func:`alrnn_neuro.sweep.replication_files.pooled_rates` (one row per
configuration and finding: ``latent_dim``, ``pwl_units``, ``train_fraction``, ``finding``,
``n_testable``, ``n_holds``, ``rate``). Matplotlib only, drawn on a
:class:`~matplotlib.figure.Figure` with the Agg canvas (no pyplot state).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.plotting.axes import figure_and_axes

REQUIRED = ("latent_dim", "pwl_units", "train_fraction", "finding", "n_testable", "n_holds", "rate")


def plot_replication(rates: pd.DataFrame, *, sweep: bool = False, axes: Any = None) -> Figure:
    """Replication rate of each finding: bars for one configuration, rate vs P for a sweep.

    Parameters
    ----------
    rates : DataFrame
        Output of :func:`~alrnn_neuro.sweep.replication_files.pooled_rates`.
    sweep : bool
        Draw one line per finding against P (one panel per M x train fraction) instead of
        one bar group per configuration.
    axes : Axes or sequence of Axes, optional
        Where to draw instead of a new figure: one panel for the bars, or one panel per
        (M, train fraction) configuration for ``sweep=True``.

    Returns
    -------
    Figure
        Findings never testable are drawn as "n/a"; each bar or point is labelled
        ``holds/testable``.

    Raises
    ------
    DataValidationError
        If ``rates`` lacks the columns of ``pooled_rates``.
    ConfigError
        If ``axes`` holds fewer panels than the figure draws.
    """
    missing = [c for c in REQUIRED if c not in rates.columns]
    if missing:
        raise DataValidationError(
            f"rates lacks the columns {missing}; fix: pass the table of pooled_rates(report)"
        )
    panels = list(rates.groupby(["latent_dim", "train_fraction"], sort=False, dropna=False))
    n_panels = len(panels) if sweep else 1
    fig, grid = figure_and_axes(axes, 1, n_panels, 6.5 * n_panels, 4.0)
    drawn = grid[0]
    if sweep:
        for ax, ((m, f), rows) in zip(drawn, panels, strict=True):
            _rate_vs_p(ax, rows)
            size = "" if pd.isna(f) else f", train fraction {f:g}"
            ax.set_title(f"M = {m}{size}", fontsize=10)
    else:
        _bars(drawn[0], rates)
    fig.suptitle(
        "replication across model seeds: share of fits in which a finding holds", fontsize=10
    )
    return fig


def _rate_vs_p(ax: Axes, rows: pd.DataFrame) -> None:
    pwl = np.sort(rows["pwl_units"].unique())
    findings = list(dict.fromkeys(rows["finding"]))
    offsets = np.linspace(-0.2, 0.2, len(findings))
    for k, finding in enumerate(findings):
        sub = rows[rows["finding"] == finding].set_index("pwl_units").reindex(pwl)
        x = np.arange(len(pwl)) + offsets[k]  # P as categories: P = M need not sit far right
        ax.plot(x, sub["rate"].to_numpy(dtype=float), "-o", ms=4, label=finding)
        for xi, r in zip(x, sub.itertuples(), strict=True):
            if r.n_testable and r.n_testable > 0:
                ax.annotate(
                    f"{int(r.n_holds)}/{int(r.n_testable)}",
                    (xi, r.rate),
                    fontsize=6,
                    textcoords="offset points",
                    xytext=(0, 4),
                    ha="center",
                )
    ax.set_xticks(np.arange(len(pwl)), [f"{p:g}" for p in pwl])
    ax.set_xlabel("PWL units P")
    ax.set_ylabel("replication rate (holds / testable fits)")
    ax.set_ylim(-0.05, 1.12)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _bars(ax: Axes, rates: pd.DataFrame) -> None:
    findings = list(dict.fromkeys(rates["finding"]))
    values = rates.set_index("finding").loc[findings]
    height = np.nan_to_num(values["rate"].to_numpy(dtype=float), nan=0.0)
    x = np.arange(len(findings))
    ax.bar(x, height, color="C0")
    for xi, r in zip(x, values.itertuples(), strict=True):
        text = "n/a" if not r.n_testable else f"{int(r.n_holds)}/{int(r.n_testable)}"
        ax.text(xi, (0.0 if np.isnan(r.rate) else r.rate) + 0.02, text, ha="center", fontsize=8)
    ax.set_xticks(x, findings, rotation=20)
    ax.set_ylabel("replication rate (holds / testable fits)")
    ax.set_ylim(0, 1.12)
    m, p = values["latent_dim"].iloc[0], values["pwl_units"].iloc[0]
    ax.set_title(f"M = {m}, P = {p}", fontsize=10)


def save_replication_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically."""
    final = Path(path)
    with atomic_path(final) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return final
