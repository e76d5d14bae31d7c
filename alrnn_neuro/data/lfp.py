"""LFP adapter: raw LFP per trial -> band amplitudes on the dataset's time bins.

For every band the signal is band-passed with an FIR filter
(:func:`neurodsp.filt.filter_signal`, ``n_cycles`` at the band's low edge) and its amplitude is
the modulus of the analytic signal (``neurodsp.timefrequency.hilbert.robust_hilbert``), which
is what :func:`neurodsp.timefrequency.amp_by_time` computes; the amplitude is then averaged
over the samples of each bin.

**Edges.** neurodsp marks the samples within half a filter length of a signal's edge as NaN.
Two explicit policies (``edges=``):

* ``"reflect"`` (default): each trial's recorded span (per channel) is padded on both sides by
  odd reflection (point reflection through the edge sample; mirror reflection for spans
  shorter than the filter) with one full filter length before filtering, and the padding is
  cropped afterwards. Every recorded sample gets a finite amplitude, so no NaN reaches a bin
  that holds recorded samples. Within half a filter length of a trial edge the estimate rests
  partly on the reflected signal and is biased (for a pure sinusoid by ~15 % on average in
  the outermost 50 ms bin, less further in).
* ``"nan"``: samples within half a filter length of a trial edge are NaN, as in neurodsp; bins
  average only their finite samples and bins without any get ``fill_value`` (unbiased, but
  the first and last bins of every trial are missing: mark them invalid).

For speed the padded trials are concatenated in chunks and filtered in one call per chunk;
the padding (one filter length) keeps the filtering of different trials independent and the
Hilbert transform is taken per trial, so a trial's result does not depend on the others.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from alrnn_neuro.errors import ConfigError, DataValidationError

METHOD = (
    "neurodsp filter_signal (FIR band-pass) + robust_hilbert amplitude per trial and channel, "
    "padded by one filter length and cropped; mean amplitude over each bin's samples"
)
EDGE_POLICIES = ("reflect", "nan")


def lfp_band_amplitudes(
    lfp: np.ndarray,
    *,
    fs: float,
    bands: Mapping[str, tuple[float, float]],
    bin_size: float,
    t_start: float = 0.0,
    time: np.ndarray | None = None,
    n_cycles: float = 3.0,
    channel_names: Sequence[str] | None = None,
    fill_value: float = np.nan,
    edges: str = "reflect",
) -> xr.DataArray:
    """Turn raw LFP into per-bin band amplitudes.

    Parameters
    ----------
    lfp : ndarray, shape (trial, sample, channel)
        Raw LFP on a common sample grid; sample ``j`` lies at ``t_start + j / fs`` seconds
        (relative to the alignment event). NaN outside each trial's recording (one
        contiguous span per trial and channel).
    fs : float
        Sampling rate (Hz).
    bands : mapping of str to (float, float)
        Band name -> (low, high) edges in Hz, ``0 < low < high < fs / 2``.
    bin_size : float
        Bin width (s); at least one sample per bin.
    t_start : float
        Time (s) of sample 0.
    time : ndarray, shape (time,), optional
        Bin centres (s) to average into (a regular grid with step ``bin_size``, e.g. a
        dataset's ``time`` coord). Default: bins tiling the samples from ``t_start``.
    n_cycles : float
        FIR filter length in cycles of each band's low edge (neurodsp's ``n_cycles``).
    channel_names : sequence of str, optional
        Channel ids (default ``ch0``, ``ch1``, ...).
    fill_value : float
        Value of bins without any recorded sample (or, with ``edges="nan"``, without any
        sample clear of the filter edges).
    edges : {"reflect", "nan"}
        Edge policy (see the module docstring): reflection padding (no NaN on recorded
        samples, biased near trial edges) or neurodsp's NaN edges with NaN-aware averaging.

    Returns
    -------
    xr.DataArray, shape (trial, time, channel, band)
        Mean amplitude per bin, coords ``time``, ``channel``, ``band``, ``band_low`` and
        ``band_high`` (Hz); attrs ``fs``, ``n_cycles``, ``method``.

    Raises
    ------
    ConfigError
        Bad ``fs``, ``bands``, ``bin_size``, ``n_cycles``, ``time`` or ``edges``.
    DataValidationError
        ``lfp`` not 3-D, infinite values, or NaN gaps inside a trial's recording.

    Examples
    --------
    >>> fs = 500.0
    >>> t = np.arange(2000) / fs
    >>> lfp = (2.0 * np.sin(2 * np.pi * 22.5 * t))[None, :, None]  # centre of the band
    >>> amp = lfp_band_amplitudes(lfp, fs=fs, bands={"beta": (15, 30)}, bin_size=0.1)
    >>> round(float(amp.isel(time=10).squeeze()), 1)
    2.0
    """
    lfp = np.asarray(lfp, dtype=float)
    bin_edges = _check(lfp, fs, bands, bin_size, n_cycles, time, channel_names)
    if edges not in EDGE_POLICIES:
        raise ConfigError(f"edges={edges!r}; fix: one of {EDGE_POLICIES}")
    n_trial, n_sample, n_channel = lfp.shape
    rows = lfp.transpose(0, 2, 1).reshape(-1, n_sample)
    spans = [_span(row, i // n_channel, i % n_channel) for i, row in enumerate(rows)]
    if time is None:
        n_bins = int(np.ceil(n_sample / (bin_size * fs) - 1e-9))
        time = t_start + (np.arange(n_bins) + 0.5) * bin_size
        bin_edges = t_start + np.arange(n_bins + 1) * bin_size
    bounds = np.ceil((bin_edges - t_start) * fs - 1e-6).astype(np.int64)
    bounds = np.clip(bounds, 0, n_sample)
    out = np.empty((n_trial, len(time), n_channel, len(bands)))
    for b, (low, high) in enumerate(bands.values()):
        amp = _band_amplitude(rows, spans, fs, (float(low), float(high)), n_cycles, edges)
        out[:, :, :, b] = (
            _bin_mean(amp, bounds, fill_value).reshape(n_trial, n_channel, -1).transpose(0, 2, 1)
        )
    names = [f"ch{i}" for i in range(n_channel)] if channel_names is None else channel_names
    return xr.DataArray(
        out,
        dims=("trial", "time", "channel", "band"),
        coords={
            "time": np.asarray(time, dtype=np.float64),
            "channel": np.array(list(names), dtype=str),
            "band": np.array(list(bands), dtype=str),
            "band_low": ("band", np.array([float(v[0]) for v in bands.values()])),
            "band_high": ("band", np.array([float(v[1]) for v in bands.values()])),
        },
        attrs={"fs": float(fs), "n_cycles": float(n_cycles), "edges": edges, "method": METHOD},
    )


def _check(lfp, fs, bands, bin_size, n_cycles, time, channel_names) -> np.ndarray | None:
    """Validate arguments; return the bin edges when ``time`` is given."""
    if lfp.ndim != 3:
        raise DataValidationError(
            f"lfp has shape {lfp.shape}; fix: a (trial, sample, channel) array, e.g. "
            "lfp[:, :, None] for one channel"
        )
    if np.isinf(lfp).any():
        raise DataValidationError("lfp holds inf; fix: finite values, NaN outside trials only")
    if not _positive(fs):
        raise ConfigError(f"fs={fs!r}; fix: the sampling rate in Hz, a positive number")
    if not isinstance(bands, Mapping) or not bands:
        raise ConfigError(f"bands={bands!r}; fix: a dict like {{'theta': (4, 8)}}")
    for name, edges in bands.items():
        ok = isinstance(edges, tuple | list) and len(edges) == 2
        ok = ok and all(_positive(e) for e in edges) and edges[0] < edges[1] < fs / 2
        if not ok:
            raise ConfigError(
                f"bands[{name!r}]={edges!r}; fix: (low, high) Hz with 0 < low < high < fs/2 "
                f"= {fs / 2:g}"
            )
    if not _positive(bin_size) or bin_size * fs < 1:
        raise ConfigError(
            f"bin_size={bin_size!r} s; fix: a positive width of at least one sample "
            f"(>= 1/fs = {1 / fs:g} s)"
        )
    if not _positive(n_cycles):
        raise ConfigError(f"n_cycles={n_cycles!r}; fix: a positive filter length in cycles")
    if channel_names is not None and len(channel_names) != lfp.shape[2]:
        raise ConfigError(
            f"channel_names has {len(channel_names)} names for {lfp.shape[2]} channels; "
            "fix: one name per channel"
        )
    if time is None:
        return None
    time = np.asarray(time, dtype=float)
    if (
        time.ndim != 1
        or time.size == 0
        or (
            time.size > 1 and not np.allclose(np.diff(time), bin_size, rtol=0, atol=1e-6 * bin_size)
        )
    ):
        raise ConfigError(
            f"time must be regular bin centres with step bin_size={bin_size}; fix: pass the "
            "dataset's time coord and its attrs['bin_size']"
        )
    return np.concatenate([time - bin_size / 2, time[-1:] + bin_size / 2])


def _positive(value: object) -> bool:
    return isinstance(value, numbers.Real) and bool(np.isfinite(value)) and value > 0


def _span(row: np.ndarray, trial: int, channel: int) -> tuple[int, int]:
    """First and one-past-last recorded sample of a row; raise on NaN gaps inside."""
    finite = np.flatnonzero(np.isfinite(row))
    if finite.size == 0:
        return 0, 0
    start, stop = int(finite[0]), int(finite[-1]) + 1
    if finite.size != stop - start:
        raise DataValidationError(
            f"lfp of trial index {trial}, channel index {channel} has NaN gaps inside its "
            f"recording (samples {start}..{stop - 1}); fix: interpolate the gaps, NaN may "
            "only pad before and after a trial"
        )
    return start, stop


def _band_amplitude(rows, spans, fs, band, n_cycles, edges) -> np.ndarray:
    """Hilbert amplitude of every row in one band; NaN outside each row's span."""
    # neurodsp (and scipy.signal under it) is imported here, not with the module: it took
    # 1.7 s of the 2.6 s every ``alrnn-neuro`` command spent importing before it could start
    from neurodsp.filt import design_fir_filter

    pad = len(design_fir_filter(fs, "bandpass", band, n_cycles=n_cycles))
    out = np.full(rows.shape, np.nan)
    chunk: list[int] = []
    size = 0
    for i, (start, stop) in enumerate(spans):
        if stop > start:
            chunk.append(i)
            size += stop - start + 2 * pad
        if chunk and (i == len(spans) - 1 or size >= CHUNK_SAMPLES):
            _amplitude_chunk(rows, spans, chunk, out, fs, band, n_cycles, pad)
            chunk, size = [], 0
    if edges == "nan":
        half = pad // 2
        for i, (start, stop) in enumerate(spans):
            out[i, start : min(start + half, stop)] = np.nan
            out[i, max(stop - half, start) : stop] = np.nan
    return out


