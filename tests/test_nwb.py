"""NWB adapter: round trips through write_nwb/read_nwb, hand-built files, precise errors."""

from __future__ import annotations

import datetime
import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alrnn_neuro.data.events import bin_spike_times
from alrnn_neuro.data.nwb import read_nwb, write_nwb
from alrnn_neuro.data.schema import make_dataset, validate_dataset

pynwb = pytest.importorskip("pynwb")

BIN = 0.05
T0 = -0.2
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


def synthetic(seed: int = 0, *, kind: str = "spikes", observed=None) -> xr.Dataset:
    """4 ragged trials x 10 bins x 3 units, aligned on stim_on, with every kind of coord."""
    rng = np.random.default_rng(seed)
    n_time = 10
    valid = np.zeros((4, n_time), bool)
    valid[0, :] = True
    valid[1, :7] = True  # padded at the end
    valid[2, :5] = True
    valid[3, 2:] = True  # padded at the start
    time = T0 + (np.arange(n_time) + 0.5) * BIN
    if kind == "spikes":
        data = rng.poisson(1.5, (4, n_time, 3)).astype(np.int64)
    else:
        data = rng.normal(size=(4, n_time, 3))
    data = data * valid[..., None]
    if observed is not None:
        data = data * observed[:, None, :]
    inputs = (rng.normal(size=(4, n_time, 2)) * valid[..., None]).astype(np.float32)
    epoch = np.where(valid, np.where(time < 0, "fixation", "stimulus"), "")
    return make_dataset(
        data,
        kind=kind,
        inputs=inputs,
        input_names=["color", "motion"],
        valid=valid,
        observed=observed,
        epoch=epoch,
        time=time,
        bin_size=BIN,
        align_event="stim_on",
        trial_ids=np.array([3, 7, 8, 12]),
        trial_coords={
            "rule": np.array(["color", "motion", "color", "color"]),
            "location": np.array([1, -2, 3, 0]),
            "correct": np.array([True, False, True, True]),
            "coherence": np.array([0.128, 0.5, 0.0, 0.064]),
            "event_go": np.array([0.2, np.nan, 0.05, 0.25]),
        },
        unit_coords={"area": np.array(["LIP", "FEF", "LIP"]), "depth": np.array([1.5, 2.0, 0.25])},
        source="synthetic",
    )


def assert_same(back: xr.Dataset, ds: xr.Dataset) -> None:
    """Trials, units, coords, counts, masks, epochs and inputs equal (times to 1e-9 s)."""
    obs = "spikes" if "spikes" in ds else "signal"
    np.testing.assert_array_equal(back["trial"].values, ds["trial"].values)
    np.testing.assert_array_equal(back["unit"].values, ds["unit"].values)
    np.testing.assert_allclose(back["time"].values, ds["time"].values, atol=1e-9)
    np.testing.assert_array_equal(back["valid"].values, ds["valid"].values)
    np.testing.assert_array_equal(back["observed"].values, ds["observed"].values)
    np.testing.assert_array_equal(back["epoch"].values, ds["epoch"].values)
    if obs == "spikes":
        np.testing.assert_array_equal(back["spikes"].values, ds["spikes"].values)
    else:
        np.testing.assert_allclose(back["signal"].values, ds["signal"].values, rtol=1e-12)
    np.testing.assert_array_equal(back["input"].values, ds["input"].values)
    np.testing.assert_allclose(back["inputs"].values, ds["inputs"].values, rtol=1e-6)
    for dim in ("trial", "unit"):
        names = {c for c, v in ds.coords.items() if v.dims == (dim,)}
        assert {c for c, v in back.coords.items() if v.dims == (dim,)} == names
        for name in names - {dim}:
            a, b = back[name].values, ds[name].values
            assert a.dtype.kind == b.dtype.kind, name
            if b.dtype.kind == "f":
                np.testing.assert_allclose(a, b, atol=1e-9, err_msg=name)
            else:
                np.testing.assert_array_equal(a, b, err_msg=name)
    assert back.attrs["align_event"] == ds.attrs["align_event"]
    assert back.attrs["bin_size"] == ds.attrs["bin_size"]
    validate_dataset(back)


def test_round_trip_spikes(tmp_path):
    ds = synthetic()
    path = write_nwb(ds, tmp_path / "s.nwb", session_start_time=START)
    back = read_nwb(path, bin_size=BIN, align="stim_on", window=(T0, T0 + 10 * BIN))
    assert_same(back, ds)
    assert_same(read_nwb(path, bin_size=BIN), ds)  # stored align/window are the defaults
    assert sorted(tmp_path.iterdir()) == [path]  # atomic write leaves no temp file


