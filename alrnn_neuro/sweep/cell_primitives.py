"""A cheap per-cell count of the computational primitives an AL-RNN fit exposes.

``primitives_found`` of a sweep cell runs the two detectors that need no permutation nulls,
:func:`~alrnn_neuro.analysis.primitives.detect_integration` and
:func:`~alrnn_neuro.analysis.primitives.detect_gating`, on the fitted trials with every input
channel as candidate evidence / gate channel and default thresholds, over all trials together
(no per-condition rows). It counts distinct detections: integration by (region, input),
gating by (gate input, target input, region before, region after). Gating is counted with the
detector's two data conditions: the target arrives in both regions in enough trials, and the
gate changes the target's response in the model's readout (its observation or task head,
:func:`~alrnn_neuro.analysis.primitives.common.observation_weights`) by
:data:`~alrnn_neuro.analysis.primitives.gating.MIN_READOUT_RATIO` either way. This is a screening
number for comparing cells (e.g. across P), well under a second per cell on hundreds of
trials; run ``alrnn-neuro analyze`` on a chosen cell for the full, task-aware analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.analysis.primitives import detect_gating, detect_integration
from alrnn_neuro.analysis.primitives.common import observation_weights
from alrnn_neuro.models.params import ALRNNParams

INTEGRATION_KEY = ("region", "input")
GATING_KEY = ("input", "target", "region_before", "region_after")


def count_primitives(result: Any, ds: xr.Dataset) -> float:
    """Distinct integration and gating primitives detected in a fitted AL-RNN.

    Parameters
    ----------
    result : FitResult
        A finished AL-RNN fit (its ``latents`` hold ``bitcode`` on the fitted trials).
    ds : xr.Dataset
        A dataset holding those trials (their ``inputs``).

    Returns
    -------
    float
        The count; NaN for models without a bitcode (baselines; AL-RNNs with P > 62).
    """
    latents = result.latents
    if "bitcode" not in latents or result.config.model != "alrnn":
        return float("nan")
    return primitives_in(
        ALRNNParams.from_model(result),
        latents,
        ds,
        result.config.inputs,
        observation=observation_weights(result.model),
    )


def primitives_in(
    params: ALRNNParams,
    latents: xr.Dataset,
    ds: xr.Dataset,
    inputs: Sequence[str],
    *,
    observation: np.ndarray | None = None,
) -> float:
    """Distinct integration and gating primitives of ``params`` on the given trials' latents.

    Parameters
    ----------
    params : ALRNNParams
        The model.
    latents : xr.Dataset
        Its latents on some trials (``FitResult.encode``): ``bitcode``, ``valid``, ``epoch``
        (trial, time).
    ds : xr.Dataset
        A dataset holding those trials' ``inputs``.
    inputs : sequence of str
        The input channels the model was fitted with (candidate evidence and gate channels).
    observation : ndarray, shape (output, latent), optional
        The model's readout weights: gating then also needs the gate to change the target's
        readout response (``readout_gain_ratio``); without it that condition is not applied.

    Returns
    -------
    float
        The count (0 without inputs).
    """
    names = list(inputs)
    if not names:
        return 0.0
    stimulus = ds["inputs"].sel(trial=latents["trial"].values, input=names)
    args = (params, latents["bitcode"], stimulus)
    steps = {"valid": latents["valid"], "epoch": latents["epoch"]}
    found = _distinct(detect_integration(*args, **steps), INTEGRATION_KEY)
    found += _distinct(detect_gating(*args, **steps, readout=observation), GATING_KEY)
    return float(found)


def _distinct(table: pd.DataFrame, key: tuple[str, ...]) -> int:
    if not len(table) or "detected" not in table:
        return 0
    hits = table[table["detected"].astype(bool)]
    return int(len(hits[list(key)].drop_duplicates())) if len(hits) else 0


__all__ = ["count_primitives", "primitives_in"]
