"""FitResult for notebooks: params, encode(new trials), score(held-out trials), both baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, fit, initial_fit, initial_model, load_run
from alrnn_neuro.training import metrics as mt
from alrnn_neuro.training import split_scorer as ss
from alrnn_neuro.training.evaluate import encode_trials


@pytest.fixture(scope="module")
def sim():
    return simulate_stimulus_selection(n_trials=60, n_units=8, seed=4, lfp=False)


@pytest.fixture(scope="module")
def result(sim):
    return fit(sim, FitConfig(latent_dim=4, pwl_units=2, epochs=4, init_bins=5))


def test_score_of_the_test_trials_equals_metrics_json(sim, result, tmp_path):
    test = sim.sel(trial=result.split["test"])
    scored = result.score(test)
    expected = result.metrics["test"]
    for key in ("bits_per_spike", "bits_per_spike_unit_psth", "ll_model", "n_spikes", "loss"):
        assert scored[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key
    # from disk too: the run records where its dataset is
    path = tmp_path / "data.h5"
    from alrnn_neuro.data.h5 import save_dataset

    save_dataset(sim, path)
    fit(sim, result.config, out=tmp_path / "run", dataset_path=path)
    loaded = load_run(tmp_path / "run")
    assert loaded.dataset is None
    assert loaded.score(test)["bits_per_spike"] == pytest.approx(
        loaded.metrics["test"]["bits_per_spike"], rel=1e-9
    )


def test_score_of_other_trials_differs_and_needs_the_dataset(sim, result):
    val = sim.sel(trial=result.split["val"])
    assert result.score(val)["bits_per_spike"] == pytest.approx(
        result.metrics["val"]["bits_per_spike"], rel=1e-9
    )
    assert result.score(val)["bits_per_spike"] != result.metrics["test"]["bits_per_spike"]


def test_encode_reproduces_the_fitted_latents(sim, result):
    trials = result.split["test"][:5]
    enc = result.encode(sim.sel(trial=trials))
    ref = result.latents.sel(trial=trials)
    np.testing.assert_allclose(enc["latents"].values, ref["latents"].values, atol=1e-5)
    np.testing.assert_array_equal(enc["bitcode"].values, ref["bitcode"].values)
    assert enc.attrs["bit_order"].startswith("bitcode = ")


def test_params_is_the_models_record(result):
    p = result.params
    assert isinstance(p, ALRNNParams) and p.n_pwl == 2 and p.latent_dim == 4
    assert p.input_names == tuple(result.config.inputs)
    np.testing.assert_array_equal(p.W, result.model.dynamics.W.detach().double().numpy())


def test_metrics_report_both_baselines(result):
    test = result.metrics["test"]
    assert np.isfinite(test["bits_per_spike"]) and np.isfinite(test["bits_per_spike_unit_psth"])
    scale = test["n_spikes"] * np.log(2)
    assert test["bits_per_spike"] == pytest.approx((test["ll_model"] - test["ll_psth"]) / scale)
    unit = (test["ll_model"] - test["ll_unit_psth"]) / scale
    assert test["bits_per_spike_unit_psth"] == pytest.approx(unit)
    assert test["ll_psth"] != test["ll_unit_psth"]  # two different baselines


def test_chunked_scoring_equals_a_direct_computation(monkeypatch):
    rng = np.random.default_rng(0)
    counts = rng.poisson(1.0, (30, 7, 4))
    pred = rng.uniform(0.3, 2.0, counts.shape)
    mask = rng.random(counts.shape) > 0.1
    keys = np.array([f"c{k}" for k in rng.integers(0, 3, 30)], dtype=object)
    train, test = np.arange(20), np.arange(20, 30)
    baseline = mt.PSTHBaseline.fit(counts, mask, keys, train)
    args = dict(obs="poisson", counts=counts, prediction=pred, mask=mask, keys=keys,
                members=test, baseline=baseline, loss=0.0)  # fmt: skip
    monkeypatch.setattr(mt, "CHUNK", 3)
    small = ss.split_metrics(**args)
    monkeypatch.setattr(mt, "CHUNK", 1000)
    whole = ss.split_metrics(**args)
    base = baseline.condition_rates(keys[test])
    direct = mt.bits_per_spike(counts[test], pred[test], base, mask[test])
    assert small["bits_per_spike"] == pytest.approx(direct, rel=1e-12)
    assert whole["bits_per_spike"] == pytest.approx(direct, rel=1e-12)
    codes = np.unique(keys[test], return_inverse=True)[1].ravel()
    r2 = mt.condition_r2(pred[test], counts[test].astype(float), mask[test], codes)
    assert small["r2_condition"] == pytest.approx(r2, rel=1e-12)


def test_scorer_reads_left_justified_predictions_like_the_restored_ones(monkeypatch):
    """With ``steps`` the scorer takes predictions as the model gives them (each trial from
    its own first step) and scores the same entries as on the dataset's time axis."""
    from alrnn_neuro.training.batching import shift_in_time

    rng = np.random.default_rng(2)
    n_trials, n_time, n_units, n_steps = 25, 12, 3, 9
    offset = rng.integers(0, n_time - n_steps + 1, n_trials)
    counts = rng.poisson(1.0, (n_trials, n_time, n_units))
    inside = shift_in_time(np.ones((n_trials, n_steps), bool), offset, n_time, False)
    mask = inside[:, :, None] & (rng.random(counts.shape) > 0.2)
    left = rng.uniform(0.3, 2.0, (n_trials, n_steps, n_units))
    restored = shift_in_time(left, offset, n_time, np.nan)  # NaN where nothing is scored
    keys = np.array([f"c{k}" for k in rng.integers(0, 3, n_trials)], dtype=object)
    members = rng.permutation(n_trials)[:17]
    baseline = mt.PSTHBaseline.fit(counts, mask, keys, members)
    args = dict(obs="poisson", counts=counts, mask=mask, keys=keys, members=members,
                baseline=baseline)  # fmt: skip
    monkeypatch.setattr(mt, "CHUNK", 4)
    on_time_axis = ss.SplitScorer(**args).score(restored, 0.0)
    from_steps = ss.SplitScorer(**args, steps=(offset, n_steps)).score(left, 0.0)
    assert np.isfinite(on_time_axis["ll_model"]) and np.isfinite(on_time_axis["r2_condition"])
    assert from_steps == pytest.approx(on_time_axis, rel=1e-12)
    with pytest.raises(ValueError, match="outside the predictions' 5 steps"):
        ss.SplitScorer(**args, steps=(offset, 5))


