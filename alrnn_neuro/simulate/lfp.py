"""LFP of the stimulus-selection simulator, built from neurodsp simulators.

Each channel is one continuous session (trials back to back, in trial order) made of

* an aperiodic 1/f^1.5 background: white noise from the simulator's generator, spectrally
  rotated by :func:`neurodsp.sim.modulate.rotate_timeseries` and high-passed at 1 Hz with
  :func:`neurodsp.filt.filter_signal` (what ``neurodsp.sim.sim_powerlaw`` does, but with an
  explicit generator: neurodsp's own simulators draw from numpy's global random state);
* bursty theta (5 Hz), beta (20 Hz) and gamma (50 Hz) rhythms from
  :func:`neurodsp.sim.sim_bursty_oscillation`, whose per-cycle burst pattern is drawn here
  with an epoch-dependent probability (:data:`BURST_PROBABILITY`): theta bursts mostly in the
  hold (strongest in mPFC), beta and gamma mostly in the stimulus epoch (gamma strongest in A1).

Trials are then cut out on a sample grid aligned to stimulus onset, NaN outside each trial.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.fft import next_fast_len

from alrnn_neuro.data.lfp import lfp_band_amplitudes
from alrnn_neuro.simulate.task_structure import EPOCHS, EVENTS, Timeline

CHANNELS = ("mPFC_lfp0", "mPFC_lfp1", "A1_lfp0", "A1_lfp1")
CHANNEL_AREAS = ("mPFC", "mPFC", "A1", "A1")
BANDS = {"theta": (4.0, 8.0), "beta": (15.0, 30.0), "gamma": (40.0, 80.0)}
APERIODIC_EXPONENT = -1.5
RHYTHMS = {"theta": (5.0, 1.0), "beta": (20.0, 0.6), "gamma": (50.0, 0.5)}
"""Rhythm name -> (frequency in Hz, burst amplitude relative to the unit-variance background)."""
BURST_PROBABILITY = {
    # probability that a cycle bursts, per epoch in EPOCHS order (iti, hold, stimulus, response,
    # outcome)
    ("theta", "mPFC"): (0.2, 0.8, 0.3, 0.2, 0.2),
    ("theta", "A1"): (0.1, 0.4, 0.1, 0.1, 0.1),
    ("beta", "mPFC"): (0.2, 0.2, 0.6, 0.3, 0.4),
    ("beta", "A1"): (0.1, 0.1, 0.5, 0.2, 0.2),
    ("gamma", "mPFC"): (0.1, 0.1, 0.4, 0.2, 0.1),
    ("gamma", "A1"): (0.1, 0.1, 0.8, 0.2, 0.1),
}


def simulate_lfp(
    timeline: Timeline, *, rng: np.random.Generator, fs: float = 500.0
) -> tuple[np.ndarray, float]:
    """Simulate raw LFP for every trial of ``timeline``.

    Parameters
    ----------
    timeline : Timeline
        Trial events and bin grid (:func:`~alrnn_neuro.simulate.task_structure.build_timeline`).
    rng : numpy.random.Generator
        Source of randomness.
    fs : float
        Sampling rate (Hz).

    Returns
    -------
    lfp : ndarray, shape (trial, sample, channel)
        Voltage (a.u.); NaN outside each trial. Channels as in :data:`CHANNELS`.
    t_start : float
        Time (s, relative to stimulus onset) of sample 0; sample ``j`` lies at
        ``t_start + j / fs``.
    """
    ev = timeline.events
    bounds = np.stack(
        [np.round(ev[name] * fs).astype(np.int64) for name in EVENTS], axis=1
    )  # (trial, 6) sample offsets from stimulus onset
    lengths = bounds[:, -1] - bounds[:, 0]
    session_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    n_total = int(lengths.sum())
    epoch_code = np.repeat(np.tile(np.arange(len(EPOCHS)), len(lengths)), np.diff(bounds).ravel())
    session = np.stack(
        [_channel(n_total, fs, epoch_code, area, rng) for area in CHANNEL_AREAS], axis=1
    )
    bin_size = timeline.bin_size
    first = int(np.round((timeline.time[0] - bin_size / 2) * fs))
    last = int(np.round((timeline.time[-1] + bin_size / 2) * fs))
    offsets = np.arange(first, last)  # samples relative to stimulus onset
    inside = (offsets >= bounds[:, :1]) & (offsets < bounds[:, -1:])
    index = np.clip(session_start[:, None] - bounds[:, :1] + offsets, 0, n_total - 1)
    lfp = np.where(inside[..., None], session[index], np.nan)
    return lfp, first / fs


def _channel(
    n_samples: int, fs: float, epoch_code: np.ndarray, area: str, rng: np.random.Generator
) -> np.ndarray:
    """One session-long channel: aperiodic background plus epoch-dependent bursty rhythms."""
    # neurodsp is imported on use, not with the module: with scipy.signal under it, it was
    # most of every ``alrnn-neuro`` command's start-up time
    from neurodsp.filt import design_fir_filter, filter_signal
    from neurodsp.sim import sim_bursty_oscillation
    from neurodsp.sim.modulate import rotate_timeseries
    from neurodsp.utils import remove_nans

    n_pad = len(design_fir_filter(fs, "highpass", (1.0, None), n_cycles=3)) + 1
    white = rng.standard_normal(next_fast_len(n_samples + n_pad))  # fast FFT in the rotation
    background = rotate_timeseries(white, fs, -APERIODIC_EXPONENT)
    background = filter_signal(background, fs, "highpass", (1.0, None), n_cycles=3)
    background, _ = remove_nans(background)
    background = background[:n_samples]
    signal = (background - background.mean()) / background.std()
    for name, (freq, amplitude) in RHYTHMS.items():
        cycle = int(round(fs / freq))
        n_cycles = n_samples // cycle
        middle = np.arange(n_cycles) * cycle + cycle // 2
        prob = np.asarray(BURST_PROBABILITY[(name, area)])[epoch_code[middle]]
        bursts = rng.random(n_cycles) < prob
        rhythm = sim_bursty_oscillation(
            n_samples / fs, fs, freq, burst_def=bursts, phase=float(rng.random()), variance=None
        )
        signal += amplitude * np.sqrt(2) * rhythm[:n_samples]
    return signal


def lfp_features(
    timeline: Timeline, *, valid: np.ndarray, rng: np.random.Generator, fs: float = 500.0
) -> xr.DataArray:
    """Simulate LFP and reduce it to per-bin band amplitudes on the timeline's bins.

    Parameters
    ----------
    timeline : Timeline
        Trial events and bin grid.
    valid : ndarray of bool, shape (trial, time)
        Valid bins; the others are set to 0.
    rng : numpy.random.Generator
        Source of randomness.
    fs : float
        LFP sampling rate (Hz).

    Returns
    -------
    xr.DataArray, shape (trial, time, channel, band), float32
        Band amplitudes (:func:`alrnn_neuro.data.lfp.lfp_band_amplitudes` of
        :func:`simulate_lfp`), with coords ``channel``, ``channel_area``, ``band``,
        ``band_low``, ``band_high``.
    """

    raw, t_start = simulate_lfp(timeline, rng=rng, fs=fs)
    amp = lfp_band_amplitudes(
        raw,
        fs=fs,
        bands=BANDS,
        bin_size=timeline.bin_size,
        t_start=t_start,
        time=timeline.time,
        channel_names=list(CHANNELS),
    )
    amp = amp.where(xr.DataArray(valid, dims=("trial", "time")), 0.0).astype(np.float32)
    return amp.assign_coords(channel_area=("channel", list(CHANNEL_AREAS)))
