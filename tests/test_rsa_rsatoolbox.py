"""Our RDMs, noise estimates and comparisons agree with rsatoolbox; converters round-trip."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis.rsa import (
    compare_matrices,
    compute_rdm,
    compute_rdms,
    condition_labels,
    from_rsatoolbox,
    noise_precision,
    to_rsatoolbox,
    to_rsatoolbox_dataset,
    trial_patterns,
)
from alrnn_neuro.analysis.rsa.rdm import _fold_ids
from tests.test_rsa_rdm import make_rsa_dataset

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.data import prec_from_residuals  # noqa: E402
from rsatoolbox.rdm import calc_rdm  # noqa: E402
from rsatoolbox.rdm import compare as rsa_compare  # noqa: E402

TOL = 1e-10


@pytest.fixture(scope="module")
def trials():
    """Six conditions x 5 trials, 12 features, shuffled trial order, condition effects."""
    rng = np.random.default_rng(7)
    n_cond, n_rep, n_feat = 6, 5, 12
    code = rng.permutation(np.repeat(np.arange(n_cond), n_rep))
    x = rng.normal(size=(n_cond, n_feat))[code] + rng.normal(size=(code.size, n_feat))
    x[:, :3] += rng.normal(size=(code.size, 1))  # correlated noise in three units
    ids = np.arange(code.size) + 100
    source = xr.DataArray(
        np.zeros(code.size), dims="trial", coords={"trial": ids, "stim": ("trial", code)}
    )
    labels = condition_labels(source, "stim")
    patterns = xr.DataArray(x, dims=("trial", "unit"), coords={"trial": ids})
    dataset = to_rsatoolbox_dataset(patterns, labels, folds=_fold_ids(labels, None))
    residuals = x - np.stack([x[code == c].mean(0) for c in code])
    return patterns, labels, dataset, residuals, n_cond


def _theirs(rdms, labels_order):
    """rsatoolbox's matrix reordered to our condition order."""
    names = list(rdms.pattern_descriptors["condition"])
    order = [names.index(str(c)) for c in labels_order]
    return rdms.get_matrices()[0][np.ix_(order, order)]


@pytest.mark.parametrize(
    ("ours", "theirs"), [("sqeuclidean", "euclidean"), ("correlation", "correlation")]
)
def test_plain_rdms_match(trials, ours, theirs):
    patterns, labels, dataset, _, _ = trials
    rdm = compute_rdm(patterns, labels, distance=ours)
    ref = calc_rdm(dataset, method=theirs, descriptor="condition")
    np.testing.assert_allclose(rdm.values, _theirs(ref, rdm.condition.values), atol=TOL)


@pytest.mark.parametrize("noise", ["shrinkage_diag", "shrinkage_eye", "diag", "full"])
def test_noise_precision_mahalanobis_and_crossnobis_match(trials, noise):
    patterns, labels, dataset, residuals, n_cond = trials
    dof = residuals.shape[0] - n_cond
    precision = prec_from_residuals(residuals, dof=dof, method=noise)
    np.testing.assert_allclose(
        noise_precision(residuals, dof=dof, method=noise), precision, atol=TOL
    )
    for method in ("mahalanobis", "crossnobis"):
        rdm = compute_rdm(patterns, labels, distance=method, noise=noise)
        ref = calc_rdm(
            dataset,
            method=method,
            descriptor="condition",
            noise=precision,
            cv_descriptor="fold" if method == "crossnobis" else None,
        )
        np.testing.assert_allclose(rdm.values, _theirs(ref, rdm.condition.values), atol=TOL)


def test_crossnobis_identity_noise_matches(trials):
    patterns, labels, dataset, _, _ = trials
    rdm = compute_rdm(patterns, labels, distance="crossnobis", noise=None)
    ref = calc_rdm(dataset, method="crossnobis", descriptor="condition", cv_descriptor="fold")
    np.testing.assert_allclose(rdm.values, _theirs(ref, rdm.condition.values), atol=TOL)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("spearman", "spearman"),
        ("pearson", "corr"),
        ("cosine", "cosine"),
        ("kendall_tau_a", "tau-a"),
    ],
)
def test_comparisons_match_including_ties(ours, theirs):
    rng = np.random.default_rng(8)
    n = 9
    for ties in (False, True):
        a = np.round(rng.normal(size=(n, n)) * (1 if ties else 100), 0)
        b = np.round(rng.normal(size=(n, n)) * (1 if ties else 100), 0)
        a = np.abs(a + a.T) + 1
        b = np.abs(b + b.T) + 1
        np.fill_diagonal(a, 0)
        np.fill_diagonal(b, 0)
        ref = rsa_compare(rsatoolbox.rdm.RDMs(a[None]), rsatoolbox.rdm.RDMs(b[None]), method=theirs)
        assert compare_matrices(a, b, ours) == pytest.approx(float(ref[0, 0]), abs=TOL)


def test_round_trip_and_euclidean_conversion():
    ds = make_rsa_dataset()
    stacked = compute_rdms(ds, ["rule", "side"], by="epoch", distance="crossnobis")
    rdms = to_rsatoolbox(stacked)
    assert rdms.n_rdm == 2 and rdms.dissimilarity_measure == "crossnobis"
    assert rdms.rdm_descriptors["epoch"] == ["pre", "stim"]
    back = from_rsatoolbox(rdms)
    assert back.dims == ("epoch", "condition", "condition2")
    np.testing.assert_allclose(back.values, stacked.values, atol=1e-14)
    assert back["rule"].values.tolist() == stacked["rule"].values.tolist()
    euclid = compute_rdms(ds, ["rule", "side"], by=None, distance="euclidean")
    converted = to_rsatoolbox(euclid)
    dataset = to_rsatoolbox_dataset(
        trial_patterns(ds, by=None), condition_labels(ds, ["rule", "side"])
    )
    ref = calc_rdm(dataset, method="euclidean", descriptor="condition")
    np.testing.assert_allclose(
        converted.get_matrices()[0], _theirs(ref, euclid.condition.values), atol=TOL
    )
    assert from_rsatoolbox(converted).attrs["distance"] == "sqeuclidean"
