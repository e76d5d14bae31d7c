"""``validate_dataset``: check a Dataset against the canonical data model, listing every problem.

Each problem names the field, the bad value and the fix; all of them are raised together as
one :class:`~alrnn_neuro.errors.DataValidationError`.
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from alrnn_neuro.data.names import (
    DIMS,
    INPUT,
    MAX_ABS_VALUE,
    MAX_SPIKES_PER_BIN,
    OBSERVATION_VARIABLES,
    OUTPUT,
    REQUIRED_ATTRS,
    TASK_LOSSES,
    TIME,
    TRIAL,
    UNIT,
)
from alrnn_neuro.errors import ConfigError, DataValidationError


def validate_dataset(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` follows the canonical data model; explain every violation.

    Parameters
    ----------
    ds : xr.Dataset
        Candidate dataset.

    Returns
    -------
    xr.Dataset
        ``ds`` itself, so the call can be chained.

    Raises
    ------
    DataValidationError
        Listing every violation found (field, bad value, fix), separated by ``"; "``.

    Examples
    --------
    >>> import numpy as np
    >>> from alrnn_neuro.data.schema import make_dataset
    >>> ds = make_dataset(np.ones((1, 2, 1), dtype=np.int32), bin_size=0.1, align_event="go")
    >>> validate_dataset(ds) is ds
    True
    """
    problems = find_problems(ds)
    if problems:
        raise DataValidationError("; ".join(problems))
    return ds


def find_problems(ds: xr.Dataset) -> list[str]:
    """Every violation of the canonical data model that :func:`validate_dataset` would raise.

    The checks run in stages (variables and attrs, then sizes and coords, then values); the
    problems of the first stage that finds any are returned.

    Parameters
    ----------
    ds : xr.Dataset
        Candidate dataset.

    Returns
    -------
    list of str
        One message per violation (field, bad value, fix); empty when ``ds`` is canonical.

    Raises
    ------
    DataValidationError
        If the sizes of the variables disagree (raised at once, as by ``validate_dataset``).

    Examples
    --------
    >>> import xarray as xr
    >>> find_problems(xr.Dataset(attrs={"bin_size": 0.1}))[-1]
    "attrs['align_event'] is missing; fix: set ds.attrs['align_event']"
    """
    problems: list[str] = []
    present = [name for name in OBSERVATION_VARIABLES if name in ds.data_vars]
    if len(present) != 1:
        problems.append(
            "dataset must hold exactly one of 'spikes' or 'signal' (or 'targets' for a task); "
            f"found {present or 'none'} "
            f"(variables: {sorted(map(str, ds.data_vars))}); fix: name spike counts 'spikes' "
            "or continuous data 'signal'"
        )
    for name in ("inputs", "valid", "epoch"):
        if name not in ds.data_vars:
            problems.append(
                f"required variable '{name}' {DIMS[name]} is missing; fix: add it "
                "(make_dataset() fills defaults)"
            )
    for name, dims in DIMS.items():
        if name in ds.data_vars and tuple(ds[name].dims) != dims:
            problems.append(
                f"variable '{name}' has dims {tuple(map(str, ds[name].dims))}, expected {dims}; "
                f"fix: rename or transpose, e.g. ds['{name}'].transpose{dims}"
            )
    for attr in REQUIRED_ATTRS:
        if attr not in ds.attrs:
            problems.append(f"attrs['{attr}'] is missing; fix: set ds.attrs['{attr}']")
    if "bin_size" in ds.attrs and not _positive_finite(ds.attrs["bin_size"]):
        problems.append(
            f"attrs['bin_size'] = {ds.attrs['bin_size']!r} s; fix: a finite, positive bin width "
            "in seconds, e.g. 0.05"
        )
    for coord in (TRIAL, TIME, UNIT, INPUT):
        if coord in ds.dims and coord not in ds.coords:
            problems.append(f"dim '{coord}' has no coordinate; fix: assign ds.coords['{coord}']")
    if problems:
        return problems
    _check_sizes(ds, present[0])
    problems += _check_coords(ds)
    if problems:
        return problems
    return _check_values(ds, present[0])


def require_dataset(ds: object, where: str) -> xr.Dataset:
    """``ds`` for ``where`` (e.g. ``"encode()"``): an ``xr.Dataset`` that
    :func:`validate_dataset` accepts.

    Raises
    ------
    ConfigError
        ``ds`` is not an ``xr.Dataset`` (:func:`check_is_dataset`).
    DataValidationError
        As :func:`validate_dataset`.
    """
    return validate_dataset(check_is_dataset(ds, where))


