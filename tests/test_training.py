"""Training engine: config, batching, schedules, MAR, exact gradients, determinism, resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, FitModel, TrainingDivergedError, fit, simulate_model
from alrnn_neuro.training.batching import dataset_tensors, iterate_batches, shift_in_time
from alrnn_neuro.training.checkpoint import TrainState
from alrnn_neuro.training.forcing import alpha_at, forcing_weights
from alrnn_neuro.training.loop import learning_rate, make_optimizer, train
from alrnn_neuro.training.regularizers import mar_penalty
from alrnn_neuro.training.resolve import resolve_config
from alrnn_neuro.training.session import prepare_session

SMALL = dict(latent_dim=4, pwl_units=1, epochs=4, batch_size=8, init_bins=5, patience=0)


@pytest.fixture(scope="module")
def sim():
    return simulate_stimulus_selection(n_trials=36, n_units=6, seed=3, lfp=False)


# ----------------------------------------------------------------------------- config
def test_config_defaults_round_trip_through_dict():
    config = FitConfig()
    assert FitConfig.from_dict(config.to_dict()) == config
    assert config.latent_dim == 6 and config.pwl_units == 2


def test_config_rejects_more_pwl_units_than_latents():
    with pytest.raises(ConfigError, match=r"pwl_units=7 .*latent_dim \(6\)"):
        FitConfig(latent_dim=6, pwl_units=7)


def test_config_rejects_zero_latents():
    with pytest.raises(ConfigError, match="latent_dim=0"):
        FitConfig(latent_dim=0, pwl_units=0)


def test_config_unknown_key_suggests_the_right_one():
    with pytest.raises(ConfigError, match="unknown config key 'latnt_dim'.*'latent_dim'"):
        FitConfig.from_dict({"latnt_dim": 3})


def test_config_rejects_wrong_type():
    with pytest.raises(ConfigError, match="epochs=1.5 .*int"):
        FitConfig.from_dict({"epochs": 1.5})


def test_config_rejects_unknown_device():
    with pytest.raises(ConfigError, match="device='tpu'.*cpu, cuda"):
        FitConfig(device="tpu")


def test_config_from_toml_accepts_flag_spelling_and_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('latent-dim = 8\npwl_units = 3\nsplit = [0.6, 0.2, 0.2]\nobs = "poisson"\n')
    config = FitConfig.from_toml(path, pwl_units=4, lr=None)
    assert (config.latent_dim, config.pwl_units, config.split) == (8, 4, (0.6, 0.2, 0.2))


def test_config_from_toml_reports_syntax_errors(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("latent_dim = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        FitConfig.from_toml(path)


# ----------------------------------------------------------------------------- resolve
def test_resolve_picks_poisson_for_spikes_and_lists_inputs(sim):
    config = resolve_config(FitConfig(), sim)
    assert config.obs == "poisson"
    assert config.inputs == tuple(str(v) for v in sim["input"].values)


def test_resolve_refuses_poisson_on_continuous_data(sim):
    signal = sim.rename(spikes="signal")
    signal["signal"] = signal["signal"].astype(float) + 0.5
    with pytest.raises(ConfigError, match="obs='poisson' needs spike counts"):
        resolve_config(FitConfig(obs="poisson"), signal)


def test_resolve_refuses_empty_inputs():
    spikes = np.ones((3, 30, 2), dtype=np.int32)
    ds = make_dataset(spikes, bin_size=0.05, align_event="go")
    with pytest.raises(DataValidationError, match="inputs = \\[\\]"):
        resolve_config(FitConfig(), ds)


def test_resolve_refuses_identity_readout_with_too_few_latents(sim):
    with pytest.raises(ConfigError, match="obs='identity'.*latent_dim=4"):
        resolve_config(FitConfig(obs="identity", latent_dim=4, pwl_units=1), sim)


@pytest.mark.skipif(torch.cuda.is_available(), reason="machine has CUDA")
def test_resolve_refuses_cuda_without_cuda(sim):
    with pytest.raises(ConfigError, match="device='cuda'.*--device cpu"):
        resolve_config(FitConfig(device="cuda"), sim)


def test_resolve_refuses_unknown_behaviour_label(sim):
    with pytest.raises(ConfigError, match="behaviour_label='decision'"):
        resolve_config(FitConfig(behaviour=True, behaviour_label="decision"), sim)


# ----------------------------------------------------------------------------- batching
def test_tensors_are_left_justified_and_restored(sim):
    tensors, _ = dataset_tensors(sim)
    valid = sim["valid"].values
    first = valid.argmax(axis=1)
    np.testing.assert_array_equal(tensors.offset, first)
    i = int(np.argmax(first))  # a trial that starts late
    n = valid[i].sum()
    np.testing.assert_array_equal(
        tensors.data[i, :n].numpy(), sim["spikes"].values[i, first[i] : first[i] + n]
    )
    restored = tensors.restore_time(tensors.data.numpy(), valid.shape[1], 0.0)
    np.testing.assert_array_equal(restored, np.where(valid[..., None], sim["spikes"].values, 0))


def test_log_factorial_is_computed_once_and_gives_the_training_loss(sim):
    """TrialTensors carry log(y!) per step (kept in float64, cut with the batch); a fit's loss
    with it equals the readout's own loss that sums log(y!) of the batch on every call."""
    cfg = FitConfig(latent_dim=4, pwl_units=2, epochs=1, seed=0)
    session = prepare_session(sim, cfg)
    batch = session.tensors.take(session.positions["train"][:6]).to("cpu", torch.float32)
    assert batch.log_factorial.dtype == torch.float64
    assert batch.log_factorial.shape == batch.valid.shape
    expected = torch.lgamma(batch.data.double() + 1).sum(-1)
    assert torch.allclose(batch.log_factorial, expected)
    model = FitModel(session.config, session.n_units, 0, session.unit_mean)
    with torch.no_grad():
        obs = model.member_losses(batch)["obs"]
        z = model.latents(batch)
        own = model.readout.member_loss(z, batch.data, batch.loss_mask, observed=batch.observed)
    assert torch.allclose(obs, own.reshape(obs.shape), rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "offsets", [[0, 0, 0], [0, 3, 7], [2, 9, 12], [5, 5, 5], [4, 0, 4, 11, 0, 2, 4, 11]]
)
def test_shift_in_time_places_each_trial_at_its_offset(offsets):
    """Each trial's step s lands at time offset + s, steps past the time axis are dropped
    (a trial may start after it ends), the rest holds the fill, extra dims ride along: the
    per-trial definition, entry by entry (also for trials sharing offsets, in any order)."""
    rng = np.random.default_rng(sum(offsets))
    values = rng.normal(size=(len(offsets), 6, 2, 4)).astype(np.float32)
    n_time = 10
    expected = np.full((len(offsets), n_time, 2, 4), -7.0)
    for i, start in enumerate(offsets):
        for step in range(values.shape[1]):
            if start + step < n_time:
                expected[i, start + step] = values[i, step]
    out = shift_in_time(values, np.array(offsets), n_time, -7.0, np.float64)
    assert out.dtype == np.float64 and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
    same_dtype = shift_in_time(values, np.array(offsets), n_time, -7.0)
    assert same_dtype.dtype == np.float32


