"""``simulate_model``: run a fitted model on new inputs, with predicted or sampled data."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from alrnn_neuro.data.schema import TASK_LOSSES
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.params import has_region_codes
from alrnn_neuro.training.network import FitModel
from alrnn_neuro.training.result import FitResult

__all__ = ["simulate_model"]


def simulate_model(
    model: FitModel | FitResult,
    inputs: np.ndarray | xr.DataArray,
    z0: np.ndarray | None = None,
    *,
    sample: bool = False,
    seed: int = 0,
) -> xr.Dataset:
    """Run a fitted model on new inputs: latents and predicted (or sampled) observations.

    Parameters
    ----------
    model : FitModel or FitResult
        A fitted model.
    inputs : ndarray or DataArray, shape (trial, time, input) or (time, input)
        Task inputs, in the channel order of ``config.inputs``.
    z0 : ndarray, shape (latent,) or (trial, latent), optional
        Initial state (required for ``init_state="data"``; default: the model's own).
    sample : bool
        Also draw observations (Poisson counts, Gaussian values with the fitted noise, or
        one-hot classes for cross-entropy task models).
    seed : int
        Seed of that draw.

    Returns
    -------
    xr.Dataset
        ``latents`` (trial, time, latent), ``prediction`` (trial, time, unit), ``bitcode``
        (trial, time; AL-RNN only) and, with ``sample``, ``sample`` (trial, time, unit);
        task models have dim ``output`` instead of ``unit``.

    Examples
    --------
    >>> from alrnn_neuro.training.config import FitConfig
    >>> net = FitModel(FitConfig(latent_dim=3, pwl_units=1, inputs=("a", "b"), obs="poisson"),
    ...                n_units=4)
    >>> sim = simulate_model(net, np.zeros((2, 10, 2)), z0=np.zeros(3), sample=True)
    >>> sim["latents"].shape, sim["sample"].dtype.kind
    ((2, 10, 3), 'i')
    """
    net = model.model if isinstance(model, FitResult) else model
    x = np.asarray(inputs.values if isinstance(inputs, xr.DataArray) else inputs, float)
    x = x[None] if x.ndim == 2 else x
    k = len(net.config.inputs)
    if x.ndim != 3 or x.shape[-1] != k:
        raise DataValidationError(
            f"inputs have shape {np.shape(inputs)}; expected (trial, time, {k}) with the "
            f"channels {list(net.config.inputs)}"
        )
    if z0 is None and net.config.init_state == "data":
        raise ConfigError("this model infers z0 from data (init_state='data'); fix: pass z0=")
    param = next(net.parameters())
    dims = ("trial", "time", "output" if net.config.obs in TASK_LOSSES else "unit")
    with torch.no_grad():
        start = None if z0 is None else torch.as_tensor(z0, dtype=param.dtype)
        z = net.dynamics(torch.as_tensor(x, dtype=param.dtype), z0=start)
        data_vars = {
            "latents": (("trial", "time", "latent"), z.numpy()),
            "prediction": (dims, net.readout.predict(z).numpy()),
        }
        if net.config.model == "alrnn" and has_region_codes(net.config.pwl_units):
            data_vars["bitcode"] = (("trial", "time"), net.params().bitcode(z.numpy()))
    out = xr.Dataset(data_vars)
    if sample:
        rng = np.random.default_rng(seed)
        mean = out["prediction"].values
        if net.config.obs == "poisson":
            drawn = rng.poisson(np.clip(mean, 0, None))
        elif net.config.obs == "cross_entropy":  # one class per step, one-hot
            cum = np.cumsum(mean, axis=-1)
            pick = (rng.random(mean.shape[:-1])[..., None] * cum[..., -1:] < cum).argmax(-1)
            drawn = np.eye(mean.shape[-1], dtype=np.int64)[pick]
        else:
            drawn = mean + net.residual_std.numpy() * rng.standard_normal(mean.shape)
        out["sample"] = (dims, drawn)
    return out
