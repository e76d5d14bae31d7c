"""Metrics of a fit to a task dataset, per split of trials.

A task fit is scored by its loss (as optimised) and the task's natural accuracy,
:func:`alrnn_neuro.simulate.tasks.metrics.task_accuracy` (classification accuracy per scored
step for cross-entropy tasks, the angular criterion for the multi-task suite, regression
accuracy within 0.04 for other MSE tasks); MSE tasks also report the ``mse`` on
``loss_mask`` steps. Only ``loss_mask`` steps count.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.simulate.tasks.metrics import mse, task_accuracy


def task_split_metrics(
    prediction: np.ndarray, ds: xr.Dataset, members: np.ndarray, loss: float
) -> dict[str, float]:
    """Metrics of the trials at positions ``members`` of a task dataset.

    Parameters
    ----------
    prediction : ndarray, shape (trial, time, output)
        Model outputs on the dataset's time axis for all trials (probabilities for
        cross-entropy tasks); values on unscored steps are ignored.
    ds : xr.Dataset
        The task dataset (``targets``, ``loss_mask``, ``epoch``, ``attrs["task_loss"]``).
    members : ndarray of int
        Positions along ``trial`` of the split's trials.
    loss : float
        Loss of the split (as optimised, without regularisation).

    Returns
    -------
    dict
        ``loss``, ``n_trials``, ``accuracy`` (NaN without scored steps), for MSE tasks
        ``mse``, and for datasets of several tasks (trial coord ``task``, e.g. the multi-task
        suite) ``accuracy_<task>`` per task.

    Examples
    --------
    >>> from alrnn_neuro.simulate.tasks import make_task
    >>> ds = make_task("copy", n_trials=4, seed=0, seq_len=2, delay=2, n_symbols=3)
    >>> task_split_metrics(ds["targets"].values, ds, np.arange(4), 0.0)["accuracy"]
    1.0
    """
    members = np.asarray(members, dtype=np.int64)
    out = {"loss": float(loss), "n_trials": int(members.size)}
    sub = ds.isel(trial=members)
    pred = np.asarray(prediction)[members]
    mask = sub["loss_mask"].values
    out["accuracy"] = _accuracy(pred, sub)
    if ds.attrs.get("task_loss") == "mse":
        out["mse"] = mse(pred, sub["targets"].values, mask) if mask.any() else float("nan")
    if "task" in ds.coords and np.unique(ds["task"].values).size > 1:
        tasks = sub["task"].values.astype(str)
        for name in np.unique(ds["task"].values.astype(str)):
            rows = np.flatnonzero(tasks == name)
            out[f"accuracy_{name}"] = _accuracy(pred[rows], sub.isel(trial=rows))
    return out


def _accuracy(prediction: np.ndarray, ds: xr.Dataset) -> float:
    """``task_accuracy``, NaN when no step is scored."""
    return float(task_accuracy(prediction, ds)) if ds["loss_mask"].values.any() else float("nan")
