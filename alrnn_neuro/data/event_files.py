"""Event recordings on disk (a CSV folder or an ``events``-layout HDF5 file) -> canonical dataset.

Both routes carry the same things (full specification in ``docs/dataset-format.md``):

============================  ==========================  =================================
what                          CSV folder                  HDF5 ``events`` layout
============================  ==========================  =================================
spike times                   ``spikes.csv`` unit,time    ``spike_times/<unit>`` or flat
                              (+ ``trial``)               ``spike_times`` + ``spike_units``
trial of each spike           ``spikes.csv`` ``trial``    ``spike_trials/<unit>`` or flat
                                                          ``spike_trials``
trial table                   ``trials.csv``              group ``trials/``
units recorded per trial      ``trials.csv``              ``trials/observed_units`` or
                              ``observed_units`` or       ``observed`` (trial, unit) bool
                              ``observed.csv`` trial,unit
unit ids and metadata         ``units.csv`` (``id``, ...) group ``units/``
binning defaults, inputs,     ``attrs.json``              root attributes
spike clock
============================  ==========================  =================================

:func:`load_events` bins either with :func:`alrnn_neuro.data.events.bin_spike_times`, taking
bin size, alignment, window, epochs, inputs and spike clock from the recording unless the
caller overrides them; each override of a value the recording declares differently raises an
:class:`AttributeOverrideWarning`.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.data.events import bin_spike_times, covering_window
from alrnn_neuro.data.observed import UNIT_LIST_COLUMN
from alrnn_neuro.data.plain_layout import read_plain_events
from alrnn_neuro.data.unit_ids import check_ids, read_csv_with_text
from alrnn_neuro.errors import ConfigError, FileFormatError

ATTRS_FILE = "attrs.json"
OPTION_KEYS = (
    "bin_size",
    "align_event",
    "window",
    "epochs",
    "events",
    "spike_clock",
    "inputs",
    "source",
)
DEFAULT_BIN_SIZE = 0.05


class AttributeOverrideWarning(UserWarning):
    """An argument (or CLI flag) replaces a value the recording itself declares."""


def read_event_recording(
    path: str | os.PathLike,
) -> tuple[dict[str, np.ndarray] | pd.DataFrame, pd.DataFrame, dict]:
    """Read spike times, trial table and declared options of a CSV folder or events HDF5 file.

    Parameters
    ----------
    path : str or PathLike
        A folder with ``spikes.csv`` and ``trials.csv`` (optional ``units.csv``,
        ``observed.csv``, ``attrs.json``), or an HDF5 file in the plain ``events`` layout.

    Returns
    -------
    spike_times : dict of unit id to ndarray, or DataFrame (``unit``, ``time`` [, ``trial``])
    trials : DataFrame
    options : dict
        ``bin_size``, ``align``, ``window``, ``epochs``, ``events``, ``spike_clock``,
        ``inputs`` (name -> spec), ``observed``, ``unit_ids``, ``unit_coords``, ``source``;
        None where not declared.

    Raises
    ------
    FileFormatError
        Missing path or files, unreadable CSV or JSON, a file that is not HDF5.
    """
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if path.is_file():
        return read_plain_events(path)
    raise FileFormatError(
        f"{path} does not exist; fix: give a directory with spikes.csv + trials.csv "
        "or an HDF5 file in the plain 'events' layout"
    )


def load_events(
    path: str | os.PathLike,
    *,
    bin_size: float | None = None,
    align: str | None = None,
    window: tuple[float, float] | None = None,
    epochs: Sequence | Mapping | None = None,
    inputs: Mapping[str, str] | None = None,
    spike_clock: str | None = None,
    smooth_sigma: float | None = None,
    default_bin_size: float | None = DEFAULT_BIN_SIZE,
) -> xr.Dataset:
    """Bin an event recording (CSV folder or events HDF5) into a canonical dataset.

    Every argument left ``None`` takes the recording's declared value (HDF5 root attributes
    or ``attrs.json``), else the default: ``bin_size`` 0.05 s, ``align`` ``"start"``,
    ``window`` covering every trial, no epochs, no inputs, session clock. ``inputs`` are
    added to the declared ones (a name declared in both takes the argument's spec).

    Parameters
    ----------
    path : str or PathLike
        See :func:`read_event_recording`.
    bin_size, align, window, epochs, spike_clock, smooth_sigma
        As in :func:`alrnn_neuro.data.events.bin_spike_times`.
    inputs : mapping of name to spec, optional
        Input specs (grammar in :mod:`alrnn_neuro.data.task_inputs`).
    default_bin_size : float or None
        Bin size when neither the argument nor the recording gives one; ``None`` makes that
        an error.

    Returns
    -------
    xr.Dataset
        Canonical dataset.

    Warns
    -----
    AttributeOverrideWarning
        For each argument that replaces a different declared value.
    """
    spike_times, trials, declared = read_event_recording(path)
    given = {
        "bin_size": bin_size,
        "align": align,
        "window": None if window is None else tuple(float(v) for v in window),
        "epochs": None if epochs is None else _plain(epochs),
        "spike_clock": spike_clock,
    }
    for key, value in given.items():
        if value is not None and declared.get(key) is not None and value != declared[key]:
            warnings.warn(
                f"{key}={value!r} overrides the value {declared[key]!r} declared in {path}",
                AttributeOverrideWarning,
                stacklevel=2,
            )
    chosen = {key: given[key] if given[key] is not None else declared.get(key) for key in given}
    specs = dict(declared.get("inputs") or {})
    for name, spec in (inputs or {}).items():
        if name in specs and specs[name] != spec:
            warnings.warn(
                f"input {name}={spec!r} overrides {name}={specs[name]!r} declared in {path}",
                AttributeOverrideWarning,
                stacklevel=2,
            )
        specs[name] = spec
    step = chosen["bin_size"] if chosen["bin_size"] is not None else default_bin_size
    if step is None:
        raise ConfigError(
            f"{path}: the bin size is not given; fix: pass bin_size=... or set the root "
            "attribute f.attrs['bin_size'] (seconds)"
        )
    align_event = chosen["align"] or "start"
    span = chosen["window"] or covering_window(trials, align_event, step)
    return bin_spike_times(
        spike_times,
        trials,
        bin_size=step,
        align=align_event,
        window=span,
        epochs=chosen["epochs"],
        smooth_sigma=smooth_sigma,
        unit_ids=declared.get("unit_ids"),
        unit_coords=declared.get("unit_coords"),
        inputs=specs or None,
        source=declared.get("source") or str(path),
        events=declared.get("events"),
        observed=declared.get("observed"),
        spike_clock=chosen["spike_clock"] or "session",
    )


def _plain(epochs: object) -> object:
    """Epochs in the form the readers return (lists of str or of 3-tuples)."""
    if isinstance(epochs, Mapping):
        return [(str(k), *map(str, v)) for k, v in epochs.items()]
    return [tuple(map(str, e)) if not isinstance(e, str) else e for e in epochs]  # type: ignore[attr-defined]


def _read_folder(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    spikes = _csv(path / "spikes.csv", required=True, text=("unit",))
    trials = _csv(path / "trials.csv", required=True, text=(UNIT_LIST_COLUMN,))
    if {"unit", "time"} - set(spikes.columns):
        raise FileFormatError(
            f"{path / 'spikes.csv'} has columns {list(spikes.columns)}; "
            "fix: name them 'unit' and 'time' (seconds), plus 'trial' for trial-clock times"
        )
    check_ids(
        spikes["unit"],
        f"{path / 'spikes.csv'} column 'unit'",
        rows="line",
        first=2,
        fix="write the unit id of every spike (ids are text, kept exactly as written)",
    )
    options: dict = {key: None for key in ("unit_ids", "unit_coords", "observed")}
    options.update(_read_attrs(path / ATTRS_FILE))
    units = _csv(path / "units.csv", required=False, text=("id",))
    if units is not None:
        if "id" not in units.columns:
            raise FileFormatError(
                f"{path / 'units.csv'} has columns {list(units.columns)}; fix: an 'id' column "
                "(unit ids as in spikes.csv), then one column per unit property"
            )
        check_ids(
            units["id"],
            f"{path / 'units.csv'} column 'id'",
            rows="line",
            first=2,
            fix="write the id of every unit, exactly as in spikes.csv",
        )
        options["unit_ids"] = [str(u) for u in units.pop("id")]
        options["unit_coords"] = units if len(units.columns) else None
    options["observed"] = _csv(path / "observed.csv", required=False, text=("unit",))
    options["source"] = options.get("source") or str(path)
    return spikes, trials, options


def _csv(file: Path, *, required: bool, text: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """``file`` as a DataFrame, the ``text`` (id) columns as exact text; None if absent."""
    if not file.is_file():
        if not required:
            return None
        raise FileFormatError(
            f"{file} is missing; an event-table directory needs spikes.csv "
            "(columns unit,time) and trials.csv (columns start,stop,<events>,<labels>)"
        )
    try:
        return read_csv_with_text(file, text)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise FileFormatError(f"cannot parse {file} as CSV: {err}") from err


def _read_attrs(file: Path) -> dict:
    """Options declared in ``attrs.json`` (same keys as the HDF5 root attributes)."""
    if not file.is_file():
        return {}
    try:
        attrs = json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise FileFormatError(f"cannot parse {file} as JSON: {err}") from err
    if not isinstance(attrs, dict) or set(attrs) - set(OPTION_KEYS):
        extra = sorted(set(attrs) - set(OPTION_KEYS)) if isinstance(attrs, dict) else attrs
        raise FileFormatError(
            f"{file}: unknown keys {extra}; fix: a JSON object with keys from {list(OPTION_KEYS)}"
        )
    inputs = attrs.get("inputs")
    if inputs is not None and not (
        isinstance(inputs, dict) and all(isinstance(v, str) for v in inputs.values())
    ):
        raise FileFormatError(
            f"{file}: inputs={inputs!r}; fix: an object name -> spec, e.g. "
            '{"motion": "step(stim_on, stim_off)"}'
        )
    window = attrs.get("window")
    try:
        window = None if window is None else tuple(float(v) for v in window)
        bin_size = None if attrs.get("bin_size") is None else float(attrs["bin_size"])
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{file}: bad window or bin_size ({err}); fix: numbers") from err
    epochs = attrs.get("epochs")
    return {
        "bin_size": bin_size,
        "align": attrs.get("align_event"),
        "window": window,
        "epochs": None if epochs is None else _plain(epochs),
        "events": attrs.get("events"),
        "spike_clock": attrs.get("spike_clock"),
        "inputs": inputs,
        "source": attrs.get("source"),
    }


def read_event_tables(
    path: str | os.PathLike,
) -> tuple[pd.DataFrame | dict[str, np.ndarray], pd.DataFrame]:
    """Read a spike-time table and a trial table.

    Parameters
    ----------
    path : str or PathLike
        A directory holding ``spikes.csv`` (columns ``unit``, ``time``) and ``trials.csv``
        (``start``, ``stop``, events, labels), or an HDF5 file in the plain ``events``
        layout (see :func:`alrnn_neuro.data.plain_h5.read_plain_events`). The options they
        declare (``attrs.json``, root attributes) are read by
        :func:`alrnn_neuro.data.event_files.read_event_recording`.

    Returns
    -------
    spike_times : DataFrame (unit, time) or dict of unit id to ndarray
    trials : DataFrame
        Both ready for :func:`bin_spike_times`.

    Raises
    ------
    FileFormatError
        Missing path or files, unreadable CSV, or a file that is not HDF5.
    """
    spike_times, trials, _ = read_event_recording(path)
    return spike_times, trials
