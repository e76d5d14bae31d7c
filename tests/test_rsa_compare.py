"""RSA comparisons against scipy and brute-force references; CKA bias; alignment errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform
from scipy.stats import kendalltau, pearsonr, spearmanr

from alrnn_neuro.analysis.rsa import (
    compare_matrices,
    compare_rdms,
    compute_rdms,
    cross_compare,
    kendall_tau_a,
    linear_cka,
    rdm_vector,
)
from alrnn_neuro.errors import ConfigError, DataValidationError
from tests.test_rsa_rdm import make_rsa_dataset


def _random_rdm(rng, n=8, n_feat=5, ties=False):
    d = squareform(pdist(rng.normal(size=(n, n_feat))))
    return np.round(d, 0) if ties else d


def _tau_a_brute(x, y):
    total = 0
    for i in range(x.size):
        for j in range(i + 1, x.size):
            total += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return total / (x.size * (x.size - 1) / 2)


def test_correlations_match_scipy_and_brute_force():
    rng = np.random.default_rng(0)
    a, b = _random_rdm(rng), _random_rdm(rng)
    va, vb = rdm_vector(a), rdm_vector(b)
    assert va.size == 28 and np.array_equal(va, squareform(a, checks=False))
    assert compare_matrices(a, b, "spearman") == pytest.approx(spearmanr(va, vb)[0], abs=1e-12)
    assert compare_matrices(a, b, "pearson") == pytest.approx(pearsonr(va, vb)[0], abs=1e-12)
    cosine = va @ vb / np.linalg.norm(va) / np.linalg.norm(vb)
    assert compare_matrices(a, b, "cosine") == pytest.approx(cosine, abs=1e-12)
    # no ties: tau-b (scipy) equals tau-a
    assert compare_matrices(a, b, "kendall_tau_a") == pytest.approx(
        kendalltau(va, vb)[0], abs=1e-12
    )


def test_tau_a_with_ties_matches_brute_force_not_tau_b():
    rng = np.random.default_rng(1)
    a, b = _random_rdm(rng, ties=True), _random_rdm(rng, ties=True)
    va, vb = rdm_vector(a), rdm_vector(b)
    ours = compare_matrices(a, b, "kendall_tau_a")
    assert ours == pytest.approx(_tau_a_brute(va, vb), abs=1e-12)
    assert abs(ours) < abs(kendalltau(va, vb)[0])  # tau-b divides by fewer pairs
    batch = kendall_tau_a(va, np.stack([vb, va]))
    assert batch[1] == pytest.approx(_tau_a_brute(va, va))


def _song_unbiased_hsic(k, l_):
    """Song et al. (2012) eq. 5, written out from the paper."""
    n = k.shape[0]
    kt, lt = k.copy(), l_.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    one = np.ones(n)
    return (
        np.trace(kt @ lt)
        + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
        - 2 / (n - 2) * one @ kt @ lt @ one
    ) / (n * (n - 3))


def test_debiased_cka_equals_song_estimator_and_biased_equals_kornblith():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 4)) + 3.0  # non-centred on purpose
    y = x @ rng.normal(size=(4, 7)) + rng.normal(size=(12, 7))
    k, l_ = x @ x.T, y @ y.T
    song = _song_unbiased_hsic(k, l_) / np.sqrt(
        _song_unbiased_hsic(k, k) * _song_unbiased_hsic(l_, l_)
    )
    assert linear_cka(x, y) == pytest.approx(song, abs=1e-10)
    xc, yc = x - x.mean(0), y - y.mean(0)
    biased = np.linalg.norm(yc.T @ xc) ** 2 / (
        np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)
    )
    assert linear_cka(x, y, debiased=False) == pytest.approx(biased, abs=1e-10)
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    assert linear_cka(x, 3 * x @ rotation + 1) == pytest.approx(1.0, abs=1e-10)
    # from RDMs of the same patterns (squared and plain Euclidean)
    dx, dy = squareform(pdist(x, "sqeuclidean")), squareform(pdist(y))
    assert compare_matrices(dx, dy, "cka", ("sqeuclidean", "euclidean")) == pytest.approx(song)


def test_debiased_cka_is_near_zero_for_independent_features_biased_is_not():
    rng = np.random.default_rng(3)
    debiased, biased = [], []
    for _ in range(40):
        x, y = rng.normal(size=(10, 200)), rng.normal(size=(10, 200))
        debiased.append(linear_cka(x, y))
        biased.append(linear_cka(x, y, debiased=False))
    assert abs(np.mean(debiased)) < 3 * np.std(debiased) / np.sqrt(40) + 0.01
    assert np.mean(biased) > 0.5  # few samples, many features: heavily inflated


def test_compare_rdms_per_epoch_and_cross_time():
    ds = make_rsa_dataset(n_units=8)
    model = compute_rdms(ds, ["rule", "side"], by="epoch", distance="sqeuclidean")
    data = compute_rdms(ds, ["rule", "side"], by="epoch", distance="crossnobis")
    table = compare_rdms(model, data.isel(epoch=[1, 0]), compare="pearson")  # order by label
    assert table.dims == ("epoch",)
    for name in ("pre", "stim"):
        expected = pearsonr(
            rdm_vector(model.sel(epoch=name).values), rdm_vector(data.sel(epoch=name).values)
        )[0]
        assert float(table.sel(epoch=name)) == pytest.approx(expected, abs=1e-12)
    timed = compute_rdms(ds, ["rule", "side"], by="time", distance="sqeuclidean")
    cross = cross_compare(timed, timed.isel(time=slice(0, 4)), compare="spearman")
    assert cross.dims == ("time", "time2") and cross.shape == (10, 4)
    np.testing.assert_allclose(np.diag(cross.values[:4, :4]), 1.0)
    expected = spearmanr(
        rdm_vector(timed.isel(time=7).values), rdm_vector(timed.isel(time=2).values)
    )[0]
    assert float(cross.isel(time=7, time2=2)) == pytest.approx(expected, abs=1e-12)


def test_conditions_nan_in_a_segment_are_left_out():
    rng = np.random.default_rng(4)
    a, b = _random_rdm(rng, n=6), _random_rdm(rng, n=6)
    names = [f"c{i}" for i in range(6)]
    da = xr.DataArray(
        a, dims=("condition", "condition2"), coords={"condition": names, "condition2": names}
    )
    b_nan = b.copy()
    b_nan[2, :] = b_nan[:, 2] = np.nan
    db = da.copy(data=b_nan)
    keep = [0, 1, 3, 4, 5]
    expected = compare_matrices(a[np.ix_(keep, keep)], b[np.ix_(keep, keep)], "spearman")
    assert float(compare_rdms(da, db)) == pytest.approx(expected)


def test_comparison_errors_name_the_problem():
    ds = make_rsa_dataset()
    rdm = compute_rdms(ds, ["rule", "side"], by=None, distance="sqeuclidean")
    with pytest.raises(DataValidationError, match="constant.*undefined"):
        compare_rdms(rdm, rdm.copy(data=1 - np.eye(4)), compare="spearman")
    other = compute_rdms(
        ds.isel(trial=slice(0, 40)), ["rule", "side"], by=None, distance="sqeuclidean"
    )
    with pytest.raises(DataValidationError, match="mismatched trials"):
        compare_rdms(rdm, other)
    by_rule = compute_rdms(ds, ["rule", "block"], by=None, distance="sqeuclidean")
    with pytest.raises(DataValidationError, match="different conditions"):
        compare_rdms(rdm, by_rule)
    with pytest.raises(ConfigError, match=r"compare = 'kendal'.*choose from.*'tau-a'"):
        compare_rdms(rdm, rdm, compare="kendal")


def test_one_comparison_vocabulary_with_aliases():
    ds = make_rsa_dataset()
    a = compute_rdms(ds, ["rule", "side"], by="epoch", distance="sqeuclidean")
    b = compute_rdms(ds, ["rule", "side"], by="epoch", distance="crossnobis")
    canonical = compare_rdms(a, b, compare="kendall_tau_a")
    for alias in ("tau-a", "tau_a", "kendall"):
        assert np.array_equal(compare_rdms(a, b, compare=alias).values, canonical.values)
    assert canonical.attrs["compare"] == "kendall_tau_a"
