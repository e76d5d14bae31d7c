"""Parallel-in-time forward pass of the AL-RNN: iterate bitcodes, solve each guess by a scan.

Once the bitcode of every step is fixed, the AL-RNN recurrence is linear (affine) in time::

    z_t = J_t z_{t-1} + b_t,   J_t = diag(A) + W D_t,   b_t = drive_t = C s_t + h,
    D_t = diag(1 on linear units, 1{z_{t-1} > 0} on rectified units)

so all states follow from an associative scan over the affine maps ``(J_t, b_t)``: pairs of
neighbouring maps compose to ``(J_2 J_1, J_2 b_1 + b_2)``, the sequence halves, and the
states come back down in ``2 log2(T)`` vectorised steps instead of T sequential ones.

The codes are not known in advance, so :func:`parallel_alrnn_scan` iterates (a Newton
iteration: for a piecewise-linear map, the linearisation at the guessed trajectory is the map
of the guessed regions):

1. guess every step's code (that of the window's start state),
2. solve all states by the scan,
3. recompute each step's code from the solved states; where none changed the states are the
   exact trajectory (every state was computed in the region of its predecessor), otherwise
   start again at the first changed (or non-finite) step -- every state before it is already
   exact, so each pass fixes at least one more step. Trials (and ensemble members) whose
   codes settled drop out of later passes.

A window of steps whose codes still change after ``max_iter`` passes is finished by the
sequential engine (:func:`~alrnn_neuro.models.engine.alrnn_scan`) from its first inexact step,
so the result always equals the sequential recurrence up to rounding. Time is cut into
windows so that the per-step matrices ``J_t`` (window x batch x M x M) fit a memory budget.

The work per pass is O(T batch M^3) against O(T batch M^2) for the sequential loop; the scan
wins only where the loop is bound by its per-step overhead (long T, small batch x M). With
P = 0 everywhere the map is the same for every step and trial: one pass, the batch as columns
of one product per level (:func:`~alrnn_neuro.models.linear_scan.linear_scan`). Measured on 2
shared CPU cores, one torch thread, float32 (``benchmarks/bench_parallel_scan.py``, two runs,
M in {6, 16}, batch in {1, 16}): P = 0 took
0.6-0.8x the sequential time at T = 100 and 0.01-0.5x at T = 10,000; with P = M / 2 it was
clearly faster only for one trajectory at M = 6, T = 10,000 (0.5x, 6 passes), about even for
one trajectory at M = 16 (0.8-1.2x), and 6-34x slower with 16 trials.

Forward only: the result carries no gradient (it is computed under ``torch.no_grad``); train
with :func:`~alrnn_neuro.models.engine.alrnn_scan`. No teacher forcing either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import torch

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.engine import alrnn_scan
from alrnn_neuro.models.linear_scan import linear_scan

DEFAULT_MAX_ITER = 16
DEFAULT_MEMORY_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ParallelScanResult:
    """States of a parallel-in-time run and how they were obtained.

    Attributes
    ----------
    states : Tensor, shape (time, ..., batch, latent)
        ``z_1 .. z_T`` (as :func:`~alrnn_neuro.models.engine.alrnn_scan` returns them).
    iterations : int
        Scans run, summed over windows (P = 0: one per window).
    windows : int
        Time windows the sequence was cut into (memory budget).
    sequential_steps : int
        Steps finished by the sequential engine because ``max_iter`` was reached.
    """

    states: torch.Tensor
    iterations: int
    windows: int
    sequential_steps: int

    @property
    def converged(self) -> bool:
        """Every window's codes settled within ``max_iter`` scans (no sequential fallback)."""
        return self.sequential_steps == 0


