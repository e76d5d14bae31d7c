"""Evaluation metrics of a fit, per split of trials.

All functions take arrays on the dataset's own time axis (trial, time, unit) with the
``valid`` (trial, time) and ``observed`` (trial, unit) masks; masked entries never count.

Poisson log-likelihood per spike, relative to a PSTH baseline (bits/spike)::

    LL(λ) = Σ_{valid, observed} [ y log λ − λ − log y! ]
    bits/spike = (LL(λ_model) − LL(λ_psth)) / (n_spikes · ln 2)

where λ_psth is the condition-averaged rate: for each condition (a combination of trial
coords), time bin and unit, the mean count over the *training* trials of that condition,
shrunk toward the unit's mean count with one pseudo-trial
(λ = (Σ y + λ_unit) / (n + 1)); unseen conditions use all training trials. Positive values
mean the model predicts held-out spikes better than the PSTH. On the *training* split the
PSTH is fitted to the very trials it scores (one free rate per condition, bin and unit), so
values there are biased low; read the ``val`` / ``test`` figures. The conditions are the
config's ``conditions`` (auto: task-condition coords such as rule, location, pitch).

``r2_condition``: R² of the model's condition-averaged predictions against the
condition-averaged data of the same split, around each unit's mean. Averages over few noisy
trials cap it well below 1: on the bundled demo the simulator's *true* rates score only 0.08
(test split, 73 trials) and 0.21 (train, 350 trials).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy.special import gammaln


def condition_codes(ds: xr.Dataset, names: Sequence[str]) -> np.ndarray:
    """Integer code (trial,) of each trial's combination of the ``names`` coords (0 if none)."""
    if not names:
        return np.zeros(ds.sizes["trial"], dtype=np.int64)
    keys = np.stack([ds[name].values.astype(str) for name in names], axis=1)
    _, codes = np.unique(keys, axis=0, return_inverse=True)
    return codes.ravel().astype(np.int64)


def psth_rates(
    counts: np.ndarray,
    mask: np.ndarray,
    codes: np.ndarray,
    train: np.ndarray,
) -> np.ndarray:
    """Condition-averaged rates estimated on the training trials, for every trial.

    Parameters
    ----------
    counts : ndarray, shape (trial, time, unit)
        Spike counts.
    mask : ndarray of bool, shape (trial, time, unit)
        Valid and observed entries.
    codes : ndarray of int, shape (trial,)
        Condition of each trial.
    train : ndarray of bool, shape (trial,)
        Trials used to estimate the PSTH.

    Returns
    -------
    ndarray, shape (trial, time, unit)
        PSTH rate of each trial's condition (expected count per bin, > 0).
    """
    weight = (mask & train[:, None, None]).astype(float)
    weighted = counts * weight
    pooled_sum, pooled_n = weighted.sum(axis=0), weight.sum(axis=0)
    unit_mean = (pooled_sum.sum(axis=0) + 1.0) / (pooled_n.sum(axis=0) + 1.0)  # (unit,), > 0
    out = np.empty(counts.shape, dtype=float)
    for code in np.unique(codes):
        members = codes == code
        n = weight[members].sum(axis=0)
        s = weighted[members].sum(axis=0)
        if not n.any():  # condition unseen in training: fall back to all training trials
            n, s = pooled_n, pooled_sum
        out[members] = ((s + unit_mean) / (n + 1.0))[None]
    return out


def poisson_log_likelihood(counts: np.ndarray, rates: np.ndarray, mask: np.ndarray) -> float:
    """Σ over ``mask`` of y log λ − λ − log y! (natural log)."""
    y, lam = counts[mask], np.maximum(rates[mask], 1e-12)
    return float(np.sum(y * np.log(lam) - lam - gammaln(y + 1.0)))


