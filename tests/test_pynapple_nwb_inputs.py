"""Bad pynapple / NWB inputs: refused with one clear line, or read without losing data."""

from __future__ import annotations

import datetime
import logging
import subprocess
import sys

import numpy as np
import pytest

from alrnn_neuro.data.nwb import read_nwb
from alrnn_neuro.data.pynapple_io import from_pynapple, read_pynapple_npz
from alrnn_neuro.errors import DataValidationError, FileFormatError

nap = pytest.importorskip("pynapple")
pynwb = pytest.importorskip("pynwb")

START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
RATE = 100.0  # Hz of the continuous test signal


def convert(*args: str) -> subprocess.CompletedProcess:
    """``alrnn-neuro convert ...`` through the installed entry point."""
    command = [sys.executable, "-m", "alrnn_neuro", "convert", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, out, *fragments: str) -> str:
    """Exit 2, one stderr line holding every fragment, no output written."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not out.exists()
    return lines[0]


def two_units(unit_ids: list[str]):
    trains = {0: nap.Ts(np.array([0.15, 0.55, 3.45])), 1: nap.Ts(np.array([0.25, 3.3]))}
    return nap.TsGroup(trains, metadata={"unit_id": unit_ids})


def two_trials():
    return nap.IntervalSet(start=[0.0, 3.0], end=[1.0, 4.0], metadata={"stim_on": [0.2, 3.2]})


# -- pynapple --------------------------------------------------------------------------------


def test_repeated_unit_id_is_refused_through_the_cli(tmp_path):
    two_units(["a", "a"]).save(str(tmp_path / "u.npz"))
    two_trials().save(str(tmp_path / "t.npz"))
    out = tmp_path / "ds.h5"
    result = convert(
        "pynapple",
        str(tmp_path / "u.npz"),
        "--trials",
        str(tmp_path / "t.npz"),
        "--bin-size",
        "0.1",
        "--out",
        str(out),
    )
    assert_one_line_error(result, out, "unit_id", "'a'", "fix:")
    assert "Traceback" not in result.stderr


def test_repeated_unit_id_is_refused_by_from_pynapple():
    # 1 and "1" are the same canonical (str) id
    trains = {k: nap.Ts(np.array([0.1, 3.1]) + 0.1 * k) for k in range(3)}
    group = nap.TsGroup(trains, metadata={"unit_id": np.array([1, "x", "1"], dtype=object)})
    with pytest.raises(DataValidationError, match=r"'unit_id' repeats 1 id\(s\): '1'"):
        from_pynapple(group, two_trials(), bin_size=0.1)


def test_distinct_unit_ids_keep_every_spike():
    ds = from_pynapple(two_units(["a", "b"]), two_trials(), bin_size=0.1)
    assert ds["unit"].values.tolist() == ["a", "b"]
    assert ds["spikes"].sum(axis=(0, 1)).values.tolist() == [3, 2]


def test_trials_csv_that_is_not_utf8_is_refused_through_the_cli(tmp_path):
    two_units(["a", "b"]).save(str(tmp_path / "u.npz"))
    (tmp_path / "bad.csv").write_bytes(b"\xc1\xff\x00start,end\n\x80\x81,1\n")
    out = tmp_path / "ds.h5"
    result = convert(
        "pynapple",
        str(tmp_path / "u.npz"),
        "--trials",
        str(tmp_path / "bad.csv"),
        "--bin-size",
        "0.1",
        "--out",
        str(out),
    )
    assert_one_line_error(result, out, "bad.csv", "not UTF-8 text", "fix:")


def test_trials_csv_that_does_not_parse_is_refused(tmp_path):
    two_units(["a", "b"]).save(str(tmp_path / "u.npz"))
    (tmp_path / "t.csv").write_text('start,end\n0,1\n"3,4\n', encoding="utf-8")
    with pytest.raises(FileFormatError, match="t.csv: not a readable CSV trial table"):
        read_pynapple_npz(tmp_path / "u.npz", tmp_path / "t.csv")


def test_utf8_trials_csv_still_reads(tmp_path):
    two_units(["a", "b"]).save(str(tmp_path / "u.npz"))
    (tmp_path / "t.csv").write_text("start,end,choice\n0,1,gauche\n3,4,é\n", encoding="utf-8")
    units, table = read_pynapple_npz(tmp_path / "u.npz", tmp_path / "t.csv")
    ds = from_pynapple(units, table, bin_size=0.1)
    assert ds["choice"].values.tolist() == ["gauche", "é"]


# -- NWB -------------------------------------------------------------------------------------


def write_nwb_file(path, *, series=None, trial_column=None, invalid=None):
    """Two trials (0-1 s, 3-4 s); optionally a TimeSeries, a trial column, invalid_times."""
    nwbfile = pynwb.NWBFile(session_description="t", identifier="t", session_start_time=START)
    if trial_column is not None:
        nwbfile.add_trial_column("trial", "lab trial number")
        nwbfile.add_trial_column("stop", "a label named like the canonical 'stop'")
    for k, (start, stop) in enumerate([(0.0, 1.0), (3.0, 4.0)]):
        extra = {} if trial_column is None else {"trial": trial_column[k], "stop": f"s{k}"}
        nwbfile.add_trial(start_time=start, stop_time=stop, **extra)
    nwbfile.add_unit(spike_times=[0.15, 0.55, 3.45])
    if series is not None:
        nwbfile.add_acquisition(series)
    if invalid is not None:
        nwbfile.add_invalid_time_interval(start_time=invalid[0], stop_time=invalid[1])
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def ramp(n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Sample times (s) and a 2-channel signal that is not linear in time."""
    t = np.arange(n) / RATE
    return t, np.stack([np.sin(3 * t), t**2], axis=1)


