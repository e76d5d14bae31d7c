"""Per-member Poisson NLL of an ensemble readout with a hand-written backward pass.

``poisson_member_loss(weight, bias, latents, counts, valid, observed)`` is, for every member
k, the mean over valid, observed entries of the Poisson NLL of
:meth:`PoissonReadout.loss <alrnn_neuro.models.observation.PoissonReadout.loss>`::

    x = z @ B_k^T + b_k,   rate = softplus(x)  (or exp(x)),
    nll = rate - y log(rate + tiny) + log(y!)   (log(rate) = x for the exp link)

but it does a fraction of the work of the autograd version, which matters when K members
times (trial, time, unit) entries are millions of numbers per step:

* on a CPU in float32 with the softplus link, each member's readout is one compiled pass
  (:func:`~alrnn_neuro.models.poisson_kernels.softplus_poisson_readout`, measured there);
* otherwise each member's rows are one matrix of the engine's member-major buffer, read in
  place, and the readout one batched product per chunk of about :data:`CHUNK_ELEMENTS`
  entries (temporaries stay in cache), unit-major ``B_k z_k^T`` (unit, row): the GEMM writes
  those long rows about 1.5x faster than (row, unit); with padded steps only the valid rows
  are gathered (NaN there never propagates) and their gradient scattered back;
* the output is one number per member, so each member's gradient is known in the forward
  pass up to its upstream factor: it is formed there (``dnll/dx = s - y s / (rate + tiny)``
  with ``s = sigmoid(x)``, never overflowing since ``s / (rate + tiny) <= ~1``; ``rate - y``
  for exp), only when a gradient is wanted (not under ``torch.no_grad``), and the backward
  pass only scales it;
* ``log(y!)`` depends on the data only: for integer counts it is a table lookup.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models import poisson_kernels
from alrnn_neuro.models.log_factorial import log_factorial_sum

#: elements (member x row x unit) per chunk: big enough to amortise Python overhead, small
#: enough that the temporaries stay in cache and are reused by the allocator (one large
#: fresh temporary per step costs more in page faults than its arithmetic)
CHUNK_ELEMENTS = 1 << 18


class _PoissonSums(torch.autograd.Function):
    """Per-member sums of ``rate - y log rate`` over the rows of the data (see module doc).

    The output is one number per member, so the gradient of member k's sum is complete after
    the forward pass up to the upstream factor ``g_k``: it is computed there (member by
    member in the compiled kernel, else chunk by chunk), and the backward pass only scales it.
    """

    @staticmethod
    def forward(ctx, latents, weight, bias, y, w, index, exp_link, count, grads):  # noqa: D102
        rebuild, rows = _member_rows(latents)
        compiled = poisson_kernels.applies(latents, exp_link)  # one compiled pass per member
        g_rows = None
        if grads and ctx.needs_input_grad[0]:  # rows outside ``index`` are zeroed where written
            g_rows = latents.new_empty(rows.shape)
        if grads:
            g_weight, g_bias = torch.empty_like(weight), torch.empty_like(bias)
        gradients = (g_rows, g_weight, g_bias) if grads else None
        total = latents.new_empty(weight.shape[0])
        # unit-major (unit, row) operands: the readout is then the product B_k z_k^T, whose
        # long output rows the GEMM writes faster than those of z_k B_k^T (module doc)
        y = y.t().contiguous()
        w = None if w is None else w.t().contiguous()
        if compiled:
            used = torch.arange(rows.shape[1]) if index is None else index
            w = torch.ones_like(y) if w is None else w
            sums = poisson_kernels.readout_terms(
                rows, used, weight, bias, y, w, count, *(gradients or (None,) * 3)
            )
            total.copy_(sums)
        else:
            _torch_sums(rows, weight, bias, y, w, index, exp_link, count, total, gradients)
        if grads:
            g_latents = None if g_rows is None else rebuild(g_rows)
            ctx.save_for_backward(g_latents, g_weight.div_(count), g_bias.div_(count))
        return total / count

    @staticmethod
    @once_differentiable
    def backward(ctx, g):  # noqa: D102
        g_latents, g_weight, g_bias = ctx.saved_tensors
        need = ctx.needs_input_grad
        scale = g.reshape(-1, 1, 1)
        if need[0] and g_latents is not None and not bool((g == 1).all()):
            # out of place: the saved gradients stay valid for retain_graph
            g_latents = g_latents * g.reshape(-1, 1, 1, 1)
        g_weight = g_weight * scale if need[1] else None
        g_bias = g_bias * scale.squeeze(-1) if need[2] else None
        return g_latents if need[0] else None, g_weight, g_bias, *(None,) * 6


def _torch_sums(rows, weight, bias, y, w, index, exp_link, count, total, gradients):
    """The torch chunk loop of :class:`_PoissonSums` (exp link, float64, GPUs): fills
    ``total`` and, unless ``gradients`` is None, ``(g_rows, g_weight, g_bias)``."""
    k, n_units = weight.shape[:2]
    n_rows = rows.shape[1] if index is None else index.numel()
    yf, wf = y.reshape(-1), None if w is None else w.reshape(-1)
    tiny = torch.finfo(rows.dtype).tiny
    step = max(1, CHUNK_ELEMENTS // max(n_rows * n_units, 1))
    for lo in range(0, k, step):
        hi = min(k, lo + step)
        z = rows[lo:hi] if index is None else gather_rows(rows[lo:hi], index)
        x = torch.bmm(weight[lo:hi], z.mT)
        x.add_(bias[lo:hi].unsqueeze(-1))  # (2x faster than baddbmm)
        xf, rf = x.view(hi - lo, -1), None
        if exp_link:  # nll = rate - y x
            rate = torch.exp(x)
            rf = rate.view(hi - lo, -1)
            total[lo:hi] = (rf.sum(1) if wf is None else rf @ wf) - xf @ yf
        else:  # nll = rate - y log(rate + tiny)
            rate = torch.nn.functional.softplus(x)
            rf = rate.view(hi - lo, -1)
            rate_sum = rf.sum(1) if wf is None else rf @ wf
            total[lo:hi] = rate_sum - torch.log(rate.add_(tiny)).view(hi - lo, -1) @ yf
        if gradients is None:
            continue
        if exp_link:  # dnll/dx = rate - y
            dx = (rate if w is None else rate.mul_(w)).sub_(y)
        else:  # dnll/dx = s - y s / (rate + tiny), s = sigmoid(x) <= ~rate: no overflow
            dx = torch.sigmoid_(x) if w is None else torch.sigmoid_(x).mul_(w)
            torch.addcmul(dx, y, torch.div(dx, rate, out=rate), value=-1.0, out=dx)
        g_rows, g_weight, g_bias = gradients
        if g_rows is not None:  # the latents' rows, if wanted
            scaled = weight[lo:hi] / count
            if index is None:
                torch.bmm(dx.mT, scaled, out=g_rows[lo:hi])
            else:  # padded rows get no gradient
                g_rows[lo:hi].zero_().index_copy_(1, index, torch.bmm(dx.mT, scaled))
        torch.bmm(dx, z, out=g_weight[lo:hi])
        torch.sum(dx, 2, out=g_bias[lo:hi])


def _member_rows(latents: torch.Tensor):
    """Each member's rows of latents (member, trial, time, latent) as one matrix.

    Returns ``(rebuild, rows)``: ``rows`` (member, row, latent) is a view where each member's
    (time, trial) rows (``time_major_rows``) or (trial, time) rows lie one matrix apart (the
    engine's member-major buffer, or a contiguous tensor), else a contiguous copy; ``rebuild``
    turns a contiguous (member, row, width) tensor in that row order into one of shape
    (member, trial, time, width), for any width (the latents' gradient, a readout's output).
    """
    k, b, t, m = latents.shape
    if time_major_rows(latents):
        rows = latents.as_strided((k, t * b, m), (latents.stride(0), m, 1))
        return (lambda g: g.view(k, t, b, -1).transpose(1, 2)), rows
    s = latents.stride()
    if s[-1] != 1 or (t > 1 and s[2] != m) or (b > 1 and s[1] != t * m):
        latents = latents.contiguous()
    rows = latents.as_strided((k, b * t, m), (latents.stride(0), m, 1))
    return (lambda g: g.view(k, b, t, -1)), rows


def gather_rows(rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``rows.index_select(1, index)`` for rows (member, row, latent) with contiguous rows.

    ``index_select`` first copies a non-contiguous input whole; when each member's rows lie
    a whole number of rows apart in memory (the engine's buffer), one flat selection reads
    only the selected rows.
    """
    k, n, m = rows.shape
    step, rest = divmod(rows.stride(0), m)
    if rest or rows.stride(1) != m or rows.stride(2) != 1 or k * n == 0:
        return rows.index_select(1, index)
    span = (k - 1) * step + n
    flat = rows.as_strided((span, m), (m, 1))
    offsets = torch.arange(k, device=index.device).unsqueeze(-1) * step
    return flat.index_select(0, (offsets + index).flatten()).view(k, -1, m)


def member_linear(latents: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``latents @ weight^T + bias`` of each member as one product per member.

    ``torch.matmul`` broadcasts a per-member weight over the trial dim into one small product
    per (member, trial); here each member's (trial, time) or (time, trial) rows are one
    matrix (no copy for the engine's member-major, time-major buffer).

    Parameters
    ----------
    latents : Tensor, shape (member, trial, time, latent)
    weight : Tensor, shape (member, out, latent)
    bias : Tensor, shape (member, out)

    Returns
    -------
    Tensor, shape (member, trial, time, out)
        In the row order of ``latents`` (a transposed view for time-major latents).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> z, w, b = torch.randn(2, 3, 4, 5), torch.randn(2, 6, 5), torch.randn(2, 6)
    >>> ref = torch.matmul(z, w.mT.unsqueeze(1)) + b[:, None, None]
    >>> bool(torch.allclose(member_linear(z, w, b), ref, atol=1e-6))
    True
    """
    rebuild, rows = _member_rows(latents)
    return rebuild(torch.baddbmm(bias.unsqueeze(-2), rows, weight.mT))


@torch.no_grad()
def member_rates(
    latents: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, link: str = "softplus"
) -> torch.Tensor:
    """``link(latents @ weight^T + bias)`` of each member (no gradient), block by block.

    What :func:`member_linear` followed by the link gives, but each block of about
    :data:`CHUNK_ELEMENTS` outputs is formed, biased and linked while it is in cache,
    instead of passing three times over one (member, trial, time, unit) array that does not
    fit in cache (and a batched product with a bias first copies the bias into all of it):
    the predictions of 9 members on 500 demo trials, 10 million rates, took 57 ms that way.

    Parameters and result as in :func:`member_linear`; ``link`` is ``"softplus"`` or
    ``"exp"``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> z, w, b = torch.randn(2, 3, 4, 5), torch.randn(2, 6, 5), torch.randn(2, 6)
    >>> ref = torch.nn.functional.softplus(member_linear(z, w, b))
    >>> bool(torch.allclose(member_rates(z, w, b), ref))
    True
    """
    function = torch.exp if link == "exp" else torch.nn.functional.softplus
    rebuild, rows = _member_rows(latents)
    k, n_rows, n_out = rows.shape[0], rows.shape[1], weight.shape[-2]
    out = _new_output(rows, (k, n_rows, n_out))
    compiled = poisson_kernels.applies(out, link == "exp")
    block = max(1, CHUNK_ELEMENTS // max(n_out, 1))
    for member in range(k):
        w_t, b = weight[member].mT, bias[member]
        for lo in range(0, n_rows, block):
            part = out[member, lo : lo + block]
            torch.mm(rows[member, lo : lo + block], w_t, out=part)
            if compiled:
                poisson_kernels.softplus_inplace(part.add_(b).view(-1).numpy())
            else:
                part.copy_(function(part.add_(b)))
    return rebuild(out)


def _new_output(like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """An uninitialised tensor of ``like``'s dtype and device; on a CPU, allocated by numpy,
    which asks Linux for transparent huge pages for large arrays (torch does not): a fresh
    40 MB tensor (the predictions of 9 demo members; above glibc's largest mmap threshold,
    so mapped afresh every time) costs 17.5 ms of page faults through torch, 3.5 ms here."""
    dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(like.dtype)
    if like.device.type != "cpu" or dtype is None:
        return like.new_empty(shape)
    return torch.from_numpy(np.empty(shape, dtype=dtype))


def time_major_rows(latents: torch.Tensor) -> bool:
    """Whether each member's latents (member, trial, time, latent) are (time, trial) rows.

    Examples
    --------
    >>> time_major_rows(torch.zeros(2, 5, 7, 3).transpose(1, 2).contiguous().transpose(1, 2))
    True
    >>> time_major_rows(torch.zeros(2, 5, 7, 3))
    False
    """
    _, b, t, m = latents.shape
    s = latents.stride()
    return s[-1] == 1 and (b == 1 or s[1] == m) and (t == 1 or s[2] == b * m) and b * t > 1


def poisson_member_loss(
    weight: torch.Tensor,
    bias: torch.Tensor,
    latents: torch.Tensor,
    counts: torch.Tensor,
    valid: torch.Tensor,
    observed: torch.Tensor | None = None,
    *,
    link: str = "softplus",
    log_factorial: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean Poisson NLL (with ``log(y!)``) of each member over valid, observed entries.

    Parameters
    ----------
    weight : Tensor, shape (member, unit, latent)
        Readout matrices ``B_k``.
    bias : Tensor, shape (member, unit)
        Readout biases ``b_k``.
    latents : Tensor, shape (member, trial, time, latent)
        Latent states (any values on invalid steps, NaN included).
    counts : Tensor, shape (trial, time, unit)
        Observed counts, shared by all members.
    valid : Tensor of bool, shape (trial, time)
        Steps that enter the loss.
    observed : Tensor of bool, shape (trial, unit), optional
        Units recorded in each trial (None = all).
    link : {"softplus", "exp"}
        Rate nonlinearity.
    log_factorial : Tensor, shape (trial, time), optional
        ``sum over observed units of log(y!)`` of every step, computed once per dataset
        (:func:`~alrnn_neuro.models.log_factorial.log_factorial_steps`); without it the
        data-only term is computed here from the valid counts on every call.

    Returns
    -------
    Tensor, shape (member,)
        Equal (up to rounding) to ``PoissonReadout.loss`` of each member alone.

    Examples
    --------
    >>> from alrnn_neuro.models.observation import PoissonReadout
    >>> ens, single = PoissonReadout(3, 4, seed=0, ensemble_shape=(2,)), PoissonReadout(3, 4)
    >>> _ = single.load_state_dict({"weight": ens.weight[1], "bias": ens.bias[1]})
    >>> z, y = torch.randn(2, 5, 6, 3), torch.poisson(torch.ones(5, 6, 4))
    >>> valid = torch.arange(6) < torch.tensor([6, 6, 3, 5, 1])[:, None]
    >>> fast = poisson_member_loss(ens.weight, ens.bias, z, y, valid)
    >>> fast.shape, bool(torch.allclose(fast[1], single.loss(z[1], y, valid)))
    (torch.Size([2]), True)
    """
    if link not in ("softplus", "exp"):
        raise ConfigError(f"link={link!r} is not one of ('softplus', 'exp')")
    n_units, dtype = counts.shape[-1], latents.dtype
    # the data in the row order of the latents: (time, trial) or (trial, time) rows
    time_major = time_major_rows(latents)
    if time_major:
        step, seen = valid.transpose(0, 1), None if observed is None else observed.unsqueeze(0)
    else:
        step, seen = valid, None if observed is None else observed.unsqueeze(1)
    entry = step.unsqueeze(-1)
    if seen is not None and not bool(seen.all()):
        entry = entry & seen
    step = step.reshape(-1)
    entry = entry.reshape(step.numel(), -1)
    n_valid = int(step.sum())
    index = None
    if n_valid < step.numel():  # gather the valid rows (cheaper than computing padded ones)
        index = step.nonzero().flatten()
        entry = entry.index_select(0, index)
        y = _valid_rows(counts, index, time_major)
    else:
        y = (counts.transpose(0, 1) if time_major else counts).reshape(-1, n_units)
    y = y.to(dtype)
    if entry.shape[-1] == 1 and bool(entry.all()):
        w, count = None, float(y.numel())
    else:
        entry = entry.expand(y.shape)
        w, y = entry.to(dtype), torch.where(entry, y, 0.0)  # NaN there stays out
        count = float(entry.sum())
    count = max(count, 1.0)
    grads = torch.is_grad_enabled() and any(t.requires_grad for t in (latents, weight, bias))
    total = _PoissonSums.apply(latents, weight, bias, y, w, index, link == "exp", count, grads)
    if log_factorial is None:
        constant = log_factorial_sum(y)
    else:
        constant = torch.where(valid, log_factorial, 0.0).sum(dtype=torch.float64)
    return total + (constant / count).to(dtype)


def _valid_rows(counts: torch.Tensor, index: torch.Tensor, time_major: bool) -> torch.Tensor:
    """Rows of counts (trial, time, unit) at the latent rows ``index``, one gather (row, unit).

    Row r is (time, trial) = divmod(r, n_trial) for time-major rows, else (trial, time) =
    divmod(r, n_time); gathering straight from ``counts`` skips a copy into row order.
    """
    n_trial, n_time, n_units = counts.shape
    if not time_major:
        return counts.reshape(-1, n_units).index_select(0, index)
    time, trial = index // n_trial, index % n_trial
    return counts.reshape(-1, n_units).index_select(0, trial * n_time + time)


def readout_member_loss(
    readout, latents, targets, mask, observed, log_factorial=None
) -> torch.Tensor | None:
    """``PoissonReadout.member_loss`` through :func:`poisson_member_loss`, shape
    ``readout.ensemble_shape``.

    None where that does not apply: more than one ensemble dim, a per-entry mask, or shapes
    the readout's own checks should report.
    """
    e = len(readout.ensemble_shape)
    mask = None if mask is None else torch.as_tensor(mask, device=targets.device).bool()
    if e > 1 or latents.dim() != 3 + e or (mask is not None and mask.dim() != 2):
        return None
    if targets.shape != (*latents.shape[-3:-1], readout.n_out):
        return None
    valid = torch.ones(targets.shape[:2], dtype=torch.bool, device=targets.device)
    valid = valid if mask is None else mask
    observed = None if observed is None else torch.as_tensor(observed).bool()
    w, b, z = (t.unsqueeze(0) if e == 0 else t for t in (readout.weight, readout.bias, latents))
    loss = poisson_member_loss(
        w, b, z, targets, valid, observed, link=readout.link, log_factorial=log_factorial
    )
    return loss.reshape(readout.ensemble_shape)
