"""The AL-RNN recurrence on CPU through the compiled loops of :mod:`.scan_kernels`.

Same contract as the torch loop of :mod:`~alrnn_neuro.models.engine` (same inputs, outputs
and layouts: the outputs are a time-major view of a member-major buffer, so the readout reads
each member's rows as one matrix), for float32 and float64 CPU tensors.
:func:`~alrnn_neuro.models.engine.alrnn_scan` picks it where it applies.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from alrnn_neuro.models.scan_kernels import scan_backward, scan_forward

#: dtypes the compiled loops are built for
DTYPES = (torch.float32, torch.float64)


def applies(drive: torch.Tensor) -> bool:
    """Whether the compiled loops can run this drive (a CPU float32/float64 tensor)."""
    return drive.device.type == "cpu" and drive.dtype in DTYPES


def _np(x: torch.Tensor) -> np.ndarray:
    """A C-contiguous numpy view (a copy only where ``x`` is not contiguous)."""
    return x.detach().contiguous().numpy()


class CompiledScan(torch.autograd.Function):
    """autograd.Function of the recurrence with one or no ensemble dim (see ``_ALRNNScan``).

    Arguments as ``_ALRNNScan``: ``drive`` (time, [member,] batch, latent), ``z0``
    ([member,] batch, latent), ``A`` and ``lo`` ([member,] latent), ``W`` ([member,] latent,
    latent), the forcing terms (time, [member,] batch, latent) and the per-step ``forced``
    flags; then ``grads``, whether a backward pass may follow (else ``phi`` is not stored).
    """

    @staticmethod
    def forward(ctx, drive, z0, A, W, lo, alpha_target, keep, forced, grads):  # noqa: D102
        batched = drive.dim() == 4
        n_steps, shape = drive.shape[0], drive.shape[1:]
        # everything member-major with one member dim: (member, time, batch, latent)
        d = drive.movedim(0, 1) if batched else drive.unsqueeze(0)
        members = (lambda x: x) if batched else (lambda x: x.unsqueeze(0))
        a, low, w = members(A), members(lo), members(W)
        flags = np.array(forced, dtype=np.uint8)
        if any(forced):
            alpha_target, keep = (
                (f.movedim(0, 1) if batched else f.unsqueeze(0)).contiguous()
                for f in (alpha_target, keep)
            )
            carried = d.new_empty(d.shape)
        else:
            alpha_target = keep = carried = d.new_empty((1, 1, 1, 1))
        states = d.new_empty((d.shape[0], n_steps + 1, *d.shape[2:]))
        phis = d.new_empty((d.shape[0], n_steps if grads else 1, *d.shape[2:]))
        scan_forward(
            _np(d),
            _np(members(z0.expand(shape))),
            _np(a),
            _np(low),
            _np(w.mT),
            flags,
            _np(alpha_target),
            _np(keep),
            states.numpy(),
            phis.numpy(),
            carried.numpy(),
        )
        ctx.forced, ctx.batched = flags, batched
        ctx.save_for_backward(states, phis, carried, keep, a, low, w, A, W)
        out = states.narrow(1, 1, n_steps)
        return out.movedim(1, 0) if batched else out.squeeze(0)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):  # noqa: D102
        states, phis, carried, keep, a, low, w, A, W = ctx.saved_tensors
        need, batched = ctx.needs_input_grad, ctx.batched
        n_member, n_steps, batch, m = phis.shape[0], grad_out.shape[0], *states.shape[2:]
        if n_steps == 0:
            g_z0 = torch.zeros_like(states[:, 0])
            zeros = (torch.zeros_like(A), torch.zeros_like(W))
            return grad_out, g_z0 if batched else g_z0[0], *zeros, *(None,) * 5
        go = grad_out.movedim(0, 1) if batched else grad_out.unsqueeze(0)
        grad = go.new_empty(go.shape)
        g_a = a.new_empty(a.shape)
        g_z0 = states.new_empty((n_member, batch, m) if need[1] else (0, 0, 0))
        scan_backward(
            _np(go),
            states.numpy(),
            carried.numpy(),
            ctx.forced,
            _np(keep),
            _np(a),
            _np(low),
            _np(w),
            grad.numpy(),
            g_a.numpy(),
            g_z0.numpy(),
        )
        g_w = None
        if need[3]:
            rows = grad.view(n_member, -1, m).mT
            g_w = torch.bmm(rows, phis.view(n_member, -1, m)).view(W.shape)
        unbatch = (lambda x: x) if batched else (lambda x: x.squeeze(0))
        g_drive = grad.movedim(1, 0) if batched else grad.squeeze(0)
        return (
            g_drive if need[0] else None,
            unbatch(g_z0) if need[1] else None,
            unbatch(g_a).view(A.shape) if need[2] else None,
            g_w,
            None,
            None,
            None,
            None,
            None,
        )
