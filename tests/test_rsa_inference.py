"""RSA inference: vectorised permutations vs a loop, null calibration, bootstrap, ceiling, FDR."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform

from alrnn_neuro.analysis.rsa import (
    COMPARISONS,
    bootstrap_conditions,
    bootstrap_units,
    compare_matrices,
    compare_vectors,
    compute_rdm,
    compute_rdms,
    condition_labels,
    correct_pvalues,
    noise_ceiling,
    permutation_null,
    permutation_pvalue,
    rsa_table,
    trial_patterns,
)
from alrnn_neuro.analysis.rsa.inference import permutations
from alrnn_neuro.errors import ConfigError
from tests.rsa_checks import assert_ceiling_ordered
from tests.test_rsa_rdm import make_rsa_dataset


def _rdm(rng, n=8, n_feat=6):
    return squareform(pdist(rng.normal(size=(n, n_feat)), "sqeuclidean"))


@pytest.mark.parametrize("method", COMPARISONS)
def test_vectorised_null_equals_a_loop_over_permuted_matrices(method):
    rng = np.random.default_rng(0)
    a, b = _rdm(rng), _rdm(rng)
    perms = permutations(8, 60, seed=1)
    estimate, null = permutation_null(a, b, compare=method, perms=perms, chunk=25)
    loop = [compare_matrices(a, b[np.ix_(p, p)], method) for p in perms]
    np.testing.assert_allclose(null, loop, atol=1e-12)
    assert estimate == pytest.approx(compare_matrices(a, b, method), abs=1e-12)


def test_tau_a_null_with_a_categorical_model_rdm_equals_the_loop():
    rng = np.random.default_rng(9)
    category = np.arange(10) % 3
    model = (category[:, None] != category[None, :]).astype(float)  # ties everywhere
    data = np.round(_rdm(rng, n=10), 0)  # ties in the data too
    perms = permutations(10, 300, seed=2)
    _, null = permutation_null(model, data, compare="kendall_tau_a", perms=perms)
    loop = [compare_matrices(model, data[np.ix_(p, p)], "kendall_tau_a") for p in perms]
    np.testing.assert_allclose(null, loop, atol=1e-12)


def test_permutation_pvalues_are_roughly_uniform_under_the_null():
    rng = np.random.default_rng(2)
    p = np.array(
        [
            permutation_pvalue(*permutation_null(_rdm(rng), _rdm(rng), n_perm=199, seed=k))
            for k in range(200)
        ]
    )
    assert 0.01 <= np.mean(p < 0.05) <= 0.11
    assert 0.4 < p.mean() < 0.6
    assert 0.3 < np.mean(p < 0.5) < 0.7


def test_related_rdms_are_significant_and_identical_ones_hit_the_floor():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 5))
    a = squareform(pdist(x))
    b = squareform(pdist(x + 0.3 * rng.normal(size=x.shape)))
    estimate, null = permutation_null(a, b, compare="spearman", n_perm=999, seed=0)
    assert estimate > 0.5 and permutation_pvalue(estimate, null) == pytest.approx(1 / 1000)
    with pytest.raises(ConfigError, match="alternative"):
        permutation_pvalue(estimate, null, alternative="less")


def test_bootstrap_over_conditions_brackets_the_estimate():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(12, 5))
    a, b = squareform(pdist(x)), squareform(pdist(x + 0.5 * rng.normal(size=x.shape)))
    samples = bootstrap_conditions(a, b, compare="spearman", n_boot=300, seed=0)
    estimate = compare_matrices(a, b, "spearman")
    low, high = np.nanquantile(samples, [0.025, 0.975])
    assert low < estimate < high and high - low < 0.6
    again = bootstrap_conditions(a, b, compare="spearman", n_boot=300, seed=0)
    np.testing.assert_array_equal(samples, again)


@pytest.mark.parametrize("method", COMPARISONS)
def test_vectorised_bootstrap_equals_a_loop_over_resampled_conditions(method):
    rng = np.random.default_rng(6)
    a, b = _rdm(rng, n=9), np.round(_rdm(rng, n=9), 0)
    samples = rng.integers(0, 9, (40, 9))
    ours = bootstrap_conditions(a, b, compare=method, samples=samples, chunk=16)
    rows, cols = np.triu_indices(9, k=1)
    loop = []
    for s in samples:
        if method.startswith("cka"):  # Gram of the resampled patterns
            loop.append(compare_matrices(a[np.ix_(s, s)], b[np.ix_(s, s)], method))
            continue
        keep = s[rows] != s[cols]  # leave out pairs of a condition with its own copy
        x, y = a[s[rows], s[cols]][keep], b[s[rows], s[cols]][keep]
        loop.append(compare_vectors(x, y, method))
    np.testing.assert_allclose(ours, loop, atol=1e-10)


def test_correction_matches_textbook_step_procedures():
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(0, 0.02, 4), rng.uniform(0, 1, 8)])
    m = p.size
    order = np.argsort(p)
    holm, bh = np.empty(m), np.empty(m)
    for rank, i in enumerate(order):  # Holm: running max of (m - k) p_(k)
        holm[i] = min(1, max((m - r) * p[order[r]] for r in range(rank + 1)))
    for rank, i in enumerate(order):  # BH: running min from the top of m p_(k) / k
        bh[i] = min(1, min(m * p[order[r]] / (r + 1) for r in range(rank, m)))
    np.testing.assert_allclose(correct_pvalues(p, "holm"), holm)
    np.testing.assert_allclose(correct_pvalues(p, "fdr_bh"), bh)
    with_nan = correct_pvalues(np.array([0.01, np.nan, 0.02]), "holm")
    assert np.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02)


def test_noise_ceiling_bounds_and_rsa_table():
    ds = make_rsa_dataset(n_trials=96, n_units=10, signal=1.5)
    labels = condition_labels(ds, ["rule", "side"])
    patterns = trial_patterns(ds, by="epoch")
    data_rdm = compute_rdm(patterns, labels, distance="crossnobis")
    ceiling = noise_ceiling(
        patterns, labels, compare="pearson", n_splits=2, seed=0, distance="crossnobis"
    )
    assert ceiling["noise_ceiling_low"].dims == ("epoch",)
    assert_ceiling_ordered(ceiling, min_finite=2)
    assert np.all(ceiling["noise_ceiling_high"] > 0.5)
    by_units = noise_ceiling(
        patterns, labels, compare="pearson", split="units", seed=0, distance="sqeuclidean"
    )
    assert_ceiling_ordered(by_units, min_finite=2)
    model_rdm = compute_rdms(ds, ["rule", "side"], distance="sqeuclidean")
    table = rsa_table(
        model_rdm,
        data_rdm,
        compare="pearson",
        n_perm=999,
        n_boot=200,
        seed=0,
        correction="holm",
        noise_ceiling=ceiling,
    )
    assert set(table.data_vars) >= {
        "estimate",
        "ci_low",
        "ci_high",
        "p_value",
        "p_corrected",
        "noise_ceiling_low",
        "noise_ceiling_high",
    }
    assert table["estimate"].dims == ("epoch",)
    assert_ceiling_ordered(table, min_finite=2)
    assert np.all(table["p_corrected"] >= table["p_value"])
    assert np.all(table["ci_low"] <= table["estimate"]) and np.all(table["estimate"] <= 1)
    units = bootstrap_units(
        patterns, labels, model_rdm, compare="pearson", n_boot=20, seed=0, distance="crossnobis"
    )
    assert units.dims == ("bootstrap", "epoch") and units.sizes["bootstrap"] == 20
    with_units = rsa_table(model_rdm, data_rdm, compare="pearson", n_perm=0, bootstrap=units)
    assert with_units.attrs["ci_source"] == "units"
    assert np.all(with_units["ci_low"] <= with_units["ci_high"])
    assert np.isnan(with_units["p_value"]).all()


def test_rsa_table_over_time_is_seeded():
    ds = make_rsa_dataset(n_units=8)
    model = compute_rdms(ds, ["rule", "side"], by="time", distance="sqeuclidean")
    data = compute_rdms(ds, ["rule", "side"], by="time", distance="crossnobis", noise=None)
    first = rsa_table(model, data, compare="kendall_tau_a", n_perm=200, n_boot=200, seed=3)
    again = rsa_table(model, data, compare="kendall_tau_a", n_perm=200, n_boot=200, seed=3)
    xr.testing.assert_identical(first, again)
    assert first["p_value"].dims == ("time",) and first.attrs["correction"] == "holm"


def test_the_condition_bootstrap_reads_each_pair_from_the_upper_triangle():
    """RDMs symmetric only to rounding (as computed ones are, at 1e-14) give the bootstrap of
    the exactly symmetric RDMs: a resampled pair (j, i) reads entry [i, j], as the point
    estimate does, so ties stay ties whatever the order of the draw."""
    rng = np.random.default_rng(4)
    n = 8
    model = np.round(rng.random((n, n)), 1)  # coarse values: many tied pairs
    neural = np.round(rng.random((n, n)), 1)
    model, neural = (np.triu(m, 1) + np.triu(m, 1).T for m in (model, neural))
    noisy = model + np.tril(rng.normal(size=(n, n)) * 1e-14, -1)  # lower triangle only
    for compare in ("kendall_tau_a", "spearman"):
        exact = bootstrap_conditions(model, neural, compare=compare, n_boot=300, seed=1)
        rounded = bootstrap_conditions(noisy, neural, compare=compare, n_boot=300, seed=1)
        np.testing.assert_allclose(rounded, exact, equal_nan=True, atol=1e-9)
