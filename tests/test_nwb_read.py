"""NWB reader on hand-built pynwb files, and its errors."""

from __future__ import annotations

import datetime

import h5py
import numpy as np
import pytest

from alrnn_neuro.data.nwb import read_nwb
from alrnn_neuro.errors import EventTableError, FileFormatError

pynwb = pytest.importorskip("pynwb")

BIN = 0.05
T0 = -0.2
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


def add_lfp(nwbfile):
    """Two electrodes in processing['ecephys'] LFP at 1 kHz: a ramp and a 22.5 Hz sine."""
    from pynwb.ecephys import LFP

    device = nwbfile.create_device(name="probe")
    group = nwbfile.create_electrode_group("shank", "shank", location="LIP", device=device)
    for _ in range(2):
        nwbfile.add_electrode(group=group, location="LIP")
    region = nwbfile.create_electrode_table_region([0, 1], "both electrodes")
    time = np.arange(8000) / 1000.0
    module = nwbfile.create_processing_module("ecephys", "LFP")
    container = LFP()
    module.add(container)
    data = np.stack([time, 2.0 * np.sin(2 * np.pi * 22.5 * time)], axis=1)
    container.create_electrical_series(name="lfp", data=data, electrodes=region, rate=1000.0)


def hand_built(path, *, trials=True, units=True, lfp=False):
    """An NWB file made directly with pynwb (3 trials, 2 units), the way a lab writes one."""
    nwbfile = pynwb.NWBFile(
        session_description="hand-built", identifier="hand", session_start_time=START
    )
    if trials:
        nwbfile.add_trial_column("stim_on_time", "stimulus onset (s)")
        nwbfile.add_trial_column("rule", "task rule")
        nwbfile.add_trial_column("coherence", "motion coherence")
        rows = [
            (1.0, 2.0, 1.3, "color", 0.1),
            (3.0, 3.75, 3.2, "motion", 0.2),
            (5.0, 6.1, 5.4, "color", 1.0),
        ]
        for start, stop, stim, rule, coh in rows:
            nwbfile.add_trial(
                start_time=start, stop_time=stop, stim_on_time=stim, rule=rule, coherence=coh
            )
    if units:
        nwbfile.add_unit_column("location", "brain area")
        nwbfile.add_unit(
            spike_times=[1.01, 1.12, 1.33, 1.34, 1.87, 3.21, 5.55, 5.56, 9.0], location="LIP"
        )
        nwbfile.add_unit(spike_times=[0.5, 1.45, 3.05, 3.72, 5.01, 5.99, 6.05], location="FEF")
    nwbfile.add_acquisition(
        pynwb.TimeSeries(
            name="pupil", data=np.arange(800.0), rate=100.0, starting_time=0.0, unit="mm"
        )
    )
    if lfp:
        add_lfp(nwbfile)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def hand_counts(spikes, starts, stops, aligns, t0, bin_size, n_bins):
    """Independent reference: loop over trials, bins and spikes."""
    counts = np.zeros((len(starts), n_bins), int)
    valid = np.zeros((len(starts), n_bins), bool)
    for i, (start, stop, align) in enumerate(zip(starts, stops, aligns, strict=True)):
        for k in range(n_bins):
            lo = align + t0 + k * bin_size
            hi = lo + bin_size
            valid[i, k] = lo >= start - 1e-9 and hi <= stop + 1e-9
            if valid[i, k]:
                counts[i, k] = sum(lo <= s < hi for s in spikes)
    return counts, valid


