"""Which units each trial recorded: the ``observed`` (trial, unit) mask from lab tables.

Three forms are accepted (``bin_spike_times(observed=...)``, the events HDF5 layout, the CSV
route):

* a **per-trial unit list**: one entry per trial, each a unit id, a list of unit ids, or a
  string of unit ids separated by ``;`` or ``,`` (trial-table column ``observed_units``);
* a **(trial, unit) table**: a DataFrame (or mapping) with columns ``trial`` and ``unit``, one
  row per recorded pair (CSV file ``observed.csv``);
* a **(trial, unit) bool array** in the order of the trials and units (HDF5 dataset
  ``observed``).

Examples
--------
>>> observed_mask(["a", "b;a", ""], np.arange(3), ["a", "b"]).tolist()
[[True, False], [True, True], [False, False]]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from alrnn_neuro.errors import DataValidationError, EventTableError

UNIT_LIST_COLUMN = "observed_units"
"""Trial-table column holding the per-trial unit list."""
_SEPARATORS = re.compile(r"[;,]")


def observed_mask(observed: object, trial_ids: np.ndarray, unit_ids: Sequence[str]) -> np.ndarray:
    """Build the (trial, unit) observed mask from any accepted form.

    Parameters
    ----------
    observed : sequence (trial,), DataFrame/mapping with ``trial`` and ``unit``, or ndarray
        See the module docstring.
    trial_ids : ndarray (trial,)
        Trial ids in dataset order (a table's ``trial`` column refers to these).
    unit_ids : sequence of str (unit,)
        Unit ids in dataset order.

    Returns
    -------
    ndarray of bool, shape (trial, unit)

    Raises
    ------
    DataValidationError
        Wrong shape, unknown unit ids, or table rows naming unknown trials.
    """
    units = [str(u) for u in unit_ids]
    trial_ids = np.asarray(trial_ids)
    if isinstance(observed, pd.DataFrame | Mapping):
        return _from_table(observed, trial_ids, units)
    array = np.asarray(observed)
    if array.ndim == 2 and array.dtype.kind in "biuf":
        if array.shape != (trial_ids.size, len(units)):
            raise DataValidationError(
                f"observed has shape {array.shape}; fix: a bool array (trial, unit) of shape "
                f"({trial_ids.size}, {len(units)}), or one unit list per trial"
            )
        return array.astype(bool)
    if len(observed) != trial_ids.size:  # type: ignore[arg-type]
        raise DataValidationError(
            f"observed lists units for {len(observed)} trials, the trial table has "  # type: ignore[arg-type]
            f"{trial_ids.size}; fix: one entry (unit ids) per trial"
        )
    return _from_lists(observed, trial_ids, units)  # type: ignore[arg-type]


def _from_lists(per_trial: Sequence, trial_ids: np.ndarray, units: list[str]) -> np.ndarray:
    lookup = {u: j for j, u in enumerate(units)}
    mask = np.zeros((trial_ids.size, len(units)), bool)
    unknown: dict[str, object] = {}
    for i, entry in enumerate(per_trial):
        for unit in _unit_list(entry):
            if unit in lookup:
                mask[i, lookup[unit]] = True
            else:
                unknown.setdefault(unit, trial_ids[i])
    if unknown:
        first = next(iter(unknown))
        raise DataValidationError(
            f"observed units {sorted(unknown)[:10]} are not units of the recording (e.g. "
            f"{first!r} in trial {unknown[first]}); units: {units[:10]}"
            f"{' ...' if len(units) > 10 else ''}; fix: list unit ids as in the spike table "
            "(separate several with ';')"
        )
    return mask


def _unit_list(entry: object) -> list[str]:
    if entry is None or (isinstance(entry, float) and np.isnan(entry)):
        return []
    if isinstance(entry, bytes):
        entry = entry.decode("utf-8")
    if isinstance(entry, str):
        return [part.strip() for part in _SEPARATORS.split(entry) if part.strip()]
    if isinstance(entry, list | tuple | np.ndarray):
        return [str(u) for u in entry]
    if isinstance(entry, float | np.floating) and float(entry).is_integer():
        return [str(int(entry))]
    return [str(entry)]


def _from_table(table: object, trial_ids: np.ndarray, units: list[str]) -> np.ndarray:
    frame = pd.DataFrame(table)
    if {"trial", "unit"} - set(frame.columns):
        raise DataValidationError(
            f"observed table has columns {list(frame.columns)}; fix: columns 'trial' (trial id) "
            "and 'unit' (unit id), one row per recorded (trial, unit) pair"
        )
    rows = pd.Index(trial_ids).get_indexer(frame["trial"].to_numpy())
    if (rows < 0).any():
        bad = frame["trial"].to_numpy()[rows < 0]
        raise EventTableError(
            f"observed table names trials {sorted(set(bad.tolist()))[:10]} that are not in the "
            f"trial table (ids {trial_ids[:5].tolist()} ...); fix: use the trial ids of the "
            "trial table (its 'trial' column, else the row number from 0)"
        )
    per_trial: list[list[str]] = [[] for _ in range(trial_ids.size)]
    for row, unit in zip(rows, frame["unit"].to_numpy(), strict=True):
        per_trial[row].append(str(unit))
    return _from_lists(per_trial, trial_ids, units)
