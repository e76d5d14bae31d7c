"""Per-trial held-out scores of a sweep cell: ``cells/<name>/trial_scores.nc``.

For every held-out trial of a cell (the sweep's common test trials, or the cell's fold) it holds
the numbers whose sums are the cell's test ``ll_model``, ``ll_psth`` and ``n_spikes`` in
``sweep_cell.json``:

* ``ll_model``: Poisson log-likelihood (nats) of the trial's counts under the model's free-running
  prediction, over valid bins of observed units, without the ``init_bins`` bins that inferred
  the initial state when ``init_state="data"``
  (:class:`~alrnn_neuro.training.evaluate.RecordingRows`, the metrics' own scoring);
* ``ll_psth`` / ``ll_unit_psth``: the same under the condition and unit PSTH baselines of
  :class:`~alrnn_neuro.training.metrics.PSTHBaseline`, estimated on all trials of the cell
  that are not held out (the baselines of the cell's ``bits_per_spike`` values);
* ``n_spikes`` and ``n_entries``: scored spike count and number of scored (bin, unit) entries.

These per-trial values let :mod:`alrnn_neuro.sweep.selection` compare P values with the trial,
not the bin, as the unit of inference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from alrnn_neuro.data.h5 import read_netcdf, write_netcdf
from alrnn_neuro.training.batching import TrialTensors
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.evaluate import RecordingRows
from alrnn_neuro.training.metrics import CHUNK, poisson_log_likelihood

TRIAL_SCORES_FILE = "trial_scores.nc"
VARIABLES = ("ll_model", "ll_psth", "ll_unit_psth", "n_spikes", "n_entries")


def held_out_trial_scores(
    config: FitConfig,
    ds: xr.Dataset,
    tensors: TrialTensors,
    prediction: np.ndarray,
    test: np.ndarray,
    train: np.ndarray,
) -> xr.Dataset:
    """Per-trial Poisson log-likelihoods of the held-out trials: model and both PSTHs.

    Parameters
    ----------
    config : FitConfig
        The fit's resolved config (``conditions``, ``init_state``, ``init_bins``).
    ds : xr.Dataset
        The whole dataset (spike counts).
    tensors : TrialTensors
        ``ds`` as the model reads it (left-justified trials).
    prediction : ndarray, shape (trial, time, unit)
        Expected counts per bin of every trial, left-justified as in ``tensors``.
    test, train : ndarray of int
        Positions along ``trial`` of the held-out trials and of the trials the PSTHs are
        estimated on.

    Returns
    -------
    xr.Dataset
        dim ``trial`` (the held-out trial ids): ``ll_model``, ``ll_psth``, ``ll_unit_psth``
        (nats), ``n_spikes``, ``n_entries``.
    """
    rows = RecordingRows(ds, tensors, prediction, config)
    baseline = rows.baseline(np.asarray(train, dtype=np.int64))
    test = np.asarray(test, dtype=np.int64)
    values = {name: np.zeros(test.size) for name in VARIABLES}
    for start in range(0, test.size, CHUNK):
        chunk = test[start : start + CHUNK]
        y = rows.data(chunk).astype(np.float64)
        lam, mask = rows.predicted(chunk), rows.mask(chunk)
        psth = baseline.condition_rates(rows.keys[chunk])
        for j in range(chunk.size):
            m = mask[j]
            k = start + j
            values["ll_model"][k] = poisson_log_likelihood(y[j], lam[j], m)
            values["ll_psth"][k] = poisson_log_likelihood(y[j], psth[j], m)
            unit = np.broadcast_to(baseline.unit_rates, m.shape)
            values["ll_unit_psth"][k] = poisson_log_likelihood(y[j], unit, m)
            values["n_spikes"][k] = y[j][m].sum()
            values["n_entries"][k] = m.sum()
    out = xr.Dataset(
        {name: ("trial", value) for name, value in values.items()},
        coords={"trial": ds["trial"].values[test]},
    )
    for name in ("ll_model", "ll_psth", "ll_unit_psth"):
        out[name].attrs["units"] = "nats"
    return out


def write_trial_scores(scores: xr.Dataset, run: Path, attrs: dict) -> Path:
    """Write ``scores`` (with provenance ``attrs``) to ``run/trial_scores.nc`` atomically."""
    return write_netcdf(scores.assign_attrs(attrs), Path(run) / TRIAL_SCORES_FILE)


def read_trial_scores(run: Path) -> xr.Dataset | None:
    """``run/trial_scores.nc``, or None where the cell has none (task data, older sweeps)."""
    path = Path(run) / TRIAL_SCORES_FILE
    return read_netcdf(path) if path.is_file() else None
