"""Figure of the low-data comparison: held-out accuracy vs training-set size per network.

Input: ``baselines/baselines.nc`` of ``reproduce tasks``
(:func:`alrnn_neuro.reproduce.task_baselines.write_comparison`): ``accuracy`` (task,
train_fraction, model), ``accuracy_ci`` (..., bound), and per task ``latent_dim`` and
``sparse_pwl_units``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from alrnn_neuro.plotting.axes import figure_and_axes, require_variables

REQUIRED = ("accuracy", "accuracy_ci", "latent_dim", "sparse_pwl_units")
#: colour and line style per role of a network in the comparison, and per baseline
STYLE = {"linear": ("C7", ":"), "sparse": ("C3", "-"), "full": ("C0", "--")}
BASELINE_STYLE = {"gru": ("C4", "-."), "lstm": ("C5", "-."), "rnn": ("C2", "-.")}


def compared_models(table: xr.Dataset, task: str) -> list[tuple[str, str]]:
    """(model label, role) of one task, in drawing order: P = 0, the sparse P, P = M, baselines.

    Parameters
    ----------
    table : xr.Dataset
        The comparison file's dataset.
    task : str
        One of its tasks.
    """
    row = table.sel(task=task)
    scored = np.isfinite(row["accuracy"].values).any(
        axis=row["accuracy"].dims.index("train_fraction")
    )
    present = [str(m) for m, ok in zip(row["model"].values, scored, strict=True) if ok]
    sparse, m = int(row["sparse_pwl_units"]), int(row["latent_dim"])
    wanted = [("P=0", "linear"), (f"P={sparse}", "sparse"), (f"P={m}", "full")]
    out = [(label, role) for label, role in wanted if label in present and label != "P=-1"]
    return out + [(name, "baseline") for name in present if not name.startswith("P=")]


def plot_low_data(table: xr.Dataset, *, axes: Any = None) -> Figure:
    """One panel per task: held-out accuracy (95 % CI) against the train fraction for P = 0,
    the task's sparse P, P = M and each baseline.

    Parameters
    ----------
    table : xr.Dataset
        ``baselines.nc`` (see the module docstring).
    axes : sequence of Axes, optional
        One panel per task to draw into instead of a new figure.

    Returns
    -------
    Figure

    Raises
    ------
    DataValidationError
        If ``table`` lacks the comparison's variables.
    ConfigError
        If ``axes`` holds fewer panels than tasks.
    """
    fix = "pass baselines/baselines.nc of `alrnn-neuro reproduce tasks`"
    require_variables(table, REQUIRED, "the comparison table", fix)
    tasks = [str(t) for t in table["task"].values]
    fig, grid = figure_and_axes(axes, 1, len(tasks), 3.4 * len(tasks), 3.4)
    fractions = table["train_fraction"].values
    for k, (task, ax) in enumerate(zip(tasks, grid[0], strict=True)):
        row = table.sel(task=task)
        for label, role in compared_models(table, task):
            colour, dash = STYLE.get(role) or BASELINE_STYLE.get(label, ("C8", "-."))
            accuracy = row["accuracy"].sel(model=label).values
            ci = row["accuracy_ci"].sel(model=label).values  # (train_fraction, bound)
            name = f"{label} (sparse)" if role == "sparse" else label
            ax.errorbar(
                fractions,
                accuracy,
                yerr=np.abs(ci.T - accuracy),
                color=colour,
                linestyle=dash,
                marker="o",
                capsize=3,
                label=name,
            )
        ax.set_xscale("log")
        ax.minorticks_off()  # only the fractions swept are labelled
        ax.set_xticks(fractions, [f"{f:g}" for f in fractions])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("train fraction (share of training trials)")
        if k == 0:
            ax.set_ylabel("held-out accuracy (study's criterion)")
        ax.set_title(f"{task} (M = {int(row['latent_dim'])})", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    return fig
