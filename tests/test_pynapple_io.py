"""pynapple in and out: `from_pynapple` equals `bin_spike_times` on the same input,
`to_pynapple` round-trips, `convert pynapple` reads pynapple's .npz files and `convert nwb
--trials` reads NWB files with named TimeIntervals tables (as pynapple's loaders write them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.events import SilentUnitWarning, bin_spike_times
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.pynapple_io import from_pynapple, read_pynapple_npz, to_pynapple
from alrnn_neuro.errors import DataValidationError, FileFormatError

nap = pytest.importorskip("pynapple")
REPO = Path(__file__).resolve().parents[1]


def _session(seed: int = 0):
    rng = np.random.default_rng(seed)
    start = np.array([0.0, 2.0, 4.5, 7.0])
    stop = start + [1.6, 1.9, 1.4, 2.0]
    stim = start + [0.5, 0.6, 0.4, 0.7]
    go = stim + [0.8, np.nan, 0.6, 1.0]
    spikes = {f"n{i}": np.sort(rng.uniform(0.0, 9.5, 120 + 40 * i)) for i in range(3)}
    trials = pd.DataFrame(
        {"start": start, "stop": stop, "stim": stim, "go": go, "rule": ["a", "b", "a", "b"]}
    )
    return spikes, trials


def _pynapple_objects(spikes, trials):
    group = nap.TsGroup(
        {k: nap.Ts(t) for k, t in enumerate(spikes.values())},
        metadata={"unit_id": list(spikes), "area": ["LIP", "LIP", "FEF"]},
    )
    iset = nap.IntervalSet(
        start=trials["start"].to_numpy(),
        end=trials["stop"].to_numpy(),
        metadata=trials.drop(columns=["start", "stop"]),
    )
    return group, iset


def test_from_pynapple_equals_bin_spike_times():
    spikes, trials = _session()
    group, iset = _pynapple_objects(spikes, trials)
    options = dict(bin_size=0.05, align="stim", window=(-0.4, 1.0), epochs=["stim", "go"])
    ds = from_pynapple(group, iset, **options)
    direct = bin_spike_times(spikes, trials, unit_coords={"area": ["LIP", "LIP", "FEF"]}, **options)
    for name in ("spikes", "valid", "epoch", "observed"):
        np.testing.assert_array_equal(ds[name].values, direct[name].values)
    assert ds["unit"].values.tolist() == ["n0", "n1", "n2"]
    assert ds["area"].values.tolist() == ["LIP", "LIP", "FEF"]
    assert ds["rule"].values.tolist() == ["a", "b", "a", "b"]
    np.testing.assert_allclose(ds["event_go"].values, direct["event_go"].values)
    assert ds["spikes"].values.sum() > 100


def test_from_pynapple_takes_a_dataframe_and_plain_keys():
    spikes, trials = _session(1)
    group = nap.TsGroup({k: nap.Ts(t) for k, t in enumerate(spikes.values())})
    frame = trials.rename(columns={"stop": "end"})
    ds = from_pynapple(group, frame, bin_size=0.1, align="start")
    direct = bin_spike_times(
        dict(zip(["0", "1", "2"], spikes.values(), strict=True)),
        trials,
        bin_size=0.1,
        align="start",
        window=(0.0, 2.0),
    )
    np.testing.assert_array_equal(ds["spikes"].values, direct["spikes"].values)


def test_to_pynapple_round_trip():
    spikes, trials = _session(2)
    trials["observed_units"] = ["n0;n1", "n1", "n0;n1;n2", "n2"]
    options = dict(bin_size=0.05, align="stim", window=(-0.5, 1.3))
    with pytest.warns(UserWarning):  # spikes of units not observed in a trial are dropped
        ds = bin_spike_times(spikes, trials, **options)
    group, iset = to_pynapple(ds)
    assert isinstance(group, nap.TsGroup) and isinstance(iset, nap.IntervalSet)
    assert group.metadata["unit_id"].tolist() == ["n0", "n1", "n2"]
    for k in group.keys():
        assert np.all(np.diff(group[k].t) > 0)
    back = from_pynapple(group, iset, **options)
    for name in ("spikes", "valid", "observed"):
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    assert back["trial"].values.tolist() == ds["trial"].values.tolist()
    np.testing.assert_allclose(back["event_go"].values, ds["event_go"].values, atol=1e-9)


def test_to_pynapple_round_trip_on_the_lip_pseudo_population():
    ds = load_dataset(REPO / "datasets" / "roitman2002_fd_monkeyB.h5").isel(trial=slice(0, 150))
    group, iset = to_pynapple(ds)
    with pytest.warns(SilentUnitWarning):  # 30 of the 33 units have no trial among these
        back = from_pynapple(
            group, iset, bin_size=0.05, align="fix", window=(0.0, 3.6), events=["fix", "sac"]
        )
    np.testing.assert_array_equal(back["spikes"].values, ds["spikes"].values)
    np.testing.assert_array_equal(back["observed"].values, ds["observed"].values)


def test_convert_pynapple_npz(tmp_path, capsys):
    spikes, trials = _session(3)
    group, iset = _pynapple_objects(spikes, trials)
    group.save(str(tmp_path / "units.npz"))
    iset.save(str(tmp_path / "trials.npz"))
    out = tmp_path / "ds.h5"
    main(
        [
            "convert",
            "pynapple",
            str(tmp_path / "units.npz"),
            "--trials",
            str(tmp_path / "trials.npz"),
            "--out",
            str(out),
            "--align",
            "stim",
            "--window",
            "-0.4,1.0",
            "--input",
            "go=pulse(go)",
        ]
    )
    ds = load_dataset(out)
    direct = bin_spike_times(spikes, trials, bin_size=0.05, align="stim", window=(-0.4, 1.0))
    np.testing.assert_array_equal(ds["spikes"].values, direct["spikes"].values)
    assert ds["input"].values.tolist() == ["go"]
    # trial 1 has no go cue; trial 3's lies at 1.0 s, the end of the window
    assert ds["inputs"].values[:, :, 0].sum(axis=1).tolist() == [1, 0, 1, 0]


def test_read_pynapple_npz_refuses_other_objects(tmp_path):
    spikes, trials = _session(4)
    group, iset = _pynapple_objects(spikes, trials)
    iset.save(str(tmp_path / "trials.npz"))
    with pytest.raises(FileFormatError, match="not a TsGroup"):
        read_pynapple_npz(tmp_path / "trials.npz", tmp_path / "trials.npz")


def test_from_pynapple_needs_a_tsgroup():
    _, trials = _session()
    with pytest.raises(DataValidationError, match="TsGroup"):
        from_pynapple({"a": np.zeros(3)}, trials, bin_size=0.1)


def test_convert_nwb_with_a_named_intervals_table(tmp_path):
    """An NWB file as pynapple's loaders write it: units + a named TimeIntervals table."""
    pynwb = pytest.importorskip("pynwb")
    import datetime

    from pynwb.epoch import TimeIntervals

    spikes, trials = _session(5)
    nwbfile = pynwb.NWBFile(
        session_description="pynapple session",
        identifier="x",
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )
    for times in spikes.values():
        nwbfile.add_unit(spike_times=times)
    blocks = TimeIntervals(name="task_trials", description="trials")
    blocks.add_column("stim_time", "stimulus onset")
    for _, row in trials.iterrows():
        blocks.add_interval(start_time=row.start, stop_time=row.stop, stim_time=row.stim)
    nwbfile.add_time_intervals(blocks)
    with pynwb.NWBHDF5IO(str(tmp_path / "session.nwb"), "w") as io:
        io.write(nwbfile)
    out = tmp_path / "ds.h5"
    main(
        [
            "convert",
            "nwb",
            str(tmp_path / "session.nwb"),
            "--trials",
            "task_trials",
            "--align",
            "stim",
            "--window",
            "-0.4,1.0",
            "--out",
            str(out),
        ]
    )
    ds = load_dataset(out)
    direct = bin_spike_times(
        dict(zip(["0", "1", "2"], spikes.values(), strict=True)),
        trials[["start", "stop", "stim"]],
        bin_size=0.05,
        align="stim",
        window=(-0.4, 1.0),
    )
    np.testing.assert_array_equal(ds["spikes"].values, direct["spikes"].values)