def test_batches_cover_each_trial_once_and_resume_from_rng_state():
    rng = np.random.default_rng(5)
    first = list(iterate_batches(10, 3, rng))
    state = rng.bit_generator.state
    second = list(iterate_batches(10, 3, rng))
    rng.bit_generator.state = state
    again = list(iterate_batches(10, 3, rng))
    assert sorted(np.concatenate(first).tolist()) == list(range(10))
    assert all(np.array_equal(a, b) for a, b in zip(second, again, strict=True))


# ----------------------------------------------------------------------------- schedules, MAR
def test_learning_rate_schedules_end_at_the_final_fraction():
    config = FitConfig(lr=0.1, lr_final=0.01, epochs=11)
    assert learning_rate(0, config) == pytest.approx(0.1)
    assert learning_rate(10, config) == pytest.approx(0.001)
    assert learning_rate(5, config) == pytest.approx(0.1 * 0.01**0.5)
    cosine = config.replace(lr_schedule="cosine")
    assert learning_rate(5, cosine) == pytest.approx(0.001 + 0.099 * 0.5)


def test_forcing_strength_anneals_linearly_to_zero():
    values = [alpha_at(e, alpha=1.0, anneal=0.5, epochs=10) for e in range(10)]
    assert values[:6] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.0])
    weights = forcing_weights(torch.ones(2, 9, dtype=torch.bool), 3, 0.5, torch.Generator(),
                              torch.float64)  # fmt: skip
    assert weights.shape == (2, 9, 1) and int((weights > 0).sum()) == 6


def test_mar_penalty_matches_the_formula():
    rng = np.random.default_rng(0)
    A, W, h = rng.normal(size=4), rng.normal(size=(4, 4)), rng.normal(size=4)
    units, tau = [0, 2], 0.3
    expected = tau * sum(
        (A[i] - 1) ** 2 + sum(W[i, j] ** 2 for j in range(4) if j != i) + h[i] ** 2 for i in units
    )
    got = mar_penalty(*(torch.tensor(x) for x in (A, W, h)), units, tau)
    assert float(got) == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------- fitting
def test_same_seed_gives_identical_fits(sim):
    a = fit(sim, FitConfig(**SMALL, seed=4))
    b = fit(sim, FitConfig(**SMALL, seed=4))
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    assert a.metrics == b.metrics
    c = fit(sim, FitConfig(**SMALL, seed=5))
    assert not torch.equal(a.model.dynamics.W, c.model.dynamics.W)


