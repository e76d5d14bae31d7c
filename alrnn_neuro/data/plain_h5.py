"""Read the *plain HDF5 layout*: files a lab can write with h5py alone.

The root attribute ``layout`` tells the two variants apart (full specification with runnable
examples in ``docs/dataset-format.md``):

* ``"binned"``: ``spikes`` or ``signal`` (trial, time, unit), optional ``inputs``,
  ``valid`` / ``trial_lengths``, ``epoch``, ``observed``, ``time``, groups ``trials/`` and
  ``units/``; attrs ``bin_size``, ``align_event``, ``t_start``.
* ``"events"``: spike times per unit (group ``spike_times/`` or flat ``spike_times`` +
  ``spike_units``), group ``trials/`` (``start``, ``stop``, events, labels), optional
  ``units/``; binned on load by :func:`alrnn_neuro.data.events.bin_spike_times`.

Strings written by h5py come back as bytes and are decoded as UTF-8.

Binned-layout checks beyond the shapes: a ``time`` dataset must be finite bin centres spaced
exactly ``bin_size`` apart (the root attribute or the ``bin_size`` argument); ``trial_lengths``
must be whole numbers of bins; ``t_start`` must be one finite number; ``input_names`` may be a
list of str or, for one input channel, a single str. ``trials/id`` gives the trial ids (else
``trials/trial``); when both exist and differ, ``trials/trial`` is kept as the trial coord
``trial_number`` (with a :class:`TrialColumnRenamedWarning`).
"""

from __future__ import annotations

import os
import warnings

import h5py
import numpy as np
import xarray as xr

from alrnn_neuro.data.event_files import load_events
from alrnn_neuro.data.plain_layout import (
    DOC,
    decode,
    layout_of,
    number_attr,
    read_array,
    read_columns,
    scalar_str,
)
from alrnn_neuro.data.schema import make_dataset, validate_dataset
from alrnn_neuro.errors import ConfigError, FileFormatError

RENAMED_TRIAL = "trial_number"
"""Trial coord that keeps ``trials/trial`` when ``trials/id`` gives the trial ids."""


class TrialColumnRenamedWarning(UserWarning):
    """``trials/trial`` was kept under another name because ``trials/id`` gives the ids."""


def read_plain_h5(
    path: str | os.PathLike,
    *,
    bin_size: float | None = None,
    align: str | None = None,
    window: tuple[float, float] | None = None,
) -> xr.Dataset:
    """Read a plain-layout HDF5 file into a validated canonical dataset.

    Parameters
    ----------
    path : str or PathLike
        HDF5 file with root attribute ``layout`` = ``"binned"`` or ``"events"``.
    bin_size : float, optional
        Bin width (s). Events layout: overrides the root attribute ``bin_size`` (one of the
        two is required; a differing value warns). Binned layout: only fills in a missing
        ``bin_size``; a value that differs from the file's raises (binned data are not
        re-binned).
    align : str, optional
        Alignment event. Events layout: overrides the root attribute ``align_event``
        (default ``"start"``). Binned layout: must match the file's ``align_event``.
    window : (float, float), optional
        Seconds relative to ``align``. Events layout: overrides the root attribute
        ``window`` (default: the smallest window covering every trial). Binned layout:
        keeps only the bins lying inside it.

    Returns
    -------
    xr.Dataset
        Canonical dataset (validated by :func:`alrnn_neuro.data.schema.validate_dataset`).

    Raises
    ------
    FileFormatError
        Not an HDF5 file, no/unknown ``layout``, missing datasets, wrong shapes or dims.
    ConfigError
        ``bin_size`` <= 0 or missing, or options that contradict a binned file.
    EventTableError, DataValidationError
        Inconsistent trial tables, or negative/fractional counts or NaN on valid steps.
    """
    if bin_size is not None and not (np.isfinite(bin_size) and bin_size > 0):
        raise ConfigError(f"bin_size={bin_size!r} s must be > 0; fix: e.g. bin_size=0.05")
    layout = layout_of(path)
    if layout == "events":
        return load_events(
            path, bin_size=bin_size, align=align, window=window, default_bin_size=None
        )
    with h5py.File(path, "r") as handle:
        return _read_binned(handle, path, bin_size=bin_size, align=align, window=window)


