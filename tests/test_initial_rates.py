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
