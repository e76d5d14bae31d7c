"""RDMs of pseudo-populations: each condition pair over the units observed in both conditions.

In a pseudo-population (units recorded in different sessions, NaN in the trial patterns where
a unit was not recorded) no unit need have trials in *every* condition, so one rare cell
(e.g. high coherence x error choice) would leave no unit that covers all conditions. Here each
dissimilarity ``d(i, j)`` is computed on its own: over the units with enough observations in
both ``i`` and ``j``, as the mean of per-unit contributions (so entries over different unit
sets share a scale: squared distance per unit, as for a full population). A pair over fewer
than ``min_units`` units is NaN (capped at the number of usable units, so that a small
population is never left out); the number of units behind every entry and the threshold
actually applied are returned.

Per unit ``u`` and pair ``(i, j)``:

- ``crossnobis``: ``w_u`` x the mean over folds ``k`` of ``(m_iu^(-k) - m_ju^(-k)) *
  (m_iu^(k) - m_ju^(k))``, with ``m^(k)`` the mean of the unit's trials in fold ``k`` and
  ``m^(-k)`` of its other trials. Folds are formed per unit (by default the occurrence index
  of a trial among the unit's trials of that condition), so a unit with >= 2 trials in each
  of the two conditions enters the pair. Unbiased: 0 in expectation for equal means.
- ``sqeuclidean`` / ``mahalanobis``: ``w_u (m_iu - m_ju)**2`` with condition means over the
  unit's trials (biased upwards by noise, as for full populations).
- ``euclidean``: ``sqrt(n_units_total x mean_u (m_iu - m_ju)**2)``, i.e. scaled to the full
  unit count so that it equals the usual distance when every unit is shared.
- ``correlation``: 1 - Pearson correlation of the two mean patterns over the shared units.

Units recorded in different sessions have no joint noise, so the noise weight ``w_u`` is the
inverse of the unit's own residual variance (its trials minus their condition mean, dof =
its trials - its conditions) for ``mahalanobis``/``crossnobis``, or 1 for ``noise=None``. A
unit without residual degrees of freedom or with zero residual variance cannot be weighted
and is left out (logged).
"""

from __future__ import annotations

import logging

import numpy as np

from alrnn_neuro._grouping import group_sums

log = logging.getLogger(__name__)


