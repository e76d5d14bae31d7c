"""Input checks and conversions shared by the analysis modules.

Validation helpers raise :mod:`alrnn_neuro.errors` exceptions whose messages name the field,
the bad value and the fix; they turn labelled xarray inputs into plain numpy arrays.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.errors import DataValidationError

__all__ = [
    "bin_size_of",
    "check_bitcode",
    "check_epoch",
    "epoch_mean_inputs",
    "trial_variable",
]


def _trial_time(x: xr.DataArray | np.ndarray, name: str) -> np.ndarray:
    """Values of a (trial, time) array in that dim order."""
    if isinstance(x, xr.DataArray):
        if set(x.dims) != {"trial", "time"}:
            raise DataValidationError(
                f"{name} must have dims ('trial', 'time'); got {x.dims}. Fix: pass the run's "
                f"(trial, time) {name}."
            )
        return np.asarray(x.transpose("trial", "time").values)
    return np.asarray(x)


def check_bitcode(
    bitcode: xr.DataArray, valid: xr.DataArray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(codes, valid)`` numpy arrays of shape (trial, time).

    ``codes`` is int64 with -1 on invalid steps; without ``valid``, negative or NaN codes mark
    padding (``latents.nc`` stores -1 there).
    """
    if not isinstance(bitcode, xr.DataArray) or set(bitcode.dims) != {"trial", "time"}:
        got = (
            f"a DataArray with dims {bitcode.dims}"
            if isinstance(bitcode, xr.DataArray)
            else f"a {type(bitcode).__name__}"
        )
        raise DataValidationError(
            f"bitcode must be a DataArray with dims ('trial', 'time'); got {got}. Fix: pass "
            "latents.nc's 'bitcode' or bitcode_from_latents(latents, n_pwl)."
        )
    raw = np.asarray(bitcode.transpose("trial", "time").values)
    if valid is None:
        ok = np.isfinite(raw) & (raw >= 0) if raw.dtype.kind == "f" else raw >= 0
    else:
        ok = _trial_time(valid, "valid").astype(bool)
        if ok.shape != raw.shape:
            raise DataValidationError(
                f"valid has shape {ok.shape} but bitcode has {raw.shape}. Fix: pass the "
                "(trial, time) valid mask of the same run."
            )
    vals = raw[ok]
    if vals.size and (
        (raw.dtype.kind == "f" and not np.all(np.isfinite(vals) & (vals == np.round(vals))))
        or np.any(vals < 0)
    ):
        raise DataValidationError(
            "bitcode holds negative, non-integer or NaN codes on valid steps. Fix: pass the "
            "valid mask or recompute the bitcode with bitcode_from_latents."
        )
    codes = np.where(ok, np.nan_to_num(raw, nan=-1), -1).astype(np.int64)
    return codes, ok


def bin_size_of(da: xr.DataArray) -> float:
    """Bin size in seconds from ``attrs['bin_size']`` or the spacing of the ``time`` coord."""
    if "bin_size" in da.attrs:
        return float(da.attrs["bin_size"])
    if "time" in da.coords and da.sizes["time"] > 1:
        return float(np.median(np.diff(da["time"].values)))
    return 1.0


def check_epoch(epoch: xr.DataArray, shape: tuple[int, int]) -> np.ndarray:
    """Epoch labels (trial, time) as str, checked against the bitcode's ``shape``."""
    lab = _trial_time(epoch, "epoch").astype(str)
    if lab.shape != shape:
        raise DataValidationError(
            f"epoch has shape {lab.shape}, bitcode {shape}. Fix: pass the "
            "(trial, time) epoch labels of the same trials."
        )
    return lab


def trial_variable(bitcode: xr.DataArray, variable: str | xr.DataArray) -> tuple[str, np.ndarray]:
    """Name and (trial,) values of a trial variable given by coord name or DataArray."""
    if isinstance(variable, str):
        if variable not in bitcode.coords or bitcode[variable].dims != ("trial",):
            have = [k for k, v in bitcode.coords.items() if v.dims == ("trial",) and k != "trial"]
            raise DataValidationError(
                f"trial variable {variable!r} is not a trial coord of bitcode; available: "
                f"{have}. Fix: assign it with bitcode.assign_coords({variable}=('trial', values))."
            )
        return variable, np.asarray(bitcode[variable].values)
    return str(variable.name or "condition"), np.asarray(variable.values)


def epoch_mean_inputs(
    inputs: xr.DataArray, epoch: xr.DataArray, valid: xr.DataArray | None = None
) -> xr.DataArray:
    """Mean input of each epoch over its valid steps.

    Parameters
    ----------
    inputs : DataArray, dims (trial, time, input)
    epoch : DataArray of str, dims (trial, time)
    valid : DataArray of bool, dims (trial, time), optional

    Returns
    -------
    DataArray, dims (epoch, input)
        Epochs in order of first appearance; the empty label ``""`` is skipped.
    """
    S = inputs.transpose("trial", "time", "input").values
    labels = _trial_time(epoch, "epoch").astype(str)
    ok = np.ones(labels.shape, bool) if valid is None else _trial_time(valid, "valid").astype(bool)
    names = [e for e in dict.fromkeys(labels[ok].tolist()) if e != ""]
    means = (
        np.stack([S[ok & (labels == e)].mean(0) for e in names])
        if names
        else np.zeros((0, S.shape[-1]))
    )
    return xr.DataArray(
        means, dims=("epoch", "input"), coords={"epoch": names, "input": inputs["input"].values}
    )
