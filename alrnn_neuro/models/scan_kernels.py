"""Compiled (numba) CPU loops of the AL-RNN recurrence and its hand-written backward pass.

The torch loop of :mod:`~alrnn_neuro.models.engine` launches three kernels per step forward
and three backward; on a CPU each launch costs a microsecond or more of dispatch, about as
much as the work itself on a (batch 64, latent 64) slab. Here each step is one BLAS product
(``np.dot``, scipy's BLAS) and one or two fused elementwise loops, and the loops over members
and steps run compiled; the input drive ``x_t @ C^T + h`` may be formed here too (one
product per block of steps, as many as keep the block in cache, :data:`DRIVE_BLOCK_ELEMENTS`:
for small slabs a BLAS call per step costs more than its arithmetic, while one product over
all steps was slower for large batches). Measured at batch 64, T = 100, M = 64 on one core
(forward and backward of the recurrence with its drive): 2.9 -> 2.55 ms with the drive formed
here, 4.0 ms through the torch loop (``benchmarks/bench_training.py`` times whole training
steps).

The backward loop forms ``dW``, ``dC`` and ``dh`` per block of steps
(:data:`OPERAND_BLOCK_ELEMENTS`) as ``g^T phi(s)`` and ``g^T [x | 1]``, recomputing
``phi(s)`` from the states instead of keeping it from the forward pass, and it keeps each
member's gradients in one slab that stays in cache unless the drive's gradient is wanted.
It walks back in time, which hardware prefetchers follow badly, so each member's upstream
gradient is first copied and its states read in one ascending pass. For an ensemble of 80
members (T = 64, batch 32, M = 16, arrays of 10 MB that do not fit in cache) that took the
backward loop from 7.4-7.5 to 5.2-5.3 ms and the forward from 3.5-3.6 to 2.8-3.1 ms on a
2-core AMD EPYC (Zen 4); the float32 select in the adjoint accounts for about 1 ms of it
(a float64 literal there had made the loop float64).

The elementwise loops run over each step's (batch, latent) slab as one flat row, with the
per-latent ``a`` and ``low`` tiled to that length once per member (and ``dL/dA`` summed per
entry, folded over rows after the member): rows of 16 or 6 latents are too short for the
vectoriser. Kernels in isolation, one core, minimum of 15 calls, 2 interleaved runs on the
Zen 4 machine: 80 members of (T 64, batch 32, M 16), forward 3.1 -> 2.8 ms and backward
5.4 -> 5.1 ms; one member of (64, 32, 6) 0.040 -> 0.025 and 0.060 -> 0.039 ms; one member of
(100, 64, 64) 0.66 -> 0.69 and 1.60 -> 1.61 ms (rows of 64 vectorised already).

All arrays are C-contiguous numpy views of torch tensors (no copies), member-major:
``(member, time, batch, latent)``, one member for a single model. Equations, with
``s_t`` the state step t starts from (``s_0 = z0``; ``s_t = y_t``, or its forced value
``alpha_target_t + keep_t * y_t`` where step t - 1 is forced)::

    y_{t+1} = (d_t + a * s_t) + phi(s_t) @ W^T,   phi(s) = max(s, low),   d_t = x_t @ C^T + h
    g_t = dL/dy_{t+1};  g_{t-1} = go_{t-1} + keep_{t-1} * (g_t * a + 1{s_t > low} * (g_t @ W))
    dL/dA = sum g_t * s_t,   dL/dC = sum g_t^T x_t,   dL/dh = sum g_t,
    dL/dW = sum g_t^T phi(s_t)   (W, C, h: products per block of steps)

``phi`` propagates NaN like ``torch.maximum``; the derivative is 0 at NaN states, like
``torch.gt``. Compiled on first use per dtype (float32, float64) and cached on disk
(``cache=True``), so only a process's first call in a fresh install pays the compile.
"""

from __future__ import annotations

import numba
import numpy as np

#: elements (steps x batch x latent) of input drive formed per product in the forward loop:
#: one product for many small steps (a BLAS call costs more than a (32, 16) slab's
#: arithmetic), and blocks small enough to stay in cache for large batches (all of a member's
#: steps at once were 7-37 % slower than one product per step, from batch 128-500 on)
DRIVE_BLOCK_ELEMENTS = 1 << 14

