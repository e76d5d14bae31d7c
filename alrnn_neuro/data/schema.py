"""The canonical data model: its layout, a constructor, and ``validate_dataset``.

One :class:`xarray.Dataset` per session (or pseudo-population) with

================  =======================  ============================================
variable          dims                     meaning
================  =======================  ============================================
``spikes``        (trial, time, unit)      spike counts per bin (non-negative integers)
``signal``        (trial, time, unit)      continuous data (rates, calcium, BOLD, ...)
``targets``       (trial, time, output)    task targets (task datasets, instead of data)
``loss_mask``     (trial, time)            bool; steps whose targets enter the loss
``inputs``        (trial, time, input)     exogenous task drive (float)
``valid``         (trial, time)            bool; False on padded steps of ragged trials
``observed``      (trial, unit)            bool; False where a unit was not recorded
``epoch``         (trial, time)            str label of the task period of each bin
``lfp_*``         (trial, time, channel…)  optional LFP features
``true_*``        any                      optional simulator ground truth
================  =======================  ============================================

Exactly one of ``spikes`` / ``signal`` / ``targets`` is present. Task datasets (``targets``)
carry ``attrs["task_loss"]`` (``"mse"`` or ``"cross_entropy"``, then ``targets`` is one-hot
over ``output``) and a ``loss_mask`` (a subset of ``valid``). Coordinates: ``trial`` (int trial id),
``time`` (float, seconds of each bin's centre relative to the alignment event named in
``attrs["align_event"]``), ``unit`` (str unit id), ``input`` (str channel name). Trial
metadata are further coords on ``trial`` (``rule``, ``choice``, ``correct``, ...; event
times as ``event_<name>`` in seconds relative to the alignment event), unit metadata coords
on ``unit`` (``area``, ...). ``attrs`` hold provenance only: ``align_event``, ``bin_size``
(s), ``source``, ``alrnn_neuro_version``, ``schema_version``.

Padded steps hold 0 in ``spikes``/``signal``/``inputs`` and ``""`` in ``epoch``; they never
enter a loss. Unobserved units hold 0 on all steps of that trial.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from alrnn_neuro import __version__

# the schema's names live in names.py and its checks in validation.py; re-exported here
from alrnn_neuro.data.names import CHANNEL as CHANNEL
from alrnn_neuro.data.names import DIMS, OUTPUT, SCHEMA_VERSION
from alrnn_neuro.data.names import INPUT as INPUT
from alrnn_neuro.data.names import LATENT as LATENT
from alrnn_neuro.data.names import MAX_ABS_VALUE as MAX_ABS_VALUE
from alrnn_neuro.data.names import MAX_SPIKES_PER_BIN as MAX_SPIKES_PER_BIN
from alrnn_neuro.data.names import OBSERVATION_VARIABLES as OBSERVATION_VARIABLES
from alrnn_neuro.data.names import REQUIRED_ATTRS as REQUIRED_ATTRS
from alrnn_neuro.data.names import TASK_LOSSES as TASK_LOSSES
from alrnn_neuro.data.names import TIME as TIME
from alrnn_neuro.data.names import TRIAL as TRIAL
from alrnn_neuro.data.names import UNIT as UNIT
from alrnn_neuro.data.names import observation_variable as observation_variable
from alrnn_neuro.data.validation import validate_dataset as validate_dataset
from alrnn_neuro.errors import DataValidationError


def make_dataset(
    data: np.ndarray,
    *,
    kind: str = "spikes",
    inputs: np.ndarray | None = None,
    input_names: list[str] | None = None,
    valid: np.ndarray | None = None,
    observed: np.ndarray | None = None,
    epoch: np.ndarray | None = None,
    time: np.ndarray | None = None,
    bin_size: float,
    align_event: str,
    trial_coords: Mapping[str, np.ndarray] | None = None,
    unit_coords: Mapping[str, np.ndarray] | None = None,
    unit_ids: list[str] | None = None,
    trial_ids: np.ndarray | None = None,
    source: str = "",
    extra_vars: Mapping[str, tuple[tuple[str, ...], np.ndarray]] | None = None,
    output_names: list[str] | None = None,
    loss_mask: np.ndarray | None = None,
    task_loss: str = "mse",
    validate: bool = True,
) -> xr.Dataset:
    """Build a canonical dataset from plain arrays.

    Parameters
    ----------
    data : ndarray, shape (trial, time, unit)
        Spike counts (``kind="spikes"``) or continuous values (``kind="signal"``).
    kind : {"spikes", "signal"}
        Name of the observation variable.
    inputs : ndarray, shape (trial, time, input), optional
        Task inputs; an empty ``input`` dim is made when omitted.
    input_names : list of str, optional
        Names of the input channels (default ``input0``, ``input1``, ...).
    valid : ndarray of bool, shape (trial, time), optional
        Valid-step mask (default: all steps valid).
    observed : ndarray of bool, shape (trial, unit), optional
        Observed-unit mask (default: all observed).
    epoch : ndarray of str, shape (trial, time), optional
        Epoch labels (default ``"trial"`` on valid steps).
    time : ndarray, shape (time,), optional
        Bin centres in seconds relative to ``align_event`` (default ``(arange + 0.5) * bin_size``).
    bin_size : float
        Bin width in seconds.
    align_event : str
        Name of the event that defines time zero.
    trial_coords, unit_coords : mapping of name to 1-D array, optional
        Trial / unit metadata.
    unit_ids : list of str, optional
        Unit identifiers (default ``u0``, ``u1``, ...).
    trial_ids : ndarray of int, optional
        Trial identifiers (default ``0 .. n_trial-1``).
    source : str
        Provenance string stored in ``attrs["source"]``.
    extra_vars : mapping of name to (dims, array), optional
        Further variables (``lfp_*``, ``true_*``).
    output_names, loss_mask, task_loss : optional
        Only for ``kind="targets"`` (task datasets): ``data`` is (trial, time, output);
        ``loss_mask`` (trial, time) bool (default ``valid``); ``task_loss`` ``"mse"`` or
        ``"cross_entropy"`` (targets one-hot over ``output``).
    validate : bool
        Run :func:`validate_dataset` on the result.

    Returns
    -------
    xr.Dataset
        Canonical dataset.

    Examples
    --------
    >>> import numpy as np
    >>> ds = make_dataset(np.zeros((2, 3, 4), dtype=np.int32), bin_size=0.05, align_event="stim_on")
    >>> dict(ds.sizes)
    {'trial': 2, 'time': 3, 'unit': 4, 'input': 0}
    """
    data = np.asarray(data)
    if data.ndim != 3:
        raise DataValidationError(
            f"{kind} must have 3 dims (trial, time, unit); got shape {data.shape}. "
            "Fix: reshape to (n_trials, n_bins, n_units)."
        )
    n_trial, n_time, n_unit = data.shape
    if inputs is None:
        inputs = np.zeros((n_trial, n_time, 0), dtype=np.float32)
    inputs = np.asarray(inputs)
    n_input = inputs.shape[-1]
    valid = np.ones((n_trial, n_time), bool) if valid is None else np.asarray(valid, bool)
    if observed is None:
        observed = np.ones((n_trial, n_unit), bool)
    if epoch is None:
        epoch = np.where(valid, "trial", "")
    if time is None:
        time = (np.arange(n_time) + 0.5) * bin_size
    coords: dict[str, object] = {
        TRIAL: np.arange(n_trial) if trial_ids is None else np.asarray(trial_ids),
        TIME: np.asarray(time, dtype=np.float64),
        UNIT: np.array(unit_ids if unit_ids is not None else [f"u{i}" for i in range(n_unit)], str),
        INPUT: np.array(
            input_names if input_names is not None else [f"input{i}" for i in range(n_input)],
            dtype=str,
        ),
    }
    for name, values in (trial_coords or {}).items():
        coords[name] = (TRIAL, _as_plain_array(values))
    for name, values in (unit_coords or {}).items():
        coords[name] = (UNIT, _as_plain_array(values))
    if kind == "targets":
        del coords[UNIT]
        coords[OUTPUT] = np.array(
            output_names if output_names is not None else [f"out{i}" for i in range(n_unit)],
            dtype=str,
        )
        for name in unit_coords or {}:
            raise DataValidationError(
                f"unit_coords['{name}'] given for a task dataset (kind='targets'), which has "
                "no unit dim; fix: drop unit_coords"
            )
    data_vars = {
        kind: (DIMS[kind], data),
        "inputs": ((TRIAL, TIME, INPUT), inputs),
        "valid": ((TRIAL, TIME), valid),
        "epoch": ((TRIAL, TIME), np.asarray(epoch).astype(str)),
    }
    if kind == "targets":
        data_vars["loss_mask"] = ((TRIAL, TIME), valid if loss_mask is None else loss_mask)
    else:
        data_vars["observed"] = ((TRIAL, UNIT), np.asarray(observed, bool))
    for name, (dims, values) in (extra_vars or {}).items():
        data_vars[name] = (dims, np.asarray(values))
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update(
        align_event=align_event,
        bin_size=float(bin_size),
        source=source,
        alrnn_neuro_version=__version__,
        schema_version=SCHEMA_VERSION,
    )
    if kind == "targets":
        ds.attrs["task_loss"] = task_loss
    if validate:
        validate_dataset(ds)
    return ds


def _as_plain_array(values: object) -> np.ndarray:
    """Turn a list/Series of values into a numpy array; strings become fixed-width unicode."""
    array = np.asarray(values)
    if array.dtype == object:
        array = array.astype(str)
    return array