def test_interrupted_and_resumed_fit_equals_a_straight_fit(sim, tmp_path):
    config = FitConfig(**{**SMALL, "epochs": 6}, tf_interval=3, tf_alpha=0.5)
    straight = fit(sim, config)

    def stop_after_three(info):
        if info["epoch"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(sim, config, out=tmp_path / "run", callback=stop_after_three)
    resumed = fit(sim, config, out=tmp_path / "run", resume=True)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    for name in ("train_loss", "val_loss", "lr", "tf_alpha"):
        np.testing.assert_array_equal(straight.history[name], resumed.history[name])


def test_checkpoint_once_at_the_end_is_the_last_epochs_checkpoint(sim, tmp_path, monkeypatch):
    import alrnn_neuro.training.api as api
    from alrnn_neuro.errors import ConfigError

    config = FitConfig(**{**SMALL, "epochs": 4})
    saved = []
    real = api.save_checkpoint
    monkeypatch.setattr(api, "save_checkpoint", lambda path, state, *a: saved.append(
        state.epoch) or real(path, state, *a))  # fmt: skip
    every = fit(sim, config, out=tmp_path / "every")
    assert saved == [1, 2, 3, 4]
    saved.clear()
    once = fit(sim, config, out=tmp_path / "once", checkpoints="end")
    assert saved == [4]
    for key, value in every.model.state_dict().items():
        assert torch.equal(value, once.model.state_dict()[key]), key
    # the one checkpoint is the last per-epoch one: more epochs continue from it identically
    longer = config.replace(epochs=6)
    from_every = fit(sim, longer, out=tmp_path / "every", resume=True)
    from_once = fit(sim, longer, out=tmp_path / "once", resume=True)
    for key, value in from_every.model.state_dict().items():
        assert torch.equal(value, from_once.model.state_dict()[key]), key

    def stop_after_two(info):
        if info["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # interrupted before its end: nothing is left
        fit(sim, config, out=tmp_path / "cut", checkpoints="end", callback=stop_after_two)
    assert not (tmp_path / "cut").exists()
    with pytest.raises(ConfigError, match=r"checkpoints='never'.*fix: 'epoch'"):
        fit(sim, config, checkpoints="never")


def test_nan_loss_stops_with_advice_and_restores_last_good_epoch(sim):
    session = prepare_session(sim, FitConfig(**SMALL))
    config = session.config
    net = FitModel(config, session.n_units, 0, session.unit_mean)
    optimizer = make_optimizer(net, config)
    state = TrainState.start(0)
    train(net, optimizer, session.tensors, session.positions, config.replace(epochs=1), state)
    good = {k: v.clone() for k, v in net.state_dict().items()}
    real_loss = net.member_losses

    def poisoned(batch, forcing=None):
        terms = real_loss(batch, forcing)
        return {**terms, "objective": terms["objective"] * float("nan")}

    net.member_losses = poisoned
    state.stop_reason = ""  # carry on past the first run's max_epochs
    with pytest.raises(TrainingDivergedError, match=r"diverged in epoch 2.*--lr 0\.0005"):
        train(net, optimizer, session.tensors, session.positions, config, state)
    for key, value in good.items():
        assert torch.equal(net.state_dict()[key], value), key


def test_divergence_advice_never_suggests_a_rate_above_the_default():
    from alrnn_neuro.training.loop import _diverged

    assert "--lr 0.005 " in _diverged(0, float("nan"), 1000.0, FitConfig(lr=1000.0))
    assert "--lr 0.0001 " in _diverged(3, float("inf"), 0.001, FitConfig(lr=0.001))


def test_baseline_and_behaviour_head_fit(sim):
    result = fit(sim, FitConfig(**{**SMALL, "model": "gru", "behaviour": True, "epochs": 2}))
    assert "bitcode" not in result.latents
    assert math.isfinite(result.metrics["val"]["bits_per_spike"])
    # choice accuracy recomputed independently: the class with the highest mean probability
    # over each test trial's readout steps, against the trial's label
    from alrnn_neuro.training.session import prepare_session

    session = prepare_session(sim, result.config, split=result.split)
    batch = session.tensors.take(session.positions["test"])
    prob = result.model.predict(batch)["choice_prob"].numpy()
    steps = batch.readout.numpy()[..., None]
    picked = ((prob * steps).sum(1) / np.maximum(steps.sum(1), 1)).argmax(1)
    labels = batch.labels.numpy()
    expected = float(np.mean(picked[labels >= 0] == labels[labels >= 0]))
    assert result.metrics["test"]["choice_accuracy"] == pytest.approx(expected)


def test_mar_refused_for_baselines():
    with pytest.raises(ConfigError, match="mar=0.1"):
        FitConfig(model="lstm", mar=0.1)


def test_simulate_model_returns_latents_predictions_and_samples(sim):
    result = fit(sim, FitConfig(**{**SMALL, "epochs": 1, "init_state": "learned"}))
    inputs = sim["inputs"].values[:3]
    out = simulate_model(result, inputs, sample=True, seed=1)
    assert out["latents"].shape == (3, inputs.shape[1], 4)
    assert out["sample"].dtype.kind == "i"
    # P = 1: the bitcode is the sign of the last latent, on every step
    np.testing.assert_array_equal(out["bitcode"].values, out["latents"].values[..., -1] > 0)
    z0 = np.zeros(4)
    again = simulate_model(result.model, inputs, z0=z0)
    assert again["prediction"].shape == (3, inputs.shape[1], sim.sizes["unit"])
    with pytest.raises(DataValidationError, match="expected \\(trial, time, 8\\)"):
        simulate_model(result, inputs[..., :2])


# ----------------------------------------------------------------------------- metrics
def test_bits_per_spike_matches_scipy_poisson():
    from scipy.stats import poisson

    from alrnn_neuro.training.metrics import bits_per_spike

    rng = np.random.default_rng(1)
    counts = rng.poisson(1.5, (4, 6, 3)).astype(float)
    model, baseline = rng.uniform(0.5, 3, counts.shape), rng.uniform(0.5, 3, counts.shape)
    mask = rng.random(counts.shape) > 0.2
    gain = poisson.logpmf(counts, model)[mask].sum() - poisson.logpmf(counts, baseline)[mask].sum()
    expected = gain / (counts[mask].sum() * np.log(2))
    assert bits_per_spike(counts, model, baseline, mask) == pytest.approx(expected, rel=1e-12)


def test_psth_baseline_is_shrunk_toward_the_units_own_time_course():
    from alrnn_neuro.training.metrics import condition_r2, psth_rates

    counts = np.arange(24, dtype=float).reshape(4, 3, 2)
    mask = np.ones(counts.shape, bool)
    codes, train = np.array([0, 0, 1, 1]), np.array([True, False, True, True])
    rates = psth_rates(counts, mask, codes, train)
    # independent reference: the unit's time course over the 3 training trials, itself
    # shrunk toward the unit's flat mean with one pseudo-trial
    flat = (counts[train].sum(axis=(0, 1)) + 1) / (3 * 3 + 1)
    course = (counts[train].sum(axis=0) + flat) / (3 + 1)
    np.testing.assert_allclose(rates[1], (counts[0] + course) / 2)  # condition 0: trial 0
    np.testing.assert_allclose(rates[3], (counts[2] + counts[3] + course) / 3)
    # a condition without training trials falls back to the unit's time course
    unseen = psth_rates(counts, mask, np.array([0, 5, 1, 1]), np.array([True, False, True, True]))
    np.testing.assert_allclose(unseen[1], course)
    assert condition_r2(counts, counts, mask, codes) == pytest.approx(1.0)


def test_init_epochs_keep_the_hold_epochs_spikes_out_of_z0(sim):
    from alrnn_neuro.training.batching import dataset_tensors

    # 25 bins reach past every trial's inter-trial interval (10-20 bins) into the hold
    cfg = FitConfig(**{**SMALL, "epochs": 1, "init_bins": 25}, init_epochs=("iti",))
    result = fit(sim, cfg)
    iti = sim["epoch"].values == "iti"
    # z0 depends only on iti bins: changing every spike outside them leaves it unchanged
    edited = sim.copy(deep=True)
    edited["spikes"].values[~iti] = 0
    tensors, _ = dataset_tensors(sim, init_bins=cfg.init_bins, init_epochs=("iti",))
    tensors_edit, _ = dataset_tensors(edited, init_bins=cfg.init_bins, init_epochs=("iti",))
    sel = result.config.inputs
    for t in (tensors, tensors_edit):
        assert bool(t.init_mask.any())
    z0 = result.model.initial_state(tensors)
    z0_edit = result.model.initial_state(tensors_edit)
    assert torch.equal(z0, z0_edit) and len(sel) > 0
    # without init_epochs the first init_bins bins (hold included) shape z0
    plain = FitConfig(**{**SMALL, "epochs": 1, "init_bins": 25})
    t_plain, _ = dataset_tensors(sim, init_bins=plain.init_bins)
    t_plain_edit, _ = dataset_tensors(edited, init_bins=plain.init_bins)
    assert not torch.equal(
        result.model.initial_state(t_plain), result.model.initial_state(t_plain_edit)
    )


def test_init_epochs_must_exist(sim):
    with pytest.raises(ConfigError, match=r"init_epochs=\['nope'\].*fix"):
        fit(sim, FitConfig(**SMALL, init_epochs=("nope",)))
