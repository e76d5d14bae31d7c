"""Read an NWB file (trials + units tables) into the canonical data model."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from alrnn_neuro.data import nwb_series
from alrnn_neuro.data.events import SilentUnitWarning, bin_spike_times, covering_window
from alrnn_neuro.data.nwb_write import FORMAT_TAG, META_MODULE, require_pynwb
from alrnn_neuro.errors import EventTableError, FileFormatError

logger = logging.getLogger(__name__)
_PLACEHOLDER = "__no_unit__"
_SKIP_UNIT_COLUMNS = ("spike_times", "obs_intervals", "electrodes", "unit_id")
_TABLE_KEYS = {  # keys of the trial table that do not come from a same-named NWB column
    "start": "trial's start_time",
    "stop": "trial's stop_time",
    "trial": "NWB row id",
}


def read_nwb(
    path: str | os.PathLike | object,
    *,
    bin_size: float = 0.05,
    align: str | None = None,
    window: tuple[float, float] | None = None,
    epochs: Sequence | str | None = None,
    lfp: bool | str = False,
    lfp_bands: Mapping[str, tuple[float, float]] | None = None,
    signal: str | None = None,
    events: Sequence[str] | None = None,
    trials: str = "trials",
) -> xr.Dataset:
    """Bin the spikes of an NWB file per trial into a canonical dataset.

    Parameters
    ----------
    path : str, PathLike or pynwb.NWBFile
        ``.nwb`` file (HDF5) with a trials table and a ``units`` table, or an ``NWBFile``
        that is already open (e.g. streamed from DANDI with remfile/fsspec); the caller keeps
        its IO open while this function reads.
    bin_size : float
        Bin width in seconds.
    align : str, optional
        Alignment event: ``"start"``, ``"stop"`` or an event column, given as its name without
        the ``_time`` suffix (``"stim_on"``) or as the column name (``"stim_on_time"``).
        Default: the alignment stored by :func:`write_nwb`, else ``"start"``.
    window : (float, float), optional
        Seconds relative to ``align``. Default: the window stored by :func:`write_nwb`, else
        the smallest window covering every trial (the longest trial).
    epochs : sequence, mapping or "nwb", optional
        Epoch spec of :func:`~alrnn_neuro.data.events.bin_spike_times` (event names), or
        ``"nwb"`` to label bins with the tags of the NWB ``epochs`` table. Default: the
        ``epochs`` table for files from :func:`write_nwb`, else ``"trial"`` everywhere.
    lfp : bool or str
        Also bin an LFP ``ElectricalSeries`` (``True``: the first one in
        ``processing["ecephys"]``, else the first acquisition ElectricalSeries; a str names
        one) into ``lfp_mean`` (trial, time, channel): the per-bin mean of the raw trace.
    lfp_bands : mapping of str to (float, float), optional
        Band name -> (low, high) Hz. Instead of ``lfp_mean``, store ``lfp_amplitude``
        (trial, time, channel, band): per-bin band amplitudes of the LFP series chosen by
        ``lfp`` (default: as for ``lfp=True``), by
        :func:`~alrnn_neuro.data.lfp.lfp_band_amplitudes`. Needs a series with a ``rate``.
    signal : str, optional
        Name (``"acq_name"`` or ``"module/name"``) of a TimeSeries to bin into ``signal``
        (trial, time, unit) instead of binning spikes; its columns become units ``"0"``,
        ``"1"``, ... No units table is needed then.
    events : sequence of str, optional
        Trial columns holding event times. Default: the columns named ``*_time`` whose values
        lie inside their trial (``write_nwb`` files: the stored list).
    trials : str
        The ``TimeIntervals`` table whose rows are the trials: ``"trials"`` (default) or the
        name of another table in ``nwbfile.intervals`` (files may hold several).

    Returns
    -------
    xr.Dataset
        Canonical dataset (trial, time, unit, input); NWB trial ids (the table's row ids)
        become ``trial``, trial columns become trial coords, events ``event_<name>`` coords,
        unit columns unit coords; ``obs_intervals`` give ``observed``; bins overlapping
        ``invalid_times`` are invalid. A trials column named ``trial``, ``start`` or ``stop``
        (names the canonical trial table takes from the row ids, ``start_time`` and
        ``stop_time``) is kept, as ``trial_column`` (``start_column``, ``stop_column``; a
        number appended if that is taken too), and a log warning says so.

    Raises
    ------
    FileFormatError
        Missing file, not HDF5/NWB, no trials table (or no table named ``trials``), no units
        table (and no ``signal``).
    EventTableError
        Unknown ``align`` event, or an inconsistent trials table.
    """
    pynwb = require_pynwb()
    lfp = True if lfp_bands and not lfp else lfp
    options = (bin_size, align, window, epochs, lfp, lfp_bands, signal, events, trials)
    if isinstance(path, pynwb.NWBFile):
        source = path.container_source or f"NWBFile {path.identifier}"
        return _read(path, source, *options)
    path = Path(path)  # type: ignore[arg-type]
    if not path.is_file():
        raise FileFormatError(f"{path} does not exist; fix: give the path of an .nwb file")
    if not h5py.is_hdf5(path):
        raise FileFormatError(
            f"{path} is not an HDF5 file, so it is not an NWB 2 file; fix: give an .nwb file "
            "(NWB 1 / Zarr-backed NWB are not supported)"
        )
    try:
        io = pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True)
    except Exception as err:
        raise FileFormatError(
            f"{path} is HDF5 but pynwb cannot open it as NWB ({type(err).__name__}: {err}); "
            "fix: give an NWB 2 file"
        ) from err
    with io:
        try:
            nwbfile = io.read()
        except Exception as err:
            raise FileFormatError(
                f"{path} is HDF5 but not a readable NWB file ({type(err).__name__}: {err}); "
                "fix: give an NWB 2 file (check it with nwbinspector)"
            ) from err
        return _read(nwbfile, str(path), *options)


def _read(
    nwbfile, path, bin_size, align, window, epochs, lfp, lfp_bands, signal, events, trials_name
) -> xr.Dataset:
    # write_nwb's metadata describe its trials table; another table is read like any file's
    meta = _metadata(nwbfile) if trials_name == "trials" else {}
    intervals = _intervals(nwbfile, trials_name, path)
    table, columns = _trials_table(intervals, path, meta, events)
    align = _align_name(align, meta, columns, table)
    if window is None:
        stored = meta.get("window") if align == meta.get("align_event") else None
        window = tuple(stored) if stored else covering_window(table, align, bin_size)
    if isinstance(epochs, str) and epochs != "nwb":
        epochs = [epochs]
    use_nwb_epochs = epochs == "nwb" or (epochs is None and bool(meta))
    if epochs == "nwb" and nwbfile.epochs is None:
        raise FileFormatError(
            f"{path}: epochs='nwb' but the file has no epochs table; fix: name the trial events "
            "that start epochs (--epochs stim_on,response) or leave epochs out"
        )
    if isinstance(epochs, Sequence) and not isinstance(epochs, str):
        epochs = [_rename_event(e, columns) for e in epochs]
    spike_times, unit_ids, unit_coords, obs = _units(nwbfile, path, meta, signal)
    placeholder = not unit_ids  # bin_spike_times needs a unit; dropped again below
    if placeholder:
        spike_times, unit_ids = {_PLACEHOLDER: np.zeros(0)}, [_PLACEHOLDER]
    with warnings.catch_warnings():
        if placeholder or signal or meta.get("kind") == "signal":
            warnings.simplefilter("ignore", SilentUnitWarning)
        ds = bin_spike_times(
            spike_times,
            table,
            bin_size=bin_size,
            align=align,
            window=window,
            epochs=None if use_nwb_epochs else epochs,
            unit_ids=unit_ids,
            unit_coords=unit_coords,
            source=str(path),
            events=columns["events"],
        )
    ds.attrs["source"] = meta.get("source") or str(path)
    align_times = table[align]
    edges = np.append(ds["time"].values - bin_size / 2, ds["time"].values[-1] + bin_size / 2)
    valid = ds["valid"].values & ~_invalid_bins(nwbfile, align_times, edges)
    if use_nwb_epochs:
        fill = "" if meta else "other"
        epoch = nwb_series.label_from_intervals(nwbfile.epochs, align_times, edges, valid, fill)
        ds["epoch"] = (("trial", "time"), epoch)
    ds["valid"] = (("trial", "time"), valid)
    if placeholder:
        ds = ds.isel(unit=slice(0, 0))
    ds = _continuous(ds, nwbfile, meta, signal, (lfp, lfp_bands), align_times, edges)
    if obs is not None:
        observed = _observed(obs, table["start"], table["stop"])
        ds["observed"] = (("trial", "unit"), observed)
    obs_name = "signal" if "signal" in ds.data_vars else "spikes"
    mask = ds["valid"].values[:, :, None] & ds["observed"].values[:, None, :]
    ds[obs_name] = ds[obs_name].where(mask, 0).astype(ds[obs_name].dtype)
    ds["epoch"] = ds["epoch"].where(ds["valid"], "")
    keep = meta.get("trial_coords")
    if keep is not None and align == meta.get("align_event"):  # the coords written, no more
        extra = [c for c in ds.coords if str(c).startswith("event_") and c not in keep]
        ds = ds.drop_vars(extra)
    return _drop_empty_trials(ds)


def _metadata(nwbfile) -> dict:
    """The JSON metadata written by :func:`write_nwb` (empty for other files)."""
    module = nwbfile.processing.get(META_MODULE)
    if module is None:
        return {}
    try:
        meta = json.loads(module.description)
    except (TypeError, ValueError):
        return {}
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT_TAG else {}


def _intervals(nwbfile, name: str, path):
    """The TimeIntervals table that holds the trials."""
    table = nwbfile.trials if name == "trials" else nwbfile.intervals.get(name)
    if table is None or len(table) == 0:
        names = sorted(nwbfile.intervals) if nwbfile.intervals else []
        if name == "trials":
            raise FileFormatError(
                f"{path} has no trials table (or it is empty); TimeIntervals tables: {names}; "
                "fix: add one with nwbfile.add_trial(start_time=..., stop_time=...), pass "
                "trials=NAME of another table, or give another file"
            )
        raise FileFormatError(
            f"trials={name!r}: {path} has no such TimeIntervals table (or it is empty); "
            f"tables: {names}; fix: pass one of them"
        )
    return table


def _trials_table(trials, path, meta, events):
    """Trials as the dict bin_spike_times takes; returns it and the column roles."""
    from hdmf.common import VectorData

    raw = {
        name: np.asarray(trials[name].data[:])
        for name in trials.colnames
        if type(trials[name]) is VectorData and np.ndim(trials[name].data[0]) == 0
    }
    table = {"start": raw.pop("start_time"), "stop": raw.pop("stop_time")}
    if meta:
        event_cols = dict(meta["event_columns"])
    elif events is not None:
        event_cols = {_column_of(str(e), raw, trials.colnames): _strip(str(e)) for e in events}
    else:
        event_cols = {col: _strip(col) for col in raw if col.endswith("_time")}
    names, outside = {}, {}
    for col, name in event_cols.items():
        values = np.asarray(raw[col], dtype=float)
        finite = np.isfinite(values)
        inside = (values >= table["start"]) & (values <= table["stop"])
        if events is None and not meta and not np.all(inside | ~finite):
            logger.info("trial column %r lies outside its trials; kept as a label", col)
            row = int(np.flatnonzero(~inside & finite)[0])
            outside[col] = (
                f"{int(np.sum(~inside & finite))} trial(s), e.g. row {row}: {col}="
                f"{values[row]:g}, start={table['start'][row]:g}, stop={table['stop'][row]:g}"
            )
            continue
        name = col if name != col and (name in raw or name in _TABLE_KEYS) else name
        name = _free_name(name, table) if name in _TABLE_KEYS else name
        table[name] = values
        names[col] = name
        del raw[col]
    for col in [c for c in raw if c in _TABLE_KEYS]:  # a user column named like a canonical key
        name = _free_name(col, {**table, **raw})
        why = f"the canonical {col!r} is the {_TABLE_KEYS[col]}"
        logger.warning("NWB trials column %r kept as trial coord %r: %s", col, name, why)
        raw[name] = raw.pop(col)
    table.update(raw)
    table["trial"] = np.asarray(trials.id.data[:])
    columns = {"events": list(names.values()), "names": names, "outside": outside}
    return table, columns


def _free_name(name: str, taken) -> str:
    """``name_column`` (``name_column2``, ...): a name for a column that is not in ``taken``."""
    candidates = (f"{name}_column{'' if k == 1 else k}" for k in range(1, len(taken) + 2))
    return next(c for c in candidates if c not in taken and c not in _TABLE_KEYS)


def _column_of(event: str, raw: dict, colnames) -> str:
    """The trials column of an event given by column name or by name without ``_time``."""
    for column in (event, f"{event}_time"):
        if column in raw:
            return column
    raise EventTableError(
        f"events: {event!r} is not a scalar column of the NWB trials table; columns: "
        f"{sorted(colnames)}; fix: pick event columns from that list"
    )


def _strip(column: str) -> str:
    return column[: -len("_time")] if column.endswith("_time") and column != "_time" else column


def _rename_event(name: str, columns: dict) -> str:
    """Accept an event by column name (``stim_on_time``) or event name (``stim_on``)."""
    return columns["names"].get(name, {"start_time": "start", "stop_time": "stop"}.get(name, name))


def _align_name(align, meta, columns, table) -> str:
    if align is None:
        return meta.get("align_event", "start") if meta else "start"
    name = _rename_event(str(align), columns)
    column = next((c for c in (str(align), f"{align}_time") if c in columns["outside"]), None)
    if column is not None:
        raise EventTableError(
            f"align={align!r}: the column {column!r} lies outside its trial's [start, stop] in "
            f"{columns['outside'][column]}, so it was read as a label, not an event; fix: "
            "correct those times (session clock, seconds) or align on another event"
        )
    if name not in ("start", "stop", *columns["events"]):
        raise EventTableError(
            f"align={align!r} is not an event of the NWB trials table; events: "
            f"{['start', 'stop', *columns['events']]} (event columns: "
            f"{['start_time', 'stop_time', *columns['names']]}); fix: pass one of them, "
            "or name the column with events=[...]"
        )
    return name


def _units(nwbfile, path, meta, signal):
    """Spike times per unit, unit ids, unit coords and obs_intervals from the units table."""
    units = nwbfile.units
    if signal is not None:
        return {}, [], None, None
    if meta and units is None:  # written from a dataset without units
        return {}, [], None, None
    if units is None or len(units) == 0:
        series = sorted(nwb_series.find_series(nwbfile))
        raise FileFormatError(
            f"{path} has no units table; fix: add units with spike_times, or bin a "
            f"continuous TimeSeries with signal=NAME (available: {series})"
        )
    from hdmf.common import VectorData

    n_units = len(units)
    ids = units["unit_id"].data[:] if "unit_id" in units.colnames else units.id.data[:]
    unit_ids = [str(u) for u in np.asarray(ids)]
    times = [np.zeros(0)] * n_units
    if "spike_times" in units.colnames and meta.get("kind") != "signal":
        times = nwb_series.ragged_rows(units["spike_times"])
    coords = {
        name: np.asarray(units[name].data[:])
        for name in units.colnames
        if name not in _SKIP_UNIT_COLUMNS
        and type(units[name]) is VectorData
        and np.ndim(units[name].data[0]) == 0
    }
    if "electrodes" in units.colnames and "location" not in coords:
        coords["location"] = np.array(
            [str(units["electrodes"][j]["location"].iloc[0]) for j in range(n_units)]
        )
    obs = (
        nwb_series.ragged_rows(units["obs_intervals"])
        if "obs_intervals" in units.colnames
        else None
    )
    spike_times = dict(zip(unit_ids, times, strict=True))
    return spike_times, unit_ids, coords, obs


def _observed(obs: list[np.ndarray], start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """(trial, unit): True where a trial lies inside one of the unit's obs_intervals."""
    out = np.zeros((start.size, len(obs)), bool)
    tol = 1e-9 * max(1.0, float(np.abs(stop).max()))
    for j, intervals in enumerate(obs):
        intervals = np.asarray(intervals, float).reshape(-1, 2)
        if not intervals.size:
            continue
        order = np.argsort(intervals[:, 0], kind="stable")
        lo = intervals[order, 0]
        reach = np.maximum.accumulate(intervals[order, 1])  # latest stop of those started
        index = np.searchsorted(lo, start + tol, "right") - 1
        out[:, j] = (index >= 0) & (reach[np.clip(index, 0, None)] >= stop - tol)
    return out


def _invalid_bins(nwbfile, align_times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(trial, time): bins that overlap an interval of the NWB ``invalid_times`` table."""
    shape = (align_times.size, edges.size - 1)
    table = nwbfile.invalid_times
    if table is None or len(table) == 0:
        return np.zeros(shape, bool)
    lo = np.asarray(table["start_time"].data[:], float)
    hi = np.asarray(table["stop_time"].data[:], float)
    tol = 1e-9 * float(edges[1] - edges[0])
    left = align_times[:, None] + edges[None, :-1]
    right = align_times[:, None] + edges[None, 1:]
    order = np.argsort(lo, kind="stable")
    lo, reach = lo[order], np.maximum.accumulate(hi[order])  # latest stop of those started
    index = np.searchsorted(lo, right - tol, "left") - 1  # last interval starting before right
    return (index >= 0) & (reach[np.clip(index, 0, None)] > left + tol)


def _continuous(ds, nwbfile, meta, signal, lfp, align_times, edges) -> xr.Dataset:
    """Inputs, signal and LFP TimeSeries resampled onto the bins."""
    valid = ds["valid"].values
    module = nwbfile.processing.get(META_MODULE) if meta else None
    if module is not None and "inputs" in module.data_interfaces and meta["input_names"]:
        values = nwb_series.bin_series(module["inputs"], align_times, edges, valid)
        ds = ds.drop_vars(["inputs", "input"]).assign_coords(input=meta["input_names"])
        ds["inputs"] = (("trial", "time", "input"), values.astype(np.float32))
    series = None
    if signal is not None:
        series = nwb_series.get_series(nwbfile, signal)
    elif module is not None and meta.get("kind") == "signal":
        series = module["signal"]
    if series is not None:
        values = nwb_series.bin_series(series, align_times, edges, valid)
        ds = ds.drop_vars("spikes")
        if signal is not None:
            ds = ds.drop_vars(["observed", "unit"]).assign_coords(
                unit=[str(c) for c in range(values.shape[-1])]
            )
            ds["observed"] = (("trial", "unit"), np.ones((valid.shape[0], values.shape[-1]), bool))
        ds["signal"] = (("trial", "time", "unit"), values)
    lfp, bands = lfp
    if lfp:
        series = nwb_series.find_lfp(nwbfile, lfp)
        if bands:
            amp = nwb_series.band_amplitudes(series, align_times, edges, valid, bands)
            ds["lfp_amplitude"] = amp.assign_coords(time=ds["time"], trial=ds["trial"])
        else:
            values = nwb_series.bin_series(series, align_times, edges, valid)
            ds["lfp_mean"] = (("trial", "time", "channel"), values)
        n_channel = ds.sizes["channel"]
        ds = ds.assign_coords(channel=nwb_series.channel_ids(series, n_channel))
    return ds


def _drop_empty_trials(ds: xr.Dataset) -> xr.Dataset:
    keep = ds["valid"].values.any(axis=1)
    if not keep.all():
        logger.warning(
            "dropping trials %s: all their bins lie in NWB invalid_times",
            ds["trial"].values[~keep][:10].tolist(),
        )
        ds = ds.isel(trial=np.flatnonzero(keep))
    return ds
