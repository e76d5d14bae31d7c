"""Representational dissimilarity matrices (RDMs) over task conditions.

Distances between condition-mean patterns ``m_i`` (F features), and their conventions:

================  ==============================================  ============================
method            value for conditions i, j                       rsatoolbox equivalent
================  ==============================================  ============================
``euclidean``     ``||m_i - m_j||``                               sqrt(F * 'euclidean')
``sqeuclidean``   ``||m_i - m_j||^2 / F``                         'euclidean' (squared, /F)
``mahalanobis``   ``(m_i - m_j)' P (m_i - m_j) / F``              'mahalanobis'
``correlation``   ``1 - pearson(m_i, m_j)`` across features        'correlation'
``crossnobis``    ``mean_k (a_ki - a_kj)' P (b_ki - b_kj) / F``   'crossnobis' (cv_descriptor)
================  ==============================================  ============================

For ``crossnobis`` the trials are split into folds k; ``b_k`` are condition means of fold k's
trials, ``a_k`` those of all other trials, so noise is independent between the two factors and
the expected distance is 0 for identical condition means (unbiased), unlike ``sqeuclidean``
which is biased upwards by the noise. ``P`` is a noise precision estimated from the residuals
(trial patterns minus their condition mean, dof = n_trials - n_conditions) with the estimators
of :func:`noise_precision` (rsatoolbox's formulas), or the identity for ``noise=None``
(cross-validated squared Euclidean distance).

Pseudo-populations (units unobserved on some trials, NaN in the patterns): condition means
average each unit over the trials that observed it; a unit enters only if every condition has
an observation of it (two for crossnobis). Units never recorded together have no joint noise
estimate, so ``mahalanobis``/``crossnobis`` then use per-unit noise variances (the diagonal of
the chosen estimate), and crossnobis averages each unit over the folds that observed it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.rsa.conditions import (
    check_same_trials,
    condition_labels,
    condition_order,
    trial_patterns,
    trial_variables,
    trials_digest,
)
from alrnn_neuro.analysis.rsa.noise import noise_covariance, noise_precision
from alrnn_neuro.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)
METHODS = ("euclidean", "sqeuclidean", "mahalanobis", "correlation", "crossnobis")


def compute_rdm(
    patterns: xr.DataArray,
    labels: xr.DataArray,
    *,
    method: str = "crossnobis",
    noise: str | np.ndarray | None = "shrinkage_diag",
    folds: int | str | np.ndarray | None = None,
) -> xr.DataArray:
    """RDM over the conditions in ``labels`` from per-trial patterns, per segment.

    Parameters
    ----------
    patterns : xr.DataArray, dims (..., trial, feature)
        Per-trial patterns, e.g. from :func:`trial_patterns`; leading dims (``epoch``,
        ``time``, ``window``, ``region``) are kept as stacking dims. NaN trials are skipped,
        NaN entries are unobserved units (pseudo-populations).
    labels : xr.DataArray, dims (trial,)
        Condition labels from :func:`condition_labels`, for the same trials.
    method : {"euclidean", "sqeuclidean", "mahalanobis", "correlation", "crossnobis"}
        Distance (see the module docstring for exact definitions).
    noise : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}, ndarray or None
        Noise-precision estimate for ``mahalanobis``/``crossnobis`` (None: identity).
        An ndarray is used as the precision (feature, feature) as is.
    folds : int, str, ndarray or None
        Cross-validation folds for ``crossnobis``: None = the occurrence index of each trial
        within its condition (leave-one-trial-per-condition-out, rsatoolbox's default); an
        int k = that index modulo k; a str = name of a trial coord (e.g. ``"block"``); an
        array = one fold id per trial.

    Returns
    -------
    xr.DataArray, dims (..., condition, condition2)
        Symmetric, zero diagonal; NaN rows/columns for conditions without (enough) trials in
        a segment. Coords: condition labels on both dims, the condition variables and
        ``n_trials`` on ``condition``. attrs: method, noise, conditions, n_features,
        trials_digest.

    Raises
    ------
    DataValidationError
        Mismatched trials; a condition with fewer than 2 trials for ``crossnobis``; a
        constant pattern for ``correlation``.
    """
    if method not in METHODS:
        raise ConfigError(
            f"method = {method!r} is not a distance we compute; choose from {list(METHODS)}"
        )
    check_same_trials(patterns, labels, "patterns and condition labels")
    names, variables, n_trials = condition_order(labels)
    lookup = {name: k for k, name in enumerate(names)}
    code = np.array([lookup[v] for v in labels.values.astype(str)], dtype=np.intp)
    fold = _fold_ids(labels, folds) if method == "crossnobis" else None
    if method == "crossnobis":
        few = names[n_trials < 2].tolist()
        if few:
            raise DataValidationError(
                f"condition(s) {few} have fewer than 2 trials; crossnobis needs >= 2 trials per "
                "condition (one per fold at least); fix: merge or drop these conditions, or use "
                "a distance without cross-validation: method='sqeuclidean' (CLI: --distance "
                "sqeuclidean)"
            )
        n_folds = np.array([np.unique(fold[code == k]).size for k in range(len(names))])
        if np.any(n_folds < 2):
            raise DataValidationError(
                f"condition(s) {names[n_folds < 2].tolist()} have all their trials in one fold, "
                "so crossnobis cannot cross-validate them; fix: choose folds= that split every "
                "condition (e.g. folds=None or an int)"
            )
    stack = [d for d in patterns.dims if d not in ("trial", patterns.dims[-1])]
    values = patterns.transpose(*stack, "trial", patterns.dims[-1]).values
    flat = values.reshape(-1, *values.shape[-2:])
    out = np.stack([_segment_rdm(x, code, len(names), method, noise, fold, names) for x in flat])
    out = out.reshape(*values.shape[:-2], len(names), len(names))
    coords = {d: patterns[d].values for d in stack if d in patterns.coords}
    coords.update(condition=names, condition2=names)
    for name, column in variables.items():
        coords[name] = ("condition", column.astype(str) if column.dtype == object else column)
    coords["n_trials"] = ("condition", n_trials)
    attrs = {
        "method": method,
        "noise": noise if isinstance(noise, str) or noise is None else "given",
        "conditions": list(labels.attrs.get("conditions", [])),
        "n_features": int(values.shape[-1]),
        "trials_digest": trials_digest(labels["trial"].values),
    }
    attrs["noise"] = "none" if attrs["noise"] is None else attrs["noise"]
    return xr.DataArray(
        out, dims=(*stack, "condition", "condition2"), coords=coords, name="rdm", attrs=attrs
    )


def compute_rdms(
    data: xr.Dataset | xr.DataArray,
    conditions: str | Sequence[str],
    *,
    over: str | None = "epoch",
    method: str = "crossnobis",
    noise: str | np.ndarray | None = "shrinkage_diag",
    folds: int | str | np.ndarray | None = None,
    **pattern_kwargs,
) -> xr.DataArray:
    """RDMs from a canonical dataset, a run's ``latents.nc`` or a (trial, time, feature) array.

    Shorthand for :func:`condition_labels` + :func:`trial_patterns` + :func:`compute_rdm`.

    Parameters
    ----------
    data : xr.Dataset or xr.DataArray
        Recordings or model latents with trial variables as coords (see
        :func:`trial_patterns`).
    conditions : str or sequence of str
        Trial variables defining the conditions, e.g. ``["rule", "location", "pitch"]``.
    over : {None, "epoch", "time", "window", "region"}
        One RDM per segment, stacked along a dim of that name.
    method, noise, folds
        See :func:`compute_rdm`.
    **pattern_kwargs
        ``var``, ``valid``, ``epoch``, ``bitcode``, ``observed``, ``windows`` of
        :func:`trial_patterns`.

    Returns
    -------
    xr.DataArray, dims (over, condition, condition2)

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = np.random.default_rng(0).normal(size=(8, 3, 5))
    >>> da = xr.DataArray(x, dims=("trial", "time", "unit"),
    ...                   coords={"trial": np.arange(8), "side": ("trial", [0, 1] * 4)})
    >>> compute_rdms(da, "side", over=None, method="euclidean").dims
    ('condition', 'condition2')
    """
    labels = condition_labels(data, conditions)
    if isinstance(folds, str):
        if folds not in data.coords or data[folds].dims != ("trial",):
            raise ConfigError(
                f"folds = {folds!r} is not a trial variable; choose from "
                f"{trial_variables(data)}, or pass an int or an array"
            )
        folds = np.asarray(data[folds].values)
    patterns = trial_patterns(data, over=over, **pattern_kwargs)
    return compute_rdm(patterns, labels, method=method, noise=noise, folds=folds)


def _fold_ids(labels: xr.DataArray, folds) -> np.ndarray:
    """One integer fold id per trial."""
    if isinstance(folds, str):
        if folds not in labels.coords:
            raise ConfigError(
                f"folds = {folds!r} is not a coord of the condition labels; "
                "pass one fold id per trial as an array instead"
            )
        return np.unique(np.asarray(labels[folds].values), return_inverse=True)[1]
    if folds is not None and not isinstance(folds, int | np.integer):
        ids = np.asarray(folds)
        if ids.shape != labels.shape:
            raise ConfigError(
                f"folds has shape {ids.shape}; expected one id per trial ({labels.shape})"
            )
        return np.unique(ids, return_inverse=True)[1]
    occurrence = np.zeros(labels.size, dtype=int)
    for value in np.unique(labels.values):
        members = np.flatnonzero(labels.values == value)
        occurrence[members] = np.arange(members.size)
    if folds is None:
        return occurrence
    if int(folds) < 2:
        raise ConfigError(f"folds = {folds}; crossnobis needs at least 2 folds")
    return occurrence % int(folds)


def _segment_rdm(x, code, n_cond, method, noise, fold, names) -> np.ndarray:
    """(condition, condition2) RDM of one segment's (trial, feature) patterns."""
    keep = ~np.all(np.isnan(x), axis=1)
    x, code = x[keep], code[keep]
    fold = None if fold is None else fold[keep]
    seen = ~np.isnan(x)
    counts = np.zeros((n_cond, x.shape[1]))
    np.add.at(counts, code, seen)
    need = 2 if method == "crossnobis" else 1
    present = np.bincount(code, minlength=n_cond) >= need
    features = np.all(counts[present] >= need, axis=0)
    if not features.all():
        log.info(
            "RDM: %d of %d features lack observations in some condition; dropped",
            (~features).sum(),
            features.size,
        )
    x, seen = x[:, features], seen[:, features]
    sums = np.zeros((n_cond, x.shape[1]))
    np.add.at(sums, code, np.where(seen, x, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[:, features]
    rdm = np.full((n_cond, n_cond), np.nan)
    if present.sum() < 2 or x.shape[1] == 0:
        return rdm
    if not present.all():
        log.info("RDM: conditions %s lack trials in a segment; left NaN", names[~present].tolist())
    precision = None
    if method in ("mahalanobis", "crossnobis") and noise is not None:
        residuals = np.where(seen, x - means[code], 0.0)
        dof = x.shape[0] - int(present.sum())
        if seen.all():
            precision = noise_precision(residuals, dof=dof, method=noise)
        elif isinstance(noise, str):  # no joint noise of units never recorded together
            precision = 1.0 / np.diag(noise_covariance(residuals, dof=dof, method=noise))
        else:
            precision = np.diag(noise_precision(residuals, dof=dof, method=noise))
    idx = np.flatnonzero(present)
    if method == "crossnobis":
        sub = _crossnobis(x, seen, np.searchsorted(idx, code), fold, idx.size, precision)
    else:
        sub = _plain(means[idx], method, precision, names[idx])
    rdm[np.ix_(idx, idx)] = sub
    return rdm


def _plain(m, method, precision, names) -> np.ndarray:
    """Distances between condition means ``m`` (condition, feature)."""
    n_feat = m.shape[1]
    if method == "correlation":
        centred = m - m.mean(axis=1, keepdims=True)
        norm = np.sqrt(np.einsum("ij,ij->i", centred, centred))
        if np.any(norm == 0):
            raise DataValidationError(
                f"condition(s) {names[norm == 0].tolist()} have a constant pattern across "
                "features, so the correlation distance is undefined; fix: use method="
                "'sqeuclidean' or 'crossnobis' (CLI: --distance sqeuclidean), or drop silent "
                "segments/units"
            )
        centred = centred / norm[:, None]
        return np.clip(1.0 - centred @ centred.T, 0.0, 2.0) * (1 - np.eye(m.shape[0]))
    if precision is not None and precision.ndim == 1:
        precision = np.diag(precision)
    kernel = m @ (m.T if precision is None else precision @ m.T)
    diag = np.diag(kernel)
    sq = np.maximum(diag[:, None] + diag[None, :] - 2 * kernel, 0.0)
    np.fill_diagonal(sq, 0.0)
    if method == "euclidean":
        return np.sqrt(sq)
    return sq / n_feat


def _crossnobis(x, seen, code, fold, n_cond, precision) -> np.ndarray:
    """Fold-averaged cross-validated (Mahalanobis) distances, vectorised over folds.

    ``precision`` is (feature, feature), a (feature,) vector of per-unit weights (used when
    some units are unobserved on some trials: each unit then averages over the folds where
    it is observed), or None (identity).
    """
    n_fold = int(fold.max()) + 1
    cell = fold * n_cond + code
    sums = np.zeros((n_fold * n_cond, x.shape[1]))
    cnt = np.zeros_like(sums)
    np.add.at(sums, cell, np.where(seen, x, 0.0))
    np.add.at(cnt, cell, seen)
    sums, cnt = sums.reshape(n_fold, n_cond, -1), cnt.reshape(n_fold, n_cond, -1)
    tot, tot_cnt = sums.sum(axis=0), cnt.sum(axis=0)
    ok_f = (cnt > 0) & (tot_cnt[None] - cnt > 0)  # (fold, condition, feature)
    with np.errstate(invalid="ignore", divide="ignore"):
        test = np.where(ok_f, sums / cnt, 0.0)
        train = np.where(ok_f, (tot[None] - sums) / (tot_cnt[None] - cnt), 0.0)
    if (precision is not None and precision.ndim == 1) or not seen.all():
        weights = np.ones(x.shape[1]) if precision is None else precision
        d_train = train[:, :, None, :] - train[:, None, :, :]
        d_test = test[:, :, None, :] - test[:, None, :, :]
        pair_ok = ok_f[:, :, None, :] & ok_f[:, None, :, :]
        num = np.where(pair_ok, d_train * d_test, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_feature = num / pair_ok.sum(axis=0) * weights
        covered = pair_ok.any(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rdm = np.where(covered, per_feature, 0.0).sum(axis=-1) / covered.sum(axis=-1)
    else:
        weighted = test if precision is None else test @ precision
        kernel = np.einsum("kif,kjf->kij", train, weighted)
        diag = np.einsum("kii->ki", kernel)
        per_fold = diag[:, :, None] + diag[:, None, :] - kernel - kernel.transpose(0, 2, 1)
        ok = ok_f.all(axis=2)
        pair_ok = ok[:, :, None] & ok[:, None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            rdm = np.where(pair_ok, per_fold, 0.0).sum(axis=0) / pair_ok.sum(axis=0)
        rdm = rdm / x.shape[1]
    np.fill_diagonal(rdm, 0.0)
    return rdm
