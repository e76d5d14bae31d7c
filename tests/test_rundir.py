"""Run directory: files and their content, load_run, and the rules for reusing a directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, FitModel, TrainingDivergedError, fit, load_run
from alrnn_neuro.training.session import prepare_session

SMALL = dict(latent_dim=4, pwl_units=2, epochs=3, batch_size=8, init_bins=5)
RUN_FILES = {"config.json", "split.json", "checkpoint.pt", "model.pt", "history.nc",
             "latents.nc", "metrics.json"}  # fmt: skip


@pytest.fixture(scope="module")
def sim():
    return simulate_stimulus_selection(n_trials=30, n_units=5, seed=2, lfp=False)


@pytest.fixture(scope="module")
def finished(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    return out, fit(sim, FitConfig(**SMALL), out=out)


def _stop_at(epoch):
    def callback(info):
        if info["epoch"] == epoch:
            raise KeyboardInterrupt

    return callback


def test_run_dir_holds_every_file(finished):
    out, _ = finished
    assert {p.name for p in out.iterdir()} == RUN_FILES


def test_model_file_loads_with_weights_only(finished):
    out, result = finished
    saved = torch.load(out / "model.pt", weights_only=True)
    assert set(saved) == {"state_dict", "config", "data", "alrnn_neuro_version", "run_id"}
    assert saved["config"] == result.config.to_dict()
    for key, value in result.model.state_dict().items():
        assert torch.equal(saved["state_dict"][key], value), key


def test_config_json_is_fully_resolved(finished, sim):
    out, _ = finished
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["obs"] == "poisson"
    assert record["config"]["inputs"] == [str(v) for v in sim["input"].values]
    assert record["data"]["n_units"] == 5 and len(record["data"]["fingerprint"]) == 16


def test_latents_file_carries_trial_coords_epoch_and_bitcode(finished, sim):
    out, result = finished
    latents = xr.load_dataset(out / "latents.nc", engine="h5netcdf")
    assert latents["latents"].dims == ("trial", "time", "latent")
    assert latents.sizes["trial"] == sim.sizes["trial"]
    np.testing.assert_array_equal(latents["event_response"], sim["event_response"])
    np.testing.assert_array_equal(latents["rule"].values.astype(str), sim["rule"].values)
    code, valid = latents["bitcode"].values, sim["valid"].values
    assert (code[~valid] == -1).all() and code[valid].min() >= 0 and code[valid].max() < 4
    assert np.isnan(latents["latents"].values[~valid]).all()
    assert np.isfinite(latents["latents"].values[valid]).all()
    np.testing.assert_array_equal(latents["epoch"].values.astype(str), sim["epoch"].values)


def test_split_partitions_the_trials_and_metrics_cover_each_split(finished, sim):
    out, _ = finished
    split = json.loads((out / "split.json").read_text())
    ids = np.concatenate([split[k] for k in ("train", "val", "test")])
    assert sorted(ids.tolist()) == sorted(sim["trial"].values.tolist())
    metrics = json.loads((out / "metrics.json").read_text())
    for name in ("train", "val", "test"):
        assert {"loss", "bits_per_spike", "r2_condition"} <= set(metrics[name])
    history = xr.load_dataset(out / "history.nc", engine="h5netcdf")
    assert history.sizes["epoch"] == metrics["epochs_run"] == 3


def test_load_run_round_trips(finished, sim):
    out, result = finished
    loaded = load_run(out)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["run_id"] == json.loads((out / "config.json").read_text())["run_id"]
    assert loaded.config == result.config and loaded.metrics == saved
    xr.testing.assert_identical(loaded.latents.drop_attrs(), result.latents.drop_attrs())
    session = prepare_session(sim, loaded.config)
    again = loaded.model.predict(session.tensors)["latents"].numpy()
    saved = session.tensors.restore_time(again, sim.sizes["time"], np.nan)
    valid = sim["valid"].values
    np.testing.assert_allclose(saved[valid], loaded.latents["latents"].values[valid], rtol=1e-5)


def test_load_run_reads_latents_and_history_on_first_use(sim, tmp_path):
    out = tmp_path / "run"
    fit(sim, FitConfig(**{**SMALL, "epochs": 1}), out=out)
    loaded = load_run(out)
    assert callable(loaded.__dict__["_latents"]) and callable(loaded.__dict__["_history"])
    history = loaded.history  # read now, kept from then on
    assert history.sizes["epoch"] == 1 and loaded.history is history
    assert callable(loaded.__dict__["_latents"])
    (out / "latents.nc").unlink()  # the file is read only where latents are used
    with pytest.raises(RunDirError, match="latents.nc is missing"):
        loaded.latents  # noqa: B018


def test_load_run_refuses_outputs_of_a_run_refitted_since(sim, tmp_path):
    out = tmp_path / "run"
    fit(sim, FitConfig(**{**SMALL, "epochs": 1}), out=out)
    loaded = load_run(out)
    fit(sim, FitConfig(**{**SMALL, "epochs": 2}), out=out, overwrite=True)
    with pytest.raises(RunDirError, match="latents.nc now belongs to run .* load the run again"):
        loaded.latents  # noqa: B018
    assert load_run(out).history.sizes["epoch"] == 2


def test_load_run_checks_the_output_files_exist(sim, tmp_path):
    out = tmp_path / "run"
    fit(sim, FitConfig(**{**SMALL, "epochs": 1}), out=out)
    (out / "history.nc").unlink()
    with pytest.raises(RunDirError, match="history.nc is missing; fix: point to a finished run"):
        load_run(out)


def test_refuses_a_different_run_without_overwrite(finished, sim):
    out, _ = finished
    with pytest.raises(RunDirError, match="different run.*latent_dim: 4 there, 3 now"):
        fit(sim, FitConfig(**{**SMALL, "latent_dim": 3}), out=out)


def test_refuses_to_refit_a_finished_run(finished, sim):
    out, _ = finished
    with pytest.raises(RunDirError, match="finished run.*--overwrite"):
        fit(sim, FitConfig(**SMALL), out=out)


def test_resume_of_a_finished_run_loads_it(finished, sim):
    out, result = finished
    again = fit(sim, FitConfig(**SMALL), out=out, resume=True)
    assert again.metrics == json.loads((out / "metrics.json").read_text())


def test_overwrite_replaces_a_run(sim, tmp_path):
    out = tmp_path / "run"
    fit(sim, FitConfig(**{**SMALL, "epochs": 1}), out=out)
    fit(sim, FitConfig(**{**SMALL, "epochs": 2}), out=out, overwrite=True)
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 2


def test_unfinished_run_needs_resume_and_the_same_config(sim, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        fit(sim, FitConfig(**SMALL), out=out, callback=_stop_at(1))
    assert "metrics.json" not in {p.name for p in out.iterdir()}
    with pytest.raises(RunDirError, match="unfinished run.*--resume"):
        fit(sim, FitConfig(**SMALL), out=out)
    with pytest.raises(RunDirError, match="another config.*pwl_units: 2 there, 1 now"):
        fit(sim, FitConfig(**{**SMALL, "pwl_units": 1}), out=out, resume=True)
    resumed = fit(sim, FitConfig(**{**SMALL, "lr": 0.001}), out=out, resume=True)
    assert resumed.history["lr"].values[1] == pytest.approx(0.001 * 0.1**0.5)


def test_refuses_a_folder_that_is_not_a_run(sim, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not a run directory.*notes.txt"):
        fit(sim, FitConfig(**SMALL), out=tmp_path, overwrite=True)


def test_resume_without_a_run_is_refused(sim, tmp_path):
    with pytest.raises(RunDirError, match="no run to resume"):
        fit(sim, FitConfig(**SMALL), out=tmp_path / "none", resume=True)


def test_bad_config_writes_nothing(sim, tmp_path):
    with pytest.raises(ConfigError, match="behaviour_label"):
        fit(sim, FitConfig(**SMALL, behaviour=True, behaviour_label="nope"), out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_interrupt_before_the_first_epoch_leaves_nothing(sim, tmp_path, monkeypatch):
    def interrupted(self, batch, forcing=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(FitModel, "member_losses", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(sim, FitConfig(**SMALL), out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_divergence_keeps_the_last_good_checkpoint(sim, tmp_path, monkeypatch):
    real = FitModel.member_losses
    calls = {"n": 0}

    def diverging(self, batch, forcing=None):
        terms = real(self, batch, forcing)
        calls["n"] += 1
        if calls["n"] > 4:  # 3 training batches per epoch: epoch 2 diverges
            terms["objective"] = terms["objective"] * float("inf")
        return terms

    monkeypatch.setattr(FitModel, "member_losses", diverging)
    with pytest.raises(TrainingDivergedError, match="last good epoch \\(1\\).*--resume --lr"):
        fit(sim, FitConfig(**SMALL), out=tmp_path / "r")
    checkpoint = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 1