def test_hand_built_file(tmp_path):
    path = hand_built(tmp_path / "hand.nwb")
    ds = read_nwb(path, bin_size=0.1, align="stim_on_time", window=(-0.3, 0.7))
    starts, stops, aligns = [1.0, 3.0, 5.0], [2.0, 3.75, 6.1], [1.3, 3.2, 5.4]
    assert ds.attrs["align_event"] == "stim_on"
    assert ds["unit"].values.tolist() == ["0", "1"]
    assert ds["location"].values.tolist() == ["LIP", "FEF"]
    assert ds["rule"].values.tolist() == ["color", "motion", "color"]
    np.testing.assert_allclose(ds["coherence"].values, [0.1, 0.2, 1.0])
    np.testing.assert_allclose(ds["event_stim_on"].values, 0.0)
    np.testing.assert_allclose(ds["time"].values, -0.25 + 0.1 * np.arange(10))
    unit0 = [1.01, 1.12, 1.33, 1.34, 1.87, 3.21, 5.55, 5.56, 9.0]
    unit1 = [0.5, 1.45, 3.05, 3.72, 5.01, 5.99, 6.05]
    for j, spikes in enumerate([unit0, unit1]):
        counts, valid = hand_counts(spikes, starts, stops, aligns, -0.3, 0.1, 10)
        np.testing.assert_array_equal(ds["spikes"].values[:, :, j], counts)
        np.testing.assert_array_equal(ds["valid"].values, valid)
    assert ds["spikes"].values[0, 3, 0] == 2  # 1.33 and 1.34 in [1.3, 1.4)
    assert set(np.unique(ds["epoch"].values[ds["valid"].values])) == {"trial"}


def test_hand_built_defaults(tmp_path):
    """Default: align on trial start, window = the longest trial (1.1 s -> 11 bins)."""
    ds = read_nwb(hand_built(tmp_path / "hand.nwb"), bin_size=0.1)
    assert ds.attrs["align_event"] == "start"
    assert ds.sizes["time"] == 11
    np.testing.assert_array_equal(ds["valid"].values.sum(axis=1), [10, 7, 11])
    np.testing.assert_allclose(ds["event_stim_on"].values, [0.3, 0.2, 0.4], atol=1e-12)


def test_hand_built_signal(tmp_path):
    """A 100 Hz TimeSeries averaged into 0.1 s bins: 10 samples per bin."""
    path = hand_built(tmp_path / "hand.nwb", units=False)
    ds = read_nwb(path, bin_size=0.1, align="stim_on", window=(0.0, 0.3), signal="pupil")
    assert "spikes" not in ds
    # samples at 1.30 .. 1.39 s have values 130 .. 139 -> mean 134.5
    np.testing.assert_allclose(
        ds["signal"].values[:, :, 0],
        [[134.5, 144.5, 154.5], [324.5, 334.5, 344.5], [544.5, 554.5, 564.5]],
    )


def test_hand_built_lfp(tmp_path):
    """lfp=True finds the ElectricalSeries in processing['ecephys'] and averages each bin."""
    path = hand_built(tmp_path / "hand.nwb", lfp=True)
    ds = read_nwb(path, bin_size=0.1, align="stim_on", window=(0.0, 0.2), lfp=True)
    # bin [1.3, 1.4) of the ramp holds samples 1.300 .. 1.399 s -> mean 1.3495
    expected = np.array([[1.3495, 1.4495], [3.2495, 3.3495], [5.4495, 5.5495]])
    np.testing.assert_allclose(ds["lfp_mean"].values[:, :, 0], expected, atol=1e-9)
    sine = 2.0 * np.sin(2 * np.pi * 22.5 * np.arange(1300, 1400) / 1000.0)
    np.testing.assert_allclose(ds["lfp_mean"].values[0, 0, 1], sine.mean(), atol=1e-9)
    assert ds["lfp_mean"].dims == ("trial", "time", "channel")
    assert ds["channel"].values.tolist() == [0, 1]


def test_hand_built_lfp_band_amplitude(tmp_path):
    """lfp_bands: the 22.5 Hz sine of amplitude 2 has beta amplitude ~2 in every bin."""
    path = hand_built(tmp_path / "hand.nwb", lfp=True)
    bands = {"beta": (15.0, 30.0), "theta": (4.0, 8.0)}
    ds = read_nwb(path, bin_size=0.1, align="stim_on", window=(0.0, 0.5), lfp_bands=bands)
    amp = ds["lfp_amplitude"]
    assert amp.dims == ("trial", "time", "channel", "band")
    assert amp["band"].values.tolist() == ["beta", "theta"]
    np.testing.assert_allclose(amp.sel(band="beta").values[:, :, 1], 2.0, rtol=0.1)
    assert (amp.sel(band="theta").values[:, :, 1] < 0.5).all()


