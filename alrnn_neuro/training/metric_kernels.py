"""Compiled (numba) gather-and-sum of a Poisson model's scored entries, for the metrics.

:meth:`SplitScorer.score <alrnn_neuro.training.split_scorer.SplitScorer.score>` needs, per model
and split, the predicted rate at every scored entry summed per (condition, time, unit) cell
and the rate terms ``Σ y log λ − λ`` of the log-likelihood. In numpy that is a row copy, a
gather, a float64 cast, a ``bincount`` and four more passes with a float64 log (about 9 ns per
entry); :func:`gather_poisson_terms` reads each entry once. Its float64 log is
:func:`~alrnn_neuro.models.vector_math.log_double` (within 1 ulp of numpy's, vectorised), so
the metrics agree with the numpy path to float64 rounding.
"""

from __future__ import annotations

import numba
import numpy as np

from alrnn_neuro.models.vector_math import FASTMATH, log_double, log_normal, sum_add
from alrnn_neuro.training.metrics import RATE_FLOOR

#: entries gathered before their logs are taken (a cache-resident block)
BLOCK = 1024


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def gather_poisson_terms(rates, positions, cells, counts, cell_sums):
    """Add each scored rate to its cell and return ``Σ y log max(λ, floor) − λ`` (float64).

    Parameters
    ----------
    rates : ndarray, float32, shape (entry_any,)
        A model's predictions, flattened.
    positions : ndarray of int, shape (entry,)
        Where each scored entry lies in ``rates``.
    cells : ndarray of int, shape (entry,)
        Its (condition, time, unit) cell.
    counts : ndarray, float64, shape (entry,)
        Its observed count.
    cell_sums : ndarray, float64, shape (cell,)
        In and out: each cell's sum of rates (added to, in entry order, like ``bincount``).

    Returns
    -------
    float
        NaN if any scored rate is NaN.
    """
    total = 0.0
    block = np.empty(BLOCK, dtype=np.float32)
    for lo in range(0, positions.size, BLOCK):
        n = min(BLOCK, positions.size - lo)
        for i in range(n):  # gather and scatter-add: scalar
            lam = rates[positions[lo + i]]
            cell_sums[cells[lo + i]] += lam
            block[i] = lam
        ys = counts[lo : lo + n]
        for i in range(n):  # the logs: vectorised
            lam = np.float64(block[i])
            floored = lam if not (lam < RATE_FLOOR) else RATE_FLOOR  # NaN stays NaN
            total = sum_add(total, ys[i] * log_double(floored) - floored)
    return total


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def gather_poisson_nll(rates, positions, counts, tiny):
    """``Σ λ − y log(λ + tiny)`` over the entries at ``positions`` of float32 ``rates``.

    The Poisson terms of the training loss (:func:`~alrnn_neuro.models.fused_poisson.
    poisson_member_loss` without ``log y!``) as the fit computes them, each in float32 (the
    float32 log of :mod:`~alrnn_neuro.models.vector_math`), summed in float64.

    Parameters
    ----------
    rates : ndarray, float32, shape (entry_any,)
    positions : ndarray of int, shape (entry,)
    counts : ndarray, float32, shape (entry,)
    tiny : float32

    Returns
    -------
    float
        NaN if any of these rates is NaN.
    """
    total = 0.0
    block = np.empty(BLOCK, dtype=np.float32)
    for lo in range(0, positions.size, BLOCK):
        n = min(BLOCK, positions.size - lo)
        for i in range(n):  # the gather: scalar
            block[i] = rates[positions[lo + i]]
        ys = counts[lo : lo + n]
        partial = np.float32(0.0)
        for i in range(n):  # the logs: vectorised
            lam = block[i]
            partial = sum_add(partial, lam - ys[i] * log_normal(lam + tiny))
        total += partial
    return total
