"""Tests of the plain HDF5 layouts (alrnn_neuro.data.plain_h5) and of docs/dataset-format.md."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.data.event_files import AttributeOverrideWarning
from alrnn_neuro.data.events import bin_spike_times
from alrnn_neuro.data.plain_h5 import read_plain_h5
from alrnn_neuro.data.plain_layout import read_plain_events
from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError, EventTableError, FileFormatError

DOC = Path(__file__).resolve().parents[1] / "docs" / "dataset-format.md"


def _doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def _run_block(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__doc_example__"}
    exec(compile(_doc_blocks()[index], f"{DOC.name}[{index}]", "exec"), namespace)
    return namespace


def test_doc_has_the_expected_examples():
    blocks = _doc_blocks()
    assert len(blocks) == 5
    assert '"binned"' in blocks[1] and '"events"' in blocks[2] and "spike_units" in blocks[3]
    assert "spike_trials" in blocks[4] and "observed_units" in blocks[4]


def test_doc_example_spike_times(tmp_path, monkeypatch):
    ns = _run_block(0, tmp_path, monkeypatch)
    ds = ns["ds"]
    # n1 spikes relative to stim_on: trial 0 -0.38 .05 .11; trial 1 -.15 .02 .48
    assert ds["spikes"].sel(unit="n1").values.tolist() == [
        [0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0],
    ]
    np.testing.assert_allclose(ds["event_go"].values, [0.4, np.nan])


def test_doc_example_binned(tmp_path, monkeypatch):
    ns = _run_block(1, tmp_path, monkeypatch)
    ds, lengths = ns["ds"], ns["lengths"]
    np.testing.assert_array_equal(ds["spikes"].values, ns["spikes"])
    np.testing.assert_array_equal(ds["valid"].values.sum(axis=1), lengths)
    np.testing.assert_allclose(ds["time"].values[:2], [-0.225, -0.175])
    assert ds["input"].values.tolist() == ["motion", "go"]
    assert ds["choice"].values.tolist() == ["left", "right", "left"]
    assert ds["area"].values.tolist() == ["LIP", "LIP", "FEF", "FEF"]
    assert ds["epoch"].values[1, 14:16].tolist() == ["stimulus", ""]
    assert ds.attrs["align_event"] == "stim_on"


def test_doc_example_events_equals_direct_binning(tmp_path, monkeypatch):
    ns = _run_block(2, tmp_path, monkeypatch)
    spike_times, trials, options = read_plain_events(tmp_path / "session_events.h5")
    direct = bin_spike_times(
        spike_times,
        trials,
        bin_size=0.05,
        align="stim_on",
        window=(-0.5, 1.0),
        epochs=[
            ("fixation", "fix_on", "stim_on"),
            ("stimulus", "stim_on", "go"),
            ("response", "go", "stop"),
        ],
        unit_coords={"area": ["LIP", "LIP", "FEF"]},
    )
    assert options["source"].endswith("session_events.h5")
    direct.attrs["source"] = ns["ds"].attrs["source"]
    xr.testing.assert_identical(ns["ds"], direct)
    assert ns["ds"]["epoch"].values[0, 9:11].tolist() == ["fixation", "stimulus"]


def test_doc_example_flat_spike_times(tmp_path, monkeypatch):
    ds = _run_block(3, tmp_path, monkeypatch)["ds"]
    assert ds["unit"].values.tolist() == ["0", "1", "2", "3", "4"]
    rng = np.random.default_rng(2)  # the same draws as the example
    times = np.sort(rng.uniform(0.0, 4.0, size=300))
    units = rng.integers(0, 5, size=times.size)
    for trial, (start, stop, stim) in enumerate([(0.0, 1.5, 0.5), (2.0, 3.8, 2.4)]):
        inside = (times >= max(stim - 0.5, start)) & (times < min(stim + 1.0, stop))
        expected = np.bincount(units[inside], minlength=5)
        np.testing.assert_array_equal(ds["spikes"].values[trial].sum(axis=0), expected)


# -- round trips --------------------------------------------------------------------------------


def _canonical() -> xr.Dataset:
    rng = np.random.default_rng(5)
    valid = np.arange(6)[None, :] < np.array([6, 4, 5])[:, None]
    spikes = np.where(valid[:, :, None], rng.poisson(2.0, (3, 6, 2)), 0).astype(np.int32)
    return make_dataset(
        spikes,
        inputs=np.where(valid[:, :, None], rng.normal(size=(3, 6, 1)), 0).astype(np.float32),
        input_names=["motion"],
        valid=valid,
        epoch=np.where(valid, np.where(np.arange(6) < 2, "pre", "stim"), ""),
        time=-0.1 + (np.arange(6) + 0.5) * 0.1,
        bin_size=0.1,
        align_event="stim",
        trial_coords={"choice": np.array(["L", "R", "L"]), "event_go": np.array([0.3, 0.2, 0.4])},
        unit_coords={"area": np.array(["LIP", "FEF"])},
        unit_ids=["a", "b"],
        trial_ids=np.array([4, 5, 9]),
        source="roundtrip",
    )


def _write_binned(path: Path, ds: xr.Dataset, transpose: bool = False) -> None:
    with h5py.File(path, "w") as f:
        f.attrs.update(layout="binned", bin_size=0.1, align_event=b"stim", t_start=-0.1)
        f.attrs["source"] = "roundtrip"
        if transpose:
            f["spikes"] = ds["spikes"].values.transpose(2, 0, 1)
            f["spikes"].attrs["dims"] = ["unit", "trial", "time"]
        else:
            f["spikes"] = ds["spikes"].values
        f["inputs"] = ds["inputs"].values
        f["input_names"] = np.array([b"motion"])
        f["valid"] = ds["valid"].values
        f["epoch"] = ds["epoch"].values.astype("S")  # fixed-length bytes
        f["trials/id"] = ds["trial"].values
        f["trials/choice"] = ds["choice"].values.astype("S")
        f["trials/event_go"] = ds["event_go"].values
        f.create_dataset("units/id", data=["a", "b"], dtype=h5py.string_dtype())
        f["units/area"] = np.array([b"LIP", b"FEF"], dtype=object)


@pytest.mark.parametrize("transpose", [False, True])
def test_binned_round_trip(tmp_path, transpose):
    ds = _canonical()
    _write_binned(tmp_path / "b.h5", ds, transpose)
    xr.testing.assert_identical(read_plain_h5(tmp_path / "b.h5"), ds)


def test_binned_window_crops_bins(tmp_path):
    ds = _canonical()
    _write_binned(tmp_path / "b.h5", ds)
    cropped = read_plain_h5(tmp_path / "b.h5", window=(0.0, 0.3))
    xr.testing.assert_identical(cropped, ds.isel(time=slice(1, 4)))


def _session():
    rng = np.random.default_rng(11)
    spikes = {u: np.sort(rng.uniform(0, 9, 40)) for u in ("u1", "u2", "u3")}
    trials = {
        "start": np.array([0.0, 3.0, 6.0]),
        "stop": np.array([2.0, 5.5, 8.0]),
        "stim": np.array([0.5, 3.4, 6.6]),
        "go": np.array([1.5, 4.4, np.nan]),
        "rule": np.array(["color", "motion", "color"]),
    }
    return spikes, trials


def _write_events(path: Path, flat: bool = False, **attrs) -> None:
    spikes, trials = _session()
    with h5py.File(path, "w") as f:
        f.attrs.update(layout="events", **attrs)
        if flat:
            f["spike_times"] = np.concatenate(list(spikes.values()))
            f["spike_units"] = np.repeat(list(spikes), [v.size for v in spikes.values()]).astype(
                "S"
            )
        else:
            for unit, times in spikes.items():
                f[f"spike_times/{unit}"] = times
        for name, values in trials.items():
            f[f"trials/{name}"] = values.astype("S") if values.dtype.kind == "U" else values


@pytest.mark.parametrize("flat", [False, True])
def test_events_round_trip(tmp_path, flat):
    _write_events(tmp_path / "e.h5", flat, bin_size=0.1, align_event="stim", window=[-0.4, 1.2])
    spikes, trials = _session()
    direct = bin_spike_times(spikes, trials, bin_size=0.1, align="stim", window=(-0.4, 1.2))
    loaded = read_plain_h5(tmp_path / "e.h5")
    assert loaded.attrs["source"] == str(tmp_path / "e.h5")
    direct.attrs["source"] = loaded.attrs["source"]
    xr.testing.assert_identical(loaded, direct)


def test_events_arguments_override_attrs(tmp_path):
    # the file's defaults would fail (no go cue in trial 2); the arguments win
    _write_events(tmp_path / "e.h5", bin_size=0.1, align_event="go", window=[-1.0, 1.0])
    with h5py.File(tmp_path / "e.h5", "a") as f:
        f.attrs["epochs"] = ["stim", "go"]
    spikes, trials = _session()
    with pytest.warns(AttributeOverrideWarning) as caught:
        loaded = read_plain_h5(tmp_path / "e.h5", bin_size=0.25, align="stim", window=(-0.5, 0.5))
    assert sorted(str(w.message).split("=")[0] for w in caught) == ["align", "bin_size", "window"]
    direct = bin_spike_times(
        spikes, trials, bin_size=0.25, align="stim", window=(-0.5, 0.5), epochs=["stim", "go"]
    )
    direct.attrs["source"] = loaded.attrs["source"]
    xr.testing.assert_identical(loaded, direct)


def test_events_default_window_covers_every_trial(tmp_path):
    _write_events(tmp_path / "e.h5", bin_size=0.1, align_event="stim", epochs=["stim", "go"])
    covering = read_plain_h5(tmp_path / "e.h5")
    # start - stim = [-0.5, -0.4, -0.6], stop - stim = [1.5, 2.1, 1.4]
    np.testing.assert_allclose(covering.attrs["window"], [-0.6, 2.1])
    assert covering["valid"].values.sum(axis=1).tolist() == [20, 25, 20]
    assert covering["epoch"].values[0, 5:7].tolist() == ["pre", "stim"]


def test_events_units_group_orders_units_and_adds_silent_ones(tmp_path):
    _write_events(tmp_path / "e.h5", bin_size=0.1, align_event="stim", window=[-0.4, 1.2])
    with h5py.File(tmp_path / "e.h5", "a") as f:
        f["units/id"] = [b"u3", b"u9", b"u1", b"u2"]
        f["units/depth"] = [100.0, 200.0, 300.0, 400.0]
    with pytest.warns(UserWarning, match="u9"):
        ds = read_plain_h5(tmp_path / "e.h5")
    assert ds["unit"].values.tolist() == ["u3", "u9", "u1", "u2"]
    assert ds["depth"].sel(unit="u1").item() == 300.0


# -- errors: one call per pytest.raises ---------------------------------------------------------


def test_not_hdf5(tmp_path):
    path = tmp_path / "data.h5"
    path.write_text("not hdf5")
    with pytest.raises(FileFormatError, match=r"data.h5: not an HDF5 file"):
        read_plain_h5(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        read_plain_h5(tmp_path / "absent.h5")


def test_missing_layout_attribute(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["spikes"] = np.zeros((1, 2, 1))
    with pytest.raises(FileFormatError, match=r"layout=None; fix: f.attrs\['layout'\]"):
        read_plain_h5(tmp_path / "x.h5")


def _binned(tmp_path: Path, **datasets) -> Path:
    path = tmp_path / "b.h5"
    with h5py.File(path, "w") as f:
        f.attrs.update(layout="binned", bin_size=0.05, align_event="stim")
        for name, values in datasets.items():
            f[name] = values
    return path


def test_binned_missing_data(tmp_path):
    path = _binned(tmp_path, valid=np.ones((2, 3), bool))
    with pytest.raises(FileFormatError, match=r"needs exactly one dataset 'spikes'.*neither"):
        read_plain_h5(path)


def test_binned_wrong_ndim(tmp_path):
    path = _binned(tmp_path, spikes=np.zeros((2, 3)))
    with pytest.raises(FileFormatError, match=r"'spikes' has 2 dims.*expected 3"):
        read_plain_h5(path)


def test_binned_misnamed_dims(tmp_path):
    path = _binned(tmp_path, spikes=np.zeros((2, 3, 1)))
    with h5py.File(path, "a") as f:
        f["spikes"].attrs["dims"] = ["trials", "bins", "neurons"]
    with pytest.raises(FileFormatError, match=r"dims \['trials', 'bins', 'neurons'\], expected"):
        read_plain_h5(path)


def test_binned_inputs_shape(tmp_path):
    path = _binned(tmp_path, spikes=np.zeros((2, 3, 1)), inputs=np.zeros((2, 4, 1)))
    with pytest.raises(FileFormatError, match=r"'inputs' has shape \(2, 4, 1\)"):
        read_plain_h5(path)


def test_binned_negative_counts(tmp_path):
    path = _binned(tmp_path, spikes=-np.ones((2, 3, 1)))
    with pytest.raises(DataValidationError, match="negative counts"):
        read_plain_h5(path)


def test_binned_fractional_counts(tmp_path):
    path = _binned(tmp_path, spikes=np.full((2, 3, 1), 0.5))
    with pytest.raises(DataValidationError, match="fractional"):
        read_plain_h5(path)


def test_binned_nan_on_valid_steps(tmp_path):
    signal = np.zeros((2, 3, 1))
    signal[1, 1, 0] = np.nan
    path = _binned(tmp_path, signal=signal, trial_lengths=[3, 2])
    with pytest.raises(DataValidationError, match="NaN/inf on valid steps"):
        read_plain_h5(path)


def test_binned_nan_on_padded_steps_is_fine(tmp_path):
    signal = np.zeros((2, 3, 1))
    signal[1, 2, 0] = np.nan
    ds = read_plain_h5(_binned(tmp_path, signal=signal, trial_lengths=[3, 2]))
    assert ds["signal"].values[1, 2, 0] == 0


def test_binned_bad_trial_lengths(tmp_path):
    path = _binned(tmp_path, spikes=np.zeros((2, 3, 1)), trial_lengths=[3, 4])
    with pytest.raises(FileFormatError, match=r"'trial_lengths' must be 2 bin counts in \[0, 3\]"):
        read_plain_h5(path)


def test_binned_bad_bin_size_attr(tmp_path):
    path = _binned(tmp_path, spikes=np.zeros((2, 3, 1)))
    with h5py.File(path, "a") as f:
        f.attrs["bin_size"] = 0.0
    with pytest.raises(FileFormatError, match="bin_size=.*0.0.* is not a positive number"):
        read_plain_h5(path)


def test_binned_cannot_rebin(tmp_path):
    path = _binned(tmp_path, spikes=np.zeros((2, 3, 1)))
    with pytest.raises(ConfigError, match="are not re-binned"):
        read_plain_h5(path, bin_size=0.1)


def test_binned_cannot_realign(tmp_path):
    path = _binned(tmp_path, spikes=np.zeros((2, 3, 1)))
    with pytest.raises(ConfigError, match="cannot be re-aligned"):
        read_plain_h5(path, align="go")


def test_bin_size_argument_must_be_positive(tmp_path):
    _write_events(tmp_path / "e.h5")
    with pytest.raises(ConfigError, match=r"bin_size=-0.1 s must be > 0"):
        read_plain_h5(tmp_path / "e.h5", bin_size=-0.1)


def test_events_need_a_bin_size(tmp_path):
    _write_events(tmp_path / "e.h5")
    with pytest.raises(ConfigError, match="bin size is not given"):
        read_plain_h5(tmp_path / "e.h5")


def test_events_unknown_align(tmp_path):
    _write_events(tmp_path / "e.h5", bin_size=0.1)
    with pytest.raises(EventTableError, match=r"align='sac'.*available columns.*'stim'"):
        read_plain_h5(tmp_path / "e.h5", align="sac")


def test_events_missing_spike_times(tmp_path):
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f.attrs["layout"] = "events"
        f["trials/start"] = [0.0]
    with pytest.raises(FileFormatError, match="'spike_times' is missing"):
        read_plain_h5(tmp_path / "e.h5", bin_size=0.1)


def test_events_missing_spike_units(tmp_path):
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f.attrs["layout"] = "events"
        f["spike_times"] = [0.1, 0.2]
    with pytest.raises(FileFormatError, match="'spike_units' is missing"):
        read_plain_h5(tmp_path / "e.h5", bin_size=0.1)


def test_events_missing_trial_stop(tmp_path):
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f.attrs["layout"] = "events"
        f["spike_times/a"] = [0.1]
        f["trials/start"] = [0.0]
    with pytest.raises(FileFormatError, match=r"\['trials/stop'\] missing"):
        read_plain_h5(tmp_path / "e.h5", bin_size=0.1)


def test_events_trial_columns_differ_in_length(tmp_path):
    _write_events(tmp_path / "e.h5", bin_size=0.1)
    with h5py.File(tmp_path / "e.h5", "a") as f:
        f["trials/extra"] = [1.0]
    with pytest.raises(FileFormatError, match="differ in length"):
        read_plain_h5(tmp_path / "e.h5")


def test_load_dataset_dispatches_to_plain_reader(tmp_path):
    from alrnn_neuro.data.h5 import load_dataset

    _write_events(tmp_path / "e.h5", bin_size=0.1, align_event="stim", window=[-0.4, 1.2])
    xr.testing.assert_identical(load_dataset(tmp_path / "e.h5"), read_plain_h5(tmp_path / "e.h5"))
