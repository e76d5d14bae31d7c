"""Trial-wise primitives: rule-based integration and memory-dependent transients.

Both ask whether a trial variable (the rule, a stored item) can be decoded from the regions a
trial visits, with a leave-one-out nearest-centroid decoder and a seeded label-shuffle null,
p = (1 + #{null >= observed}) / (1 + n_null). Notation in
:mod:`~alrnn_neuro.analysis.primitives.common`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.analysis.checks import bin_size_of, check_bitcode, check_epoch, trial_variable
from alrnn_neuro.analysis.primitives.common import (
    active_epochs,
    input_indices,
    is_aligned,
    modal_value,
    trial_steps,
)
from alrnn_neuro.analysis.primitives.integration import integrating_modes, mode_kind
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.params import ALRNNParams

logger = logging.getLogger(__name__)

__all__ = [
    "decode_with_null",
    "detect_memory_transients",
    "detect_rule_integration",
    "loo_centroid_accuracy",
]


def loo_centroid_accuracy(X: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out nearest-centroid decoding accuracy.

    Parameters
    ----------
    X : ndarray, shape (trial, feature)
    y : ndarray of int, shape (trial,)

    Returns
    -------
    float
        Fraction of trials whose nearest class centroid (computed without the trial itself;
        squared Euclidean distance, ties to the lowest class) is their own class.
    """
    classes, yi = np.unique(y, return_inverse=True)
    onehot = np.eye(len(classes))[yi]
    sums, n_c = onehot.T @ X, onehot.sum(0)
    own_n = n_c[yi] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n_c[:, None]
        own = (sums[yi] - X) / own_n[:, None]
    d = ((X[:, None, :] - means[None]) ** 2).sum(-1)
    d[np.arange(len(X)), yi] = np.where(own_n > 0, ((X - own) ** 2).sum(-1), np.inf)
    return float(np.mean(np.argmin(d, axis=1) == yi))


def decode_with_null(X: np.ndarray, labels: np.ndarray, n_null: int, seed: int) -> dict[str, float]:
    """Leave-one-out accuracy of decoding ``labels`` (trial,) from ``X`` (trial, feature).

    Returns
    -------
    dict
        ``accuracy``, ``chance`` (majority class), ``null_mean`` and ``p_value`` over
        ``n_null`` seeded label shuffles, ``p = (1 + #{null >= accuracy}) / (1 + n_null)``.
    """
    y = np.unique(labels, return_inverse=True)[1]
    acc = loo_centroid_accuracy(X, y)
    rng = np.random.default_rng(seed)
    null = np.array([loo_centroid_accuracy(X, rng.permutation(y)) for _ in range(n_null)])
    return {
        "accuracy": acc,
        "chance": float(np.bincount(y).max() / len(y)),
        "null_mean": float(null.mean()) if n_null else np.nan,
        "p_value": float((1 + np.sum(null >= acc - 1e-12)) / (1 + n_null)),
    }


