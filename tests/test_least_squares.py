"""Least-squares latents per set of observed units (pseudo-populations)."""

from __future__ import annotations

import pytest
import torch

from alrnn_neuro.models.least_squares import apply_observed_pinv, apply_pinv, observed_pinv
from alrnn_neuro.models.observation import PoissonReadout, smooth_time


def _sets(n_trials: int, n_units: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    observed = torch.rand(n_trials, n_units, generator=gen) < 0.5
    observed[0] = True  # all units
    observed[1] = False
    observed[1, 2] = True  # a single unit: fewer rows than latents (minimum-norm solution)
    return observed


@pytest.mark.parametrize("shape", [(), (3,)])
def test_each_trial_is_solved_on_its_own_units(shape):
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(*shape, 7, 3, generator=gen, dtype=torch.float64)
    x = torch.randn(*shape, 12, 7, generator=gen, dtype=torch.float64)
    observed = _sets(12, 7, seed=2)
    z = apply_observed_pinv(weight, x, observed)
    assert z.shape == (*shape, 12, 3)
    for i in range(12):
        units = observed[i]
        expected = x[..., i, units].unsqueeze(-2) @ torch.linalg.pinv(weight[..., units, :]).mT
        torch.testing.assert_close(z[..., i, :], expected.squeeze(-2), rtol=1e-10, atol=1e-12)
    solve = observed_pinv(weight, observed)  # (..., trial, latent, unit)
    assert (solve * (~observed)[:, None, :]).abs().max() < 1e-12  # ~0 at unobserved units
    # the full set agrees with the QR path of apply_pinv
    torch.testing.assert_close(
        z[..., :1, :], apply_pinv(weight, x[..., :1, :]), rtol=1e-9, atol=1e-12
    )


def test_unobserved_entries_are_never_read():
    gen = torch.Generator().manual_seed(3)
    weight = torch.randn(5, 2, generator=gen, dtype=torch.float64)
    x = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    observed = _sets(6, 5, seed=4)
    poisoned = torch.where(observed, x, float("nan"))
    z = apply_observed_pinv(weight, poisoned, observed)
    assert z.isfinite().all()
    torch.testing.assert_close(z, apply_observed_pinv(weight, x, observed), rtol=0, atol=0)


def test_a_wrong_unit_set_gives_another_answer():
    """The solve depends on which units a trial saw, not only on how many."""
    gen = torch.Generator().manual_seed(5)
    weight = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    x = torch.randn(1, 4, generator=gen, dtype=torch.float64)
    first = apply_observed_pinv(weight, x, torch.tensor([[True, True, False, False]]))
    other = apply_observed_pinv(weight, x, torch.tensor([[False, False, True, True]]))
    assert not torch.allclose(first, other)


def test_readout_inversion_solves_every_bin_on_the_trials_units(float64):
    """``PoissonReadout.invert`` (every bin, e.g. teacher-forcing targets) per unit set."""
    readout = PoissonReadout(3, 6, seed=0)
    counts = torch.poisson(torch.full((5, 8, 6), 2.0, dtype=torch.float64))
    observed = _sets(5, 6, seed=7)
    z = readout.invert(counts, None, observed=observed)
    g = readout.inverse_link(smooth_time(counts, None, 1.0)) - readout.bias
    for i in range(5):
        units = observed[i]
        expected = g[i][:, units] @ torch.linalg.pinv(readout.weight[units]).mT
        torch.testing.assert_close(z[i], expected, rtol=1e-10, atol=1e-12)
