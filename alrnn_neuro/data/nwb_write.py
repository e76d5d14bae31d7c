"""Write a canonical dataset to NWB (see :mod:`alrnn_neuro.data.nwb` for the layout)."""

from __future__ import annotations

import datetime
import json
import logging
import os
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import numpy as np
import xarray as xr

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro.data.schema import observation_variable, validate_dataset
from alrnn_neuro.errors import DataValidationError, FileFormatError

logger = logging.getLogger(__name__)

META_MODULE = "alrnn_neuro"
FORMAT_TAG = "alrnn_neuro.nwb"
TRIAL_GAP = 1.0
MAX_RESOLUTION = 0.001
"""Largest grid step (s) of written spike times (nwbinspector expects <= 10 ms)."""
_RESERVED_TRIAL = ("id", "start_time", "stop_time", "tags", "timeseries")
_RESERVED_UNIT = ("id", "spike_times", "obs_intervals", "electrodes", "waveform_mean")


def require_pynwb() -> ModuleType:
    """Import and return :mod:`pynwb`, or explain how to install it."""
    try:
        import pynwb
    except ImportError as err:  # pragma: no cover - pynwb is installed in the test env
        raise FileFormatError(
            "reading or writing NWB files needs the optional dependency pynwb, which is not "
            'installed; fix: pip install "alrnn-neuro[nwb]"'
        ) from err
    return pynwb


def write_nwb(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    session_description: str = "alrnn-neuro dataset converted to NWB",
    session_start_time: datetime.datetime | None = None,
    identifier: str | None = None,
    subject: Mapping[str, str] | None = None,
) -> Path:
    """Write a canonical dataset to an NWB file (atomically).

    Trials are laid end to end on one session clock, at least :data:`TRIAL_GAP` s apart and on a
    grid of whole bins. A trial's ``start_time``/``stop_time`` span its valid bins, its events
    (``event_start``/``event_stop`` included) and its alignment event; bins inside that span
    that are not valid go into ``invalid_times``. The alignment event's session time is the
    column ``<align_event>_time`` (unless the alignment is ``start``/``stop`` and coincides with
    the trial start/stop), ``event_<name>`` coords become ``<name>_time`` columns, other trial
    coords plain columns (str, bool, int, float), trial ids the table ids. Each spike count
    ``n`` is written as ``n`` distinct spike times spread evenly inside its bin, on a grid of
    step ``resolution`` <= 1 ms (:func:`spike_grid`; the units table's ``resolution``), so they
    ascend strictly and come back to bin precision only. Unit ids go into the ``unit_id``
    column, unit coords into further columns, ``observed`` into ``obs_intervals`` (the trials in
    which a unit was observed). Epoch labels become ``epochs`` rows (one per run of one label in
    a trial, tag = label). ``inputs`` and, for continuous data, ``signal`` are TimeSeries in the
    processing module ``alrnn_neuro`` (one sample per valid bin, at its centre); that module's
    description is JSON metadata (column roles, alignment, bin size, window, input names) that
    :func:`~alrnn_neuro.data.nwb.read_nwb` uses to read the file back exactly. ``lfp_*`` /
    ``true_*`` variables and attrs other than ``source`` are not written.

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset with dims (trial, time, unit, input).
    path : str or PathLike
        Destination ``.nwb`` file.
    session_description : str
        NWB ``session_description``.
    session_start_time : datetime, optional
        NWB ``session_start_time`` (default: now, UTC).
    identifier : str, optional
        NWB ``identifier`` (default: a random UUID).
    subject : mapping of str to str, optional
        NWB ``Subject`` fields (``subject_id``, ``species``, ``sex``, ``age``, ...). Missing
        fields come from ``ds.attrs`` (``subject_id``, else ``monkey``; ``species``, ``sex``,
        ``age``), else ``subject_id="unknown"``, ``sex="U"`` (unknown), ``age="/"`` (an
        unknown range). Without a species (Latin binomial, e.g. ``"Macaca mulatta"``) the file
        is valid NWB but nwbinspector reports a best-practice violation; a warning is logged.

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    DataValidationError
        If ``ds`` is not canonical or a coord name clashes with a reserved NWB column.
    """
    pynwb = require_pynwb()
    validate_dataset(ds)
    kind = observation_variable(ds)
    layout = session_layout(ds)
    trials, meta = _trials_table(ds, layout)
    nwbfile = pynwb.NWBFile(
        trials=trials,
        units=_units_table(ds, layout, kind),
        subject=_subject(ds, subject),
        epochs=_epochs_table(ds, layout),
        invalid_times=_run_table(
            "invalid_times", "padded bins inside trials", _runs(layout["invalid"]), layout
        ),
        session_description=session_description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=session_start_time or datetime.datetime.now(datetime.UTC),
        source_script="alrnn_neuro.data.nwb.write_nwb",
        source_script_file_name="alrnn_neuro/data/nwb_write.py",
    )
    meta.update(
        format=FORMAT_TAG,
        kind=kind,
        bin_size=float(ds.attrs["bin_size"]),
        source=str(ds.attrs.get("source", "")),
        window=[float(layout["edges"][0]), float(layout["edges"][-1])],
        input_names=[str(v) for v in ds["input"].values],
        unit_coords=_other_coords(ds, "unit"),
    )
    module = nwbfile.create_processing_module(name=META_MODULE, description=json.dumps(meta))
    centres = layout["align"][:, None] + ds["time"].values[None, :]
    valid = ds["valid"].values
    series = {"inputs": ds["inputs"].values} if ds.sizes["input"] else {}
    if kind == "signal":
        series["signal"] = ds["signal"].values
    for name, values in series.items():
        module.add(
            pynwb.TimeSeries(
                name=name,
                data=values[valid].astype(np.float64).reshape(int(valid.sum()), -1),
                timestamps=centres[valid],
                unit="a.u.",
                description=f"canonical '{name}', one sample per valid bin (bin centre)",
            )
        )
    final = Path(path)
    with atomic_path(final) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The file path provided", category=UserWarning)
        with pynwb.NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwbfile)
    return final


