"""Which cells of a sweep stopped before their training was done.

A selection verdict is conditional on the training recipe: an undertrained P = 2 can lose to
P = 0 (docs/selection.md, section 4). A cell counts as **still improving** when it stopped at
its epoch limit (``stop_reason == "max_epochs"``) with its best validation epoch among the last
:data:`LATE_FRACTION` of its epochs (at least the last one): its validation loss had not
levelled off. A cell that **diverged** stopped on a non-finite loss. Early-stopped cells and
cells whose best epoch lies well before the limit count as trained.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from alrnn_neuro.training import rundir as rd

#: the tail of a fit's epochs in which a best validation epoch means "still improving"
LATE_FRACTION = 0.1


def training_state(metrics: dict) -> str:
    """``"still improving"``, ``"diverged"`` or ``"trained"`` from a run's ``metrics.json``.

    Examples
    --------
    >>> training_state({"stop_reason": "max_epochs", "best_epoch": 58, "epochs_run": 60})
    'still improving'
    >>> training_state({"stop_reason": "max_epochs", "best_epoch": 30, "epochs_run": 60})
    'trained'
    >>> training_state({"stop_reason": "early_stopping", "best_epoch": 60, "epochs_run": 80})
    'trained'
    """
    reason = metrics.get("stop_reason", "")
    if reason == "diverged":
        return "diverged"
    if reason != "max_epochs":
        return "trained"
    epochs = int(metrics.get("epochs_run", 0))
    late = max(1, math.ceil(LATE_FRACTION * epochs))
    return "still improving" if int(metrics.get("best_epoch", 0)) > epochs - late else "trained"


def undertrained_cells(root: Path, names: Iterable[str]) -> dict[str, list[str]]:
    """The cells of ``names`` (run folders under ``root / "cells"``) that did not finish
    training, by state: ``{"still improving": [...], "diverged": [...]}``."""
    found: dict[str, list[str]] = {"still improving": [], "diverged": []}
    for name in names:
        state = training_state(rd.read_json(root / "cells" / name / rd.METRICS))
        if state in found:
            found[state].append(name)
    return found


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
            f"(best validation epoch in the last {LATE_FRACTION:.0%} of epochs)"
        )
    if diverged:
        parts.append(f"{diverged} of {n_cells} cells diverged")
    return (
        f"Caution: {' and '.join(parts)}. The verdict is about these models, which may be "
        "undertrained (an undertrained P > 0 can lose to P = 0), not yet about the data; fix: "
        "sweep again into a new --out with more --epochs (and --patience to stop each fit "
        "once it has levelled off)."
    )
