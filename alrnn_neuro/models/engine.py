"""Fast whole-sequence AL-RNN recurrence with a hand-written backward pass (BPTT).

The forward pass runs the recurrence in a tight loop without building an autograd graph
(three kernels per step -- ``maximum``, ``addcmul``, in-place ``addmm_`` -- writing into
preallocated buffers), and the backward pass walks the saved states backwards once (``mm``
and two ``addcmul`` per step). Work that does not depend on the previous step (the ReLU
derivative, the gradients of ``A`` and ``W``) is one vectorised operation each, before or
after the loop. The states are kept member-major, (member, time, batch, latent): each
step's slab is then a (member, batch, latent) view with contiguous batch x latent rows, the
gradients of ``A`` and ``W`` over all steps are one product per member, and the readout
reads each member's (time, batch) rows as one matrix (see
:mod:`~alrnn_neuro.models.fused_poisson`). Per-step operands (``A``, the rectification
bounds) are expanded to full slabs once, since broadcasting over the batch dim runs strided
inner loops of length latent. The input drive ``C s_t + h`` is computed by the caller in one
product per member (see :meth:`ALRNN.forward <alrnn_neuro.models.alrnn.ALRNN.forward>`), or,
through :func:`compiled_input_scan`, inside the compiled loops.
Gradient-free runs of linear models (P = 0) with small steps go through the parallel-in-time
:func:`~alrnn_neuro.models.linear_scan.linear_scan` where it was measured faster (long
sequences of one or a few trajectories; ``benchmarks/bench_parallel_scan.py``).

Equations (time-major, ``...`` = optional ensemble dims, ``B`` = batch)::

    c_0 = z0
    y_t = A * c_{t-1} + phi(c_{t-1}) @ W^T + drive_t          (the output, t = 1..T)
    c_t = (1 - alpha_t) * y_t + alpha_t * target_t            (carried state; = y_t if unforced)
    phi(z) = max(z, lo),  lo = 0 on piecewise-linear units and -inf on linear units

Adjoint (g_t = dL/dy_t, accumulated from the last step backwards)::

    dL/dc_{t-1} = A * g_t + (g_t @ W) * phi'(c_{t-1}),   phi' = 1{c > 0} on PWL units, 1 else
    g_{t-1}    += (1 - alpha_{t-1}) * dL/dc_{t-1}         (the forcing target gets no gradient)
    dL/dA = sum_t,b g_t * c_{t-1},   dL/dW = sum_t,b g_t^T phi(c_{t-1}),   dL/ddrive_t = g_t

On CPU (float32, float64) the same loops run compiled by default
(:mod:`~alrnn_neuro.models.compiled_scan`, numba: one BLAS product and one fused elementwise
pass per step, no kernel launches), 2-3x faster than the torch loop here; the torch loop
runs on GPUs, where numba cannot be imported, and with ``compiled=False``. Measured
alternatives (CPU, torch 2.13): ``torch.jit.script`` of the loops ran them 1.2-1.6x faster
but is deprecated in torch 2.13 (a DeprecationWarning on every use, removal planned),
``torch.compile`` needs a C++ compiler at run time on CPU, and a C++ extension of the loops
with ATen kernels gained 6 % (each ATen kernel still costs a launch); none is used.
``benchmarks/bench_training.py`` times a full training step against ``torch.nn.RNN``.

Outputs are (time-major) views of a member-major buffer saved for the backward pass: modify
them in place only after cloning (autograd raises an error otherwise).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable

import torch
from torch.autograd.function import once_differentiable

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models.forcing import forcing_terms
from alrnn_neuro.models.linear_scan import linear_scan, prefer_linear_scan

logger = logging.getLogger(__name__)


class _ALRNNScan(torch.autograd.Function):
    """autograd.Function of :func:`alrnn_scan` on flattened shapes (one or no ensemble dim).

    The states live member-major, (member, time, batch, latent) (or (time, batch, latent)
    without an ensemble dim), so the per-step slabs are (member, batch, latent) views whose
    elementwise kernels run over contiguous batch x latent rows and ``dA`` / ``dW`` of all
    steps are one product per member after the backward loop.
    """

    @staticmethod
    def forward(ctx, drive, z0, A, W, lo, alpha_target, keep, forced):  # noqa: D102
        n_steps = drive.shape[0]
        batched = drive.dim() == 4
        tdim = 1 if batched else 0  # the time dim of the member-major buffers
        shape = drive.shape[1:]  # ([member,] batch, latent)
        # per-step operands expanded to the full slab: same-shape kernels vectorise, a
        # broadcast over the batch dim runs strided inner loops of length latent
        a = A.unsqueeze(-2).expand(shape).contiguous()
        low = lo.unsqueeze(-2).expand(shape).contiguous()
        w_t = W.mT.contiguous()  # a plain (not transposed) right operand is the faster GEMM
        d = drive.movedim(0, tdim).contiguous()  # no copy for the engine's own layout
        states = d.new_empty((*d.shape[:tdim], n_steps + 1, *d.shape[tdim + 1 :]))
        states.select(tdim, 0).copy_(z0)
        ys, ds = states.unbind(tdim), d.unbind(tdim)
        phi = torch.empty_like(a)  # phi(c_t) is recomputed in one pass for dW
        # a batched product into a strided (member) slab falls back to one product per
        # member: the ensemble computes each step in a contiguous buffer, then stores it
        work = [torch.empty_like(a), torch.empty_like(a)] if batched else []
        forced_rows = []
        state = ys[0]
        for t in range(n_steps):
            torch.maximum(state, low, out=phi)
            if batched:
                y = work[t % 2]
                torch.addcmul(ds[t], state, a, out=y)
                y.baddbmm_(phi, w_t)
                ys[t + 1].copy_(y)
            else:
                y = ys[t + 1]
                torch.addcmul(ds[t], state, a, out=y)
                y.addmm_(phi, w_t)
            if forced[t]:
                state = torch.addcmul(alpha_target[t], y, keep[t])
                forced_rows.append(state)
            else:
                state = y
        carried = torch.stack(forced_rows, tdim) if forced_rows else drive.new_empty((0,))
        ctx.forced = forced
        ctx.save_for_backward(states, A, W, a, low, keep, carried)
        return states.narrow(tdim, 1, n_steps).movedim(tdim, 0)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):  # noqa: D102
        states, A, W, a, low, keep, carried = ctx.saved_tensors
        forced, need = ctx.forced, ctx.needs_input_grad
        n_steps = grad_out.shape[0]
        if n_steps == 0:
            return (
                grad_out,
                torch.zeros_like(states.select(1 if grad_out.dim() == 4 else 0, 0)),
                torch.zeros_like(A),
                torch.zeros_like(W),
                None,
                None,
                None,
                None,
            )
        batched = grad_out.dim() == 4
        tdim = 1 if batched else 0
        mm = torch.bmm if batched else torch.mm
        go = grad_out.movedim(0, tdim)  # a view; read only (autograd may reuse it)
        # prev[t] = carried state c_t that output t was computed from (forced rows replaced)
        prev = states.narrow(tdim, 0, n_steps)
        rows = [t + 1 for t in range(n_steps - 1) if forced[t]]
        if rows:
            prev = prev.clone()
            index = torch.tensor(rows, device=prev.device)
            prev.index_copy_(tdim, index, carried.narrow(tdim, 0, len(rows)))
        deriv = torch.empty_like(prev)
        torch.gt(prev, low.unsqueeze(tdim), out=deriv)  # phi': 1{c > 0} PWL, 1 linear units
        grad = torch.empty_like(deriv)  # dL/dy_t, filled from the last step backwards
        gs, gos, ds = grad.unbind(tdim), go.unbind(tdim), deriv.unbind(tdim)
        gs[-1].copy_(gos[-1])
        tmp = torch.empty_like(gs[0])
        for t in range(n_steps - 1, 0, -1):
            g = gs[t]
            mm(g, W, out=tmp)
            if forced[t - 1]:
                tmp.mul_(ds[t]).addcmul_(g, a)
                torch.addcmul(gos[t - 1], tmp, keep[t - 1], out=gs[t - 1])
            else:
                torch.addcmul(gos[t - 1], tmp, ds[t], out=gs[t - 1])
                gs[t - 1].addcmul_(g, a)
        g_z0 = mm(gs[0], W).mul_(ds[0]).addcmul_(gs[0], a) if need[1] else None
        # dW and dA of all steps at once, reusing the (no longer needed) deriv buffer
        m, k = grad.shape[-1], grad.shape[0] if batched else 1
        g_w = g_a = None
        if need[3]:
            phis = torch.maximum(prev, low.unsqueeze(tdim), out=deriv).view(k, -1, m)
            g_w = torch.bmm(grad.view(k, -1, m).mT, phis).view(W.shape)
        if need[2]:
            g_a = torch.mul(grad, prev, out=deriv).view(k, -1, m).sum(1).view(A.shape)
        g_drive = grad.movedim(tdim, 0) if need[0] else None
        return g_drive, g_z0, g_a, g_w, None, None, None, None


def alrnn_scan(
    drive: torch.Tensor,
    z0: torch.Tensor,
    A: torch.Tensor,
    W: torch.Tensor,
    pwl_mask: torch.Tensor,
    forcing: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    parallel: bool | None = None,
    compiled: bool | None = None,
) -> torch.Tensor:
    """Run the AL-RNN recurrence over a whole sequence (fast forward, hand-written backward).

    Parameters
    ----------
    drive : Tensor, shape (time, ..., batch, latent)
        ``C s_t + h`` for every step, time-major; ``...`` are ensemble dims.
    z0 : Tensor, shape broadcastable to (..., batch, latent)
        Initial state ``c_0``.
    A : Tensor, shape (..., latent)
        Diagonal of the linear self-connection.
    W : Tensor, shape (..., latent, latent2)
        Coupling matrix applied to ``phi(z)``.
    pwl_mask : Tensor, shape (..., latent)
        1 on piecewise-linear (rectified) units, 0 on linear units.
    forcing : (Tensor, Tensor), optional
        ``(target, alpha)``, both broadcastable to (time, ..., batch, latent), time-major.
        After step t the carried state becomes ``(1 - alpha_t) y_t + alpha_t target_t``;
        entries with ``alpha == 0`` ignore the target (it may hold NaN there). Neither
        receives a gradient.
    parallel : bool, optional
        Linear models (no rectified unit), no forcing, no gradient wanted: run the
        parallel-in-time :func:`~alrnn_neuro.models.linear_scan.linear_scan` instead of the
        loop (same states up to rounding). None (default): where it is faster
        (:func:`~alrnn_neuro.models.linear_scan.prefer_linear_scan`: long sequences of small
        steps, e.g. one trajectory); True: whenever it applies; False: never.
    compiled : bool, optional
        Run the loops compiled (:mod:`~alrnn_neuro.models.compiled_scan`, numba) instead of
        as torch kernels launched step by step. None (default): on CPU (float32, float64)
        whenever numba can be imported; True: required (a ConfigError where it cannot run);
        False: never (the torch loop, also the one on GPUs).

    Returns
    -------
    Tensor, shape (time, ..., batch, latent)
        The outputs ``y_t`` (before forcing is applied at step t).

    Examples
    --------
    >>> T, B, M = 5, 2, 3
    >>> y = alrnn_scan(torch.zeros(T, B, M), torch.ones(B, M), torch.full((M,), 0.5),
    ...                torch.zeros(M, M), torch.tensor([0.0, 0.0, 1.0]))
    >>> y[-1, 0]
    tensor([0.0312, 0.0312, 0.0312])
    """
    if (
        parallel is not False
        and forcing is None
        and _linear_without_grad(drive, z0, A, W, pwl_mask)
    ):
        n_steps, (batch, m) = drive.shape[0], drive.shape[-2:]
        if parallel or prefer_linear_scan(n_steps, batch, m, math.prod(drive.shape[1:-2])):
            states = linear_scan(drive, z0, A, W)
            if states is not None:  # None: overflowing map powers, the loop is exact
                return states
    ens = tuple(drive.shape[1:-2])
    if len(ens) <= 1:
        return _apply(drive, z0, A, W, pwl_mask, forcing, compiled)
    # several ensemble dims: flatten them into one for the kernels
    shape, (batch, m) = drive.shape, drive.shape[-2:]
    n_ens = math.prod(ens)
    flat_forcing = None
    if forcing is not None:
        flat_forcing = tuple(f.expand(shape).reshape(shape[0], n_ens, batch, m) for f in forcing)
    out = _apply(
        drive.reshape(shape[0], n_ens, batch, m),
        z0.expand(shape[1:]).reshape(n_ens, batch, m),
        A.expand(*ens, m).reshape(n_ens, m),
        W.expand(*ens, m, m).reshape(n_ens, m, m),
        pwl_mask.expand(*ens, m).reshape(n_ens, m),
        flat_forcing,
        compiled,
    )
    return out.reshape(shape)


def _linear_without_grad(drive, z0, A, W, pwl_mask) -> bool:
    """No rectified unit anywhere and no gradient wanted (the linear scan's case)."""
    tensors = (drive, z0, A, W)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return False
    return not bool((pwl_mask != 0).any())


def _apply(drive, z0, A, W, pwl_mask, forcing, compiled):
    n_steps = drive.shape[0]
    z0 = z0.expand(drive.shape[1:])
    lo = _rectification_bounds(pwl_mask, drive.dtype)
    if forcing is None:
        forced = (False,) * n_steps
        alpha_target = keep = drive.new_empty((0,))
    else:
        target, alpha = (f.detach().to(drive.dtype).expand(drive.shape) for f in forcing)
        alpha_target, keep = (f.contiguous() for f in forcing_terms(target, alpha))
        forced = _forced_steps(alpha)
    kernels = _compiled_kernels(drive, compiled)
    if kernels is not None:
        return kernels.scan(drive, z0, A, W, lo, alpha_target, keep, forced)
    return _ALRNNScan.apply(drive, z0, A, W, lo, alpha_target, keep, forced)


def compiled_input_scan(
    inputs: torch.Tensor,
    C: torch.Tensor,
    h: torch.Tensor,
    z0: torch.Tensor,
    A: torch.Tensor,
    W: torch.Tensor,
    pwl_mask: torch.Tensor,
    forcing: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor | None:
    """:func:`alrnn_scan` of the drive ``inputs @ C^T + h``, formed inside the compiled loops.

    The drive is then one small product per step (and ``dC``, ``dh`` are summed in the
    backward loop) instead of two thin products over all steps. None where this does not
    apply: more than one ensemble dim, no inputs, no compiled loops for this dtype or device,
    or a linear model without gradients (the parallel scan's case); then form the drive and
    call :func:`alrnn_scan`.

    Parameters
    ----------
    inputs : Tensor, shape ([member,] batch, time, input)
        Inputs in the model's layout; without the member dim shared by all members.
    C : Tensor, shape ([member,] latent, input)
    h : Tensor, shape ([member,] latent)
    z0 : Tensor, shape broadcastable to ([member,] batch, latent)
    A, pwl_mask : Tensor, shape ([member,] latent)
    W : Tensor, shape ([member,] latent, latent)
    forcing : (Tensor, Tensor), optional
        ``(target, alpha)`` broadcastable to ([member,] batch, time, latent) (as from
        :func:`~alrnn_neuro.models.forcing.prepare_forcing`).

    Returns
    -------
    Tensor, shape ([member,] batch, time, latent), or None
        A view of a member-major (time, batch) buffer, as from :func:`alrnn_scan`.
    """
    n_ens = A.dim() - 1
    kernels = None if n_ens > 1 or inputs.shape[-1] == 0 else _compiled_kernels(A, None)
    if kernels is None:
        return None
    if _linear_without_grad(inputs, z0, A, W, pwl_mask) and not (
        torch.is_grad_enabled() and (C.requires_grad or h.requires_grad)
    ):
        return None
    members = (lambda x: x) if n_ens else (lambda x: x.unsqueeze(0))
    k, (batch, n_steps) = A.shape[0] if n_ens else 1, inputs.shape[-3:-1]
    m = A.shape[-1]
    x = inputs.transpose(-3, -2)  # (time, batch, input) shared, or per member
    x = (x if x.dim() == 4 else x.unsqueeze(0)).contiguous()  # (member or 1, ...)
    alpha_target = keep = None
    forced = (False,) * n_steps
    if forcing is not None:
        shape = (k, batch, n_steps, m)
        target, alpha = (members(f.detach().to(A.dtype)).expand(shape) for f in forcing)
        alpha_target, keep = (f.transpose(1, 2) for f in forcing_terms(target, alpha))
        forced = _forced_steps(alpha.transpose(0, 2))  # time first
    lo = _rectification_bounds(pwl_mask, A.dtype)
    state = members(z0.expand(*A.shape[:-1], batch, m))
    args = (members(C), members(h), state, members(A), members(W), members(lo))
    out = kernels.input_scan(x, *args, alpha_target, keep, forced).transpose(1, 2)
    return out if n_ens else out.squeeze(0)


def _rectification_bounds(pwl_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``lo`` of ``phi(z) = max(z, lo)``: 0 on rectified units, -inf on linear units."""
    return torch.where(pwl_mask != 0, 0.0, float("-inf")).to(dtype)


def _forced_steps(alpha: torch.Tensor) -> tuple[bool, ...]:
    """Per step of ``alpha`` (time first), whether the state carried after it is forced;
    never after the last step, whose state is not carried."""
    n_steps = alpha.shape[0]
    if not n_steps:
        return ()
    on = (alpha != 0).reshape(n_steps, -1).any(dim=1).tolist()
    return tuple(bool(f) for f in on[:-1]) + (False,)


def _compiled_kernels(drive: torch.Tensor, compiled: bool | None):
    """The :mod:`~alrnn_neuro.models.compiled_scan` module where it runs this drive, else None."""
    if compiled is False:
        return None
    kernels = _import_compiled()
    if kernels is not None and kernels.applies(drive):
        return kernels
    if compiled:
        why = (
            "numba cannot be imported"
            if kernels is None
            else (f"the drive is {drive.dtype} on {drive.device}, not float32/float64 on the CPU")
        )
        raise ConfigError(
            f"compiled=True: the compiled loops cannot run here ({why}). "
            "Fix: compiled=None (use them where they apply) or False"
        )
    return None


@functools.cache
def _import_compiled():
    """The compiled loops' module, or None where numba cannot be imported or set up (e.g. no
    writable cache directory): the torch loop runs instead, with a warning in the log."""
    try:
        from alrnn_neuro.models import compiled_scan
    except Exception as err:  # ImportError, or numba's RuntimeError without a cache locator
        logger.warning("compiled recurrence loops unavailable (%s); using the torch loop", err)
        return None
    return compiled_scan


def time_major(x: torch.Tensor, n_ens: int) -> torch.Tensor:
    """(..., batch, time, c) -> (time, ..., batch, c), inserting ``n_ens`` ensemble dims if absent.

    Examples
    --------
    >>> time_major(torch.zeros(2, 5, 3), 1).shape
    torch.Size([5, 1, 2, 3])
    """
    x = x.movedim(-2, 0)
    if x.dim() == 3 and n_ens:
        x = x.reshape(x.shape[0], *(1,) * n_ens, *x.shape[1:])
    return x


def plain_scan(
    step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    z0: torch.Tensor,
    forcing: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Reference per-step autograd loop: ``y_t = step(c_{t-1}, s_t)``, same forcing rule.

    Parameters
    ----------
    step : callable
        ``step(z (..., batch, latent), s (..., batch, input)) -> z_next``.
    inputs : Tensor, shape (..., batch, time, input)
    z0 : Tensor, shape (..., batch, latent)
    forcing : (Tensor, Tensor), optional
        ``(targets, alpha)`` of shape (..., batch, time, latent) (see :func:`alrnn_scan`).

    Returns
    -------
    Tensor, shape (..., batch, time, latent)
    """
    if forcing is not None:
        alpha_target, keep = forcing_terms(*forcing)
    state, outs = z0, []
    for t in range(inputs.shape[-2]):
        y = step(state, inputs[..., t, :])
        outs.append(y)
        state = y if forcing is None else y * keep[..., t, :] + alpha_target[..., t, :]
    if not outs:
        return z0.new_zeros((*z0.shape[:-1], 0, z0.shape[-1]))
    return torch.stack(outs, dim=-2)
