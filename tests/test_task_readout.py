"""Task readouts score the loss_mask steps only: values there, nothing from anywhere else."""

from __future__ import annotations

import pytest
import torch

from alrnn_neuro.models.task_readout import make_task_readout


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("ensemble", [(), (3,)])
def test_loss_is_the_mean_over_scored_steps_and_ignores_the_rest(loss, ensemble):
    g = torch.Generator().manual_seed(0)
    readout = make_task_readout(loss, 4, 3, seed=0, ensemble_shape=ensemble).double()
    latents = torch.randn(*ensemble, 5, 7, 4, generator=g, dtype=torch.float64)
    targets = torch.eye(3, dtype=torch.float64)[torch.randint(0, 3, (5, 7), generator=g)]
    mask = torch.zeros(5, 7, dtype=torch.bool)
    mask[:, -2:] = True
    mask[0, 1] = True
    poisoned = latents.clone()
    poisoned[..., ~mask, :] = float("nan")  # unscored steps may hold anything, even NaN
    poisoned.requires_grad_(True)
    value = readout.member_loss(poisoned, targets, mask)
    assert value.shape == ensemble and torch.isfinite(value).all()
    (grad,) = torch.autograd.grad(value.sum(), poisoned)
    assert (grad[..., ~mask, :] == 0).all() and (grad[..., mask, :] != 0).any()
    # by hand: the per-entry loss of each scored step, averaged over steps (and outputs)
    entries = readout.per_entry(latents, targets)[..., mask, :]
    expected = entries.sum(dim=(-2, -1)) / (int(mask.sum()) * entries.shape[-1])
    torch.testing.assert_close(value.detach(), expected)


def test_no_scored_step_gives_zero():
    readout = make_task_readout("mse", 2, 1, seed=0)
    mask = torch.zeros(2, 3, dtype=torch.bool)
    assert readout.member_loss(torch.ones(2, 3, 2), torch.ones(2, 3, 1), mask).item() == 0.0
