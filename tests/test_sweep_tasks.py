"""Sweeps over task datasets: ``alrnn-neuro sweep TASK``, accuracy results and ranking."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.simulate.tasks.metrics import task_accuracy
from alrnn_neuro.sweep import summarize
from alrnn_neuro.sweep.task_data import sweep_source
from alrnn_neuro.training import load_run, simulate_model

TINY = "--pwl-units 0,1 --seeds 1 --latent-dim 3 --epochs 2 --n-trials 30 --task-seed 1"


@pytest.fixture(scope="module")
def task_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("tasks") / "ctx"
    main(["sweep", "contextual_integration", *TINY.split(), "--model", "alrnn,gru",
          "--out", str(out)])  # fmt: skip
    return out


def test_cli_sweeps_a_generated_task(task_sweep, capsys):
    results = xr.load_dataset(task_sweep / "results.nc", engine="h5netcdf")
    assert "test_accuracy" in results and "test_bits_per_spike" not in results
    acc = results["test_accuracy"].values
    assert np.isfinite(acc).all() and ((acc >= 0) & (acc <= 1)).all()
    assert np.isfinite(results["primitives_found"].sel(model="alrnn").values).all()
    assert np.isnan(results["primitives_found"].sel(model="gru").values).all()
    ds = load_dataset(task_sweep / "dataset.h5")
    assert ds.attrs["task"] == "contextual_integration" and ds.sizes["trial"] == 30
    # the stored accuracy is the task metric of the cell's model on the sweep's test trials
    run = load_run(task_sweep / "cells" / "alrnn-M3-P1-seed0-tf1")
    test_ids = json.loads((task_sweep / "sweep.json").read_text())["test_trials"]
    assert not np.isin(test_ids, run.latents["trial"].values).any()
    test = ds.sel(trial=test_ids)
    prediction = simulate_model(run, test["inputs"].values)["prediction"].values
    stored = results["test_accuracy"].sel(model="alrnn", pwl_units=1).values.item()
    assert stored == pytest.approx(task_accuracy(prediction, test))


def test_rerunning_the_task_sweep_reuses_dataset_and_cells(task_sweep, capsys):
    before = {p: p.stat().st_mtime_ns for p in (task_sweep / "cells").rglob("metrics.json")}
    stamp = (task_sweep / "dataset.h5").stat().st_mtime_ns
    main(["sweep", "contextual_integration", *TINY.split(), "--model", "alrnn,gru",
          "--out", str(task_sweep)])  # fmt: skip
    assert "test_accuracy" in capsys.readouterr().out
    after = {p: p.stat().st_mtime_ns for p in (task_sweep / "cells").rglob("metrics.json")}
    assert after == before and (task_sweep / "dataset.h5").stat().st_mtime_ns == stamp


def test_other_task_seed_into_the_same_folder_is_refused(task_sweep):
    with pytest.raises(RunDirError, match="other data than task 'contextual_integration'"):
        sweep_source("contextual_integration", task_sweep, n_trials=30, seed=2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["nosuchtask"], "'nosuchtask' is neither an existing dataset file nor a task name"),
        (["copy", "--model", "alrnn,tcn"], "unknown ['tcn']"),
        (["copy", "--executor", "ray"], "executor='ray'"),
        (["copy", "--tf-interval", "3"], "tf_interval=3"),
    ],
)
def test_bad_task_sweeps_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", *args, "--n-trials", "10", "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_unknown_name_error_lists_tasks(tmp_path):
    with pytest.raises(ConfigError, match="addition.*copy.*multitask"):
        sweep_source("adition", tmp_path / "x")


def test_summarize_ranks_tasks_by_accuracy_higher_is_better():
    acc = np.array([0.50, 0.90, 0.88])[:, None] + np.array([0.0, 0.01])[None, :]
    results = xr.Dataset(
        {"test_accuracy": (("model", "pwl_units", "seed"), acc[None]),
         "test_loss": (("model", "pwl_units", "seed"), (1 - acc)[None])},
        coords={"model": ["alrnn"], "pwl_units": [0, 1, 2], "seed": [0, 1]},
    )  # fmt: skip
    summary = summarize(results)
    assert summary.attrs["metric"] == "test_accuracy"
    # best P=1 (0.905 +- 0.005); P=2 (0.885) is outside one sem, P=0 far below
    assert float(summary["minimal_pwl_units"]) == 1.0
    assert float(summarize(results, "test_loss")["minimal_pwl_units"]) == 1.0
