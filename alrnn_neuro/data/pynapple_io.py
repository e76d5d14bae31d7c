"""pynapple (TsGroup + IntervalSet) in and out of the canonical data model.

pynapple is the optional extra ``pynapple``: ``pip install "alrnn-neuro[pynapple]"``; it is
imported only when a function here is called.

* :func:`from_pynapple`: spike trains (``TsGroup``, seconds) and a trials ``IntervalSet``
  (its metadata columns are the trial table: event times on the same clock, labels) are binned
  by :func:`alrnn_neuro.data.events.bin_spike_times`; the counts are exactly what
  ``bin_spike_times`` gives on the same spike times and trial table. Unit ids come from the
  TsGroup metadata column ``unit_id`` (one distinct id per unit), else the TsGroup keys;
  other metadata (``rate`` excepted) become unit coords. A trials column ``observed_units``
  gives ``observed``.
* :func:`to_pynapple`: trials laid end to end on one session clock (as in
  :func:`alrnn_neuro.data.nwb.write_nwb`), each count ``n`` written as ``n`` distinct spike
  times inside its bin; the IntervalSet holds the event times (session clock), the trial
  labels, ``trial`` ids and ``observed_units``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.data.events import bin_spike_times, covering_window
from alrnn_neuro.data.nwb_write import session_layout, spike_grid, spread_spike_times
from alrnn_neuro.data.observed import UNIT_LIST_COLUMN
from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import DataValidationError, FileFormatError

UNIT_ID = "unit_id"
"""TsGroup metadata column holding the canonical (str) unit ids."""


def require_pynapple() -> ModuleType:
    """Import and return :mod:`pynapple`, or explain how to install it."""
    try:
        import pynapple
    except ImportError as err:  # pragma: no cover - pynapple is installed in the test env
        raise FileFormatError(
            "pynapple objects need the optional dependency pynapple, which is not installed; "
            'fix: pip install "alrnn-neuro[pynapple]"'
        ) from err
    return pynapple


def from_pynapple(
    units: object,
    trials: object,
    *,
    bin_size: float,
    align: str = "start",
    window: tuple[float, float] | None = None,
    epochs: Sequence | Mapping | None = None,
    inputs: Mapping[str, object] | None = None,
    smooth_sigma: float | None = None,
    events: Sequence[str] | None = None,
    observed: object = None,
    source: str = "pynapple",
) -> xr.Dataset:
    """Bin a pynapple ``TsGroup`` per trial of an ``IntervalSet`` (or DataFrame).

    Parameters
    ----------
    units : pynapple.TsGroup
        Spike trains, times in seconds.
    trials : pynapple.IntervalSet or pandas.DataFrame
        One row per trial: ``start``, ``end`` (or ``stop``) and metadata columns (event times
        in s on the clock of the spikes, labels, an integer ``trial`` id column,
        ``observed_units``).
    bin_size : float
        Bin width in seconds.
    align : str
        Event that defines time zero (``"start"``, ``"stop"`` or an event column).
    window : (float, float), optional
        Seconds relative to ``align``; default: the smallest window covering every trial.
    epochs, inputs, smooth_sigma, events, observed
        As in :func:`alrnn_neuro.data.events.bin_spike_times`.
    source : str
        Provenance string.

    Returns
    -------
    xr.Dataset
        Canonical dataset (trial, time, unit, input).

    Raises
    ------
    DataValidationError
        ``units`` is not a TsGroup, its ``unit_id`` metadata repeats an id (the units would
        merge), or ``trials`` lacks start/end.
    """
    nap = require_pynapple()
    if not isinstance(units, nap.TsGroup):
        raise DataValidationError(
            f"units has type {type(units).__name__}; fix: a pynapple TsGroup of spike trains "
            "(nap.TsGroup({0: nap.Ts(times), ...}))"
        )
    spike_times, unit_coords = _spike_trains(units)
    table = trial_table(trials)
    span = window or covering_window(table, align, bin_size)
    return bin_spike_times(
        spike_times,
        table,
        bin_size=bin_size,
        align=align,
        window=span,
        epochs=epochs,
        inputs=inputs,
        smooth_sigma=smooth_sigma,
        unit_coords=unit_coords,
        events=events,
        observed=observed,
        source=source,
    )


def _spike_trains(units) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    metadata = units.metadata
    keys = list(units.keys())
    if UNIT_ID in metadata.columns:
        ids = [str(u) for u in metadata.loc[keys, UNIT_ID]]
        _check_unique_ids(ids, keys)
    else:
        ids = [str(k) for k in keys]
    spike_times = {
        uid: np.asarray(units[k].t, dtype=float) for uid, k in zip(ids, keys, strict=True)
    }
    coords = {
        str(c): metadata.loc[keys, c].to_numpy()
        for c in metadata.columns
        if c not in ("rate", UNIT_ID)
    }
    return spike_times, coords


def _check_unique_ids(ids: list[str], keys: list) -> None:
    """Refuse a ``unit_id`` column that names two TsGroup entries alike (they would merge)."""
    seen: dict[str, list] = {}
    for uid, key in zip(ids, keys, strict=True):
        seen.setdefault(uid, []).append(key)
    repeated = {uid: k for uid, k in seen.items() if len(k) > 1}
    if repeated:
        shown = "; ".join(f"{uid!r} (TsGroup keys {k})" for uid, k in list(repeated.items())[:5])
        raise DataValidationError(
            f"units: the TsGroup metadata column '{UNIT_ID}' repeats {len(repeated)} id(s): "
            f"{shown}{'; ...' if len(repeated) > 5 else ''}; each unit needs its own id, or "
            f"the spike trains of the units sharing one would merge; fix: give every unit a "
            f"distinct '{UNIT_ID}' (tsgroup.set_info({UNIT_ID}=[...])) or drop the column to "
            "use the TsGroup keys"
        )


def trial_table(trials: object) -> pd.DataFrame:
    """A pynapple IntervalSet (with metadata) or a DataFrame as a trial table (start, stop, ...).

    Parameters
    ----------
    trials : pynapple.IntervalSet or pandas.DataFrame
        ``start`` and ``end`` (or ``stop``) plus any columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``start``, ``stop`` and the metadata columns.
    """
    if isinstance(trials, pd.DataFrame):
        frame = trials.rename(columns={"end": "stop"}).reset_index(drop=True)
    elif hasattr(trials, "start") and hasattr(trials, "end"):
        frame = pd.DataFrame({"start": np.asarray(trials.start), "stop": np.asarray(trials.end)})
        metadata = getattr(trials, "metadata", None)
        if metadata is not None and len(metadata.columns):
            frame = pd.concat([frame, metadata.reset_index(drop=True)], axis=1)
    else:
        raise DataValidationError(
            f"trials has type {type(trials).__name__}; fix: a pynapple IntervalSet (events "
            "and labels as metadata) or a DataFrame with start, end/stop"
        )
    if {"start", "stop"} - set(frame.columns):
        raise DataValidationError(
            f"trials has columns {list(frame.columns)}; fix: 'start' and 'end' (or 'stop') in s"
        )
    return frame


def to_pynapple(ds: xr.Dataset) -> tuple[object, object]:
    """A spike dataset as a pynapple ``TsGroup`` and a trials ``IntervalSet``.

    Trials are laid end to end on one session clock (as :func:`~alrnn_neuro.data.nwb.write_nwb`
    does); each count ``n`` becomes ``n`` distinct spike times inside its bin (grid step at
    most 1 ms), so ``from_pynapple(*to_pynapple(ds), bin_size=..., align=..., window=...)``
    gives back the counts, ``observed`` and, for datasets binned from spike times, ``valid``.

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset with ``spikes``.

    Returns
    -------
    units : pynapple.TsGroup
        One Ts per unit (keys 0..n-1), metadata ``unit_id`` and the unit coords.
    trials : pynapple.IntervalSet
        Trial start/end (s, session clock), metadata: event times (``<name>``, session clock),
        trial labels, ``trial`` ids, ``observed_units`` (``;``-separated unit ids).

    Raises
    ------
    DataValidationError
        A dataset without ``spikes``.
    """
    nap = require_pynapple()
    validate_dataset(ds)
    if "spikes" not in ds.data_vars:
        raise DataValidationError(
            "to_pynapple needs spike counts ('spikes'); fix: convert continuous 'signal' data "
            "with nap.TsdFrame yourself"
        )
    layout = session_layout(ds)
    bin_size = float(ds.attrs["bin_size"])
    observed = ds["observed"].values
    counts = np.where(ds["valid"].values[:, :, None] & observed[:, None, :], ds["spikes"].values, 0)
    counts = counts.astype(np.int64).clip(0)
    left = (layout["align"][:, None] + layout["edges"][None, :-1]).ravel()
    steps = spike_grid(bin_size, counts.max(initial=0))
    unit_ids = [str(u) for u in ds["unit"].values]
    trains = {
        j: nap.Ts(spread_spike_times(left, counts[:, :, j].ravel(), bin_size, steps))
        for j in range(len(unit_ids))
    }
    unit_meta = {UNIT_ID: np.array(unit_ids, dtype=object)}
    for name, coord in ds.coords.items():
        if coord.dims == ("unit",) and name != "unit":
            unit_meta[str(name)] = coord.values
    support = nap.IntervalSet(start=layout["start"], end=layout["stop"])
    group = nap.TsGroup(trains, time_support=support, metadata=unit_meta)
    metadata: dict[str, np.ndarray] = {"trial": ds["trial"].values}
    align = str(ds.attrs["align_event"])
    if align not in ("start", "stop"):
        metadata[align] = layout["align"]
    for name, coord in ds.coords.items():
        if coord.dims != ("trial",) or name == "trial":
            continue
        if str(name).startswith("event_"):
            event = str(name)[len("event_") :]
            if event not in ("start", "stop"):
                metadata[event] = layout["align"] + coord.values.astype(float)
        else:
            metadata[str(name)] = coord.values
    metadata[UNIT_LIST_COLUMN] = np.array(
        [";".join(np.array(unit_ids)[row]) for row in observed], dtype=object
    )
    trials = nap.IntervalSet(start=layout["start"], end=layout["stop"], metadata=metadata)
    return group, trials


def read_pynapple_npz(
    units_path: str | os.PathLike, trials_path: str | os.PathLike
) -> tuple[object, pd.DataFrame]:
    """Load a TsGroup ``.npz`` and a trials ``.npz`` (IntervalSet) or ``.csv`` saved by pynapple.

    Parameters
    ----------
    units_path : str or PathLike
        ``.npz`` written by ``TsGroup.save``.
    trials_path : str or PathLike
        ``.npz`` written by ``IntervalSet.save`` (metadata included), or a CSV trial table
        (``start``, ``end``/``stop``, events, labels).

    Returns
    -------
    units : pynapple.TsGroup
    trials : pandas.DataFrame
        Ready for :func:`from_pynapple`.

    Raises
    ------
    FileFormatError
        Missing files, files that do not hold a TsGroup / IntervalSet, or a trials CSV that
        is not UTF-8 text or not parseable as CSV.
    DataValidationError
        The TsGroup's ``unit_id`` metadata repeats an id (raised by :func:`from_pynapple`).
    """
    nap = require_pynapple()
    units_path, trials_path = Path(units_path), Path(trials_path)
    for path in (units_path, trials_path):
        if not path.is_file():
            raise FileFormatError(f"{path}: no such file; fix: check the path")
    units = _load_npz(nap, units_path)
    if not isinstance(units, nap.TsGroup):
        raise FileFormatError(
            f"{units_path} holds a {type(units).__name__}, not a TsGroup; fix: save the spike "
            "trains with tsgroup.save(path)"
        )
    if trials_path.suffix.lower() == ".csv":
        return units, trial_table(_read_csv(trials_path))
    trials = _load_npz(nap, trials_path)
    if not isinstance(trials, nap.IntervalSet):
        raise FileFormatError(
            f"{trials_path} holds a {type(trials).__name__}, not an IntervalSet; fix: save the "
            "trials with intervalset.save(path) (events and labels as metadata), or a CSV"
        )
    return units, trial_table(trials)


def _load_npz(nap: ModuleType, path: Path) -> object:
    if path.suffix.lower() != ".npz":
        raise FileFormatError(f"{path}: not a .npz file; fix: save with pynapple's .save(path)")
    try:
        return nap.load_file(str(path))
    except Exception as err:  # numpy/pynapple raise many types for foreign files
        raise FileFormatError(
            f"{path}: pynapple cannot load it ({type(err).__name__}: {err}); fix: a file written "
            "by a pynapple object's .save(path)"
        ) from err


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV trial table, or a FileFormatError naming the file and what is wrong with it."""
    try:
        return pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError as err:
        raise FileFormatError(
            f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset "
            f"{err.start}), so it is not a CSV trial table; fix: save the trials as a UTF-8 "
            "CSV (columns start, end/stop, event times, labels) or an IntervalSet .npz"
        ) from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        reason = " ".join(str(err).split())
        raise FileFormatError(
            f"{path}: not a readable CSV trial table ({reason}); fix: a CSV with a header row "
            "(start, end/stop, event times, labels) and one row per trial"
        ) from err
