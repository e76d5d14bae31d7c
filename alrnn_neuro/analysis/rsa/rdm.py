"""Representational dissimilarity matrices (RDMs) over task conditions.

Distances between condition-mean patterns ``m_i`` (F features), and their conventions:

================  ==============================================  ============================
distance          value for conditions i, j                       rsatoolbox equivalent
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

Pseudo-populations (units unobserved on some trials, NaN in the patterns): every condition pair
is computed over the units observed in both conditions (see :mod:`.pairwise`), a pair with
fewer than ``min_units`` such units is NaN (capped at the usable units of the segment; the
threshold applied per segment is the ``min_units_applied`` attr), and the count behind each
entry is returned as the ``pair_units`` coord. Fully observed data use every unit for every
pair (and the joint noise estimate); a condition with too few trials (fewer than 2 for
crossnobis) is NaN with a log entry instead of an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from alrnn_neuro._grouping import group_sums
from alrnn_neuro.analysis.rsa.conditions import (
    check_same_trials,
    condition_labels,
    condition_order,
    trial_patterns,
    trial_variables,
    trials_digest,
)
from alrnn_neuro.analysis.rsa.noise import noise_precision
from alrnn_neuro.analysis.rsa.pairwise import pseudo_population_rdm
from alrnn_neuro.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)
DISTANCES = ("euclidean", "sqeuclidean", "mahalanobis", "correlation", "crossnobis")
#: default fewest units behind one dissimilarity of a pseudo-population (capped at the
#: number of units; fully observed data always use every unit)
MIN_UNITS = 5
#: compute_rdm's defaults of its settings (for functions that pass them on)
RDM_DEFAULTS = {"distance": "crossnobis", "noise": "shrinkage_diag", "folds": None,
                "min_units": MIN_UNITS}  # fmt: skip


def check_distance(distance: str) -> str:
    """Return ``distance`` if it is one of :data:`DISTANCES`, else raise ConfigError."""
    if distance not in DISTANCES:
        raise ConfigError(
            f"distance = {distance!r} is not a distance we compute; choose from {list(DISTANCES)}"
        )
    return distance


def compute_rdm(
    patterns: xr.DataArray,
    labels: xr.DataArray,
    *,
    distance: str = "crossnobis",
    noise: str | np.ndarray | None = "shrinkage_diag",
    folds: int | str | np.ndarray | None = None,
    min_units: int = MIN_UNITS,
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
    distance : {"euclidean", "sqeuclidean", "mahalanobis", "correlation", "crossnobis"}
        Distance (see the module docstring for exact definitions).
    noise : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}, ndarray or None
        Noise-precision estimate for ``mahalanobis``/``crossnobis`` (None: identity).
        An ndarray is used as the precision (feature, feature) as is. Pseudo-populations use
        per-unit residual variances (see :mod:`.pairwise`).
    folds : int, str, ndarray or None
        Cross-validation folds for ``crossnobis``: None = the occurrence index of each trial
        within its condition (leave-one-trial-per-condition-out, rsatoolbox's default; per
        unit in pseudo-populations); an int k = that index modulo k; a str = name of a trial
        coord (e.g. ``"block"``); an array = one fold id per trial.
    min_units : int
        Pseudo-populations: fewest units observed in both conditions of a pair for its
        dissimilarity (capped at the number of usable units; the attr ``min_units_applied``
        records the threshold used); fewer give NaN.

    Returns
    -------
    xr.DataArray, dims (..., condition, condition2)
        Symmetric, zero diagonal; NaN where a condition has too few trials (or a pair too
        few units) in a segment. Coords: condition labels on both dims, the condition
        variables and ``n_trials`` on ``condition``, ``pair_units`` (..., condition,
        condition2) the units behind each entry. attrs (provenance): distance, noise,
        conditions, n_features, min_units (as requested), min_units_applied (list of int,
        one per segment in the order of the flattened leading dims: the threshold actually
        applied, ``max(1, min(min_units, usable units))``; for fully observed data every unit
        enters every pair and it is ``min(min_units, n_features)``), trials_digest.

    Raises
    ------
    DataValidationError
        Mismatched trials; folds that leave a condition in one fold only; a constant pattern
        for ``correlation``.
    """
    stack, values = _checked_layout(patterns, labels, distance, min_units)
    names, variables, n_trials = condition_order(labels)
    settings = {"distance": distance, "noise": noise, "folds": folds, "min_units": min_units}
    out, units, applied = _rdm_values(values, labels, names, **settings)
    _log_thin_conditions(names, n_trials, distance)
    dims = (*stack, "condition", "condition2")
    coords = {d: patterns[d].values for d in stack if d in patterns.coords}
    coords.update(condition=names, condition2=names)
    for name, column in variables.items():
        coords[name] = ("condition", column.astype(str) if column.dtype == object else column)
    coords["n_trials"] = ("condition", n_trials)
    coords["pair_units"] = (dims, units)
    attrs = {
        "distance": distance,
        "noise": "none" if noise is None else noise if isinstance(noise, str) else "given",
        "conditions": list(labels.attrs.get("conditions", [])),
        "n_features": int(values.shape[-1]),
        "min_units": int(min_units),
        "min_units_applied": applied,
        "trials_digest": trials_digest(labels["trial"].values),
    }
    return xr.DataArray(out, dims=dims, coords=coords, name="rdm", attrs=attrs)


