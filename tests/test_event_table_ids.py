"""Unit ids of event recordings are text, never missing; a spike's trial is never ignored."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from alrnn_neuro.data.event_files import load_events
from alrnn_neuro.data.events import SilentUnitWarning, bin_spike_times
from alrnn_neuro.errors import DataValidationError

TRIALS = "start,stop,stim_on\n0.0,1.0,0.2\n3.0,4.0,3.2\n"


def _folder(tmp_path, spikes: str, trials: str = TRIALS, **extra: str):
    folder = tmp_path / "session"
    folder.mkdir()
    (folder / "spikes.csv").write_text(spikes)
    (folder / "trials.csv").write_text(trials)
    for name, text in extra.items():
        (folder / name.replace("_csv", ".csv").replace("_json", ".json")).write_text(text)
    return folder


def _convert(source, out, *flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "alrnn_neuro", "convert", "events", str(source)]
    return subprocess.run(
        [*command, "--out", str(out), "--bin-size", "0.1", *flags],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _events_h5(path, **datasets) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["layout"] = "events"
        f["trials/start"], f["trials/stop"] = [0.0, 3.0], [1.0, 4.0]
        for name, values in datasets.items():
            f[name.replace("__", "/")] = values


# -- unit ids are text, exactly as written -------------------------------------------------------


def test_csv_unit_ids_keep_leading_zeros(tmp_path):
    folder = _folder(tmp_path, "unit,time\n01,0.15\n1,0.25\n007,0.35\n")
    ds = load_events(folder, bin_size=0.1)
    assert ds["unit"].values.tolist() == ["01", "1", "007"]
    spikes = ds["spikes"].values
    assert spikes.sum() == 3 and spikes.sum(axis=(0, 1)).tolist() == [1, 1, 1]
    assert ds["spikes"].sel(unit="01").values[0].tolist()[1] == 1
    assert ds["spikes"].sel(unit="007").values[0].tolist()[3] == 1


def test_csv_numeric_ids_stay_in_numeric_order_and_lossless(tmp_path):
    folder = _folder(tmp_path, "unit,time\n10,0.15\n2,0.25\n1,3.35\n2,0.55\n")
    ds = load_events(folder, bin_size=0.1)
    assert ds["unit"].values.tolist() == ["1", "2", "10"]
    assert ds["spikes"].sum(axis=(0, 1)).values.tolist() == [1, 2, 1]


def test_csv_ids_match_units_and_observed_tables_as_text(tmp_path):
    folder = _folder(
        tmp_path,
        "unit,time\n01,0.15\n1,3.25\n",
        units_csv="id,area\n01,LIP\n1,FEF\n007,LIP\n",
        observed_csv="trial,unit\n0,01\n1,1\n1,007\n",
    )
    with pytest.warns(SilentUnitWarning, match="007"):
        ds = load_events(folder, bin_size=0.1)
    assert ds["unit"].values.tolist() == ["01", "1", "007"]
    assert ds["area"].values.tolist() == ["LIP", "FEF", "LIP"]
    np.testing.assert_array_equal(ds["observed"].values, [[1, 0, 0], [0, 1, 1]])
    assert ds["spikes"].sum(axis=(0, 1)).values.tolist() == [1, 1, 0]


def test_csv_observed_units_column_is_text(tmp_path):
    trials = "start,stop,observed_units\n0.0,1.0,01\n3.0,4.0,1\n"
    ds = load_events(_folder(tmp_path, "unit,time\n01,0.15\n1,3.25\n", trials), bin_size=0.1)
    np.testing.assert_array_equal(ds["observed"].values, [[1, 0], [0, 1]])


def test_csv_blank_unit_with_numeric_ids_is_refused(tmp_path):
    folder = _folder(tmp_path, "unit,time\n1,0.15\n,0.2\n2,0.25\n")
    with pytest.raises(DataValidationError, match=r"column 'unit' is blank or NaN on line 3;"):
        load_events(folder, bin_size=0.1)


def test_csv_blank_units_name_every_line(tmp_path):
    folder = _folder(tmp_path, "unit,time\na,0.15\n,0.2\nb,0.25\n  ,0.3\n")
    with pytest.raises(DataValidationError, match=r"on lines 3, 5; fix: write the unit id"):
        load_events(folder, bin_size=0.1)


def test_csv_blank_unit_id_in_units_csv_is_refused(tmp_path):
    folder = _folder(tmp_path, "unit,time\na,0.15\n", units_csv="id,area\na,X\n,Y\n")
    with pytest.raises(DataValidationError, match=r"units.csv column 'id' is blank or NaN"):
        load_events(folder, bin_size=0.1)


def test_cli_blank_unit_with_text_ids_is_one_line_exit_2(tmp_path):
    folder = _folder(tmp_path, "unit,time\na,0.15\n,0.2\nb,0.25\n")
    out = tmp_path / "out.h5"
    result = _convert(folder, out)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "spikes.csv column 'unit' is blank or NaN on line 3" in lines[0]
    assert not out.exists()


def test_dataframe_with_missing_unit_is_refused():
    frame = pd.DataFrame({"unit": ["a", None, "b"], "time": [0.1, 0.2, 0.3]})
    with pytest.raises(DataValidationError, match=r"column 'unit' is blank or NaN on row 1"):
        bin_spike_times(
            frame, {"start": [0.0], "stop": [1.0]}, bin_size=0.1, align="start", window=(0, 1)
        )


def test_dataframe_with_int_and_text_ids_bins():
    frame = pd.DataFrame({"unit": [1, "a", 1], "time": [0.15, 0.25, 0.55]})
    ds = bin_spike_times(
        frame, {"start": [0.0], "stop": [1.0]}, bin_size=0.1, align="start", window=(0.0, 1.0)
    )
    assert ds["unit"].values.tolist() == ["1", "a"]
    assert ds["spikes"].sum(axis=(0, 1)).values.tolist() == [2, 1]


def test_h5_flat_nan_unit_is_refused(tmp_path):
    path = tmp_path / "flat.h5"
    _events_h5(path, spike_times=[0.15, 0.25, 0.55], spike_units=[1.0, np.nan, 1.0])
    with pytest.raises(DataValidationError, match=r"spike_units .* is blank or NaN on spike 1;"):
        load_events(path, bin_size=0.1)


def test_h5_flat_ids_convert_losslessly(tmp_path):
    path = tmp_path / "flat.h5"
    _events_h5(path, spike_times=[0.15, 0.25, 0.55, 3.3], spike_units=[10, 2, 10, 2])
    ds = load_events(path, bin_size=0.1)
    assert ds["unit"].values.tolist() == ["2", "10"]
    assert ds["spikes"].sum(axis=(0, 1)).values.tolist() == [2, 2]


# -- the trial of each spike is never ignored ----------------------------------------------------


def test_csv_trial_column_without_spike_clock_is_refused(tmp_path):
    folder = _folder(
        tmp_path, "unit,time,trial\na,.15,0\nb,.25,1\n", "trial,start,stop\n0,0,1\n1,0,1\n"
    )
    with pytest.raises(DataValidationError, match=r"'trial' column .* spike_clock='session'"):
        load_events(folder, bin_size=0.1)


def test_cli_trial_column_without_spike_clock_exit_2(tmp_path):
    folder = _folder(
        tmp_path, "unit,time,trial\na,.15,0\nb,.25,1\n", "trial,start,stop\n0,0,1\n1,0,1\n"
    )
    out = tmp_path / "out.h5"
    result = _convert(folder, out)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "spike_clock='trial'" in lines[0]
    assert not out.exists()


def test_csv_trial_column_with_declared_trial_clock_counts_each_spike_once(tmp_path):
    folder = _folder(
        tmp_path,
        "unit,time,trial\na,.15,0\nb,.25,1\n",
        "trial,start,stop\n0,0,1\n1,0,1\n",
        attrs_json=json.dumps({"spike_clock": "trial"}),
    )
    ds = load_events(folder, bin_size=0.1)
    np.testing.assert_array_equal(ds["spikes"].sum(axis=1).values, [[1, 0], [0, 1]])


@pytest.mark.parametrize("flat", [False, True])
def test_h5_spike_trials_without_spike_clock_is_refused(tmp_path, flat):
    path = tmp_path / "trials.h5"
    if flat:
        spikes = {"spike_times": [0.15, 0.25], "spike_units": [b"a", b"b"], "spike_trials": [0, 1]}
    else:
        spikes = {"spike_times__a": [0.15], "spike_times__b": [0.25]}
        spikes |= {"spike_trials__a": [0], "spike_trials__b": [1]}
    _events_h5(path, **spikes)
    with pytest.raises(DataValidationError, match=r"spike_clock='session'.*HDF5 spike_trials"):
        load_events(path, bin_size=0.1)


def test_an_epoch_event_missing_from_the_trials_is_named_when_aligned_on_start():
    # align defaults to "start": the deduplicated event list no longer had the align event at
    # position 2, so the check was skipped and labelling raised KeyError('nope')
    from alrnn_neuro.data.epochs import event_columns
    from alrnn_neuro.errors import EventTableError

    table = {"start": np.array([0.0, 3.0]), "stop": np.array([2.0, 5.0])}
    with pytest.raises(EventTableError, match=r"\['nope'\].*not trial-table columns"):
        event_columns(table, ["start", "stop", "start", "nope"], None, np.array([0, 1]))
