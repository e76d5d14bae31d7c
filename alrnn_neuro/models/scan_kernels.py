"""Compiled (numba) CPU loops of the AL-RNN recurrence and its hand-written backward pass.

The torch loop of :mod:`~alrnn_neuro.models.engine` launches three kernels per step forward
and three backward; on a CPU each launch costs a microsecond or more of dispatch, about as
much as the work itself on a (batch 64, latent 64) slab. Here each step is one BLAS product
(``np.dot``, scipy's BLAS) and one or two fused elementwise loops, and the loops over members
and steps run compiled; the input drive ``x_t @ C^T + h`` may be formed here too (one
product per block of steps, as many as keep the block in cache, :data:`DRIVE_BLOCK_ELEMENTS`;
``dC`` and ``dh`` likewise in the backward loop: for small slabs a BLAS call per step costs
more than its arithmetic, while one product over all steps was slower for large batches).
Measured at batch 64, T = 100, M = 64 on one core (forward and backward of the recurrence
with its drive): 2.9 -> 2.55 ms with the drive formed here, 4.0 ms through the torch loop
(``benchmarks/bench_training.py`` times whole training steps).

All arrays are C-contiguous numpy views of torch tensors (no copies), member-major:
``(member, time, batch, latent)``, one member for a single model. Equations, with
``s_t`` the state step t starts from (``s_0 = z0``; ``s_t = y_t``, or its forced value
``alpha_target_t + keep_t * y_t`` where step t - 1 is forced)::

    y_{t+1} = (d_t + a * s_t) + phi(s_t) @ W^T,   phi(s) = max(s, low),   d_t = x_t @ C^T + h
    g_t = dL/dy_{t+1};  g_{t-1} = go_{t-1} + keep_{t-1} * (g_t * a + 1{s_t > low} * (g_t @ W))
    dL/dA = sum g_t * s_t,   dL/dC = sum g_t^T x_t,   dL/dh = sum g_t  (C, h: per block of steps)
    dL/dW = sum g_t^T phi(s_t)  (per member, one product over all steps)

``phi`` propagates NaN like ``torch.maximum``; the derivative is 0 at NaN states, like
``torch.gt``. Compiled on first use per dtype (float32, float64) and cached on disk
(``cache=True``), so only a process's first call in a fresh install pays the compile.
"""

from __future__ import annotations

import numba
import numpy as np

#: elements (steps x batch x latent) of input drive formed per product in the forward loop, and
#: of gradient rows per dC product in the backward loop: one product for many small steps (a
#: BLAS call costs more than a (32, 16) slab's arithmetic), and blocks small enough to stay in
#: cache for large batches (all of a member's steps at once were 7-37 % slower forward and up
#: to 45 % slower backward than one product per step, from batch 128-500 on)
DRIVE_BLOCK_ELEMENTS = 1 << 14


@numba.njit(cache=True, nogil=True)
def scan_forward(d, x, c_t, h, z0, a, low, w_t, forced, alpha_target, keep, states, phis, carried):
    """Run the recurrence of every member; fills ``states``, ``phis`` and ``carried``.

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
    phis : ndarray, shape (member, time or 1, batch, latent)
        Output: ``phi(s_t)`` of every step (one scratch slab when it has one step).
    carried : ndarray, shape (member, time, batch, latent)
        Output where ``forced[t]``: the forced state ``s_{t+1}`` (a dummy when none is).
    """
    n_member, n_steps, batch, m = states.shape[0], states.shape[1] - 1, z0.shape[1], z0.shape[2]
    from_inputs = c_t.shape[0] > 0
    tmp = np.empty((batch, m), z0.dtype)
    block = _steps_per_block(n_steps, batch, m)  # the drive of a block: one product
    drive = np.empty((block if from_inputs else 0, batch, m), z0.dtype)
    for k in range(n_member):
        a_k, low_k, w_k = a[k], low[k], w_t[k]
        states[k, 0] = z0[k]
        inputs = x[k if x.shape[0] > 1 else 0]
        for t in range(n_steps):
            if from_inputs and t % block == 0:
                n = min(block, n_steps - t)
                rows = drive[:n].reshape(n * batch, m)
                np.dot(inputs[t : t + n].reshape(n * batch, inputs.shape[2]), c_t[k], rows)
                _add_row(rows, h[k])
            s = carried[k, t - 1] if t > 0 and forced[t - 1] else states[k, t]
            phi = phis[k, t if phis.shape[1] > 1 else 0]
            _rectify(s, low_k, phi)
            np.dot(phi, w_k, tmp)
            _affine(drive[t % block] if from_inputs else d[k, t], s, a_k, tmp, states[k, t + 1])
            if forced[t]:
                _add_product(alpha_target[k, t], states[k, t + 1], keep[k, t], carried[k, t])


