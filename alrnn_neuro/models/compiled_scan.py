"""The AL-RNN recurrence on CPU through the compiled loops of :mod:`.scan_kernels`.

Same contract as the torch loop of :mod:`~alrnn_neuro.models.engine` (same inputs, outputs
and layouts: the outputs are a view of a member-major buffer, so the readout reads each
member's rows as one matrix), for float32 and float64 CPU tensors. Two entry points, both
picked by the engine where they apply: :func:`scan` takes the drive ``C s_t + h`` like
:func:`~alrnn_neuro.models.engine.alrnn_scan`; :func:`input_scan` takes the inputs and
computes the drive inside the compiled code (one product per member before its loop, and
``dC``, ``dh`` after the backward loop), which spares two thin torch products over all
steps (inputs x C and its gradient) and the drive's member-major buffer.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from alrnn_neuro.models.scan_kernels import scan_backward, scan_forward

#: dtypes the compiled loops are built for
DTYPES = (torch.float32, torch.float64)


def applies(drive: torch.Tensor) -> bool:
    """Whether the compiled loops can run this tensor's dtype and device (CPU float32/64)."""
    return drive.device.type == "cpu" and drive.dtype in DTYPES


def scan(drive, z0, A, W, lo, alpha_target, keep, forced):
    """The recurrence of a drive, in the engine's layouts (see ``engine._ALRNNScan``).

    ``drive`` (time, [member,] batch, latent); ``z0`` ([member,] batch, latent); ``A``,
    ``lo`` ([member,] latent); ``W`` ([member,] latent, latent); the forcing terms (time,
    [member,] batch, latent) (empty when nothing is forced) and the per-step ``forced``
    flags. Returns the outputs (time, [member,] batch, latent).
    """
    batched = drive.dim() == 4
    member_major = (lambda x: x.movedim(0, 1)) if batched else (lambda x: x.unsqueeze(0))
    members = (lambda x: x) if batched else (lambda x: x.unsqueeze(0))
    terms = _forcing_terms(alpha_target, keep, forced, member_major)
    source, z0, A, W = member_major(drive), members(z0), members(A), members(W)
    out = CompiledScan.apply(source, None, None, z0, A, W, members(lo), *terms, forced)
    return out.movedim(1, 0) if batched else out.squeeze(0)


def input_scan(inputs, C, h, z0, A, W, lo, alpha_target, keep, forced):
    """The recurrence with the drive ``inputs @ C^T + h`` computed inside the loops.

    Everything member-major: ``inputs`` (member or 1, time, batch, input) (1: shared by all
    members); ``C`` (member, latent, input); ``h``, ``A``, ``lo`` (member, latent); ``z0``
    (member, batch, latent); ``W`` (member, latent, latent); the forcing terms (member, time,
    batch, latent) (empty when nothing is forced). Returns the outputs (member, time, batch,
    latent).
    """
    terms = _forcing_terms(alpha_target, keep, forced, lambda x: x)
    return CompiledScan.apply(inputs, C, h, z0, A, W, lo, *terms, forced)


def _forcing_terms(alpha_target, keep, forced, member_major):
    if not any(forced):
        return None, None
    return tuple(member_major(f).contiguous() for f in (alpha_target, keep))


def _no_members(ndim: int, like: torch.Tensor) -> torch.Tensor:
    """An array with no members (first dim 0) of ``ndim`` dims: a parameter not used."""
    return like.new_empty((0,) * ndim)


def _np(x: torch.Tensor) -> np.ndarray:
    """A C-contiguous numpy view (a copy only where ``x`` is not contiguous)."""
    return x.detach().contiguous().numpy()


class CompiledScan(torch.autograd.Function):
    """autograd.Function of the compiled loops; every tensor member-major (see :func:`scan`).

    ``source`` is the drive (member, time, batch, latent) when ``C`` is None, else the inputs
    (member or 1, time, batch, input) with ``C`` (member, latent, input) and ``h`` (member,
    latent). The forcing terms are None when ``forced`` has no step.
    """

    @staticmethod
    def forward(ctx, source, C, h, z0, A, W, lo, alpha_target, keep, forced):  # noqa: D102
        n_member, n_steps, batch = A.shape[0], source.shape[1], source.shape[2]
        m = A.shape[-1]
        slab = (n_member, n_steps, batch, m)
        flags = np.array(forced, dtype=np.uint8)
        dummy = source.new_empty((1, 1, 1, 1))  # stands in for an unused 4-dim array
        from_inputs, forcing = C is not None, alpha_target is not None
        carried = source.new_empty(slab) if forcing else dummy
        states = source.new_empty((n_member, n_steps + 1, batch, m))
        if from_inputs:  # the loops form the drive: no drive array, C^T and h instead
            drive, inputs, c_t, h = dummy, source, C.mT, h
        else:  # zero members in C^T and h tell the loops to read the drive
            drive, inputs, c_t, h = source, dummy, _no_members(3, source), _no_members(2, source)
        if not forcing:
            alpha_target = keep = dummy
        scan_forward(
            *(_np(x) for x in (drive, inputs, c_t, h, z0.expand(n_member, batch, m), A, lo)),
            _np(W.mT),
            flags,
            _np(alpha_target),
            _np(keep),
            states.numpy(),
            carried.numpy(),
        )
        ctx.forced, ctx.from_inputs = flags, from_inputs
        ctx.save_for_backward(states, carried, keep, A, W, lo, inputs, C)
        return states.narrow(1, 1, n_steps)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):  # noqa: D102
        states, carried, keep, A, W, lo, inputs, C = ctx.saved_tensors
        need, from_inputs = ctx.needs_input_grad, ctx.from_inputs
        n_member, n_steps, batch, m = grad_out.shape
        # the drive's gradient only where wanted (else a scratch slab inside the loops)
        grad = grad_out.new_empty(grad_out.shape if need[0] else (0, 1, 1, 1))
        g_a, g_z0 = A.new_zeros(A.shape), states.new_zeros((n_member, batch, m))
        g_w = W.new_zeros(W.shape) if need[5] else _no_members(3, W)
        if from_inputs:
            g_c, g_h = C.new_zeros(C.shape), A.new_zeros(A.shape)
        else:  # no members: the loops leave dC and dh out
            g_c, g_h = _no_members(3, A), _no_members(2, A)
        if n_steps:
            saved = (states, carried)
            operands = (keep, A, lo, W, inputs)
            outputs = (grad, g_a, g_c, g_h, g_z0, g_w)
            scan_backward(
                _np(grad_out),
                *(x.numpy() for x in saved),
                ctx.forced,
                *(_np(x) for x in operands),
                *(x.numpy() for x in outputs),
            )
        g_source = None
        if need[0]:
            g_source = grad
            if from_inputs:  # dL/ds_t = g_t @ C, summed over members for shared inputs
                g_source = torch.matmul(grad, C.unsqueeze(1))
                g_source = g_source.sum(0, keepdim=True) if inputs.shape[0] == 1 else g_source
        return (
            g_source,
            g_c if need[1] else None,
            g_h if need[2] else None,
            g_z0 if need[3] else None,
            g_a if need[4] else None,
            g_w if need[5] else None,
            *(None,) * 4,
        )
