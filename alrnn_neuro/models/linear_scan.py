"""The linear (P = 0) AL-RNN over a whole sequence in O(log T) matrix products.

With no rectified unit the recurrence is one affine map per member, the same at every step::

    z_t = J z_{t-1} + drive_t,   J = diag(A) + W

so all states follow from an associative scan: neighbouring steps combine into one step of
the squared map, the sequence halves, and the states come back down in ``2 log2(T)`` levels,
each one matrix product over all steps and trials at once (instead of T small sequential
products). :func:`linear_scan` is that scan; the engine
(:func:`~alrnn_neuro.models.engine.alrnn_scan`) uses it for gradient-free runs of linear
models where :func:`prefer_linear_scan` says it is faster
(``benchmarks/bench_parallel_scan.py`` measures both), and
:func:`~alrnn_neuro.models.parallel_scan.parallel_alrnn_scan` for its P = 0 case.

The result equals the sequential recurrence up to rounding (tests: 1e-10 in float64). Powers
of a map with eigenvalues above 1 can overflow even where the states stay finite (an
expanding direction the drive never excites); :func:`linear_scan` returns None then, and the
caller runs the sequential loop.
"""

from __future__ import annotations

import math

import torch

#: (largest members x batch x latent^2 per step, shortest sequence) from which the scan beats
#: the loop, measured on CPU with one thread (``benchmarks/bench_parallel_scan.py
#: --linear-only``, float32, M in {6, 16, 64}, batch in {1, 16, 64, 256}, T in {30, 100, 300,
#: 1000}): it won from T = 100 for M = 6 / batch <= 16 and M = 16 / batch 1, from T = 300 for
#: M = 6 / batch 64, M = 16 / batch 16 and M = 64 / batch 1, and never at batch x M^2 >= 9216
#: (its products cost O(M) more per value than one step; the loop is overhead-bound only
#: while a step is small)
LIMITS = ((1024, 100), (4096, 300))


def prefer_linear_scan(n_steps: int, batch: int, latent: int, members: int = 1) -> bool:
    """Whether :func:`linear_scan` beats the sequential loop (measured on CPU, one thread).

    Examples
    --------
    >>> prefer_linear_scan(1000, 16, 6), prefer_linear_scan(20, 16, 6)
    (True, False)
    >>> prefer_linear_scan(1000, 256, 16)  # large steps: the loop is faster
    False
    """
    size = members * batch * latent**2
    return any(size <= most and n_steps >= steps for most, steps in LIMITS)


def linear_scan(
    drive: torch.Tensor, z0: torch.Tensor, A: torch.Tensor, W: torch.Tensor
) -> torch.Tensor | None:
    """All states of ``z_t = A * z_{t-1} + W z_{t-1} + drive_t`` (no rectified unit).

    Parameters
    ----------
    drive : Tensor, shape (time, ..., batch, latent)
        Time-major drive; ``...`` are ensemble dims.
    z0 : Tensor, shape broadcastable to (..., batch, latent)
    A : Tensor, shape (..., latent)
    W : Tensor, shape (..., latent, latent2)

    Returns
    -------
    Tensor of shape (time, ..., batch, latent), or None
        ``z_1 .. z_T`` (no gradient), or None where a power of the map overflowed.

    Examples
    --------
    >>> out = linear_scan(torch.zeros(4, 1, 1), torch.ones(1, 1), torch.full((1,), 0.5),
    ...                   torch.zeros(1, 1))
    >>> out.flatten().tolist()
    [0.5, 0.25, 0.125, 0.0625]
    """
    with torch.no_grad():
        n_steps, m = drive.shape[0], drive.shape[-1]
        ens, batch = tuple(drive.shape[1:-2]), drive.shape[-2]
        members = math.prod(ens)
        if n_steps == 0:
            return drive.detach().clone()
        step_map = (W.expand(*ens, m, m) + torch.diag_embed(A.expand(*ens, m))).reshape(
            members, m, m
        )
        # offsets (time, member, latent, batch): the batch as columns of every product
        offsets = drive.detach().reshape(n_steps, members, batch, m).transpose(-1, -2).clone()
        start = z0.detach().expand(*ens, batch, m).reshape(members, batch, m).transpose(-1, -2)
        offsets[0] += step_map @ start
        states = _prefix_scan(step_map, offsets)
        if not bool(torch.isfinite(states).all()):
            return None  # overflowing map powers, or non-finite inputs: leave it to the loop
        return states.transpose(-1, -2).reshape(drive.shape)


def _prefix_scan(step_map: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """States of ``x_t = J x_{t-1} + b_t`` (``x_{-1} = 0``) for one map shared by all steps.

    ``step_map`` (member, latent, latent); ``offsets`` (time, member, latent, column). Each
    level squares the map once and applies it to all steps and columns in one product per
    member.
    """
    n_steps = offsets.shape[0]
    if n_steps == 1:
        return offsets
    half = n_steps // 2
    pair_offsets = _apply(step_map, offsets[0 : 2 * half : 2]) + offsets[1 : 2 * half : 2]
    odd = _prefix_scan(step_map @ step_map, pair_offsets)
    states = torch.empty_like(offsets)
    states[0] = offsets[0]
    states[1 : 2 * half : 2] = odd
    n_even = (n_steps + 1) // 2 - 1
    if n_even:
        states[2::2] = _apply(step_map, odd[:n_even]) + offsets[2::2]
    return states


def _apply(step_map: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``step_map @ x_t`` for every t: (member, m, m) x (time, member, m, column), one GEMM."""
    n_steps, members, m, columns = x.shape
    flat = x.permute(1, 2, 0, 3).reshape(members, m, n_steps * columns)
    return (step_map @ flat).reshape(members, m, n_steps, columns).permute(2, 0, 1, 3)