def affine_prefix_scan(maps: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """All states of ``x_t = maps_t x_{t-1} + offsets_t`` with ``x_{-1} = 0``, in O(log T) steps.

    Parameters
    ----------
    maps : Tensor, shape (time, ..., latent, latent)
        ``J_t``; the dims in ``...`` may be 1 where the maps are shared (broadcast against
        ``offsets``). ``maps[0]`` is not used (fold the initial state into ``offsets[0]``).
    offsets : Tensor, shape (time, ..., latent)
        ``b_t``.

    Returns
    -------
    Tensor, shape (time, ..., latent)
        ``x_0 = b_0``, ``x_t = J_t x_{t-1} + b_t``.

    Examples
    --------
    >>> maps = torch.full((4, 1, 1), 0.5)
    >>> affine_prefix_scan(maps, torch.ones(4, 1)).flatten().tolist()
    [1.0, 1.5, 1.75, 1.875]
    """
    n_steps = offsets.shape[0]
    if n_steps == 1:
        return offsets
    half = n_steps // 2
    first, second = maps[0 : 2 * half : 2], maps[1 : 2 * half : 2]
    pair_maps = second @ first
    pair_offsets = (second @ offsets[0 : 2 * half : 2].unsqueeze(-1)).squeeze(-1)
    pair_offsets += offsets[1 : 2 * half : 2]
    odd = affine_prefix_scan(pair_maps, pair_offsets)  # x_1, x_3, ...
    states = torch.empty_like(offsets)
    states[0] = offsets[0]
    states[1 : 2 * half : 2] = odd
    n_even = (n_steps + 1) // 2 - 1  # x_2, x_4, ...
    if n_even:
        carried = (maps[2::2] @ odd[:n_even].unsqueeze(-1)).squeeze(-1)
        states[2::2] = carried + offsets[2::2]
    return states


def _check(drive, z0, A, W, pwl):
    """Validate shapes; return (z0, A, W, pwl_mask) expanded to the ensemble shape."""
    if drive.dim() < 3:
        raise DataValidationError(
            f"drive has shape {tuple(drive.shape)}; expected (time, ..., batch, latent)"
        )
    m, ens = drive.shape[-1], tuple(drive.shape[1:-2])
    if isinstance(pwl, Integral) and not isinstance(pwl, bool):
        if not 0 <= pwl <= m:
            raise ConfigError(f"n_pwl={pwl!r}; fix: an integer in [0, {m}] (latent units)")
        pwl = (torch.arange(m, device=drive.device) >= m - pwl).to(drive.dtype)
    try:
        A = A.to(drive.dtype).expand(*ens, m)
        W = W.to(drive.dtype).expand(*ens, m, m)
        pwl = torch.as_tensor(pwl, device=drive.device).expand(*ens, m) != 0
        z0 = z0.to(drive.dtype).expand(drive.shape[1:])
    except RuntimeError:
        raise DataValidationError(
            f"shapes do not fit drive {tuple(drive.shape)} (time, ..., batch, latent): A "
            f"{tuple(A.shape)}, W {tuple(W.shape)}, pwl {tuple(torch.as_tensor(pwl).shape)}, "
            f"z0 {tuple(z0.shape)}; fix: A (..., {m}), W (..., {m}, {m}), pwl_mask (..., {m}) "
            f"or an int, z0 broadcastable to (..., batch, {m})"
        ) from None
    return z0, A, W, pwl


def parallel_alrnn_scan(
    drive: torch.Tensor,
    z0: torch.Tensor,
    A: torch.Tensor,
    W: torch.Tensor,
    pwl: torch.Tensor | int,
    *,
    max_iter: int = DEFAULT_MAX_ITER,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> ParallelScanResult:
    """Run the AL-RNN recurrence parallel in time (see the module docstring); forward only.

    Same equations and shapes as :func:`~alrnn_neuro.models.engine.alrnn_scan` without
    forcing: ``z_t = A * z_{t-1} + W phi(z_{t-1}) + drive_t``.

    Parameters
    ----------
    drive : Tensor, shape (time, ..., batch, latent)
        ``C s_t + h`` for every step, time-major; ``...`` are ensemble dims.
    z0 : Tensor, shape broadcastable to (..., batch, latent)
        Initial state.
    A : Tensor, shape (..., latent)
        Diagonal of the linear self-connection.
    W : Tensor, shape (..., latent, latent2)
        Coupling matrix applied to ``phi(z)``.
    pwl : Tensor of shape (..., latent), or int
        ``pwl_mask`` (1 on rectified units), or the number P of rectified units (the last P).
    max_iter : int
        Scans per window before the sequential engine finishes it (>= 1).
    memory_bytes : int
        Budget for the per-step matrices of one window; sets the window length (>= 1).

    Returns
    -------
    ParallelScanResult
        ``states`` (time, ..., batch, latent), detached, equal to the sequential engine's up to
        rounding; ``iterations``, ``windows``, ``sequential_steps``.

    Examples
    --------
    >>> T, B, M = 5, 2, 3
    >>> out = parallel_alrnn_scan(torch.zeros(T, B, M), torch.ones(B, M),
    ...                           torch.full((M,), 0.5), torch.zeros(M, M), 1)
    >>> out.states[-1, 0], out.converged
    (tensor([0.0312, 0.0312, 0.0312]), True)
    """
    if not isinstance(max_iter, Integral) or isinstance(max_iter, bool) or max_iter < 1:
        raise ConfigError(f"max_iter={max_iter!r}; fix: an integer >= 1")
    if not isinstance(memory_bytes, Integral) or memory_bytes < 1:
        raise ConfigError(f"memory_bytes={memory_bytes!r}; fix: an integer >= 1 (bytes)")
    with torch.no_grad():
        drive = drive.detach()
        z0, A, W, pwl = _check(drive, z0.detach(), A.detach(), W.detach(), pwl)
        if drive.shape[0] == 0:
            return ParallelScanResult(drive.clone(), 0, 0, 0)
        if not bool(pwl.any()):  # P = 0 everywhere: one time-invariant map, one scan
            states = linear_scan(drive, z0, A, W)
            if states is not None:
                return ParallelScanResult(states, 1, 1, 0)
        return _run(drive, z0, A, W, pwl, max_iter, memory_bytes)


def _run(drive, z0, A, W, pwl, max_iter, memory_bytes) -> ParallelScanResult:
    """Flatten ensemble and batch into rows (each with its own map) and solve window by window."""
    n_steps, m = drive.shape[0], drive.shape[-1]
    batch, members = drive.shape[-2], math.prod(drive.shape[1:-2])
    rows = members * batch

    def per_row(x: torch.Tensor) -> torch.Tensor:
        tail = x.shape[len(drive.shape) - 3 :]
        return x.reshape(members, 1, *tail).expand(members, batch, *tail).reshape(rows, *tail)

    model = _RowModel(per_row(A), per_row(W), per_row(pwl))
    flat = drive.reshape(n_steps, rows, m)
    states = torch.empty_like(flat)
    per_step = 3 * rows * m * m * drive.element_size()
    window = max(1, min(n_steps, memory_bytes // per_step))
    iterations = windows = sequential = 0
    start = z0.reshape(rows, m)
    for w0 in range(0, n_steps, window):
        w1 = min(n_steps, w0 + window)
        iters, fallback = model.solve_window(flat[w0:w1], start, max_iter, states[w0:w1])
        iterations, windows, sequential = iterations + iters, windows + 1, sequential + fallback
        start = states[w1 - 1]
    return ParallelScanResult(states.reshape(drive.shape), iterations, windows, sequential)


@dataclass(frozen=True)
class _RowModel:
    """One AL-RNN per row: A (row, m), W (row, m, m), pwl (row, m) bool."""

    A: torch.Tensor
    W: torch.Tensor
    pwl: torch.Tensor

    def codes(self, z: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Diagonal of D for states z (..., row, m): 1 on linear units, 1{z > 0} on PWL ones."""
        return (~self.pwl[rows] | (z > 0)).to(z.dtype)

    def solve(self, drive, start, codes, rows) -> torch.Tensor:
        """States (time, row, m) of rows ``rows`` whose codes (time, row, m) are fixed."""
        maps = self.W[rows] * codes.unsqueeze(-2)
        maps.diagonal(dim1=-2, dim2=-1).add_(self.A[rows])
        offsets = drive.clone()
        offsets[0] += (maps[0] @ start.unsqueeze(-1)).squeeze(-1)
        return affine_prefix_scan(maps, offsets)

    def solve_window(self, drive, start, max_iter, out) -> tuple[int, int]:
        """Fill ``out`` with the exact states of a window; return (scans, sequential steps).

        Rows whose codes all agree drop out; the others restart at the first step where any
        of them changed (all states before it are exact).
        """
        n_steps = drive.shape[0]
        active = torch.arange(drive.shape[1], device=drive.device)
        codes = self.codes(start, active).expand(n_steps, *start.shape).clone()
        first = 0
        for iteration in range(1, max_iter + 1):
            before = start[active] if first == 0 else out[first - 1, active]
            solved = self.solve(drive[first:, active], before, codes[first:, active], active)
            out[first:, active] = solved
            new = self.codes(torch.cat([before.unsqueeze(0), solved[:-1]]), active)
            changed = (new != codes[first:, active]).any(dim=-1)  # (time, row)
            # a product of many expanding maps can overflow (inf * 0 = NaN) where the true
            # state is finite: treat such steps as unsettled, so the next scan starts there
            changed |= ~torch.isfinite(solved).all(dim=-1)
            moving = changed.any(dim=0)
            if not bool(moving.any()):
                return iteration, 0
            codes[first:, active] = new
            active = active[moving]
            first += int(torch.nonzero(changed[:, moving].any(dim=1))[0])
        before = start[active] if first == 0 else out[first - 1, active]
        rest = alrnn_scan(
            drive[first:, active].unsqueeze(-2),
            before.unsqueeze(-2),
            self.A[active],
            self.W[active],
            self.pwl[active].to(drive.dtype),
        )
        out[first:, active] = rest.squeeze(-2)
        return max_iter, n_steps - first
