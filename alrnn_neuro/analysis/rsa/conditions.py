"""Condition labels from trial variables, and per-trial activity patterns per epoch/time/regime.

An RSA *condition* is one combination of trial variables (e.g. ``rule × location``). A
*pattern* is one trial's activity vector (over units, latents or LFP features) averaged over
the valid steps of a segment: an epoch, a time bin, a time window, or a model regime (linear
region, named by its bitcode). Only valid steps enter; unobserved units of a trial are NaN.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.errors import ConfigError, DataValidationError

#: segments of :func:`trial_patterns` (``by=``); ``"regime"`` is accepted for ``"region"``
BY = (None, "epoch", "time", "window", "region")
BY_ALIASES = {"regime": "region"}
_NON_FEATURE_VARS = ("valid", "epoch", "bitcode", "observed", "inputs")


def trial_variables(source: xr.Dataset | xr.DataArray) -> list[str]:
    """Names of the 1-D coordinates on ``trial`` (the trial variables) of ``source``."""
    return sorted(
        str(name)
        for name, coord in source.coords.items()
        if coord.dims == ("trial",) and name != "trial"
    )


def condition_labels(
    source: xr.Dataset | xr.DataArray, conditions: str | Sequence[str], *, sep: str = "|"
) -> xr.DataArray:
    """Label each trial with its condition, the combination of some trial variables.

    Parameters
    ----------
    source : xr.Dataset or xr.DataArray
        Anything with a ``trial`` dim and trial variables as coords on it.
    conditions : str or sequence of str
        Trial variables whose combinations define the conditions, e.g. ``["rule", "location"]``.
    sep : str
        Separator between the variable values in a label.

    Returns
    -------
    xr.DataArray, dims (trial,)
        String labels such as ``"local|left"``; the named variables ride along as coords.
        Numbers are written as :func:`label_text` does, so ``-0.0`` and ``0.0`` are one
        condition ``"0"``.

    Raises
    ------
    ConfigError
        If a named variable is not a trial coord (the message lists the available ones).

    Examples
    --------
    >>> import xarray as xr
    >>> da = xr.DataArray([0, 0, 0], dims="trial",
    ...                   coords={"rule": ("trial", ["a", "b", "a"]), "side": ("trial", [1, 1, 2])})
    >>> condition_labels(da, ["rule", "side"]).values.tolist()
    ['a|1', 'b|1', 'a|2']
    """
    names = [conditions] if isinstance(conditions, str) else list(conditions)
    available = trial_variables(source)
    missing = [name for name in names if name not in available]
    if not names or missing:
        raise ConfigError(
            f"conditions={names} names {missing or names}, which are not trial variables; "
            f"fix: --conditions (conditions=) with some of {available}, comma-separated"
        )
    values = [np.asarray(source[name].values) for name in names]
    labels = [sep.join(label_text(v) for v in row) for row in zip(*values, strict=True)]
    coords = {name: ("trial", value) for name, value in zip(names, values, strict=True)}
    coords["trial"] = source["trial"].values
    return xr.DataArray(
        np.array(labels, dtype=str),
        dims="trial",
        coords=coords,
        name="condition",
        attrs={"conditions": names, "sep": sep},
    )


def label_text(value) -> str:
    """Canonical text of a trial-variable value: integral numbers without a fraction
    (``0.0``, ``-0.0`` and ``0`` are all ``"0"``), other numbers as ``str(float)``, booleans
    lower case, anything else as ``str``.

    Examples
    --------
    >>> [label_text(v) for v in (-0.0, 12.8, 3, True, "left")]
    ['0', '12.8', '3', 'true', 'left']
    """
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if number.is_integer():
            return str(int(number))
        return str(number)
    return str(value)


def check_by(
    by: str | None, allowed: tuple[str | None, ...] = BY, analysis: str = ""
) -> str | None:
    """The canonical ``by`` (segment) name; ``"regime"`` -> ``"region"``.

    ``allowed``: the segments the caller's ``analysis`` (named in the message) takes; default
    all of :data:`BY`.

    Raises
    ------
    ConfigError
        For anything not in ``allowed`` or their aliases.
    """
    by = BY_ALIASES.get(by, by) if isinstance(by, str) else by
    if by not in allowed:
        raise ConfigError(
            f"by = {by!r} is not a segment{' of ' + analysis if analysis else ''}; choose from "
            f"{list(allowed)} ('regime' = 'region')"
        )
    return by


def condition_order(labels: xr.DataArray) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Unique conditions of ``labels``, sorted by their variable values (numbers numerically).

    Returns
    -------
    names : ndarray of str, shape (condition,)
    values : dict of variable name to ndarray, shape (condition,)
    n_trials : ndarray of int, shape (condition,)
    """
    names, first, inverse = np.unique(
        labels.values.astype(str), return_index=True, return_inverse=True
    )
    variables = [n for n in labels.attrs.get("conditions", []) if n in labels.coords]
    values = {n: np.asarray(labels[n].values)[first] for n in variables}
    keys = [names] + [values[n] for n in reversed(variables)]  # lexsort: last key is primary
    order = np.lexsort(keys)
    counts = np.bincount(inverse.ravel(), minlength=names.size)
    return names[order], {n: v[order] for n, v in values.items()}, counts[order]


