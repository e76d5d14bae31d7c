"""Tests of spike-time binning (alrnn_neuro.data.events / binning / epochs)."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alrnn_neuro.data.event_files import read_event_tables
from alrnn_neuro.data.events import SilentUnitWarning, bin_spike_times, covering_window
from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError, EventTableError, FileFormatError


def _trials() -> dict:
    """Two trials; trial 1 ends early (stop at stim + 0.5 s), so its last bins are padded."""
    return {
        "start": [0.0, 10.0],
        "stop": [2.0, 11.0],
        "fix": [0.1, 10.2],
        "stim": [0.5, 10.5],
        "go": [1.2, np.nan],
        "choice": ["L", "R"],
        "correct": [True, False],
        "block": [1, 2],
    }


def _bin(spikes=None, trials=None, **kwargs):
    options = {"bin_size": 0.25, "align": "stim", "window": (-0.5, 1.0)} | kwargs
    spikes = {"a": [0.0], "b": [10.3]} if spikes is None else spikes
    return bin_spike_times(spikes, _trials() if trials is None else trials, **options)


def test_counts_by_hand_edges_window_and_padding():
    # bins relative to stim: [-.5,-.25) [-.25,0) [0,.25) [.25,.5) [.5,.75) [.75,1.0)
    spikes_a = [0.0, 0.25, 0.49, 0.5, 1.49, 1.5, -0.1, 5.0, 10.74, 10.75, 11.1]
    ds = _bin({"a": spikes_a, "b": [10.3]})
    # 0.0 and 0.25 sit exactly on left edges; 1.5 is the right edge of the window (excluded);
    # 11.1 falls in a bin of trial 1 that ends after stop (padded, not counted)
    assert ds["spikes"].sel(unit="a").values.tolist() == [[1, 2, 1, 0, 0, 1], [0, 0, 1, 1, 0, 0]]
    assert ds["valid"].values.tolist() == [[True] * 6, [True] * 4 + [False] * 2]
    np.testing.assert_allclose(ds["time"].values, [-0.375, -0.125, 0.125, 0.375, 0.625, 0.875])
    assert ds["spikes"].dtype.kind == "i"
    assert ds.attrs["align_event"] == "stim" and ds.attrs["bin_size"] == 0.25
    validate_dataset(ds)


def test_edges_robust_to_float_rounding():
    # 0.3 / 0.1 == 2.9999999999999996 in floating point, and large session offsets add error
    for offset in (0.0, 1234.5, 98765.4):
        trials = {"start": [offset], "stop": [offset + 1.0], "cue": [offset]}
        spikes = {"a": offset + np.array([0.0, 0.1, 0.3, 0.7, 0.9])}
        ds = bin_spike_times(spikes, trials, bin_size=0.1, align="cue", window=(0.0, 1.0))
        assert ds["spikes"].values[0, :, 0].tolist() == [1, 1, 0, 1, 0, 0, 0, 1, 0, 1]


def test_event_coords_are_relative_to_align_and_labels_become_coords():
    ds = _bin()
    np.testing.assert_allclose(ds["event_fix"].values, [-0.4, -0.3])
    np.testing.assert_allclose(ds["event_go"].values, [0.7, np.nan])
    np.testing.assert_allclose(ds["event_stim"].values, [0.0, 0.0])
    np.testing.assert_allclose(ds["event_start"].values, [-0.5, -0.5])
    np.testing.assert_allclose(ds["event_stop"].values, [1.5, 0.5])
    assert ds["choice"].values.tolist() == ["L", "R"]
    assert ds["correct"].values.tolist() == [True, False]
    assert ds["block"].values.tolist() == [1, 2]
    assert "go" not in ds.coords and "event_choice" not in ds.coords


def test_explicit_events_turn_other_float_columns_into_labels():
    trials = _trials() | {"rt": [0.9, 10.9]}
    ds = _bin(trials=trials, events=["fix"])
    assert "event_fix" in ds.coords and "event_go" not in ds.coords
    np.testing.assert_allclose(ds["go"].values, [1.2, np.nan])  # raw label, not relative
    assert "event_rt" in _bin(trials=trials).coords  # auto-detected: inside [start, stop]


def test_trial_ids_from_trial_column():
    ds = _bin(trials=_trials() | {"trial": [7, 3]})
    assert ds["trial"].values.tolist() == [7, 3]


def test_epoch_labels_event_list():
    ds = _bin(epochs=["fix", "stim", "go"])
    # centres -.375 -.125 .125 .375 .625 .875; trial 0: fix -.4, go .7; trial 1: fix -.3, no go
    assert ds["epoch"].values.tolist() == [
        ["fix", "fix", "stim", "stim", "stim", "go"],
        ["pre", "fix", "stim", "stim", "", ""],
    ]


def test_epoch_labels_intervals_and_dict_form():
    epochs = [("fixation", "fix", "stim"), ("stimulus", "stim", "go")]
    ds = _bin(epochs=epochs)
    assert ds["epoch"].values.tolist() == [
        ["fixation", "fixation", "stimulus", "stimulus", "stimulus", "other"],
        ["pre", "fixation", "other", "other", "", ""],  # no go in trial 1: stimulus skipped
    ]
    as_dict = _bin(epochs={"fixation": ("fix", "stim"), "stimulus": ("stim", "go")})
    assert as_dict["epoch"].values.tolist() == ds["epoch"].values.tolist()


def test_dataframe_spike_table_matches_dict_and_sorts_units():
    spikes = {"b": [0.6, 0.61, 10.3], "a": [0.0, 1.3]}
    frame = pd.DataFrame({"unit": ["b", "b", "b", "a", "a"], "time": [0.6, 0.61, 10.3, 0.0, 1.3]})
    from_dict = _bin(spikes)
    from_frame = _bin(frame, trials=pd.DataFrame(_trials()))
    assert from_dict["unit"].values.tolist() == ["b", "a"]
    assert from_frame["unit"].values.tolist() == ["a", "b"]
    np.testing.assert_array_equal(
        from_dict["spikes"].sel(unit=["a", "b"]).values, from_frame["spikes"].values
    )


def test_unit_ids_unit_coords_and_inputs():
    inputs = np.ones((2, 6, 1))
    ds = _bin(
        {"a": [0.0], "b": [0.3]},
        unit_ids=["b", "a"],
        unit_coords={"area": ["LIP", "FEF"]},
        inputs={"motion": inputs[..., 0]},
        source="unit-test",
    )
    assert ds["unit"].values.tolist() == ["b", "a"]
    assert ds["area"].sel(unit="a").item() == "FEF"
    assert ds["input"].values.tolist() == ["motion"]
    assert ds["inputs"].values[1, :, 0].tolist() == [1, 1, 1, 1, 0, 0]  # zero when padded
    assert ds.attrs["source"] == "unit-test"


def test_silent_unit_is_kept_with_warning():
    with pytest.warns(SilentUnitWarning, match=r"\['quiet'\]"):
        ds = _bin({"a": [0.0], "quiet": [5.0]})  # 5.0 s lies between the trials
    assert ds["spikes"].sel(unit="quiet").values.sum() == 0


def test_no_warning_when_every_unit_spikes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _bin()


def _reference_smooth(counts_1d: np.ndarray, sigma_bins: float) -> np.ndarray:
    """Independent reference: explicit kernel, half-sample reflection, np.convolve."""
    radius = int(4.0 * sigma_bins + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma_bins) ** 2)
    kernel /= kernel.sum()
    n = counts_1d.size
    index = np.arange(-radius, n + radius)
    period = 2 * n
    folded = np.mod(index, period)
    folded = np.where(folded >= n, period - 1 - folded, folded)
    return np.convolve(counts_1d[folded], kernel, mode="valid")


def test_smoothing_conserves_mass_matches_reference_and_never_leaks():
    rng = np.random.default_rng(3)
    spikes = {f"u{i}": np.sort(rng.uniform(0, 12, 80)) for i in range(3)}
    counts = _bin(spikes, bin_size=0.05)
    rates = _bin(spikes, bin_size=0.05, smooth_sigma=0.1)
    assert "signal" in rates and "spikes" not in rates
    assert rates.attrs["smooth_sigma"] == 0.1
    valid = counts["valid"].values
    assert np.all(rates["signal"].values[~valid] == 0)  # nothing leaks into padding
    mass = rates["signal"].values.sum(axis=1) * 0.05
    np.testing.assert_allclose(mass, counts["spikes"].values.sum(axis=1), rtol=1e-5)
    for trial in range(2):
        n_valid = valid[trial].sum()
        expected = _reference_smooth(counts["spikes"].values[trial, :n_valid, 1], 2.0) / 0.05
        np.testing.assert_allclose(rates["signal"].values[trial, :n_valid, 1], expected, rtol=1e-5)


# -- bad input: one call per pytest.raises -----------------------------------------------------


@pytest.mark.parametrize("bin_size", [0, -0.1])
def test_bin_size_must_be_positive(bin_size):
    with pytest.raises(ConfigError, match=r"bin_size=.* must be > 0"):
        _bin(bin_size=bin_size)


def test_window_must_be_increasing():
    with pytest.raises(ConfigError, match=r"window=\(1.0, 0.5\) needs finite t0 < t1"):
        _bin(window=(1.0, 0.5))


def test_smooth_sigma_must_be_positive():
    with pytest.raises(ConfigError, match="smooth_sigma=-1"):
        _bin(smooth_sigma=-1)


def test_unknown_align_lists_columns():
    with pytest.raises(EventTableError, match=r"align='sacc'.*available columns: \[.*'stim'"):
        _bin(align="sacc")


def test_nan_align_names_trials():
    with pytest.raises(EventTableError, match=r"alignment event 'go' is NaN in trials \[1\]"):
        _bin(align="go")


def test_unknown_epoch_event():
    with pytest.raises(EventTableError, match=r"\['reward'\] named in epochs"):
        _bin(epochs=["fix", "reward"])


def test_column_length_mismatch():
    with pytest.raises(EventTableError, match="differ in length"):
        _bin(trials=_trials() | {"stim": [0.5]})


def test_missing_start_column():
    with pytest.raises(EventTableError, match=r"lacks column\(s\) \['start'\]"):
        _bin(trials={k: v for k, v in _trials().items() if k != "start"})


def test_inputs_for_another_number_of_trials():
    with pytest.raises(EventTableError, match=r"inputs have shape \(3, 6, 1\).*2 trials"):
        _bin(inputs=np.zeros((3, 6, 1)))


def test_inputs_for_other_bins():
    with pytest.raises(DataValidationError, match="inputs have 5 time bins, the window has 6"):
        _bin(inputs=np.zeros((2, 5, 1)))


def test_events_out_of_order():
    trials = _trials() | {"fix": [0.6, 10.2]}  # fix after stim in trial 0
    with pytest.raises(EventTableError, match=r"out of order in trials \[0\].*fix <= stim"):
        _bin(trials=trials, epochs=["fix", "stim", "go"])


def test_event_outside_trial():
    trials = _trials() | {"go": [2.5, np.nan]}  # after stop of trial 0
    with pytest.raises(EventTableError, match=r"event 'go' lies outside .*\(trial 0: go=2.5"):
        _bin(trials=trials, epochs=["stim", "go"])


def test_stop_not_after_start():
    trials = _trials() | {"stop": [2.0, 9.0]}
    with pytest.raises(EventTableError, match=r"stop <= start in rows \[1\]"):
        _bin(trials=trials)


def test_trials_without_valid_bins_suggest_window():
    with pytest.raises(EventTableError, match=r"trials \[1\].*no valid .*fix: choose a window"):
        _bin(window=(0.6, 1.0))


def test_spike_table_needs_unit_and_time():
    with pytest.raises(DataValidationError, match="columns 'unit' and 'time'"):
        _bin(pd.DataFrame({"cluster": [1], "t": [0.1]}))


def test_spike_table_without_units():
    with pytest.raises(DataValidationError, match="holds no units"):
        _bin({})


def test_unit_ids_must_cover_spiking_units():
    with pytest.raises(DataValidationError, match=r"units \['b'\] that are not in unit_ids"):
        _bin(unit_ids=["a"])


def test_unit_coords_length():
    with pytest.raises(DataValidationError, match=r"unit_coords\['area'\] has shape \(1,\)"):
        _bin(unit_coords={"area": ["LIP"]})


def test_label_clashing_with_dataset_names():
    with pytest.raises(EventTableError, match=r"\['epoch'\] clash"):
        _bin(trials=_trials() | {"epoch": ["a", "b"]})


def test_covering_window():
    assert covering_window(_trials(), "stim", 0.25) == (-0.5, 1.5)


# -- read_event_tables ---------------------------------------------------------------------------


def test_read_event_tables_from_csv(tmp_path):
    pd.DataFrame({"unit": [2, 1, 2], "time": [0.0, 0.6, 10.3]}).to_csv(
        tmp_path / "spikes.csv", index=False
    )
    pd.DataFrame(_trials()).to_csv(tmp_path / "trials.csv", index=False)
    spikes, trials = read_event_tables(tmp_path)
    ds = bin_spike_times(spikes, trials, bin_size=0.25, align="stim", window=(-0.5, 1.0))
    direct = _bin({"1": [0.6], "2": [0.0, 10.3]})
    np.testing.assert_array_equal(ds["spikes"].values, direct["spikes"].values)
    assert ds["unit"].values.tolist() == ["1", "2"]
    assert ds["choice"].values.tolist() == ["L", "R"]
    assert ds["correct"].values.tolist() == [True, False]


def test_read_event_tables_missing_trials_csv(tmp_path):
    pd.DataFrame({"unit": [1], "time": [0.0]}).to_csv(tmp_path / "spikes.csv", index=False)
    with pytest.raises(FileFormatError, match=r"trials.csv is missing"):
        read_event_tables(tmp_path)


def test_read_event_tables_missing_path(tmp_path):
    with pytest.raises(FileFormatError, match="does not exist"):
        read_event_tables(tmp_path / "nope")


def test_read_event_tables_not_hdf5(tmp_path):
    path = tmp_path / "spikes.txt"
    path.write_text("unit,time\n")
    with pytest.raises(FileFormatError, match=r"spikes.txt: not an HDF5 file"):
        read_event_tables(path)


def test_read_event_tables_from_events_h5(tmp_path):
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layout"] = "events"
        f["spike_times/a"] = [0.0, 0.3]
        for name in ("start", "stop", "stim"):
            f[f"trials/{name}"] = _trials()[name]
    spikes, trials = read_event_tables(path)
    assert list(spikes) == ["a"] and trials["stim"].tolist() == [0.5, 10.5]


# -- property test against a slow, independent reference ------------------------------------------


@st.composite
def _sessions(draw):
    """Random sessions on a 1 ms grid, so spikes land exactly on bin edges often."""
    bin_ms = draw(st.integers(1, 40))
    n_bins = draw(st.integers(1, 12))
    t0_ms = draw(st.integers(-200, 100))
    n_trials = draw(st.integers(1, 4))
    starts, stops, aligns, cursor = [], [], [], draw(st.integers(0, 5000))
    for _ in range(n_trials):
        length = draw(st.integers(1, 600))
        align = cursor + draw(st.integers(0, length))
        starts.append(cursor)
        stops.append(cursor + length)
        aligns.append(align)
        cursor += length + draw(st.integers(0, 300))
    n_units = draw(st.integers(1, 3))
    spikes = [
        draw(st.lists(st.integers(max(0, starts[0] - 300), cursor + 300), max_size=40))
        for _ in range(n_units)
    ]
    # spikes on, or 1 ms either side of, bin edges (including the window's own edges)
    on_edges = st.tuples(
        st.integers(0, n_trials - 1), st.integers(0, n_bins), st.sampled_from([-1, 0, 0, 1])
    )
    for trial, k, off in draw(st.lists(on_edges, max_size=12)):
        spikes[draw(st.integers(0, n_units - 1))].append(aligns[trial] + t0_ms + k * bin_ms + off)
    return bin_ms, n_bins, t0_ms, np.array(starts), np.array(stops), np.array(aligns), spikes


def _reference_counts(bin_ms, n_bins, t0_ms, starts, stops, aligns, spikes):
    """Per-trial, per-unit np.histogram in integer milliseconds."""
    counts = np.zeros((starts.size, n_bins, len(spikes)), int)
    valid = np.zeros((starts.size, n_bins), bool)
    for i, (start, stop, align) in enumerate(zip(starts, stops, aligns, strict=True)):
        edges = align + t0_ms + bin_ms * np.arange(n_bins + 1)
        valid[i] = (edges[:-1] >= start) & (edges[1:] <= stop)
        # an extra edge keeps np.histogram's closed last bin from taking the window's right edge
        closed = np.append(edges, edges[-1] + 1)
        for u, times in enumerate(spikes):
            counts[i, :, u] = np.histogram(times, bins=closed)[0][:-1]
    return np.where(valid[:, :, None], counts, 0), valid


@settings(max_examples=60, deadline=None)
@given(_sessions())
def test_binning_matches_histogram_reference(session):
    bin_ms, n_bins, t0_ms, starts, stops, aligns, spikes = session
    expected, valid = _reference_counts(*session)
    trials = {"start": starts / 1000, "stop": stops / 1000, "cue": aligns / 1000}
    window = (t0_ms / 1000, (t0_ms + n_bins * bin_ms) / 1000)
    spike_times = {f"u{u}": np.array(times) / 1000 for u, times in enumerate(spikes)}
    if not valid.any(axis=1).all():
        with pytest.raises(EventTableError, match="no valid"):
            bin_spike_times(spike_times, trials, bin_size=bin_ms / 1000, align="cue", window=window)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentUnitWarning)
        ds = bin_spike_times(
            spike_times, trials, bin_size=bin_ms / 1000, align="cue", window=window
        )
    np.testing.assert_array_equal(ds["valid"].values, valid)
    np.testing.assert_array_equal(ds["spikes"].values, expected)