def test_psth_log_likelihoods_from_condition_sums_equal_the_per_entry_sums():
    """The PSTH baselines' LLs come from condition sums of the data: same as entry by entry,
    also for a condition only the scored trials have (it falls back to the unit PSTH)."""
    rng = np.random.default_rng(1)
    counts = rng.poisson(1.5, (40, 9, 5))
    mask = rng.random(counts.shape) > 0.2
    keys = np.array([f"c{k}" for k in rng.integers(0, 4, 40)], dtype=object)
    keys[-3:] = "unseen"
    train, test = np.arange(25), np.arange(25, 40)
    baseline = mt.PSTHBaseline.fit(counts, mask, keys, train)
    out = ss.split_metrics(obs="poisson", counts=counts, prediction=counts + 0.5, mask=mask,
                           keys=keys, members=test, baseline=baseline, loss=0.0)  # fmt: skip
    y, m = counts[test], mask[test]
    psth = baseline.condition_rates(keys[test])
    unit = np.broadcast_to(baseline.unit_rates, y.shape)
    assert out["ll_psth"] == pytest.approx(mt.poisson_log_likelihood(y, psth, m), rel=1e-12)
    assert out["ll_unit_psth"] == pytest.approx(mt.poisson_log_likelihood(y, unit, m), rel=1e-12)


def test_initial_model_is_the_network_initial_fit_scores(sim):
    config = FitConfig(latent_dim=4, pwl_units=2, init_bins=5, seed=3)
    untrained = initial_fit(sim, config)
    model = initial_model(sim, config)
    assert not model.training and untrained.metrics["epochs_run"] == 0
    for key, value in untrained.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    trials = sim.sel(trial=untrained.split["test"][:5])
    enc, ref = encode_trials(model, trials), untrained.encode(trials)
    np.testing.assert_array_equal(enc["latents"].values, ref["latents"].values)
    other = initial_model(sim, config.replace(seed=4)).state_dict()["dynamics.W"]
    assert not torch.equal(other, model.state_dict()["dynamics.W"])  # the seed draws the network
