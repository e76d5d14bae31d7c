"""Size ensembles to memory: how many AL-RNNs one task may train together.

An ensemble of K members holds K copies of every per-step tensor of a training step. The
largest of them live along (trial, time): the recurrence saves the states, pre-activations and
their gradients (about ``6 M`` numbers per trial step) and the observation loss forms rates and
their gradients (about ``3 N``). Validation runs on chunks of :data:`EVAL_CHUNK` trials, so the
peak is set by ``max(batch_size, EVAL_CHUNK)`` trials. :func:`member_bytes` turns that into bytes
(with a safety factor of 2), and :func:`ensemble_size` divides half of the available memory
(shared by the worker processes) by it.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

#: trials per chunk of the ensemble's validation pass (``evaluate_members``)
EVAL_CHUNK = 256
#: share of the available memory the ensembles of all workers may use together
MEMORY_SHARE = 0.5


def member_bytes(
    *, n_time: int, n_units: int, latent_dim: int, batch_size: int, itemsize: int = 4
) -> int:
    """Peak bytes one ensemble member adds to a training or validation step.

    Parameters
    ----------
    n_time : int
        Time steps per trial (the dataset's ``time`` dim).
    n_units : int
        Observed units N (or task outputs).
    latent_dim : int
        Latent units M.
    batch_size : int
        Training trials per step.
    itemsize : int
        Bytes per number (4 for float32, 8 for float64).

    Returns
    -------
    int

    Examples
    --------
    >>> member_bytes(n_time=60, n_units=30, latent_dim=16, batch_size=32)
    22855680
    """
    trials = max(batch_size, EVAL_CHUNK)
    per_step = 6 * latent_dim + 3 * n_units
    return 2 * itemsize * trials * n_time * per_step


def available_memory() -> int | None:
    """Bytes of memory available now (None when the platform does not say)."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def ensemble_size(
    max_members: int,
    per_member: int,
    *,
    workers: int = 1,
    budget: int | None = None,
) -> int:
    """Members per ensemble: at most ``max_members``, and as many as fit in memory.

    Parameters
    ----------
    max_members : int
        The user's upper bound (``SweepGrid.max_members``).
    per_member : int
        Bytes per member (:func:`member_bytes`).
    workers : int
        Processes training ensembles at the same time (they share ``budget``).
    budget : int, optional
        Bytes the ensembles may use together; default :data:`MEMORY_SHARE` of
        :func:`available_memory` (no memory cap when that is unknown).

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> ensemble_size(16, 10**9, budget=4 * 10**9)
    4
    >>> ensemble_size(16, 10**6, budget=4 * 10**9)
    16
    """
    if budget is None:
        free = available_memory()
        if free is None:
            return max_members
        budget = int(MEMORY_SHARE * free)
    fits = budget // max(1, workers) // max(1, per_member)
    size = int(max(1, min(max_members, fits)))
    if size < max_members:
        logger.info(
            "ensembles capped at %d members by memory (%.2g GB per member, %.2g GB budget "
            "over %d worker(s)); the grid's max_members is %d",
            size,
            per_member / 1e9,
            budget / 1e9,
            workers,
            max_members,
        )
    return size
