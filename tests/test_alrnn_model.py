"""ALRNN: initialisation, one step, Jacobian, regions, ensembles, input errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models import ALRNN


def _random_model(m=5, p=3, k=2, seed=0, ens=()):
    model = ALRNN(m, p, k, seed=seed, ensemble_shape=ens).double()
    gen = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        model.W.copy_(0.5 * torch.randn(model.W.shape, generator=gen, dtype=torch.float64))
        model.h.copy_(torch.randn(model.h.shape, generator=gen, dtype=torch.float64))
    return model


def _reference_step(model, z, s):
    """The model equation written out with explicit loops over units (numpy-free, no matmul)."""
    m, p = model.latent_dim, model.pwl_units
    out = torch.empty(m, dtype=torch.float64)
    phi = [z[j] if j < m - p else max(z[j], 0.0) for j in range(m)]
    for i in range(m):
        total = model.A[i] * z[i] + model.h[i]
        total = total + sum(model.W[i, j] * phi[j] for j in range(m))
        total = total + sum(model.C[i, j] * s[j] for j in range(model.input_dim))
        out[i] = total
    return out


def test_initialisation_follows_the_recipe():
    model = ALRNN(8, 3, 4, seed=3)
    assert model.A.shape == (8,) and model.W.shape == (8, 8) and model.C.shape == (8, 4)
    assert bool(((model.A > 0) & (model.A <= 1)).all())
    assert float(model.W.detach().std()) < 0.03 and float(model.C.detach().std()) > 0.03
    assert torch.equal(model.h, torch.zeros(8))
    assert torch.equal(model.pwl_mask, torch.tensor([0.0] * 5 + [1.0] * 3))
    same = ALRNN(8, 3, 4, seed=3)
    pairs = zip(model.parameters(), same.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    other = ALRNN(8, 3, 4, seed=4)
    assert not torch.equal(model.W, other.W)


@pytest.mark.parametrize("p", [0, 2, 5])
def test_step_matches_the_written_out_equation(p):
    model = _random_model(5, p, 2)
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(5, dtype=torch.float64, generator=gen)
    s = torch.randn(2, dtype=torch.float64, generator=gen)
    expected = _reference_step(model, z.tolist(), s.tolist())
    assert torch.allclose(model.step(z[None], s[None])[0], expected, atol=1e-12)


def test_forward_first_output_is_step_of_z0():
    model = _random_model()
    inputs = torch.randn(3, 4, 2, dtype=torch.float64)
    z0 = torch.randn(3, 5, dtype=torch.float64)
    latents = model(inputs, z0=z0)
    assert torch.allclose(latents[:, 0], model.step(z0, inputs[:, 0]), atol=1e-12)
    assert torch.allclose(latents[:, 1], model.step(latents[:, 0], inputs[:, 1]), atol=1e-12)
    learned = model(inputs)  # default: the learned z0 (zeros), broadcast over the batch
    assert torch.allclose(learned[:, 0], model.step(torch.zeros(3, 5).double(), inputs[:, 0]))


@pytest.mark.parametrize("p", [0, 3, 5])
def test_jacobian_equals_autograd(p):
    model = _random_model(5, p, 2)
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(2, dtype=torch.float64, generator=gen)
    for _ in range(5):
        z = torch.randn(5, dtype=torch.float64, generator=gen)
        auto = torch.autograd.functional.jacobian(lambda x: model.step(x[None], s[None])[0], z)
        assert torch.allclose(model.jacobian(z[None])[0], auto, atol=1e-12)


def test_params_bitcode_and_region_jacobians_are_consistent_with_jacobian():
    model = _random_model(5, 3, 2)
    params = model.params()
    codes = params.regions()
    assert codes.tolist() == list(range(8))
    mats = params.region_jacobians(codes)
    assert mats.shape == (8, 5, 5)
    for bits in itertools.product([0, 1], repeat=3):
        signs = torch.tensor([2.0 * b - 1 for b in bits], dtype=torch.float64)
        z = torch.cat([torch.randn(2, dtype=torch.float64), signs * 0.7])
        code = int(params.bitcode(z[None].numpy())[0])
        assert code == bits[0] * 4 + bits[1] * 2 + bits[2]  # first PWL unit = MSB
        ref = model.jacobian(z[None])[0].detach().numpy()
        np.testing.assert_allclose(mats[code], ref, atol=1e-15)


def test_linear_and_full_plrnn_regions():
    linear = _random_model(4, 0, 1).params()
    assert linear.regions().tolist() == [0]
    assert int(linear.bitcode(np.random.default_rng(0).normal(size=(1, 4)))[0]) == 0
    expected = np.diag(linear.A) + linear.W
    np.testing.assert_allclose(linear.region_jacobians()[0], expected)
    full = _random_model(4, 4, 1)
    z = torch.tensor([[1.0, -1.0, 1.0, 1.0]], dtype=torch.float64)
    assert int(full.params().bitcode(z.numpy())[0]) == 0b1011
    assert full.phi(z).tolist() == [[1.0, 0.0, 1.0, 1.0]]


def test_ensemble_equals_independent_models():
    ens = _random_model(4, [1, 2, 4], 2, ens=(3,))
    inputs = torch.randn(2, 6, 2, dtype=torch.float64)
    latents = ens(inputs)
    assert latents.shape == (3, 2, 6, 4)
    loss = (latents**2).sum()
    grads = torch.autograd.grad(loss, [ens.A, ens.W, ens.C, ens.h, ens.z0])
    for i in range(3):
        single = ens.member(i)
        assert single.pwl_units == [1, 2, 4][i]
        out = single(inputs)
        assert torch.allclose(out, latents[i], atol=1e-12)
        params = [single.A, single.W, single.C, single.h, single.z0]
        g = torch.autograd.grad((out**2).sum(), params)
        for a, b in zip(g, grads, strict=True):
            assert torch.allclose(a, b[i], atol=1e-10)
        z = torch.randn(4, dtype=torch.float64)
        zz = z.expand(3, 1, 4)
        assert torch.allclose(ens.jacobian(zz)[i, 0], single.jacobian(z[None])[0])
        assert single.params().n_pwl == [1, 2, 4][i]
    with pytest.raises(ConfigError, match=r"model.member\(i\).params\(\)"):
        ens.params()


def test_ensemble_member_params_hold_each_members_parameters():
    ens = _random_model(3, 1, 1, ens=(2,))
    for i in range(2):
        p = ens.member(i).params()
        np.testing.assert_array_equal(p.W, ens.W[i].detach().numpy())
        np.testing.assert_array_equal(p.A, ens.A[i].detach().numpy())
    assert not np.array_equal(ens.member(0).params().W, ens.member(1).params().W)


def test_data_init_state_requires_z0():
    model = ALRNN(3, 1, 2, init_state="data", seed=0)
    assert "z0" not in dict(model.named_parameters())
    with pytest.raises(ConfigError, match="init_state='data' needs an explicit z0"):
        model(torch.zeros(2, 4, 2))
    assert model(torch.zeros(2, 4, 2), z0=torch.ones(2, 3)).shape == (2, 4, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"latent_dim": 0, "pwl_units": 0, "input_dim": 1}, "latent_dim=0 must be an integer"),
        ({"latent_dim": 3, "pwl_units": 4, "input_dim": 1}, "pwl_units=4 must satisfy"),
        ({"latent_dim": 3, "pwl_units": -1, "input_dim": 1}, "pwl_units=-1 must satisfy"),
        ({"latent_dim": 3, "pwl_units": 1, "input_dim": -2}, "input_dim=-2 must be"),
        ({"latent_dim": 3, "pwl_units": 1, "input_dim": 1, "init_state": "x"}, "init_state"),
    ],
)
def test_bad_configuration_raises(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ALRNN(**kwargs)


def test_bad_shapes_raise():
    model = ALRNN(3, 1, 2, seed=0)
    with pytest.raises(DataValidationError, match=r"inputs has shape \(2, 4, 5\)"):
        model(torch.zeros(2, 4, 5))
    with pytest.raises(DataValidationError, match="z0 has shape"):
        model(torch.zeros(2, 4, 2), z0=torch.zeros(3, 3))
    with pytest.raises(ConfigError, match="engine='jit' is not one of"):
        model(torch.zeros(2, 4, 2), engine="jit")
    with pytest.raises(ConfigError, match=r"codes must lie in \[0, 2\^P\)"):
        model.params().region_jacobians(np.array([2]))
    with pytest.raises(DataValidationError, match="z has shape"):
        model.jacobian(torch.zeros(2, 4))


def test_state_dict_round_trip():
    model = _random_model(4, 2, 1)
    clone = ALRNN(4, 2, 1, seed=99).double()
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, 5, 1, dtype=torch.float64)
    assert torch.equal(clone(x), model(x))