def check_is_dataset(ds: object, where: str) -> xr.Dataset:
    """``ds`` if it is an ``xr.Dataset``, else an error that names what came instead (for
    callers that validate the dataset themselves later).

    Raises
    ------
    ConfigError
        ``ds`` is a path, an array, a DataArray, ...

    Examples
    --------
    >>> check_is_dataset("data.h5", "fit()")
    Traceback (most recent call last):
    ...
    alrnn_neuro.errors.ConfigError: fit() got a str ('data.h5'); fix: pass a canonical xr.Dataset (alrnn_neuro.load_dataset(PATH) reads a file; make_dataset(...) builds one from arrays)
    """  # noqa: E501
    if not isinstance(ds, xr.Dataset):
        shown = f" ({ds!r})" if isinstance(ds, str | os.PathLike) else ""
        raise ConfigError(
            f"{where} got a {type(ds).__name__}{shown}; fix: pass a canonical xr.Dataset "
            "(alrnn_neuro.load_dataset(PATH) reads a file; make_dataset(...) builds one from "
            "arrays)"
        )
    return ds


def _positive_finite(value: object) -> bool:
    try:
        number = float(np.asarray(value).ravel()[0]) if np.size(value) == 1 else float("nan")
    except (TypeError, ValueError, IndexError):
        return False
    return bool(np.isfinite(number) and number > 0)


def _check_sizes(ds: xr.Dataset, obs_name: str) -> None:
    """Zero trials, bins or units are refused first, each with its own message."""
    channel = DIMS[obs_name][2]
    for dim, what in ((TRIAL, "trials"), (TIME, "time bins"), (channel, f"{channel}s")):
        if ds.sizes.get(dim, 0) == 0:
            raise DataValidationError(
                f"the dataset has 0 {what} (dim '{dim}' is empty); fix: give at least one "
                f"(check the file, the --window, or the selection that emptied it)"
            )


def _check_coords(ds: xr.Dataset) -> list[str]:
    """Unique trial / unit / input ids, integer trial ids, a finite increasing time axis."""
    problems: list[str] = []
    trial = ds[TRIAL].values
    if not np.issubdtype(trial.dtype, np.integer):
        problems.append(
            f"trial ids have dtype {trial.dtype} (e.g. {trial[0]!r}); fix: integer trial ids, "
            "e.g. ds.assign_coords(trial=np.arange(ds.sizes['trial']))"
        )
    for dim in (TRIAL, UNIT, OUTPUT, INPUT):
        if dim not in ds.coords:
            continue
        ids, counts = np.unique(ds[dim].values, return_counts=True)
        repeated = ids[counts > 1]
        if repeated.size:
            shown = ", ".join(map(str, repeated[:5].tolist()))
            problems.append(
                f"{dim} ids repeat ({shown}{', ...' if repeated.size > 5 else ''}: "
                f"{repeated.size} ids used more than once); fix: give every {dim} its own id"
            )
    time = np.asarray(ds[TIME].values)
    if not np.issubdtype(time.dtype, np.number) or not np.all(np.isfinite(time)):
        problems.append("coordinate 'time' holds NaN/inf or non-numbers; fix: finite bin centres")
    elif time.size > 1 and np.any(np.diff(time) <= 0):
        problems.append("coordinate 'time' is not strictly increasing; fix: sort by time")
    return problems


