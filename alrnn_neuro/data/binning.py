"""Vectorised kernels behind :func:`alrnn_neuro.data.events.bin_spike_times`.

Spike-table normalisation, valid-bin ranges, counting and within-trial smoothing.

Binning rule (used everywhere in the toolbox): with alignment time ``a`` of a trial, window
``(t0, t1)`` and bin width ``bin_size``, bin ``k`` of that trial covers the half-open interval
``[a + t0 + k * bin_size, a + t0 + (k + 1) * bin_size)`` on the session clock. A spike exactly
on an edge belongs to the bin that starts there. Times within ``EDGE_TOL`` bins of an edge count
as on the edge, which absorbs floating-point rounding of ``(t - a - t0) / bin_size``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from alrnn_neuro.data import limits
from alrnn_neuro.data.unit_ids import check_ids, unit_codes
from alrnn_neuro.errors import ConfigError, DataValidationError

logger = logging.getLogger(__name__)

EDGE_TOL = 1e-9  # in units of one bin


def n_bins_for(window: tuple[float, float], bin_size: float) -> int:
    """Number of whole bins of width ``bin_size`` that fit in ``window``, starting at ``t0``.

    Parameters
    ----------
    window : (float, float)
        ``(t0, t1)`` in seconds relative to the alignment event.
    bin_size : float
        Bin width in seconds (checked positive by the caller).

    Returns
    -------
    int
        ``floor((t1 - t0) / bin_size)``; a remainder shorter than one bin is dropped (logged).

    Raises
    ------
    ConfigError
        If the window holds less than one bin, or more than
        :data:`~alrnn_neuro.data.limits.MAX_BINS_PER_TRIAL`.

    Examples
    --------
    >>> n_bins_for((-0.5, 1.5), 0.05)
    40
    """
    t0, t1 = float(window[0]), float(window[1])
    ratio = (t1 - t0) / bin_size
    limits.check_bins(ratio, bin_size=bin_size, window=window)
    n_bins = int(np.floor(ratio + EDGE_TOL * max(1.0, ratio)))
    if n_bins < 1:
        raise ConfigError(
            f"window={window!r} is shorter than one bin (bin_size={bin_size} s); "
            f"fix: widen the window, e.g. window=({t0}, {t0 + 10 * bin_size:g})"
        )
    if abs(ratio - n_bins) > 1e-6:
        logger.info(
            "window (%g, %g) is not a whole number of %g s bins; the last %g s are dropped",
            t0,
            t1,
            bin_size,
            (ratio - n_bins) * bin_size,
        )
    return n_bins


def valid_bin_range(
    start_rel: np.ndarray, stop_rel: np.ndarray, t0: float, bin_size: float, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last valid bin of each trial.

    A bin is valid iff it lies fully inside ``[start, stop]`` of its trial, so the valid bins
    of a trial form one contiguous range ``first <= k < last``.

    Parameters
    ----------
    start_rel, stop_rel : ndarray, shape (trial,)
        Trial start and stop in seconds relative to the alignment event.
    t0 : float
        Left edge of bin 0 relative to the alignment event.
    bin_size : float
        Bin width in seconds.
    n_bins : int
        Number of bins in the window.

    Returns
    -------
    first, last : ndarray of int, shape (trial,)
        ``last <= first`` marks a trial with no valid bin.
    """
    lo = (np.asarray(start_rel, float) - t0) / bin_size
    hi = (np.asarray(stop_rel, float) - t0) / bin_size
    first = np.clip(np.ceil(lo - EDGE_TOL), 0, n_bins).astype(np.int64)
    last = np.clip(np.floor(hi + EDGE_TOL), 0, n_bins).astype(np.int64)
    return first, last


def range_mask(first: np.ndarray, last: np.ndarray, n_bins: int) -> np.ndarray:
    """Boolean (trial, time) mask that is True on ``first <= k < last``."""
    k = np.arange(n_bins)
    return (k[None, :] >= first[:, None]) & (k[None, :] < last[:, None])


