"""Helpers shared by the primitive detectors: steps, active epochs, condition levels, inputs.

Notation used by every detector: in region d, ``J_d`` has eigenvalues lambda with right
eigenvectors v (unit norm) and left eigenvectors w (``w^T J_d = lambda w^T``, scaled so
``w^T v = 1``); a pulse u added to z moves the mode coordinate ``w^T z`` by ``w^T u`` and, for
lambda = 1, the change persists (integration).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.checks import check_bitcode, check_epoch, trial_variable
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models.observation import IdentityReadout

ALIGNMENTS = ("right", "left", "either")


def trial_steps(
    bitcode: xr.DataArray,
    valid: xr.DataArray | None,
    epoch: xr.DataArray | None,
    inputs: xr.DataArray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Plain arrays of a run's steps.

    Returns
    -------
    codes : ndarray of int, shape (trial, time)
    ok : ndarray of bool, shape (trial, time)
        Valid steps.
    labels : ndarray of str, shape (trial, time)
        Epoch labels (``"all"`` on valid steps when ``epoch`` is None).
    S : ndarray, shape (trial, time, input), or None without inputs
    """
    codes, ok = check_bitcode(bitcode, valid)
    labels = check_epoch(epoch, codes.shape) if epoch is not None else np.where(ok, "all", "")
    S = None if inputs is None else inputs.transpose("trial", "time", "input").values
    return codes, ok, labels, S


def active_epochs(
    S: np.ndarray, ok: np.ndarray, labels: np.ndarray, k: int, frac: float = 0.1
) -> list[str]:
    """Epochs where input k is active: mean |s_k| >= ``frac`` x its largest epoch mean (> 0)."""
    names = [e for e in dict.fromkeys(labels[ok].tolist()) if e != ""]
    means = np.array([np.abs(S[ok & (labels == e), k]).mean() for e in names])
    top = means.max(initial=0.0)
    return [e for e, m in zip(names, means, strict=True) if top > 0 and m >= frac * top]


def condition_levels(
    bitcode: xr.DataArray, conditions: Sequence[str]
) -> list[tuple[str, np.ndarray]]:
    """``("all", every trial)`` plus ``("var=level", trial mask)`` per trial-variable level."""
    out = [("all", np.ones(bitcode.sizes["trial"], bool))]
    for var in conditions:
        name, values = trial_variable(bitcode, var)
        vals = np.asarray(values).astype(str)
        out += [(f"{name}={lv}", vals == lv) for lv in dict.fromkeys(vals.tolist())]
    return out


def input_indices(inputs: xr.DataArray, names: Sequence[str] | None) -> list[int]:
    """Positions of the named input channels (all channels when ``names`` is None)."""
    all_names = [str(x) for x in inputs["input"].values]
    names = all_names if names is None else list(names)
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise ConfigError(
            f"input channels {unknown} not in inputs {all_names}; fix: use those names"
        )
    return [all_names.index(n) for n in names]


def is_aligned(row: Mapping, cos_threshold: float, alignment: str) -> bool:
    """Whether a mode row's input alignment passes ``cos_threshold`` on the chosen side."""
    if alignment not in ALIGNMENTS:
        raise ConfigError(f"alignment={alignment!r}; choose one of {ALIGNMENTS}")
    right, left = row["cosine_right"] >= cos_threshold, row["cosine_left"] >= cos_threshold
    return {"right": right, "left": left, "either": right or left}[alignment]


def modal_value(x: np.ndarray) -> int:
    """Most frequent integer of ``x`` (ties to the smallest)."""
    vals, counts = np.unique(x, return_counts=True)
    return int(vals[np.argmax(counts)])


def modal_label(x: np.ndarray) -> str:
    """Most frequent label of ``x`` (ties to the first in sort order)."""
    vals, counts = np.unique(x, return_counts=True)
    return str(vals[np.argmax(counts)])


def observation_weights(model: Any) -> np.ndarray | None:
    """The (output, latent) weights of a fitted model's readout, or None.

    ``model`` is a fitted network (``FitResult.model``) whose ``readout`` maps latents to its
    predictions of the recordings (Poisson, Gaussian or task head). The identity readout (the
    first ``n_obs`` latents are the observations) gives ``[I | 0]`` of shape (n_obs, latent).
    None where the readout has no weight matrix of one model (a stacked ensemble).
    """
    readout = getattr(model, "readout", None)
    if isinstance(readout, IdentityReadout):
        return np.eye(readout.n_obs, model.config.latent_dim)
    weight = getattr(readout, "weight", None)
    if weight is None or weight.dim() != 2:
        return None
    return weight.detach().cpu().double().numpy()
