"""Noise ceiling of a data RDM from disjoint splits of its trials (or units).

The ``n_splits`` disjoint groups play the role of the subjects of the classical noise ceiling
(Nili et al. 2014; rsatoolbox's ``boot_noise_ceiling``). Each group gives an RDM ``G_i``; all
bounds are computed on the same conditions: those with finite dissimilarities in every ``G_i``
(and in the model RDM when one is given).

- lower bound = mean over groups of similarity(``G_i``, pooled RDM of the *other* groups);
- upper bound = the best mean similarity to the ``G_i`` that some RDM is shown to reach: the
  larger of the pooled RDM of *all* groups (the classical upper bound) and each ``G_j`` itself.
  Any RDM reaches its own mean similarity, so this is still an upper-bound estimate, and for
  two groups it is never below the lower bound (``(1 + s) / 2 >= s``) for every comparison,
  Kendall's tau-a with ties included.
- pooled RDMs are the mean of the groups' comparison vectors: ranks for ``spearman`` and
  ``kendall_tau_a``, centred unit vectors for ``pearson``, unit vectors for ``cosine``, the
  U-/double-centred unit Grams for CKA (as rsatoolbox's ``pool_rdm``).
- with a model RDM, ``model_vs_splits`` = mean over groups of similarity(model, ``G_i``): the
  model's value on the footing of the bounds (both compare with RDMs of 1/n of the data).

If fewer than 3 conditions are finite in every group, or the lower bound still exceeds the
upper one (possible only with more than two groups), both bounds are NaN and
``noise_ceiling_note`` says why. Trial groups are stratified by condition and, for
pseudo-populations, by the set of units each trial observed, so every unit has trials of each
condition in every group where it can.
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr
from scipy.stats import rankdata

from alrnn_neuro.analysis.rsa.compare import (
    check_compare,
    compare_matrices,
    comparison_vector,
    finite_condition_mask,
    kendall_tau_a,
    rdm_vector,
    transform_vector,
)
from alrnn_neuro.analysis.rsa.conditions import condition_order
from alrnn_neuro.analysis.rsa.rdm import compute_rdm
from alrnn_neuro.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)
SPLITS = ("trials", "units")
RANKED = ("spearman", "kendall_tau_a")


def noise_ceiling(
    patterns: xr.DataArray,
    labels: xr.DataArray,
    *,
    compare: str = "spearman",
    split: str = "trials",
    n_splits: int = 2,
    seed: int = 0,
    model_rdm: xr.DataArray | None = None,
    **rdm_kwargs,
) -> xr.Dataset:
    """Lower and upper noise-ceiling bounds of the data RDM, by splitting trials or units.

    Parameters
    ----------
    patterns : xr.DataArray, dims (..., trial, feature)
        Per-trial patterns of the data (e.g. from :func:`~.conditions.trial_patterns`).
    labels : xr.DataArray, dims (trial,)
        Condition labels of the same trials.
    compare : str
        Comparison (see :data:`~.compare.COMPARISONS`; ``"tau-a"`` accepted).
    split : {"trials", "units"}
        What the groups are made of.
    n_splits : int
        Number of disjoint groups (>= 2).
    seed : int
        Seed of the group assignment.
    model_rdm : xr.DataArray, dims (..., condition, condition2), optional
        Model RDM over the same conditions: its NaN conditions are left out of the bounds too,
        and ``model_vs_splits`` is returned.
    **rdm_kwargs
        ``distance``, ``noise``, ``folds``, ``min_units`` of :func:`~.rdm.compute_rdm`.

    Returns
    -------
    xr.Dataset
        Over the stacking dims of ``patterns``: ``noise_ceiling_low``,
        ``noise_ceiling_high`` (low <= high wherever both are finite),
        ``noise_ceiling_conditions`` (conditions used), ``noise_ceiling_note`` (why the
        bounds are NaN, else ""), and with a model RDM ``model_vs_splits``.
    """
    compare = check_compare(compare)
    if split not in SPLITS or n_splits < 2:
        raise ConfigError(
            f"split = {split!r}, n_splits = {n_splits}; choose split from {list(SPLITS)} "
            "and n_splits >= 2"
        )
    groups = split_groups(patterns, labels, split=split, n_splits=n_splits, seed=seed)
    feature = patterns.dims[-1]
    rdms = []
    for g in range(n_splits):
        if split == "trials":
            mask = groups == g
            rdms.append(
                compute_rdm(patterns.isel(trial=mask), labels.isel(trial=mask), **rdm_kwargs)
            )
        else:
            rdms.append(compute_rdm(patterns.isel({feature: groups == g}), labels, **rdm_kwargs))
    distance = rdms[0].attrs.get("distance")
    stack = [d for d in rdms[0].dims if d not in ("condition", "condition2")]
    names = condition_order(labels)[0]  # a group may lack a rare condition: NaN there
    rdms = [r.reindex(condition=names, condition2=names) for r in rdms]
    stacked = np.stack([r.transpose(*stack, "condition", "condition2").values for r in rdms])
    n = names.size
    stacked = stacked.reshape(n_splits, -1, n, n)
    model, model_kind = None, None
    if model_rdm is not None:
        model_kind = model_rdm.attrs.get("distance")
        aligned = model_rdm.sel(condition=names, condition2=names)
        aligned = aligned.reindex({d: rdms[0][d].values for d in stack if d in aligned.dims})
        aligned = aligned.broadcast_like(rdms[0]).transpose(*stack, "condition", "condition2")
        model = aligned.values.reshape(-1, n, n)
    fields = {k: [] for k in ("low", "high", "n", "note", "model")}
    for k in range(stacked.shape[1]):
        reference = None if model is None else model[k]
        row = ceiling_bounds(list(stacked[:, k]), compare, distance, reference, model_kind)
        for key in fields:
            fields[key].append(row[key])
    shape = [rdms[0].sizes[d] for d in stack]
    coords = {d: rdms[0][d].values for d in stack if d in rdms[0].coords}
    out = xr.Dataset(
        {
            "noise_ceiling_low": (stack, np.reshape(fields["low"], shape)),
            "noise_ceiling_high": (stack, np.reshape(fields["high"], shape)),
            "noise_ceiling_conditions": (stack, np.reshape(fields["n"], shape).astype(np.int64)),
            "noise_ceiling_note": (stack, np.reshape(np.array(fields["note"], dtype=str), shape)),
        },
        coords=coords,
    )
    if model is not None:
        out["model_vs_splits"] = (stack, np.reshape(fields["model"], shape))
    out.attrs.update(compare=compare, split=split, n_splits=n_splits, seed=seed)
    return out


def split_groups(
    patterns: xr.DataArray, labels: xr.DataArray, *, split: str, n_splits: int, seed: int
) -> np.ndarray:
    """Group id of each trial (stratified by condition and observed units) or unit."""
    rng = np.random.default_rng(seed)
    if split == "units":
        return rng.permutation(patterns.sizes[patterns.dims[-1]]) % n_splits
    values = patterns.transpose(..., "trial", patterns.dims[-1]).values
    seen = ~np.isnan(values.reshape(-1, *values.shape[-2:])).all(axis=0)  # (trial, feature)
    signature = np.unique(seen, axis=0, return_inverse=True)[1].ravel()
    condition = np.unique(labels.values.astype(str), return_inverse=True)[1].ravel()
    stratum = condition * (int(signature.max()) + 1) + signature
    group = np.zeros(labels.size, dtype=int)
    offset = 0
    for value in np.unique(stratum):
        members = np.flatnonzero(stratum == value)
        members = members[rng.permutation(members.size)]
        group[members] = (np.arange(members.size) + offset) % n_splits
        offset += members.size  # odd strata alternate which group gets the extra trial
    return group


def ceiling_bounds(
    matrices: list[np.ndarray],
    compare: str,
    distance: str | None = None,
    model: np.ndarray | None = None,
    model_distance: str | None = None,
) -> dict:
    """Bounds from the (condition, condition) RDMs of the groups, on shared finite conditions.

    Returns
    -------
    dict
        ``low``, ``high``, ``n`` (conditions used), ``note`` ("" or why NaN), ``model``
        (mean similarity of ``model`` to the groups, NaN without one).
    """
    extra = [] if model is None else [model]
    keep = finite_condition_mask(*matrices, *extra)
    out = {"low": np.nan, "high": np.nan, "n": int(keep.sum()), "note": "", "model": np.nan}
    if keep.sum() < 3:
        out["note"] = (
            f"{int(keep.sum())} conditions have finite dissimilarities in every split "
            f"(of {keep.size}); need >= 3 (more trials or units per condition, or coarser "
            "conditions)"
        )
        return out
    subs = [m[np.ix_(keep, keep)] for m in matrices]
    try:
        sim = _similarity_table(subs, compare, distance)
        if model is not None:
            sub = model[np.ix_(keep, keep)]
            out["model"] = float(
                np.mean(
                    [compare_matrices(sub, s, compare, (model_distance, distance)) for s in subs]
                )
            )
    except DataValidationError as error:  # e.g. a constant split RDM
        out["note"] = f"the RDMs cannot be compared: {error}"
        return out
    low, high = sim
    if not (np.isfinite(low) and np.isfinite(high)):
        out["note"] = "a split RDM is constant, so the bounds are undefined"
        return out
    if low > high + 1e-12:
        out["note"] = f"lower bound {low:.3g} above upper bound {high:.3g}"
        return out
    out["low"], out["high"] = low, high
    return out


def _similarity_table(subs: list[np.ndarray], compare: str, distance: str | None):
    """(lower, upper) bound from the groups' RDMs on shared conditions."""
    n = len(subs)
    vectors = [_pool_vector(s, compare, distance) for s in subs]

    def sim(vec, target):
        if compare in RANKED:
            if np.ptp(target) == 0:
                return np.nan
            return _ranked_similarity(vec, target, compare)
        norm = np.linalg.norm(target)
        return float(np.clip(vec @ target / norm, -1.0, 1.0)) if norm > 0 else np.nan

    total = np.sum(vectors, axis=0)
    lower = _mean([sim(vectors[i], (total - vectors[i]) / (n - 1)) for i in range(n)])
    pooled = _mean([sim(v, total / n) for v in vectors])
    own = [_mean([sim(vectors[i], vectors[j]) for i in range(n)]) for j in range(n)]
    candidates = [c for c in (pooled, *own) if np.isfinite(c)]
    return lower, (max(candidates) if candidates else np.nan)


def _mean(values: list[float]) -> float:
    """Mean of the finite values (NaN if none)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else np.nan


def _pool_vector(matrix: np.ndarray, compare: str, distance: str | None) -> np.ndarray:
    """The vector a group contributes to a pooled RDM (ranks for rank comparisons)."""
    if compare in RANKED:
        return rankdata(rdm_vector(matrix))
    return comparison_vector(matrix, compare, distance)


def _ranked_similarity(ranks: np.ndarray, target: np.ndarray, compare: str) -> float:
    """Spearman / tau-a of a group's ranks with a pooled rank vector."""
    if compare == "kendall_tau_a":
        return float(kendall_tau_a(transform_vector(ranks, compare), target))
    a, b = transform_vector(ranks, compare), transform_vector(target, compare)
    return float(np.clip(a @ b, -1.0, 1.0))
