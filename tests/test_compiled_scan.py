"""The compiled CPU loops (numba) against the torch loop of the same engine.

``tests/test_engine.py`` checks the engine (both loops) against autograd of the plain per-step
loop; here the two loops must agree with each other on everything the engine promises:
states, every gradient, forcing, ensembles with different P per member, NaN, no-grad runs.
"""

from __future__ import annotations

import pytest
import torch

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models import ALRNN, alrnn_scan, scan_kernels
from alrnn_neuro.models import engine as engine_module
from alrnn_neuro.models.forcing import prepare_forcing

TOL = 1e-11  # float64, relative to each tensor's scale


def _problem(t=9, b=4, m=5, ens=(), seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(dtype)

    drive = rand(t, *ens, b, m, scale=0.5)
    z0 = rand(*ens, b, m)
    a = (0.5 + 0.4 * torch.rand(*ens, m, generator=gen, dtype=torch.float64)).to(dtype)
    w = rand(*ens, m, m, scale=0.4)
    mask = torch.zeros(*ens, m, dtype=dtype)
    if ens:  # members with P = 0, 2, M (and the same along further ensemble dims)
        for k, p in enumerate([0, 2, m][: ens[0]]):
            mask[k, ..., m - p :] = 1.0
    else:
        mask[m - 2 :] = 1.0
    return drive, z0, a, w, mask


def _forcing(kind, t, b, m, ens=(), seed=3):
    if kind is None:
        return None
    gen = torch.Generator().manual_seed(seed)
    target = torch.randn(t, *ens, b, m, generator=gen, dtype=torch.float64)
    if kind == "sparse":
        alpha = torch.zeros(t, *(1,) * len(ens), 1, 1, dtype=torch.float64)
        alpha[2::3] = 1.0
    elif kind == "generalised":
        alpha = torch.full((1,), 0.3, dtype=torch.float64)
    else:  # per-entry alpha, some exactly 0 (NaN targets there must be ignored)
        alpha = torch.rand(t, *ens, b, m, generator=gen, dtype=torch.float64)
        alpha = torch.where(alpha < 0.3, 0.0, alpha)
        target = torch.where(alpha == 0, float("nan"), target)
    return target, alpha


def _run(problem, forcing, compiled, weights):
    leaves = [x.clone().requires_grad_(True) for x in problem[:4]]
    out = alrnn_scan(*leaves, problem[4], forcing, compiled=compiled)
    loss = (weights * out).sum() + 0.1 * (out**2).sum()
    return [out.detach(), *torch.autograd.grad(loss, leaves)]


def _assert_close(first, second):
    for x, y in zip(first, second, strict=True):
        assert x.shape == y.shape
        scale = max(1.0, float(y.abs().max())) if y.numel() else 1.0
        assert torch.allclose(x, y, rtol=0, atol=TOL * scale), float((x - y).abs().max())


@pytest.mark.parametrize("ens", [(), (3,), (2, 2)])
@pytest.mark.parametrize("kind", [None, "sparse", "generalised", "partial"])
def test_compiled_loops_equal_the_torch_loop(ens, kind):
    t, b, m = 9, 4, 5
    problem = _problem(t, b, m, ens)
    forcing = _forcing(kind, t, b, m, ens)
    weights = torch.randn(t, *ens, b, m, generator=torch.Generator().manual_seed(7))
    weights = weights.double()
    compiled = _run(problem, forcing, True, weights)
    torch_loop = _run(problem, forcing, False, weights)
    _assert_close(compiled, torch_loop)
    assert all(bool(g.abs().sum() > 0) for g in compiled[1:])  # every gradient is non-trivial


def test_forcing_changes_the_compiled_trajectory():
    problem = _problem()
    free = alrnn_scan(*problem, compiled=True)
    forced = alrnn_scan(*problem, _forcing("sparse", 9, 4, 5), compiled=True)
    assert torch.equal(free[:3], forced[:3])  # forcing first acts after output index 2
    assert not torch.allclose(free[3:], forced[3:])


@pytest.mark.parametrize("n_steps", [0, 1, 2])
def test_very_short_sequences(n_steps):
    problem = _problem(t=n_steps)
    weights = torch.ones(n_steps, 4, 5, dtype=torch.float64)
    _assert_close(_run(problem, None, True, weights), _run(problem, None, False, weights))


def test_nan_states_propagate_like_the_torch_loop():
    drive, z0, a, w, mask = _problem()
    z0[0, -1] = float("nan")  # a rectified unit
    z0[1, 0] = float("nan")  # a linear unit
    compiled = alrnn_scan(drive, z0, a, w, mask, compiled=True)
    torch_loop = alrnn_scan(drive, z0, a, w, mask, compiled=False)
    assert torch.equal(compiled.isnan(), torch_loop.isnan())
    assert bool(compiled.isnan().any()) and not bool(compiled[:, 2:].isnan().any())
    ok = ~torch_loop.isnan()
    assert torch.allclose(compiled[ok], torch_loop[ok], rtol=0, atol=1e-12)


def test_no_grad_runs_and_float32():
    problem = _problem()
    with torch.no_grad():
        no_grad = alrnn_scan(*problem, compiled=True)
    assert torch.allclose(no_grad, alrnn_scan(*problem, compiled=False), rtol=0, atol=1e-12)
    single = [x.float() for x in problem]
    out32 = alrnn_scan(*single, compiled=True)
    assert out32.dtype == torch.float32
    assert torch.allclose(out32.double(), no_grad, atol=1e-5)


def test_repeated_runs_are_bitwise_identical():
    problem = _problem(ens=(3,))
    weights = torch.ones(9, 3, 4, 5, dtype=torch.float64)
    first, second = (_run(problem, None, True, weights) for _ in range(2))
    assert all(torch.equal(x, y) for x, y in zip(first, second, strict=True))


def test_compiled_true_where_it_cannot_run_is_a_precise_error(monkeypatch):
    drive, z0, a, w, mask = (x.to(torch.bfloat16) for x in _problem())
    with pytest.raises(ConfigError, match=r"torch.bfloat16 on cpu.*Fix: compiled=None"):
        alrnn_scan(drive, z0, a, w, mask, compiled=True)
    monkeypatch.setattr(engine_module, "_import_compiled", lambda: None)
    with pytest.raises(ConfigError, match="numba cannot be imported"):
        alrnn_scan(*_problem(), compiled=True)
    # the default falls back to the torch loop without numba
    assert alrnn_scan(*_problem()).shape == (9, 4, 5)


@pytest.mark.parametrize("per_member_inputs", [False, True])
@pytest.mark.parametrize("kind", [None, "sparse", "partial"])
@pytest.mark.parametrize("size", ["one block", "blocks"])
@pytest.mark.parametrize("inputs_grad", [True, False])
def test_drive_formed_inside_the_loops_equals_the_drive_path(
    per_member_inputs, kind, size, inputs_grad
):
    """ALRNN.forward forms the drive C s_t + h inside the compiled loops; the same model
    through alrnn_scan of its drive (formed by torch) must agree, gradients of the inputs,
    C and h included. "blocks": batch x latent so large that the loops form the drive in
    blocks of 3 steps (DRIVE_BLOCK_ELEMENTS) and dW, dC, dh in blocks of 13
    (OPERAND_BLOCK_ELEMENTS), the last ones shorter. Without a gradient of the inputs the
    backward loop keeps each member's gradients in a scratch slab instead."""
    b, t, m, k, ens = (3, 8, 4, 2, (3,)) if size == "one block" else (300, 16, 16, 2, (3,))
    if size == "blocks":
        assert scan_kernels.DRIVE_BLOCK_ELEMENTS // (b * m) == 3 and t % 3 == 1
        assert scan_kernels.OPERAND_BLOCK_ELEMENTS // (b * m) == 13 and t % 13 == 3
    model = ALRNN(m, [0, m // 2, m], k, seed=0, ensemble_shape=ens).double()
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in (model.W, model.h, model.z0):
            p.copy_(0.4 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    shape = (*ens, b, t, k) if per_member_inputs else (b, t, k)
    inputs = torch.randn(shape, generator=gen, dtype=torch.float64)
    forcing = None
    if kind is not None:
        target, alpha = _forcing(kind, t, b, m)
        forcing = (target.transpose(0, 1), alpha.transpose(0, 1) if alpha.dim() == 3 else alpha)
    weights = torch.randn(*ens, b, t, m, generator=gen, dtype=torch.float64)

    def grads(through_drive: bool):
        x = inputs.clone().requires_grad_(inputs_grad)
        if through_drive:
            state = model._initial_state(None, b)
            forced = None
            if forcing is not None:
                forced = tuple(
                    f.movedim(-2, 0).unsqueeze(1) if f.dim() == 3 else f
                    for f in prepare_forcing(forcing, (b, t), m, torch.float64)
                )
            drive = model._drive(x)
            args = (model.self_connection, model.W, model.pwl_mask, forced)
            out = alrnn_scan(drive, state, *args, compiled=True).movedim(0, -2)
        else:
            out = model(x, forcing=forcing)
        loss = (weights * out).sum() + 0.1 * (out**2).sum()
        params = [model.A, model.W, model.C, model.h, model.z0] + [x] * inputs_grad
        return [out.detach(), *torch.autograd.grad(loss, params)]

    _assert_close(grads(False), grads(True))


def test_without_numba_the_torch_loop_runs_with_a_warning(monkeypatch, caplog):
    """An import failure (no numba, no writable numba cache) is logged, not raised."""
    import sys

    import alrnn_neuro.models

    monkeypatch.delattr(alrnn_neuro.models, "compiled_scan", raising=False)
    monkeypatch.setitem(sys.modules, "alrnn_neuro.models.compiled_scan", None)
    with caplog.at_level("WARNING", logger="alrnn_neuro.models.engine"):
        assert engine_module._import_compiled.__wrapped__() is None
    assert "using the torch loop" in caplog.text
