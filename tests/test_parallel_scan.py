"""Parallel-in-time AL-RNN forward pass against the sequential engine (float64, 1e-10)."""

from __future__ import annotations

import math

import pytest
import torch

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models import ALRNN, engine
from alrnn_neuro.models.engine import alrnn_scan, time_major
from alrnn_neuro.models.parallel_scan import affine_prefix_scan, parallel_alrnn_scan

TOL = 1e-10


def _random_model(gen, ens, m, n_pwl):
    """Stable random AL-RNN(s): A in (0.3, 0.7), W ~ N(0, (0.2 / sqrt(M))^2)."""
    A = 0.3 + 0.4 * torch.rand(*ens, m, generator=gen, dtype=torch.float64)
    W = torch.randn(*ens, m, m, generator=gen, dtype=torch.float64) * 0.2 / math.sqrt(m)
    n = torch.as_tensor(n_pwl).reshape(*ens, 1) if ens else torch.tensor(n_pwl)
    mask = (torch.arange(m) >= m - n).to(torch.float64)
    return A, W, mask


def _drive(gen, n_steps, ens, batch, m):
    return torch.randn(n_steps, *ens, batch, m, generator=gen, dtype=torch.float64)


def test_affine_prefix_scan_matches_the_loop():
    gen = torch.Generator().manual_seed(0)
    for n_steps in (1, 2, 3, 7, 64, 101):
        maps = torch.randn(n_steps, 3, 4, 4, generator=gen, dtype=torch.float64) * 0.4
        offsets = torch.randn(n_steps, 3, 4, generator=gen, dtype=torch.float64)
        x, expected = torch.zeros(3, 4, dtype=torch.float64), []
        for t in range(n_steps):
            x = (maps[t] @ x.unsqueeze(-1)).squeeze(-1) + offsets[t]
            expected.append(x)
        torch.testing.assert_close(
            affine_prefix_scan(maps, offsets), torch.stack(expected), rtol=0, atol=TOL
        )


@pytest.mark.parametrize(
    ("ens", "n_pwl", "n_steps"),
    [((), 3, 200), ((2, 3), [[0, 2, 5], [5, 1, 3]], 150), ((4,), [0, 0, 0, 0], 300)],
)
def test_equals_sequential_engine_with_ensemble_dims(ens, n_pwl, n_steps):
    gen = torch.Generator().manual_seed(1)
    A, W, mask = _random_model(gen, ens, 5, n_pwl)
    drive = _drive(gen, n_steps, ens, 4, 5)
    z0 = torch.randn(*ens, 4, 5, generator=gen, dtype=torch.float64)
    result = parallel_alrnn_scan(drive, z0, A, W, mask)
    expected = alrnn_scan(drive, z0, A, W, mask)
    torch.testing.assert_close(result.states, expected, rtol=0, atol=TOL)
    assert result.converged


def test_linear_model_takes_one_pass():
    gen = torch.Generator().manual_seed(2)
    A, W, mask = _random_model(gen, (), 6, 0)
    drive, z0 = _drive(gen, 1000, (), 8, 6), torch.randn(8, 6, generator=gen, dtype=torch.float64)
    result = parallel_alrnn_scan(drive, z0, A, W, 0)
    assert result.iterations == 1 and result.converged
    torch.testing.assert_close(result.states, alrnn_scan(drive, z0, A, W, mask), rtol=0, atol=TOL)


def test_full_plrnn_equals_alrnn_forward():
    model = ALRNN(6, 6, 3, seed=3, ensemble_shape=(2,)).double()
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        model.A.mul_(0.7)
        model.W.normal_(0.0, 0.1, generator=gen)
        model.z0.normal_(0.0, 1.0, generator=gen)
    inputs = torch.randn(5, 400, 3, generator=gen, dtype=torch.float64)
    drive = torch.matmul(time_major(inputs, 1), model.C.mT) + model.h.unsqueeze(-2)
    drive = drive.expand(400, 2, 5, 6)
    z0 = model.z0.unsqueeze(-2)
    result = parallel_alrnn_scan(drive, z0, model.A, model.W, model.pwl_mask)
    with torch.no_grad():
        expected = model(inputs)
    torch.testing.assert_close(result.states.movedim(0, -2), expected, rtol=0, atol=TOL)
    assert result.converged and result.iterations > 1


