"""Binned plain-HDF5 inputs that contradict themselves, and foreign HDF5 files given to ``info``.

Each malformed file is refused with one line naming the field, the bad value and the fix; the
valid variants next to them still load unchanged.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.plain_h5 import TrialColumnRenamedWarning, read_plain_h5
from alrnn_neuro.errors import FileFormatError

N_TRIAL, N_TIME, N_UNIT = 3, 10, 2


def _binned(folder: Path, build=None, name: str = "b.h5") -> Path:
    """A valid binned file (3 trials, 10 bins of 0.1 s, 2 units), then ``build(f)``."""
    path = folder / name
    with h5py.File(path, "w") as f:
        f.attrs["layout"] = "binned"
        f.attrs["bin_size"] = 0.1
        f["spikes"] = np.arange(N_TRIAL * N_TIME * N_UNIT).reshape(N_TRIAL, N_TIME, N_UNIT) % 3
        f["trials/choice"] = ["l", "r", "l"]
        f["units/id"] = ["u1", "u2"]
        if build is not None:
            build(f)
    return path


def _quiet_load(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_plain_h5(path)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alrnn_neuro", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess, *parts: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


# --- 1. a `time` dataset must step by bin_size ----------------------------------------------


def test_time_contradicting_bin_size_is_refused(tmp_path):
    path = _binned(tmp_path, lambda f: f.create_dataset("time", data=np.arange(N_TIME) * 0.5))
    with pytest.raises(FileFormatError, match=r"'time' contradicts bin_size=0\.1 s.*0\.5 s apart"):
        read_plain_h5(path)


def test_unevenly_spaced_time_without_bin_size_is_refused(tmp_path):
    def build(f):
        del f.attrs["bin_size"]
        f["time"] = np.r_[np.arange(N_TIME - 1) * 0.1, 2.0]

    with pytest.raises(FileFormatError, match=r"time\[8\]=0\.8 and time\[9\]=2 are 1\.2 s apart"):
        read_plain_h5(_binned(tmp_path, build))


def test_time_matching_bin_size_loads_unchanged(tmp_path):
    centres = (-0.2 + (np.arange(N_TIME) + 0.5) * 0.1).astype(np.float32)
    ds = _quiet_load(_binned(tmp_path, lambda f: f.create_dataset("time", data=centres)))
    np.testing.assert_array_equal(ds["time"].values, centres.astype(float))
    assert ds.attrs["bin_size"] == 0.1


# --- 2. trial_lengths must be whole numbers of bins ------------------------------------------


def test_fractional_trial_lengths_are_refused(tmp_path):
    path = _binned(tmp_path, lambda f: f.create_dataset("trial_lengths", data=[2.5, 10, 3.0]))
    with pytest.raises(FileFormatError, match=r"'trial_lengths' of trial 0 \(index\) is 2\.5"):
        read_plain_h5(path)


def test_whole_float_trial_lengths_load_unchanged(tmp_path):
    path = _binned(tmp_path, lambda f: f.create_dataset("trial_lengths", data=[2.0, 10, 3]))
    ds = _quiet_load(path)
    assert ds["valid"].values.sum(axis=1).tolist() == [2, 10, 3]


# --- 3. trials/trial is kept when trials/id gives the ids ------------------------------------


def test_trial_column_is_kept_beside_trial_ids(tmp_path):
    def build(f):
        f["trials/id"] = [10, 11, 12]
        f["trials/trial"] = [1, 2, 3]

    with pytest.warns(TrialColumnRenamedWarning, match="kept as the trial coord 'trial_number'"):
        ds = read_plain_h5(_binned(tmp_path, build))
    assert ds["trial"].values.tolist() == [10, 11, 12]
    assert ds["trial_number"].values.tolist() == [1, 2, 3]
    assert ds["choice"].values.tolist() == ["l", "r", "l"]


def test_trial_column_equal_to_ids_is_dropped_silently(tmp_path):
    def build(f):
        f["trials/id"] = [10, 11, 12]
        f["trials/trial"] = [10, 11, 12]

    ds = _quiet_load(_binned(tmp_path, build))
    assert ds["trial"].values.tolist() == [10, 11, 12]
    assert "trial_number" not in ds.coords


def test_trial_column_that_cannot_be_renamed_is_refused(tmp_path):
    def build(f):
        f["trials/id"] = [10, 11, 12]
        f["trials/trial"] = [1, 2, 3]
        f["trials/trial_number"] = [7, 8, 9]

    with pytest.raises(FileFormatError, match="fix: rename trials/trial"):
        read_plain_h5(_binned(tmp_path, build))


# --- 4. input_names and t_start attributes ---------------------------------------------------


def _inputs(n_channels: int, names: object):
    def build(f):
        dset = f.create_dataset("inputs", data=np.zeros((N_TRIAL, N_TIME, n_channels), "f4"))
        dset.attrs["input_names"] = names

    return build


def test_scalar_input_name_is_one_channel(tmp_path):
    ds = _quiet_load(_binned(tmp_path, _inputs(1, "motion")))
    assert ds["input"].values.tolist() == ["motion"]


def test_scalar_input_name_for_two_channels_is_refused(tmp_path):
    path = _binned(tmp_path, _inputs(2, "motion"))
    with pytest.raises(FileFormatError, match=r"inputs.attrs\['input_names'\]\); fix: one name"):
        read_plain_h5(path)


def test_input_name_list_loads_unchanged(tmp_path):
    ds = _quiet_load(_binned(tmp_path, _inputs(2, ["motion", "go"])))
    assert ds["input"].values.tolist() == ["motion", "go"]


def test_nan_t_start_is_refused(tmp_path):
    path = _binned(tmp_path, lambda f: f.attrs.__setitem__("t_start", np.nan))
    with pytest.raises(FileFormatError, match=r"root attribute t_start=nan is not a finite"):
        read_plain_h5(path)


def test_t_start_loads_unchanged(tmp_path):
    ds = _quiet_load(_binned(tmp_path, lambda f: f.attrs.__setitem__("t_start", -0.25)))
    np.testing.assert_allclose(ds["time"].values, -0.25 + (np.arange(N_TIME) + 0.5) * 0.1)


def test_info_on_text_t_start_is_one_line(tmp_path):
    _binned(tmp_path, lambda f: f.attrs.__setitem__("t_start", "abc"))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = _cli("info", "b.h5", cwd=tmp_path)
    _assert_one_line_error(result, "t_start='abc'", "fix: f.attrs['t_start'] = ")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_info_on_scalar_input_name_succeeds(tmp_path):
    _binned(tmp_path, _inputs(1, "motion"))
    result = _cli("info", "b.h5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "motion" in result.stdout


# --- 5. NWB and other foreign HDF5 files ------------------------------------------------------


def _nwb_by_version(path: Path) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["nwb_version"] = "2.6.0"
        f["acquisition/x"] = np.ones(3)


def _nwb_by_groups(path: Path) -> None:
    with h5py.File(path, "w") as f:
        f.create_group("general")
        f["acquisition/lfp"] = np.ones((4, 2))


@pytest.mark.parametrize("write", [_nwb_by_version, _nwb_by_groups])
def test_nwb_file_is_named_as_such(tmp_path, write):
    write(tmp_path / "rec.nwb")
    with pytest.raises(FileFormatError, match=r"is an NWB file, not a canonical dataset"):
        load_dataset(tmp_path / "rec.nwb")


def test_info_on_nwb_file_is_one_short_line(tmp_path):
    _nwb_by_version(tmp_path / "rec.nwb")
    line = _assert_one_line_error(
        _cli("info", "rec.nwb", cwd=tmp_path),
        "rec.nwb is an NWB file, not a canonical dataset",
        "fix: alrnn-neuro convert nwb rec.nwb --out dataset.h5",
    )
    assert len(line) < 250
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.nwb"]


def test_info_on_foreign_hdf5_is_one_short_line(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["a"] = np.ones((3, 4))
        f["b/c"] = np.arange(5)
    line = _assert_one_line_error(
        _cli("info", "other.h5", cwd=tmp_path),
        "other.h5 is not a canonical dataset",
        "exactly one of 'spikes' or 'signal'",
        "more problems",
        "docs/dataset-format.md",
    )
    assert len(line) < 450


def test_near_canonical_file_keeps_every_problem(tmp_path):
    """A file with spikes and the canonical attrs is not foreign: all problems are listed."""
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.attrs["bin_size"] = 0.1
        f.attrs["align_event"] = "go"
        f["spikes"] = np.ones((3, 4, 2), int)
    with pytest.raises(ValueError, match="'inputs'.*'valid'.*'epoch'") as error:
        load_dataset(tmp_path / "d.h5")
    assert "not a canonical dataset" not in str(error.value)
