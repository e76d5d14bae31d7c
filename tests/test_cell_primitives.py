"""The screening count of primitives (sweep cells, the task primitives claim) applies the gating
detector's readout condition with each model's own readout."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis.primitives.common import observation_weights
from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.simulate.tasks import make_task
from alrnn_neuro.sweep import cell_primitives
from alrnn_neuro.sweep.cell_primitives import count_primitives, primitives_in
from alrnn_neuro.training import FitConfig, fit
from alrnn_neuro.training.ensemble import fit_ensemble
from alrnn_neuro.training.network import FitModel
from tests.test_primitives import gating_net, run


def _gated_trials():
    """The hand-built gate of test_primitives (evidence reaches the integrator z1 only once
    the gate opens), as latents and a dataset for ``primitives_in``."""
    params, S = gating_net(evidence_from=0)
    bitcode, inputs, epoch = run(*params, S, ["evidence", "gate"])
    valid = xr.DataArray(np.ones(bitcode.shape, bool), dims=("trial", "time"))
    latents = xr.Dataset({"bitcode": bitcode, "valid": valid, "epoch": epoch})
    return ALRNNParams(*params), latents, xr.Dataset({"inputs": inputs})


def test_gating_counts_only_where_the_readout_sees_the_gate():
    model, latents, ds = _gated_trials()
    inputs = ["evidence", "gate"]
    without = primitives_in(model, latents, ds, inputs)
    sees = primitives_in(model, latents, ds, inputs, observation=np.array([[1.0, 0.0]]))
    blind = primitives_in(model, latents, ds, inputs, observation=np.array([[0.0, 1.0]]))
    # the evidence -> z1 gate is the one gating primitive; a readout of z2 alone never sees it
    assert without == sees
    assert blind == sees - 1


def test_identity_readout_reads_the_first_latents():
    config = FitConfig(obs="identity", latent_dim=5, inputs=("a",))
    weights = observation_weights(FitModel(config, n_units=3))
    np.testing.assert_array_equal(weights, np.eye(3, 5))


def test_stacked_ensembles_have_no_single_readout():
    config = FitConfig(obs="poisson", latent_dim=4, inputs=("a",))
    stack = FitModel.stack([FitModel(config.replace(seed=s), n_units=3) for s in (0, 1)])
    assert observation_weights(stack) is None


@pytest.mark.parametrize("ensemble", [False, True])
def test_sweep_cells_count_gating_with_their_own_readout(ensemble, monkeypatch):
    """A cell's count passes the fitted member's own readout weights, also from an ensemble."""
    ds = simulate_stimulus_selection(n_trials=24, n_units=5, seed=0, lfp=False)
    config = FitConfig(latent_dim=4, pwl_units=2, epochs=1, seed=0)
    if ensemble:
        result = fit_ensemble(ds, config, pwl_units=[1, 2], seeds=[0, 0])[1]
    else:
        result = fit(ds, config)
    seen, detect_gating = [], cell_primitives.detect_gating

    def spy(*args, readout=None, **kwargs):
        seen.append(readout)
        return detect_gating(*args, readout=readout, **kwargs)

    monkeypatch.setattr(cell_primitives, "detect_gating", spy)
    count_primitives(result, ds)
    assert len(seen) == 1 and seen[0] is not None
    np.testing.assert_allclose(seen[0], result.model.readout.weight.detach().double().numpy())


def test_task_heads_are_the_readout_of_task_networks():
    ds = make_task("contextual_integration", n_trials=20, seed=3)
    result = fit(ds, FitConfig(latent_dim=4, pwl_units=1, epochs=1, seed=0))
    weights = observation_weights(result.model)
    head = result.model.readout.weight.detach().double().numpy()
    assert weights.shape == (ds.sizes["output"], 4)
    np.testing.assert_array_equal(weights, head)