def _read_binned(
    f: h5py.File, path: object, *, bin_size: float | None, align: str | None, window: object
) -> xr.Dataset:
    present = [name for name in ("spikes", "signal") if name in f]
    if len(present) != 1:
        raise FileFormatError(
            f"{path}: the binned layout needs exactly one dataset 'spikes' (counts) or 'signal' "
            f"(continuous), shape (trial, time, unit); found {present or 'neither'} among "
            f"{sorted(f)} (see {DOC})"
        )
    kind = present[0]
    data = read_array(f, kind, ("trial", "time", "unit"), path)
    n_trial, n_time, n_unit = data.shape
    inputs = input_names = None
    if "inputs" in f:
        inputs = read_array(f, "inputs", ("trial", "time", "input"), path, (n_trial, n_time, None))
        input_names = _input_names(f, path, inputs.shape[2])
    valid = _valid(f, path, n_trial, n_time)
    epoch = (
        read_array(f, "epoch", ("trial", "time"), path, valid.shape, numeric=False)
        if "epoch" in f
        else None
    )
    observed = None
    if "observed" in f:
        observed = read_array(f, "observed", ("trial", "unit"), path, (n_trial, n_unit)).astype(
            bool
        )
    time, bin_size = _time_axis(f, path, n_time, bin_size)
    file_align = scalar_str(f.attrs.get("align_event"))
    if align is not None and file_align is not None and align != file_align:
        raise ConfigError(
            f"align={align!r} but {path} is binned around {file_align!r}; binned data cannot be "
            "re-aligned; fix: omit align, or store spike times (layout 'events')"
        )
    trials = read_columns(f["trials"], path) if "trials" in f else {}
    units = read_columns(f["units"], path) if "units" in f else {}
    for group, columns, size in (("trials", trials, n_trial), ("units", units, n_unit)):
        if columns and next(iter(columns.values())).size != size:
            raise FileFormatError(
                f"{path}: datasets in {group}/ have length {next(iter(columns.values())).size}, "
                f"but '{kind}' has {size} {group}; fix: one value per {group[:-1]}"
            )
    trial_ids = _trial_ids(trials, path)
    unit_ids = units.pop("id", None)
    keep = valid[:, :, None] & (True if observed is None else observed[:, None, :])
    ds = make_dataset(
        np.where(keep, data, 0),
        kind=kind,
        inputs=None if inputs is None else np.where(valid[:, :, None], inputs, 0),
        input_names=input_names,
        valid=valid,
        observed=observed,
        epoch=None if epoch is None else np.where(valid, epoch, ""),
        time=time,
        bin_size=bin_size,
        align_event=file_align or align or "start",
        trial_coords=trials,
        unit_coords=units,
        unit_ids=None if unit_ids is None else [str(u) for u in unit_ids],
        trial_ids=trial_ids,
        source=scalar_str(f.attrs.get("source")) or str(path),
    )
    if kind == "spikes" and ds["spikes"].dtype.kind != "i":
        ds["spikes"] = ds["spikes"].astype(np.int32)
    if window is not None:
        ds = _crop(ds, window, bin_size)
    return ds


def _valid(f: h5py.File, path: object, n_trial: int, n_time: int) -> np.ndarray:
    valid = np.ones((n_trial, n_time), bool)
    if "valid" in f and "trial_lengths" in f:
        raise FileFormatError(f"{path}: holds 'valid' and 'trial_lengths'; fix: write only one")
    if "valid" in f:
        valid = read_array(f, "valid", ("trial", "time"), path, (n_trial, n_time)).astype(bool)
    if "trial_lengths" in f:
        lengths = read_array(f, "trial_lengths", ("trial",), path)
        whole = np.isfinite(lengths) & (lengths == np.round(lengths))
        if lengths.shape == (n_trial,) and not whole.all():
            bad = int(np.flatnonzero(~whole)[0])
            raise FileFormatError(
                f"{path}: 'trial_lengths' of trial {bad} (index) is {lengths[bad]:g}, not a "
                "whole number of bins; fix: write integer bin counts (the number of valid "
                "bins of each trial, counted from the first bin)"
            )
        if lengths.shape != (n_trial,) or np.any((lengths < 0) | (lengths > n_time)):
            raise FileFormatError(
                f"{path}: 'trial_lengths' must be {n_trial} bin counts in [0, {n_time}]; got "
                f"shape {lengths.shape}, range [{lengths.min(initial=0)}, {lengths.max(initial=0)}]"
            )
        valid = np.arange(n_time)[None, :] < lengths[:, None]
    return valid


def _time_axis(
    f: h5py.File, path: object, n_time: int, bin_size: float | None
) -> tuple[np.ndarray, float]:
    file_bin = number_attr(f.attrs, "bin_size", path) if "bin_size" in f.attrs else None
    time = None
    if "time" in f:
        time = read_array(f, "time", ("time",), path, (n_time,)).astype(float)
        if not np.all(np.isfinite(time)):
            raise FileFormatError(
                f"{path}: 'time' holds NaN/inf; fix: finite bin centres (s relative to "
                "align_event), or drop 'time' and set f.attrs['t_start']"
            )
        if file_bin is None and n_time > 1:
            file_bin = float(np.median(np.diff(time)))
    if file_bin is not None and not file_bin > 0:
        raise FileFormatError(f"{path}: bin size {file_bin!r} s must be > 0; fix: e.g. 0.05")
    if bin_size is not None and file_bin is not None and abs(bin_size - file_bin) > 1e-9:
        raise ConfigError(
            f"bin_size={bin_size} but {path} holds {file_bin} s bins; binned data are not "
            "re-binned; fix: omit bin_size, or store spike times (layout 'events')"
        )
    bin_size = file_bin if file_bin is not None else bin_size
    if bin_size is None:
        raise FileFormatError(
            f"{path}: the bin size is unknown; fix: set f.attrs['bin_size'] (s), write a "
            "'time' dataset of bin centres, or pass bin_size=..."
        )
    if time is None:
        return _t_start(f, path) + (np.arange(n_time) + 0.5) * bin_size, bin_size
    _check_spacing(time, f["time"].dtype, bin_size, path)
    return time, bin_size