def _rotating_model(n_steps=400):
    """Two rectified units turning by ~0.5 rad per step: the codes flip again and again."""
    angle, radius = 0.5, 0.97
    rotation = radius * torch.tensor(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]],
        dtype=torch.float64,
    )
    A = torch.full((3,), 0.5, dtype=torch.float64)
    W = torch.zeros(3, 3, dtype=torch.float64)
    W[:2, :2] = rotation - 0.5 * torch.eye(2, dtype=torch.float64)  # J = rotation with d = 1
    W[2, :2] = 0.3
    mask = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    drive = 0.05 * torch.randn(n_steps, 2, 3, generator=gen, dtype=torch.float64)
    z0 = torch.tensor([[1.0, 0.0, 0.0], [-0.5, 0.8, 0.1]], dtype=torch.float64)
    return drive, z0, A, W, mask


def test_switching_dynamics_need_several_iterations_and_stay_exact():
    drive, z0, A, W, mask = _rotating_model()
    result = parallel_alrnn_scan(drive, z0, A, W, mask, max_iter=400)
    expected = alrnn_scan(drive, z0, A, W, mask)
    codes = (expected[..., :2] > 0).reshape(400, -1)
    assert int((codes[1:] != codes[:-1]).any(dim=1).sum()) > 50  # the regions keep changing
    assert result.iterations >= 3 and result.converged
    torch.testing.assert_close(result.states, expected, rtol=0, atol=TOL)


def test_unconverged_window_falls_back_to_the_sequential_engine():
    drive, z0, A, W, mask = _rotating_model()
    result = parallel_alrnn_scan(drive, z0, A, W, mask, max_iter=2)
    assert not result.converged and 0 < result.sequential_steps <= 400
    assert result.iterations == 2
    torch.testing.assert_close(result.states, alrnn_scan(drive, z0, A, W, mask), rtol=0, atol=TOL)


def test_overflowing_map_products_do_not_leak_nan():
    # unit 0 expands (A = 30) but never moves from 0; 30^256 overflows in the scan's products
    A = torch.tensor([30.0, 0.5], dtype=torch.float64)
    W = torch.zeros(2, 2, dtype=torch.float64)
    drive = torch.zeros(2000, 1, 2, dtype=torch.float64)
    drive[..., 1] = -1.0
    z0 = torch.tensor([[0.0, -1.0]], dtype=torch.float64)
    result = parallel_alrnn_scan(drive, z0, A, W, 1, max_iter=50)
    assert result.converged and result.iterations > 1
    torch.testing.assert_close(
        result.states, alrnn_scan(drive, z0, A, W, torch.tensor([0.0, 1.0])), rtol=0, atol=TOL
    )


def test_small_memory_budget_cuts_time_into_windows():
    gen = torch.Generator().manual_seed(5)
    A, W, mask = _random_model(gen, (), 4, 2)
    drive, z0 = _drive(gen, 500, (), 3, 4), torch.zeros(3, 4, dtype=torch.float64)
    result = parallel_alrnn_scan(drive, z0, A, W, 2, memory_bytes=3 * 3 * 16 * 8 * 50)
    assert result.windows == 10
    torch.testing.assert_close(result.states, alrnn_scan(drive, z0, A, W, mask), rtol=0, atol=TOL)


def test_result_is_detached_and_empty_sequences_pass():
    A = torch.full((3,), 0.5, dtype=torch.float64, requires_grad=True)
    W = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    drive = torch.randn(10, 2, 3, dtype=torch.float64, requires_grad=True)
    out = parallel_alrnn_scan(drive, torch.zeros(2, 3, dtype=torch.float64), A, W, 1)
    assert not out.states.requires_grad
    empty = parallel_alrnn_scan(drive[:0], torch.zeros(2, 3, dtype=torch.float64), A, W, 1)
    assert empty.states.shape == (0, 2, 3)


