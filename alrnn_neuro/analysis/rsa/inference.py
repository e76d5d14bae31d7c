"""Inference for RDM comparisons: permutation tests, bootstrap CIs, noise ceilings, corrections.

- Permutation test: the condition labels of one RDM are permuted (rows and columns together);
  p = (1 + #{null >= observed}) / (1 + n_perm). Vectorised: the comparison vectors are built
  once (ranked once for Spearman) and each permutation is an index map on the upper triangle.
- Bootstrap over conditions: conditions are resampled with replacement; pairs of a condition
  with its own copy are left out (as rsatoolbox does). Percentile confidence intervals.
- Bootstrap over units: :func:`bootstrap_units` recomputes the data RDM from resampled units.
- Noise ceiling: see :mod:`.ceiling`.
- Multiple comparisons across epochs/windows: Holm or Benjamini-Hochberg (:func:`correct_pvalues`).
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr
from scipy.stats import rankdata

from alrnn_neuro.analysis.rsa.compare import (
    check_compare,
    compare_rdms,
    comparison_vector,
    gram_from_rdm,
    kendall_tau_a,
)
from alrnn_neuro.analysis.rsa.rdm import compute_rdm
from alrnn_neuro.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)
CORRECTIONS = ("holm", "fdr_bh", "bonferroni", "none")


def permutations(n: int, n_perm: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``n_perm`` random permutations of ``range(n)``, shape (n_perm, n)."""
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n), (n_perm, 1)), axis=1)


def permutation_null(
    a: np.ndarray,
    b: np.ndarray,
    *,
    compare: str = "spearman",
    n_perm: int = 10_000,
    seed: int | np.random.Generator = 0,
    perms: np.ndarray | None = None,
    distances: tuple[str | None, str | None] = (None, None),
    chunk: int = 2048,
) -> tuple[float, np.ndarray]:
    """Observed comparison and its null distribution under condition-label permutation.

    Parameters
    ----------
    a, b : ndarray, shape (condition, condition)
        RDMs in the same condition order (no NaN). ``b``'s conditions are permuted.
    compare : str
        See :data:`~.compare.COMPARISONS`.
    n_perm : int
        Number of permutations (ignored when ``perms`` is given).
    seed : int or Generator
        Seed of the permutations.
    perms : ndarray of int, shape (n_perm, condition), optional
        Explicit permutations.
    distances : pair of str
        Distance of each RDM (``"euclidean"`` RDMs are squared for CKA).
    chunk : int
        Permutations per vectorised block (bounds memory).

    Returns
    -------
    estimate : float
    null : ndarray, shape (n_perm,)
    """
    method = check_compare(compare)
    n = a.shape[0]
    va = comparison_vector(a, method, distances[0], "first RDM")
    vb = comparison_vector(b, method, distances[1], "second RDM")
    perms = permutations(n, n_perm, seed) if perms is None else np.asarray(perms)
    rows, cols = np.triu_indices(n, k=1)
    pos = np.zeros((n, n), dtype=np.intp)
    pos[rows, cols] = pos[cols, rows] = np.arange(rows.size)
    null = np.empty(perms.shape[0])
    tau = _TauA(va, vb) if method == "kendall_tau_a" else None
    step = min(chunk, 512) if tau else chunk  # tau-a works on (pairs of pairs, chunk)
    for start in range(0, perms.shape[0], step):
        p = perms[start : start + step]
        idx = pos[p[:, rows], p[:, cols]]
        if method == "cka_biased":  # vector = [diagonal, upper triangle]
            idx = np.concatenate([p, n + idx], axis=1)
        null[start : start + step] = tau(idx) if tau else vb[idx] @ va
    estimate = float(kendall_tau_a(va, vb)) if tau else float(va @ vb)
    return estimate, null


class _TauA:
    """Kendall's tau-a of ``va`` with ``vb[idx]``, vectorised over pairs of RDM entries.

    Only entry pairs (k, l) with ``a_k != a_l`` count; they are oriented so that
    ``a_k > a_l``, and tau-a = sum over them of sign(b_k - b_l) / all pairs, read from an
    int8 sign table of ``vb`` (indices kept small and permutations contiguous for speed).
    """

    def __init__(self, va: np.ndarray, vb: np.ndarray):
        k, l_ = np.triu_indices(va.size, k=1)
        sign = np.sign(va[k] - va[l_])
        self.first = np.where(sign > 0, k, l_)[sign != 0]
        self.second = np.where(sign > 0, l_, k)[sign != 0]
        self.table = np.sign(vb[:, None] - vb[None, :]).astype(np.int8).ravel()
        self.size, self.n_pairs = va.size, k.size
        self.dtype = np.int16 if self.table.size < 2**15 else np.int32

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        entries = np.ascontiguousarray(idx.T, dtype=self.dtype)  # (pair, permutation)
        flat = entries[self.first] * self.dtype(self.size)
        flat += entries[self.second]
        return self.table[flat].sum(axis=0, dtype=np.int64) / self.n_pairs