#: elements (steps x batch x columns) of the backward loop's operands ``phi(s)`` and
#: ``[x | 1]`` per parameter-gradient product (256 KB in float32: they stay in cache with
#: their gradient rows)
OPERAND_BLOCK_ELEMENTS = 1 << 16


@numba.njit(cache=True, nogil=True)
def scan_forward(d, x, c_t, h, z0, a, low, w_t, forced, alpha_target, keep, states, carried):
    """Run the recurrence of every member; fills ``states`` and ``carried``.

    Parameters
    ----------
    d : ndarray, shape (member, time, batch, latent)
        Drive ``C s_t + h`` (ignored when ``c_t`` has members).
    x : ndarray, shape (member or 1, time, batch, input)
        Inputs ``s_t`` (1: shared by all members), used when ``c_t`` has members.
    c_t : ndarray, shape (member, input, latent) or (0, ., .)
        ``C^T``; with members, the drive is ``x_t @ C^T + h`` computed here.
    h : ndarray, shape (member, latent) or (0, .)
    z0 : ndarray, shape (member, batch, latent)
    a, low : ndarray, shape (member, latent)
        Diagonal of A; rectification bound (0 on PWL units, -inf on linear units).
    w_t : ndarray, shape (member, latent, latent)
        ``W^T`` (contiguous).
    forced : ndarray of uint8, shape (time,)
        1 where the state carried after output t is forced.
    alpha_target, keep : ndarray, shape (member, time, batch, latent)
        Forcing terms (any shape with 4 dims when nothing is forced).
    states : ndarray, shape (member, time + 1, batch, latent)
        Output: ``states[:, 0] = z0``, ``states[:, t + 1] = y_{t+1}``.
    carried : ndarray, shape (member, time, batch, latent)
        Output where ``forced[t]``: the forced state ``s_{t+1}`` (a dummy when none is).
    """
    n_member, n_steps, batch, m = states.shape[0], states.shape[1] - 1, z0.shape[1], z0.shape[2]
    from_inputs, n = c_t.shape[0] > 0, batch * m
    tmp, phi = np.empty((batch, m), z0.dtype), np.empty((batch, m), z0.dtype)
    a_rows, low_rows = np.empty(n, z0.dtype), np.empty(n, z0.dtype)  # a, low tiled per row
    block = _steps_per_block(n_steps, batch, m)  # the drive of a block: one product
    drive = np.empty((block if from_inputs else 0, batch * m), z0.dtype)
    for k in range(n_member):
        _tile(a[k], a_rows)
        _tile(low[k], low_rows)
        w_k, flat = w_t[k], states[k].reshape((n_steps + 1, n))
        states[k, 0] = z0[k]
        inputs = x[k if x.shape[0] > 1 else 0]
        for t in range(n_steps):
            if from_inputs and t % block == 0:
                steps = min(block, n_steps - t)
                rows = drive[:steps].reshape(steps * batch, m)
                np.dot(inputs[t : t + steps].reshape(steps * batch, inputs.shape[2]), c_t[k], rows)
                _add_row(rows, h[k])
            s = _flat_start(flat, carried, forced, k, t, n)
            _rectify(s, low_rows, phi.reshape(n))
            np.dot(phi, w_k, tmp)
            d_t = drive[t % block] if from_inputs else d[k, t].reshape(n)
            _affine(d_t, s, a_rows, tmp.reshape(n), flat[t + 1])
            if forced[t]:
                carried_t = carried[k, t].reshape(n)
                _add_product(
                    alpha_target[k, t].reshape(n), flat[t + 1], keep[k, t].reshape(n), carried_t
                )


