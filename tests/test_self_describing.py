"""Every .nc the toolbox writes describes its variables; split.json says what it holds."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import read_netcdf, save_dataset, write_netcdf
from alrnn_neuro.data.variables import FILES, describe_variables
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection


def cli(*args: str) -> None:
    try:
        main(list(args))
    except SystemExit as exit_:
        assert exit_.code in (0, None), f"alrnn-neuro {' '.join(args)} exited {exit_.code}"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """A tiny fit, its analysis, two RSAs (3 and 2 conditions), a 2-fold sweep and its
    selection, and a tiny task reproduction: every producer of .nc files."""
    root = tmp_path_factory.mktemp("described")
    data = root / "data.h5"
    save_dataset(simulate_stimulus_selection(n_trials=60, n_units=6, seed=3, lfp=False), data)
    run = root / "run"
    cli("fit", str(data), "--out", str(run), *"--epochs 2 --latent-dim 3 --pwl-units 2".split())
    cli("analyze", str(run), "--n-null", "9")
    cli("rsa", str(run), "--conditions", "rule,location", *"--n-perm 10 --n-boot 200".split())
    cli("rsa", str(run), "--conditions", "location", "--n-perm", "10", "--out", str(root / "rsa2"))
    grid = "--pwl-units 0,1 --seeds 1 --folds 2 --epochs 1 --latent-dim 3 --model alrnn,gru"
    cli("sweep", str(data), "--out", str(root / "sweep"), *grid.split())
    cli("select", str(root / "sweep"), "--n-boot", "200")
    _multitask(root / "multitask")
    return root


def _multitask(root: Path) -> None:
    """``reproduce tasks`` (tiny): multitask.nc (+ untrained), primitives.nc, cost.nc and
    baselines.nc, each from its own producer."""
    from alrnn_neuro.reproduce import reproduce_tasks

    reproduce_tasks(root, settings="tiny", seed=1)


def test_every_data_variable_of_every_written_file_is_described(outputs):
    files = sorted(outputs.rglob("*.nc"))
    names = {f.name for f in files}
    assert set(FILES) <= names, f"no file written for {set(FILES) - names}"
    bare = []
    for path in files:
        ds = read_netcdf(path)
        assert ds.attrs.get("description") == FILES[path.name], path
        for name, var in ds.data_vars.items():
            if not {"long_name", "description"} & set(var.attrs):
                bare.append(f"{path.relative_to(outputs)}:{name}")
    assert not bare, f"variables without long_name/description: {bare}"


def test_units_and_bit_order_are_recorded(outputs):
    latents = read_netcdf(outputs / "run" / "latents.nc")
    assert (
        latents.attrs["pwl_latents"] == "1,2" and "most significant" in latents.attrs["bit_order"]
    )
    assert latents["time"].attrs["units"] == "s"
    regimes = read_netcdf(outputs / "run" / "analysis" / "regimes.nc")
    assert regimes.attrs["pwl_latents"] == "1,2" and "bit_order" in regimes.attrs
    assert regimes["switch_latency"].attrs["units"] == "s"
    assert regimes["entropy_bits"].attrs["units"] == "bit"
    history = read_netcdf(outputs / "run" / "history.nc")
    assert history["seconds"].attrs["units"] == "s"
    assert history["epoch"].attrs["long_name"] == "training epoch"
    two = read_netcdf(outputs / "rsa2" / "rsa.nc")  # the two-condition variables
    assert two["model_distance"].attrs["long_name"] == "model distance"
    results = read_netcdf(outputs / "sweep" / "results.nc")
    assert results["val_loss"].attrs["description"].startswith("Best validation loss")
    assert results["test_bits_per_spike"].attrs["units"] == "bit/spike"


def test_split_json_is_labelled(outputs):
    record = json.loads((outputs / "run" / "split.json").read_text())
    assert "held out" in record["description"] and record["split_seed"] == 0
    assert record["fractions"] == {"train": 0.7, "val": 0.15, "test": 0.15}
    assert record["conditions"]  # the resolved strata
    ids = np.concatenate([record[k] for k in ("train", "val", "test")])
    assert sorted(ids.tolist()) == list(range(60))


def test_a_variable_missing_from_the_table_is_reported(tmp_path, caplog):
    ds = xr.Dataset({"train_loss": ("epoch", [1.0]), "mystery": ("epoch", [2.0])})
    _, unknown = describe_variables(ds, "history.nc")
    assert unknown == ["mystery"]
    with caplog.at_level(logging.WARNING, logger="alrnn_neuro.data.h5"):
        write_netcdf(ds, tmp_path / "history.nc")
    assert "mystery" in caplog.text and "alrnn_neuro.data.variables" in caplog.text


def test_producer_attributes_win_and_input_is_not_modified():
    ds = xr.Dataset({"prediction": (("t",), [1.0])})
    ds["prediction"].attrs["description"] = "class probabilities"
    out, _ = describe_variables(ds, "latents.nc")
    assert out["prediction"].attrs["description"] == "class probabilities"
    assert out["prediction"].attrs["long_name"] == "model prediction"
    assert "long_name" not in ds["prediction"].attrs


def test_save_dataset_keeps_the_dataset_as_given(tmp_path, tiny_dataset):
    save_dataset(tiny_dataset, tmp_path / "d.h5")
    back = read_netcdf(tmp_path / "d.h5")
    assert "long_name" not in back["spikes"].attrs and "description" not in back.attrs
