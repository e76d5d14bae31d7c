"""Names of the canonical data model: dims, variables, limits (see ``data/schema.py``)."""

from __future__ import annotations

import xarray as xr

from alrnn_neuro.errors import DataValidationError

SCHEMA_VERSION = "1.0"
TRIAL, TIME, UNIT, INPUT, LATENT, CHANNEL = "trial", "time", "unit", "input", "latent", "channel"
OUTPUT = "output"
OBSERVATION_VARIABLES = ("spikes", "signal", "targets")
TASK_LOSSES = ("mse", "cross_entropy")
REQUIRED_ATTRS = ("align_event", "bin_size")
#: most spikes one unit may have in one bin (more means rates or timestamps, not counts)
MAX_SPIKES_PER_BIN = 100_000
#: largest magnitude of a continuous signal or an input (float32 training must not overflow)
MAX_ABS_VALUE = 1e12
DIMS = {
    "spikes": (TRIAL, TIME, UNIT),
    "signal": (TRIAL, TIME, UNIT),
    "targets": (TRIAL, TIME, OUTPUT),
    "loss_mask": (TRIAL, TIME),
    "inputs": (TRIAL, TIME, INPUT),
    "valid": (TRIAL, TIME),
    "observed": (TRIAL, UNIT),
    "epoch": (TRIAL, TIME),
}


def observation_variable(ds: xr.Dataset) -> str:
    """Return the name of the observed-data variable (``"spikes"``, ``"signal"``, ``"targets"``).

    Raises
    ------
    DataValidationError
        If neither or both are present.
    """
    present = [name for name in OBSERVATION_VARIABLES if name in ds.data_vars]
    if len(present) != 1:
        raise DataValidationError(
            f"dataset must hold exactly one of 'spikes' (counts), 'signal' (continuous) or "
            f"'targets' (task datasets); found {present or 'none'} among variables "
            f"{sorted(map(str, ds.data_vars))}. Fix: name spike counts 'spikes' or continuous "
            "data 'signal'."
        )
    return present[0]
