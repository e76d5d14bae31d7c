"""Evaluation metrics of a fit to recordings, per split of trials.

All functions work on the dataset's own time axis (trial, time, unit) with the ``valid``
(trial, time) and ``observed`` (trial, unit) masks; masked entries never count.

Poisson log-likelihood per spike, relative to a baseline (bits/spike)::

    LL(λ) = Σ_{valid, observed} [ y log λ − λ − log y! ]
    bits/spike = (LL(λ_model) − LL(λ_baseline)) / (n_spikes · ln 2)

Two baselines, both estimated on the *training* trials only (:class:`PSTHBaseline`):

* the **unit PSTH** (condition-free): each unit's time course,
  ``λ_u(t) = (S(t) + μ_u) / (N(t) + 1)`` with ``S``, ``N`` the unit's spike count and number of
  observed trials in bin t and ``μ_u`` its mean count per bin (one pseudo-trial keeps it > 0);
* the **condition PSTH** (``bits_per_spike``): per condition (a combination of trial coords),
  bin and unit, ``λ_c(t) = (S_c(t) + k λ_u(t)) / (N_c(t) + k)``, shrunk toward the unit's *own
  time course* with ``k = 1`` pseudo-trial (not toward its flat mean, which with few trials per
  cell makes the baseline poor and the model's gain look large); unseen conditions get
  ``λ_u``.

Positive bits/spike mean the model predicts held-out spikes better than the baseline. On the
*training* split the PSTH is fitted to the very trials it scores, so values there are biased
low; read ``val`` / ``test``. The conditions are the config's ``conditions`` (auto:
task-condition coords such as rule, location, pitch).

``r2_condition``: R² of the model's condition-averaged predictions against the
condition-averaged data of the same split, around each unit's mean; for continuous signals in
standard units of each channel (its SD on the training trials, :func:`channel_scales`), so
that a channel in microvolts does not outweigh one in millivolts. Averages over few noisy
trials cap it well below 1: on the bundled demo the simulator's *true* rates score only 0.08
(test split, 73 trials) and 0.21 (train, 350 trials).

Scoring runs over chunks of trials, so memory stays at a few float64 copies of one chunk
however large the dataset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.special import gammaln

from alrnn_neuro._grouping import group_sums
from alrnn_neuro.models.gaussian_readout import usable_sd

#: trials per chunk when scoring (bounds the float64 working set)
CHUNK = 256
#: pseudo-trials shrinking each condition PSTH toward the unit's time course
SHRINKAGE = 1.0
#: rates below this count as this in the Poisson log-likelihood (finite log at rate 0)
RATE_FLOOR = 1e-12


def condition_keys(ds: xr.Dataset, names: Sequence[str]) -> np.ndarray:
    """Label (trial,) of each trial's combination of the ``names`` coords ("" if none).

    Examples
    --------
    >>> ds = xr.Dataset(coords={"rule": ("trial", ["a", "b"]), "side": ("trial", [1, 2])})
    >>> condition_keys(ds, ["rule", "side"]).tolist()
    ['rule=a|side=1', 'rule=b|side=2']
    """
    n = ds.sizes["trial"]
    if not names:
        return np.full(n, "", dtype=object)
    columns = [[f"{name}={v}" for v in ds[name].values.astype(str)] for name in names]
    return np.array(["|".join(parts) for parts in zip(*columns, strict=True)], dtype=object)


def condition_codes(ds: xr.Dataset, names: Sequence[str]) -> np.ndarray:
    """Integer code (trial,) of each trial's combination of the ``names`` coords (0 if none)."""
    return np.unique(condition_keys(ds, names), return_inverse=True)[1].ravel().astype(np.int64)


@dataclass(frozen=True)
class PSTHBaseline:
    """Condition and unit PSTHs estimated on training trials (see module docstring).

    Attributes
    ----------
    keys : ndarray of str, shape (condition,)
        Condition labels (:func:`condition_keys`).
    rates : ndarray, shape (condition, time, unit)
        Condition PSTH (expected count per bin, > 0).
    unit_rates : ndarray, shape (time, unit)
        Condition-free unit PSTH (> 0).
    """

    keys: np.ndarray
    rates: np.ndarray
    unit_rates: np.ndarray

    @classmethod
    def fit(
        cls,
        counts: Callable[[np.ndarray], np.ndarray] | np.ndarray,
        mask: Callable[[np.ndarray], np.ndarray] | np.ndarray,
        keys: np.ndarray,
        train: np.ndarray,
    ) -> PSTHBaseline:
        """Estimate both PSTHs from the trials at positions ``train``.

        Parameters
        ----------
        counts, mask : ndarray (trial, time, unit), or callables ``f(positions)`` returning
            those rows; ``mask`` marks valid, observed entries.
        keys : ndarray of str, shape (trial,)
            Condition label of every trial.
        train : ndarray of int
            Positions of the training trials.
        """
        train = np.asarray(train, dtype=np.int64)
        levels = np.unique(keys[train]) if train.size else np.array([], dtype=object)
        index = {k: i for i, k in enumerate(levels)}
        shape = rows_of(counts, train[:1]).shape[1:] if train.size else (0, 0)
        s_c = np.zeros((len(levels), *shape))
        n_c = np.zeros((len(levels), *shape))
        for rows in _chunks(train):
            y, m = rows_of(counts, rows).astype(np.float64), rows_of(mask, rows).astype(bool)
            w = m.astype(np.float64)
            codes = np.array([index[k] for k in keys[rows]], dtype=np.int64)
            s_c += group_sums(codes, y * w, len(levels))
            n_c += group_sums(codes, w, len(levels))
        s, n = s_c.sum(0), n_c.sum(0)
        unit_mean = (s.sum(0) + 1.0) / (n.sum(0) + 1.0)  # (unit,), > 0
        unit_rates = (s + unit_mean) / (n + 1.0)
        rates = (s_c + SHRINKAGE * unit_rates) / (n_c + SHRINKAGE)
        return cls(levels, rates, unit_rates)

    def condition_rates(self, keys: np.ndarray) -> np.ndarray:
        """Condition PSTH of trials with ``keys`` (trial,) -> (trial, time, unit)."""
        index = {k: i for i, k in enumerate(self.keys)}
        out = np.empty((len(keys), *self.unit_rates.shape))
        for i, key in enumerate(keys):
            j = index.get(key)
            out[i] = self.unit_rates if j is None else self.rates[j]
        return out