def relabelled_rdms(
    patterns: xr.DataArray, labels: xr.DataArray, **rdm_kwargs
) -> Callable[[np.ndarray], np.ndarray]:
    """``f(new)``: the RDM values :func:`compute_rdm` gives when ``labels`` hold ``new``.

    For permutation tests: ``new`` (trial,) is a relabelling of ``labels``' values (the same
    conditions, e.g. permuted), and ``f(new)`` equals ``compute_rdm(patterns,
    labels.copy(data=new), **rdm_kwargs).values`` with the conditions in the order of
    ``labels``, but the patterns are laid out and checked once, not for every relabelling.
    ``rdm_kwargs``: ``distance``, ``noise``, ``folds``, ``min_units`` of :func:`compute_rdm`
    (same defaults).

    Returns
    -------
    callable
        ``new`` (trial,) -> ndarray (..., condition, condition2), as ``compute_rdm``'s values.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pat = xr.DataArray(rng.normal(size=(12, 4)), dims=("trial", "unit"),
    ...                    coords={"trial": np.arange(12)})
    >>> lab = xr.DataArray(np.repeat(["a", "b"], 6), dims="trial", coords={"trial": np.arange(12)})
    >>> new = rng.permutation(lab.values)
    >>> f = relabelled_rdms(pat, lab, noise=None)
    >>> bool(np.allclose(f(new), compute_rdm(pat, lab.copy(data=new), noise=None).values))
    True
    """
    settings = {**RDM_DEFAULTS, **rdm_kwargs}
    values = _checked_layout(patterns, labels, settings["distance"], settings["min_units"])[1]
    names = condition_order(labels)[0]

    def rdm_of(new: np.ndarray) -> np.ndarray:
        relabelled = labels.copy(deep=False, data=np.asarray(new))
        return _rdm_values(values, relabelled, names, **settings)[0]

    return rdm_of


def _checked_layout(patterns, labels, distance, min_units) -> tuple[list, np.ndarray]:
    """Check the inputs of an RDM; return the stacking dims of ``patterns`` and its values
    laid out (..., trial, feature)."""
    check_distance(distance)
    check_same_trials(patterns, labels, "patterns and condition labels")
    if int(min_units) < 1:
        raise ConfigError(f"min_units = {min_units}; choose 1 or more units per pair")
    stack = [d for d in patterns.dims if d not in ("trial", patterns.dims[-1])]
    return stack, patterns.transpose(*stack, "trial", patterns.dims[-1]).values