def trials_digest(trial_ids: np.ndarray) -> str:
    """A short fingerprint of a set of trial ids (order-free), to detect mismatched trials."""
    ids = np.sort(np.asarray(trial_ids).astype(str))
    return hashlib.sha1("\n".join(ids).encode()).hexdigest()[:12]


def check_same_trials(a: xr.DataArray | xr.Dataset, b: xr.DataArray | xr.Dataset, what: str):
    """Raise if ``a`` and ``b`` do not hold the same trial ids in the same order."""
    ids_a, ids_b = np.asarray(a["trial"].values), np.asarray(b["trial"].values)
    if ids_a.shape == ids_b.shape and np.array_equal(ids_a, ids_b):
        return
    only_a = np.setdiff1d(ids_a, ids_b)[:5].tolist()
    only_b = np.setdiff1d(ids_b, ids_a)[:5].tolist()
    raise DataValidationError(
        f"mismatched trials in {what}: {ids_a.size} vs {ids_b.size} trials (only in the first: "
        f"{only_a}, only in the second: {only_b}, or a different order); fix: select the same "
        "trials from both, e.g. b.sel(trial=a.trial)"
    )


def trial_patterns(
    data: xr.DataArray | xr.Dataset,
    *,
    by: str | None = "epoch",
    var: str | None = None,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
    bitcode: xr.DataArray | None = None,
    observed: xr.DataArray | None = None,
    windows: Mapping[str, tuple[float, float]] | None = None,
) -> xr.DataArray:
    """Average each trial's activity over the valid steps of each segment.

    Parameters
    ----------
    data : xr.DataArray or xr.Dataset
        DataArray with dims (trial, time, feature...) — e.g. ``latents`` (trial, time, latent),
        ``spikes`` (trial, time, unit), ``lfp_amplitude`` (trial, time, channel, band; the
        feature dims are stacked into ``feature``) — or a Dataset holding it (canonical dataset
        or run-dir ``latents.nc``), whose ``valid``/``epoch``/``bitcode``/``observed``
        variables are used unless given explicitly.
    by : {None, "epoch", "time", "window", "region"}
        Segments: whole trial, each epoch label, each time bin, each named window, or each
        model regime (value of ``bitcode``; ``"regime"`` is accepted too).
    var : str, optional
        Variable of a Dataset (default ``spikes``/``signal``, else ``latents``).
    valid : xr.DataArray of bool, dims (trial, time), optional
        Valid-step mask (default all valid).
    epoch : xr.DataArray of str, dims (trial, time), optional
        Epoch labels; needed for ``by="epoch"``.
    bitcode : xr.DataArray, dims (trial, time), optional
        Model regime per step; needed for ``by="region"``. May come from model latents
        when ``data`` are recordings of the same trials.
    observed : xr.DataArray of bool, dims (trial, feature), optional
        Observed-unit mask of pseudo-populations; unobserved entries become NaN.
    windows : mapping of name to (start, stop), optional
        Time windows in seconds (bins with centre in [start, stop)); for ``by="window"``.

    Returns
    -------
    xr.DataArray, dims (segment, trial, feature) or (trial, feature) for ``by=None``
        Mean activity; NaN where a trial has no step in a segment. The segment dim is named
        after ``by``.
    """
    by = check_by(by)
    array, masks = _unpack(data, var, valid=valid, epoch=epoch, bitcode=bitcode, observed=observed)
    feature = array.dims[2]
    values = array.transpose("trial", "time", feature).values.astype(np.float64)
    ok = masks["valid"].transpose("trial", "time").values.astype(bool)
    names, segment_masks = _segments(array, masks, ok, by, windows)
    out = np.full((len(names), values.shape[0], values.shape[2]), np.nan)
    if by == "time":  # one step per segment: no averaging needed
        out = np.where(ok.T[:, :, None], values.transpose(1, 0, 2), np.nan)
    else:
        for k, mask in enumerate(segment_masks):
            total = np.where(mask[..., None], values, 0.0).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k] = total / mask.sum(axis=1)[:, None]
    if masks.get("observed") is not None:
        seen = masks["observed"].transpose("trial", feature).values.astype(bool)
        out = np.where(seen[None], out, np.nan)
    coords = {c: v for c, v in array.coords.items() if set(v.dims) <= {"trial", feature}}
    result = xr.DataArray(out, dims=(by or "segment", "trial", feature), coords=coords)
    if by in (None,):
        return result.isel(segment=0, drop=True)
    return result.assign_coords({by: np.asarray(names)})


