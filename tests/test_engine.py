"""The fast recurrence engine against torch autograd of the plain per-step loop.

Tests taking the ``loop`` fixture run twice on CPU: through the engine's compiled loops
(numba, the CPU default) and through its torch loop (the one GPUs run).
"""

from __future__ import annotations

import pytest
import torch

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models import ALRNN, alrnn_scan
from alrnn_neuro.models import engine as engine_module

GRAD_TOL = 1e-8  # float64, relative to the gradient's scale
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(params=["compiled", "torch"])
def loop(request, monkeypatch):
    """The engine's compiled CPU loops, or its torch loop (as if numba were missing)."""
    if request.param == "torch":
        monkeypatch.setattr(engine_module, "_import_compiled", lambda: None)
    return request.param


def _model(m, p, k, seed=0, ens=(), dtype=torch.float64):
    model = ALRNN(m, p, k, seed=seed, ensemble_shape=ens).to(dtype)
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():  # random, non-trivial parameters (init W is tiny)
        model.W.copy_(0.4 * torch.randn(model.W.shape, generator=gen, dtype=dtype))
        model.h.copy_(0.3 * torch.randn(model.h.shape, generator=gen, dtype=dtype))
        model.z0.copy_(torch.randn(model.z0.shape, generator=gen, dtype=dtype))
    return model


def _ragged_batch(b, t, k, n_lat, seed=1, ens=()):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(b, t, k, generator=gen, dtype=torch.float64)
    lengths = torch.randint(1, t + 1, (b,), generator=gen)
    lengths[0] = t
    valid = torch.arange(t)[None, :] < lengths[:, None]
    weights = torch.randn(*ens, b, t, n_lat, generator=gen, dtype=torch.float64)
    return inputs, valid, weights


def _masked_loss(latents, valid, weights):
    """A ragged-batch loss: weighted squares on valid steps only (mean over valid)."""
    per_step = (weights * latents + 0.1 * latents**2).sum(-1)
    return torch.where(valid, per_step, 0.0).sum() / valid.sum()


def _grads(model, inputs, valid, weights, engine, forcing=None):
    inputs = inputs.clone().requires_grad_(True)
    latents = model(inputs, forcing=forcing, engine=engine)
    loss = _masked_loss(latents, valid, weights)
    params = [model.A, model.W, model.C, model.h, model.z0]
    grads = torch.autograd.grad(loss, [*params, inputs])
    return latents.detach(), grads


def _assert_close(fast, plain):
    for a, b in zip(fast, plain, strict=True):
        scale = max(1.0, float(b.abs().max()))
        assert torch.allclose(a, b, rtol=0, atol=GRAD_TOL * scale), float((a - b).abs().max())


def _sparse_forcing(b, t, m, tau=3, seed=2):
    gen = torch.Generator().manual_seed(seed)
    targets = torch.randn(b, t, m, generator=gen, dtype=torch.float64)
    alpha = torch.zeros(b, t, 1, dtype=torch.float64)
    alpha[:, tau - 1 :: tau] = 1.0
    return targets, alpha


@pytest.mark.parametrize("p", [0, 2, 5])
@pytest.mark.parametrize("forcing_kind", [None, "sparse", "generalised", "partial"])
def test_fast_engine_gradients_equal_plain_autograd(p, forcing_kind, loop):
    b, t, m, k = 4, 12, 5, 3
    model = _model(m, p, k)
    inputs, valid, weights = _ragged_batch(b, t, k, m)
    forcing = None
    if forcing_kind == "sparse":
        forcing = _sparse_forcing(b, t, m)
    elif forcing_kind == "generalised":
        forcing = (_sparse_forcing(b, t, m)[0], 0.3)
    elif forcing_kind == "partial":  # first 2 latents only, per-entry alpha
        targets = _sparse_forcing(b, t, 2)[0]
        gen = torch.Generator().manual_seed(5)
        forcing = (targets, torch.rand(b, t, 2, generator=gen, dtype=torch.float64))
    lat_fast, g_fast = _grads(model, inputs, valid, weights, "fast", forcing)
    lat_plain, g_plain = _grads(model, inputs, valid, weights, "plain", forcing)
    assert torch.allclose(lat_fast, lat_plain, rtol=1e-12, atol=1e-12)
    _assert_close(g_fast, g_plain)
    assert float(g_fast[0].abs().sum()) > 0  # not trivially zero


def test_exact_zero_states_use_the_relu_convention(loop):
    """A state exactly at the kink (z0 = 0, its initial value) has derivative 0, as torch.relu."""
    b, t, m, k = 3, 8, 4, 2
    model = _model(m, 2, k)
    with torch.no_grad():
        model.z0.zero_()
    inputs, valid, weights = _ragged_batch(b, t, k, m)
    _, g_fast = _grads(model, inputs, valid, weights, "fast")
    _, g_plain = _grads(model, inputs, valid, weights, "plain")
    _assert_close(g_fast, g_plain)


def test_forcing_changes_the_trajectory_and_blocks_target_gradient(loop):
    b, t, m, k = 2, 9, 4, 2
    model = _model(m, 2, k)
    inputs = torch.randn(b, t, k, dtype=torch.float64)
    targets, alpha = _sparse_forcing(b, t, m)
    targets.requires_grad_(True)
    free = model(inputs)
    forced = model(inputs, forcing=(targets, alpha))
    assert torch.equal(free[:, :3], forced[:, :3])  # first forced step is 3 (index 2)
    assert not torch.allclose(free[:, 3:], forced[:, 3:])
    forced.sum().backward()
    assert targets.grad is None
    # alpha = 1 replaces the carried state: step 4 = step(target_3, s_4)
    expected = model.step(targets[:, 2].detach(), inputs[:, 3])
    assert torch.allclose(forced[:, 3], expected, atol=1e-12)