@numba.njit(cache=True, nogil=True, inline="always")
def _tile(row, out):
    """``out`` (batch * latent,) = ``row`` (latent,) repeated: a per-latent parameter laid
    out like a flattened (batch, latent) slab, so that elementwise loops run over one dim
    (loops over a (32, 16) slab's rows of 16 ran 20-25 % slower: too short to vectorise
    well)."""
    m = row.size
    for i in range(out.size // m):
        for j in range(m):
            out[i * m + j] = row[j]


@numba.njit(cache=True, nogil=True, inline="always")
def _flat_start(flat, carried, forced, k, t, n):
    """``s_t`` of member k, the state step t starts from, as a flat (batch * latent,) slab:
    the forced state carried from step t - 1 where that step is forced, else ``y_t`` (``z0``
    at 0); ``flat`` is member k's states (time + 1, batch * latent)."""
    return carried[k, t - 1].reshape(n) if t > 0 and forced[t - 1] else flat[t]


@numba.njit(cache=True, nogil=True, inline="always")
def _steps_per_block(n_steps, batch, m):
    """Steps per input product: as many (batch, latent) slabs as :data:`DRIVE_BLOCK_ELEMENTS`
    holds, at least one and at most ``n_steps``."""
    return max(1, min(n_steps, DRIVE_BLOCK_ELEMENTS // max(batch * m, 1)))


@numba.njit(cache=True, nogil=True, inline="always")
def _rectify(s, low, phi):
    """``phi = max(s, low)`` (NaN stays NaN), flat slabs (batch * latent,)."""
    for i in range(s.size):
        v = s[i]
        phi[i] = low[i] if v < low[i] else v


@numba.njit(cache=True, nogil=True, inline="always")
def _affine(d, s, a, tmp, y):
    """``y = (d + a * s) + tmp``, flat slabs (batch * latent,)."""
    for i in range(s.size):
        y[i] = (d[i] + a[i] * s[i]) + tmp[i]


@numba.njit(cache=True, nogil=True, inline="always")
def _add_row(x, row):
    """``x += row`` on every row of a slab (batch, latent)."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += row[j]


@numba.njit(cache=True, nogil=True)
def scan_backward(go, states, carried, forced, keep, a, low, W, x, grad, g_a, g_c, g_h, g_z0, g_w):
    """Backpropagate ``go`` through the recurrence; fills the parameter gradients.

    Parameters
    ----------
    go : ndarray, shape (member, time, batch, latent)
        Upstream gradient of the outputs ``y_1 .. y_T``.
    states, carried, forced, keep : ndarray
        As saved by :func:`scan_forward`.
    a, low : ndarray, shape (member, latent)
    W : ndarray, shape (member, latent, latent)
    x : ndarray, shape (member or 1, time, batch, input)
        The inputs where the forward pass computed the drive (else any 4-dim array).
    grad : ndarray, shape (member, time, batch, latent), or with no members
        Output where it has members: ``dL/dy_{t+1}`` (also the drive's gradient). Without
        members it is not wanted, and each member's gradients run through one scratch slab
        that stays in cache.
    g_a : ndarray, shape (member, latent)
        Output: gradient of the diagonal of A.
    g_c, g_h : ndarray, shape (member, latent, input) and (member, latent), or empty
        Output where not empty: gradients of C and h (``sum_t g_t^T x_t`` and ``sum g_t``).
    g_z0 : ndarray, shape (member, batch, latent)
        Output: gradient of z0.
    g_w : ndarray, shape (member, latent, latent) or empty
        Output where not empty: gradient of W, ``sum_t g_t^T phi(s_t)``.

    Notes
    -----
    ``dW`` and ``[dC | dh]`` are products per block of steps, ``g^T phi(s)`` and
    ``g^T [x | 1]``, once the block's gradients are final; ``phi`` is recomputed from the
    states rather than kept from the forward pass (fewer bytes through memory), and without
    ``grad`` the gradients of a member stay in cache for these products.
    """
    n_member, n_steps, batch, m = go.shape
    dtype, n = go.dtype, batch * m
    tmp, zero = np.empty(n, dtype), np.zeros(1, dtype)[0]
    tmp_slab = tmp.reshape((batch, m))  # the same buffer, for the product
    # a, low tiled per row; each row's share of dL/dA, summed over rows per member
    a_rows, low_rows, g_a_rows = np.empty(n, dtype), np.empty(n, dtype), np.empty(n, dtype)
    from_inputs, with_w, keep_grad = g_c.shape[0] > 0, g_w.shape[0] > 0, grad.shape[0] > 0
    n_in = x.shape[3] if from_inputs else 0
    block = max(1, min(n_steps, OPERAND_BLOCK_ELEMENTS // max(batch * max(m, n_in + 1), 1)))
    phi = np.empty((block if with_w else 0, n), dtype)
    g_w_block = np.empty((m, m), dtype)
    # [x | 1] of every step: dC and dh in one product (filled per member where x differs)
    x_ones = np.empty((n_steps * batch if from_inputs else 0, n_in + 1), dtype)
    g_ch_block = np.empty((m, n_in + 1), dtype)
    own = np.empty((0 if keep_grad else n_steps, batch, m), dtype)
    sink = np.empty(1)  # keeps the reads of _touch
    for k in range(n_member):
        _tile(a[k], a_rows)
        _tile(low[k], low_rows)
        g_a_rows[:] = 0.0
        w_k = W[k]
        g_k = grad[k] if keep_grad else own
        g_k[:] = go[k]  # read in one ascending pass (the loop below walks back in time)
        g_flat, flat = g_k.reshape((n_steps, n)), states[k].reshape((n_steps + 1, n))
        sink[0] = _touch(states[k])
        if from_inputs:
            g_c[k] = 0.0
            g_h[k] = 0.0
            if k == 0 or x.shape[0] > 1:
                _inputs_and_ones(x[k if x.shape[0] > 1 else 0], x_ones)
        if with_w:
            g_w[k] = 0.0
        for t in range(n_steps - 1, -1, -1):
            s = _flat_start(flat, carried, forced, k, t, n)
            np.dot(g_k[t], w_k, tmp_slab)
            _adjoint(g_flat[t], s, a_rows, low_rows, tmp, g_a_rows, zero)
            if t == 0:
                g_z0[k] = tmp_slab
            elif forced[t - 1]:
                _add_product(g_flat[t - 1], tmp, keep[k, t - 1].reshape(n), g_flat[t - 1])
            else:
                _add(g_flat[t - 1], tmp, g_flat[t - 1])
            if (with_w or from_inputs) and t % block == 0:  # steps t .. t + n - 1 are final
                steps = min(block, n_steps - t)
                rows = g_k[t : t + steps].reshape(steps * batch, m).T
                if with_w:
                    for step in range(t, t + steps):
                        _rectify(
                            _flat_start(flat, carried, forced, k, step, n), low_rows, phi[step - t]
                        )
                    np.dot(rows, phi[:steps].reshape(steps * batch, m), g_w_block)
                    g_w[k] += g_w_block
                if from_inputs:
                    np.dot(rows, x_ones[t * batch : (t + steps) * batch], g_ch_block)
                    g_c[k] += g_ch_block[:, :n_in]
                    g_h[k] += g_ch_block[:, n_in]
        _sum_rows(g_a_rows, g_a[k])


@numba.njit(cache=True, nogil=True, inline="always")
def _touch(x):
    """Read one value per 64-byte line of ``x`` (C-contiguous) in ascending order, so that a
    loop walking it back in time finds it in cache; returns their sum, which the caller
    stores so that the reads are not optimised away (its value is never used)."""
    flat, total = x.reshape(x.size), 0.0
    for i in range(0, x.size, 64 // x.itemsize):
        total += flat[i]
    return total


@numba.njit(cache=True, nogil=True)
def _inputs_and_ones(x, out):
    """``out = [x | 1]`` with the (time, batch) rows of ``x`` (time, batch, input)."""
    n_in = x.shape[2]
    for t in range(x.shape[0]):
        for i in range(x.shape[1]):
            r = t * x.shape[1] + i
            for c in range(n_in):
                out[r, c] = x[t, i, c]
            out[r, n_in] = 1.0


@numba.njit(cache=True, nogil=True, inline="always")
def _adjoint(g, s, a, low, tmp, g_a, zero):
    """``tmp = g * a + 1{s > low} * tmp`` (tmp holding ``g @ W``); ``g_a += g * s``; flat
    slabs (batch * latent,).

    ``zero`` is 0 in the arrays' dtype (a float64 literal would turn float32 arithmetic into
    float64 and stop the loop from vectorising: 1.9x slower).
    """
    for i in range(g.size):
        gi, c = g[i], s[i]
        g_a[i] += gi * c
        tmp[i] = gi * a[i] + (tmp[i] if c > low[i] else zero)


@numba.njit(cache=True, nogil=True, inline="always")
def _sum_rows(flat, out):
    """``out = flat.reshape(-1, latent).sum(0)``: ``flat`` (batch * latent,), ``out`` (latent,)."""
    m = out.size
    out[:] = 0.0
    for i in range(flat.size // m):
        for j in range(m):
            out[j] += flat[i * m + j]


@numba.njit(cache=True, nogil=True, inline="always")
def _add(x, y, out):
    """``out = x + y``, flat slabs."""
    for i in range(x.size):
        out[i] = x[i] + y[i]


@numba.njit(cache=True, nogil=True, inline="always")
def _add_product(x, y, z, out):
    """``out = x + y * z``, flat slabs."""
    for i in range(x.size):
        out[i] = x[i] + y[i] * z[i]