SUBJECT_DEFAULTS = {"subject_id": "unknown", "sex": "U", "age": "/"}
"""Subject fields written when neither the caller nor the dataset attrs give them."""


def _subject(ds: xr.Dataset, given: Mapping[str, str] | None):
    from pynwb.file import Subject

    fields = dict(SUBJECT_DEFAULTS)
    attrs = ds.attrs
    if "monkey" in attrs:
        fields["subject_id"] = f"monkey {attrs['monkey']}"
    for key in ("subject_id", "species", "sex", "age"):
        if key in attrs:
            fields[key] = str(attrs[key])
    fields.update({str(k): str(v) for k, v in (given or {}).items()})
    if not fields.get("species"):
        logger.warning(
            "write_nwb: the subject's species is unknown (nwbinspector reports a best-practice "
            "violation); fix: write_nwb(..., subject={'species': 'Macaca mulatta'}) or set "
            "ds.attrs['species']"
        )
    try:
        return Subject(**fields)
    except TypeError as err:
        raise DataValidationError(
            f"subject={dict(given or {})!r}: {err}; fix: NWB Subject fields such as "
            "subject_id, species, sex, age, description"
        ) from None


def session_layout(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Session times of every trial (end to end): alignment, start, stop, invalid bins.

    A trial spans its valid bins, its events (``event_start``/``event_stop`` included) and
    its alignment event; bins fully inside that span that are not valid are returned as
    ``invalid`` (written to the NWB ``invalid_times`` table).
    """
    bin_size = float(ds.attrs["bin_size"])
    time = ds["time"].values.astype(np.float64)
    if time.size > 1 and not np.allclose(np.diff(time), bin_size, rtol=1e-6, atol=0):
        logger.warning(
            "time bins are not %g s apart; spikes go to the given bin centres, "
            "but reading back bins them on a regular grid",
            bin_size,
        )
    edges = np.concatenate([time - bin_size / 2, [time[-1] + bin_size / 2]])
    valid = ds["valid"].values
    first = valid.argmax(axis=1)
    last = valid.shape[1] - 1 - valid[:, ::-1].argmax(axis=1)
    events = {name: ds[name].values.astype(np.float64) for name in _event_coords(ds)}
    rel_start = np.fmin(edges[first], events.pop("event_start", np.nan))
    rel_stop = np.fmax(edges[last + 1], events.pop("event_stop", np.nan))
    zero = np.zeros_like(rel_start)
    low = np.nanmin(np.stack([rel_start, zero, *events.values()]), axis=0)
    high = np.nanmax(np.stack([rel_stop, zero, *events.values()]), axis=0)
    # whole bins from session time 0, so all trials share one bin grid
    span = (np.ceil((high - low + TRIAL_GAP) / bin_size) + 1) * bin_size
    align = np.concatenate([[0.0], np.cumsum(span)[:-1]]) - np.floor(low / bin_size) * bin_size
    tol = 1e-6 * bin_size
    inside = (edges[None, :-1] >= low[:, None] - tol) & (edges[None, 1:] <= high[:, None] + tol)
    return {
        "align": align,
        "start": align + low,
        "stop": align + high,
        "edges": edges,
        "invalid": inside & ~valid,
    }


def _event_coords(ds: xr.Dataset) -> list[str]:
    """Names of trial coords holding event times (``event_<name>``)."""
    return [
        str(name)
        for name, coord in ds.coords.items()
        if str(name).startswith("event_") and coord.dims == ("trial",)
    ]


def _other_coords(ds: xr.Dataset, dim: str) -> list[str]:
    """Names of non-index coords along ``dim`` (excluding event coords)."""
    return [
        str(name)
        for name, coord in ds.coords.items()
        if coord.dims == (dim,) and name != dim and not str(name).startswith("event_")
    ]


def _vector(name: str, description: str, data) -> object:
    from hdmf.common import VectorData

    return VectorData(name=name, description=description, data=data)


def _ragged(name: str, description: str, rows: list) -> list:
    """A ragged column: VectorData with all rows concatenated + its VectorIndex."""
    from hdmf.common import VectorIndex

    flat = [value for row in rows for value in row]
    data = _vector(name, description, np.asarray(flat) if flat else np.zeros(0))
    ends = np.cumsum([len(row) for row in rows]).astype(np.int64)
    return [data, VectorIndex(name=f"{name}_index", data=ends, target=data)]


def _intervals(name: str, description: str, start, stop, extra=(), ids=None):
    """A pynwb ``TimeIntervals`` table built column by column (fast for many rows)."""
    from pynwb.epoch import TimeIntervals

    columns = [
        _vector("start_time", "start (s, session clock)", np.asarray(start, np.float64)),
        _vector("stop_time", "stop (s, session clock)", np.asarray(stop, np.float64)),
        *extra,
    ]
    return TimeIntervals(name=name, description=description, columns=columns, id=ids)


def _trials_table(ds: xr.Dataset, layout: dict[str, np.ndarray]) -> tuple[object, dict]:
    """The NWB trials table and metadata on its columns."""
    align_name = str(ds.attrs["align_event"])
    columns: dict[str, tuple[str, np.ndarray]] = {}
    events: dict[str, str] = {}
    if align_name not in ("start", "stop") or not np.allclose(
        layout[align_name], layout["align"], rtol=0, atol=1e-9
    ):
        if align_name in ("start", "stop"):
            logger.info("trial %s lies outside the valid bins; aligning on 'align'", align_name)
            align_name = "align"
        column = f"{align_name}_time"
        events[column] = align_name
        description = f"session time (s) of the alignment event '{align_name}'"
        columns[column] = (description, layout["align"])
    for name in _event_coords(ds):
        event = name[len("event_") :]
        column = f"{event}_time"
        if event in ("start", "stop") or column in columns:
            continue
        events[column] = event
        values = layout["align"] + ds[name].values.astype(np.float64)
        columns[column] = (f"session time (s) of event '{event}'", values)
    labels = _other_coords(ds, "trial")
    clash = sorted(set(labels) & (set(_RESERVED_TRIAL) | set(columns)))
    if clash:
        raise DataValidationError(
            f"trial coords {clash} clash with NWB trial columns "
            f"{sorted(set(_RESERVED_TRIAL) | set(columns))}; fix: rename them, e.g. "
            f"ds.rename({{'{clash[0]}': 'my_{clash[0]}'}})"
        )
    for name in labels:
        columns[name] = (f"trial label '{name}'", _plain_values(ds[name].values, name))
    extra = [_vector(name, text, values) for name, (text, values) in columns.items()]
    ids = ds["trial"].values.astype(np.int64)
    table = _intervals("trials", "trials", layout["start"], layout["stop"], extra, ids)
    coords = [str(c) for c, v in ds.coords.items() if v.dims == ("trial",) and c != "trial"]
    return table, {"event_columns": events, "align_event": align_name, "trial_coords": coords}


def _runs(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """(row, first, one-past-last) of every run of True in a 2-D bool array."""
    padded = np.pad(mask, ((0, 0), (1, 1))).astype(np.int8)
    rows, cols = np.nonzero(np.diff(padded, axis=1))
    return [
        (int(i), int(k0), int(k1))
        for i, k0, k1 in zip(rows[::2], cols[::2], cols[1::2], strict=True)
    ]


def _run_table(name: str, description: str, runs: list, layout: dict, tags=None):
    """TimeIntervals with one row per run (trial, first bin, end bin), sorted by start."""
    if not runs:
        return None
    i, k0, k1 = (np.array(v) for v in zip(*runs, strict=True))
    start = layout["align"][i] + layout["edges"][k0]
    stop = layout["align"][i] + layout["edges"][k1]
    order = np.argsort(start, kind="stable")
    extra = [] if tags is None else _ragged("tags", "epoch label", [[tags[j]] for j in order])
    return _intervals(name, description, start[order], stop[order], extra)


def _epochs_table(ds: xr.Dataset, layout: dict[str, np.ndarray]):
    """One ``epochs`` row per run of equal, non-empty epoch labels within a trial."""
    labels = np.where(ds["valid"].values, ds["epoch"].values.astype(str), "")
    runs, tags = [], []
    for label in np.unique(labels[labels != ""]):
        found = _runs(labels == label)
        runs += found
        tags += [str(label)] * len(found)
    return _run_table("epochs", "epoch labels of the time bins", runs, layout, tags)


def _plain_values(values: np.ndarray, name: str) -> np.ndarray:
    """Check a coord is storable in an NWB column (str, bool, int, float)."""
    if values.dtype.kind == "U":
        return values.astype(object)
    if values.dtype.kind in "biuf":
        return values
    raise DataValidationError(
        f"coord '{name}' has dtype {values.dtype}; NWB columns here hold str, bool, int or "
        f"float; fix: convert it, e.g. ds.assign_coords({name}=ds['{name}'].astype(str))"
    )


def _units_table(ds: xr.Dataset, layout: dict[str, np.ndarray], kind: str):
    """The units table: spike times at bin centres, ids, coords, observed intervals."""
    from pynwb.misc import Units

    if ds.sizes["unit"] == 0:
        return None
    names = _other_coords(ds, "unit")
    clash = sorted(set(names) & {*_RESERVED_UNIT, "unit_id"})
    if clash:
        raise DataValidationError(
            f"unit coords {clash} clash with NWB unit columns {sorted(_RESERVED_UNIT)}; fix: "
            f"rename them, e.g. ds.rename({{'{clash[0]}': 'my_{clash[0]}'}})"
        )
    ids = ds["unit"].values.astype(object)
    columns = [_vector("unit_id", "canonical unit id (str)", ids)]
    columns += [_vector(n, f"unit label '{n}'", _plain_values(ds[n].values, n)) for n in names]
    observed = ds["observed"].values
    resolution = None
    if kind == "spikes":
        left = layout["align"][:, None] + layout["edges"][None, :-1]  # (trial, time)
        mask = ds["valid"].values[:, :, None] & observed[:, None, :]
        counts = np.where(mask, ds["spikes"].values, 0).astype(np.int64).clip(0)
        bin_size = float(ds.attrs["bin_size"])
        steps = spike_grid(bin_size, counts.max(initial=0))
        resolution = bin_size / steps
        rows = [
            spread_spike_times(left.ravel(), counts[:, :, j].ravel(), bin_size, steps)
            for j in range(len(ids))
        ]
        columns += _ragged("spike_times", "spike times (s), spread evenly in their bins", rows)
    intervals = np.stack([layout["start"], layout["stop"]], axis=1)
    rows = [intervals[observed[:, j]] for j in range(len(ids))]
    columns += _ragged("obs_intervals", "trials in which the unit was observed", rows)
    return Units(
        name="units",
        description="units",
        columns=columns,
        id=np.arange(len(ids)),
        resolution=resolution if kind == "spikes" else None,
    )


def spike_grid(bin_size: float, max_count: int) -> int:
    """Grid steps per bin for written spike times: step <= 1 ms, room for ``max_count`` spikes.

    Examples
    --------
    >>> spike_grid(0.05, 3), spike_grid(0.05, 80)
    (50, 81)
    """
    return max(int(np.ceil(bin_size / MAX_RESOLUTION - 1e-9)), int(max_count) + 1)


def spread_spike_times(
    left: np.ndarray, counts: np.ndarray, bin_size: float, steps: int
) -> np.ndarray:
    """``counts[i]`` distinct times inside bin ``[left[i], left[i] + bin_size)``.

    The times lie on the grid ``left + j * bin_size / steps`` for ``j = 1 .. steps - 1``
    (never on a bin edge), spread evenly over the bin; ``steps > max(counts)``.

    Examples
    --------
    >>> spread_spike_times(np.array([0.0, 1.0]), np.array([2, 1]), 0.1, 10).round(3).tolist()
    [0.03, 0.07, 1.05]
    """
    n = np.repeat(counts, counts)
    rank = np.arange(n.size) - np.repeat(np.cumsum(counts) - counts, counts)
    position = 1 + np.floor((rank + 0.5) * (steps - 1) / np.maximum(n, 1))
    return np.repeat(left, counts) + position * (bin_size / steps)
