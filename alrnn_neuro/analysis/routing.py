"""Rule-set routing: which stimulus feature each rule's region passes on to the choice.

In a region d the map is linear, so the response of a readout ``r`` (M,) to an input k held
for T steps is exact: ``g_k = r^T sum_{t<T} J_d^t C_k``. For a feature coded by a pair of
channels (``plus``, ``minus``; e.g. right vs left noise) the *feature response* is
``g_plus - g_minus``. For two features a and b the *selectivity*
``SI = (|g_a| - |g_b|) / (|g_a| + |g_b|)`` is +1 when the region passes only a, -1 only b.

A *rule-set routing pair* exists when the rule levels put the given epoch (default
``stimulus``) in different dominant regions and each level's region is selective for that
level's relevant feature (its |response| exceeds the other feature's). ``r`` is a logistic
choice axis fitted to the latents at each trial's last bin of that epoch
(:func:`choice_axis`).

The rule is *held in a slow mode* (:func:`hold_mode`) when the region most used in the hold
epoch has an eigenvalue of modulus near 1 and the rule can be read out of that mode: the
latents at the last hold bin projected on its left eigenvector separate the rule levels
(ROC AUC).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.metrics import roc_auc_score

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.params import ALRNNParams

logger = logging.getLogger(__name__)

__all__ = ["choice_axis", "feature_responses", "hold_mode", "last_bin", "rule_routing"]


def last_bin(valid: np.ndarray, epoch: np.ndarray, label: str) -> np.ndarray:
    """Index (trial,) of each trial's last valid bin labelled ``label`` (-1 if none)."""
    hit = np.asarray(valid, bool) & (np.asarray(epoch) == label)
    t = hit.shape[1] - 1 - np.argmax(hit[:, ::-1], axis=1)
    return np.where(hit.any(1), t, -1)


