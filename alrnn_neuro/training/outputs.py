"""What a finished fit hands back: latents on every trial, and per-split metrics.

The model runs free (no teacher forcing) on all trials, from its initial state, driven by the
trials' inputs; outputs are put back on the dataset's own time axis (NaN / -1 on padded steps).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from alrnn_neuro.data.schema import TASK_LOSSES, observation_variable
from alrnn_neuro.training.batching import TrialTensors, channel_dim
from alrnn_neuro.training.loop import evaluate_loss
from alrnn_neuro.training.metrics import condition_codes, split_metrics
from alrnn_neuro.training.network import FitModel
from alrnn_neuro.training.task_metrics import task_split_metrics

CHUNK = 256
DESCRIPTIONS = {
    "spikes": "expected count per bin",
    "signal": "predicted signal",
    "targets": "predicted task output",
}


def predict_all(model: FitModel, tensors: TrialTensors) -> dict[str, np.ndarray]:
    """Free-running predictions for every trial (left-justified), as float64 numpy arrays."""
    parts: dict[str, list[np.ndarray]] = {}
    model.eval()
    for start in range(0, tensors.n_trials, CHUNK):
        batch = tensors.take(np.arange(start, min(start + CHUNK, tensors.n_trials)), trim=False)
        for name, value in model.predict(batch).items():
            parts.setdefault(name, []).append(value.detach().cpu().double().numpy())
        if hasattr(model.dynamics, "bitcode"):
            z = torch.as_tensor(parts["latents"][-1], dtype=model.dynamics.A.dtype)
            code = model.dynamics.bitcode(z.to(model.dynamics.A.device)).cpu().numpy()
            parts.setdefault("bitcode", []).append(code)
    model.train()
    return {name: np.concatenate(values) for name, values in parts.items()}


def latents_dataset(
    ds: xr.Dataset,
    tensors: TrialTensors,
    predicted: dict[str, np.ndarray],
    split: dict[str, np.ndarray],
) -> xr.Dataset:
    """``latents`` (trial, time, latent), ``bitcode`` (trial, time; AL-RNN only), ``prediction``
    (trial, time, unit), ``valid`` and ``epoch`` on every trial, with the dataset's trial and
    unit coords and a ``split`` trial coord. For task datasets ``prediction`` has dim
    ``output`` (class probabilities for cross-entropy tasks)."""
    n_time = ds.sizes["time"]
    dim = channel_dim(ds)
    valid = ds["valid"].values.astype(bool)
    z = tensors.restore_time(predicted["latents"], n_time, np.nan)
    pred = tensors.restore_time(predicted["prediction"], n_time, np.nan)
    z[~valid], pred[~valid] = np.nan, np.nan
    data_vars = {
        "latents": (("trial", "time", "latent"), z.astype(np.float32)),
        "prediction": (("trial", "time", dim), pred.astype(np.float32)),
        "valid": (("trial", "time"), valid),
        "epoch": (("trial", "time"), ds["epoch"].values.astype(str)),
    }
    if "bitcode" in predicted:
        code = tensors.restore_time(predicted["bitcode"], n_time, -1)
        code[~valid] = -1
        data_vars["bitcode"] = (("trial", "time"), code.astype(np.int64))
    membership = np.full(ds.sizes["trial"], "", dtype="<U5")
    ids = ds["trial"].values
    for name, members in split.items():
        membership[np.isin(ids, members)] = name
    coords = {
        name: coord
        for name, coord in ds.coords.items()
        if name in ("trial", "time", dim) or coord.dims in (("trial",), (dim,))
    }
    out = xr.Dataset(data_vars, coords=coords)
    out = out.assign_coords(latent=np.arange(z.shape[-1]), split=("trial", membership))
    out.attrs.update(
        {k: ds.attrs[k] for k in ("align_event", "bin_size", "source") if k in ds.attrs}
    )
    out["prediction"].attrs["description"] = DESCRIPTIONS[observation_variable(ds)]
    if "task_loss" in ds.attrs:
        out.attrs["task_loss"] = ds.attrs["task_loss"]
        if ds.attrs["task_loss"] == "cross_entropy":
            out["prediction"].attrs["description"] = "class probabilities"
    return out


def compute_metrics(
    model: FitModel,
    ds: xr.Dataset,
    tensors: TrialTensors,
    predicted: dict[str, np.ndarray],
    positions: dict[str, np.ndarray],
) -> dict[str, dict[str, float]]:
    """Metrics of every split (see :func:`~alrnn_neuro.training.metrics.split_metrics`, and
    :func:`~alrnn_neuro.training.task_metrics.task_split_metrics` for task datasets).

    With ``init_state="data"`` the first ``init_bins`` bins of each trial, from which the
    initial state was inferred, are left out.
    """
    config = model.config
    if config.obs in TASK_LOSSES:
        prediction = tensors.restore_time(predicted["prediction"], ds.sizes["time"], 0.0)
        return {
            name: task_split_metrics(prediction, ds, idx, _split_loss(model, tensors, idx))
            for name, idx in positions.items()
        }
    data = ds[observation_variable(ds)].values.astype(float)
    valid = ds["valid"].values.astype(bool)
    observed = (
        ds["observed"].values.astype(bool)
        if "observed" in ds
        else np.ones((ds.sizes["trial"], ds.sizes["unit"]), bool)
    )
    if config.init_state == "data":  # bins that inferred z0 are not scored
        steps = np.arange(valid.shape[1])[None, :] - tensors.offset[:, None]
        valid = valid & (steps >= config.init_bins)
    mask = valid[:, :, None] & observed[:, None, :]
    prediction = tensors.restore_time(predicted["prediction"], ds.sizes["time"], 0.0)
    codes = condition_codes(ds, list(config.conditions))
    n = ds.sizes["trial"]
    train = np.zeros(n, bool)
    train[positions["train"]] = True
    correct = _choice_correct(tensors, predicted)
    out = {}
    for name, idx in positions.items():
        members = np.zeros(n, bool)
        members[idx] = True
        labelled = members & (tensors.labels.cpu().numpy() >= 0)
        out[name] = split_metrics(
            obs=config.obs,
            data=data,
            prediction=prediction,
            mask=mask,
            codes=codes,
            members=members,
            train=train,
            loss=_split_loss(model, tensors, idx),
            choice_correct=None if correct is None else correct[labelled[: correct.size]],
        )
    return out


def _split_loss(model: FitModel, tensors: TrialTensors, idx: np.ndarray) -> float:
    return evaluate_loss(model, tensors, idx) if len(idx) else float("nan")


def _choice_correct(tensors: TrialTensors, predicted: dict[str, np.ndarray]) -> np.ndarray | None:
    """Per trial: is the class with the highest mean probability over readout steps right?"""
    if "choice_prob" not in predicted:
        return None
    prob = predicted["choice_prob"]
    steps = tensors.readout.cpu().numpy()[:, : prob.shape[1], None]
    mean_prob = (prob * steps).sum(axis=1) / np.maximum(steps.sum(axis=1), 1)
    return mean_prob.argmax(axis=1) == tensors.labels.cpu().numpy()


def residual_std(
    tensors: TrialTensors, predicted: dict[str, np.ndarray], train: np.ndarray
) -> np.ndarray:
    """Per-unit standard deviation (unit,) of data − prediction on the training trials
    (on the ``loss_mask`` steps: all valid steps of recordings)."""
    data = tensors.data.cpu().double().numpy()[train]
    mask = (tensors.loss_mask[:, :, None] & tensors.observed[:, None, :]).cpu().numpy()[train]
    resid = np.where(mask, data - predicted["prediction"][train], 0.0)
    return np.sqrt((resid**2).sum(axis=(0, 1)) / np.maximum(mask.sum(axis=(0, 1)), 1))
