"""Compare RDMs: rank/linear correlations, cosine, Kendall's tau-a and linear CKA.

Every comparison except tau-a is a cosine between two vectors made from the RDMs by a
transform that commutes with relabelling the conditions (what permutation inference needs):

=================  ===========================================================================
compare            vector (from one RDM ``D``, n conditions)
=================  ===========================================================================
``pearson``        upper triangle of ``D``, centred
``spearman``       ranks of the upper triangle (ties: average rank), centred
``cosine``         upper triangle of ``D``
``cka``            upper triangle of the U-centred Gram ``K = -D2 / 2`` (debiased linear CKA;
                   equals the unbiased HSIC estimator of Song et al. 2012, Kornblith et al. 2019)
``cka_biased``     diagonal and sqrt(2) x upper triangle of the double-centred Gram ``H K H``
=================  ===========================================================================

``kendall_tau_a`` = (concordant - discordant pairs) / all pairs of RDM entries; tied pairs count 0.
For CKA, ``D2`` is the squared Euclidean-type distance (``euclidean`` RDMs are squared, every
other distance of :mod:`.rdm` already is one; ``correlation`` = squared distance of z-scored
patterns); the Gram of condition-mean patterns ``X`` is then ``H X X' H`` up to scale.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.stats import rankdata

from alrnn_neuro.errors import ConfigError, DataValidationError

COMPARISONS = ("spearman", "kendall_tau_a", "pearson", "cosine", "cka", "cka_biased")
#: accepted spellings (the CLI's ``tau-a`` among them) -> name in :data:`COMPARISONS`
COMPARE_ALIASES = {
    "tau-a": "kendall_tau_a",
    "tau_a": "kendall_tau_a",
    "kendall": "kendall_tau_a",
} | {name: name for name in COMPARISONS}


def rdm_vector(matrix: np.ndarray) -> np.ndarray:
    """Upper triangle (above the diagonal, row-major as ``scipy.spatial.distance.squareform``)."""
    matrix = np.asarray(matrix)
    rows, cols = np.triu_indices(matrix.shape[-1], k=1)
    return matrix[..., rows, cols]


def gram_from_rdm(matrix: np.ndarray, distance: str | None = None) -> np.ndarray:
    """Double-centred Gram ``-H D2 H / 2`` of an RDM (``D2`` = squared distances)."""
    d2 = np.asarray(matrix, dtype=np.float64)
    if distance == "euclidean":
        d2 = d2**2
    n = d2.shape[0]
    h = np.eye(n) - 1.0 / n
    return -0.5 * h @ d2 @ h


def u_centre(gram: np.ndarray) -> np.ndarray:
    """U-centred Gram (Székely & Rizzo 2014): zero diagonal, unbiased HSIC building block."""
    k = np.array(gram, dtype=np.float64)
    n = k.shape[0]
    np.fill_diagonal(k, 0.0)
    row = k.sum(axis=0)
    out = k - row[:, None] / (n - 2) - row[None, :] / (n - 2) + k.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(out, 0.0)
    return out


def comparison_vector(
    matrix: np.ndarray, compare: str, distance: str | None = None, name: str = "rdm"
) -> np.ndarray:
    """Unit-norm vector whose dot product with another's is the comparison (see module doc).

    For ``kendall_tau_a`` the raw upper triangle is returned (tau-a is not a dot product).
    """
    method = check_compare(compare)
    if method in ("cka", "cka_biased"):
        if matrix.shape[0] < 4:
            raise DataValidationError(
                f"{name} has {matrix.shape[0]} conditions; CKA needs >= 4; fix: more conditions"
            )
        gram = gram_from_rdm(matrix, distance)
        if method == "cka":
            vec = rdm_vector(u_centre(gram))
        else:
            vec = np.concatenate([np.diag(gram), np.sqrt(2.0) * rdm_vector(gram)])
    else:
        return transform_vector(rdm_vector(matrix), method, name)
    return _unit(vec, name, method)


def transform_vector(vec: np.ndarray, compare: str, name: str = "rdm") -> np.ndarray:
    """Comparison vector of an RDM's upper triangle for the non-CKA comparisons."""
    method = check_compare(compare)
    vec = np.asarray(vec, dtype=np.float64)
    if method == "kendall_tau_a":
        _check_not_constant(vec, name, method)
        return vec
    if method == "spearman":
        vec = rankdata(vec)
    if method in ("spearman", "pearson"):
        _check_not_constant(vec, name, method)
        vec = vec - vec.mean()
    return _unit(vec, name, method)