BAD_CALLS = [
    ({"max_iter": 0}, ConfigError, r"max_iter=0; fix: an integer >= 1"),
    ({"pwl": 4}, ConfigError, r"n_pwl=4; fix: an integer in \[0, 3\]"),
    ({"W": torch.zeros(2, 2)}, DataValidationError, r"W \(2, 2\).*fix: A \(\.\.\., 3\)"),
    ({"drive": torch.zeros(5, 3)}, DataValidationError, r"expected \(time, \.\.\., batch, latent"),
]


@pytest.mark.parametrize(("change", "error", "match"), BAD_CALLS)
def test_bad_arguments_name_the_fix(change, error, match):
    args = {
        "drive": torch.zeros(5, 2, 3),
        "z0": torch.zeros(2, 3),
        "A": torch.zeros(3),
        "W": torch.zeros(3, 3),
        "pwl": 1,
        "max_iter": 4,
    }
    args.update(change)
    with pytest.raises(error, match=match):
        parallel_alrnn_scan(
            args["drive"], args["z0"], args["A"], args["W"], args["pwl"], max_iter=args["max_iter"]
        )


@pytest.mark.parametrize(("ens", "batch", "n_steps"), [((), 1, 300), ((3,), 2, 120)])
def test_engine_runs_linear_models_in_parallel_without_changing_the_states(
    monkeypatch, ens, batch, n_steps
):
    """Gradient-free runs of P = 0 models with small steps go through the linear scan (where
    the benchmark measured it faster); the states equal the loop's to 1e-10."""
    calls = []
    real = engine.linear_scan
    monkeypatch.setattr(engine, "linear_scan", lambda *a: calls.append(a[0].shape) or real(*a))
    gen = torch.Generator().manual_seed(6)
    A, W, mask = _random_model(gen, ens, 4, [0] * ens[0] if ens else 0)
    drive = _drive(gen, n_steps, ens, batch, 4)
    z0 = torch.randn(*ens, batch, 4, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        auto = alrnn_scan(drive, z0, A, W, mask)
        loop = alrnn_scan(drive, z0, A, W, mask, parallel=False)
    assert calls == [drive.shape]
    torch.testing.assert_close(auto, loop, rtol=0, atol=TOL)


def test_engine_keeps_its_loop_for_gradients_pwl_units_forcing_and_large_steps(monkeypatch):
    calls = []
    monkeypatch.setattr(engine, "linear_scan", lambda *a: calls.append(1))
    gen = torch.Generator().manual_seed(7)
    A, W, mask = _random_model(gen, (), 4, 0)
    drive, z0 = _drive(gen, 300, (), 1, 4), torch.zeros(1, 4, dtype=torch.float64)
    grad_a = A.clone().requires_grad_(True)
    alrnn_scan(drive, z0, grad_a, W, mask).sum().backward()  # a gradient is wanted
    assert grad_a.grad is not None
    with torch.no_grad():
        alrnn_scan(drive, z0, A, W, _random_model(gen, (), 4, 1)[2])  # a rectified unit
        alrnn_scan(drive, z0, A, W, mask, (drive, torch.zeros_like(drive)))  # forcing
        alrnn_scan(drive[:50], z0, A, W, mask)  # too short
        alrnn_scan(_drive(gen, 300, (), 1024, 4), z0, A, W, mask)  # steps too large
    assert calls == []


def test_engine_falls_back_to_its_loop_where_map_powers_overflow():
    A = torch.tensor([30.0, 0.5], dtype=torch.float64)  # unit 0 expands but stays at 0
    W = torch.zeros(2, 2, dtype=torch.float64)
    drive = torch.zeros(2000, 1, 2, dtype=torch.float64)
    drive[..., 1] = -1.0
    z0, mask = torch.tensor([[0.0, -1.0]], dtype=torch.float64), torch.zeros(2)
    with torch.no_grad():
        out = alrnn_scan(drive, z0, A, W, mask, parallel=True)
    assert bool(torch.isfinite(out).all())
    torch.testing.assert_close(
        out, alrnn_scan(drive, z0, A, W, mask, parallel=False), rtol=0, atol=TOL
    )