def _check_spacing(time: np.ndarray, dtype: np.dtype, bin_size: float, path: object) -> None:
    """``time`` (bin centres) must step by ``bin_size``, up to the rounding of its dtype."""
    steps = np.diff(time)
    eps = np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else np.finfo(float).eps
    tolerance = 1e-6 * bin_size + 8 * eps * float(np.abs(time).max(initial=0.0))
    off = np.flatnonzero(np.abs(steps - bin_size) > tolerance)
    if off.size:
        k = int(off[0])
        raise FileFormatError(
            f"{path}: 'time' contradicts bin_size={bin_size:g} s: time[{k}]={time[k]:g} and "
            f"time[{k + 1}]={time[k + 1]:g} are {steps[k]:g} s apart ({off.size} of "
            f"{steps.size} steps differ); fix: write bin centres t_start + (k + 0.5) * "
            "bin_size, set f.attrs['bin_size'] to the spacing, or drop 'time'"
        )


def _t_start(f: h5py.File, path: object) -> float:
    """Root attribute ``t_start`` (default 0): one finite number of seconds."""
    value = f.attrs.get("t_start", 0.0)
    try:
        number = float(np.asarray(value).reshape(-1)[0]) if np.size(value) == 1 else np.nan
    except (TypeError, ValueError):
        number = np.nan
    if not np.isfinite(number):
        shown = np.asarray(value).tolist()
        raise FileFormatError(
            f"{path}: root attribute t_start={shown!r} is not a finite number of seconds; fix: "
            "f.attrs['t_start'] = -0.25 (left edge of the first bin, s relative to align_event)"
        )
    return number


def _input_names(f: h5py.File, path: object, n_inputs: int) -> list[str] | None:
    """``inputs.attrs['input_names']`` (or a root dataset): a list of str, or one str."""
    where = "input_names" in f["inputs"].attrs
    names = f["inputs"].attrs["input_names"] if where else f.get("input_names")
    field = "inputs.attrs['input_names']" if where else "the root dataset 'input_names'"
    if names is None:
        return None
    values = decode(names[()] if isinstance(names, h5py.Dataset) else names)
    if values.ndim > 1:
        raise FileFormatError(
            f"{path}: {field} has shape {values.shape}; fix: a list of str, one per channel"
        )
    listed = [str(n) for n in np.atleast_1d(values)]
    if len(listed) != n_inputs:
        raise FileFormatError(
            f"{path}: 'inputs' has {n_inputs} channels but input_names lists {len(listed)} "
            f"({listed}, in {field}); fix: one name per channel, e.g. "
            f"{[f'input{i}' for i in range(min(n_inputs, 3))]}"
        )
    return listed


def _trial_ids(trials: dict[str, np.ndarray], path: object) -> np.ndarray | None:
    """Pop the trial ids (``trials/id``, else ``trials/trial``); keep a differing ``trial``."""
    if "id" not in trials:
        return trials.pop("trial", None)
    ids = trials.pop("id")
    if "trial" not in trials:
        return ids
    if np.array_equal(trials["trial"].astype(str), ids.astype(str)):
        del trials["trial"]  # the same ids twice: nothing is lost
        return ids
    if RENAMED_TRIAL in trials:
        raise FileFormatError(
            f"{path}: trials/ holds 'id' (the trial ids), 'trial' and '{RENAMED_TRIAL}'; "
            f"'trial' cannot be kept as '{RENAMED_TRIAL}'; fix: rename trials/trial"
        )
    trials[RENAMED_TRIAL] = trials.pop("trial")
    warnings.warn(
        f"{path}: trials/id gives the trial ids, so trials/trial is kept as the trial coord "
        f"'{RENAMED_TRIAL}'; fix: rename trials/trial in the file to choose its name",
        TrialColumnRenamedWarning,
        stacklevel=4,
    )
    return ids


def _crop(ds: xr.Dataset, window: object, bin_size: float) -> xr.Dataset:
    t0, t1 = (float(v) for v in window)  # type: ignore[union-attr]
    centres = ds["time"].values
    half = bin_size * (0.5 - 1e-9)
    keep = (centres - half >= t0) & (centres + half <= t1)
    if not keep.any():
        span = f"[{centres[0] - bin_size / 2:g}, {centres[-1] + bin_size / 2:g}]"
        raise ConfigError(f"window=({t0}, {t1}) holds no bin (bins span {span}); fix: widen it")
    return validate_dataset(ds.isel(time=np.flatnonzero(keep)))
