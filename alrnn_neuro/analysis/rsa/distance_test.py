"""Two-condition questions: is the distance between two conditions above zero?

An RDM of two conditions has one entry, so there is nothing to correlate with a model RDM.
The question it can answer is whether the two conditions are represented differently at all:
the cross-validated (crossnobis) distance is unbiased, 0 in expectation when the two condition
means are equal, so a positive value is evidence of a difference.

:func:`distance_test` gives that distance per segment and a permutation p-value: the two
condition labels are permuted across trials (within groups of trials that observed the same
units, so a pseudo-population keeps each unit's trials) and the distance is recomputed,
noise estimate included; p = (1 + #{null >= observed}) / (1 + n_perm), one-sided. The test
is valid for any distance; crossnobis makes the value itself interpretable against 0.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.rsa.conditions import condition_order
from alrnn_neuro.analysis.rsa.rdm import compute_rdm, relabelled_rdms
from alrnn_neuro.errors import DataValidationError


def distance_test(
    patterns: xr.DataArray,
    labels: xr.DataArray,
    *,
    n_perm: int = 1000,
    seed: int = 0,
    **rdm_kwargs,
) -> xr.Dataset:
    """Distance between exactly two conditions, with a label-permutation p-value.

    Parameters
    ----------
    patterns : xr.DataArray, dims (..., trial, feature)
        Per-trial patterns (e.g. from :func:`~.conditions.trial_patterns`).
    labels : xr.DataArray, dims (trial,)
        Condition labels with exactly two conditions.
    n_perm : int
        Label permutations (0: no p-value).
    seed : int
        Seed of the permutations.
    **rdm_kwargs
        ``distance`` (default crossnobis), ``noise``, ``folds``, ``min_units`` of
        :func:`~.rdm.compute_rdm`.

    Returns
    -------
    xr.Dataset
        Over the stacking dims of ``patterns``: ``distance`` (NaN where a segment lacks
        trials or units), ``p_value``, ``null_mean`` (mean of the permutation distances),
        ``n_units`` (units behind the distance). attrs: the two conditions, distance,
        n_perm, seed.

    Raises
    ------
    DataValidationError
        If ``labels`` does not hold exactly two conditions.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 6)) + np.repeat([[0.0], [1.5]], 20, axis=0)
    >>> pat = xr.DataArray(x, dims=("trial", "unit"), coords={"trial": np.arange(40)})
    >>> lab = xr.DataArray(np.repeat(["a", "b"], 20), dims="trial", coords={"trial": np.arange(40)})
    >>> out = distance_test(pat, lab, n_perm=99, noise=None)
    >>> bool(out["distance"] > 1.0), float(out["p_value"])
    (True, 0.01)
    """
    names = condition_order(labels)[0]
    if names.size != 2:
        raise DataValidationError(
            f"distance_test needs exactly 2 conditions; the labels hold {names.size} "
            f"({names[:5].tolist()}); fix: compare RDMs (run_rsa) for 3 or more conditions"
        )
    rdm_kwargs.setdefault("distance", "crossnobis")
    observed = compute_rdm(patterns, labels, **rdm_kwargs)
    value = observed.isel(condition=0, condition2=1)
    units = observed["pair_units"].isel(condition=0, condition2=1)
    stack = [d for d in observed.dims if d not in ("condition", "condition2")]
    null = np.full((n_perm, *value.shape), np.nan)
    strata = _observed_strata(patterns)
    rng = np.random.default_rng(seed)
    rdm_of = relabelled_rdms(patterns, labels, **rdm_kwargs)  # patterns laid out once
    for k in range(n_perm):
        null[k] = rdm_of(_permute_within(labels.values, strata, rng))[..., 0, 1]
    obs = value.values
    tol = 1e-12 * np.maximum(1.0, np.abs(obs))
    with np.errstate(invalid="ignore"):
        hits = np.sum(null >= (obs - tol)[None], axis=0)
    p = np.where(np.isfinite(obs) & (n_perm > 0), (1 + hits) / (1 + n_perm), np.nan)
    finite = np.isfinite(null)
    with np.errstate(invalid="ignore", divide="ignore"):
        null_mean = np.where(finite, null, 0.0).sum(axis=0) / finite.sum(axis=0)
    coords = {d: observed[d].values for d in stack if d in observed.coords}
    out = xr.Dataset(
        {
            "distance": (stack, obs),
            "p_value": (stack, p),
            "null_mean": (stack, null_mean),
            "n_units": (stack, units.values.astype(np.int64)),
        },
        coords=coords,
    )
    out.attrs.update(
        conditions=[str(n) for n in names],
        distance=rdm_kwargs["distance"],
        n_perm=int(n_perm),
        seed=int(seed),
        alternative="greater",
    )
    return out


def _observed_strata(patterns: xr.DataArray) -> np.ndarray:
    """Group id of each trial by the set of features it observed (one group if all)."""
    values = patterns.transpose(..., "trial", patterns.dims[-1]).values
    seen = ~np.isnan(values.reshape(-1, *values.shape[-2:])).all(axis=0)
    return np.unique(seen, axis=0, return_inverse=True)[1].ravel()


def _permute_within(values: np.ndarray, strata: np.ndarray, rng: np.random.Generator):
    """``values`` permuted within each stratum."""
    out = np.array(values, copy=True)
    for group in np.unique(strata):
        members = np.flatnonzero(strata == group)
        out[members] = out[members[rng.permutation(members.size)]]
    return out
