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
"""

from __future__ import annotations

import os

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
        names = f["inputs"].attrs.get("input_names", f.get("input_names"))
        input_names = None if names is None else [str(n) for n in decode(names[()])]
        if input_names is not None and len(input_names) != inputs.shape[2]:
            raise FileFormatError(
                f"{path}: 'inputs' has {inputs.shape[2]} channels but input_names lists "
                f"{len(input_names)} ({input_names}); fix: one name per channel"
            )
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
    trial_ids = trials.pop("id", trials.pop("trial", None))
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
        lengths = np.asarray(f["trial_lengths"][()])
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
    if "time" in f:
        time = np.asarray(f["time"][()], dtype=float)
        if time.shape != (n_time,):
            raise FileFormatError(f"{path}: 'time' has shape {time.shape}, expected ({n_time},)")
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
    if "time" not in f:
        time = float(f.attrs.get("t_start", 0.0)) + (np.arange(n_time) + 0.5) * bin_size
    return time, bin_size


def _crop(ds: xr.Dataset, window: object, bin_size: float) -> xr.Dataset:
    t0, t1 = (float(v) for v in window)  # type: ignore[union-attr]
    centres = ds["time"].values
    half = bin_size * (0.5 - 1e-9)
    keep = (centres - half >= t0) & (centres + half <= t1)
    if not keep.any():
        span = f"[{centres[0] - bin_size / 2:g}, {centres[-1] + bin_size / 2:g}]"
        raise ConfigError(f"window=({t0}, {t1}) holds no bin (bins span {span}); fix: widen it")
    return validate_dataset(ds.isel(time=np.flatnonzero(keep)))
