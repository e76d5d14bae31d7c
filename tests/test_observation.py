"""Observation models: losses against independent references, masking, inversion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models import (
    ChoiceHead,
    GaussianReadout,
    IdentityReadout,
    PoissonReadout,
    smooth_time,
)

B, T, M, N = 3, 7, 4, 5


def _f(x: torch.Tensor) -> float:
    return float(x.detach())


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    latents = torch.randn(B, T, M, generator=gen, dtype=torch.float64)
    counts = torch.poisson(torch.full((B, T, N), 2.0, dtype=torch.float64), generator=gen)
    valid = torch.ones(B, T, dtype=torch.bool)
    valid[1, 5:] = False
    valid[2, 3:] = False
    observed = torch.ones(B, N, dtype=torch.bool)
    observed[0, 1] = False
    return latents, counts, valid, observed


def _poisson(link="softplus", seed=0, **kw):
    readout = PoissonReadout(M, N, link=link, seed=seed, **kw).double()
    with torch.no_grad():
        readout.weight.mul_(5.0)
        readout.bias.fill_(0.3)
    return readout


def _numpy_softplus(x):
    return np.logaddexp(0.0, x)


@pytest.mark.parametrize("link", ["softplus", "exp"])
def test_poisson_loss_matches_scipy(batch, link):
    latents, counts, valid, observed = batch
    readout = _poisson(link)
    w, b = readout.weight.detach().numpy(), readout.bias.detach().numpy()
    x = latents.numpy() @ w.T + b
    rate = np.exp(x) if link == "exp" else _numpy_softplus(x)
    logpmf = stats.poisson.logpmf(counts.numpy(), rate)
    keep = valid.numpy()[..., None] & observed.numpy()[:, None, :]
    expected = -logpmf[keep].mean()
    loss = readout.loss(latents, counts, valid, observed=observed)
    assert _f(loss) == pytest.approx(expected, rel=1e-10)
    log_factorial = np.array([math.lgamma(c + 1) for c in counts.numpy()[keep]]).mean()
    short = readout.loss(latents, counts, valid, observed=observed, full=False)  # no log(y!)
    assert _f(short) == pytest.approx(expected - log_factorial, rel=1e-10)
    ll = readout.log_likelihood(latents, counts, valid, observed=observed)
    assert _f(ll.sum()) == pytest.approx(logpmf[keep].sum(), rel=1e-10)
    assert torch.allclose(readout.predict(latents), torch.from_numpy(rate))


def _garbage(latents, counts, valid, observed, value):
    entry = valid[..., None] & observed[:, None, :]
    return (
        torch.where(valid[..., None], latents, value),
        torch.where(entry, counts, value),
    )


@pytest.mark.parametrize("make", ["poisson", "gaussian", "learned", "identity"])
def test_masked_entries_change_neither_loss_nor_gradients(batch, make):
    latents, counts, valid, observed = batch
    readout = {
        "poisson": lambda: _poisson(),
        "gaussian": lambda: GaussianReadout(M, N, seed=1).double(),
        "learned": lambda: GaussianReadout(M, N, noise="learned", seed=1).double(),
        "identity": lambda: IdentityReadout(N),
    }[make]()
    if make == "identity":
        latents = torch.cat([latents, latents[..., :1]], dim=-1)  # N = 5 latents
    results = []
    for value in (float("nan"), 1e6, -3.0):
        lat, tgt = _garbage(latents, counts, valid, observed, value)
        lat = lat.clone().requires_grad_(True)
        loss = readout.loss(lat, tgt, valid, observed=observed)
        params = [lat, *readout.parameters()]
        grads = torch.autograd.grad(loss, params)
        assert torch.isfinite(loss)
        assert all(bool(torch.isfinite(g).all()) for g in grads)
        results.append((loss.detach(), grads))
    for loss, grads in results[1:]:
        assert torch.equal(loss, results[0][0])
        assert all(torch.equal(a, b) for a, b in zip(grads, results[0][1], strict=True))
    assert _f(results[0][1][0][~valid].abs().sum()) == 0.0


def test_gaussian_losses_match_references(batch):
    latents, counts, valid, observed = batch
    keep = valid[..., None] & observed[:, None, :]
    mse = GaussianReadout(M, N, seed=2).double()
    pred = mse.predict(latents)
    assert _f(mse.loss(latents, counts, valid, observed=observed)) == pytest.approx(
        _f(((pred - counts) ** 2)[keep].mean()), rel=1e-12
    )
    fixed = GaussianReadout(M, N, noise="fixed", noise_std=0.5, seed=2).double()
    ref = -torch.distributions.Normal(fixed.predict(latents), 0.5).log_prob(counts)[keep].mean()
    assert _f(fixed.loss(latents, counts, valid, observed=observed)) == pytest.approx(
        _f(ref),
        rel=1e-7,  # log_std was stored in float32 before .double()
    )
    learned = GaussianReadout(M, N, noise="learned", seed=2).double()
    assert "log_std" in dict(learned.named_parameters())
    assert "log_std" not in dict(fixed.named_parameters())


def test_identity_readout(batch):
    latents, counts, valid, _ = batch
    readout = IdentityReadout(3, latent_dim=M)
    assert torch.equal(readout.predict(latents), latents[..., :3])
    target = counts[..., :3]
    expected = ((latents[..., :3] - target) ** 2)[valid].mean()
    assert _f(readout.loss(latents, target, valid)) == pytest.approx(_f(expected))
    inv = readout.invert(target, valid)
    assert inv.shape == (B, T, M)
    assert torch.equal(inv[..., :3][valid], target[valid]) and _f(inv[..., 3:].abs().sum()) == 0
    with pytest.raises(DataValidationError, match="reads the first n_obs=6"):
        IdentityReadout(6).predict(latents)


def test_choice_head_matches_cross_entropy():
    gen = torch.Generator().manual_seed(3)
    latents = torch.randn(4, 6, M, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 2, 1, -1])  # trial 3 has no label
    mask = torch.zeros(4, 6, dtype=torch.bool)
    mask[:, 4:] = True
    mask[0, 5] = False
    head = ChoiceHead(M, 3, seed=0).double()
    logits = head.linear(latents)
    rows, cols = torch.nonzero(mask[:3], as_tuple=True)
    expected = torch.nn.functional.cross_entropy(logits[rows, cols], labels[rows])
    assert _f(head.loss(latents, labels, mask)) == pytest.approx(_f(expected), rel=1e-12)
    garbage = torch.where(mask[..., None], latents, float("nan"))
    assert _f(head.loss(garbage, labels, mask)) == pytest.approx(_f(expected), rel=1e-12)
    assert torch.allclose(head.predict(latents).sum(-1), torch.ones(4, 6, dtype=torch.float64))
    with pytest.raises(ConfigError, match="ChoiceHead cannot produce latent estimates"):
        head.invert(labels)
    with pytest.raises(DataValidationError, match="labels must be < n_classes=3"):
        head.loss(latents, torch.tensor([0, 1, 3, 0]), mask)


@pytest.mark.parametrize("readout_cls", [PoissonReadout, GaussianReadout])
def test_invert_recovers_latents_of_noiseless_data(batch, readout_cls):
    latents, _, valid, observed = batch
    readout = _poisson() if readout_cls is PoissonReadout else GaussianReadout(M, N, seed=0)
    readout = readout.double()
    with torch.no_grad():
        readout.bias.fill_(3.0)  # rates well above the floor
        rates = readout.predict(latents)
    z = readout.invert(rates, valid, smooth_sigma=0.0)
    assert torch.allclose(z[valid], latents[valid], atol=1e-8)
    assert _f(z[~valid].abs().sum()) == 0.0
    garbage = torch.where(observed[:, None, :], rates, 1e3)  # unrecorded units hold garbage
    z_obs = readout.invert(garbage, valid, observed=observed, smooth_sigma=0.0)
    assert torch.allclose(z_obs[valid], latents[valid], atol=1e-8)


def test_set_bias_from_rates():
    readout = PoissonReadout(M, N, seed=0).double()
    mean = torch.tensor([0.5, 1.0, 2.0, 4.0, 0.1], dtype=torch.float64)
    readout.set_bias_from_rates(mean)
    assert torch.allclose(readout.predict(torch.zeros(1, 1, M).double())[0, 0], mean)


def test_smooth_time_ignores_masked_steps():
    x = torch.full((2, 9, 1), 2.0, dtype=torch.float64)
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[1, 6:] = False
    x[1, 6:] = 1e9  # padded garbage must not leak into valid steps
    out = smooth_time(x, mask, 1.5)
    assert torch.allclose(out[mask], torch.full_like(out[mask], 2.0))
    delta = torch.zeros(1, 41, 1, dtype=torch.float64)
    delta[0, 20] = 1.0
    sm = smooth_time(delta, None, 2.0)[0, :, 0]  # far from the edges: plain normalised kernel
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    assert np.allclose(sm[14:27].numpy(), kernel / kernel.sum())


def test_ensemble_readout_equals_members(batch):
    latents, counts, valid, observed = batch
    ens = PoissonReadout(M, N, seed=0, ensemble_shape=(2,)).double()
    lat = torch.stack([latents, 0.5 * latents])
    total = ens.loss(lat, counts, valid, observed=observed)
    parts = []
    for i in range(2):
        single = PoissonReadout(M, N, seed=0).double()
        with torch.no_grad():
            single.weight.copy_(ens.weight[i])
            single.bias.copy_(ens.bias[i])
        parts.append(single.loss(lat[i], counts, valid, observed=observed))
    assert _f(total) == pytest.approx(_f(sum(parts)), rel=1e-12)


def test_bad_readout_arguments_raise():
    with pytest.raises(ConfigError, match="link='log' is not one of"):
        PoissonReadout(3, 2, link="log")
    with pytest.raises(ConfigError, match="noise='laplace' is not one of"):
        GaussianReadout(3, 2, noise="laplace")
    with pytest.raises(DataValidationError, match=r"targets have shape \(2, 4, 3\)"):
        PoissonReadout(3, 2, seed=0).loss(torch.zeros(2, 4, 3), torch.zeros(2, 4, 3))
    with pytest.raises(DataValidationError, match="this readout expects latent_dim=3"):
        GaussianReadout(3, 2, seed=0).predict(torch.zeros(2, 4, 5))


@pytest.mark.parametrize("counts", [[0, 1, 2, 7, 7, 30], [0.5, 1.0, 2.25], [], [3e5, 1.0]])
def test_poisson_log_likelihood_matches_scipy_for_integer_and_other_counts(counts):
    from alrnn_neuro.training.metrics import poisson_log_likelihood

    y = np.asarray(counts, dtype=float)
    rates = np.linspace(0.5, 3.0, y.size)
    mask = np.ones(y.size, bool)
    # scipy's logpmf is defined for integers only: write the continuous form out
    expected = float(np.sum(y * np.log(rates) - rates - np.array([math.lgamma(v + 1) for v in y])))
    assert poisson_log_likelihood(y, rates, mask) == pytest.approx(expected, rel=1e-10, abs=1e-9)