def count_spikes(
    times: np.ndarray,
    unit_index: np.ndarray,
    n_units: int,
    align_times: np.ndarray,
    t0: float,
    bin_size: float,
    n_bins: int,
) -> np.ndarray:
    """Count spikes per (trial, bin, unit) by index arithmetic (no loop over spikes or trials).

    Spikes are grouped by unit and time-sorted within each unit (sorted here only if needed);
    one ``searchsorted`` per unit finds each trial's run of spikes, and the counts come from
    ``np.unique`` on flat (trial, bin, unit) indices.

    Parameters
    ----------
    times : ndarray of float, shape (spike,)
        Spike times on the session clock, all units together.
    unit_index : ndarray of int, shape (spike,)
        Index ``0 .. n_units-1`` of the unit of each spike.
    n_units : int
        Number of units (size of the ``unit`` dim of the result).
    align_times : ndarray of float, shape (trial,)
        Alignment-event time of each trial on the session clock.
    t0 : float
        Left edge of bin 0 relative to the alignment event.
    bin_size : float
        Bin width in seconds.
    n_bins : int
        Number of bins.

    Returns
    -------
    ndarray of int32, shape (trial, time, unit)
        Counts in every bin of the window; the caller zeroes invalid bins.

    Examples
    --------
    >>> c = count_spikes(np.array([0.0, 0.1, 0.25]), np.array([0, 0, 0]), 1,
    ...                  np.array([0.0]), 0.0, 0.1, 3)
    >>> c[0, :, 0].tolist()
    [1, 1, 1]
    """
    times = np.asarray(times, float)
    unit_index = np.asarray(unit_index, np.int64)
    step_unit, step_time = np.diff(unit_index), np.diff(times)
    if np.any(step_unit < 0) or np.any((step_unit == 0) & (step_time < 0)):
        order = np.lexsort((times, unit_index))  # group by unit, time-sorted within
        times, unit_index = times[order], unit_index[order]
    align_times = np.asarray(align_times, float)
    n_trials = align_times.size
    slack = 2 * EDGE_TOL * bin_size + 1e-12 * np.abs(align_times)
    window_lo = align_times + t0 - slack
    window_hi = align_times + t0 + n_bins * bin_size + slack
    # spikes of (trial i, unit u) form one contiguous run lo[i, u]:hi[i, u]
    unit_bounds = np.searchsorted(unit_index, np.arange(n_units + 1))
    lo = np.empty((n_trials, n_units), np.int64)
    hi = np.empty((n_trials, n_units), np.int64)
    for u in range(n_units):
        own = times[unit_bounds[u] : unit_bounds[u + 1]]
        lo[:, u] = unit_bounds[u] + np.searchsorted(own, window_lo)
        hi[:, u] = unit_bounds[u] + np.searchsorted(own, window_hi)
    per_run = (hi - lo).ravel()
    run_of = np.repeat(np.arange(n_trials * n_units), per_run)
    offsets = np.arange(per_run.sum()) - np.repeat(np.cumsum(per_run) - per_run, per_run)
    spike_of = np.repeat(lo.ravel(), per_run) + offsets
    trial_of = run_of // n_units
    rel = (times[spike_of] - align_times[trial_of] - t0) / bin_size
    bins = np.floor(rel + EDGE_TOL).astype(np.int64)
    keep = (bins >= 0) & (bins < n_bins)
    flat = (trial_of[keep] * n_bins + bins[keep]) * n_units + run_of[keep] % n_units
    counts = np.zeros(n_trials * n_bins * n_units, dtype=np.int32)
    cells, per_cell = np.unique(flat, return_counts=True)
    counts[cells] = per_cell
    return counts.reshape(n_trials, n_bins, n_units)