@numba.njit(cache=True, nogil=True, inline="always")
def _steps_per_block(n_steps, batch, m):
    """Steps per input product: as many (batch, latent) slabs as :data:`DRIVE_BLOCK_ELEMENTS`
    holds, at least one and at most ``n_steps``."""
    return max(1, min(n_steps, DRIVE_BLOCK_ELEMENTS // max(batch * m, 1)))


@numba.njit(cache=True, nogil=True, inline="always")
def _rectify(s, low, phi):
    """``phi = max(s, low)`` (NaN stays NaN), slab (batch, latent)."""
    for i in range(s.shape[0]):
        for j in range(s.shape[1]):
            v = s[i, j]
            phi[i, j] = low[j] if v < low[j] else v


@numba.njit(cache=True, nogil=True, inline="always")
def _affine(d, s, a, tmp, y):
    """``y = (d + a * s) + tmp``, slab (batch, latent)."""
    for i in range(s.shape[0]):
        for j in range(s.shape[1]):
            y[i, j] = (d[i, j] + a[j] * s[i, j]) + tmp[i, j]


@numba.njit(cache=True, nogil=True, inline="always")
def _add_row(x, row):
    """``x += row`` on every row of a slab (batch, latent)."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += row[j]


@numba.njit(cache=True, nogil=True)
def scan_backward(
    go, states, carried, forced, keep, a, low, W, x, phis, grad, g_a, g_c, g_h, g_z0, g_w
):
    """Backpropagate ``go`` through the recurrence; fills ``grad`` and the parameter gradients.

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
    phis : ndarray, shape (member, time, batch, latent)
        ``phi(s_t)`` of every step, as saved by :func:`scan_forward` (read for ``g_w``).
    grad : ndarray, shape (member, time, batch, latent)
        Output: ``dL/dy_{t+1}`` (also the drive's gradient).
    g_a : ndarray, shape (member, latent)
        Output: gradient of the diagonal of A.
    g_c, g_h : ndarray, shape (member, latent, input) and (member, latent), or empty
        Output where not empty: gradients of C and h (``sum_t g_t^T x_t`` and ``sum g_t``).
    g_z0 : ndarray, shape (member, batch, latent)
        Output: gradient of z0.
    g_w : ndarray, shape (member, latent, latent) or empty
        Output where not empty: gradient of W, ``sum_t g_t^T phi(s_t)`` (one BLAS product per
        member: 0.74 ms for 80 members of 60 steps x 32 trials, M = 16, against 1.9 ms for
        torch's batched product).
    """
    n_member, n_steps, batch, m = go.shape
    tmp = np.empty((batch, m), go.dtype)
    from_inputs = g_c.shape[0] > 0
    n_in = x.shape[3]
    g_c_block = np.empty((m, n_in), go.dtype)
    block = _steps_per_block(n_steps, batch, m)  # dC, dh of a block: one product
    for k in range(n_member):
        a_k, low_k, w_k, g_a_k = a[k], low[k], W[k], g_a[k]
        inputs = x[k if x.shape[0] > 1 else 0]
        grad[k, n_steps - 1] = go[k, n_steps - 1]
        g_a_k[:] = 0.0
        if from_inputs:
            g_c[k] = 0.0
            g_h[k] = 0.0
        for t in range(n_steps - 1, -1, -1):
            g = grad[k, t]
            s = carried[k, t - 1] if t > 0 and forced[t - 1] else states[k, t]
            np.dot(g, w_k, tmp)
            _adjoint(g, s, a_k, low_k, tmp, g_a_k)
            if t == 0:
                g_z0[k] = tmp
            elif forced[t - 1]:
                _add_product(go[k, t - 1], tmp, keep[k, t - 1], grad[k, t - 1])
            else:
                _add(go[k, t - 1], tmp, grad[k, t - 1])
            if from_inputs and t % block == 0:  # steps t .. t + n - 1 are final: dC, dh
                n = min(block, n_steps - t)
                rows = grad[k, t : t + n].reshape(n * batch, m)
                np.dot(rows.T, inputs[t : t + n].reshape(n * batch, n_in), g_c_block)
                g_c[k] += g_c_block
                _add_column_sums(rows, g_h[k])
        if g_w.shape[0] > 0:
            all_rows = n_steps * batch
            np.dot(grad[k].reshape(all_rows, m).T, phis[k].reshape(all_rows, m), g_w[k])


@numba.njit(cache=True, nogil=True, inline="always")
def _adjoint(g, s, a, low, tmp, g_a):
    """``tmp = g * a + 1{s > low} * tmp`` (tmp holding ``g @ W``); ``g_a += sum_i g * s``."""
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            gij, c = g[i, j], s[i, j]
            g_a[j] += gij * c
            tmp[i, j] = gij * a[j] + (tmp[i, j] if c > low[j] else 0.0)


@numba.njit(cache=True, nogil=True, inline="always")
def _add_column_sums(g, out):
    """``out += sum_i g[i]``, slab (batch, latent)."""
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            out[j] += g[i, j]


@numba.njit(cache=True, nogil=True, inline="always")
def _add(x, y, out):
    """``out = x + y``, slab (batch, latent)."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] + y[i, j]


@numba.njit(cache=True, nogil=True, inline="always")
def _add_product(x, y, z, out):
    """``out = x + y * z``, slab (batch, latent)."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] + y[i, j] * z[i, j]
