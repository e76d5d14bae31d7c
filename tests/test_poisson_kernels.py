"""The compiled float32 softplus-Poisson kernel against torch's chain and a float64 reference."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch
from scipy.special import expit

import alrnn_neuro.models.fused_poisson as fused
from alrnn_neuro.models import poisson_kernels, vector_math
from alrnn_neuro.models.observation import PoissonReadout

TINY = np.float32(np.finfo(np.float32).tiny)


def _problem(k=3, b=6, t=300, m=4, n=5, seed=0, ragged=False, partial=False, dtype=None):
    """float32 readouts, latents and counts; b * t rows span several kernel blocks (1024)."""
    gen = torch.Generator().manual_seed(seed)
    dtype = dtype or torch.float32
    weight = torch.randn(k, n, m, generator=gen, dtype=dtype)
    bias = torch.randn(k, n, generator=gen, dtype=dtype)
    latents = torch.randn(k, b, t, m, generator=gen, dtype=dtype)
    valid = torch.ones(b, t, dtype=torch.bool)
    if ragged:
        lengths = torch.tensor([t, 1, t - 37, t // 2, t - 1, 2 * t // 3])[:b]
        valid = torch.arange(t)[None, :] < lengths[:, None]
        latents[:, ~valid] = float("nan")  # padded steps must not leak in
    counts = torch.poisson(torch.full((b, t, n), 1.5), generator=gen) * valid[..., None]
    observed = None
    if partial:
        observed = torch.ones(b, n, dtype=torch.bool)
        observed[1, 2] = observed[2, 0] = observed[4, 4] = False
        counts = counts * observed[:, None, :]
    return weight, bias, latents, counts.to(dtype), valid, observed


def _loss_and_grads(weight, bias, latents, counts, valid, observed, time_major=False, **kw):
    """Loss of every member and the gradients of w, b, z (members weighted by ``factor``)."""
    base = latents.movedim(-2, 0).contiguous() if time_major else latents.clone()
    base.requires_grad_(True)
    z = base.movedim(0, -2) if time_major else base
    w, b = weight.clone().requires_grad_(True), bias.clone().requires_grad_(True)
    loss = fused.poisson_member_loss(w, b, z, counts, valid, observed, **kw)
    factor = torch.tensor([1.0, 0.5, 2.0, 1.5, 3.0])[: loss.numel()]
    (loss * factor).sum().backward()
    g_z = base.grad.movedim(0, -2) if time_major else base.grad
    return loss.detach(), w.grad, b.grad, torch.where(valid[..., None], g_z, 0.0)


def _torch_path(monkeypatch, *args, **kw):
    with monkeypatch.context() as patch:
        patch.setattr(poisson_kernels, "applies", lambda *a: False)
        return _loss_and_grads(*args, **kw)


def _spy(monkeypatch, name):
    calls = []
    real = getattr(poisson_kernels, name)
    monkeypatch.setattr(poisson_kernels, name, lambda *a: calls.append(1) or real(*a))
    return calls


def _close(got, want, rtol=1e-5, atol=1e-6):
    """float32 agreement; ``atol`` relative to the largest magnitude of ``want``."""
    scale = max(1.0, float(want.abs().max()))
    assert torch.allclose(got, want, rtol=rtol, atol=atol * scale), float((got - want).abs().max())


@pytest.mark.parametrize(
    "case",
    ["all_valid", "all_valid_time_major", "ragged", "ragged_time_major", "observed", "chunked"],
)
def test_compiled_loss_and_gradients_equal_the_torch_path(monkeypatch, case):
    problem = _problem(ragged=case.startswith(("ragged", "observed")), partial=case == "observed")
    time_major = case.endswith("time_major")
    if case == "chunked":  # the torch reference one member per chunk; the kernel is per member
        monkeypatch.setattr(fused, "CHUNK_ELEMENTS", 1)
    calls = _spy(monkeypatch, "readout_terms")
    got = _loss_and_grads(*problem, time_major=time_major)
    assert calls, "the compiled kernel was not used"
    want = _torch_path(monkeypatch, *problem, time_major=time_major)
    assert len(calls) == 1  # one call for all members; the reference did not call it
    for a, b in zip(got, want, strict=True):
        assert a.dtype == torch.float32 and bool(torch.isfinite(a).all())
        _close(a, b)


def test_nan_latent_on_a_valid_step_makes_only_that_members_loss_nan(monkeypatch):
    weight, bias, latents, counts, valid, observed = _problem(ragged=True)
    clean = _loss_and_grads(weight, bias, latents, counts, valid, observed)
    latents = latents.clone()
    latents[1, 2, 5, 0] = float("nan")
    assert bool(valid[2, 5])
    loss, g_w, g_b, g_z = _loss_and_grads(weight, bias, latents, counts, valid, observed)
    assert bool(torch.isnan(loss[1])) and not bool(torch.isnan(loss[[0, 2]]).any())
    _close(loss[[0, 2]], clean[0][[0, 2]], rtol=0, atol=0)
    for got, want in zip((g_w, g_b, g_z), clean[1:], strict=True):
        _close(got[[0, 2]], want[[0, 2]], rtol=0, atol=0)
    assert bool(torch.isnan(g_w[1]).all()) and bool(torch.isnan(g_b[1]).any())
    reference = _torch_path(monkeypatch, weight, bias, latents, counts, valid, observed)[0]
    assert bool(torch.isnan(reference[1]))


@pytest.mark.parametrize("partial", [False, True])
def test_no_grad_totals_equal_the_torch_path_and_the_gradient_pass(monkeypatch, partial):
    weight, bias, latents, counts, valid, observed = _problem(ragged=partial, partial=partial)
    args = (weight, bias, latents, counts, valid, observed)
    with torch.no_grad():
        compiled = fused.poisson_member_loss(*args)
        with monkeypatch.context() as patch:
            patch.setattr(poisson_kernels, "applies", lambda *a: False)
            reference = fused.poisson_member_loss(*args)
    _close(compiled, reference)
    _close(compiled, _loss_and_grads(*args)[0], rtol=1e-6, atol=0)


def _float64_member_loss(weight, bias, latents, counts):
    """Each member's mean ``softplus(x) - y log(softplus(x) + tiny32) + log y!`` over all
    entries, and its gradients, in float64 autograd (float32's ``tiny`` in the log)."""
    w, b, z = (t.double().requires_grad_(True) for t in (weight, bias, latents))
    x = torch.matmul(z, w.mT.unsqueeze(1)) + b[:, None, None, :]
    rate = torch.nn.functional.softplus(x)
    y = counts.double()
    nll = rate - y * torch.log(rate + float(TINY)) + torch.lgamma(y + 1.0)
    loss = nll.mean(dim=(1, 2, 3))
    (loss * torch.tensor([1.0, 0.5, 2.0])).sum().backward()
    return loss.detach(), w.grad, b.grad, z.grad


def test_extreme_latents_agree_with_float64(monkeypatch):
    """Rates far below float32's normal range (x down to about -380, subnormal rates between
    -87.3 and -103 included, with counts there) and far above 1: loss and gradients agree
    with float64. (torch's float32 sigmoid flushes to 0 below about -88, so its gradient
    there is 0 where the true one is about -y/2.)"""
    weight, bias, latents, counts, valid, observed = _problem(t=50)
    latents = latents * 40.0
    x = fused.member_linear(latents, weight, bias)
    band = ((x > -104) & (x < -87.3)).any(0)  # subnormal exp(x)
    counts = counts + 3.0
    assert float(x.min()) < -300 and float(x.max()) > 300 and int(band.sum()) > 0
    got = _loss_and_grads(weight, bias, latents, counts, valid, observed)
    want = _float64_member_loss(weight, bias, latents, counts)
    for a, b in zip(got, want, strict=True):
        assert bool(torch.isfinite(a).all())
        _close(a.double(), b, rtol=1e-5, atol=1e-5)
    torch_path = _torch_path(monkeypatch, weight, bias, latents, counts, valid, observed)
    _close(got[0], torch_path[0])  # the losses agree with torch's too


def test_applies_only_to_float32_softplus_on_the_cpu():
    x = torch.zeros(2)
    assert poisson_kernels.applies(x, exp_link=False)
    assert not poisson_kernels.applies(x, exp_link=True)
    assert not poisson_kernels.applies(x.double(), exp_link=False)
    assert not poisson_kernels.applies(x.half(), exp_link=False)
    assert not poisson_kernels.applies(torch.zeros(2, device="meta"), exp_link=False)


def _per_member_readout_loss(weight, bias, latents, counts, valid, observed, link):
    out = []
    for k in range(weight.shape[0]):
        readout = PoissonReadout(weight.shape[2], weight.shape[1], link=link).to(weight.dtype)
        with torch.no_grad():
            readout.weight.copy_(weight[k])
            readout.bias.copy_(bias[k])
            out.append(readout.loss(latents[k], counts, valid, observed=observed))
    return torch.stack(out)


def test_float64_does_not_use_the_kernel_and_equals_the_readout_loss(monkeypatch):
    problem = _problem(t=40, ragged=True, partial=True, dtype=torch.float64)
    calls = _spy(monkeypatch, "readout_terms")
    loss = fused.poisson_member_loss(*problem)
    assert calls == [] and loss.dtype == torch.float64
    want = _per_member_readout_loss(*problem, "softplus")
    assert torch.allclose(loss, want, rtol=1e-12, atol=0)


def test_exp_link_does_not_use_the_kernel(monkeypatch):
    problem = _problem(t=40, ragged=True, partial=True)
    calls = _spy(monkeypatch, "readout_terms")
    got = _loss_and_grads(*problem, link="exp")
    assert calls == []
    as64 = [p.double() if p is not None and p.is_floating_point() else p for p in problem]
    want = _per_member_readout_loss(*as64, "exp")
    _close(got[0].double(), want)


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("blocks", [False, True])
def test_member_rates_compiled_equals_softplus_of_member_linear(monkeypatch, time_major, blocks):
    weight, bias, latents, _, _, _ = _problem(t=30)
    latents = latents * 25.0  # x beyond +-100: both tails of the softplus
    if time_major:
        latents = latents.movedim(-2, 0).contiguous().movedim(0, -2)
    if blocks:
        monkeypatch.setattr(fused, "CHUNK_ELEMENTS", 64)
    calls = _spy(monkeypatch, "softplus_inplace")
    got = fused.member_rates(latents, weight, bias)
    assert calls
    want = torch.nn.functional.softplus(fused.member_linear(latents, weight, bias))
    assert got.shape == want.shape and got.dtype == torch.float32
    assert float(want.min()) < 1e-38 and float(want.max()) > 100  # both tails reached
    _close(got, want, rtol=1e-5, atol=1e-6)


def test_member_rates_with_exp_link_does_not_use_the_kernel(monkeypatch):
    weight, bias, latents, _, _, _ = _problem(t=10)
    calls = _spy(monkeypatch, "softplus_inplace")
    got = fused.member_rates(latents, weight, bias, link="exp")
    assert calls == []
    _close(got, torch.exp(fused.member_linear(latents, weight, bias)))


def _kernel_inputs(k=3, n=4, rows=2500, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(k, n, rows)) * 4.0).astype(np.float32)
    bias = rng.normal(size=(k, n)).astype(np.float32)
    w = (rng.random((n, rows)) < 0.8).astype(np.float32)
    y = (rng.poisson(2.0, (n, rows)) * w).astype(np.float32)
    return x, bias, y, w