def count_trial_spikes(
    times: np.ndarray,
    unit_index: np.ndarray,
    trial_index: np.ndarray,
    n_units: int,
    offsets: np.ndarray,
    t0: float,
    bin_size: float,
    n_bins: int,
) -> np.ndarray:
    """Count spikes whose times are relative to their own trial's clock.

    The same binning rule as :func:`count_spikes`, for spike tables that say which trial each
    spike belongs to: spike ``s`` of trial ``i`` lies at ``times[s] - offsets[i]`` relative to
    the alignment event of trial ``i``.

    Parameters
    ----------
    times : ndarray of float, shape (spike,)
        Spike times on the trial clock (e.g. seconds from trial start).
    unit_index, trial_index : ndarray of int, shape (spike,)
        Unit (``0 .. n_units-1``) and trial (row of the trial table) of each spike.
    n_units : int
        Number of units.
    offsets : ndarray of float, shape (trial,)
        Time of each trial's alignment event on its trial clock.
    t0 : float
        Left edge of bin 0 relative to the alignment event.
    bin_size : float
        Bin width in seconds.
    n_bins : int
        Number of bins.

    Returns
    -------
    ndarray of int32, shape (trial, time, unit)

    Examples
    --------
    >>> c = count_trial_spikes(np.array([0.05, 0.05]), np.array([0, 0]), np.array([0, 1]), 1,
    ...                        np.array([0.0, 0.1]), 0.0, 0.1, 2)
    >>> c[:, :, 0].tolist()
    [[1, 0], [0, 0]]
    """
    trial_index = np.asarray(trial_index, np.int64)
    rel = (np.asarray(times, float) - np.asarray(offsets, float)[trial_index] - t0) / bin_size
    bins = np.floor(rel + EDGE_TOL).astype(np.int64)
    keep = (bins >= 0) & (bins < n_bins)
    flat = (trial_index[keep] * n_bins + bins[keep]) * n_units + np.asarray(unit_index)[keep]
    n_trials = np.asarray(offsets).size
    counts = np.bincount(flat, minlength=n_trials * n_bins * n_units).astype(np.int32)
    return counts.reshape(n_trials, n_bins, n_units)


def smooth_rates(
    counts: np.ndarray, first: np.ndarray, last: np.ndarray, sigma_bins: float, bin_size: float
) -> np.ndarray:
    """Gaussian-smoothed firing rates (Hz), computed inside each trial's valid bins only.

    Each trial's valid segment ``first:last`` is filtered on its own with
    :func:`scipy.ndimage.gaussian_filter1d` (``mode="reflect"``), so spike mass is conserved
    within the segment and nothing leaks into padded steps, which stay 0. Trials that share a
    valid range are filtered together.

    Parameters
    ----------
    counts : ndarray, shape (trial, time, unit)
        Spike counts.
    first, last : ndarray of int, shape (trial,)
        Valid bin range of each trial (see :func:`valid_bin_range`).
    sigma_bins : float
        Kernel standard deviation in bins.
    bin_size : float
        Bin width in seconds (counts per bin / bin_size = Hz).

    Returns
    -------
    ndarray of float32, shape (trial, time, unit)
    """
    from scipy.ndimage import gaussian_filter1d

    rates = np.zeros(counts.shape, dtype=np.float32)
    ranges = np.stack([first, last], axis=1)
    unique_ranges, group = np.unique(ranges, axis=0, return_inverse=True)
    for g, (lo, hi) in enumerate(unique_ranges):
        if hi <= lo:
            continue
        rows = np.flatnonzero(group.ravel() == g)
        segment = counts[rows, lo:hi, :].astype(np.float64)
        smoothed = gaussian_filter1d(segment, sigma_bins, axis=1, mode="reflect")
        rates[rows, lo:hi, :] = smoothed / bin_size
    return rates