def _check_values(ds: xr.Dataset, obs_name: str) -> list[str]:
    """Value-level checks, run once the structure is right."""
    problems: list[str] = []
    valid = ds["valid"].values.astype(bool)
    if ds["valid"].dtype != bool:
        problems.append(f"'valid' has dtype {ds['valid'].dtype}; fix: a bool mask")
    if ds.sizes[TRIAL] > 0:
        empty = np.flatnonzero(~valid.any(axis=1))
        if empty.size:
            problems.append(
                f"trials {_ids(ds, empty)} have no valid step (empty trials); fix: drop them "
                "with ds.isel(trial=...) or fix their 'valid' mask"
            )
    observed = ds["observed"].values.astype(bool) if "observed" in ds.data_vars else None
    if observed is not None and not (observed & valid.any(axis=1)[:, None]).any():
        problems.append(
            "'observed' is False for every (trial, unit) pair with valid steps: nothing is "
            "left to fit; fix: mark the recorded units of each trial True"
        )
    data = ds[obs_name].values
    if obs_name == "spikes" and not np.issubdtype(data.dtype, np.number):
        return problems + [f"'spikes' has dtype {data.dtype}; fix: integer spike counts"]
    if obs_name == "spikes" and np.issubdtype(data.dtype, np.integer):
        # fast path for integer counts: only the sign and the size can be wrong
        if data.size and (data.min() < 0 or data.max() > MAX_SPIKES_PER_BIN):
            on_valid = data[_step_mask(valid, observed, data.shape)]
            if on_valid.size and on_valid.min() < 0:
                problems.append(
                    f"'spikes' holds negative counts (min {on_valid.min()}); fix: counts are >= 0"
                )
            if on_valid.size and on_valid.max() > MAX_SPIKES_PER_BIN:
                problems.append(_too_many_spikes(on_valid.max()))
    else:
        problems += _check_float_observations(
            obs_name, data[_step_mask(valid, observed, data.shape)]
        )
    if obs_name == "targets":
        problems += _check_task(ds, valid)
    inputs = ds["inputs"].values
    if inputs.size and not np.issubdtype(inputs.dtype, np.number):
        return problems + [f"'inputs' has dtype {inputs.dtype}; fix: numbers (float)"]
    if inputs.size and np.any(~np.isfinite(inputs[valid])):
        problems.append("'inputs' holds NaN/inf on valid steps; fix: finite values only")
    elif inputs.size and np.abs(inputs[valid]).max(initial=0) > MAX_ABS_VALUE:
        problems.append(
            f"'inputs' holds values up to {np.abs(inputs[valid]).max():.3g}, beyond "
            f"{MAX_ABS_VALUE:g}; fix: rescale the inputs (e.g. to 0..1)"
        )
    return problems


def _too_many_spikes(largest: object) -> str:
    return (
        f"'spikes' holds {largest:.6g} spikes in one bin, more than {MAX_SPIKES_PER_BIN}; fix: "
        "check the units of the data (counts per bin, not rates or timestamps)"
    )


def _check_task(ds: xr.Dataset, valid: np.ndarray) -> list[str]:
    """Checks specific to task datasets (``targets`` + ``loss_mask`` + ``task_loss``)."""
    problems = []
    loss = ds.attrs.get("task_loss")
    if loss not in TASK_LOSSES:
        problems.append(f"attrs['task_loss'] = {loss!r}; fix: one of {list(TASK_LOSSES)}")
    if "loss_mask" not in ds.data_vars:
        return problems + ["task dataset has no 'loss_mask' (trial, time); fix: add it"]
    mask = ds["loss_mask"].values
    if mask.dtype != bool:
        problems.append(f"'loss_mask' has dtype {mask.dtype}; fix: a bool mask")
    elif np.any(mask & ~valid):
        problems.append("'loss_mask' is True on padded steps; fix: loss_mask & valid")
    return problems


def _step_mask(valid: np.ndarray, observed: np.ndarray | None, shape: tuple) -> np.ndarray:
    """Boolean (trial, time, unit) mask of valid steps of observed units."""
    mask = valid[:, :, None] if observed is None else valid[:, :, None] & observed[:, None, :]
    return np.broadcast_to(mask, shape)


def _check_float_observations(obs_name: str, on_valid: np.ndarray) -> list[str]:
    """Checks of float-typed observations on valid steps (counts stored as floats included)."""
    if not np.issubdtype(on_valid.dtype, np.number):
        return [f"'{obs_name}' has dtype {on_valid.dtype}; fix: numbers"]
    if np.any(~np.isfinite(on_valid)):
        return [f"'{obs_name}' holds NaN/inf on valid steps; fix: impute or mark the steps invalid"]
    if obs_name != "spikes":
        largest = np.abs(on_valid).max(initial=0)
        if largest > MAX_ABS_VALUE:
            return [
                f"'{obs_name}' holds values up to {largest:.3g}, beyond {MAX_ABS_VALUE:g} (float32 "
                "training overflows); fix: rescale the data (e.g. z-score each unit)"
            ]
        return []
    problems = []
    if on_valid.size and on_valid.max() > MAX_SPIKES_PER_BIN:
        problems.append(_too_many_spikes(on_valid.max()))
    if on_valid.size and on_valid.min() < 0:
        problems.append(
            f"'spikes' holds negative counts (min {on_valid.min()}); fix: counts are >= 0"
        )
    fractional = on_valid[np.mod(on_valid, 1) != 0]
    if fractional.size:
        problems.append(
            f"'spikes' holds fractional values (e.g. {fractional[0]}); fix: store counts, or "
            "name continuous data 'signal' for a Gaussian model"
        )
    return problems


def _ids(ds: xr.Dataset, index: np.ndarray, limit: int = 5) -> str:
    """Format a few trial ids for a message."""
    ids = ds[TRIAL].values[index]
    text = ", ".join(str(i) for i in ids[:limit])
    return f"[{text}{', ...' if ids.size > limit else ''}] ({ids.size} in all)"