def permutation_pvalue(estimate: float, null: np.ndarray, alternative: str = "greater") -> float:
    """(1 + #{null at least as extreme}) / (1 + n_perm); ``alternative`` 'greater'/'two-sided'."""
    tol = 1e-12 * max(1.0, abs(estimate))
    if alternative == "greater":
        hits = np.sum(null >= estimate - tol)
    elif alternative == "two-sided":
        hits = np.sum(np.abs(null) >= abs(estimate) - tol)
    else:
        raise ConfigError(f"alternative = {alternative!r}; choose 'greater' or 'two-sided'")
    return float((1 + hits) / (1 + null.size))


def bootstrap_conditions(
    a: np.ndarray,
    b: np.ndarray,
    *,
    compare: str = "spearman",
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
    distances: tuple[str | None, str | None] = (None, None),
    samples: np.ndarray | None = None,
    chunk: int = 250,
) -> np.ndarray:
    """Comparison recomputed on conditions resampled with replacement, shape (n_boot,).

    Vectorised over samples. Pairs of a condition with its own copy are left out (masked);
    for CKA the Grams of the resampled patterns (rows/columns of both RDMs) are used as they
    are. Samples with fewer than 3 distinct conditions or a constant RDM give NaN.
    ``samples`` (n_boot, condition) of condition indices replaces the seeded draw.
    """
    method = check_compare(compare)
    comparison_vector(a, method, distances[0], "first RDM")  # validates the input
    n = a.shape[0]
    if samples is None:
        samples = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    samples = np.asarray(samples)
    n_boot = samples.shape[0]
    out = np.full(n_boot, np.nan)
    for start in range(0, n_boot, chunk):
        s = samples[start : start + chunk]
        if method in ("cka", "cka_biased"):
            out[start : start + chunk] = _batch_cka(a, b, s, method, distances)
        else:
            out[start : start + chunk] = _batch_vector_stat(a, b, s, method)
    distinct = np.sort(samples, axis=1)
    n_distinct = 1 + np.count_nonzero(np.diff(distinct, axis=1), axis=1)
    out[n_distinct < 3] = np.nan
    return out


def _batch_vector_stat(a, b, s, method) -> np.ndarray:
    """Spearman/Pearson/cosine/tau-a over the masked upper triangles of resampled RDMs."""
    rows, cols = np.triu_indices(a.shape[0], k=1)
    si, sj = s[:, rows], s[:, cols]
    ok = si != sj
    # each pair from the upper triangle, as the point estimate reads it: RDMs symmetric only
    # to rounding (1e-14) would otherwise tie or not by the order of the resampled pair
    lo, hi = np.minimum(si, sj), np.maximum(si, sj)
    x, y = a[lo, hi], b[lo, hi]
    if method == "kendall_tau_a":
        k, l_ = np.triu_indices(x.shape[1], k=1)
        both = ok[:, k] & ok[:, l_]
        prod = np.sign(x[:, k] - x[:, l_]) * np.sign(y[:, k] - y[:, l_])
        m = ok.sum(axis=1)
        flat = [
            np.where(ok, v, np.inf).min(axis=1) == np.where(ok, v, -np.inf).max(axis=1)
            for v in (x, y)
        ]
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = np.where(both, prod, 0.0).sum(axis=1) / (m * (m - 1) / 2)
        return np.where(flat[0] | flat[1], np.nan, tau)
    if method == "spearman":
        x = rankdata(np.where(ok, x, np.nan), axis=1, nan_policy="omit")
        y = rankdata(np.where(ok, y, np.nan), axis=1, nan_policy="omit")
    x, y = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    if method in ("spearman", "pearson"):
        count = np.maximum(ok.sum(axis=1, keepdims=True), 1)
        x = np.where(ok, x - x.sum(axis=1, keepdims=True) / count, 0.0)
        y = np.where(ok, y - y.sum(axis=1, keepdims=True) / count, 0.0)
    return _cosine_rows(x, y)


