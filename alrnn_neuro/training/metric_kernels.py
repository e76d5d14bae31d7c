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


@numba.njit(cache=True, nogil=True)
def restride(positions, n_steps, n_units, strides, out):
    """Flat positions in a C-contiguous (trial, step, unit) array as positions in the same
    array laid out with element ``strides``, written to ``out``.

    The two integer divisions per entry go through float64 (a product with the divisor's
    reciprocal, then corrected by one: exact for positions below 2^52), which vectorises;
    numpy's ``divmod`` took about 40x longer on 5,000 x 100 x 100 predictions.

    Parameters
    ----------
    positions : ndarray of int32 or int64, shape (entry,)
        Non-negative flat indices into a C-contiguous (trial, step, unit) array.
    n_steps, n_units : int
    strides : tuple of 3 int
        Element strides of (trial, step, unit) in the target layout.
    out : ndarray of int64, shape (entry,)
    """
    per_trial, units = np.int64(n_steps * n_units), np.int64(n_units)
    inv_trial, inv_unit = 1.0 / per_trial, 1.0 / units
    s_trial, s_step, s_unit = np.int64(strides[0]), np.int64(strides[1]), np.int64(strides[2])
    for i in range(positions.size):
        trial, rest = _divmod(np.int64(positions[i]), per_trial, inv_trial)
        step, unit = _divmod(rest, units, inv_unit)
        out[i] = trial * s_trial + step * s_step + unit * s_unit


@numba.njit(inline="always")
def _divmod(value, divisor, inverse):
    """``divmod(value, divisor)`` of non-negative int64 below 2^52, ``inverse = 1 / divisor``."""
    quotient = np.int64(np.float64(value) * inverse)
    rest = value - quotient * divisor
    if rest < 0:
        quotient -= 1
        rest += divisor
    elif rest >= divisor:
        quotient += 1
        rest -= divisor
    return quotient, rest