def _rdm_values(values, labels, names, *, distance, noise, folds, min_units):
    """RDMs (..., condition, condition2) of ``values`` (..., trial, feature) over the
    conditions ``names`` of ``labels``, the features behind each entry and the min_units
    threshold applied per segment (list, flattened leading dims)."""
    lookup = {name: k for k, name in enumerate(names)}
    code = np.array([lookup[v] for v in labels.values.astype(str)], dtype=np.intp)
    fold = _fold_ids(labels, folds) if distance == "crossnobis" else None
    if distance == "crossnobis" and folds is not None and not isinstance(folds, int | np.integer):
        n_folds = np.array([np.unique(fold[code == k]).size for k in range(len(names))])
        n_trials = np.bincount(code, minlength=len(names))
        if np.any((n_folds < 2) & (n_trials >= 2)):
            raise DataValidationError(
                f"condition(s) {names[(n_folds < 2) & (n_trials >= 2)].tolist()} have all their "
                "trials in one fold, so crossnobis cannot cross-validate them; fix: choose "
                "folds= that split every condition (e.g. folds=None or an int)"
            )
    setting = {
        "distance": distance,
        "noise": noise,
        "fold": fold,  # per trial (all trials), for fully observed data
        "unit_fold": fold if isinstance(folds, str) or _is_array(folds) else None,
        "cycle": int(folds) if isinstance(folds, int | np.integer) else None,
        "min_units": int(min_units),
    }
    flat = values.reshape(-1, *values.shape[-2:])
    parts = [_segment_rdm(x, code, names, setting) for x in flat]
    shape = (*values.shape[:-2], len(names), len(names))
    out = np.stack([p[0] for p in parts]).reshape(shape)
    units = np.stack([p[1] for p in parts]).reshape(shape)
    return out, units, [int(p[2]) for p in parts]


