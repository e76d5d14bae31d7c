"""Every bad dataset input, through the CLI: one line, exit code 2, no output left behind.

`alrnn-neuro fit` is the command that reads a dataset and writes a run directory, so it is the
one that must refuse each bad file before writing anything.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from alrnn_neuro.cli.app import main
from tests.conftest import build_tiny_dataset


def canonical_file(path, mutate):
    ds = mutate(build_tiny_dataset())
    ds.to_netcdf(path, engine="h5netcdf", invalid_netcdf=True)


def _set(ds, name, index, value):
    ds = ds.copy(deep=True)
    if name == "spikes" and isinstance(value, float):
        ds["spikes"] = ds["spikes"].astype(float)
    ds[name][index] = value
    return ds


def plain_events_file(path, *, stop_length=3, stim=(0.3, 1.3, 2.3)):
    with h5py.File(path, "w") as f:
        f.attrs["layout"] = "events"
        f.attrs["bin_size"] = 0.1
        f.attrs["align"] = "stim_on"
        f.create_dataset("spike_times/n0", data=np.array([0.1, 0.4, 1.2, 2.5]))
        f.create_dataset("trials/start", data=np.array([0.0, 1.0, 2.0]))
        f.create_dataset("trials/stop", data=np.array([0.9, 1.9, 2.9])[:stop_length])
        f.create_dataset("trials/stim_on", data=np.array(stim))


BAD_FILES = {
    "not HDF5": (lambda p: p.write_text("spikes,trial\n1,2\n"), "not an HDF5 file"),
    "missing variable": (
        lambda p: canonical_file(p, lambda ds: ds.drop_vars("valid")),
        "required variable 'valid'",
    ),
    "misnamed dims": (
        lambda p: canonical_file(p, lambda ds: ds.rename_dims({"unit": "neuron"})),
        "'spikes' has dims",
    ),
    "negative counts": (
        lambda p: canonical_file(p, lambda ds: _set(ds, "spikes", (0, 0, 0), -2)),
        "negative counts",
    ),
    "fractional counts": (
        lambda p: canonical_file(p, lambda ds: _set(ds, "spikes", (0, 0, 0), 0.5)),
        "fractional",
    ),
    "NaN on valid steps": (
        lambda p: canonical_file(p, lambda ds: _set(ds, "inputs", (0, 0, 0), np.nan)),
        "NaN",
    ),
    "empty trial": (
        lambda p: canonical_file(p, lambda ds: _set(ds, "valid", (1, slice(None)), False)),
        "no valid step",
    ),
    "trial table length": (lambda p: plain_events_file(p, stop_length=2), "length"),
    "event outside its trial": (
        lambda p: plain_events_file(p, stim=(0.3, 1.3, 3.5)),
        "'stim_on' lies outside its trial's [start, stop]",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_fit_refuses_bad_dataset_with_one_line_and_no_output(tmp_path, capsys, case):
    make, message = BAD_FILES[case]
    bad = tmp_path / "bad.h5"
    make(bad)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as caught:
        main(["fit", str(bad), "--out", str(out), "--epochs", "1"])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 4
    assert not out.exists()


def test_fit_refuses_missing_file(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as caught:
        main(["fit", str(tmp_path / "nope.h5"), "--out", str(out)])
    assert caught.value.code == 2 and "no such file" in capsys.readouterr().err
    assert not out.exists()


def test_plain_events_with_bad_bin_size(tmp_path, capsys):
    plain_events_file(tmp_path / "ev.h5")
    with pytest.raises(SystemExit) as caught:
        main(["info", str(tmp_path / "ev.h5"), "--bin-size", "0"])
    assert caught.value.code == 2 and "bin_size" in capsys.readouterr().err
