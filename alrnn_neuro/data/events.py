"""Spike times + a trial event table -> binned, aligned, canonical dataset.

See ``docs/dataset-format.md`` for the table formats and the binning rules; the counting
kernels live in :mod:`alrnn_neuro.data.binning`, epoch labelling in
:mod:`alrnn_neuro.data.epochs`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.data import binning, limits, task_inputs
from alrnn_neuro.data import epochs as epochs_mod
from alrnn_neuro.data.observed import UNIT_LIST_COLUMN, observed_mask
from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError, EventTableError

logger = logging.getLogger(__name__)


class SilentUnitWarning(UserWarning):
    """A unit has no spike inside any valid bin; it is kept as an all-zero unit."""


def bin_spike_times(
    spike_times: Mapping[object, np.ndarray] | pd.DataFrame,
    trials: pd.DataFrame | Mapping[str, Sequence],
    *,
    bin_size: float,
    align: str,
    window: tuple[float, float],
    epochs: Sequence | Mapping | None = None,
    smooth_sigma: float | None = None,
    unit_ids: Sequence | None = None,
    unit_coords: Mapping[str, Sequence] | pd.DataFrame | None = None,
    inputs: np.ndarray | Mapping[str, np.ndarray] | None = None,
    source: str = "",
    events: Sequence[str] | None = None,
    observed: object = None,
    spike_clock: str = "session",
) -> xr.Dataset:
    """Bin spike times into aligned trials and return a canonical dataset.

    Parameters
    ----------
    spike_times : mapping of unit id to ndarray (spike,), or DataFrame with ``unit``, ``time``
        Spike times in seconds on the session clock. With ``spike_clock="trial"``: a
        DataFrame with ``unit``, ``time`` and ``trial`` (the trial id of each spike), times in
        seconds from the ``start`` of that trial.
    trials : DataFrame or mapping of name to 1-D array, length n_trial
        ``start`` and ``stop`` (s, session clock) are required. Event columns (s, session
        clock, NaN = did not happen) become ``event_<name>`` trial coords relative to
        ``align``; every other column becomes a trial coord of its own name. An optional
        integer ``trial`` column gives the trial ids; an optional ``observed_units`` column
        the units each trial recorded (see ``observed``).
    bin_size : float
        Bin width in seconds (> 0).
    align : str
        Event column that defines time zero (``"start"`` aligns to trial start).
    window : (float, float)
        ``(t0, t1)`` in seconds relative to ``align``; bins cover ``[t0, t1)``.
    epochs : sequence or mapping, optional
        Event names in order, or ``(label, start_event, stop_event)`` triples, see
        :mod:`alrnn_neuro.data.epochs`. Default: label ``"trial"`` on every valid bin.
    smooth_sigma : float, optional
        Gaussian kernel SD in seconds. When given, the result holds ``signal`` (rates in Hz,
        smoothed within each trial's valid bins) instead of ``spikes`` (counts).
    unit_ids : sequence, optional
        Units to return, in this order; units listed here but absent from ``spike_times``
        are all-zero (with a :class:`SilentUnitWarning`).
    unit_coords : mapping of name to 1-D array (unit,) or DataFrame, optional
        Unit metadata in the order of the returned units.
    inputs : ndarray (trial, time, input) or mapping of name to ndarray or str, optional
        Task inputs already on the output bins (arrays (trial, time)), or derived from the
        trial table by a spec string (``"step(stim_on, stim_off)"``, ``"pulse(go)"``,
        ``"onehot(rule)"``, ``"value(coherence, stim_on, stim_off)"``; grammar in
        :mod:`alrnn_neuro.data.task_inputs`). Zeroed on padded steps.
    source : str
        Provenance string for ``attrs["source"]``.
    events : sequence of str, optional
        Columns to treat as events. Default: ``start``, ``stop``, ``align``, the epoch events
        and every float column whose non-NaN values all lie inside their trial's
        ``[start, stop]`` (columns used by ``value()``/``onehot()`` inputs excepted).
    observed : optional
        Which units each trial recorded (pseudo-populations, units lost or added mid-session):
        a (trial, unit) bool array, a DataFrame with columns ``trial``, ``unit`` (one row per
        recorded pair) or one unit list per trial; default: the trial-table column
        ``observed_units`` if present, else every unit in every trial. See
        :mod:`alrnn_neuro.data.observed`. Counts of unobserved units are 0.
    spike_clock : {"session", "trial"}
        Clock of the spike times: one session clock shared with the trial table, or seconds
        from the start of each spike's own trial (then ``spike_times`` needs a ``trial``
        column). A ``trial`` column with the session clock is an error (ambiguous clock).

    Returns
    -------
    xr.Dataset
        Canonical dataset with dims (trial, time, unit, input). A bin is valid iff it lies
        fully inside ``[start, stop]`` of its trial; ``time`` holds bin centres.

    Raises
    ------
    ConfigError
        Bad ``bin_size``, ``window``, ``smooth_sigma`` or ``epochs``.
    EventTableError
        Inconsistent trial table: missing/unequal columns, unknown ``align`` or epoch event,
        ``stop <= start``, events out of order or outside their trial, trials with no valid
        bin in ``window``, ``inputs`` with another number of trials.
    DataValidationError
        Bad spike table (missing unit ids, a ``trial`` column with ``spike_clock="session"``),
        ``unit_coords`` or ``inputs`` shapes.

    Examples
    --------
    >>> ds = bin_spike_times({"a": [0.12, 0.31, 1.05]},
    ...                      {"start": [0.0], "stop": [1.0], "stim": [0.2]},
    ...                      bin_size=0.1, align="stim", window=(-0.2, 0.4))
    >>> ds["spikes"].sel(unit="a").values[0].tolist()
    [0, 1, 0, 1, 0, 0]
    >>> ds["time"].values.round(2).tolist()
    [-0.15, -0.05, 0.05, 0.15, 0.25, 0.35]
    """
    bin_size, (t0, t1) = check_binning(bin_size, window, smooth_sigma)
    spec = epochs_mod.parse_epochs(epochs) if epochs is not None else None
    table = epochs_mod.trial_table(trials)
    n_trials = len(table["start"])
    trial_ids = epochs_mod.trial_ids_of(table)
    unit_lists = table.pop(UNIT_LIST_COLUMN, None)
    input_specs, inputs = _split_input_specs(inputs)
    declared = ["start", "stop", align] + (epochs_mod.epoch_events(spec) if spec else [])
    declared += task_inputs.spec_events(input_specs)
    labels = [s.column for s in input_specs if s.column is not None]
    event_names = epochs_mod.event_columns(table, declared, events, trial_ids, labels)
    align_t = _align_times(table, align, trial_ids)
    if spec:
        epochs_mod.check_event_order(table, epochs_mod.epoch_events(spec), trial_ids)

    n_bins = binning.n_bins_for((t0, t1), bin_size)
    first, last = _valid_bins(table, align, align_t, (t0, t1), bin_size, n_bins, trial_ids)
    valid = binning.range_mask(first, last, n_bins)
    centres = t0 + (np.arange(n_bins) + 0.5) * bin_size
    input_array, input_names = _inputs(inputs, n_trials, n_bins, valid)

    counts, units = _counts(
        spike_times, unit_ids, spike_clock, table, align_t, trial_ids, (t0, bin_size, n_bins)
    )
    counts[~valid] = 0
    if observed is None and unit_lists is not None:
        observed = unit_lists
    observed_array = None
    if observed is not None:
        observed_array = observed_mask(observed, trial_ids, units)
        _drop_unobserved_spikes(counts, observed_array, units)
    silent = [u for u, total in zip(units, counts.sum(axis=(0, 1)), strict=True) if total == 0]
    if silent:
        warnings.warn(
            f"units {silent[:10]}{' ...' if len(silent) > 10 else ''} ({len(silent)} in all) "
            "have no spike in any valid bin; they are kept as all-zero units",
            SilentUnitWarning,
            stacklevel=2,
        )

    events_rel = {name: table[name] - align_t for name in event_names}
    if input_specs:
        derived, derived_names = task_inputs.render_inputs(
            input_specs, table, events_rel, centres, bin_size, valid
        )
        input_array, input_names = _join_inputs(input_array, input_names, derived, derived_names)
    epoch = epochs_mod.label_epochs(spec, events_rel, centres, valid) if spec else None
    trial_coords = {f"event_{name}": values for name, values in events_rel.items()}
    trial_coords.update(epochs_mod.label_columns(table, event_names))
    if smooth_sigma is None:
        data, kind = counts, "spikes"
    else:
        data = binning.smooth_rates(counts, first, last, smooth_sigma / bin_size, bin_size)
        kind = "signal"
    ds = make_dataset(
        data,
        kind=kind,
        inputs=input_array,
        input_names=input_names,
        valid=valid,
        observed=observed_array,
        epoch=epoch,
        time=centres,
        bin_size=bin_size,
        align_event=align,
        trial_coords=trial_coords,
        unit_coords=binning.unit_coord_table(unit_coords, units),
        unit_ids=units,
        trial_ids=trial_ids,
        source=source,
    )
    ds.attrs["window"] = np.array([t0, t1], dtype=float)
    if input_specs:
        ds.attrs["input_specs"] = [f"{s.name}={s.text}" for s in input_specs]
    if smooth_sigma is not None:
        ds.attrs["smooth_sigma"] = float(smooth_sigma)
    logger.debug(
        "binned %d spikes of %d units into %d trials x %d bins of %g s around %r",
        int(counts.sum()),
        len(units),
        n_trials,
        n_bins,
        bin_size,
        align,
    )
    return ds


def covering_window(
    trials: pd.DataFrame | Mapping[str, Sequence], align: str, bin_size: float
) -> tuple[float, float]:
    """The smallest window of whole bins that covers every trial's ``[start, stop]``.

    Parameters
    ----------
    trials : DataFrame or mapping of name to 1-D array
        Trial table with ``start``, ``stop`` and the ``align`` column (s, session clock).
    align : str
        Alignment event.
    bin_size : float
        Bin width in seconds.

    Returns
    -------
    (float, float)
        ``(t0, t1)`` relative to ``align``: ``t0 = min(start - align)`` and ``t1`` the first
        whole-bin edge at or after ``max(stop - align)``.

    Examples
    --------
    >>> covering_window({"start": [0.0, 5.0], "stop": [2.0, 7.5], "go": [1.0, 6.0]}, "go", 0.5)
    (-1.0, 1.5)
    """
    check_binning(bin_size, (0.0, 1.0), None)
    table = epochs_mod.trial_table(trials)
    align_t = _align_times(table, align, epochs_mod.trial_ids_of(table))
    t0 = float(np.nanmin(table["start"] - align_t))
    span = float(np.nanmax(table["stop"] - align_t)) - t0
    limits.check_bins(span / bin_size, bin_size=bin_size, window=(t0, t0 + span))
    n_bins = max(1, int(np.ceil(span / bin_size - binning.EDGE_TOL)))
    return t0, t0 + n_bins * bin_size


def _align_times(table: dict[str, np.ndarray], align: str, trial_ids: np.ndarray) -> np.ndarray:
    if align not in table:
        raise EventTableError(
            f"align={align!r} is not a column of the trial table; available columns: "
            f"{sorted(table)}; fix: pass one of them (or 'start')"
        )
    align_t = epochs_mod.float_column(table, align)
    if np.isnan(align_t).any():
        raise EventTableError(
            f"alignment event {align!r} is NaN in trials "
            f"{epochs_mod.fmt_ids(trial_ids[np.isnan(align_t)])}; fix: drop those trials "
            f"(e.g. trials[trials[{align!r}].notna()]) or align to another event"
        )
    return align_t


def _valid_bins(
    table: dict[str, np.ndarray],
    align: str,
    align_t: np.ndarray,
    window: tuple[float, float],
    bin_size: float,
    n_bins: int,
    trial_ids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """First / one-past-last valid bin per trial; error naming trials without any."""
    t0, t1 = window
    first, last = binning.valid_bin_range(
        table["start"] - align_t, table["stop"] - align_t, t0, bin_size, n_bins
    )
    empty = last <= first
    if empty.any():
        rel = np.stack([table["start"] - align_t, table["stop"] - align_t], axis=1)[empty]
        raise EventTableError(
            f"trials {epochs_mod.fmt_ids(trial_ids[empty])} have no valid {bin_size} s bin inside "
            f"window=({t0}, {t1}) around {align!r} (e.g. trial {trial_ids[empty][0]} spans "
            f"[{rel[0, 0]:g}, {rel[0, 1]:g}] s relative to {align!r}); fix: choose a window "
            f"that overlaps [start, stop], e.g. window=({rel[:, 0].min():g}, "
            f"{rel[:, 1].max():g}), or drop those trials"
        )
    return first, last


def check_binning(
    bin_size: float, window: object, smooth_sigma: float | None = None
) -> tuple[float, tuple[float, float]]:
    """``bin_size`` and ``window`` as floats, or a :class:`ConfigError` naming the bad one.

    ``smooth_sigma`` (s, or None) must be positive and no longer than the window.
    """
    if not isinstance(bin_size, int | float | np.number) or not np.isfinite(bin_size):
        raise ConfigError(f"bin_size={bin_size!r}; fix: a positive number of seconds, e.g. 0.05")
    if bin_size <= 0:
        raise ConfigError(f"bin_size={bin_size!r} s must be > 0; fix: e.g. bin_size=0.05")
    try:
        t0, t1 = (float(v) for v in window)  # type: ignore[union-attr]
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"window={window!r}; fix: two numbers (t0, t1) in s relative to align"
        ) from err
    if not (np.isfinite(t0) and np.isfinite(t1) and t1 > t0):
        raise ConfigError(f"window={window!r} needs finite t0 < t1; fix: e.g. window=(-0.5, 1.5)")
    if smooth_sigma is not None and not (np.isfinite(smooth_sigma) and smooth_sigma > 0):
        raise ConfigError(
            f"smooth_sigma={smooth_sigma!r}; fix: a positive SD in seconds, or None for counts"
        )
    if smooth_sigma is not None and smooth_sigma > t1 - t0:
        raise ConfigError(
            f"smooth_sigma={smooth_sigma!r} s is longer than the window ({t1 - t0:g} s) and "
            "would flatten every trial; fix: an SD well below the window, e.g. 0.05"
        )
    return float(bin_size), (t0, t1)


SPIKE_CLOCKS = ("session", "trial")


def _counts(spike_times, unit_ids, spike_clock, table, align_t, trial_ids, grid):
    """(trial, time, unit) counts and unit ids, for spike times on either clock."""
    t0, bin_size, n_bins = grid
    if spike_clock not in SPIKE_CLOCKS:
        raise ConfigError(
            f"spike_clock={spike_clock!r}; fix: 'session' (one clock for spikes and trials) or "
            "'trial' (spike times in s from the start of their own trial)"
        )
    shape = (len(trial_ids), n_bins)
    has_trials = isinstance(spike_times, pd.DataFrame) and "trial" in spike_times.columns
    if spike_clock == "session" and has_trials:
        raise DataValidationError(
            "the spike table has a 'trial' column (the trial of each spike) but "
            "spike_clock='session'; trial ids are read only for trial-clock times; fix: set "
            "spike_clock='trial' if the times are s from the start of their own trial (attrs.json "
            "or root attribute spike_clock, or --spike-clock trial), else drop the trial column "
            "(spikes.csv 'trial', HDF5 spike_trials)"
        )
    if spike_clock == "session":
        times, unit_index, units = binning.spike_table(spike_times, unit_ids)
        limits.check_allocation((*shape, len(units)), 8, "the binned spike counts")
        counts = binning.count_spikes(times, unit_index, len(units), align_t, t0, bin_size, n_bins)
        return counts, units
    if not isinstance(spike_times, pd.DataFrame) or "trial" not in spike_times.columns:
        raise DataValidationError(
            "spike_clock='trial' needs a spike table with columns unit, time, trial (the trial "
            "id of each spike); fix: add the trial column (events layout: spike_trials/, CSV: "
            "a 'trial' column in spikes.csv) or give session-clock times"
        )
    times, unit_index, units = binning.spike_table(spike_times[["unit", "time"]], unit_ids)
    limits.check_allocation((*shape, len(units)), 8, "the binned spike counts")
    spike_trials = spike_times["trial"].to_numpy()
    rows = pd.Index(trial_ids).get_indexer(spike_trials)
    if (rows < 0).any():
        bad = sorted(set(spike_trials[rows < 0].tolist()))
        raise DataValidationError(
            f"spikes name trials {bad[:10]} that are not in the trial table (ids "
            f"{epochs_mod.fmt_ids(trial_ids)}); fix: use the trial ids of the trial table (its "
            "'trial' column, else the row number from 0)"
        )
    offsets = align_t - table["start"]
    counts = binning.count_trial_spikes(
        times, unit_index, rows, len(units), offsets, t0, bin_size, n_bins
    )
    return counts, units


class UnobservedSpikesWarning(UserWarning):
    """Spikes fall in trials where their unit is marked not observed; they are dropped."""


def _drop_unobserved_spikes(counts: np.ndarray, observed: np.ndarray, units: list[str]) -> None:
    """Zero the counts of unobserved (trial, unit) pairs, warning if spikes are lost."""
    lost = counts.sum(axis=1) * ~observed
    if lost.any():
        which = [units[j] for j in np.flatnonzero(lost.sum(axis=0))]
        warnings.warn(
            f"{int(lost.sum())} spikes of units {which[:10]} lie in valid bins of trials where "
            "those units are marked not observed; they are dropped (check the observed units "
            "of each trial)",
            UnobservedSpikesWarning,
            stacklevel=3,
        )
    counts *= observed[:, None, :]


def _split_input_specs(inputs: object) -> tuple[list, object]:
    """Separate spec strings from arrays in a mapping of inputs."""
    if not isinstance(inputs, Mapping) or not any(isinstance(v, str) for v in inputs.values()):
        return [], inputs
    specs = task_inputs.parse_input_specs({k: v for k, v in inputs.items() if isinstance(v, str)})
    arrays = {k: v for k, v in inputs.items() if not isinstance(v, str)}
    return specs, arrays or None


def _join_inputs(array, names, derived, derived_names):
    if array is None:
        return derived, derived_names
    names = list(names or [f"input{i}" for i in range(array.shape[-1])])
    clash = sorted(set(names) & set(derived_names))
    if clash:
        raise ConfigError(f"input channels {clash} are given twice; fix: rename one")
    return np.concatenate([array, derived], axis=-1), names + derived_names


def _inputs(inputs: object, n_trials: int, n_bins: int, valid: np.ndarray):
    if inputs is None:
        return None, None
    if isinstance(inputs, xr.DataArray):
        names = [str(v) for v in inputs["input"].values] if "input" in inputs.coords else None
        array = inputs.transpose("trial", "time", "input").values
    elif isinstance(inputs, Mapping):
        names = [str(k) for k in inputs]
        array = np.stack([np.asarray(v, dtype=float) for v in inputs.values()], axis=-1)
    else:
        names, array = None, np.asarray(inputs, dtype=float)
    if array.ndim != 3 or array.shape[0] != n_trials:
        raise EventTableError(
            f"inputs have shape {array.shape} but the trial table has {n_trials} trials; "
            f"fix: one row per trial, shape ({n_trials}, {n_bins}, n_inputs)"
        )
    if array.shape[1] != n_bins:
        raise DataValidationError(
            f"inputs have {array.shape[1]} time bins, the window has {n_bins}; fix: build "
            f"inputs on the same bins, shape ({n_trials}, {n_bins}, n_inputs)"
        )
    array = np.where(valid[:, :, None], array, 0.0).astype(np.float32)
    return array, names