def _unpack(data, var, **given) -> tuple[xr.DataArray, dict[str, xr.DataArray | None]]:
    """Pick the data array and its masks; stack extra feature dims; check trial alignment."""
    if isinstance(data, xr.Dataset):
        if var is None:
            found = [n for n in ("spikes", "signal", "latents") if n in data.data_vars]
            if not found:
                raise ConfigError(
                    f"var is not given and the dataset has none of 'spikes', 'signal', "
                    f"'latents'; choose from {sorted(map(str, data.data_vars))}"
                )
            var = found[0]
        if var not in data.data_vars:
            raise ConfigError(
                f"var = {var!r} not in dataset; choose from {sorted(map(str, data.data_vars))}"
            )
        for name in ("valid", "epoch", "bitcode", "observed"):
            if given[name] is None and name in data.data_vars:
                given[name] = data[name]
        array = data[var]
    else:
        array = data
    if array.dims[:2] != ("trial", "time") or array.ndim < 3:
        raise DataValidationError(
            f"data has dims {array.dims}; expected (trial, time, feature...); fix: transpose, "
            "e.g. data.transpose('trial', 'time', ...)"
        )
    if array.ndim > 3:
        rest = list(array.dims[2:])
        labels = ["|".join(map(str, t)) for t in np.ndindex(*array.shape[2:])]
        if all(d in array.coords for d in rest):
            grids = np.meshgrid(*[array[d].values for d in rest], indexing="ij")
            labels = ["|".join(map(str, t)) for t in zip(*(g.ravel() for g in grids), strict=True)]
        array = xr.DataArray(
            array.values.reshape(array.shape[0], array.shape[1], -1),
            dims=("trial", "time", "feature"),
            coords={
                **{c: v for c, v in array.coords.items() if v.dims in (("trial",), ("time",))},
                "feature": labels,
            },
        )
        given["observed"] = None
    if given["valid"] is None:
        given["valid"] = xr.ones_like(array.isel({array.dims[2]: 0}, drop=True), dtype=bool)
    for name, mask in given.items():
        if mask is not None and "trial" in mask.dims and "trial" in mask.coords:
            check_same_trials(array, mask, f"data and its '{name}' mask")
        if (
            mask is not None
            and "time" in mask.dims
            and not (
                mask.sizes["time"] == array.sizes["time"]
                and ("time" not in mask.coords or np.allclose(mask["time"], array["time"]))
            )
        ):
            raise DataValidationError(
                f"mismatched time bins: '{name}' has {mask.sizes['time']} bins, the data "
                f"{array.sizes['time']} (or different bin centres); fix: use the mask of the "
                "same dataset/run, or interpolate it to the data's time coord"
            )
    return array, given