def compare_vectors(x: np.ndarray, y: np.ndarray, compare: str = "spearman") -> float:
    """Compare two RDM vectors (upper triangles) with a non-CKA comparison."""
    method = check_compare(compare)
    if method in ("cka", "cka_biased"):
        raise ConfigError(f"compare = {method!r} needs full matrices; use compare_matrices")
    vx, vy = transform_vector(x, method, "first RDM"), transform_vector(y, method, "second RDM")
    if method == "kendall_tau_a":
        return float(kendall_tau_a(vx, vy))
    return float(np.clip(vx @ vy, -1.0, 1.0))


def _unit(vec: np.ndarray, name: str, method: str) -> np.ndarray:
    norm = np.linalg.norm(vec)
    if not norm > 0:
        raise DataValidationError(
            f"{name} gives a zero vector for compare={method!r} (all dissimilarities 0 or "
            "constant), so the comparison is undefined; fix: check the RDM, e.g. silent data"
        )
    return vec / norm


def kendall_tau_a(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """Kendall's tau-a between vector ``a`` (p,) and vector(s) ``b`` (..., p), over all pairs.

    Examples
    --------
    >>> float(kendall_tau_a(np.array([1.0, 2, 3]), np.array([1.0, 3, 2])))
    0.3333333333333333
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    i, j = np.triu_indices(a.size, k=1)
    sign_a = np.sign(a[i] - a[j])
    return np.sign(b[..., i] - b[..., j]) @ sign_a / i.size


def compare_matrices(
    a: np.ndarray,
    b: np.ndarray,
    compare: str = "spearman",
    distances: tuple[str | None, str | None] = (None, None),
) -> float:
    """Compare two (condition, condition) RDM matrices with the same condition order.

    ``distances`` are the RDMs' distances (``euclidean`` RDMs are squared for CKA).
    """
    method = check_compare(compare)
    va = comparison_vector(a, method, distances[0], "first RDM")
    vb = comparison_vector(b, method, distances[1], "second RDM")
    if method == "kendall_tau_a":
        return float(kendall_tau_a(va, vb))
    return float(np.clip(va @ vb, -1.0, 1.0))


def linear_cka(
    x: np.ndarray | xr.DataArray, y: np.ndarray | xr.DataArray, *, debiased: bool = True
) -> float:
    """Linear CKA between two sets of patterns of the same samples (rows).

    Parameters
    ----------
    x : array, shape (sample, feature_x)
    y : array, shape (sample, feature_y)
        E.g. condition-mean patterns of model latents and of recorded units.
    debiased : bool
        Unbiased HSIC estimator (Song et al. 2012) instead of the biased one, whose value is
        inflated for few samples and many features.

    Returns
    -------
    float

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(20, 5))
    >>> round(linear_cka(x, 2 * x + 1), 6)
    1.0
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise DataValidationError(
            f"x has {x.shape[0]} samples and y {y.shape[0]}; CKA needs the same samples "
            "(rows) in both; fix: use patterns of the same conditions/trials"
        )
    dx = np.sum((x[:, None] - x[None]) ** 2, axis=-1)
    dy = np.sum((y[:, None] - y[None]) ** 2, axis=-1)
    return compare_matrices(dx, dy, "cka" if debiased else "cka_biased")


