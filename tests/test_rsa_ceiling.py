"""Noise ceiling: bounds on shared conditions, lower <= upper, the model placed against it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import squareform

from alrnn_neuro.analysis.rsa import (
    COMPARISONS,
    compare_matrices,
    compute_rdm,
    compute_rdms,
    condition_labels,
    noise_ceiling,
    rsa_table,
    trial_patterns,
)
from alrnn_neuro.analysis.rsa.ceiling import ceiling_bounds, split_groups
from tests.rsa_checks import assert_ceiling_ordered
from tests.test_rsa_rdm import make_rsa_dataset


def _random_rdm(rng, n, ties=False):
    values = rng.integers(0, 3, n * (n - 1) // 2) if ties else rng.random(n * (n - 1) // 2)
    return squareform(values.astype(float))


@pytest.mark.parametrize("compare", COMPARISONS)
def test_two_split_bounds_are_ordered_for_every_comparison(compare):
    """Lower <= upper for any pair of split RDMs, ties (tau-a) included."""
    rng = np.random.default_rng(0)
    n_cond = 5 if compare.startswith("cka") else 4
    for _ in range(200):
        ties = compare == "kendall_tau_a"
        halves = [_random_rdm(rng, n_cond, ties) for _ in range(2)]
        if any(np.ptp(squareform(h)) == 0 for h in halves):
            continue
        out = ceiling_bounds(halves, compare, "sqeuclidean")
        assert out["note"] == "" and out["low"] <= out["high"] + 1e-12


def test_pearson_bounds_equal_their_closed_form():
    """Two splits, Pearson: lower = r(G1, G2), upper = sqrt((1 + r) / 2) (pooled RDM)."""
    rng = np.random.default_rng(1)
    a, b = _random_rdm(rng, 6), _random_rdm(rng, 6)
    r = compare_matrices(a, b, "pearson")
    out = ceiling_bounds([a, b], "pearson")
    assert out["low"] == pytest.approx(r, abs=1e-12)
    assert out["high"] == pytest.approx(np.sqrt((1 + r) / 2), abs=1e-12)


def test_three_splits_are_ordered_or_explained():
    rng = np.random.default_rng(2)
    for _ in range(100):
        splits = [_random_rdm(rng, 4, ties=True) for _ in range(3)]
        if any(np.ptp(squareform(s)) == 0 for s in splits):
            continue
        out = ceiling_bounds(splits, "kendall_tau_a")
        if out["note"]:
            assert np.isnan(out["low"]) and np.isnan(out["high"]) and "lower bound" in out["note"]
        else:
            assert out["low"] <= out["high"] + 1e-12


def test_bounds_use_the_same_conditions_and_say_when_too_few():
    rng = np.random.default_rng(3)
    a, b = _random_rdm(rng, 5), _random_rdm(rng, 5)
    b[0, :] = b[:, 0] = np.nan  # condition 0 missing in one split only
    b[0, 0] = 0.0
    out = ceiling_bounds([a, b], "spearman")
    assert out["n"] == 4 and out["low"] == pytest.approx(
        compare_matrices(a[1:, 1:], b[1:, 1:], "spearman")
    )
    b[1, :] = b[:, 1] = b[2, :] = b[:, 2] = np.nan
    few = ceiling_bounds([a, b], "spearman")
    assert np.isnan(few["low"]) and np.isnan(few["high"]) and "need >= 3" in few["note"]


def test_trial_groups_are_stratified_by_condition_and_observed_units():
    ds = make_rsa_dataset(n_trials=48, n_units=4)
    observed = np.ones((48, 4), bool)
    observed[::2, 0] = False  # unit 0 only on odd trials
    ds["observed"] = (("trial", "unit"), observed)
    patterns = trial_patterns(ds, by=None)
    labels = condition_labels(ds, ["rule", "side"])
    groups = split_groups(patterns, labels, split="trials", n_splits=2, seed=0)
    for c in np.unique(labels.values):
        for seen in (True, False):
            members = (labels.values == c) & (observed[:, 0] == seen)
            assert abs(np.sum(groups[members] == 0) - np.sum(groups[members] == 1)) <= 1


def test_model_is_placed_against_the_ceiling():
    ds = make_rsa_dataset(n_trials=96, n_units=10, signal=1.5)
    labels = condition_labels(ds, ["rule", "side"])
    patterns = trial_patterns(ds, by="epoch")
    data_rdm = compute_rdm(patterns, labels)
    truth = compute_rdms(ds, ["rule", "side"], by="epoch", distance="sqeuclidean")
    ceiling = noise_ceiling(patterns, labels, compare="pearson", model_rdm=truth)
    assert_ceiling_ordered(ceiling, min_finite=2)
    table = rsa_table(truth, data_rdm, compare="pearson", n_perm=0, n_boot=0, noise_ceiling=ceiling)
    assert_ceiling_ordered(table, min_finite=2)
    np.testing.assert_allclose(
        table["ceiling_fraction"], table["model_vs_splits"] / table["noise_ceiling_high"]
    )
    for low, high, model, position in zip(
        table["noise_ceiling_low"].values,
        table["noise_ceiling_high"].values,
        table["model_vs_splits"].values,
        table["ceiling_position"].values,
        strict=True,
    ):
        expected = "below" if model < low else "above" if model > high else "within"
        assert position == expected
    # a model of pure noise sits below the lower bound
    rng = np.random.default_rng(0)
    noise = truth.copy(data=np.stack([_random_rdm(rng, 4) for _ in range(2)]))
    placed = noise_ceiling(patterns, labels, compare="pearson", model_rdm=noise)
    assert (placed["model_vs_splits"] < placed["noise_ceiling_low"]).any()


def test_missing_ceiling_is_explained_in_the_table():
    ds = make_rsa_dataset()
    model = compute_rdms(ds, ["rule", "side"], by="epoch", distance="sqeuclidean")
    data = compute_rdms(ds, ["rule", "side"], by="epoch")
    table = rsa_table(model, data, compare="pearson", n_perm=0, n_boot=0)
    assert (table["noise_ceiling_note"] == "not computed").all()
    assert (table["ceiling_position"] == "").all()
    assert_ceiling_ordered(table, min_finite=0)