def choice_axis(
    latents: np.ndarray,
    valid: np.ndarray,
    epoch: np.ndarray,
    choice: np.ndarray,
    *,
    positive: str = "right",
    negative: str = "left",
    at_epoch: str = "stimulus",
) -> tuple[np.ndarray, float]:
    """Logistic choice readout from the latents at the last ``at_epoch`` bin of each trial.

    Parameters
    ----------
    latents : ndarray, shape (trial, time, latent)
    valid, epoch : ndarray, shape (trial, time)
    choice : ndarray, shape (trial,)
        Choice labels; trials with other labels than ``positive``/``negative`` are skipped.
    positive, negative : str
    at_epoch : str

    Returns
    -------
    r : ndarray, shape (latent,)
        Weights of the readout (positive = towards ``positive``).
    accuracy : float
        5-fold cross-validated accuracy.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    t = last_bin(valid, epoch, at_epoch)
    choice = np.asarray(choice).astype(str)
    ok = (t >= 0) & np.isin(choice, [positive, negative])
    if ok.sum() < 10 or len(np.unique(choice[ok])) < 2:
        raise DataValidationError(
            f"choice axis needs >= 10 trials of both choices {positive!r}/{negative!r} with an "
            f"epoch {at_epoch!r}; got {int(ok.sum())}. Fix: check the choice labels and epochs."
        )
    X = np.nan_to_num(np.asarray(latents)[np.flatnonzero(ok), t[ok]])
    y = choice[ok] == positive
    clf = LogisticRegression(C=1.0, max_iter=2000)
    acc = float(cross_val_score(clf, X, y, cv=5).mean())
    return clf.fit(X, y).coef_[0], acc


def feature_responses(
    params: ALRNNParams,
    code: int,
    readout: np.ndarray,
    features: Mapping[str, tuple[int, int]],
    *,
    horizon: int = 10,
) -> dict[str, float]:
    """Readout response ``r^T sum_{t<T} J_d^t (C_plus - C_minus)`` per feature in region d.

    Parameters
    ----------
    params : ALRNNParams
        The model.
    code : int
        The region.
    readout : ndarray, shape (latent,)
    features : mapping
        Feature name -> (input index plus, input index minus).
    horizon : int
        T, steps the input is held.

    Returns
    -------
    dict
        Feature name -> response.
    """
    J = params.region_jacobians(np.array([code]))[0]
    total, power = np.zeros_like(J), np.eye(params.latent_dim)
    for _ in range(horizon):  # sum_{t<T} J^t
        total, power = total + power, J @ power
    reach = np.asarray(readout, np.float64) @ total
    C = params.C
    return {f: float(reach @ (C[:, i] - C[:, j])) for f, (i, j) in features.items()}


def rule_routing(
    params: ALRNNParams,
    latents: xr.Dataset,
    input_names: Sequence[str] | None = None,
    *,
    rule: str = "rule",
    relevant: Mapping[str, str] | None = None,
    features: Mapping[str, tuple[str, str]] | None = None,
    choice: str = "choice",
    at_epoch: str = "stimulus",
    horizon: int = 10,
) -> tuple[pd.DataFrame, dict]:
    """Per rule level: dominant ``at_epoch`` region, feature responses, selectivity.

    Parameters
    ----------
    params : ALRNNParams
        The model (``ALRNNParams.from_model(fit)``).
    latents : xr.Dataset
        ``latents`` (trial, time, latent), ``bitcode``, ``valid``, ``epoch`` (trial, time) and
        trial coords ``rule`` and ``choice`` (a run's ``latents.nc``).
    input_names : sequence of str, optional
        The model's input channels, in the order of C's columns (default:
        ``params.input_names``).
    relevant : mapping, optional
        Rule level -> its relevant feature (default: stimulus-selection ``local`` -> location,
        ``pitch`` -> pitch).
    features : mapping, optional
        Feature -> (plus channel, minus channel) (default: location = right_noise - left_noise,
        pitch = low_pitch - high_pitch; low pitch means "go right" in the simulator).
    choice, at_epoch, horizon : see :func:`choice_axis` and :func:`feature_responses`.

    Returns
    -------
    table : DataFrame
        One row per rule level: ``rule``, ``region``, ``share`` (of the level's ``at_epoch``
        bins), ``relevant``, one column per feature response, ``selectivity`` (SI of the
        relevant feature vs the other), ``routes_relevant`` (SI > 0).
    summary : dict
        ``pair_found`` (levels in distinct regions, all routing their relevant feature),
        ``regions`` (level -> region), ``choice_accuracy``, ``horizon``.
    """
    input_names = list(params.input_names if input_names is None else input_names)
    relevant = dict(relevant or {"local": "location", "pitch": "pitch"})
    feats = dict(
        features
        or {"location": ("right_noise", "left_noise"), "pitch": ("low_pitch", "high_pitch")}
    )
    if len(feats) != 2:
        raise ConfigError(f"features={list(feats)}: give exactly two features to contrast.")
    missing = [c for pair in feats.values() for c in pair if c not in input_names]
    if missing:
        raise ConfigError(
            f"feature channels {missing} are not model inputs {input_names}. Fix: pass features="
        )
    idx = {f: (input_names.index(a), input_names.index(b)) for f, (a, b) in feats.items()}
    valid, epoch = latents["valid"].values, latents["epoch"].values
    codes = latents["bitcode"].values
    r, acc = choice_axis(latents["latents"].values, valid, epoch, latents[choice].values)
    rules = np.asarray(latents[rule].values).astype(str)
    rows = []
    for level, feature in relevant.items():
        m = valid & (epoch == at_epoch) & (rules == level)[:, None]
        if not m.any():
            raise DataValidationError(
                f"rule level {level!r} has no {at_epoch!r} bins; fix: check relevant= and rule="
            )
        regs, counts = np.unique(codes[m], return_counts=True)
        code = int(regs[np.argmax(counts)])
        g = feature_responses(params, code, r, idx, horizon=horizon)
        other = next(f for f in feats if f != feature)
        si = (abs(g[feature]) - abs(g[other])) / max(abs(g[feature]) + abs(g[other]), 1e-12)
        rows.append(
            {
                "rule": level,
                "region": code,
                "share": float(counts.max() / counts.sum()),
                "relevant": feature,
                **g,
                "selectivity": float(si),
                "routes_relevant": si > 0,
            }
        )
    table = pd.DataFrame(rows)
    found = bool(table["region"].nunique() == len(table) and table["routes_relevant"].all())
    summary = {
        "pair_found": found,
        "regions": dict(zip(table["rule"], table["region"].astype(int), strict=True)),
        "choice_accuracy": acc,
        "horizon": horizon,
    }
    return table, summary


def hold_mode(
    params: ALRNNParams,
    latents: xr.Dataset,
    *,
    rule: str = "rule",
    hold_epoch: str = "hold",
) -> dict:
    """The slowest mode of the hold epoch's dominant region and how well it holds the rule.

    Parameters
    ----------
    params : ALRNNParams
        The model.
    latents : xr.Dataset
        ``latents`` (trial, time, latent), ``bitcode``, ``valid``, ``epoch`` and trial coord
        ``rule``.
    rule, hold_epoch : str

    Returns
    -------
    dict
        ``region`` (most used in ``hold_epoch``), ``share`` (its share of those bins),
        ``eigenvalue_modulus`` (largest |lambda| of its map), ``rule_auc`` (ROC AUC, >= 0.5,
        of the rule from the latents at the last hold bin projected on that mode's left
        eigenvector).
    """
    valid, epoch = latents["valid"].values, latents["epoch"].values
    m = valid & (epoch == hold_epoch)
    if not m.any():
        raise DataValidationError(f"no valid {hold_epoch!r} bins; fix: check hold_epoch=")
    regs, counts = np.unique(latents["bitcode"].values[m], return_counts=True)
    code = int(regs[np.argmax(counts)])
    J = params.region_jacobians(np.array([code]))[0]
    lam, V = np.linalg.eig(J)
    i = int(np.argmax(np.abs(lam)))
    w = np.real(np.linalg.inv(V)[i])
    t = last_bin(valid, epoch, hold_epoch)
    ok = t >= 0
    proj = np.nan_to_num(latents["latents"].values[np.flatnonzero(ok), t[ok]]) @ w
    levels = np.asarray(latents[rule].values).astype(str)[ok]
    first = levels[0]
    auc = roc_auc_score(levels == first, proj) if len(set(levels.tolist())) == 2 else np.nan
    return {
        "region": code,
        "share": float(counts.max() / counts.sum()),
        "eigenvalue_modulus": float(abs(lam[i])),
        "rule_auc": float(max(auc, 1 - auc)),
    }