def pseudo_population_rdm(
    x: np.ndarray,
    code: np.ndarray,
    n_cond: int,
    *,
    distance: str,
    noise: str | np.ndarray | None,
    fold: np.ndarray | None,
    min_units: int,
    n_fold_cycle: int | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Pairwise RDM of one segment's (trial, unit) patterns with NaN for unobserved units.

    Parameters
    ----------
    x : ndarray, shape (trial, unit)
        Per-trial patterns; NaN = unit not recorded on that trial.
    code : ndarray of int, shape (trial,)
        Condition index of each trial.
    n_cond : int
        Number of conditions.
    distance : {"euclidean", "sqeuclidean", "mahalanobis", "correlation", "crossnobis"}
    noise : str, ndarray or None
        Any estimator name gives per-unit residual variances; an ndarray (precision matrix)
        contributes its diagonal; None = no weighting.
    fold : ndarray of int, shape (trial,), optional
        Fold id per trial for crossnobis (None: per-unit occurrence index).
    min_units : int
        Fewest units a pair needs, as requested (capped at the number of usable units).
    n_fold_cycle : int, optional
        ``folds=k``: the per-unit occurrence index modulo ``k``.

    Returns
    -------
    rdm : ndarray, shape (condition, condition)
        NaN where a pair has too few units (or a condition no trial); zero diagonal where a
        condition has data.
    n_units : ndarray of int, shape (condition, condition)
        Units behind each entry (0 on pairs without any).
    min_units_applied : int
        The threshold actually applied: ``max(1, min(min_units, usable units))``, where
        usable units are those with a noise weight (all units for ``noise=None``).
    """
    seen = ~np.isnan(x)
    counts = group_sums(code, seen, n_cond)
    sums = group_sums(code, np.where(seen, x, 0.0), n_cond)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    weights = _unit_weights(x, seen, code, means, counts, distance, noise)
    usable = np.isfinite(weights)
    if distance == "crossnobis":
        folds = _unit_folds(code, seen, fold, n_fold_cycle)
        contrib, covered = _crossnobis_per_unit(x, seen, code, folds, n_cond)
    else:
        covered = (counts[:, None, :] > 0) & (counts[None, :, :] > 0)
        diff = means[:, None, :] - means[None, :, :]
        contrib = np.where(covered, diff**2, 0.0)
    covered &= usable[None, None, :]
    n_units = covered.sum(axis=-1)
    threshold = max(1, min(int(min_units), int(usable.sum())))
    if distance == "correlation":
        rdm = _pairwise_correlation(means, covered)
    else:
        weighted = np.where(covered, contrib * np.where(usable, weights, 0.0), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rdm = weighted.sum(axis=-1) / n_units
        if distance == "euclidean":
            rdm = np.sqrt(np.maximum(rdm, 0.0) * usable.sum())
    rdm = np.where(n_units >= threshold, rdm, np.nan)
    has_data = counts.sum(axis=1) > 0
    rdm[np.diag_indices(n_cond)] = np.where(has_data, 0.0, np.nan)
    short = np.triu((n_units < threshold) & has_data[:, None] & has_data[None, :], k=1)
    if short.any():
        log.info(
            "RDM: %d of %d condition pairs have fewer than %d units observed in both "
            "conditions; left NaN",
            int(short.sum()),
            n_cond * (n_cond - 1) // 2,
            threshold,
        )
    return rdm, n_units.astype(np.int64), threshold


def _unit_weights(x, seen, code, means, counts, distance, noise) -> np.ndarray:
    """Noise weight per unit: 1/residual variance, 1 (no noise model), NaN = unusable."""
    n_units = x.shape[1]
    if distance not in ("mahalanobis", "crossnobis") or noise is None:
        return np.ones(n_units)
    if not isinstance(noise, str):
        diag = np.diag(np.asarray(noise, dtype=np.float64)).copy()
        diag[~(diag > 0)] = np.nan
        return diag
    residuals = np.where(seen, x - np.nan_to_num(means[code]), 0.0)
    dof = counts.sum(axis=0) - (counts > 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (residuals**2).sum(axis=0) / dof
        weights = 1.0 / variance
    bad = ~((dof >= 1) & (variance > 0))
    if bad.any():
        log.info(
            "RDM: %d unit(s) without residual variance (too few trials or constant) are "
            "left out of the noise-weighted distances",
            int(bad.sum()),
        )
    weights[bad] = np.nan
    return weights


def _unit_folds(code, seen, fold, n_fold_cycle) -> np.ndarray:
    """Fold id per (trial, unit): given per trial, or the occurrence index of the trial
    among the unit's observed trials of its condition (modulo ``n_fold_cycle``)."""
    if fold is not None:
        return np.broadcast_to(np.asarray(fold)[:, None], seen.shape)
    order = np.argsort(code, kind="stable")
    sorted_code = code[order]
    running = np.cumsum(seen[order], axis=0) - seen[order]  # observed trials before, per unit
    starts = np.searchsorted(sorted_code, sorted_code, side="left")
    at_start = np.vstack([np.zeros((1, seen.shape[1])), np.cumsum(seen[order], axis=0)])
    occurrence = np.empty(seen.shape, dtype=np.int64)
    occurrence[order] = (running - at_start[starts]).astype(np.int64)
    if n_fold_cycle is not None:
        occurrence %= int(n_fold_cycle)
    return occurrence


def _crossnobis_per_unit(x, seen, code, folds, n_cond) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit fold-averaged cross-validated squared differences, (cond, cond, unit), and
    whether the unit covers the pair (some fold with test and training data for both)."""
    n_trial, n_units = x.shape
    n_fold = int(folds[seen].max()) + 1 if seen.any() else 1
    unit = np.broadcast_to(np.arange(n_units), (n_trial, n_units))
    cell = ((folds * n_cond + code[:, None]) * n_units + unit)[seen]
    size = n_fold * n_cond * n_units
    sums = np.bincount(cell, weights=x[seen], minlength=size).reshape(n_fold, n_cond, n_units)
    cnt = np.bincount(cell, minlength=size).reshape(n_fold, n_cond, n_units).astype(float)
    tot, tot_cnt = sums.sum(axis=0), cnt.sum(axis=0)
    ok = (cnt > 0) & (tot_cnt[None] - cnt > 0)  # (fold, condition, unit)
    with np.errstate(invalid="ignore", divide="ignore"):
        test = np.where(ok, sums / cnt, 0.0)
        train = np.where(ok, (tot[None] - sums) / (tot_cnt[None] - cnt), 0.0)
    contrib = np.zeros((n_cond, n_cond, n_units))
    n_ok = np.zeros((n_cond, n_cond, n_units))
    for k in range(n_fold):  # one fold at a time bounds memory at (cond, cond, unit)
        both = ok[k][:, None, :] & ok[k][None, :, :]
        d_train = train[k][:, None, :] - train[k][None, :, :]
        d_test = test[k][:, None, :] - test[k][None, :, :]
        contrib += np.where(both, d_train * d_test, 0.0)
        n_ok += both
    covered = n_ok > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        contrib = np.where(covered, contrib / n_ok, 0.0)
    return contrib, covered


def _pairwise_correlation(means, covered) -> np.ndarray:
    """1 - Pearson correlation of two condition means over their shared units."""
    n_cond = means.shape[0]
    rdm = np.full((n_cond, n_cond), np.nan)
    for i in range(n_cond):
        for j in range(i + 1, n_cond):
            shared = covered[i, j]
            if shared.sum() < 2:
                continue
            a, b = means[i, shared], means[j, shared]
            a, b = a - a.mean(), b - b.mean()
            den = np.sqrt((a @ a) * (b @ b))
            if den > 0:
                rdm[i, j] = rdm[j, i] = float(np.clip(1.0 - (a @ b) / den, 0.0, 2.0))
    return rdm