def compute_rdms(
    data: xr.Dataset | xr.DataArray,
    conditions: str | Sequence[str],
    *,
    by: str | None = "epoch",
    distance: str = "crossnobis",
    noise: str | np.ndarray | None = "shrinkage_diag",
    folds: int | str | np.ndarray | None = None,
    min_units: int = MIN_UNITS,
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
    by : {None, "epoch", "time", "window", "region"}
        One RDM per segment, stacked along a dim of that name (``"regime"`` = ``"region"``).
    distance, noise, folds, min_units
        See :func:`compute_rdm`.
    **pattern_kwargs
        ``var``, ``valid``, ``epoch``, ``bitcode``, ``observed``, ``windows`` of
        :func:`trial_patterns`.

    Returns
    -------
    xr.DataArray, dims (by, condition, condition2)

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = np.random.default_rng(0).normal(size=(8, 3, 5))
    >>> da = xr.DataArray(x, dims=("trial", "time", "unit"),
    ...                   coords={"trial": np.arange(8), "side": ("trial", [0, 1] * 4)})
    >>> compute_rdms(da, "side", by=None, distance="euclidean").dims
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
    patterns = trial_patterns(data, by=by, **pattern_kwargs)
    return compute_rdm(
        patterns, labels, distance=distance, noise=noise, folds=folds, min_units=min_units
    )


def _is_array(folds) -> bool:
    return folds is not None and not isinstance(folds, str | int | np.integer)


def _log_thin_conditions(names, n_trials, distance) -> None:
    need = 2 if distance == "crossnobis" else 1
    thin = names[n_trials < need].tolist()
    if thin:
        log.info(
            "%d condition(s) (e.g. %s) have fewer than %d trials, which %s needs; their "
            "dissimilarities are NaN (merge or exclude them to use their trials)",
            len(thin),
            thin[:5],
            need,
            distance,
        )


def _fold_ids(labels: xr.DataArray, folds) -> np.ndarray:
    """One integer fold id per trial."""
    if isinstance(folds, str):
        if folds not in labels.coords:
            raise ConfigError(
                f"folds = {folds!r} is not a coord of the condition labels; "
                "pass one fold id per trial as an array instead"
            )
        return np.unique(np.asarray(labels[folds].values), return_inverse=True)[1]
    if _is_array(folds):
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


def _segment_rdm(x, code, names, setting) -> tuple[np.ndarray, np.ndarray, int]:
    """(condition, condition2) RDM of one segment's (trial, feature) patterns, the number of
    features behind each entry and the min_units threshold applied."""
    n_cond = len(names)
    distance, noise = setting["distance"], setting["noise"]
    keep = ~np.all(np.isnan(x), axis=1)
    x, code = x[keep], code[keep]
    if not np.isnan(x).any():
        fold = None if setting["fold"] is None else setting["fold"][keep]
        return _full_population_rdm(x, code, fold, names, setting)
    fold = None if setting["unit_fold"] is None else setting["unit_fold"][keep]
    return pseudo_population_rdm(
        x,
        code,
        n_cond,
        distance=distance,
        noise=noise,
        fold=fold,
        min_units=setting["min_units"],
        n_fold_cycle=setting["cycle"],
    )


def _full_population_rdm(x, code, fold, names, setting) -> tuple[np.ndarray, np.ndarray, int]:
    """RDM when every feature is observed on every (kept) trial: joint noise estimate; every
    feature enters every pair, so the min_units threshold is met at its cap."""
    n_cond = len(names)
    applied = max(1, min(setting["min_units"], x.shape[1]))
    distance, noise = setting["distance"], setting["noise"]
    need = 2 if distance == "crossnobis" else 1
    present = np.bincount(code, minlength=n_cond) >= need
    rdm = np.full((n_cond, n_cond), np.nan)
    units = np.zeros((n_cond, n_cond), dtype=np.int64)
    if present.sum() < 2 or x.shape[1] == 0:
        return rdm, units, applied
    idx = np.flatnonzero(present)
    sel = np.isin(code, idx)
    x, code = x[sel], np.searchsorted(idx, code[sel])
    means = group_sums(code, x, idx.size)
    means /= np.bincount(code, minlength=idx.size)[:, None]
    precision = None
    if distance in ("mahalanobis", "crossnobis") and noise is not None:
        dof = x.shape[0] - idx.size
        precision = noise_precision(x - means[code], dof=dof, method=noise)
    if distance == "crossnobis":
        fold = np.unique(fold[sel], return_inverse=True)[1]
        sub = _crossnobis(x, code, fold, idx.size, precision)
    else:
        sub = _plain(means, distance, precision, names[idx])
    rdm[np.ix_(idx, idx)] = sub
    units[np.ix_(idx, idx)] = x.shape[1]
    return rdm, units, applied


def _plain(m, distance, precision, names) -> np.ndarray:
    """Distances between condition means ``m`` (condition, feature)."""
    n_feat = m.shape[1]
    if distance == "correlation":
        centred = m - m.mean(axis=1, keepdims=True)
        norm = np.sqrt(np.einsum("ij,ij->i", centred, centred))
        if np.any(norm == 0):
            raise DataValidationError(
                f"condition(s) {names[norm == 0].tolist()} have a constant pattern across "
                "features, so the correlation distance is undefined; fix: use distance="
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
    if distance == "euclidean":
        return np.sqrt(sq)
    return sq / n_feat


def _crossnobis(x, code, fold, n_cond, precision) -> np.ndarray:
    """Fold-averaged cross-validated (Mahalanobis) distances of fully observed patterns,
    vectorised over folds; ``precision`` (feature, feature) or None (identity)."""
    n_fold = int(fold.max()) + 1
    cell = fold * n_cond + code
    sums = group_sums(cell, x, n_fold * n_cond)
    cnt = np.bincount(cell, minlength=n_fold * n_cond).astype(float)
    sums, cnt = sums.reshape(n_fold, n_cond, -1), cnt.reshape(n_fold, n_cond)
    tot, tot_cnt = sums.sum(axis=0), cnt.sum(axis=0)
    ok = (cnt > 0) & (tot_cnt[None] - cnt > 0)  # (fold, condition)
    with np.errstate(invalid="ignore", divide="ignore"):
        test = np.where(ok[..., None], sums / cnt[..., None], 0.0)
        train = np.where(ok[..., None], (tot[None] - sums) / (tot_cnt[None] - cnt)[..., None], 0.0)
    weighted = test if precision is None else test @ precision
    kernel = np.einsum("kif,kjf->kij", train, weighted)
    diag = np.einsum("kii->ki", kernel)
    per_fold = diag[:, :, None] + diag[:, None, :] - kernel - kernel.transpose(0, 2, 1)
    pair_ok = ok[:, :, None] & ok[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        rdm = np.where(pair_ok, per_fold, 0.0).sum(axis=0) / pair_ok.sum(axis=0)
    rdm = rdm / x.shape[1]
    np.fill_diagonal(rdm, 0.0)
    return rdm