def test_round_trip_nwb_content(tmp_path):
    """The file itself follows NWB conventions a pynwb user would read directly."""
    ds = synthetic()
    path = write_nwb(ds, tmp_path / "s.nwb", session_start_time=START)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        trials = nwbfile.trials.to_dataframe()
        units = nwbfile.units.to_dataframe()
        assert trials.index.tolist() == [3, 7, 8, 12]
        assert {"stim_on_time", "go_time", "rule", "location", "correct"} <= set(trials)
        go_rel = (trials["go_time"] - trials["stim_on_time"]).to_numpy()
        np.testing.assert_allclose(go_rel, [0.2, np.nan, 0.05, 0.25], atol=1e-9)
        assert (trials["start_time"].to_numpy()[1:] > trials["stop_time"].to_numpy()[:-1]).all()
        assert units["unit_id"].tolist() == ["u0", "u1", "u2"]
        assert units["area"].tolist() == ["LIP", "FEF", "LIP"]
        n_spikes = [len(t) for t in units["spike_times"]]
        assert n_spikes == ds["spikes"].sum(dim=("trial", "time")).values.tolist()
        assert set(nwbfile.epochs.to_dataframe()["tags"].map(tuple)) == {
            ("fixation",),
            ("stimulus",),
        }


def test_written_file_is_valid_nwb(tmp_path):
    path = write_nwb(synthetic(), tmp_path / "s.nwb")
    errors = pynwb.validate(path=str(path))
    assert list(errors[0] if isinstance(errors, tuple) else errors) == []


def test_round_trip_from_bin_spike_times(tmp_path):
    """A dataset binned from events (window clips trials, event_start/stop coords, epochs)."""
    rng = np.random.default_rng(3)
    trials = {
        "start": [0.0, 5.0, 9.0],
        "stop": [3.0, 7.5, 12.0],
        "stim": [1.0, 6.0, 10.0],
        "go": [2.0, 7.0, np.nan],
        "rule": ["a", "b", "a"],
    }
    spikes = {"x": np.sort(rng.uniform(0, 12, 200)), "y": np.sort(rng.uniform(0, 12, 90))}
    ds = bin_spike_times(
        spikes,
        trials,
        bin_size=BIN,
        align="stim",
        window=(-0.5, 1.5),
        epochs=["start", "stim", "go"],
    )
    path = write_nwb(ds, tmp_path / "b.nwb")
    assert_same(read_nwb(path, bin_size=BIN), ds)
    # realigned on trial start: events stay, relative to the new alignment
    start = read_nwb(path, bin_size=BIN, align="start")
    np.testing.assert_allclose(start["event_stim"].values, [1.0, 1.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(start["event_go"].values, [2.0, 2.0, np.nan], atol=1e-9)
    assert start["spikes"].values.sum() == ds["spikes"].values.sum()  # same spikes, new bins


def test_round_trip_observed_and_gaps(tmp_path):
    """Unobserved units -> obs_intervals; a gap inside a trial -> invalid_times."""
    observed = np.ones((4, 3), bool)
    observed[1, 0] = observed[3, 2] = False
    ds = synthetic(seed=1, observed=observed)
    valid = ds["valid"].values.copy()
    valid[0, 4] = False  # a rejected bin in the middle of trial 3
    ds = ds.assign(valid=(("trial", "time"), valid))
    ds["spikes"] = ds["spikes"].where(ds["valid"], 0)
    ds["inputs"] = ds["inputs"].where(ds["valid"], 0)
    ds["epoch"] = ds["epoch"].where(ds["valid"], "")
    path = write_nwb(ds, tmp_path / "s.nwb")
    back = read_nwb(path, bin_size=BIN, align="stim_on", window=(T0, T0 + 10 * BIN))
    assert_same(back, ds)
    assert not back["observed"].values[1, 0]


def test_round_trip_signal(tmp_path):
    ds = synthetic(seed=2, kind="signal")
    back = read_nwb(write_nwb(ds, tmp_path / "c.nwb"), bin_size=BIN)
    assert "spikes" not in back
    assert_same(back, ds)


@st.composite
def datasets(draw):
    n_trial, n_time, n_unit = (
        draw(st.integers(1, 4)),
        draw(st.integers(1, 6)),
        draw(st.integers(1, 3)),
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    first = rng.integers(0, n_time, n_trial)
    last = first + 1 + (rng.integers(0, n_time, n_trial) % (n_time - first))
    k = np.arange(n_time)[None]
    valid = (k >= first[:, None]) & (k < last[:, None])
    bin_size = draw(st.sampled_from([0.001, 0.02, 0.05, 0.1, 0.25]))
    t0 = draw(st.sampled_from([-3.0, -0.5, 0.0, 0.35])) // bin_size * bin_size
    return make_dataset(
        rng.poisson(2.0, (n_trial, n_time, n_unit)) * valid[..., None],
        valid=valid,
        time=t0 + (np.arange(n_time) + 0.5) * bin_size,
        bin_size=bin_size,
        align_event=draw(st.sampled_from(["stim_on", "go"])),
        trial_ids=rng.permutation(100)[:n_trial],
        trial_coords={"choice": rng.integers(0, 2, n_trial), "label": rng.random(n_trial) > 0.5},
    )


_HYPOTHESIS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def check_round_trip(tmp_path, ds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # silent units in random data
        back = read_nwb(write_nwb(ds, tmp_path / "p.nwb"), bin_size=float(ds.attrs["bin_size"]))
    assert_same(back, ds)


@settings(max_examples=6, **_HYPOTHESIS)
@given(ds=datasets())
def test_round_trip_property(tmp_path, ds):
    check_round_trip(tmp_path, ds)


@pytest.mark.slow
@settings(max_examples=30, **_HYPOTHESIS)
@given(ds=datasets())
def test_round_trip_property_many(tmp_path, ds):
    check_round_trip(tmp_path, ds)
