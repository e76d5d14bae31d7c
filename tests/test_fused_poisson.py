"""The fused per-member Poisson NLL against autograd of each member's ``PoissonReadout.loss``."""

from __future__ import annotations

import pytest
import torch

import alrnn_neuro.models.fused_poisson as fused
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models.log_factorial import log_factorial_steps, log_factorial_sum
from alrnn_neuro.models.observation import PoissonReadout

TOL = 1e-11  # float64, relative to the scale of each quantity


def _problem(k=3, b=4, t=7, m=3, n=5, seed=0, partial=True):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(k, n, m, generator=gen, dtype=torch.float64)
    bias = torch.randn(k, n, generator=gen, dtype=torch.float64)
    latents = torch.randn(k, b, t, m, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([t, 1, t - 3, t - 1])[:b]
    valid = torch.arange(t)[None, :] < lengths[:, None]
    latents[:, ~valid] = float("nan")  # garbage on padded steps must not leak in
    counts = torch.poisson(torch.full((b, t, n), 1.5), generator=gen) * valid[..., None]
    observed = torch.ones(b, n, dtype=torch.bool)
    if partial:
        observed[1, 2] = observed[2, 0] = False
        counts = counts * observed[:, None, :]
    return weight, bias, latents, counts, valid, observed


def _reference(weight, bias, latents, counts, valid, observed, link, factor):
    """Each member alone: its own readout's autograd loss, weighted by ``factor``."""
    out, grads = [], []
    for k in range(weight.shape[0]):
        readout = PoissonReadout(weight.shape[2], weight.shape[1], link=link).double()
        with torch.no_grad():
            readout.weight.copy_(weight[k])
            readout.bias.copy_(bias[k])
        z = latents[k].clone().requires_grad_(True)
        loss = readout.loss(z, counts, valid, observed=observed)
        (loss * factor[k]).backward()
        out.append(loss.detach())
        g_z = torch.where(valid[..., None], z.grad, 0.0)
        grads.append((g_z, readout.weight.grad, readout.bias.grad))
    return torch.stack(out), [torch.stack(g) for g in zip(*grads, strict=True)]


def _close(a, b):
    scale = max(1.0, float(b.abs().max()))
    assert torch.allclose(a, b, rtol=0, atol=TOL * scale), float((a - b).abs().max())


@pytest.mark.parametrize("link", ["softplus", "exp"])
@pytest.mark.parametrize("layout", ["member_major", "time_major"])
@pytest.mark.parametrize("partial", [False, True])
def test_loss_and_gradients_equal_each_members_autograd(link, layout, partial):
    weight, bias, latents, counts, valid, observed = _problem(partial=partial)
    factor = torch.tensor([1.0, 0.0, 2.5], dtype=torch.float64)  # upstream g, incl. frozen 0
    ref, ref_grads = _reference(weight, bias, latents, counts, valid, observed, link, factor)
    base = latents.clone()
    if layout == "time_major":  # as the ensemble engine returns them: a view of (T, K, B, M)
        base = latents.movedim(-2, 0).contiguous()
    base.requires_grad_(True)
    z = base.movedim(0, -2) if layout == "time_major" else base
    params = [weight.clone().requires_grad_(True), bias.clone().requires_grad_(True)]
    loss = fused.poisson_member_loss(*params, z, counts, valid, observed, link=link)
    (loss * factor).sum().backward()
    _close(loss.detach(), ref)
    g_z = base.grad.movedim(0, -2) if layout == "time_major" else base.grad
    assert torch.equal(g_z[:, ~valid], torch.zeros_like(g_z[:, ~valid]))
    for got, want in zip([g_z, params[0].grad, params[1].grad], ref_grads, strict=True):
        _close(torch.nan_to_num(got), want)


def test_chunks_and_no_grad_give_the_same_numbers(monkeypatch):
    weight, bias, latents, counts, valid, observed = _problem(k=5)
    w = weight.clone().requires_grad_(True)
    whole = fused.poisson_member_loss(w, bias, latents, counts, valid, observed)
    whole.sum().backward()
    monkeypatch.setattr(fused, "CHUNK_ELEMENTS", 1)  # one member per chunk
    w2 = weight.clone().requires_grad_(True)
    chunked = fused.poisson_member_loss(w2, bias, latents, counts, valid, observed)
    chunked.sum().backward()
    _close(chunked.detach(), whole.detach())
    _close(w2.grad, w.grad)
    with torch.no_grad():
        _close(fused.poisson_member_loss(weight, bias, latents, counts, valid, observed), whole)


def test_float32_close_to_float64():
    problem = _problem()
    loss64 = fused.poisson_member_loss(*problem)
    loss32 = fused.poisson_member_loss(*(p.float() if p.is_floating_point() else p
                                         for p in problem))  # fmt: skip
    assert loss32.dtype == torch.float32
    assert torch.allclose(loss32.double(), loss64, rtol=1e-5)


def test_unknown_link_is_rejected():
    with pytest.raises(ConfigError, match="link='log' is not one of"):
        fused.poisson_member_loss(*_problem(), link="log")


def test_extreme_rates_give_finite_gradients_like_autograd():
    """Latents of 1e8 (a member blowing up at a high learning rate): rates underflow to 0
    where counts are large; y / (rate + tiny) would overflow, the gradient must not."""
    weight, bias, latents, counts, valid, observed = _problem(partial=False)
    latents = latents * 1e8
    counts = counts + 6 * valid[..., None]  # counts >= 6 on every valid entry
    factor = torch.ones(3, dtype=torch.float64)
    ref, ref_grads = _reference(weight, bias, latents, counts, valid, observed, "softplus",
                                factor)  # fmt: skip
    z = latents.clone().requires_grad_(True)
    w = weight.clone().requires_grad_(True)
    loss = fused.poisson_member_loss(w, bias, z, counts, valid, observed)
    loss.sum().backward()
    assert all(bool(torch.isfinite(g).all()) for g in ref_grads)
    g_z = torch.where(valid[None, ..., None], z.grad, 0.0)  # masked steps carry no gradient
    assert bool(torch.isfinite(g_z).all()) and bool(torch.isfinite(w.grad).all())
    _close(loss.detach(), ref)
    _close(g_z, ref_grads[0])
    _close(w.grad, ref_grads[1])


@pytest.mark.parametrize("link", ["softplus", "exp"])
@pytest.mark.parametrize("all_valid", [True, False])
def test_engine_layout_reads_rows_in_place_and_matches_autograd(link, all_valid):
    """Latents as the engine returns them (member-major (member, time, batch, latent) buffer,
    viewed as (member, batch, time, latent)): every step valid uses the rows in place and
    writes the gradient in the same layout; padded batches gather the valid rows."""
    weight, bias, latents, counts, valid, observed = _problem(partial=not all_valid)
    if all_valid:
        valid = torch.ones_like(valid)
        latents = torch.randn(latents.shape, dtype=torch.float64)
        counts = torch.poisson(torch.full(counts.shape, 1.5, dtype=torch.float64))
    factor = torch.tensor([1.0, 0.0, 2.5], dtype=torch.float64)
    ref, ref_grads = _reference(weight, bias, latents, counts, valid, observed, link, factor)
    k, b, t, m = latents.shape
    buffer = torch.zeros(k, t + 1, b, m, dtype=torch.float64)
    buffer[:, 1:] = latents.transpose(1, 2)
    buffer.requires_grad_(True)
    z = buffer[:, 1:].transpose(1, 2)
    assert fused.time_major_rows(z) and not z.is_contiguous()
    params = [weight.clone().requires_grad_(True), bias.clone().requires_grad_(True)]
    loss = fused.poisson_member_loss(*params, z, counts, valid, observed, link=link)
    (loss * factor).sum().backward()
    _close(loss.detach(), ref)
    g_z = buffer.grad[:, 1:].transpose(1, 2)
    assert torch.equal(buffer.grad[:, 0], torch.zeros_like(buffer.grad[:, 0]))
    for got, want in zip([g_z, params[0].grad, params[1].grad], ref_grads, strict=True):
        _close(torch.nan_to_num(got), want)


def test_no_gradient_work_under_no_grad(monkeypatch):
    """Under torch.no_grad the forward skips the gradient (validation and scoring passes)."""
    weight, bias, latents, counts, valid, observed = _problem()
    weight.requires_grad_(True)
    calls = []
    real = torch.sigmoid_
    monkeypatch.setattr(torch, "sigmoid_", lambda x: calls.append(1) or real(x))
    with torch.no_grad():
        fused.poisson_member_loss(weight, bias, latents, counts, valid, observed)
    assert calls == []
    fused.poisson_member_loss(weight, bias, latents, counts, valid, observed).sum().backward()
    assert calls  # with gradients wanted it is formed in the forward pass


@pytest.mark.parametrize("partial", [False, True])
def test_precomputed_log_factorial_gives_the_same_loss(partial):
    """log(y!) summed once per dataset (log_factorial_steps) and then over a batch's valid
    steps equals the per-call sum over the valid, observed counts."""
    weight, bias, latents, counts, valid, observed = _problem(partial=partial)
    latents = latents.nan_to_num()
    steps = log_factorial_steps(counts)
    assert steps.dtype == torch.float64 and steps.shape == valid.shape
    assert float(torch.where(valid, steps, 0.0).sum()) == pytest.approx(
        float(log_factorial_sum(counts[valid])), rel=1e-13
    )
    plain = fused.poisson_member_loss(weight, bias, latents, counts, valid, observed)
    given = fused.poisson_member_loss(
        weight, bias, latents, counts, valid, observed, log_factorial=steps
    )
    assert torch.allclose(plain, given, rtol=1e-13, atol=0)
    # a wrong table changes the loss: the argument is really used
    shifted = fused.poisson_member_loss(
        weight, bias, latents, counts, valid, observed, log_factorial=steps + 1.0
    )
    assert torch.allclose(shifted - plain, torch.full_like(plain, float(valid.sum()))
                          / float((valid[..., None] & observed[:, None, :]).sum()))  # fmt: skip


@pytest.mark.parametrize("link", ["softplus", "exp"])
@pytest.mark.parametrize("block_elements", [1 << 18, 7])  # one block; blocks of 1 row
def test_member_rates_equal_each_members_own_prediction(float64, monkeypatch, link, block_elements):
    """The block-wise ensemble prediction is each member's own ``PoissonReadout.predict``,
    for trial-major latents and for the engine's time-major buffer."""
    monkeypatch.setattr(fused, "CHUNK_ELEMENTS", block_elements)
    weight, bias, latents, *_ = _problem(k=3, b=4, t=7, m=3, n=5)
    latents = torch.nan_to_num(latents)
    ensemble = PoissonReadout(3, 5, link=link, ensemble_shape=(3,))
    ensemble.load_state_dict({"weight": weight, "bias": bias})
    time_major = latents.transpose(1, 2).contiguous().transpose(1, 2)
    assert fused.time_major_rows(time_major)
    for z in (latents, time_major):
        with torch.no_grad():
            rates = ensemble.predict(z)
        assert rates.shape == (3, 4, 7, 5)
        for k in range(3):
            single = PoissonReadout(3, 5, link=link)
            single.load_state_dict({"weight": weight[k], "bias": bias[k]})
            with torch.no_grad():
                _close(rates[k], single.predict(z[k]))
    # with a gradient wanted, predict stays differentiable (the autograd path)
    w = ensemble.weight
    assert ensemble.predict(latents).requires_grad and w.requires_grad
