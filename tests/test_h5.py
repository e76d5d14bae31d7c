"""dataset.h5: exact round trips (property-tested) and precise errors for bad files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import load_dataset, save_dataset
from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import DataValidationError, FileFormatError


def assert_exact(a: xr.Dataset, b: xr.Dataset) -> None:
    assert a.identical(b)
    for name, var in a.variables.items():
        assert b[name].dtype == var.dtype, name
    assert a.attrs == b.attrs


@st.composite
def canonical_datasets(draw):
    n_trial = draw(st.integers(1, 5))
    n_time = draw(st.integers(1, 7))
    n_unit = draw(st.integers(1, 4))  # a dataset without units is refused
    n_input = draw(st.integers(0, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, n_time + 1, n_trial)
    valid = np.arange(n_time)[None] < lengths[:, None]
    kind = draw(st.sampled_from(["spikes", "signal"]))
    if kind == "spikes":
        dtype = draw(st.sampled_from([np.uint8, np.int16, np.int32, np.int64]))
        data = rng.poisson(1.5, (n_trial, n_time, n_unit)).astype(dtype)
    else:
        dtype = draw(st.sampled_from([np.float32, np.float64]))
        data = rng.normal(size=(n_trial, n_time, n_unit)).astype(dtype)
    data = data * valid[..., None].astype(dtype)
    labels = draw(st.lists(st.text("abcxyz_ é", min_size=1, max_size=8), min_size=1, max_size=3))
    epoch = np.where(valid, rng.choice(labels, (n_trial, n_time)), "")
    observed = rng.random((n_trial, n_unit)) > 0.2
    observed[0, 0] = True  # at least one recorded (trial, unit) pair is required
    return make_dataset(
        data,
        kind=kind,
        inputs=rng.normal(size=(n_trial, n_time, n_input)).astype(np.float32),
        valid=valid,
        observed=observed,
        epoch=epoch,
        bin_size=draw(st.floats(1e-3, 1.0)),
        align_event=draw(st.sampled_from(["stim_on", "go", "ston"])),
        trial_coords={
            "rule": rng.choice(["local", "pitch"], n_trial),
            "correct": rng.random(n_trial) > 0.5,
            "rt": np.where(rng.random(n_trial) > 0.5, rng.random(n_trial), np.nan),
            "block": rng.integers(0, 4, n_trial).astype(np.int16),
        },
        unit_coords={"area": rng.choice(["A1", "mPFC"], n_unit), "depth": rng.random(n_unit)},
        trial_ids=np.arange(n_trial) * 3 + 7,
        source="hypothesis",
        extra_vars={
            "true_latents": (("trial", "time", "true_latent"), rng.random((n_trial, n_time, 2)))
        },
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ds=canonical_datasets())
def test_round_trip_is_exact(tmp_path, ds):
    path = tmp_path / "roundtrip.h5"
    save_dataset(ds, path)
    assert_exact(ds, load_dataset(path))


def test_round_trip_of_fixture(tmp_path, tiny_dataset):
    save_dataset(tiny_dataset, tmp_path / "d.h5")
    assert_exact(tiny_dataset, load_dataset(tmp_path / "d.h5"))


def test_invalid_dataset_is_not_written(tmp_path, tiny_dataset):
    bad = tiny_dataset.drop_vars("epoch")
    with pytest.raises(DataValidationError, match="'epoch'"):
        save_dataset(bad, tmp_path / "bad.h5")
    assert list(tmp_path.iterdir()) == []


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_dataset("does/not/exist.h5")


def test_not_hdf5(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not an hdf5 file")
    with pytest.raises(FileFormatError, match="not an HDF5 file"):
        load_dataset(path)


def test_hdf5_missing_required_variable(tmp_path, tiny_dataset):
    tiny_dataset.drop_vars("valid").to_netcdf(tmp_path / "x.h5", engine="h5netcdf")
    with pytest.raises(DataValidationError, match="required variable 'valid'"):
        load_dataset(tmp_path / "x.h5")


def test_hdf5_with_misnamed_dims(tmp_path, tiny_dataset):
    renamed = tiny_dataset.rename({"trial": "trials"})
    renamed.to_netcdf(tmp_path / "x.h5", engine="h5netcdf", invalid_netcdf=True)
    with pytest.raises(DataValidationError, match="expected \\('trial', 'time', 'unit'\\)"):
        load_dataset(tmp_path / "x.h5")


def test_unknown_plain_layout(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as handle:
        handle.attrs["layout"] = "spreadsheet"
    with pytest.raises(FileFormatError, match="layout='spreadsheet' is unknown"):
        load_dataset(tmp_path / "x.h5")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ds: ds.assign(spikes=-ds.spikes - 1), "negative counts"),
        (lambda ds: ds.assign(spikes=ds.spikes + 0.5), "fractional"),
    ],
)
def test_cli_info_rejects_bad_counts(tmp_path, tiny_dataset, capsys, mutate, message):
    path = tmp_path / "bad.h5"
    mutate(tiny_dataset).to_netcdf(path, engine="h5netcdf", invalid_netcdf=True)
    with pytest.raises(SystemExit) as caught:
        main(["info", str(path)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 3


def test_cli_info_summarises(tmp_path, tiny_dataset, capsys):
    save_dataset(tiny_dataset, tmp_path / "d.h5")
    main(["info", str(tmp_path / "d.h5")])
    out = capsys.readouterr().out
    assert "trials" in out and "stimulus" in out and "local (3)" in out


def test_cli_debug_shows_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "info", str(tmp_path / "missing.h5")])


def test_binning_options_on_a_canonical_file_are_refused_not_ignored(tmp_path, tiny_dataset):
    """--bin-size / --align bin plain events files; on a binned file they would do nothing."""
    from alrnn_neuro.errors import ConfigError

    save_dataset(tiny_dataset, tmp_path / "d.h5")
    with pytest.raises(ConfigError, match=r"bin_size=0.1, align='go': .* is a canonical dataset"):
        load_dataset(tmp_path / "d.h5", bin_size=0.1, align="go")
    assert load_dataset(tmp_path / "d.h5").sizes == tiny_dataset.sizes