CHUNK_SAMPLES = 2**18
"""Padded trials are filtered in chunks of about this many samples (fast FFTs, little memory)."""


def _amplitude_chunk(rows, spans, chunk, out, fs, band, n_cycles, pad) -> None:
    """Reflect-pad the rows in ``chunk``, band-pass them in one call, Hilbert each, crop.

    The FIR output on a trial's samples and on half a filter length around them depends on
    that trial's (padded) data only; the Hilbert transform is taken over exactly that stretch
    of each trial, so trials never influence one another.
    """
    from neurodsp.filt import filter_signal  # see _band_amplitude
    from neurodsp.timefrequency.hilbert import robust_hilbert

    pieces = [_reflect(rows[i, spans[i][0] : spans[i][1]], pad) for i in chunk]
    signal = np.concatenate(pieces)
    filtered = filter_signal(signal, fs, "bandpass", band, n_cycles=n_cycles, remove_edges=False)
    half = pad // 2
    offset = 0
    for i, piece in zip(chunk, pieces, strict=True):
        length = spans[i][1] - spans[i][0]
        own = filtered[offset + pad - half : offset + pad + length + half]
        amplitude = np.abs(robust_hilbert(own))
        out[i, spans[i][0] : spans[i][1]] = amplitude[half : half + length]
        offset += piece.size


def _reflect(segment: np.ndarray, pad: int) -> np.ndarray:
    """Odd reflection by ``pad`` samples; even reflection for segments shorter than ``pad``
    (repeated odd reflection of a short segment extrapolates its trend without bound)."""
    kind = "odd" if segment.size > pad else "even"
    return np.pad(segment, pad, mode="reflect", reflect_type=kind)


def _bin_mean(amp: np.ndarray, bounds: np.ndarray, fill_value: float) -> np.ndarray:
    """Mean of the finite samples in each bin [bounds[k], bounds[k+1]); rows x bins."""
    finite = np.isfinite(amp)
    total = np.concatenate([np.zeros((len(amp), 1)), np.cumsum(np.where(finite, amp, 0), 1)], 1)
    count = np.concatenate([np.zeros((len(amp), 1)), np.cumsum(finite, 1)], 1)
    sums = total[:, bounds[1:]] - total[:, bounds[:-1]]
    counts = count[:, bounds[1:]] - count[:, bounds[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), fill_value)