def bin_means(t, x, starts, bin_size, n_bins):
    """Independent reference: mean of the samples inside every bin, trial by trial."""
    out = np.zeros((len(starts), n_bins, x.shape[1]))
    for i, start in enumerate(starts):
        for k in range(n_bins):
            lo = start + k * bin_size
            inside = (t >= lo - 1e-9) & (t < lo + bin_size - 1e-9)
            out[i, k] = x[inside].mean(axis=0)
    return out


def test_unsorted_timestamps_are_refused_naming_the_first_out_of_order_index(tmp_path):
    t, x = ramp()
    order = np.random.default_rng(0).permutation(t.size)
    first_back = int(np.flatnonzero(np.diff(t[order]) < 0)[0]) + 1
    series = pynwb.TimeSeries(name="rate", data=x[order], timestamps=t[order], unit="a.u.")
    path = write_nwb_file(tmp_path / "unsorted.nwb", series=series)
    out = tmp_path / "ds.h5"
    result = convert("nwb", str(path), "--signal", "rate", "--bin-size", "0.1", "--out", str(out))
    assert_one_line_error(
        result, out, "'rate'", "not ascending", f"timestamps[{first_back}]", "fix:"
    )


def test_nan_timestamp_is_refused(tmp_path):
    t, x = ramp()
    t[7] = np.nan
    series = pynwb.TimeSeries(name="rate", data=x, timestamps=t, unit="a.u.")
    path = write_nwb_file(tmp_path / "nan_time.nwb", series=series)
    with pytest.raises(FileFormatError, match=r"'rate': timestamps\[7\] is nan"):
        read_nwb(path, bin_size=0.1, signal="rate")


def test_ascending_timestamps_give_the_bin_means(tmp_path):
    t, x = ramp()
    t[100:] += 1e-4  # irregular but ascending, with one repeated time
    t[50] = t[49]
    series = pynwb.TimeSeries(name="rate", data=x, timestamps=t, unit="a.u.")
    path = write_nwb_file(tmp_path / "sorted.nwb", series=series)
    ds = read_nwb(path, bin_size=0.1, signal="rate")
    expected = bin_means(t, x, [0.0, 3.0], 0.1, 10)
    np.testing.assert_allclose(ds["signal"].values, expected, rtol=0, atol=1e-12)


def test_nan_sample_is_named_with_its_time(tmp_path):
    t, x = ramp()
    x[50, 1] = np.nan  # t = 0.5 s, in bin 5 of trial 0
    series = pynwb.TimeSeries(name="rate", data=x, rate=RATE, starting_time=0.0, unit="a.u.")
    path = write_nwb_file(tmp_path / "nan.nwb", series=series)
    out = tmp_path / "ds.h5"
    result = convert("nwb", str(path), "--signal", "rate", "--bin-size", "0.1", "--out", str(out))
    line = assert_one_line_error(result, out, "'rate' holds NaN at session time 0.5 s", "fix:")
    assert "channel 1" in line and "bin 5 of trial index 0" in line
    assert "no samples" not in line


def test_nan_sample_inside_invalid_times_is_left_out(tmp_path):
    t, x = ramp()
    x[50, 1] = np.nan
    series = pynwb.TimeSeries(name="rate", data=x, rate=RATE, starting_time=0.0, unit="a.u.")
    path = write_nwb_file(tmp_path / "nan_invalid.nwb", series=series, invalid=(0.45, 0.52))
    ds = read_nwb(path, bin_size=0.1, signal="rate")
    assert ds["valid"].values[0].tolist() == [True] * 4 + [False] * 2 + [True] * 4
    assert np.isfinite(ds["signal"].values).all()
    expected = bin_means(t, x, [0.0, 3.0], 0.1, 10)
    keep = ds["valid"].values
    np.testing.assert_allclose(ds["signal"].values[keep], expected[keep], rtol=0, atol=1e-12)


def test_trial_column_named_trial_is_kept_beside_the_row_ids(tmp_path, caplog):
    path = write_nwb_file(tmp_path / "trial_col.nwb", trial_column=[5, 6])
    with caplog.at_level(logging.WARNING, logger="alrnn_neuro.data.nwb_read"):
        ds = read_nwb(path, bin_size=0.1)
    assert ds["trial"].values.tolist() == [0, 1]
    assert ds["trial_column"].values.tolist() == [5, 6]
    assert ds["stop_column"].values.tolist() == ["s0", "s1"]
    assert ds["event_stop"].values.tolist() == [1.0, 1.0]  # stop_time, not the label
    assert "'trial' kept as trial coord 'trial_column'" in caplog.text
