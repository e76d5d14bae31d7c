"""Fitting task datasets (targets + loss_mask) with the ordinary fit engine."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from alrnn_neuro.cli.app import main
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.simulate.tasks import make_task
from alrnn_neuro.simulate.tasks.metrics import regression_accuracy
from alrnn_neuro.training import FitConfig, fit, load_run, simulate_model
from alrnn_neuro.training.network import FitModel
from alrnn_neuro.training.session import prepare_session

TINY_COPY = dict(seq_len=2, delay=3, n_symbols=3)


@pytest.fixture(scope="module")
def copy_ds():
    return make_task("copy", n_trials=150, seed=0, **TINY_COPY)


@pytest.fixture(scope="module")
def addition_ds():
    return make_task("addition", n_trials=300, seed=0, length=6)


def test_copy_fit_recalls_symbols_well_above_chance(copy_ds):
    cfg = FitConfig(latent_dim=8, pwl_units=2, epochs=25, batch_size=32, lr=0.03, patience=0)
    result = fit(copy_ds, cfg)
    chance = 1 / TINY_COPY["n_symbols"]
    assert result.config.obs == "cross_entropy" and result.config.init_state == "learned"
    assert result.metrics["test"]["accuracy"] > chance + 0.3  # observed: 0.82
    assert result.latents["prediction"].dims == ("trial", "time", "output")
    prob = result.latents["prediction"].values[copy_ds["valid"].values]
    np.testing.assert_allclose(prob.sum(-1), 1.0, rtol=1e-5)  # class probabilities


def test_addition_fit_beats_the_constant_predictor(addition_ds):
    cfg = FitConfig(latent_dim=10, pwl_units=6, epochs=30, batch_size=16, lr=0.02, patience=0,
                    seed=1)  # fmt: skip
    result = fit(addition_ds, cfg)
    test = addition_ds.sel(trial=result.split["test"])
    mean = float(addition_ds.sel(trial=result.split["train"])["target_sum"].mean())
    constant = regression_accuracy(np.full(test["targets"].shape, mean), test)
    metrics = result.metrics["test"]
    assert result.config.obs == "mse"
    assert metrics["mse"] < 0.1 * float(test["target_sum"].var())  # observed: 0.005x
    assert metrics["accuracy"] > 0.5 > 3 * constant  # observed: 0.82 vs 0.09


def _numpy_losses(model: FitModel, ds, positions, batch):
    """Independent masked MSE / cross-entropy from the dataset's own arrays."""
    with torch.no_grad():
        z = model.latents(batch).numpy()
    w = model.readout.weight.detach().double().numpy()
    b = model.readout.bias.detach().double().numpy()
    logits = z @ w.T + b  # (trial, time, output)
    sub = ds.isel(trial=positions)
    mask = sub["loss_mask"].values.astype(bool)
    y = sub["targets"].values.astype(float)[:, : logits.shape[1]]
    mask = mask[:, : logits.shape[1]]
    mse = np.sum(((logits - y) ** 2)[mask]) / (mask.sum() * y.shape[-1])
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -np.sum((y * logp)[mask]) / mask.sum()
    return mse, ce


@pytest.mark.parametrize(
    "name, params, loss",
    [
        ("addition", dict(length=8), "mse"),
        ("variable_delay_copy", dict(seq_len=2, delay=(1, 4), n_symbols=3), "cross_entropy"),
    ],
)
def test_losses_equal_independent_numpy_computation(name, params, loss):
    ds = make_task(name, n_trials=12, seed=3, **params)
    session = prepare_session(ds, FitConfig(latent_dim=4, pwl_units=2, seed=1))
    model = FitModel(session.config, session.n_units, 0, session.unit_mean).double()
    with torch.no_grad():  # move off the initial state so the check is not trivial
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(0)))
    positions = np.array([0, 2, 3, 7, 11])
    batch = session.tensors.take(positions, trim=False).to("cpu", torch.float64)
    got = float(model.loss(batch)["obs"].detach())
    mse, ce = _numpy_losses(model, ds, positions, batch)
    assert got == pytest.approx(mse if loss == "mse" else ce, rel=1e-10)


def test_config_refuses_teacher_forcing(copy_ds):
    with pytest.raises(ConfigError, match="tf_interval=5.*fix: --tf-interval 0"):
        fit(copy_ds, FitConfig(tf_interval=5, epochs=1))


def test_config_refuses_behaviour_head(copy_ds):
    with pytest.raises(ConfigError, match="behaviour=True.*fix: --no-behaviour"):
        fit(copy_ds, FitConfig(behaviour=True, epochs=1))


def test_config_refuses_other_task_loss(copy_ds):
    with pytest.raises(ConfigError, match="obs='mse'.*task_loss='cross_entropy'.*--obs auto"):
        fit(copy_ds, FitConfig(obs="mse", epochs=1))


def test_config_refuses_neural_readout_on_tasks(copy_ds):
    with pytest.raises(ConfigError, match="obs='poisson'.*task_loss.*fix"):
        fit(copy_ds, FitConfig(obs="poisson", epochs=1))


def test_config_refuses_task_readout_on_recordings():
    ds = simulate_stimulus_selection(n_trials=20, n_units=4, seed=0, lfp=False)
    with pytest.raises(ConfigError, match="obs='cross_entropy' is a task readout.*fix"):
        fit(ds, FitConfig(obs="cross_entropy", epochs=1))


def test_load_run_round_trip_and_simulate_model(tmp_path):
    ds = make_task("copy", n_trials=30, seed=1, **TINY_COPY)
    cfg = FitConfig(latent_dim=4, pwl_units=1, epochs=2, init_state="data")
    result = fit(ds, cfg, out=tmp_path / "run")
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["config"]["init_state"] == "learned" and record["config"]["obs"] == (
        "cross_entropy"
    )
    loaded = load_run(tmp_path / "run")
    assert loaded.config == result.config
    saved, back = result.model.state_dict(), loaded.model.state_dict()
    assert saved.keys() == back.keys()
    assert all(torch.equal(saved[k], back[k]) for k in saved)
    assert loaded.metrics["test"]["accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
    assert list(loaded.latents["output"].values) == list(ds["output"].values)
    sim = simulate_model(loaded, ds["inputs"].values, sample=True, seed=0)
    valid = ds["valid"].values
    np.testing.assert_allclose(
        sim["prediction"].values[valid], loaded.latents["prediction"].values[valid], atol=1e-5
    )
    assert sim["sample"].dims == ("trial", "time", "output")
    assert (sim["sample"].values.sum(-1) == 1).all()  # one class per step


def test_cli_simulates_and_fits_a_task(tmp_path, capsys):
    data = tmp_path / "copy.h5"
    main(["simulate", "task", "copy", "--n-trials", "30", "--seed", "0", "--out", str(data)])
    main(["fit", str(data), "--latent-dim", "3", "--pwl-units", "1", "--epochs", "1",
          "--out", str(tmp_path / "run")])  # fmt: skip
    assert "accuracy" in capsys.readouterr().out
    assert "accuracy" in json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]


def test_cli_simulate_unknown_task_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "task", "adition", "--out", str(tmp_path / "x.h5")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "'adition' is unknown" in err and "addition" in err and "multitask" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.h5").exists()