def detect_rule_integration(
    params: ALRNNParams,
    bitcode: xr.DataArray,
    inputs: xr.DataArray,
    rule: str,
    *,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
    evidence_inputs: Sequence[str] | None = None,
    readout: np.ndarray | None = None,
    eps: float = 0.05,
    max_growth: float = 0.01,
    cos_threshold: float = 0.5,
    alignment: str = "either",
    n_null: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Rule-based integration: the rule sets the region, hence the integrator or its sign.

    Operational definition. In the epochs where the evidence channels are active, each trial's
    region occupancy (fraction of steps per region) decodes the rule above chance
    (leave-one-out nearest centroid, ``p_value`` from ``n_null`` seeded label shuffles), the
    dominant region of each rule level integrates the evidence (as in
    :func:`detect_integration`), and the levels differ in dominant region or in the sign of
    the readout's response to positive evidence, ``readout[0] @ v * (w^T C_k)`` (needs
    ``readout`` (n_out, M), e.g. the observation/task head restricted to the latents).

    Parameters
    ----------
    params : ALRNNParams
        The model.
    bitcode : DataArray of int, dims (trial, time), with trial coords
    inputs : DataArray, dims (trial, time, input)
    rule : str
        Trial coord holding the rule.

    Returns
    -------
    DataFrame
        One row per rule level: ``primitive``, ``detected``, ``epoch`` (evidence epochs joined by
        "+"), ``condition``, ``region`` (dominant), ``occupancy``, ``input``, ``eigenvalue``,
        ``cosine_right``, ``cosine_left``, ``gain``, ``readout_response``, ``integrates``,
        ``accuracy``, ``chance``, ``null_mean``, ``p_value``.
    """
    codes, ok, lab, S = trial_steps(bitcode, valid, epoch, inputs)
    ks = input_indices(inputs, evidence_inputs)
    epochs = list(dict.fromkeys(e for k in ks for e in active_epochs(S, ok, lab, k)))
    m = ok & np.isin(lab, epochs)
    if not m.any():
        raise DataValidationError(
            f"no valid steps where the evidence inputs {evidence_inputs} are active. Fix: check "
            "evidence_inputs= and the inputs' values."
        )
    name, values = trial_variable(bitcode, rule)
    vals, has = np.asarray(values).astype(str), m.any(1) & ~pd.isna(values)
    regs = np.unique(codes[m])
    occ = np.stack([((codes == r) & m).sum(1) for r in regs], 1) / np.maximum(m.sum(1), 1)[:, None]
    stats = decode_with_null(occ[has], vals[has], n_null, seed)
    rows = []
    for level in dict.fromkeys(vals[has].tolist()):
        sel = m & (vals == level)[:, None]
        dom = modal_value(codes[sel])
        md = integrating_modes(params, [dom]).iloc[ks]
        best = md.iloc[int(np.argmax(md["cosine_left"].to_numpy() + md["cosine_right"].to_numpy()))]
        resp = (
            float(np.asarray(readout, float)[0] @ np.asarray(best["v"]) * best["gain"])
            if readout is not None
            else np.nan
        )
        rows.append(
            {
                "primitive": "rule_integration",
                "epoch": "+".join(epochs),
                "condition": f"{name}={level}",
                "region": dom,
                "occupancy": float((codes[sel] == dom).mean()),
                "input": str(inputs["input"].values[int(best["k"])]),
                "eigenvalue": best["eigenvalue"],
                "cosine_right": best["cosine_right"],
                "cosine_left": best["cosine_left"],
                "gain": best["gain"],
                "readout_response": resp,
                "integrates": bool(
                    mode_kind(best["eigenvalue"], eps, max_growth) == "slow"
                    and is_aligned(best, cos_threshold, alignment)
                ),
            }
            | stats
        )
    df = pd.DataFrame(rows)
    differ = df["region"].nunique() > 1 or np.sign(df["readout_response"]).nunique() > 1
    df.insert(1, "detected", (stats["p_value"] < alpha) & df["integrates"] & bool(differ))
    return df


def detect_memory_transients(
    bitcode: xr.DataArray,
    stored: str,
    *,
    valid: xr.DataArray | None = None,
    cue_event: str | None = None,
    cue_epoch: str | None = None,
    epoch: xr.DataArray | None = None,
    n_steps: int = 10,
    n_null: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Memory-dependent transients: after a cue, the region sequence depends on a stored value.

    Operational definition. The window is the ``n_steps`` steps from the bin containing the cue
    (trial coord ``event_<cue_event>``) or from the first step of epoch ``cue_epoch``. Each
    trial's window is one-hot coded (region per step; invalid steps as their own category).
    Detected when the stored variable decodes from it above chance (leave-one-out nearest
    centroid, seeded shuffle null, ``p_value < alpha``) and the sequence is a transient: for
    at least one stored value the typical sequence (modal region at each window step) changes
    region (``modal_switches >= 1``; single-trial noise does not count).

    Returns
    -------
    DataFrame
        One row: ``primitive``, ``detected``, ``epoch`` (cue), ``condition`` (stored variable),
        ``n_trials``, ``mean_switches`` (per trial), ``modal_switches``, ``modal_sequences``
        (JSON: stored value -> typical region sequence), ``n_sequences`` (distinct),
        ``accuracy``, ``chance``,
        ``null_mean``, ``p_value``.
    """
    codes, ok = check_bitcode(bitcode, valid)
    n_trials, T = codes.shape
    if (cue_event is None) == (cue_epoch is None):
        raise ConfigError(
            "give exactly one of cue_event= (event name) or cue_epoch= (epoch label)."
        )
    if cue_event is not None:
        ev = np.asarray(trial_variable(bitcode, f"event_{cue_event}")[1], float)
        after = bitcode["time"].values[None, :] + bin_size_of(bitcode) / 2 > ev[:, None]
        cue = cue_event
    else:
        if epoch is None:
            raise ConfigError("cue_epoch= needs epoch= (the (trial, time) epoch labels).")
        after = check_epoch(epoch, codes.shape) == cue_epoch
        cue = cue_epoch
    start = np.argmax(after & ok, axis=1)
    has = (after & ok).any(1)
    idx = start[:, None] + np.arange(n_steps)[None, :]
    inside = idx < T
    idx = np.minimum(idx, T - 1)
    win = np.where(
        inside & ok[np.arange(n_trials)[:, None], idx], codes[np.arange(n_trials)[:, None], idx], -1
    )
    name, values = trial_variable(bitcode, stored)
    keep = has & ~pd.isna(values)
    win = win[keep]
    cats = np.unique(win)
    X = (win[:, :, None] == cats[None, None, :]).reshape(len(win), -1).astype(float)
    switches = ((win[:, 1:] != win[:, :-1]) & (win[:, 1:] >= 0) & (win[:, :-1] >= 0)).sum(1)
    labels = np.asarray(values).astype(str)[keep]
    typical = {
        lv: [modal_value(col) for col in win[labels == lv].T]
        for lv in dict.fromkeys(labels.tolist())
    }
    modal_switches = max(
        sum(a != b for a, b in zip(q[:-1], q[1:], strict=True)) for q in typical.values()
    )
    stats = decode_with_null(X, labels, n_null, seed)
    row = {
        "primitive": "memory_transient",
        "detected": bool(stats["p_value"] < alpha and modal_switches > 0),
        "epoch": cue,
        "condition": name,
        "n_trials": int(keep.sum()),
        "mean_switches": float(switches.mean()),
        "modal_switches": int(modal_switches),
        "modal_sequences": json.dumps({k: [int(c) for c in q] for k, q in typical.items()}),
        "n_sequences": len({tuple(r) for r in win.tolist()}),
    } | stats
    return pd.DataFrame([row])