def _segments(array, masks, ok, by, windows):
    """Names and (trial, time) bool masks of each segment."""
    if by is None:
        return ["all"], [ok]
    if by == "time":
        return array["time"].values, []
    if by == "window":
        if not windows:
            raise ConfigError("by='window' needs windows={'name': (start_s, stop_s), ...}")
        t = array["time"].values
        return list(windows), [ok & ((t >= a) & (t < b))[None] for a, b in windows.values()]
    key = "epoch" if by == "epoch" else "bitcode"
    if masks.get(key) is None:
        raise ConfigError(f"by={by!r} needs a '{key}' (trial, time) array; pass {key}=...")
    labels = masks[key].transpose("trial", "time").values
    present = labels[ok]
    names = pd.unique(present[present != ""] if present.dtype.kind in "US" else present)
    if by == "epoch":  # order epochs by when they happen
        steps = np.broadcast_to(np.arange(ok.shape[1]), ok.shape)[ok]
        names = sorted(names, key=lambda e: np.median(steps[present == e]))
    else:
        names = np.sort(names)
    return list(names), [ok & (labels == name) for name in names]


def exclude_trials(ds: xr.Dataset, exclude: Sequence[str]) -> xr.Dataset:
    """Drop the trials matching any ``COORD=VALUE`` rule (values compared as text).

    Parameters
    ----------
    ds : xr.Dataset
        Any dataset with a ``trial`` dim and trial coords (a run's latents or a dataset).
    exclude : sequence of str
        Rules such as ``"cue_trial=True"`` or ``"choice=nogo"``; booleans also match
        ``true``/``false`` (any case), numbers their text (``1`` matches 1 and 1.0).

    Returns
    -------
    xr.Dataset
        ``ds`` without those trials.

    Raises
    ------
    ConfigError
        A rule without ``=``, a coord that is not a trial coord, or a value no trial has.
    DataValidationError
        If no trial is left.
    """
    keep = np.ones(ds.sizes["trial"], dtype=bool)
    for rule in exclude:
        coord, sep, value = str(rule).partition("=")
        coord, value = coord.strip(), value.strip()
        if not sep or not coord:
            raise ConfigError(f"exclude = {rule!r}; fix: write COORD=VALUE, e.g. cue_trial=True")
        if coord not in ds.coords or ds[coord].dims != ("trial",):
            have = sorted(str(c) for c in ds.coords if ds[c].dims == ("trial",) and c != "trial")
            raise ConfigError(
                f"exclude = {rule!r}: {coord!r} is not a trial coord; choose from {have}"
            )
        text = np.array([_as_text(v) for v in ds[coord].values])
        hit = text == _as_text(value)
        if not hit.any():
            raise ConfigError(
                f"exclude = {rule!r}: no trial has {coord}={value}; values are "
                f"{sorted(set(text.tolist()))[:10]}"
            )
        keep &= ~hit
    if not keep.any():
        raise DataValidationError(
            f"exclude = {list(exclude)} removes every trial; fix: exclude fewer trials"
        )
    return ds.isel(trial=np.flatnonzero(keep))


def _as_text(value) -> str:
    """Canonical text of a coord value: booleans lower case, integral floats as ints."""
    if isinstance(value, bool | np.bool_) or str(value).lower() in ("true", "false"):
        return str(value).lower()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number.is_integer() else str(number)
