"""Science checks of the fitting engine on the stimulus-selection simulator.

* the training gradient (masked Poisson loss, sparse teacher forcing, unrecorded units, MAR)
  equals torch autograd of an independent per-step loop, in float64, to 1e-8;
* with P >= 1 piecewise-linear units the fit beats the linear model (P = 0) on held-out
  log-likelihood and is above the PSTH baseline (small settings here, several seeds in slow);
* fitted latents recover the simulator's true latents up to a linear map (slow).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GroupKFold

from alrnn_neuro.models.log_factorial import log_factorial_steps
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, FitModel, fit
from alrnn_neuro.training.forcing import forcing_targets, forcing_weights
from alrnn_neuro.training.resolve import resolve_config
from alrnn_neuro.training.session import prepare_session

GRAD_TOL = 1e-8  # float64 agreement of the training gradient with a plain per-step reference
RECOVERY_R2 = 0.8  # cross-validated R² of true latents from fitted latents (linear map)
FAST = dict(lr=0.01, epochs=80)  # settings of the P comparison (250 trials, 80 units)


@pytest.fixture(scope="module")
def sim():
    return simulate_stimulus_selection(n_trials=36, n_units=6, seed=3, lfp=False)


def _reference_loss(net, batch, alpha, targets, mar_units, tau):
    """Independent float64 loss: a per-step loop of the AL-RNN equations + Poisson NLL."""
    d, r = net.dynamics, net.readout
    m, p = d.latent_dim, d.pwl_units
    z = d.z0.expand(batch.n_trials, m)
    total, count = 0.0, 0
    for t in range(batch.data.shape[1]):
        phi = torch.cat([z[:, : m - p], torch.relu(z[:, m - p :])], dim=1)
        z = d.A * z + phi @ d.W.T + batch.inputs[:, t] @ d.C.T + d.h
        rate = torch.nn.functional.softplus(z @ r.weight.T + r.bias)
        y = batch.data[:, t]
        nll = rate - y * torch.log(rate) + torch.lgamma(y + 1)
        mask = batch.valid[:, t, None] & batch.observed
        total = total + nll[mask].sum()
        count += int(mask.sum())
        a = alpha[:, t]
        z = (1 - a) * z + a * targets[:, t]
    units = torch.tensor(mar_units)
    off = d.W[units].clone()
    off[torch.arange(len(mar_units)), units] = 0
    penalty = tau * (((d.A[units] - 1) ** 2).sum() + (off**2).sum() + (d.h[units] ** 2).sum())
    return total / count + penalty


def test_training_gradient_matches_plain_autograd_loop_in_float64(sim):
    config = resolve_config(
        FitConfig(latent_dim=5, pwl_units=2, init_state="learned", mar=0.1, mar_units=2), sim
    )
    session = prepare_session(sim, config)
    net = FitModel(config, session.n_units, 0, session.unit_mean).double()
    with torch.no_grad():  # leave the tiny initial values so the ReLUs switch
        net.dynamics.W.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
        net.dynamics.z0.normal_(0, 0.5, generator=torch.Generator().manual_seed(2))
    batch = session.tensors.take(np.arange(12)).to("cpu", torch.float64)
    observed = batch.observed.clone()
    observed[0, :2] = False  # an unrecorded unit must not enter the loss
    masked = batch.data * observed[:, None, :]  # log(y!) per step covers observed units only
    changed = {"observed": observed, "log_factorial": log_factorial_steps(masked)}
    batch = type(batch)(**{**batch.__dict__, **changed})
    weights = forcing_weights(batch.valid, 4, 0.7, torch.Generator().manual_seed(0),
                              torch.float64)  # fmt: skip
    terms = net.loss(batch, forcing=weights)
    ours = torch.autograd.grad(terms["objective"] + terms["penalty"], list(net.parameters()))
    targets = forcing_targets(net.readout, batch)
    ref = _reference_loss(net, batch, weights, targets, [0, 1], 0.1)
    theirs = torch.autograd.grad(ref, list(net.parameters()))
    total = (terms["objective"] + terms["penalty"]).detach()
    assert float(total) == pytest.approx(float(ref.detach()), abs=GRAD_TOL)
    for (name, _), a, b in zip(net.named_parameters(), ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=GRAD_TOL, rtol=0, msg=name)


def _compare_p(n_trials: int, n_units: int, seed: int, **settings) -> tuple[dict, dict]:
    ds = simulate_stimulus_selection(n_trials=n_trials, n_units=n_units, seed=seed, lfp=False)
    nonlinear = fit(ds, FitConfig(pwl_units=2, seed=seed, **settings)).metrics["test"]
    linear = fit(ds, FitConfig(pwl_units=0, seed=seed, **settings)).metrics["test"]
    return nonlinear, linear


def test_pwl_units_beat_the_linear_model_and_the_psth_on_held_out_trials():
    nonlinear, linear = _compare_p(250, 80, 0, **FAST)
    assert nonlinear["ll_model"] > linear["ll_model"]
    assert nonlinear["bits_per_spike"] > 0.02 and linear["bits_per_spike"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pwl_units_beat_the_linear_model_across_seeds(seed):
    nonlinear, linear = _compare_p(300, 40, seed, lr=0.01, epochs=120)
    assert nonlinear["ll_model"] > linear["ll_model"]
    assert nonlinear["bits_per_spike"] > 0.03


def recovery_r2(fitted: np.ndarray, true: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Cross-validated (5 folds over trials) R² of ``true`` (step, true_latent) predicted
    linearly from ``fitted`` (step, latent): per true latent, then pooled as the last entry."""
    predicted = np.zeros_like(true)
    for train, test in GroupKFold(5).split(fitted, true, trials):
        predicted[test] = LinearRegression().fit(fitted[train], true[train]).predict(fitted[test])
    ss_res = ((true - predicted) ** 2).sum(axis=0)
    ss_tot = ((true - true.mean(axis=0)) ** 2).sum(axis=0)
    return np.append(1 - ss_res / ss_tot, 1 - ss_res.sum() / ss_tot.sum())


@pytest.mark.slow
def test_fitted_latents_recover_the_true_latents():
    ds = simulate_stimulus_selection(n_trials=500, n_units=60, seed=0, lfp=False)
    result = fit(ds, FitConfig())  # the defaults: M = 6, P = 2, z0 from the first 20 bins
    valid = ds["valid"].values
    trials = np.broadcast_to(ds["trial"].values[:, None], valid.shape)[valid]
    r2 = recovery_r2(
        result.latents["latents"].values[valid], ds["true_latents"].values[valid], trials
    )
    print("recovery R² per true latent, pooled last:", np.round(r2, 3))
    assert r2[-1] >= RECOVERY_R2