def bits_per_spike(
    counts: np.ndarray, rates: np.ndarray, baseline: np.ndarray, mask: np.ndarray
) -> float:
    """(LL(rates) − LL(baseline)) / (n_spikes · ln 2); NaN when there are no spikes.

    Examples
    --------
    >>> y = np.array([[[2.0]]]); m = np.ones_like(y, bool)
    >>> round(bits_per_spike(y, np.array([[[2.0]]]), np.array([[[1.0]]]), m), 4)
    0.2787
    """
    n_spikes = float(counts[mask].sum())
    if n_spikes == 0:
        return float("nan")
    gain = poisson_log_likelihood(counts, rates, mask) - poisson_log_likelihood(
        counts, baseline, mask
    )
    return gain / (n_spikes * math.log(2.0))


def condition_average(values: np.ndarray, mask: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Mean over the trials of each condition → (condition, time, unit); NaN where none."""
    levels = np.unique(codes)
    out = np.full((levels.size, *values.shape[1:]), np.nan)
    for k, code in enumerate(levels):
        members = codes == code
        n = mask[members].sum(axis=0)
        total = np.where(mask[members], values[members], 0.0).sum(axis=0)
        out[k] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return out


def condition_r2(
    predicted: np.ndarray, observed: np.ndarray, mask: np.ndarray, codes: np.ndarray
) -> float:
    """R² of condition-averaged predictions against condition-averaged data.

    Both are averaged over the given trials per (condition, time, unit); the total sum of
    squares is taken around each unit's mean, so R² measures how much of every unit's
    variation across time and conditions the model explains.
    """
    pred = condition_average(predicted, mask, codes)
    data = condition_average(observed, mask, codes)
    ok = np.isfinite(data)
    if not ok.any():
        return float("nan")
    # per-unit mean over its finite entries; a unit without any (never observed in these
    # trials) has no entries in the sums below, so its placeholder mean of 0 is never used
    count = ok.sum(axis=(0, 1), keepdims=True)
    unit_mean = np.where(ok, data, 0.0).sum(axis=(0, 1), keepdims=True) / np.maximum(count, 1)
    ss_res = np.sum((pred - data)[ok] ** 2)
    ss_tot = np.sum((data - unit_mean)[ok] ** 2)
    return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else float("nan")


def split_metrics(
    *,
    obs: str,
    data: np.ndarray,
    prediction: np.ndarray,
    mask: np.ndarray,
    codes: np.ndarray,
    members: np.ndarray,
    train: np.ndarray,
    loss: float,
    choice_correct: np.ndarray | None = None,
) -> dict[str, float]:
    """All metrics of one split.

    Parameters
    ----------
    obs : str
        Observation model (``poisson``, ``gaussian``, ``identity``).
    data, prediction : ndarray, shape (trial, time, unit)
        Observations and model predictions (expected counts per bin for Poisson), all trials.
    mask : ndarray of bool, shape (trial, time, unit)
        Valid and observed entries.
    codes : ndarray of int, shape (trial,)
        Condition codes.
    members, train : ndarray of bool, shape (trial,)
        Trials of this split; training trials (for the PSTH baseline).
    loss : float
        Loss of the split (as optimised, without regularisation).
    choice_correct : ndarray of bool, optional
        Per labelled trial of this split, whether the choice head was right.

    Returns
    -------
    dict
        ``loss``, ``r2_condition``, and for Poisson ``bits_per_spike`` (vs PSTH),
        ``ll_model``/``ll_psth`` (nats), ``n_spikes``; for Gaussian/identity ``mse``;
        ``choice_accuracy`` when a choice head is used.
    """
    m = mask & members[:, None, None]
    out = {"loss": float(loss), "n_trials": int(members.sum())}
    out["r2_condition"] = condition_r2(
        prediction[members], data[members], m[members], codes[members]
    )
    if obs == "poisson":
        baseline = psth_rates(data, mask, codes, train)
        out["bits_per_spike"] = bits_per_spike(data, prediction, baseline, m)
        out["ll_model"] = poisson_log_likelihood(data, prediction, m)
        out["ll_psth"] = poisson_log_likelihood(data, baseline, m)
        out["n_spikes"] = float(data[m].sum())
    else:
        out["mse"] = float(np.mean((prediction[m] - data[m]) ** 2)) if m.any() else float("nan")
    if choice_correct is not None:
        out["choice_accuracy"] = (
            float(np.mean(choice_correct)) if choice_correct.size else float("nan")
        )
    return out
