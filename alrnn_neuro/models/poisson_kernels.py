"""Compiled (numba) float32 Poisson terms of a softplus readout: one pass over the entries.

In torch, the chunk loop of :mod:`~alrnn_neuro.models.fused_poisson` runs about eight
elementwise kernels over every (member, unit, row) entry (bias, softplus, sum, log, dot,
sigmoid, division, multiply-add, row sums), each a pass over memory with its own
transcendentals: 3.4-3.7 ns per entry on one core here. :func:`softplus_poisson` does all of
it in one loop per row with the vectorisable float32 functions of :mod:`.vector_math`:
1.5-1.9 ns per entry (an 80-member training step on 32 demo trials: loss and backward 35 ->
25 ms; ``benchmarks/bench_ensemble.py`` times whole fits). Results agree with the torch chain
to float32 rounding, and with float64 where torch's float32 sigmoid flushes to 0 (tested in
``tests/test_poisson_kernels.py``); a NaN entry gives its member a NaN total, as in torch.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from alrnn_neuro.models.vector_math import FASTMATH, log_normal, softplus_parts, sum_add

#: entries summed in float32 (by SIMD lane) before the float64 total
BLOCK = 1024

_F = np.float32


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def softplus_poisson(x, bias, y, w, tiny, want_grad, totals, bias_grad):
    """Per-member ``sum w softplus(x + b) - y log(softplus(x + b) + tiny)`` and its gradient.

    Parameters
    ----------
    x : ndarray, float32, shape (member, unit, row)
        Readout products ``B_k z^T`` before the bias; with ``want_grad`` overwritten by
        ``dnll/dx = w s - y w s / (rate + tiny)``, ``s = sigmoid(x + b)``.
    bias : ndarray, float32, shape (member, unit)
    y : ndarray, float32, shape (unit, row)
        Counts, 0 where ``w`` is 0 (shared by every member).
    w : ndarray, float32, shape (unit, row)
        Entry weights (1 = scored, 0 = not).
    tiny : float32
        Added to the rate inside the log (the smallest normal float32: finite at rate 0).
    want_grad : bool
    totals : ndarray, float64, shape (member,)
        Out: each member's sum.
    bias_grad : ndarray, float32, shape (member, unit)
        Out (with ``want_grad``): each (member, unit)'s sum of ``dnll/dx`` over rows.
    """
    k, n_units, n_rows = x.shape
    for member in range(k):
        total = 0.0
        for unit in range(n_units):
            b = bias[member, unit]
            grad_sum = 0.0
            for lo in range(0, n_rows, BLOCK):
                n = min(BLOCK, n_rows - lo)
                xs = x[member, unit, lo : lo + n]
                ys, ws = y[unit, lo : lo + n], w[unit, lo : lo + n]
                block_total = _F(0.0)
                block_grad = _F(0.0)
                for i in range(n):
                    rate, s = softplus_parts(xs[i] + b)
                    yi, wi = ys[i], ws[i]
                    shifted = rate + tiny
                    block_total = sum_add(block_total, wi * rate - yi * log_normal(shifted))
                    if want_grad:
                        sw = s * wi
                        dx = sw - yi * sw / shifted
                        xs[i] = dx
                        block_grad = sum_add(block_grad, dx)
                total += block_total
                grad_sum += block_grad
            if want_grad:
                bias_grad[member, unit] = grad_sum
        totals[member] = total


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def softplus_inplace(x):
    """``x = softplus(x)`` in place, for a float32 array ``x`` of one dim."""
    for i in range(x.size):
        x[i] = softplus_parts(x[i])[0]


def applies(x: torch.Tensor, exp_link: bool) -> bool:
    """Whether :func:`softplus_poisson` runs this readout: softplus, float32, on a CPU."""
    return not exp_link and x.dtype == torch.float32 and x.device.type == "cpu"


def poisson_terms(x, bias, y, w, want_grad):
    """:func:`softplus_poisson` on torch tensors; returns (totals float64, bias gradient).

    ``x`` (member, unit, row), contiguous float32, overwritten by its gradient when
    ``want_grad``; ``bias`` (member, unit); ``y``, ``w`` (unit, row), contiguous.
    """
    k, n_units = x.shape[:2]
    totals = np.empty(k)
    bias_grad = np.zeros((k, n_units), dtype=np.float32)
    tiny = _F(torch.finfo(torch.float32).tiny)
    softplus_poisson(
        x.detach().numpy(),
        bias.detach().contiguous().numpy(),
        y.numpy(),
        w.numpy(),
        tiny,
        want_grad,
        totals,
        bias_grad,
    )
    return torch.from_numpy(totals), torch.from_numpy(bias_grad)