def _batch_cka(a, b, s, method, distances) -> np.ndarray:
    """CKA of the Grams of resampled conditions (centring-invariant, so Grams are indexed)."""
    grams = []
    for matrix, kind in zip((a, b), distances, strict=True):
        g = gram_from_rdm(matrix, kind)[s[:, :, None], s[:, None, :]]
        if method == "cka":
            n = g.shape[1]
            g = g * (1 - np.eye(n))
            row = g.sum(axis=2)
            total = row.sum(axis=1)[:, None, None]
            g = g - row[:, :, None] / (n - 2) - row[:, None, :] / (n - 2)
            g = (g + total / ((n - 1) * (n - 2))) * (1 - np.eye(n))
        else:
            g = (
                g
                - g.mean(axis=1, keepdims=True)
                - g.mean(axis=2, keepdims=True)
                + g.mean(axis=(1, 2), keepdims=True)
            )
        grams.append(g.reshape(g.shape[0], -1))
    return _cosine_rows(*grams)


def _cosine_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise cosine; NaN for zero rows."""
    den = np.sqrt(np.einsum("ij,ij->i", x, x) * np.einsum("ij,ij->i", y, y))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.einsum("ij,ij->i", x, y) / den
    return np.where(den > 1e-300, np.clip(out, -1.0, 1.0), np.nan)


def bootstrap_units(
    patterns: xr.DataArray,
    labels: xr.DataArray,
    reference: xr.DataArray,
    *,
    compare: str = "spearman",
    n_boot: int = 200,
    seed: int = 0,
    **rdm_kwargs,
) -> xr.DataArray:
    """Comparison of ``reference`` with RDMs from ``patterns`` whose units are resampled.

    Parameters
    ----------
    patterns : xr.DataArray, dims (..., trial, feature)
        Per-trial patterns of the data whose units are resampled (with replacement).
    labels : xr.DataArray, dims (trial,)
        Condition labels.
    reference : xr.DataArray, dims (..., condition, condition2)
        The other RDM (e.g. the model's).
    compare : str
        Comparison (see :data:`~.compare.COMPARISONS`).
    n_boot : int
        Bootstrap samples.
    seed : int
        Seed of the resampling.
    **rdm_kwargs
        ``distance``, ``noise``, ``folds``, ``min_units`` of :func:`~.rdm.compute_rdm`.

    Returns
    -------
    xr.DataArray, dims (..., bootstrap)
    """
    rng = np.random.default_rng(seed)
    feature = patterns.dims[-1]
    samples = []
    for _ in range(n_boot):
        pick = rng.integers(0, patterns.sizes[feature], patterns.sizes[feature])
        resampled = patterns.isel({feature: pick}).drop_vars(feature, errors="ignore")
        try:
            rdm = compute_rdm(resampled, labels, **rdm_kwargs)
            samples.append(compare_rdms(reference, rdm, compare=compare))
        except DataValidationError as exc:
            log.warning("bootstrap_units: sample skipped (%s)", exc)
    if not samples:
        raise DataValidationError("bootstrap_units: every bootstrap sample failed; see the log")
    return xr.concat(samples, dim="bootstrap")


def correct_pvalues(p: np.ndarray, correction: str = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons (Holm step-down or Benjamini-Hochberg FDR).

    NaN entries are ignored and stay NaN.

    Examples
    --------
    >>> correct_pvalues(np.array([0.01, 0.04, 0.03]), "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> correct_pvalues(np.array([0.01, 0.04, 0.03]), "fdr_bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    if correction not in CORRECTIONS:
        raise ConfigError(f"correction = {correction!r}; choose from {list(CORRECTIONS)}")
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if m == 0 or correction == "none":
        out[ok] = q
        return out
    order = np.argsort(q)
    if correction == "bonferroni":
        adj = np.minimum(q * m, 1.0)
    elif correction == "holm":
        stepped = np.maximum.accumulate((m - np.arange(m)) * q[order])
        adj = np.empty(m)
        adj[order] = np.minimum(stepped, 1.0)
    else:
        scaled = q[order] * m / np.arange(1, m + 1)
        stepped = np.minimum.accumulate(scaled[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(stepped, 1.0)
    out[ok] = adj
    return out
