"""LFP adapter (band amplitudes per bin) and the simulator's LFP."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.data import lfp as lfp_adapter
from alrnn_neuro.data.lfp import lfp_band_amplitudes
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.simulate.lfp import BANDS, CHANNEL_AREAS, simulate_lfp
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.simulate.task_structure import TaskParams, build_timeline, make_trials

FS = 500.0
TEST_BANDS = {"theta": (4.0, 8.0), "beta": (15.0, 30.0), "gamma": (40.0, 80.0)}
CENTRES = {"theta": 6.0, "beta": 22.5, "gamma": 60.0}


def _sine(freq: float, amplitude: float, n: int, phase: float = 0.3) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(n) / FS + phase)


@pytest.mark.parametrize("band", list(TEST_BANDS))
def test_pure_sinusoid_amplitude_recovered_in_its_band_and_zero_outside(band):
    lfp = _sine(CENTRES[band], 2.0, 3000)[None, :, None]
    amp = lfp_band_amplitudes(lfp, fs=FS, bands=TEST_BANDS, bin_size=0.05)
    assert amp.dims == ("trial", "time", "channel", "band")
    assert amp.sizes["time"] == 120
    middle = amp.isel(time=slice(10, -10), trial=0, channel=0)
    np.testing.assert_allclose(middle.sel(band=band), 2.0, rtol=0.03)
    for other in set(TEST_BANDS) - {band}:
        assert float(middle.sel(band=other).max()) < 0.05 * 2.0, other
    np.testing.assert_array_equal(amp["band_low"], [4.0, 15.0, 40.0])
    np.testing.assert_array_equal(amp["band_high"], [8.0, 30.0, 80.0])


def _ragged(n_sample: int = 2000) -> tuple[np.ndarray, list[tuple[int, int]]]:
    spans = [(0, 2000), (130, 1400), (500, 2000), (1001, 1290), (37, 880)]
    lfp = np.full((len(spans), n_sample, 2), np.nan)
    for i, (start, stop) in enumerate(spans):
        lfp[i, start:stop, 0] = _sine(22.5, 1.5, stop - start, phase=i)
        lfp[i, start:stop, 1] = _sine(6.0, 1.0, stop - start, phase=2 * i)
    return lfp, spans


def _recorded_bins(start: int, stop: int, n_bins: int, per_bin: int) -> np.ndarray:
    recorded = np.zeros(n_bins, bool)
    recorded[start // per_bin : (stop - 1) // per_bin + 1] = True
    return recorded


def test_ragged_trials_give_finite_values_on_every_recorded_bin():
    """neurodsp's NaN filter edges never reach a bin that holds recorded samples."""
    lfp, spans = _ragged()
    amp = lfp_band_amplitudes(lfp, fs=FS, bands=TEST_BANDS, bin_size=0.05, t_start=-1.0)
    assert amp.attrs["edges"] == "reflect"
    for i, (start, stop) in enumerate(spans):
        recorded = _recorded_bins(start, stop, amp.sizes["time"], 25)
        values = amp.isel(trial=i).values
        assert np.isfinite(values[recorded]).all(), i
        assert np.isnan(values[~recorded]).all(), i
        beta = amp.isel(trial=i).sel(channel="ch0", band="beta").values[recorded]
        np.testing.assert_allclose(beta[2:-2], 1.5, rtol=0.03)  # clear of the edges: exact
        np.testing.assert_allclose(beta, 1.5, rtol=0.5)  # edge bins: biased, never missing
    np.testing.assert_allclose(amp["time"].values[:2], [-0.975, -0.925])


def test_nan_edge_policy_drops_only_the_filter_edges():
    lfp, spans = _ragged()
    amp = lfp_band_amplitudes(lfp, fs=FS, bands={"beta": (15, 30)}, bin_size=0.05, edges="nan")
    half = 101 // 2  # the 15-30 Hz filter at 500 Hz has 101 taps
    for i, (start, stop) in enumerate(spans):
        clean = _recorded_bins(start + half, stop - half, amp.sizes["time"], 25)
        beta = amp.isel(trial=i, channel=0, band=0).values
        assert np.isfinite(beta[clean]).all() and np.isnan(beta[~clean]).all(), i
        np.testing.assert_allclose(beta[clean], 1.5, rtol=0.03)


def test_trials_are_processed_independently(monkeypatch):
    """Concatenating padded trials (and chunking them) does not couple trials."""
    rng = np.random.default_rng(0)
    lfp = rng.standard_normal((12, 1500, 2))
    lfp[3, 1200:] = np.nan
    alone = lfp_band_amplitudes(lfp[3:4], fs=FS, bands=TEST_BANDS, bin_size=0.05)
    together = lfp_band_amplitudes(lfp, fs=FS, bands=TEST_BANDS, bin_size=0.05)
    monkeypatch.setattr(lfp_adapter, "CHUNK_SAMPLES", 3000)
    chunked = lfp_band_amplitudes(lfp, fs=FS, bands=TEST_BANDS, bin_size=0.05)
    finite = np.isfinite(alone.values[0])
    np.testing.assert_allclose(together.values[3][finite], alone.values[0][finite], rtol=1e-9)
    np.testing.assert_allclose(chunked.values, together.values, rtol=1e-9)


