"""A plain-data summary of a canonical dataset (what ``alrnn-neuro info`` shows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.data.schema import observation_variable

MAX_CONDITION_LEVELS = 12


def summarize_dataset(ds: xr.Dataset) -> dict[str, Any]:
    """Summarise trials, units, inputs, bins, epochs, conditions and ragged lengths.

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset.

    Returns
    -------
    dict
        Keys ``observation``, ``n_trials``, ``n_units``, ``n_bins``, ``bin_size``,
        ``align_event``, ``time_range``, ``inputs`` (names), ``trial_lengths`` (min, median,
        max valid bins), ``epochs`` (label -> valid bins), ``conditions`` (trial coord ->
        {level: count}, for coords with at most 12 levels), ``unit_coords`` (name -> levels),
        ``observed_fraction`` and ``extra_variables``.

    Examples
    --------
    >>> import numpy as np
    >>> from alrnn_neuro.data.schema import make_dataset
    >>> ds = make_dataset(np.zeros((4, 3, 2), dtype=np.int32), bin_size=0.05, align_event="go",
    ...                   trial_coords={"rule": ["a", "b", "a", "a"]})
    >>> summarize_dataset(ds)["conditions"]
    {'rule': {'a': 3, 'b': 1}}
    """
    valid = ds["valid"].values
    lengths = valid.sum(axis=1)
    epochs = ds["epoch"].values[valid]
    labels, counts = np.unique(epochs, return_counts=True)
    time = ds["time"].values
    known = {"spikes", "signal", "targets", "loss_mask", "inputs", "valid", "observed", "epoch"}
    return {
        "observation": observation_variable(ds),
        "n_trials": int(ds.sizes["trial"]),
        "n_units": int(ds.sizes.get("unit", 0)),
        "outputs": [str(v) for v in ds["output"].values] if "output" in ds.dims else [],
        "n_bins": int(ds.sizes["time"]),
        "bin_size": float(ds.attrs["bin_size"]),
        "align_event": str(ds.attrs["align_event"]),
        "time_range": (float(time.min()), float(time.max())) if time.size else (0.0, 0.0),
        "inputs": [str(v) for v in ds["input"].values],
        "trial_lengths": _quantiles(lengths),
        "epochs": {str(k): int(v) for k, v in zip(labels, counts, strict=True)},
        "conditions": _levels(ds, "trial"),
        "unit_coords": _levels(ds, "unit"),
        "observed_fraction": float(ds["observed"].values.mean()) if "observed" in ds else 1.0,
        "extra_variables": sorted(str(n) for n in ds.data_vars if n not in known),
    }


def _quantiles(lengths: np.ndarray) -> tuple[int, int, int]:
    if lengths.size == 0:
        return (0, 0, 0)
    return (int(lengths.min()), int(np.median(lengths)), int(lengths.max()))


def _levels(ds: xr.Dataset, dim: str) -> dict[str, dict[str, int]]:
    """Counts of each level of the low-cardinality coords on ``dim`` (ids excluded)."""
    out = {}
    for name, coord in ds.coords.items():
        if name == dim or coord.dims != (dim,) or str(name).startswith("event_"):
            continue
        values, counts = np.unique(coord.values.astype(str), return_counts=True)
        if values.size <= MAX_CONDITION_LEVELS:
            out[str(name)] = {str(v): int(c) for v, c in zip(values, counts, strict=True)}
    return out