def test_hand_built_epochs_and_events(tmp_path):
    """Epoch spec by event names; a *_time column outside its trial stays a label."""
    nwbfile = pynwb.NWBFile(session_description="h", identifier="h", session_start_time=START)
    nwbfile.add_trial_column("stim_on_time", "stimulus onset")
    nwbfile.add_trial_column("reaction_time", "RT (s), not an event")
    nwbfile.add_trial(start_time=10.0, stop_time=11.0, stim_on_time=10.4, reaction_time=0.3)
    nwbfile.add_trial(start_time=12.0, stop_time=13.0, stim_on_time=12.2, reaction_time=0.5)
    nwbfile.add_unit(spike_times=[10.05, 12.95])
    path = tmp_path / "e.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    ds = read_nwb(path, bin_size=0.1, epochs=["start", "stim_on_time"])
    np.testing.assert_allclose(ds["reaction_time"].values, [0.3, 0.5])
    assert "event_reaction" not in ds.coords
    assert ds["epoch"].values[0].tolist() == ["start"] * 4 + ["stim_on"] * 6
    assert ds["epoch"].values[1].tolist() == ["start"] * 2 + ["stim_on"] * 8
    assert ds["spikes"].values[:, :, 0].sum(axis=1).tolist() == [1, 1]


def test_not_hdf5(tmp_path):
    path = tmp_path / "notes.nwb"
    path.write_text("not an nwb file")
    with pytest.raises(FileFormatError, match="not an HDF5 file"):
        read_nwb(path)


def test_hdf5_but_not_nwb(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(FileFormatError, match="HDF5 but"):
        read_nwb(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="does not exist"):
        read_nwb(tmp_path / "missing.nwb")


def test_no_trials_table(tmp_path):
    path = hand_built(tmp_path / "hand.nwb", trials=False)
    with pytest.raises(FileFormatError, match="no trials table"):
        read_nwb(path)


def test_no_units_table(tmp_path):
    path = hand_built(tmp_path / "hand.nwb", units=False)
    with pytest.raises(FileFormatError, match=r"no units table.*signal=NAME.*'pupil'"):
        read_nwb(path)


def test_unknown_align_event(tmp_path):
    path = hand_built(tmp_path / "hand.nwb")
    with pytest.raises(EventTableError, match=r"align='go' is not an event.*'stim_on'"):
        read_nwb(path, align="go")


def test_unknown_signal_series(tmp_path):
    path = hand_built(tmp_path / "hand.nwb")
    with pytest.raises(FileFormatError, match=r"no TimeSeries named 'eye'.*'pupil'"):
        read_nwb(path, signal="eye")


def test_align_on_a_column_outside_its_trial_names_the_trial_and_value(tmp_path):
    """An event column read as a label (a time outside its trial) is named as such, with the
    first such trial, when the user aligns on it."""
    nwbfile = pynwb.NWBFile(session_description="h", identifier="h", session_start_time=START)
    nwbfile.add_trial_column("stim_on_time", "stimulus onset")
    nwbfile.add_trial(start_time=1.0, stop_time=2.0, stim_on_time=1.3)
    nwbfile.add_trial(start_time=3.0, stop_time=5.0, stim_on_time=8.0)
    nwbfile.add_unit(spike_times=[1.05, 3.5])
    path = tmp_path / "bad.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    message = (
        r"align='stim_on': the column 'stim_on_time' lies outside its trial's \[start, stop\] "
        r"in 1 trial\(s\), e.g. row 1: stim_on_time=8, start=3, stop=5, so it was read as a "
        r"label, not an event; fix"
    )
    with pytest.raises(EventTableError, match=message):
        read_nwb(path, bin_size=0.1, align="stim_on")


def test_nwb_epochs_without_an_epochs_table_is_an_error(tmp_path):
    """epochs='nwb' on a file without an epochs table would label every bin 'other'."""
    path = hand_built(tmp_path / "hand.nwb")
    with pytest.raises(FileFormatError, match=r"epochs='nwb' but the file has no epochs table"):
        read_nwb(path, bin_size=0.1, epochs="nwb")