def align_rdms(rdm_a: xr.DataArray, rdm_b: xr.DataArray, *, check_trials: bool = True):
    """Put ``rdm_b``'s conditions in ``rdm_a``'s order and align shared stacking dims."""
    names_a, names_b = rdm_a["condition"].values, rdm_b["condition"].values
    if set(names_a) != set(names_b):
        raise DataValidationError(
            f"the RDMs have different conditions: only in the first "
            f"{sorted(set(names_a) - set(names_b))[:5]}, only in the second "
            f"{sorted(set(names_b) - set(names_a))[:5]}; fix: build both "
            "with the same conditions= from the same trials"
        )
    digests = (rdm_a.attrs.get("trials_digest"), rdm_b.attrs.get("trials_digest"))
    if check_trials and None not in digests and digests[0] != digests[1]:
        raise DataValidationError(
            f"mismatched trials: the RDMs were computed from different trial sets (digests "
            f"{digests[0]} vs {digests[1]}); fix: compute both from the same trials "
            "(e.g. data.sel(trial=latents.trial)), or pass check_trials=False"
        )
    rdm_b = rdm_b.sel(condition=names_a, condition2=names_a)
    extra = [
        c
        for c, v in rdm_b.coords.items()
        if c not in rdm_b.dims and {"condition", "condition2"} & set(v.dims)
    ]
    rdm_b = rdm_b.drop_vars(extra)
    shared = [d for d in rdm_a.dims if d in rdm_b.dims and d not in ("condition", "condition2")]
    if shared:
        rdm_a, rdm_b = xr.align(rdm_a, rdm_b, join="inner", exclude=["condition", "condition2"])
        empty = [d for d in shared if rdm_a.sizes[d] == 0]
        if empty:
            raise DataValidationError(
                f"the RDMs share no labels along {empty}; fix: use the "
                "same epochs/windows/regions in both"
            )
    return rdm_a, rdm_b


def compare_rdms(
    rdm_a: xr.DataArray,
    rdm_b: xr.DataArray,
    *,
    compare: str = "spearman",
    check_trials: bool = True,
) -> xr.DataArray:
    """Compare two RDMs (or stacks of RDMs, e.g. model vs neural per epoch).

    Parameters
    ----------
    rdm_a, rdm_b : xr.DataArray, dims (..., condition, condition2)
        RDMs over the same conditions; shared stacking dims (``epoch``...) are matched by
        label, others broadcast. Conditions NaN in either RDM are left out per element.
    compare : {"spearman", "kendall_tau_a", "pearson", "cosine", "cka", "cka_biased"}
        Comparison (aliases of :data:`COMPARE_ALIASES`, e.g. ``"tau-a"``, accepted).
    check_trials : bool
        Refuse RDMs computed from different trial sets.

    Returns
    -------
    xr.DataArray, dims (...)
        One similarity per stacking element.
    """
    method = check_compare(compare)
    rdm_a, rdm_b = align_rdms(rdm_a, rdm_b, check_trials=check_trials)
    kinds = (rdm_a.attrs.get("distance"), rdm_b.attrs.get("distance"))
    va, vb = _vectors(rdm_a, method, kinds[0]), _vectors(rdm_b, method, kinds[1])
    if method == "kendall_tau_a":
        k, l_ = np.triu_indices(va.sizes["entry"], k=1)
        n_pairs = k.size
        va, vb = (np.sign(v.isel(entry=k) - v.isel(entry=l_).values) for v in (va, vb))
        out = xr.dot(va, vb, dim="entry") / n_pairs
    else:
        out = xr.dot(va, vb, dim="entry").clip(-1.0, 1.0)
    values = np.array(out.values, dtype=np.float64, ndmin=1).reshape(out.shape)
    for pos in np.argwhere(np.isnan(values)):  # elements with NaN conditions: drop them
        where = dict(zip(out.dims, pos, strict=True))
        x = rdm_a.isel({d: i for d, i in where.items() if d in rdm_a.dims})
        y = rdm_b.isel({d: i for d, i in where.items() if d in rdm_b.dims})
        pair = finite_conditions(x.values, y.values)
        if pair is not None:  # else NaN: e.g. a late time bin with few trials left
            values[tuple(pos)] = compare_matrices(*pair, method, kinds)
    check_some_finite(values)
    return out.copy(data=values).rename(method).assign_attrs(compare=method)