def _run_kernel(x, bias, y, w, want_grad):
    totals = np.full(x.shape[0], -1.0)
    bias_grad = np.zeros(x.shape[:2], dtype=np.float32)
    poisson_kernels.softplus_poisson(x, bias, y, w, TINY, want_grad, totals, bias_grad)
    return totals, bias_grad


def _float64_reference(x, bias, y, w):
    h = x.astype(np.float64) + bias[..., None]
    rate, s = np.logaddexp(0.0, h), expit(h)
    terms = w * rate - y * np.log(rate + float(TINY))
    dx = w * s - y * w * s / (rate + float(TINY))
    return terms, dx


def test_softplus_poisson_totals_and_gradient_equal_a_float64_reference():
    x, bias, y, w = _kernel_inputs()
    terms, dx_ref = _float64_reference(x, bias, y, w)
    dx = x.copy()
    totals, bias_grad = _run_kernel(dx, bias, y, w, want_grad=True)
    scale = np.abs(terms).sum(axis=(1, 2))
    assert np.all(np.abs(totals - terms.sum(axis=(1, 2))) <= 1e-6 * scale)
    assert np.allclose(dx, dx_ref, rtol=1e-5, atol=1e-6)
    # the bias gradient is the row sums of the dx it wrote
    row_sums = dx.astype(np.float64).sum(-1)
    assert np.allclose(bias_grad, row_sums, rtol=0, atol=1e-5 * np.abs(dx).sum(-1).max())
    assert np.allclose(bias_grad, dx_ref.sum(-1), rtol=0, atol=1e-5 * np.abs(dx_ref).sum(-1).max())


