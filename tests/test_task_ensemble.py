"""Ensembles on task datasets: every member equals its single fit (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alrnn_neuro.models.task_readout import CrossEntropyTaskReadout, MSETaskReadout
from alrnn_neuro.simulate.tasks import make_task
from alrnn_neuro.training import FitConfig, fit
from alrnn_neuro.training.ensemble import fit_ensemble
from tests.conftest import max_param_diff

#: float64 parameters of an ensemble member vs its single fit (rounding only)
PARAM_TOL = 1e-10
SMALL = dict(latent_dim=4, epochs=3, batch_size=8, patience=0)


@pytest.mark.parametrize(
    "name, params",
    [
        ("addition", dict(length=8)),  # mse
        ("variable_delay_copy", dict(seq_len=2, delay=(1, 4), n_symbols=3)),  # ragged, CE
        ("contextual_integration", dict(stimulus_steps=(3, 6))),  # CE, two outputs
    ],
)
def test_task_ensemble_equals_single_fits(name, params, float64):
    ds = make_task(name, n_trials=32, seed=4, **params)
    cfg = FitConfig(**SMALL, mar=0.05, seed=2)
    results = fit_ensemble(ds, cfg, pwl_units=[0, 1, 3], seeds=[2, 2, 2])
    for p, result in zip([0, 1, 3], results, strict=True):
        single = fit(ds, cfg.replace(pwl_units=p))
        assert result.config.obs == ds.attrs["task_loss"] == single.config.obs
        assert max_param_diff(result.model, single.model) < PARAM_TOL
        np.testing.assert_allclose(
            result.history["val_loss"].values, single.history["val_loss"].values, rtol=1e-12
        )
        for split in ("train", "val", "test"):
            for key in ("loss", "accuracy"):
                got, want = result.metrics[split][key], single.metrics[split][key]
                assert got == pytest.approx(want, rel=1e-9, nan_ok=True)
        np.testing.assert_allclose(
            result.latents["prediction"].values, single.latents["prediction"].values, atol=1e-9
        )


@pytest.mark.parametrize("kind", [MSETaskReadout, CrossEntropyTaskReadout])
def test_member_loss_of_a_stacked_readout_equals_each_members_loss(kind, float64):
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(3, 5, 7, 4, generator=gen)  # (member, trial, time, latent)
    targets = torch.eye(2)[torch.randint(2, (5, 7), generator=gen)]
    mask = torch.rand(5, 7, generator=gen) > 0.4
    stacked = kind(4, 2, seed=0, ensemble_shape=(3,))
    per_member = stacked.member_loss(z, targets, mask).detach()
    for k in range(3):
        single = kind(4, 2, seed=0)
        single.load_state_dict({n: v[k] for n, v in stacked.state_dict().items()})
        want = single.loss(z[k], targets, mask).detach()
        assert float(per_member[k]) == pytest.approx(float(want), rel=1e-12)
    total = stacked.loss(z, targets, mask).detach()
    assert float(total) == pytest.approx(float(per_member.sum()), rel=1e-12)