def psth_rates(
    counts: np.ndarray, mask: np.ndarray, codes: np.ndarray, train: np.ndarray
) -> np.ndarray:
    """Condition PSTH rates (trial, time, unit) of every trial from the ``train`` (bool) trials.

    A convenience over :class:`PSTHBaseline` for arrays held in memory.
    """
    keys = np.asarray(codes).astype(str).astype(object)
    baseline = PSTHBaseline.fit(counts, mask, keys, np.flatnonzero(train))
    return baseline.condition_rates(keys)


def poisson_log_likelihood(counts: np.ndarray, rates: np.ndarray, mask: np.ndarray) -> float:
    """Σ over ``mask`` of y log λ − λ − log y! (natural log)."""
    y = counts[mask]
    return poisson_rate_terms(y, rates[mask]) - log_factorial_sum(y)


def log_factorial_sum(y: np.ndarray) -> float:
    """Σ log y! of counts; integer counts go through a histogram (much faster than gammaln)."""
    if y.size == 0:
        return 0.0
    top = float(y.max())
    if top < 1e5 and float(y.min()) >= 0 and np.array_equal(y, np.floor(y)):
        hist = np.bincount(y.astype(np.int64).ravel(), minlength=int(top) + 1)
        return float(hist @ gammaln(np.arange(hist.size) + 1.0))
    return float(gammaln(y + 1.0).sum())


def poisson_rate_terms(y: np.ndarray, rates: np.ndarray) -> float:
    """Σ y log λ − λ (the part of the Poisson log-likelihood that depends on the rates)."""
    lam = np.maximum(rates, RATE_FLOOR)
    return float(np.sum(y * np.log(lam) - lam))


def summed_rate_terms(total: np.ndarray, n: np.ndarray, rates: np.ndarray) -> float:
    """Σ y log λ − λ over entries that share a rate: ``total`` = Σ y and ``n`` = number of
    entries per rate, all three of the same shape (what :func:`poisson_rate_terms` gives on
    the entries themselves, up to rounding)."""
    lam = np.maximum(rates, RATE_FLOOR)
    return float(np.sum(total * np.log(lam) - n * lam))


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
    return r2_around_unit_means(pred, condition_average(observed, mask, codes))


def r2_around_unit_means(pred: np.ndarray, data: np.ndarray) -> float:
    """R² of ``pred`` against ``data`` (condition, time, unit) over the finite entries of
    ``data``, the total sum of squares taken around each unit's mean."""
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


def channel_scales(
    data: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    mask: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    rows: np.ndarray,
) -> np.ndarray:
    """Each channel's SD over the scored entries of ``rows``, shape (unit,): the standard
    units in which ``r2_condition`` of continuous signals is taken.

    Two passes over chunks of trials (mean, then squares around it: no cancellation under a
    large DC offset). A channel without a usable SD (constant, or no entry) gets the median
    SD of the others (1 if none), as in
    :meth:`~alrnn_neuro.models.gaussian_readout.GaussianReadout.standardize`.
    """
    n = total = None
    for start in range(0, rows.size, CHUNK):
        part, m = rows[start : start + CHUNK], rows_of(mask, rows[start : start + CHUNK])
        x = np.where(m, rows_of(data, part), 0.0).astype(np.float64)
        n = accumulate(n, m.sum(axis=(0, 1)).astype(np.float64))
        total = accumulate(total, x.sum(axis=(0, 1)))
    if n is None:
        return np.ones(0)
    mean = total / np.maximum(n, 1)
    squares = np.zeros_like(mean)
    for start in range(0, rows.size, CHUNK):
        part, m = rows[start : start + CHUNK], rows_of(mask, rows[start : start + CHUNK])
        squares += np.where(m, (rows_of(data, part) - mean) ** 2, 0.0).sum(axis=(0, 1))
    sd = np.sqrt(squares / np.maximum(n, 1))
    usable = (n > 0) & usable_sd(sd, mean)
    spare = float(np.median(sd[usable])) if usable.any() else 1.0
    return np.where(usable, sd, spare)


def accumulate(total: np.ndarray | None, part: np.ndarray) -> np.ndarray:
    """``total + part``, or ``part`` for a first ``total`` of None."""
    return part if total is None else total + part


def rows_of(source: Callable[[np.ndarray], np.ndarray] | np.ndarray, rows: np.ndarray):
    """``source[rows]``, or ``source(rows)`` for a function of trial positions."""
    return source(rows) if callable(source) else np.asarray(source)[rows]


def _chunks(positions: np.ndarray):
    for start in range(0, positions.size, CHUNK):
        yield positions[start : start + CHUNK]