@numba.njit(fastmath=vector_math.FASTMATH, error_model="numpy")
def _one_pass(h, rate, sig):
    """softplus and sigmoid of each entry in one loop (the kernel's former single pass)."""
    for i in range(h.size):
        rate[i], sig[i] = vector_math.softplus_parts(h[i])


def test_softplus_poisson_passes_give_each_entry_the_one_pass_value():
    """The kernel computes a block in passes (exps, softplus, logs, terms): each entry's
    gradient is bit for bit what ``softplus_parts`` gives for that entry alone, and the
    totals equal the float64 sum of the one-pass terms to float32 summation error."""
    x, bias, y, w = _kernel_inputs(k=2, n=3, rows=2100, seed=6)
    x[0, 1, 5], x[1, 2, 2000], x[1, 0, 7] = -110.0, 95.0, np.float32(-1e-30)
    h = (x + bias[..., None]).astype(np.float32)
    rate, sig = np.empty_like(h), np.empty_like(h)
    _one_pass(h.ravel(), rate.reshape(-1), sig.reshape(-1))
    shifted = rate + TINY
    sw = sig * w
    expected_dx = sw - y * sw / shifted
    dx = x.copy()
    totals, _ = _run_kernel(dx, bias, y, w, want_grad=True)
    assert np.array_equal(dx, expected_dx)
    terms = (w * rate).astype(np.float64) - y * np.log(shifted.astype(np.float64))
    assert np.allclose(totals, terms.sum(axis=(1, 2)), rtol=1e-6, atol=0)


