"""Which cells of a sweep stopped before their training was done.

A selection verdict is conditional on the training recipe: an undertrained P = 2 can lose to
P = 0 (docs/selection.md, section 4). A cell counts as **still improving** when it stopped at
its epoch limit (``stop_reason == "max_epochs"``) while its validation loss was still falling
noticeably: the last :data:`LATE_FRACTION` of its epochs (at least the last one) brought more
than :data:`LATE_GAIN` of the improvement since its first epoch. A loss that approaches its
floor as ``exp(-epoch / tau)`` crosses that line when the fit is about 1.8 ``tau`` long
(84 % of the way); fits that only creep down (a best epoch at the very end, by 1e-5) count as
trained, so the caution does not cry wolf on every long sweep. Without a ``history.nc`` the
best epoch decides (in the late epochs: still improving). A cell that **diverged** stopped on a
non-finite loss. Early-stopped cells count as trained.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro.training import rundir as rd

#: the tail of a fit's epochs whose validation-loss drop is weighed
LATE_FRACTION = 0.1
#: share of the improvement since the first epoch that, in that tail, means "still improving"
LATE_GAIN = 0.03


def training_state(metrics: dict, val_loss: np.ndarray | None = None) -> str:
    """``"still improving"``, ``"diverged"`` or ``"trained"`` from a run's ``metrics.json``
    and its validation loss per epoch (``history.nc``'s ``val_loss``; None: not known).

    Examples
    --------
    >>> ended = {"stop_reason": "max_epochs", "best_epoch": 60, "epochs_run": 60}
    >>> training_state(ended, 1 + np.exp(-np.arange(1, 61) / 40))  # far from its floor
    'still improving'
    >>> training_state(ended, 1 + np.exp(-np.arange(1, 61) / 10))  # close to it
    'trained'
    >>> training_state({**ended, "stop_reason": "early_stopping"})
    'trained'
    """
    reason = metrics.get("stop_reason", "")
    if reason == "diverged":
        return "diverged"
    if reason != "max_epochs":
        return "trained"
    epochs = int(metrics.get("epochs_run", 0))
    late = max(1, math.ceil(LATE_FRACTION * epochs))
    losses = None if val_loss is None else np.asarray(val_loss, dtype=float)
    if losses is None or losses.size != epochs or not np.isfinite(losses).all() or epochs < 2:
        late_best = int(metrics.get("best_epoch", 0)) > epochs - late
        return "still improving" if late_best else "trained"
    floor = losses.min()
    total = losses[0] - floor
    gain = losses[: epochs - late].min() - floor  # what the last epochs added
    return "still improving" if total > 0 and gain > LATE_GAIN * total else "trained"


def undertrained_cells(root: Path, names: Iterable[str]) -> dict[str, list[str]]:
    """The cells of ``names`` (run folders under ``root / "cells"``) that did not finish
    training, by state: ``{"still improving": [...], "diverged": [...]}``."""
    found: dict[str, list[str]] = {"still improving": [], "diverged": []}
    for name in names:
        run = root / "cells" / name
        state = training_state(rd.read_json(run / rd.METRICS), _val_loss(run))
        if state in found:
            found[state].append(name)
    return found


def _val_loss(run: Path) -> np.ndarray | None:
    """The run's validation loss per epoch, or None without a readable ``history.nc``."""
    try:
        with xr.open_dataset(run / rd.HISTORY, engine="h5netcdf") as history:
            return history["val_loss"].values
    except (OSError, KeyError, ValueError):
        return None


def training_caution(n_cells: int, still_improving: int, diverged: int) -> str | None:
    """One line of caution for a verdict built on undertrained cells, or None.

    Examples
    --------
    >>> training_caution(12, 0, 0) is None
    True
    >>> training_caution(12, 12, 0)[:46]
    'Caution: 12 of 12 cells stopped at their epoch'
    """
    if not (still_improving or diverged):
        return None
    parts = []
    if still_improving:
        parts.append(
            f"{still_improving} of {n_cells} cells stopped at their epoch limit still improving "
            f"(their last {LATE_FRACTION:.0%} of epochs lowered the validation loss by more "
            f"than {LATE_GAIN:.0%} of its drop since the first)"
        )
    if diverged:
        parts.append(f"{diverged} of {n_cells} cells diverged")
    return (
        f"Caution: {' and '.join(parts)}. The verdict is about these models, which may be "
        "undertrained (an undertrained P > 0 can lose to P = 0), not yet about the data; fix: "
        "sweep again into a new --out with more --epochs (and --patience to stop each fit "
        "once it has levelled off)."
    )