def _vectors(rdm: xr.DataArray, method: str, kind: str | None) -> xr.DataArray:
    """Comparison vectors of every RDM of a stack, dims (..., entry)."""
    stack = [d for d in rdm.dims if d not in ("condition", "condition2")]
    values = rdm.transpose(*stack, "condition", "condition2").values
    n = values.shape[-1]
    flat = values.reshape(-1, n, n)
    vectors = np.stack(
        [
            np.full(_entries(n, method), np.nan)
            if np.isnan(m).any()
            else comparison_vector(m, method, kind)
            for m in flat
        ]
    )
    coords = {d: rdm[d].values for d in stack if d in rdm.coords}
    shape = [rdm.sizes[d] for d in stack]
    return xr.DataArray(vectors.reshape(*shape, -1), dims=(*stack, "entry"), coords=coords)


def cross_compare(
    rdm_a: xr.DataArray,
    rdm_b: xr.DataArray,
    *,
    dim: str = "time",
    compare: str = "spearman",
    check_trials: bool = True,
) -> xr.DataArray:
    """Similarity of every RDM of ``rdm_a`` along ``dim`` with every one of ``rdm_b``.

    Returns
    -------
    xr.DataArray, dims (dim, dim + "2")
        E.g. (time, time2): model time x neural time.
    """
    for name, rdm in (("rdm_a", rdm_a), ("rdm_b", rdm_b)):
        if dim not in rdm.dims:
            raise ConfigError(f"dim = {dim!r} is not a dim of {name} {rdm.dims}")
    renamed = rdm_b.rename({dim: f"{dim}2"})
    return compare_rdms(rdm_a, renamed, compare=compare, check_trials=check_trials)


def finite_conditions(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Drop conditions with NaN dissimilarities in either matrix (most NaNs first).

    Returns None when fewer than 3 conditions are left (nothing to compare).
    """
    keep = finite_condition_mask(a, b)
    if keep.sum() < 3:
        return None
    return a[np.ix_(keep, keep)], b[np.ix_(keep, keep)]


def finite_condition_mask(*matrices: np.ndarray) -> np.ndarray:
    """Conditions left when those with NaN dissimilarities in any matrix are dropped, the
    condition with the most NaN entries first (so one missing pair costs one condition).

    Returns
    -------
    ndarray of bool, shape (condition,)
    """
    bad = np.zeros(np.shape(matrices[0]), dtype=bool)
    for matrix in matrices:
        bad |= np.isnan(matrix)
    keep = np.ones(bad.shape[0], dtype=bool)
    while bad[np.ix_(keep, keep)].any():
        counts = np.where(keep, bad[:, keep].sum(axis=1), -1)
        keep[np.argmax(counts)] = False
    return keep


def check_some_finite(values: np.ndarray) -> None:
    """Raise when no element had >= 3 conditions with finite dissimilarities in both RDMs."""
    if values.size and np.all(np.isnan(values)):
        raise DataValidationError(
            "no RDM pair has >= 3 conditions with finite dissimilarities in both RDMs; fix: "
            "check for segments without (enough) trials per condition"
        )


def _entries(n: int, method: str) -> int:
    """Length of the comparison vector of an n-condition RDM."""
    return n * (n - 1) // 2 + (n if method == "cka_biased" else 0)


def _check_not_constant(vec: np.ndarray, name: str, method: str) -> None:
    if vec.size < 2 or np.ptp(vec) == 0:
        raise DataValidationError(
            f"{name} is constant (all {vec.size} dissimilarities = "
            f"{vec[0] if vec.size else 'n/a'}), so "
            f"compare={method!r} (a correlation) is undefined; fix: check the data behind it, "
            "or use compare='cosine'"
        )


def check_compare(compare: str) -> str:
    """The canonical name of a comparison (``"tau-a"`` -> ``"kendall_tau_a"``).

    Raises
    ------
    ConfigError
        For a name not in :data:`COMPARE_ALIASES`.
    """
    if compare not in COMPARE_ALIASES:
        raise ConfigError(
            f"compare = {compare!r} is not a comparison; choose from {list(COMPARISONS)} "
            "('tau-a' = 'kendall_tau_a')"
        )
    return COMPARE_ALIASES[compare]