def test_softplus_inplace_equals_the_one_pass_softplus_bit_for_bit():
    x = (np.random.default_rng(7).normal(size=2600) * 5.0).astype(np.float32)
    x[[3, 1500, 2599]] = [-110.0, 95.0, np.nan]
    rate, sig = np.empty_like(x), np.empty_like(x)
    _one_pass(x, rate, sig)
    out = x.copy()
    poisson_kernels.softplus_inplace(out)
    assert np.array_equal(out, rate, equal_nan=True) and np.isnan(out[2599])


def test_softplus_poisson_is_exact_where_log1p_needs_its_correction():
    """x from -105 to -80: exp(x) is tiny or subnormal, ``1 + exp(x)`` rounds to 1 and
    softplus(x) = exp(x) comes from log1p's correction term alone (flushing those rates to 0
    made the sum over this band 0.1 % too large and the gradient 0 instead of about -y/2)."""
    x = np.linspace(-105.0, -80.0, 20_000).astype(np.float32).reshape(1, 2, -1)
    y = np.full(x.shape[1:], 3.0, np.float32)
    w = np.ones_like(y)
    bias = np.zeros(x.shape[:2], np.float32)
    terms, dx_ref = _float64_reference(x, bias, y, w)
    dx = x.copy()
    totals, _ = _run_kernel(dx, bias, y, w, want_grad=True)
    assert abs(totals[0] - terms.sum()) <= 1e-6 * np.abs(terms).sum()
    assert np.allclose(dx, dx_ref, rtol=1e-4, atol=1e-6)


