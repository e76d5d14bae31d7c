"""Event recordings with everything a lab records: observed units per trial, per-trial clocks,
task inputs from the trial table; the CSV and HDF5 routes, `convert events` and `info`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.event_files import AttributeOverrideWarning, load_events
from alrnn_neuro.data.events import UnobservedSpikesWarning, bin_spike_times
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.plain_h5 import read_plain_h5
from alrnn_neuro.data.plain_layout import read_plain_events
from alrnn_neuro.errors import ConfigError, DataValidationError, EventTableError, FileFormatError

DOC = Path(__file__).resolve().parents[1] / "docs" / "dataset-format.md"


def _doc_block(language: str, index: int) -> str:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)[index]


def _write_doc_pseudo_population(folder: Path, monkeypatch) -> dict:
    """Run the docs' pseudo-population example (h5py only) in ``folder``; return its names."""
    monkeypatch.chdir(folder)
    namespace: dict = {"__name__": "__doc_example__"}
    exec(compile(_doc_block("python", 4), "dataset-format.md[4]", "exec"), namespace)
    return namespace


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alrnn_neuro", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )


# -- the documented pseudo-population file, end to end -------------------------------------------


def test_doc_pseudo_population_info_fit_analyze(tmp_path, monkeypatch):
    ns = _write_doc_pseudo_population(tmp_path, monkeypatch)
    ds = ns["ds"]
    recorded = ns["recorded"]
    # each trial recorded exactly its own unit; the others are unobserved and hold 0
    expected = np.asarray(recorded)[:, None] == np.array(ns["units"])[None, :]
    np.testing.assert_array_equal(ds["observed"].values, expected)
    assert not ds["spikes"].values[~np.broadcast_to(expected[:, None, :], ds["spikes"].shape)].any()
    assert ds["input"].values.tolist() == ["targets", "motion", "cue_left", "cue_right", "dots_on"]

    info = _cli("info", "pseudo_population.h5", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert re.search(r"observed \(trial × unit\)\s*│\s*20\.0%", info.stdout)
    assert "targets, motion, cue_left, cue_right, dots_on" in info.stdout
    assert "pseudo-population" not in info.stderr  # declared, so no warning

    fit = _cli("fit", "pseudo_population.h5", "--out", "runs/pseudo", "--epochs", "3", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    config = json.loads((tmp_path / "runs/pseudo/config.json").read_text())
    assert json.dumps(config).count("pseudo_population.h5") >= 1
    analyze = _cli("analyze", "runs/pseudo", "--n-null", "5", "--no-figures", cwd=tmp_path)
    assert analyze.returncode == 0, analyze.stderr
    assert any((tmp_path / "runs/pseudo/analysis").iterdir())


def test_doc_pseudo_population_counts_by_hand(tmp_path, monkeypatch):
    ds = _write_doc_pseudo_population(tmp_path, monkeypatch)["ds"]
    with h5py.File(tmp_path / "pseudo_population.h5") as f:
        dots_on = f["trials/dots_on"][()]
        stop = f["trials/stop"][()]
        for j, unit in enumerate(["u1", "u2", "u3", "u4", "u5"]):
            times, trials = f[f"spike_times/{unit}"][()], f[f"spike_trials/{unit}"][()]
            for trial in np.unique(trials)[:3]:
                rel = times[trials == trial] - dots_on[trial]  # s from dots on
                edges = -0.6 + 0.05 * np.arange(33)
                expected = np.histogram(rel, edges)[0]
                valid = (edges[1:] <= stop[trial] - dots_on[trial] + 1e-9) & (
                    edges[:-1] >= -dots_on[trial] - 1e-9
                )
                np.testing.assert_array_equal(ds["spikes"].values[trial, :, j], expected * valid)


def test_csv_folder_as_documented_equals_the_hdf5_file(tmp_path, monkeypatch):
    _write_doc_pseudo_population(tmp_path, monkeypatch)
    spike_times, trials, _ = read_plain_events(tmp_path / "pseudo_population.h5")
    folder = tmp_path / "csv"
    folder.mkdir()
    spike_times.to_csv(folder / "spikes.csv", index=False)
    trials.to_csv(folder / "trials.csv", index=False)
    pd.DataFrame({"id": [f"u{i}" for i in range(1, 6)], "area": ["LIP"] * 5}).to_csv(
        folder / "units.csv", index=False
    )
    (folder / "attrs.json").write_text(_doc_block("json", 0))
    from_csv = load_events(folder)
    from_h5 = read_plain_h5(tmp_path / "pseudo_population.h5")
    # the documented attrs.json declares two of the four inputs
    expected = from_h5.sel(input=["targets", "dots_on"])
    for name in ("spikes", "observed", "valid", "epoch", "inputs"):
        xr.testing.assert_equal(from_csv[name], expected[name])
    assert from_csv["prior_cue"].values.tolist() == from_h5["prior_cue"].values.tolist()


# -- observed units ------------------------------------------------------------------------------


def _two_unit_session():
    spikes = {"a": np.array([0.15, 0.35, 1.25]), "b": np.array([0.45, 1.15, 1.55])}
    trials = {"start": [0.0, 1.0], "stop": [0.8, 1.8]}
    return spikes, trials


@pytest.mark.parametrize(
    "observed",
    [
        ["a", "b"],
        [["a"], ["b"]],
        pd.DataFrame({"trial": [0, 1], "unit": ["a", "b"]}),
        np.array([[True, False], [False, True]]),
    ],
    ids=["unit-per-trial", "lists", "table", "mask"],
)
def test_observed_forms_give_the_same_mask(observed):
    spikes, trials = _two_unit_session()
    spikes = {"a": spikes["a"][:2], "b": spikes["b"][1:]}  # each unit spikes in its trial only
    ds = bin_spike_times(
        spikes, trials, bin_size=0.1, align="start", window=(0, 0.8), observed=observed
    )
    np.testing.assert_array_equal(ds["observed"].values, [[True, False], [False, True]])


def test_observed_units_column_with_several_units():
    spikes, trials = _two_unit_session()
    trials["observed_units"] = ["a;b", "b"]
    with pytest.warns(UnobservedSpikesWarning, match="1 spikes of units \\['a'\\]"):
        ds = bin_spike_times(spikes, trials, bin_size=0.1, align="start", window=(0, 0.8))
    np.testing.assert_array_equal(ds["observed"].values, [[True, True], [False, True]])
    assert ds["spikes"].sel(unit="a").values[1].sum() == 0  # dropped: not observed there
    assert "observed_units" not in ds.coords


def test_observed_unknown_unit_names_it():
    spikes, trials = _two_unit_session()
    with pytest.raises(DataValidationError, match="observed units \\['c'\\]"):
        bin_spike_times(
            spikes, trials, bin_size=0.1, align="start", window=(0, 0.8), observed=["a", "c"]
        )


def test_observed_table_unknown_trial():
    spikes, trials = _two_unit_session()
    table = pd.DataFrame({"trial": [0, 7], "unit": ["a", "b"]})
    with pytest.raises(EventTableError, match="trials \\[7\\]"):
        bin_spike_times(
            spikes, trials, bin_size=0.1, align="start", window=(0, 0.8), observed=table
        )


def test_hdf5_observed_dataset(tmp_path):
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f.attrs["layout"] = "events"
        f.attrs["bin_size"] = 0.1
        f["spike_times/a"] = [0.15, 0.35]
        f["spike_times/b"] = [1.15, 1.55]
        f["trials/start"] = [0.0, 1.0]
        f["trials/stop"] = [0.8, 1.8]
        f["observed"] = np.array([[True, False], [False, True]])
    ds = read_plain_h5(tmp_path / "e.h5")
    np.testing.assert_array_equal(ds["observed"].values, [[True, False], [False, True]])


# -- per-trial clocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("flat", [False, True])
def test_trial_clock_equals_session_clock(tmp_path, flat):
    rng = np.random.default_rng(7)
    start = np.array([0.0, 2.5, 4.0])
    stop = start + [1.5, 1.2, 1.9]
    stim = start + [0.4, 0.3, 0.6]
    session = {u: np.sort(rng.uniform(0, 6.0, 80)) for u in ("a", "b")}
    trials = {"start": start, "stop": stop, "stim": stim}
    reference = bin_spike_times(session, trials, bin_size=0.05, align="stim", window=(-0.3, 0.9))
    rows = []
    for unit, times in session.items():
        for i in range(3):
            inside = times[(times >= start[i]) & (times <= stop[i])]
            rows += [(unit, t - start[i], i + 10) for t in inside]  # trial ids 10, 11, 12
    table = pd.DataFrame(rows, columns=["unit", "time", "trial"])
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f.attrs["layout"] = "events"
        f.attrs["spike_clock"] = "trial"
        f.attrs["bin_size"] = 0.05
        f.attrs["align_event"] = "stim"
        f.attrs["window"] = [-0.3, 0.9]
        if flat:
            f["spike_times"] = table["time"].to_numpy()
            f["spike_units"] = table["unit"].to_numpy().astype("S")
            f["spike_trials"] = table["trial"].to_numpy()
        else:
            for unit, rows_of in table.groupby("unit"):
                f[f"spike_times/{unit}"] = rows_of["time"].to_numpy()
                f[f"spike_trials/{unit}"] = rows_of["trial"].to_numpy()
        f["trials/trial"] = [10, 11, 12]
        f["trials/start"] = np.zeros(3)  # every trial on its own clock
        f["trials/stop"] = stop - start
        f["trials/stim"] = stim - start
    ds = read_plain_h5(tmp_path / "t.h5")
    np.testing.assert_array_equal(ds["spikes"].values, reference["spikes"].values)
    assert ds["trial"].values.tolist() == [10, 11, 12]


def test_trial_clock_needs_trial_ids():
    with pytest.raises(DataValidationError, match="spike_clock='trial' needs"):
        bin_spike_times(
            {"a": [0.1]},
            {"start": [0.0], "stop": [1.0]},
            bin_size=0.1,
            align="start",
            window=(0, 1),
            spike_clock="trial",
        )


def test_unknown_spike_clock():
    with pytest.raises(ConfigError, match="spike_clock='wall'"):
        bin_spike_times(
            {"a": [0.1]},
            {"start": [0.0], "stop": [1.0]},
            bin_size=0.1,
            align="start",
            window=(0, 1),
            spike_clock="wall",
        )


# -- task inputs ---------------------------------------------------------------------------------


def _input_session():
    trials = {
        "start": [0.0, 2.0],
        "stop": [1.0, 3.0],
        "cue": [0.2, 2.3],
        "go": [0.6, np.nan],
        "coherence": [0.5, -0.25],
        "rule": ["x", "y"],
    }
    return {"a": np.array([0.5, 2.5])}, trials


def test_input_specs_by_hand():
    spikes, trials = _input_session()
    inputs = {
        "cue": "step(cue, go)",
        "go": "pulse(go)",
        "go_long": "pulse(go, 0.25)",
        "coh": "value(coherence, cue, stop) * 2",
        "rule": "onehot(rule)",
    }
    ds = bin_spike_times(spikes, trials, bin_size=0.1, align="start", window=(0, 1), inputs=inputs)
    x = ds["inputs"]
    assert x["input"].values.tolist() == ["cue", "go", "go_long", "coh", "rule_x", "rule_y"]
    # bin centres 0.05 .. 0.95 s from start; cue at 0.2 / 0.3, go at 0.6 / never
    assert x.sel(input="cue").values.tolist() == [
        [0, 0, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # no go: step(cue, go) never ends, never starts
    ]
    assert x.sel(input="go").values.tolist() == [[0, 0, 0, 0, 0, 0, 1, 0, 0, 0], [0] * 10]
    assert x.sel(input="go_long").values[0].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 0]
    np.testing.assert_allclose(x.sel(input="coh").values[0], [0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(x.sel(input="coh").values[1], [0, 0, 0] + [-0.5] * 7)
    assert x.sel(input="rule_y").values.tolist() == [[0] * 10, [1] * 10]
    assert ds.attrs["input_specs"][0] == "cue=step(cue, go)"
    assert "coherence" in ds.coords and "event_coherence" not in ds.coords


@pytest.mark.parametrize(
    "spec, error, match",
    [
        ("steps(cue, go)", ConfigError, "not a known spec"),
        ("step(cue)", ConfigError, "not a known spec"),
        ("pulse(go, -1)", ConfigError, "DURATION"),
        (
            "step(cue, saccade)",
            EventTableError,
            "\\['saccade'\\] named in epochs, events or inputs",
        ),
        ("value(rule)", EventTableError, "not numeric"),
        ("onehot(block)", EventTableError, "column 'block'"),
    ],
)
def test_input_spec_errors(spec, error, match):
    spikes, trials = _input_session()
    with pytest.raises(error, match=match):
        bin_spike_times(
            spikes, trials, bin_size=0.1, align="start", window=(0, 1), inputs={"x": spec}
        )


# -- convert events honours the file; info warns -------------------------------------------------


def _declared_file(path: Path) -> Path:
    rng = np.random.default_rng(3)
    start = np.arange(6) * 3.0
    with h5py.File(path, "w") as f:
        f.attrs["layout"] = "events"
        f.attrs["bin_size"] = 0.02
        f.attrs["align_event"] = "stim_on"
        f.attrs["window"] = [-0.4, 0.52]
        f.attrs["epochs"] = ["fix", "stim_on", "go"]
        f.attrs["inputs"] = [["go", "pulse(go)"]]
        f["spike_times/a"] = np.sort(rng.uniform(0, 18, 200))
        f["trials/start"] = start
        f["trials/stop"] = start + 2.0
        f["trials/fix"] = start + 0.2
        f["trials/stim_on"] = start + 0.7
        f["trials/go"] = start + 1.1
    return path


def test_convert_events_uses_the_files_attributes(tmp_path, capsys):
    source = _declared_file(tmp_path / "declared.h5")
    main(["convert", "events", str(source), "--out", str(tmp_path / "out.h5")])
    err = capsys.readouterr().err
    assert "overrides" not in err
    converted = load_dataset(tmp_path / "out.h5")
    direct = read_plain_h5(source)
    assert converted.sizes["time"] == 46 and converted.attrs["align_event"] == "stim_on"
    for name in ("spikes", "inputs", "epoch", "valid"):
        xr.testing.assert_equal(converted[name], direct[name])
    assert set(np.unique(converted["epoch"].values)) == {"fix", "stim_on", "go"}


def test_convert_events_flag_override_warns(tmp_path, capsys):
    source = _declared_file(tmp_path / "declared.h5")
    args = ["convert", "events", str(source), "--out", str(tmp_path / "out.h5")]
    main([*args, "--align", "start", "--bin-size", "0.05", "--input", "go=pulse(stim_on)"])
    err = capsys.readouterr().err
    assert "align='start' overrides the value 'stim_on'" in err
    assert "bin_size=0.05 overrides the value 0.02" in err
    assert "input go='pulse(stim_on)' overrides go='pulse(go)'" in err
    assert load_dataset(tmp_path / "out.h5").attrs["align_event"] == "start"


def test_convert_events_bad_input_flag_exits_2(tmp_path, capsys):
    source = _declared_file(tmp_path / "declared.h5")
    out = tmp_path / "out.h5"
    with pytest.raises(SystemExit) as caught:
        main(["convert", "events", str(source), "--out", str(out), "--input", "go"])
    assert caught.value.code == 2
    assert "NAME=SPEC" in capsys.readouterr().err
    assert not out.exists()


def test_load_events_warns_on_override(tmp_path):
    source = _declared_file(tmp_path / "declared.h5")
    with pytest.warns(AttributeOverrideWarning, match="window"):
        load_events(source, window=(-0.2, 0.2))


def test_info_warns_on_an_undeclared_pseudo_population(tmp_path, monkeypatch):
    _write_doc_pseudo_population(tmp_path, monkeypatch)
    with h5py.File(tmp_path / "pseudo_population.h5", "a") as f:
        del f["trials/observed_units"]
        f.attrs["spike_clock"] = "trial"
    info = _cli("info", "pseudo_population.h5", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "100.0%" in info.stdout
    assert "looks like a pseudo-population" in " ".join(info.stderr.split())


def test_csv_folder_with_observed_table_and_trial_clock(tmp_path):
    folder = tmp_path / "session"
    folder.mkdir()
    pd.DataFrame({"unit": ["a", "a", "b"], "time": [0.15, 0.35, 0.25], "trial": [7, 7, 8]}).to_csv(
        folder / "spikes.csv", index=False
    )
    pd.DataFrame({"trial": [7, 8], "start": [0.0, 0.0], "stop": [0.8, 0.8]}).to_csv(
        folder / "trials.csv", index=False
    )
    pd.DataFrame({"trial": [7, 8], "unit": ["a", "b"]}).to_csv(folder / "observed.csv", index=False)
    (folder / "attrs.json").write_text(json.dumps({"spike_clock": "trial", "bin_size": 0.1}))
    ds = load_events(folder)
    np.testing.assert_array_equal(ds["observed"].values, [[True, False], [False, True]])
    assert ds["spikes"].sel(unit="a").values[0].tolist() == [0, 1, 0, 1, 0, 0, 0, 0]
    assert ds["spikes"].sel(unit="b").values[1].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]


def test_attrs_json_unknown_key(tmp_path):
    folder = tmp_path / "session"
    folder.mkdir()
    pd.DataFrame({"unit": ["a"], "time": [0.1]}).to_csv(folder / "spikes.csv", index=False)
    pd.DataFrame({"start": [0.0], "stop": [1.0]}).to_csv(folder / "trials.csv", index=False)
    (folder / "attrs.json").write_text(json.dumps({"binsize": 0.1}))
    with pytest.raises(FileFormatError, match="unknown keys \\['binsize'\\]"):
        load_events(folder)