def test_bins_from_a_dataset_time_axis_with_fractional_samples_per_bin():
    lfp = _sine(22.5, 1.0, 2000)[None, :, None]
    time = -0.5 + (np.arange(40) + 0.5) * 0.033
    amp = lfp_band_amplitudes(lfp, fs=FS, bands=TEST_BANDS, bin_size=0.033, t_start=-1.0, time=time)
    np.testing.assert_array_equal(amp["time"].values, time)
    np.testing.assert_allclose(amp.sel(band="beta").values.ravel(), 1.0, rtol=0.05)


def test_amplitude_follows_a_modulated_envelope():
    """Independent reference: a 22.5 Hz carrier whose amplitude steps from 0.5 to 2."""
    n = 3000
    envelope = np.where(np.arange(n) < n // 2, 0.5, 2.0)
    lfp = (envelope * np.sin(2 * np.pi * 22.5 * np.arange(n) / FS))[None, :, None]
    beta = lfp_band_amplitudes(lfp, fs=FS, bands={"beta": (15, 30)}, bin_size=0.1).values.ravel()
    assert beta.size == 60
    np.testing.assert_allclose(beta[2:27], 0.5, rtol=0.03)
    np.testing.assert_allclose(beta[33:58], 2.0, rtol=0.03)
    assert 0.5 < beta[29] < 2.0 or 0.5 < beta[30] < 2.0  # the step is smeared over ~a bin


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fs": 0.0}, "fs=0.0"),
        ({"fs": float("nan")}, "fs=nan"),
        ({"bands": {}}, "bands="),
        ({"bands": {"gamma": (40.0, 300.0)}}, "bands\\['gamma'\\]"),
        ({"bands": {"bad": (8.0, 4.0)}}, "bands\\['bad'\\]"),
        ({"bands": {"bad": (-1.0, 4.0)}}, "bands\\['bad'\\]"),
        ({"bin_size": 0.001}, "bin_size=0.001"),
        ({"bin_size": -0.05}, "bin_size=-0.05"),
        ({"n_cycles": 0}, "n_cycles=0"),
        ({"time": np.array([0.0, 0.05, 0.2])}, "regular bin centres"),
        ({"channel_names": ["a", "b"]}, "channel_names"),
        ({"edges": "mirror"}, "edges='mirror'"),
    ],
)
def test_bad_configuration_raises_config_error(kwargs, match):
    params = {"fs": FS, "bands": TEST_BANDS, "bin_size": 0.05, **kwargs}
    with pytest.raises(ConfigError, match=match):
        lfp_band_amplitudes(np.zeros((1, 1000, 1)), **params)


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((1000, 1)), "shape"),
        (np.full((1, 1000, 1), np.inf), "inf"),
        (np.concatenate([np.ones(400), [np.nan], np.ones(599)])[None, :, None], "NaN gaps"),
    ],
)
def test_bad_lfp_arrays_raise_data_validation_error(array, match):
    with pytest.raises(DataValidationError, match=match):
        lfp_band_amplitudes(array, fs=FS, bands=TEST_BANDS, bin_size=0.05)


@pytest.fixture(scope="module")
def simulated() -> xr.Dataset:
    return simulate_stimulus_selection(n_trials=120, n_units=4, seed=4, lfp=True)


def test_simulated_raw_lfp_is_nan_exactly_outside_trials():
    rng = np.random.default_rng(1)
    trials = make_trials(8, rng=rng, params=TaskParams())
    timeline = build_timeline(trials, bin_size=0.05)
    raw, t_start = simulate_lfp(timeline, rng=np.random.default_rng(2), fs=FS)
    assert raw.shape[2] == len(CHANNEL_AREAS)
    offsets = round(t_start * FS) + np.arange(raw.shape[1])  # samples from stimulus onset
    start = np.round(timeline.events["trial_start"] * FS)[:, None]
    end = np.round(timeline.events["trial_end"] * FS)[:, None]
    inside = (offsets >= start) & (offsets < end)
    assert np.isfinite(raw[inside]).all()
    assert np.isnan(raw[~inside]).all()


def test_lfp_amplitude_in_dataset_is_zero_on_padding_and_positive_on_valid(simulated):
    amp = simulated["lfp_amplitude"]
    assert amp.dims == ("trial", "time", "channel", "band")
    assert list(amp["band"].values) == list(BANDS)
    assert list(amp["channel_area"].values) == list(CHANNEL_AREAS)
    valid = simulated["valid"].values
    assert (amp.values[~valid] == 0).all()
    assert np.isfinite(amp.values[valid]).all() and (amp.values[valid] > 0).all()


def test_simulated_band_power_differs_across_epochs(simulated):
    amp = simulated["lfp_amplitude"]
    epoch = simulated["epoch"]

    def mean(band: str, area: str, label: str) -> float:
        channels = amp["channel_area"] == area
        selected = amp.sel(band=band).isel(channel=np.flatnonzero(channels.values))
        return float(selected.where(epoch == label).mean())

    assert mean("theta", "mPFC", "hold") > 1.3 * mean("theta", "mPFC", "iti")
    assert mean("gamma", "A1", "stimulus") > 1.5 * mean("gamma", "A1", "iti")
    assert mean("beta", "mPFC", "stimulus") > 1.2 * mean("beta", "mPFC", "hold")
