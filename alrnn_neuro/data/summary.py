"""A plain-data summary of a canonical dataset (what ``alrnn-neuro info`` shows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.data.schema import observation_variable

MAX_CONDITION_LEVELS = 12
MIN_ACTIVE_TRIALS = 5
"""A unit takes part in the pseudo-population check when active in at least this many trials."""
MIN_SPIKES_WHEN_ACTIVE = 3.0
"""... and it fires at least this many spikes on average in a trial where it is active."""


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
        ``observed_fraction``, ``disjoint_units`` (see :func:`disjoint_units`) and
        ``extra_variables``.

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
        "disjoint_units": disjoint_units(ds),
        "extra_variables": sorted(str(n) for n in ds.data_vars if n not in known),
    }


def disjoint_units(ds: xr.Dataset) -> list[str]:
    """Units that look recorded in different trials although every unit is marked observed.

    A unit is *active* in a trial when it has any spike (any non-zero value) in a valid bin.
    Units active in at least :data:`MIN_ACTIVE_TRIALS` trials and firing on average at least
    :data:`MIN_SPIKES_WHEN_ACTIVE` spikes per active trial would hardly be silent for a whole
    trial by chance; two such units that are never active in the same trial were most likely
    recorded in different trials (a pseudo-population). Only checked when ``observed`` is
    all True (or absent) and the data are spikes or signal.

    Parameters
    ----------
    ds : xr.Dataset
        Canonical dataset.

    Returns
    -------
    list of str
        Ids of the units that are disjoint from at least one other such unit (empty when the
        dataset does not look like an undeclared pseudo-population).

    Examples
    --------
    >>> import numpy as np
    >>> from alrnn_neuro.data.schema import make_dataset
    >>> spikes = np.zeros((20, 4, 2), dtype=np.int32)
    >>> spikes[:10, :, 0] = 2; spikes[10:, :, 1] = 2  # unit 0 in trials 0-9, unit 1 in 10-19
    >>> disjoint_units(make_dataset(spikes, bin_size=0.1, align_event="go"))
    ['u0', 'u1']
    """
    name = observation_variable(ds)
    if name not in ("spikes", "signal") or ds.sizes.get("unit", 0) < 2:
        return []
    if "observed" in ds and not ds["observed"].values.all():
        return []
    data = np.where(ds["valid"].values[:, :, None], ds[name].values, 0)
    totals = np.abs(data).sum(axis=1)  # (trial, unit)
    active = totals > 0
    n_active = active.sum(axis=0)
    mean_when_active = totals.sum(axis=0) / np.maximum(n_active, 1)
    enough = n_active >= MIN_ACTIVE_TRIALS
    if name == "spikes":
        enough &= mean_when_active >= MIN_SPIKES_WHEN_ACTIVE
    candidates = np.flatnonzero(enough)
    if candidates.size < 2:
        return []
    shared = active[:, candidates].T.astype(np.int64) @ active[:, candidates].astype(np.int64)
    disjoint = (shared == 0).any(axis=1)
    return [str(u) for u in ds["unit"].values[candidates[disjoint]]]


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
