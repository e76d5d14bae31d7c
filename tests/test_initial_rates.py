"""The smoothed initial bins are computed once per dataset and are what z0 is inferred from."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from alrnn_neuro.models.observation import smooth_time
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, FitModel
from alrnn_neuro.training.batching import dataset_tensors
from alrnn_neuro.training.network import mean_over_valid_steps
from alrnn_neuro.training.session import prepare_session


@pytest.fixture(scope="module")
def sim():
    return simulate_stimulus_selection(n_trials=30, n_units=6, seed=2, lfp=False)


@pytest.mark.parametrize("init_bins", [1, 5])
def test_each_batch_slice_equals_smoothing_that_batch(sim, init_bins):
    tensors, _ = dataset_tensors(sim, init_bins=init_bins)
    assert tensors.init_rate.dtype == torch.float64
    assert tensors.offset.any()  # ragged trials: left-justified, various offsets
    for rows in (np.arange(30), np.array([3, 17, 4]), np.array([29])):
        head = tensors.take(rows).initial_steps()
        expected = smooth_time(head.data.double(), head.valid, 1.0)
        torch.testing.assert_close(head.init_rate, expected, rtol=0, atol=1e-12)
        assert (head.init_rate[~head.valid] == 0).all()


def test_z0_from_the_precomputed_rates_is_the_readouts_inversion(sim, float64):
    """FitModel's fast path (smoothed rates averaged, one solve per trial) equals inverting
    every initial bin with the readout and averaging, and it reads ``init_rate``: other
    rates give another z0."""
    session = prepare_session(sim, FitConfig(latent_dim=5, pwl_units=2, init_bins=4))
    net = FitModel(session.config, session.n_units, 0, session.unit_mean)
    batch = session.tensors.take(np.arange(12))
    z0 = net.initial_state(batch)
    head = batch.initial_steps()
    z = net.readout.invert(head.data, head.valid, observed=head.observed)
    torch.testing.assert_close(z0, mean_over_valid_steps(z, head.valid, 5), rtol=1e-9, atol=1e-9)
    other = dataclasses.replace(batch, init_rate=batch.init_rate * 2.0)
    assert not torch.allclose(net.initial_state(other), z0, atol=1e-3)


def _pseudo_population(sim):
    """``sim`` with trials that saw different units: one, three or all six of them."""
    rng = np.random.default_rng(0)
    observed = np.ones((sim.sizes["trial"], sim.sizes["unit"]), bool)
    for i in range(sim.sizes["trial"]):
        n_seen = (1, 3, 6)[i % 3]
        observed[i] = False
        observed[i, rng.choice(sim.sizes["unit"], n_seen, replace=False)] = True
    return sim.assign(observed=(("trial", "unit"), observed))


@pytest.mark.parametrize("members", [0, 3])
def test_z0_per_observed_unit_set_is_the_readouts_inversion(sim, float64, members):
    """With other units in other trials (pseudo-populations), z0 still equals inverting every
    initial bin on the trial's own units and averaging (values and readout gradients), for
    a single fit and a stack; the unobserved units' data are never read."""
    ds = _pseudo_population(sim)
    session = prepare_session(ds, FitConfig(latent_dim=4, pwl_units=2, init_bins=4))
    nets = [
        FitModel(session.config.replace(seed=s), session.n_units, 0, session.unit_mean)
        for s in range(max(members, 1))
    ]
    net = FitModel.stack(nets) if members else nets[0]
    with torch.no_grad():  # away from the initialisation's bias = f(mean rate)
        net.readout.bias.add_(0.5 * torch.randn(net.readout.bias.shape, dtype=torch.float64))
    batch = session.tensors.take(np.arange(15))
    assert len(torch.unique(batch.observed, dim=0)) > 3 and not batch.observed.all()
    head = batch.initial_steps()

    def by_bin():
        z = net.readout.invert(head.data, head.valid, observed=head.observed)
        return mean_over_valid_steps(z, head.valid, 4)

    z0, expected = net.initial_state(batch), by_bin()
    assert z0.shape == ((members,) if members else ()) + (15, 4)
    torch.testing.assert_close(z0, expected, rtol=1e-9, atol=1e-9)
    params = [net.readout.weight, net.readout.bias]
    fast = torch.autograd.grad(z0.sin().sum(), params)
    slow = torch.autograd.grad(expected.sin().sum(), params)
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)
    unseen = dataclasses.replace(batch, init_rate=torch.where(
        batch.observed[:, None, :], batch.init_rate, float("nan")))  # fmt: skip
    torch.testing.assert_close(net.initial_state(unseen), z0, rtol=0, atol=0)
