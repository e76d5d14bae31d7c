"""Resample NWB TimeSeries (inputs, continuous signals, LFP) onto trial-aligned time bins."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from alrnn_neuro.data.lfp import lfp_band_amplitudes
from alrnn_neuro.errors import FileFormatError


def series_timestamps(series) -> np.ndarray:
    """Session times (s) of every sample of an NWB ``TimeSeries``.

    Parameters
    ----------
    series : pynwb.TimeSeries
        Series with either ``timestamps`` or ``starting_time`` + ``rate``.

    Returns
    -------
    ndarray, shape (sample,)
        Sample times in seconds on the session clock, ascending.

    Raises
    ------
    FileFormatError
        ``timestamps`` holding NaN/inf or not in ascending order (NWB requires ascending
        timestamps; equal neighbours are allowed). Such a file is refused rather than sorted:
        which sample comes first among equal times, or where a NaN time belongs, is unknown.
    """
    if series.timestamps is not None:
        stamps = np.asarray(series.timestamps[:], dtype=np.float64)
        _check_ascending(series.name, stamps)
        return stamps
    n_samples = series.data.shape[0]
    start = float(series.starting_time or 0.0)
    return start + np.arange(n_samples, dtype=np.float64) / float(series.rate)


def _check_ascending(name: str, stamps: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(stamps))
    if bad.size:
        raise FileFormatError(
            f"TimeSeries {name!r}: timestamps[{bad[0]}] is {stamps[bad[0]]} ({bad.size} "
            "non-finite timestamp(s)); fix: give every sample a finite time (s), or drop the "
            "samples without one when writing the file"
        )
    back = np.flatnonzero(np.diff(stamps) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise FileFormatError(
            f"TimeSeries {name!r}: timestamps are not ascending (NWB requires ascending "
            f"timestamps): timestamps[{i}] = {stamps[i]:.6g} s comes after timestamps[{i - 1}] "
            f"= {stamps[i - 1]:.6g} s ({back.size} step(s) back in time); fix: write the "
            "samples in time order (order = np.argsort(t, kind='stable'); data[order], "
            "t[order]) and check the file with nwbinspector"
        )


def bin_series(
    series,
    align_times: np.ndarray,
    edges: np.ndarray,
    valid: np.ndarray,
) -> np.ndarray:
    """Average the samples of ``series`` inside every trial-aligned time bin.

    A bin holding samples gets their mean; a bin without samples (a series slower than the
    bins) gets the series linearly interpolated at the bin centre. Only the samples of each
    trial's window are read from disk. NWB ``conversion`` and ``offset`` are applied. NaN (or
    inf) is not read as "missing": a valid bin whose value would use such a sample is an
    error (mark the span in the NWB ``invalid_times`` table to leave its bins out).

    Parameters
    ----------
    series : pynwb.TimeSeries
        Source series, data of shape (sample,) or (sample, channel).
    align_times : ndarray, shape (trial,)
        Session time (s) of each trial's alignment event.
    edges : ndarray, shape (time + 1,)
        Bin edges (s) relative to the alignment event.
    valid : ndarray of bool, shape (trial, time)
        Bins to fill; others hold 0.

    Returns
    -------
    ndarray, shape (trial, time, channel)
        Binned values (float64).

    Raises
    ------
    FileFormatError
        If a valid bin lies outside the time range the series covers, its value would use a
        NaN/inf sample, or the timestamps are not finite and ascending.
    """
    stamps = series_timestamps(series)
    n_channel = int(np.prod(series.data.shape[1:], dtype=int))
    scale = float(getattr(series, "conversion", 1.0) or 1.0)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    centres = (edges[:-1] + edges[1:]) / 2
    out = np.zeros((len(align_times), len(centres), n_channel))
    for i, align in enumerate(align_times):
        if not valid[i].any():
            continue
        lo = max(int(np.searchsorted(stamps, align + edges[0], "left")) - 1, 0)
        hi = min(int(np.searchsorted(stamps, align + edges[-1], "right")) + 1, stamps.size)
        times = stamps[lo:hi] - align
        values = np.asarray(series.data[lo:hi], dtype=np.float64).reshape(hi - lo, n_channel)
        values = values * scale + offset
        if not np.isfinite(values).all():
            _check_finite_samples(series.name, times, values, edges, valid[i], (i, align))
        out[i] = _bin_trial(times, values, edges, centres)
    out[~valid] = 0.0
    bad = np.isnan(out).any(axis=-1) & valid
    if bad.any():
        trial, step = np.argwhere(bad)[0]
        raise FileFormatError(
            f"TimeSeries '{series.name}' has no samples around bin {step} of trial index "
            f"{trial} (session time {align_times[trial] + centres[step]:.3f} s; the series "
            f"covers {stamps[0] if stamps.size else np.nan:.3f}-"
            f"{stamps[-1] if stamps.size else np.nan:.3f} s); fix: pick a window inside the "
            "recorded range or another series"
        )
    return out


def _check_finite_samples(
    name: str,
    times: np.ndarray,
    values: np.ndarray,
    edges: np.ndarray,
    valid: np.ndarray,
    where: tuple[int, float],
) -> None:
    """Refuse NaN/inf samples that a valid bin of one trial would average or interpolate.

    ``times`` (sample,) are sample times relative to the trial's alignment event, ``values``
    (sample, channel) the samples, ``valid`` (time,) the bins to fill and ``where`` the trial
    index and its alignment time (session clock, s).
    """
    centres = (edges[:-1] + edges[1:]) / 2
    missing = ~np.isfinite(values)
    binned = _bin_trial(times, values, edges, centres)
    filled = _bin_trial(times, np.where(missing, 0.0, values), edges, centres)
    hit = (~np.isfinite(binned) & np.isfinite(filled)).any(axis=-1) & valid
    if hit.any():  # a bin that holds a number once the NaN/inf samples are zeroed
        step = int(np.flatnonzero(hit)[0])
        rows, cols = np.nonzero(missing)
        k = int(np.argmin(np.abs(times[rows] - centres[step])))
        trial, align = where
        value = "NaN" if np.isnan(values[rows[k], cols[k]]) else str(values[rows[k], cols[k]])
        raise FileFormatError(
            f"TimeSeries {name!r} holds {value} at session time "
            f"{align + times[rows[k]]:.6g} s (channel {cols[k]}), which bin {step} of trial "
            f"index {trial} (centre {align + centres[step]:.3f} s) would use; NaN is not read "
            "as missing data; fix: fill or interpolate those samples, list the span in the NWB "
            "invalid_times table (its bins are then left out), or pick a window without it"
        )


def _bin_trial(
    times: np.ndarray, values: np.ndarray, edges: np.ndarray, centres: np.ndarray
) -> np.ndarray:
    """Mean per bin where samples fall in it, interpolation at the centre elsewhere."""
    n_time, n_channel = centres.size, values.shape[1]
    # a sample within 1e-9 bins of an edge belongs to the bin starting there (as for spikes)
    index = np.searchsorted(edges, times + 1e-9 * (edges[1] - edges[0]), "right") - 1
    inside = (index >= 0) & (index < n_time)
    counts = np.bincount(index[inside], minlength=n_time)
    result = np.full((n_time, n_channel), np.nan)
    for c in range(n_channel):
        sums = np.bincount(index[inside], weights=values[inside, c], minlength=n_time)
        with np.errstate(invalid="ignore", divide="ignore"):
            result[:, c] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        empty = counts == 0
        if empty.any() and times.size:
            result[empty, c] = np.interp(
                centres[empty], times, values[:, c], left=np.nan, right=np.nan
            )
    return result


def label_from_intervals(
    table, align_times: np.ndarray, edges: np.ndarray, valid: np.ndarray, fill: str
) -> np.ndarray:
    """Epoch label of every bin from an NWB ``TimeIntervals`` table with ``tags``.

    A bin gets the tags (joined by ``"+"``) of the latest-starting interval that holds its
    centre, ``fill`` when no interval does, and ``""`` when it is not valid.

    Parameters
    ----------
    table : pynwb.epoch.TimeIntervals or None
        Usually ``nwbfile.epochs``.
    align_times : ndarray, shape (trial,)
        Session time (s) of each trial's alignment event.
    edges : ndarray, shape (time + 1,)
        Bin edges (s) relative to the alignment event.
    valid : ndarray of bool, shape (trial, time)
    fill : str
        Label of valid bins outside every interval.

    Returns
    -------
    ndarray of str, shape (trial, time)
    """
    labels = np.full(valid.shape, fill, dtype=object)
    if table is not None and len(table):
        lo = np.asarray(table["start_time"].data[:], float)
        hi = np.asarray(table["stop_time"].data[:], float)
        if "tags" in table.colnames:
            tags = np.array(["+".join(map(str, row)) for row in ragged_rows(table["tags"])])
        else:
            tags = np.array([f"epoch{i}" for i in np.asarray(table.id.data[:])])
        order = np.argsort(lo, kind="stable")
        lo, hi, tags = lo[order], hi[order], tags[order]
        centres = align_times[:, None] + (edges[None, :-1] + edges[None, 1:]) / 2
        index = np.searchsorted(lo, centres, "right") - 1
        inside = (index >= 0) & (centres < hi[np.clip(index, 0, None)])
        labels[inside] = tags[index[inside]]
    labels[~valid] = ""
    return labels.astype(str)


def find_series(nwbfile) -> dict[str, object]:
    """Every TimeSeries in ``acquisition`` (by name) and ``processing`` (``module/name``)."""
    from pynwb import TimeSeries

    found = {name: obj for name, obj in nwbfile.acquisition.items() if isinstance(obj, TimeSeries)}
    for module_name, module in nwbfile.processing.items():
        for name, obj in module.data_interfaces.items():
            if isinstance(obj, TimeSeries):
                found[f"{module_name}/{name}"] = obj
            for inner_name, inner in getattr(obj, "electrical_series", {}).items():
                found[f"{module_name}/{name}/{inner_name}"] = inner
    return found


def get_series(nwbfile, name: str):
    """The TimeSeries called ``name`` (see :func:`find_series`), or a FileFormatError."""
    found = find_series(nwbfile)
    if name not in found:
        raise FileFormatError(
            f"no TimeSeries named {name!r} in the NWB file; available: {sorted(found)}; "
            "fix: pass one of them"
        )
    return found[name]


def find_lfp(nwbfile, lfp: bool | str):
    """The LFP ElectricalSeries: named by ``lfp``, else the first in ``processing['ecephys']``,
    else the first ElectricalSeries in ``acquisition``."""
    from pynwb.ecephys import ElectricalSeries

    if isinstance(lfp, str):
        return get_series(nwbfile, lfp)
    found = find_series(nwbfile)
    ordered = [k for k in found if k.startswith("ecephys/")] + list(found)
    for key in ordered:
        if isinstance(found[key], ElectricalSeries):
            return found[key]
    raise FileFormatError(
        f"lfp=True but the NWB file holds no ElectricalSeries (TimeSeries: {sorted(found)}); "
        "fix: pass lfp=NAME of a series, or lfp=False"
    )


def channel_ids(series, n_channel: int) -> np.ndarray:
    """Channel ids: electrode ids of an ElectricalSeries, else ``0 .. n_channel-1``."""
    electrodes = getattr(series, "electrodes", None)
    if electrodes is not None:
        ids = np.asarray(electrodes.table.id.data[:])[np.asarray(electrodes.data[:])]
        if ids.size == n_channel:
            return ids
    return np.arange(n_channel)


def ragged_rows(column) -> list[np.ndarray]:
    """Rows of a ragged NWB column (a ``VectorIndex``) as a list of arrays."""
    ends = np.asarray(column.data[:], dtype=np.int64)
    flat = np.asarray(column.target.data[:])
    return np.split(flat, ends[:-1]) if ends.size else []


def band_amplitudes(
    series,
    align_times: np.ndarray,
    edges: np.ndarray,
    valid: np.ndarray,
    bands: Mapping[str, tuple[float, float]],
) -> xr.DataArray:
    """Per-bin band amplitudes of a regularly sampled LFP series, trial by trial.

    Each trial's stretch of the recording (the window plus 3 cycles of the lowest band edge
    on each side, against filter edge effects) goes through
    :func:`alrnn_neuro.data.lfp.lfp_band_amplitudes` with its exact sample times.

    Parameters
    ----------
    series : pynwb.ecephys.ElectricalSeries or TimeSeries
        Series with ``rate`` (regular sampling), data (sample, channel).
    align_times : ndarray, shape (trial,)
        Session time (s) of each trial's alignment event.
    edges : ndarray, shape (time + 1,)
        Bin edges (s) relative to the alignment event.
    valid : ndarray of bool, shape (trial, time)
        Bins to fill; others hold 0.
    bands : mapping of str to (float, float)
        Band name -> (low, high) in Hz.

    Returns
    -------
    xr.DataArray, shape (trial, time, channel, band)
        Coords ``band``, ``band_low``, ``band_high``.
    """
    if series.rate is None:
        raise FileFormatError(
            f"LFP series '{series.name}' has timestamps, not a sampling rate; band amplitudes "
            "need regular sampling; fix: use lfp=True without lfp_bands (per-bin means)"
        )
    fs, start = float(series.rate), float(series.starting_time or 0.0)
    n_samples = series.data.shape[0]
    n_channel = int(np.prod(series.data.shape[1:], dtype=int))
    scale = float(getattr(series, "conversion", 1.0) or 1.0)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    pad = 3.0 / min(float(low) for low, _ in bands.values())
    centres = (edges[:-1] + edges[1:]) / 2
    out = np.zeros((len(align_times), centres.size, n_channel, len(bands)))
    amp = None
    for i, align in enumerate(align_times):
        if not valid[i].any():
            continue
        i0 = max(int(np.floor((align + edges[0] - pad - start) * fs)), 0)
        i1 = min(int(np.ceil((align + edges[-1] + pad - start) * fs)) + 1, n_samples)
        chunk = np.asarray(series.data[i0 : max(i1, i0)], dtype=np.float64)
        chunk = chunk.reshape(-1, n_channel)[None] * scale + offset
        if chunk.shape[1] == 0:
            chunk = np.full((1, 1, n_channel), np.nan)
        amp = lfp_band_amplitudes(
            chunk,
            fs=fs,
            bands=bands,
            bin_size=float(edges[1] - edges[0]),
            t_start=start + i0 / fs - align,
            time=centres,
        )
        out[i] = amp.values[0]
    out[~valid] = 0.0
    bad = np.isnan(out).any(axis=(-1, -2)) & valid
    if bad.any():
        trial, step = np.argwhere(bad)[0]
        raise FileFormatError(
            f"LFP series '{series.name}' does not cover bin {step} of trial index {trial} "
            f"(session time {align_times[trial] + centres[step]:.3f} s); fix: pick a window "
            "inside the recorded range"
        )
    coords = {} if amp is None else {k: ("band", amp[k].values) for k in amp["band"].coords}
    return xr.DataArray(out, dims=("trial", "time", "channel", "band"), coords=coords)