def _numeric_times(values: object, what: str) -> np.ndarray:
    """``values`` as float seconds, or a :class:`DataValidationError` naming the first entry
    that is not a number (text in a CSV column, strings in an HDF5 dataset)."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        entries = np.asarray(values, dtype=object).ravel()
        bad = next((v for v in entries if not _is_number(v)), values)
        raise DataValidationError(
            f"{what} holds {bad!r}, not a number; fix: spike times in seconds, numbers only"
        ) from None


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def spike_table(
    spike_times: object, unit_ids: Sequence | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Flatten a spike table to (times, unit index, unit ids).

    Parameters
    ----------
    spike_times : mapping of unit id to 1-D array, or DataFrame with ``unit``, ``time``
        Units keep the mapping's order; DataFrame units are sorted (numbers by value, text ids
        by :func:`~alrnn_neuro.data.unit_ids.natural_key`); a missing unit id is an error.
    unit_ids : sequence, optional
        Output units in this order (may add silent units, must cover every spiking unit).

    Returns
    -------
    times : ndarray of float, shape (spike,)
    unit_index : ndarray of int, shape (spike,)
        Position of each spike's unit in ``unit_ids``.
    unit_ids : list of str

    Raises
    ------
    DataValidationError
        Wrong type or columns, non-1-D arrays, NaN times, duplicate or missing unit ids
        (blank or NaN ``unit`` cells).
    """
    if isinstance(spike_times, pd.DataFrame):
        if {"unit", "time"} - set(spike_times.columns):
            raise DataValidationError(
                f"spike table has columns {list(spike_times.columns)}; fix: columns 'unit' "
                "and 'time' (s, session clock), one row per spike"
            )
        names, unit_index = unit_codes(spike_times["unit"].to_numpy())
        times = _numeric_times(spike_times["time"].to_numpy(), "the spike table's column 'time'")
    elif isinstance(spike_times, Mapping):
        check_ids(
            np.array(list(spike_times), dtype=object),
            "a unit id (key) of spike_times",
            rows="key number",
            fix="key every spike train by its unit id (str or int)",
        )
        names = [str(k) for k in spike_times]
        arrays = [
            _numeric_times(v, f"the spike times of unit {name!r}")
            for name, v in zip(names, spike_times.values(), strict=True)
        ]
        for name, array in zip(names, arrays, strict=True):
            if array.ndim != 1:
                raise DataValidationError(
                    f"spike times of unit {name!r} have shape {array.shape}; fix: a 1-D array"
                )
        times = np.concatenate(arrays) if arrays else np.zeros(0)
        unit_index = np.repeat(np.arange(len(arrays)), [a.size for a in arrays])
    else:
        raise DataValidationError(
            f"spike_times has type {type(spike_times).__name__}; fix: a dict unit id -> "
            "array of spike times, or a DataFrame with columns unit, time"
        )
    if not names and not unit_ids:
        raise DataValidationError("spike_times holds no units; fix: give at least one unit")
    if len(set(names)) != len(names):
        raise DataValidationError(f"unit ids {names} repeat after conversion to str; fix: rename")
    if not np.isfinite(times).all():
        bad = sorted({names[i] for i in unit_index[~np.isfinite(times)]})
        raise DataValidationError(
            f"spike times of units {bad[:10]} hold NaN/inf; fix: drop those entries"
        )
    if unit_ids is None:
        return times, unit_index, names
    wanted = [str(u) for u in unit_ids]
    if len(set(wanted)) != len(wanted):
        raise DataValidationError(f"unit_ids={wanted} has duplicates; fix: list each unit once")
    extra = sorted(set(names) - set(wanted))
    if extra:
        raise DataValidationError(
            f"spike table holds units {extra[:10]} that are not in unit_ids; fix: add them to "
            "unit_ids or drop their spikes"
        )
    lookup = {name: i for i, name in enumerate(wanted)}
    position = np.array([lookup[n] for n in names], dtype=np.int64)
    return times, position[unit_index] if names else unit_index, wanted


def unit_coord_table(unit_coords: object, units: list[str]) -> dict[str, np.ndarray]:
    """Unit metadata as a dict of (unit,) arrays, checked against the number of units."""
    if unit_coords is None:
        return {}
    if isinstance(unit_coords, pd.DataFrame):
        unit_coords = {str(c): unit_coords[c].to_numpy() for c in unit_coords.columns}
    coords = {str(k): np.asarray(v) for k, v in dict(unit_coords).items()}  # type: ignore[call-overload]
    for name, values in coords.items():
        if values.shape != (len(units),):
            raise DataValidationError(
                f"unit_coords[{name!r}] has shape {values.shape}, expected ({len(units)},) "
                f"(one value per unit, in the order {units[:5]}...); fix: reorder or pad it"
            )
    return coords