def test_softplus_poisson_without_gradient_leaves_x_and_bias_grad_alone():
    x, bias, y, w = _kernel_inputs(rows=1500, seed=1)
    before = x.copy()
    totals, bias_grad = _run_kernel(x, bias, y, w, want_grad=False)
    assert np.array_equal(x, before) and not bias_grad.any()
    with_grad, _ = _run_kernel(x.copy(), bias, y, w, want_grad=True)
    assert np.allclose(totals, with_grad, rtol=1e-6, atol=0)


def test_softplus_poisson_nan_entry_gives_nan_total_of_its_member_only():
    x, bias, y, w = _kernel_inputs(rows=1100, seed=2)
    x[1, 3, 1050] = np.nan
    totals, bias_grad = _run_kernel(x.copy(), bias, y, w, want_grad=True)
    assert np.isnan(totals[1]) and np.isfinite(totals[[0, 2]]).all()
    assert np.isnan(bias_grad[1, 3]) and np.isfinite(np.delete(bias_grad.ravel(), 7)).all()


def _readout_inputs(ragged=True, seed=4):
    """``readout_terms`` operands of a ragged problem: rows (member, row, latent), the valid
    rows' index, and (unit, entry_row) counts and weights."""
    weight, bias, latents, counts, valid, _ = _problem(ragged=ragged, seed=seed)
    k, b, t, m = latents.shape
    index = valid.reshape(-1).nonzero().flatten()
    y = counts.reshape(b * t, -1).index_select(0, index).t().contiguous()
    return latents.reshape(k, b * t, m), index, weight, bias, y, torch.ones_like(y)


def test_readout_kernel_zeroes_the_latents_gradient_outside_the_index():
    rows, index, weight, bias, y, w = _readout_inputs()
    outputs = [torch.full(rows.shape, float("nan")), torch.empty_like(weight)]
    outputs.append(torch.empty_like(bias))
    poisson_kernels.readout_terms(rows, index, weight, bias, y, w, 7.0, *outputs)
    g_rows = outputs[0]
    outside = torch.ones(rows.shape[1], dtype=torch.bool)
    outside[index] = False
    assert int(outside.sum()) > 0 and bool((g_rows[:, outside] == 0).all())
    inside = g_rows[:, index]
    assert bool(torch.isfinite(inside).all()) and bool((inside != 0).any())
    # the gradient of the mean over 7: x_r = B z_r, so dL/dz_r = B^T dnll/dx_r / 7
    z = rows.detach().clone().requires_grad_(True)
    x = torch.bmm(weight, z.index_select(1, index).mT) + bias[..., None]
    rate = torch.nn.functional.softplus(x)
    ((rate - y * torch.log(rate + float(TINY))).sum() / 7.0).backward()
    _close(inside, z.grad[:, index])


def test_readout_kernel_without_the_latents_gradient_gives_the_same_parameter_gradients():
    rows, index, weight, bias, y, w = _readout_inputs(seed=5)
    full = [torch.empty(rows.shape), torch.empty_like(weight), torch.empty_like(bias)]
    part = [None, torch.empty_like(weight), torch.empty_like(bias)]
    totals = [poisson_kernels.readout_terms(rows, index, weight, bias, y, w, 3.0, *outputs)
              for outputs in (full, part)]  # fmt: skip
    assert totals[0].dtype == torch.float64 and torch.equal(totals[0], totals[1])
    assert torch.equal(full[1], part[1]) and torch.equal(full[2], part[2])
    no_grad = poisson_kernels.readout_terms(rows, index, weight, bias, y, w, 3.0, None, None, None)
    assert torch.equal(no_grad, totals[0])


def test_readout_kernel_with_no_valid_row_gives_zero_sums_and_gradients():
    rows, _, weight, bias, y, w = _readout_inputs(seed=6)
    none = torch.zeros(0, dtype=torch.int64)
    outputs = [torch.full(rows.shape, 5.0), torch.full_like(weight, 5.0)]
    outputs.append(torch.full_like(bias, 5.0))
    empty = y[:, :0].contiguous()
    totals = poisson_kernels.readout_terms(rows, none, weight, bias, empty, empty, 1.0, *outputs)
    assert torch.equal(totals, torch.zeros(weight.shape[0], dtype=torch.float64))
    assert all(bool((grad == 0).all()) for grad in outputs)
