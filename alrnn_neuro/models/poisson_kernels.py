"""Compiled (numba) float32 Poisson terms of a softplus readout: one pass over the entries.

In torch, the chunk loop of :mod:`~alrnn_neuro.models.fused_poisson` runs about eight
elementwise kernels over every (member, unit, row) entry (bias, softplus, sum, log, dot,
sigmoid, division, multiply-add, row sums), each a pass over memory with its own
transcendentals: 3.4-3.7 ns per entry on one core here. :func:`softplus_poisson` does all of
it in one loop per row with the vectorisable float32 functions of :mod:`.vector_math`:
1.5-1.9 ns per entry. :func:`softplus_poisson_readout` runs it on each member's readout
inside one compiled call, with the gather of the valid latent rows, the product and the two
gradient products (scipy's BLAS, ``np.dot``) on per-member buffers that stay in cache, and
the latents' gradient scattered straight into place: for 80 members on 32 demo trials the
readout's loss and gradients took 18.4-19.3 ms as a torch chunk loop around
:func:`softplus_poisson` (batched products, gathers, a zero fill, ``index_copy``) and 14.6 ms
here (3 interleaved runs); with the recurrence's dW product compiled too, a training step
went from 35-36 to 30 ms for 80 members and from 1.9 to 1.75 ms for a single fit
(``benchmarks/bench_ensemble.py`` times whole fits). Results agree with the torch chain to
float32 rounding, and with float64 where torch's float32 sigmoid flushes to 0 (tested in
``tests/test_poisson_kernels.py``); a NaN entry gives its member a NaN total, as in torch.

Each block of :data:`BLOCK` entries is computed in passes (the exps; softplus and sigmoid;
the logs of the rates; the terms and gradients; the terms' sum) through three scratch
buffers that stay in the L1 cache. In a single pass every entry is one dependency chain of
an exp, a division, two logs and a second division, longer than an out-of-order core can
overlap across entries: on a 2-core AMD EPYC (Zen 3, AVX2) that pass ran at 4.6-4.8 ns per
entry, the passes at 3.1-3.9 ns, and the readout of 80 members on 32 demo trials went from
30.6-30.9 to 24.4-25.3 ms (interleaved runs). The values of the entries are unchanged (the
same operations in the same order); the terms are summed in a loop of their own, so the
totals are the same with and without gradients.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from alrnn_neuro.models.vector_math import (
    FASTMATH,
    exp_nonpositive,
    log_normal,
    softplus_from_exp,
    sum_add,
)

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
    exps = np.empty(BLOCK, np.float32)  # one block's passes: kept in the L1 cache
    rates = np.empty(BLOCK, np.float32)
    sigmoids = np.empty(BLOCK, np.float32)
    for member in range(k):
        total = 0.0
        for unit in range(n_units):
            b = bias[member, unit]
            grad_sum = 0.0
            for lo in range(0, n_rows, BLOCK):
                n = min(BLOCK, n_rows - lo)
                xs = x[member, unit, lo : lo + n]
                ys, ws = y[unit, lo : lo + n], w[unit, lo : lo + n]
                for i in range(n):
                    exps[i] = exp_nonpositive(-abs(xs[i] + b))
                for i in range(n):
                    rates[i], sigmoids[i] = softplus_from_exp(xs[i] + b, exps[i])
                for i in range(n):
                    exps[i] = log_normal(rates[i] + tiny)  # the buffer reused for the logs
                block_grad = _F(0.0)
                if want_grad:
                    for i in range(n):
                        rate, yi, wi = rates[i], ys[i], ws[i]
                        sw = sigmoids[i] * wi
                        dx = sw - yi * sw / (rate + tiny)
                        xs[i] = dx
                        block_grad = sum_add(block_grad, dx)
                        exps[i] = wi * rate - yi * exps[i]  # and for the terms
                else:
                    for i in range(n):
                        exps[i] = ws[i] * rates[i] - ys[i] * exps[i]
                # the terms' sum in a loop of its own: the same order with and without gradients
                block_total = _F(0.0)
                for i in range(n):
                    block_total = sum_add(block_total, exps[i])
                total += block_total
                grad_sum += block_grad
            if want_grad:
                bias_grad[member, unit] = grad_sum
        totals[member] = total


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def softplus_inplace(x):
    """``x = softplus(x)`` in place, for a float32 array ``x`` of one dim.

    Two passes per block, the exps and then the rest (as in :func:`softplus_poisson`): 1.7
    instead of 2.6 ns per entry on Zen 3, the same values.
    """
    exps = np.empty(BLOCK, np.float32)
    for lo in range(0, x.size, BLOCK):
        n = min(BLOCK, x.size - lo)
        xs = x[lo : lo + n]
        for i in range(n):
            exps[i] = exp_nonpositive(-abs(xs[i]))
        for i in range(n):
            xs[i] = softplus_from_exp(xs[i], exps[i])[0]


def applies(x: torch.Tensor, exp_link: bool) -> bool:
    """Whether the compiled kernels run this readout: softplus, float32, on a CPU."""
    return not exp_link and x.dtype == torch.float32 and x.device.type == "cpu"


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def softplus_poisson_readout(
    rows, index, weight, bias, y, w, tiny, count, want_grad, totals, g_rows, g_weight, g_bias
):
    """:func:`softplus_poisson` of every member's readout ``x = B_k z^T``, formed here.

    Per member: its rows ``index`` of ``rows`` are gathered into a (row, latent) buffer, the
    product, the Poisson terms and the three gradient products (``np.dot``, scipy's BLAS) run
    on buffers that stay in cache, and the latents' gradient is scattered back to its rows.

    Parameters
    ----------
    rows : ndarray, float32, shape (member, row, latent)
        Latent rows, any strides (a view of the engine's member-major buffer).
    index : ndarray of int64, shape (entry_row,)
        The rows that enter the loss, increasing, in the order of the columns of ``y`` and
        ``w``.
    weight : ndarray, float32, shape (member, unit, latent)
        Readout matrices ``B_k`` (contiguous).
    bias : ndarray, float32, shape (member, unit)
    y, w : ndarray, float32, shape (unit, entry_row)
        Counts and entry weights, as in :func:`softplus_poisson`.
    tiny : float32
        As in :func:`softplus_poisson`.
    count : float32
        The latents' gradient is that of the sums divided by ``count``.
    want_grad : bool
    totals : ndarray, float64, shape (member,)
        Out: each member's sum.
    g_rows : ndarray, float32, shape (member, row, latent) or (0, 0, 0)
        Out (with ``want_grad`` and members): ``d(sum / count)/dz``, 0 on rows outside
        ``index``.
    g_weight, g_bias : ndarray, float32, shapes (member, unit, latent) and (member, unit)
        Out (with ``want_grad``): gradients of the sums (not divided by ``count``).
    """
    n_members, n_units, m = weight.shape
    n = index.size
    z = np.empty((n, m), np.float32)
    x = np.empty((1, n_units, n), np.float32)
    latents_grad = want_grad and g_rows.shape[0] > 0
    g_z = np.empty((n if latents_grad else 0, m), np.float32)
    scaled = weight / count if latents_grad else weight  # d(sum / count)/dz's factor, once
    for k in range(n_members):
        source = rows[k]
        for r in range(n):
            row = index[r]
            for j in range(m):
                z[r, j] = source[row, j]
        np.dot(weight[k], z.T, x[0])
        softplus_poisson(
            x, bias[k : k + 1], y, w, tiny, want_grad, totals[k : k + 1], g_bias[k : k + 1]
        )
        if not want_grad:
            continue
        np.dot(x[0], z, g_weight[k])
        if latents_grad:
            np.dot(x[0].T, scaled[k], g_z)
            target, done = g_rows[k], 0  # rows before ``done`` are written
            for r in range(n):
                row = index[r]
                target[done:row] = 0.0  # rows outside ``index`` get no gradient
                for j in range(m):
                    target[row, j] = g_z[r, j]
                done = row + 1
            target[done:] = 0.0


def readout_terms(rows, index, weight, bias, y, w, count, g_rows, g_weight, g_bias):
    """:func:`softplus_poisson_readout` on torch tensors; returns the totals (float64).

    ``rows`` (member, row, latent) float32; ``index`` int64 (rows that enter the loss);
    ``weight``, ``bias`` contiguous; ``y``, ``w`` (unit, entry_row) contiguous; the outputs
    ``g_rows`` (None: no latents' gradient), ``g_weight`` and ``g_bias`` (None: no gradient
    at all) as in :func:`softplus_poisson_readout`.
    """
    totals = np.zeros(weight.shape[0])
    want_grad = g_weight is not None
    if not want_grad:
        g_weight, g_bias = (weight.new_empty((0,) * d) for d in (3, 2))
    if g_rows is None:
        g_rows = weight.new_empty((0, 0, 0))
    if index.numel():
        softplus_poisson_readout(
            rows.detach().numpy(),
            index.numpy(),
            *(t.detach().contiguous().numpy() for t in (weight, bias)),
            y.numpy(),
            w.numpy(),
            _F(torch.finfo(torch.float32).tiny),
            _F(count),
            want_grad,
            totals,
            g_rows.numpy(),
            g_weight.numpy(),
            g_bias.numpy(),
        )
    elif want_grad:  # no row enters the loss: zero sums and gradients
        for grad in (g_rows, g_weight, g_bias):
            grad.zero_()
    return torch.from_numpy(totals)