def test_nan_targets_where_alpha_is_zero_are_ignored(loop):
    b, t, m, k = 2, 6, 3, 1
    model = _model(m, 1, k)
    inputs = torch.randn(b, t, k, dtype=torch.float64)
    targets, alpha = _sparse_forcing(b, t, m)
    targets_nan = torch.where(alpha > 0, targets, float("nan"))
    for engine in ("fast", "plain"):
        out = model(inputs, forcing=(targets_nan, alpha), engine=engine)
        assert torch.equal(out, model(inputs, forcing=(targets, alpha), engine=engine))


def test_gradcheck_tiny_case(loop):
    t, b, m = 4, 2, 3
    gen = torch.Generator().manual_seed(0)

    def rnd(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_(True)

    drive, z0, a, w = rnd(t, b, m), rnd(b, m), rnd(m), rnd(m, m)
    mask = torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)
    alpha = torch.zeros(t, b, m, dtype=torch.float64)
    alpha[1] = 0.5
    forcing = (torch.randn(t, b, m, generator=gen, dtype=torch.float64), alpha)
    assert torch.autograd.gradcheck(
        lambda *x: alrnn_scan(*x, mask, forcing), (drive, z0, a, w), eps=1e-6, atol=1e-7
    )


def test_ensemble_gradients_equal_plain_autograd(loop):
    b, t, m, k, ens = 3, 8, 4, 2, (2, 3)
    model = _model(m, [[0, 1, 2], [3, 4, 2]], k, ens=ens)
    inputs, valid, weights = _ragged_batch(b, t, k, m, ens=ens)
    forcing = _sparse_forcing(b, t, m)
    lat_fast, g_fast = _grads(model, inputs, valid, weights, "fast", forcing)
    lat_plain, g_plain = _grads(model, inputs, valid, weights, "plain", forcing)
    assert lat_fast.shape == (*ens, b, t, m)
    assert torch.allclose(lat_fast, lat_plain, rtol=1e-12, atol=1e-12)
    _assert_close(g_fast, g_plain)


@pytest.mark.parametrize("t", [1, 2])
def test_ensemble_gradients_of_very_short_sequences(t, loop):
    """dA and dW accumulate inside the backward loop for an ensemble: check its ends."""
    b, m, k, ens = 3, 4, 2, (3,)
    model = _model(m, [0, 2, 4], k, ens=ens)
    inputs, valid, weights = _ragged_batch(b, t, k, m, ens=ens)
    _, g_fast = _grads(model, inputs, valid, weights, "fast")
    _, g_plain = _grads(model, inputs, valid, weights, "plain")
    _assert_close(g_fast, g_plain)
    assert float(g_fast[1].abs().sum()) > 0  # dW is not trivially zero


def test_ensemble_with_per_member_inputs_and_targets(loop):
    b, t, m, k, ens = 2, 7, 3, 2, (2,)
    model = _model(m, [1, 3], k, ens=ens)
    gen = torch.Generator().manual_seed(4)
    inputs = torch.randn(*ens, b, t, k, generator=gen, dtype=torch.float64).requires_grad_(True)
    targets = torch.randn(*ens, b, t, m, generator=gen, dtype=torch.float64)
    forcing = (targets, _sparse_forcing(b, t, m)[1])
    outs = [model(inputs, forcing=forcing, engine=e) for e in ("fast", "plain")]
    assert torch.allclose(outs[0], outs[1], rtol=1e-12, atol=1e-12)
    grads = [torch.autograd.grad((o**2).sum(), [inputs, model.W]) for o in outs]
    _assert_close(grads[0], grads[1])
    single = model.member(1)(inputs[1], forcing=(targets[1], forcing[1]))
    assert torch.allclose(single, outs[0][1], rtol=1e-12, atol=1e-12)


def test_float32_matches_float64():
    model = _model(6, 3, 2)
    inputs = torch.randn(3, 20, 2, dtype=torch.float64)
    ref = model(inputs)
    out32 = model.float()(inputs.float())
    assert out32.dtype == torch.float32
    assert torch.allclose(out32.double(), ref, atol=1e-4)


def test_empty_sequence_and_shape_errors():
    model = _model(3, 1, 2)
    assert model(torch.zeros(2, 0, 2, dtype=torch.float64)).shape == (2, 0, 3)
    with pytest.raises(DataValidationError, match="forcing targets have shape"):
        model(torch.zeros(2, 5, 2), forcing=(torch.zeros(2, 5, 4), 1.0))
    with pytest.raises(ConfigError, match=r"forcing alpha must lie in \[0, 1\]"):
        model(torch.zeros(2, 5, 2), forcing=(torch.zeros(2, 5, 3), 1.5))


@CUDA
def test_cuda_matches_cpu():
    model = _model(5, 2, 3)
    inputs, valid, weights = _ragged_batch(4, 10, 3, 5)
    forcing = _sparse_forcing(4, 10, 5)
    _, g_cpu = _grads(model, inputs, valid, weights, "fast", forcing)
    model_gpu = model.to("cuda")
    moved = [x.to("cuda") for x in (inputs, valid, weights)]
    forcing_gpu = tuple(f.to("cuda") for f in forcing)
    _, g_gpu = _grads(model_gpu, *moved, "fast", forcing_gpu)
    _assert_close([g.cpu() for g in g_gpu], g_cpu)
