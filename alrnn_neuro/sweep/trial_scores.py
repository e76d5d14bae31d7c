"""Per-trial held-out scores of a sweep cell: ``cells/<name>/trial_scores.nc``.

For every held-out trial of a cell (the sweep's common test trials, or the cell's fold) it holds
the numbers whose sums are the cell's test ``ll_model``, ``ll_psth`` and ``n_spikes`` in
``sweep_cell.json``:

* ``ll_model``: Poisson log-likelihood (nats) of the trial's counts under the model's free-running
  prediction, over valid bins of observed units, without the ``init_bins`` bins that inferred
  the initial state when ``init_state="data"``
  (:func:`~alrnn_neuro.training.evaluate.scored_mask`);
* ``ll_psth``: the same under the PSTH baseline of
  :func:`~alrnn_neuro.training.metrics.psth_rates`, estimated on all trials of the cell that are
  not held out (the baseline of the cell's ``bits_per_spike``);
* ``n_spikes`` and ``n_entries``: scored spike count and number of scored (bin, unit) entries.

These per-trial values let :mod:`alrnn_neuro.sweep.selection` compare P values with the trial,
not the bin, as the unit of inference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import read_netcdf, write_netcdf
from alrnn_neuro.data.schema import observation_variable
from alrnn_neuro.training.batching import TrialTensors
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.evaluate import scored_mask
from alrnn_neuro.training.metrics import condition_codes, poisson_log_likelihood, psth_rates

TRIAL_SCORES_FILE = "trial_scores.nc"
VARIABLES = ("ll_model", "ll_psth", "n_spikes", "n_entries")


def held_out_trial_scores(
    config: FitConfig,
    ds: xr.Dataset,
    tensors: TrialTensors,
    prediction: np.ndarray,
    test: np.ndarray,
    train: np.ndarray,
) -> xr.Dataset:
    """Per-trial Poisson log-likelihoods of the held-out trials, model and PSTH.

    Parameters
    ----------
    config : FitConfig
        The fit's resolved config (``conditions``, ``init_state``, ``init_bins``).
    ds : xr.Dataset
        The whole dataset (spike counts).
    tensors : TrialTensors
        ``ds`` as the model reads it (for the initial-state bins).
    prediction : ndarray, shape (trial, time, unit)
        Expected counts per bin on the dataset's time axis, every trial.
    test, train : ndarray of int
        Positions along ``trial`` of the held-out trials and of the trials the PSTH is
        estimated on.

    Returns
    -------
    xr.Dataset
        dim ``trial`` (the held-out trial ids): ``ll_model``, ``ll_psth`` (nats), ``n_spikes``,
        ``n_entries``.
    """
    data = ds[observation_variable(ds)].values.astype(float)
    mask = scored_mask(config, ds, tensors)
    is_train = np.zeros(ds.sizes["trial"], bool)
    is_train[np.asarray(train)] = True
    baseline = psth_rates(data, mask, condition_codes(ds, list(config.conditions)), is_train)
    test = np.asarray(test, dtype=np.int64)
    values = {name: np.zeros(test.size) for name in VARIABLES}
    for row, i in enumerate(test):
        values["ll_model"][row] = poisson_log_likelihood(data[i], prediction[i], mask[i])
        values["ll_psth"][row] = poisson_log_likelihood(data[i], baseline[i], mask[i])
        values["n_spikes"][row] = data[i][mask[i]].sum()
        values["n_entries"][row] = mask[i].sum()
    out = xr.Dataset(
        {name: ("trial", value) for name, value in values.items()},
        coords={"trial": ds["trial"].values[test]},
    )
    out["ll_model"].attrs["units"] = out["ll_psth"].attrs["units"] = "nats"
    return out


def write_trial_scores(scores: xr.Dataset, run: Path, attrs: dict) -> Path:
    """Write ``scores`` (with provenance ``attrs``) to ``run/trial_scores.nc`` atomically."""
    return write_netcdf(scores.assign_attrs(attrs), Path(run) / TRIAL_SCORES_FILE)


def read_trial_scores(run: Path) -> xr.Dataset | None:
    """``run/trial_scores.nc``, or None where the cell has none (task data, older sweeps)."""
    path = Path(run) / TRIAL_SCORES_FILE
    return read_netcdf(path) if path.is_file() else None
