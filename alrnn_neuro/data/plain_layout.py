"""The plain HDF5 layout's low-level readers, and the ``events`` layout's contents.

Files a lab can write with h5py alone (full specification with runnable examples in
``docs/dataset-format.md``): the root attribute ``layout`` names the variant (``"binned"`` or
``"events"``); strings written by h5py come back as bytes and are decoded as UTF-8.
:func:`read_plain_events` returns an ``events`` file's spike times, trial table and declared
binning options; :func:`alrnn_neuro.data.plain_h5.read_plain_h5` turns either layout into a
canonical dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from alrnn_neuro.data.epochs import RESERVED
from alrnn_neuro.data.unit_ids import check_ids, natural_key, unit_codes
from alrnn_neuro.errors import FileFormatError

LAYOUTS = ("binned", "events")
DOC = "docs/dataset-format.md"


def read_plain_events(
    path: str | os.PathLike,
) -> tuple[dict[str, np.ndarray] | pd.DataFrame, pd.DataFrame, dict]:
    """Read the spike times, trial table and binning defaults of an ``events``-layout file.

    Parameters
    ----------
    path : str or PathLike
        HDF5 file with root attribute ``layout = "events"``.

    Returns
    -------
    spike_times : dict of unit id (str) to ndarray (spike,), or DataFrame
        Seconds. A DataFrame with columns ``unit``, ``time``, ``trial`` when the file gives
        the trial of each spike (``spike_trials``).
    trials : DataFrame
        One row per trial; strings decoded.
    options : dict
        ``bin_size``, ``align``, ``window``, ``epochs``, ``events``, ``spike_clock``,
        ``inputs`` (name -> spec) (None where the file has no such root attribute),
        ``observed`` ((trial, unit) bool array or None), ``unit_ids``, ``unit_coords``
        (from ``units/``), ``source``.
    """
    if layout_of(path) != "events":
        raise FileFormatError(f"{path}: layout is not 'events'; fix: see {DOC}")
    with h5py.File(path, "r") as f:
        spike_times = _spike_times(f, path)
        columns = read_columns(f["trials"], path) if "trials" in f else {}
        missing = [f"trials/{name}" for name in ("start", "stop") if name not in columns]
        if missing:
            raise FileFormatError(
                f"{path}: {missing} missing; the events layout needs a group trials/ with 1-D "
                f"datasets start, stop (s, session clock), one per event or label (see {DOC})"
            )
        units = read_columns(f["units"], path) if "units" in f else {}
        if "id" in units:
            check_ids(units["id"], f"{path}: units/id", fix="write the id of every unit")
        unit_ids = [str(u) for u in units.pop("id")] if "id" in units else None
        observed = None
        if "observed" in f:
            n_units = len(unit_ids) if unit_ids is not None else len(_unit_names(spike_times))
            shape = (columns["start"].size, n_units)
            observed = read_array(f, "observed", ("trial", "unit"), path, shape).astype(bool)
        attrs = f.attrs
        epochs = string_attr(attrs, "epochs", path, (1, 2)) if "epochs" in attrs else None
        options = {
            "bin_size": number_attr(attrs, "bin_size", path) if "bin_size" in attrs else None,
            "align": scalar_str(attrs.get("align_event", attrs.get("align"))),
            "window": window_attr(attrs, path) if "window" in attrs else None,
            "epochs": [tuple(e) if isinstance(e, list) else e for e in epochs or []] or None,
            "events": list(string_attr(attrs, "events", path, (0, 1)))
            if "events" in attrs
            else None,
            "spike_clock": scalar_str(attrs.get("spike_clock")),
            "inputs": _input_specs(attrs.get("inputs"), path),
            "observed": observed,
            "unit_ids": unit_ids,
            "unit_coords": units or None,
            "source": scalar_str(attrs.get("source")) or str(path),
        }
    return spike_times, pd.DataFrame(columns), options


def _input_specs(value: object, path: object) -> dict[str, str] | None:
    """Root attribute ``inputs``: rows ``(name, spec)`` or strings ``"name=spec"``."""
    if value is None:
        return None
    rows = decode(value)
    if rows.ndim == 1 and all("=" in str(r) for r in rows):
        rows = np.array([str(r).split("=", 1) for r in rows])
    if rows.ndim != 2 or rows.shape[1] != 2:
        raise FileFormatError(
            f"{path}: root attribute inputs has shape {rows.shape}; fix: rows (name, spec), "
            "e.g. f.attrs['inputs'] = [['motion', 'step(stim_on, stim_off)']], or strings "
            "'name=spec'"
        )
    return {str(name).strip(): str(spec) for name, spec in rows}


def _unit_names(spike_times: object) -> list[str]:
    if isinstance(spike_times, pd.DataFrame):
        return unit_codes(spike_times["unit"].to_numpy())[0]
    return list(spike_times)  # type: ignore[arg-type]


def read_array(
    f: h5py.File,
    name: str,
    dims: tuple[str, ...],
    path: object,
    shape: tuple | None = None,
    numeric: bool = True,
) -> np.ndarray:
    """Read ``name`` with ``dims``; honour a ``dims`` attribute or h5py dimension labels.

    ``numeric``: the values must be real numbers or booleans (not text, not complex).
    """
    dset = f[name]
    if not isinstance(dset, h5py.Dataset):
        raise FileFormatError(
            f"{path}: '{name}' is a group; fix: write it as one dataset with dims {dims}"
        )
    values = decode(dset[()])
    if numeric and values.dtype.kind not in "biuf":
        raise FileFormatError(
            f"{path}: '{name}' holds {dset.dtype} values; fix: write real numbers "
            f"(counts or floats) with dims {dims}"
        )
    if values.ndim != len(dims):
        raise FileFormatError(
            f"{path}: '{name}' has {values.ndim} dims (shape {values.shape}), expected "
            f"{len(dims)} {dims}; fix: reshape before writing"
        )
    labels = [str(v) for v in decode(dset.attrs.get("dims", [d.label for d in dset.dims]))]
    if any(labels):
        if sorted(labels) != sorted(dims):
            raise FileFormatError(
                f"{path}: '{name}' has dims {labels}, expected {list(dims)}; fix: set "
                f"f['{name}'].attrs['dims'] = {list(dims)} (in the order of the array axes)"
            )
        values = values.transpose([labels.index(d) for d in dims])
    if shape is not None and any(s not in (None, v) for s, v in zip(shape, values.shape)):  # noqa: B905
        raise FileFormatError(
            f"{path}: '{name}' has shape {values.shape}, expected {shape} {dims} "
            "(None = any); fix: match the trial/time/unit sizes of the data"
        )
    return values


def layout_of(path: str | os.PathLike) -> str:
    file = Path(path)
    if not file.is_file():
        raise FileFormatError(f"{file}: no such file; fix: check the path")
    if not h5py.is_hdf5(file):
        raise FileFormatError(f"{file}: not an HDF5 file; fix: write it with h5py (see {DOC})")
    with h5py.File(file, "r") as f:
        layout = scalar_str(f.attrs.get("layout"))
    if layout not in LAYOUTS:
        raise FileFormatError(
            f"{file}: root attribute layout={layout!r}; fix: f.attrs['layout'] = 'binned' or "
            f"'events' (see {DOC}); a canonical dataset.h5 is read by "
            "alrnn_neuro.data.h5.load_dataset"
        )
    return layout


def _spike_times(f: h5py.File, path: object) -> dict[str, np.ndarray] | pd.DataFrame:
    if "spike_times" not in f:
        raise FileFormatError(
            f"{path}: 'spike_times' is missing; the events layout needs a group spike_times/ "
            "with one 1-D dataset per unit (seconds), or 1-D datasets spike_times + spike_units"
        )
    node = f["spike_times"]
    trials = f.get("spike_trials")
    if isinstance(node, h5py.Group):
        out, trial_of = {}, {}
        for name, dset in node.items():
            out[str(name)] = _vector(dset, f"spike_times/{name}", path, float)
            if trials is not None:
                if not isinstance(trials, h5py.Group) or name not in trials:
                    raise FileFormatError(
                        f"{path}: spike_trials/{name} is missing; with a group spike_trials/ "
                        "every unit of spike_times/ needs the trial id of each of its spikes"
                    )
                trial_of[str(name)] = _vector(trials[name], f"spike_trials/{name}", path)
                _same_length(out[str(name)], trial_of[str(name)], name, path)
        if trials is None:
            return out
        return pd.DataFrame(
            {
                "unit": np.repeat(list(out), [v.size for v in out.values()]),
                "time": np.concatenate(list(out.values())) if out else np.zeros(0),
                "trial": np.concatenate(list(trial_of.values())) if out else np.zeros(0, int),
            }
        )
    if "spike_units" not in f:
        raise FileFormatError(
            f"{path}: dataset 'spike_units' is missing; a flat 'spike_times' dataset needs a "
            "1-D 'spike_units' of the same length (unit id of each spike)"
        )
    times, units = _vector(node, "spike_times", path, float), np.asarray(f["spike_units"][()])
    if units.shape != times.shape:
        raise FileFormatError(
            f"{path}: spike_times {times.shape} and spike_units {units.shape} must be 1-D "
            "and of equal length"
        )
    units = decode(units)
    check_ids(
        units,
        f"{path}: spike_units (unit id of each spike, counted from 0)",
        rows="spike",
        fix="write the unit id (int or str) of every spike in spike_units",
    )
    if trials is not None:
        trial_ids = _vector(trials, "spike_trials", path)
        _same_length(times, trial_ids, "spike_times", path)
        return pd.DataFrame({"unit": units, "time": times, "trial": trial_ids})
    names, index = np.unique(units, return_inverse=True)
    order = np.argsort(index, kind="stable")
    runs = np.split(times[order], np.searchsorted(index[order], np.arange(1, names.size)))
    by_unit = dict(zip([str(n) for n in names.tolist()], runs, strict=True))
    order = sorted(by_unit, key=natural_key) if names.dtype.kind == "U" else by_unit
    return {unit: by_unit[unit] for unit in order}  # text ids as in unit_codes


def _vector(node: object, name: str, path: object, dtype: type | None = None) -> np.ndarray:
    if not isinstance(node, h5py.Dataset) or np.ndim(node) != 1:
        raise FileFormatError(f"{path}: {name} must be a 1-D dataset; fix: write a 1-D array")
    try:
        return np.asarray(node[()], dtype=dtype)
    except (TypeError, ValueError):
        raise FileFormatError(
            f"{path}: {name} holds {node.dtype} values that are not numbers; fix: write "
            "numbers (spike times in seconds as floats)"
        ) from None


def _same_length(times: np.ndarray, trials: np.ndarray, name: str, path: object) -> None:
    if times.shape != trials.shape:
        raise FileFormatError(
            f"{path}: {name} holds {times.size} spike times but its spike_trials "
            f"{trials.size} trial ids; fix: one trial id per spike"
        )


def read_columns(group: h5py.Group, path: object) -> dict[str, np.ndarray]:
    """Every dataset of ``group`` as a decoded 1-D array, keyed by name.

    Raises
    ------
    FileFormatError
        If a member is a group or not 1-D, or the columns differ in length.
    """
    if not isinstance(group, h5py.Group):
        raise FileFormatError(
            f"{path}: {group.name} is a {type(group).__name__}, not a group; fix: a group with "
            f"one 1-D dataset per column (see {DOC})"
        )
    columns = {}
    for name, node in group.items():
        try:
            values = decode(node[()]) if isinstance(node, h5py.Dataset) else None
        except FileFormatError as error:
            raise FileFormatError(f"{path}: {group.name}/{name}: {error}") from None
        if values is None or values.ndim != 1:
            raise FileFormatError(
                f"{path}: {group.name}/{name} must be a 1-D dataset (one value per row); "
                f"got {'a group' if values is None else f'shape {values.shape}'}"
            )
        columns[str(name)] = values
    lengths = {name: values.size for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise FileFormatError(
            f"{path}: datasets in {group.name}/ differ in length {lengths}; fix: one value per "
            "row in each"
        )
    clash = sorted(set(columns) & RESERVED) if group.name.endswith("trials") else []
    if clash:
        raise FileFormatError(f"{path}: {group.name}/ uses reserved names {clash}; fix: rename")
    return columns


def decode(values: object) -> np.ndarray:
    """Array with any bytes/object strings decoded (UTF-8) to a numpy unicode array.

    Examples
    --------
    >>> decode(np.array([b"stim", b"go"], dtype=object)).tolist()
    ['stim', 'go']
    """
    array = np.asarray(values)
    if array.dtype.kind != "S" and array.dtype != object:
        return array
    try:  # decode each distinct value once
        uniques, inverse = np.unique(array.ravel(), return_inverse=True)
    except TypeError:  # an object array mixing types
        uniques, inverse = array.ravel(), np.arange(array.size)
    try:
        text = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in uniques]
    except UnicodeDecodeError as error:
        bad = next(v for v in uniques if isinstance(v, bytes) and not _is_utf8(v))
        raise FileFormatError(
            f"a string {bad[:40]!r} is not valid UTF-8 ({error.reason}); fix: write text as "
            "UTF-8 (h5py does this for Python str)"
        ) from None
    return np.array(text, dtype=str)[inverse].reshape(array.shape)


def scalar_str(value: object) -> str | None:
    """A root attribute as one string (None if absent or empty)."""
    if value is None:
        return None
    values = decode(value).ravel()
    return str(values[0]) if values.size else None


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def number_attr(attrs: h5py.AttributeManager, name: str, path: object) -> float:
    """A finite, positive number from root attribute ``name`` (a one-line error otherwise)."""
    value = attrs[name]
    try:
        number = float(np.asarray(value).reshape(-1)[0]) if np.size(value) == 1 else None
    except (TypeError, ValueError):
        number = None
    if number is None or not (np.isfinite(number) and number > 0):
        raise FileFormatError(
            f"{path}: root attribute {name}={_show(value)} is not a positive number of seconds; "
            f"fix: f.attrs['{name}'] = 0.05"
        )
    return number


def window_attr(attrs: h5py.AttributeManager, path: object) -> tuple[float, float]:
    """Root attribute ``window`` as two finite numbers ``t0 < t1`` (a one-line error otherwise)."""
    value = attrs["window"]
    try:
        start, stop = (float(v) for v in np.asarray(value, dtype=float).reshape(-1))
    except (TypeError, ValueError):
        start = stop = float("nan")
    if not (np.isfinite(start) and np.isfinite(stop) and stop > start):
        raise FileFormatError(
            f"{path}: root attribute window={_show(value)} is not two finite numbers t0 < t1; "
            "fix: f.attrs['window'] = [-0.5, 1.0] (seconds around the alignment event)"
        )
    return start, stop


def string_attr(
    attrs: h5py.AttributeManager, name: str, path: object, ndims: tuple[int, ...]
) -> list:
    """Root attribute ``name`` as (nested) lists of str; one-line errors for other shapes."""
    try:
        values = decode(attrs[name])
    except (UnicodeDecodeError, ValueError, TypeError, OSError) as error:
        raise FileFormatError(
            f"{path}: root attribute {name} cannot be read as UTF-8 text ({error}); fix: write "
            "it as a list of str"
        ) from error
    if values.ndim not in ndims or values.dtype.kind != "U":
        raise FileFormatError(
            f"{path}: root attribute {name}={_show(values)} has {values.ndim} dims of "
            f"{values.dtype}; fix: a list of str (see {DOC})"
        )
    return values.tolist() if values.ndim else [str(values)]


def _show(value: object, limit: int = 60) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= limit else text[:limit] + "..."
