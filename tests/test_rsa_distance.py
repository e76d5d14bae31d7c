"""Two-condition questions: the cross-validated distance against zero, with a permutation test."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.stats import kstest

from alrnn_neuro.analysis.rsa import condition_labels, distance_test, trial_patterns
from alrnn_neuro.errors import DataValidationError
from tests.test_rsa_pseudo import make_pseudo_population
from tests.test_rsa_rdm import make_rsa_dataset


def _two_conditions(rng, n_per=10, n_units=4, shift=0.0, pseudo=False):
    x = rng.normal(size=(2 * n_per, n_units))
    x[n_per:] += shift
    if pseudo:  # each trial records one unit
        keep = np.zeros_like(x, dtype=bool)
        keep[np.arange(x.shape[0]), rng.integers(0, n_units, x.shape[0])] = True
        x = np.where(keep, x, np.nan)
    trial = np.arange(2 * n_per)
    patterns = xr.DataArray(x, dims=("trial", "unit"), coords={"trial": trial})
    labels = xr.DataArray(np.repeat(["a", "b"], n_per), dims="trial", coords={"trial": trial})
    return patterns, labels


def test_a_real_difference_is_found_and_its_absence_is_not():
    rng = np.random.default_rng(0)
    patterns, labels = _two_conditions(rng, n_per=30, shift=1.0)
    found = distance_test(patterns, labels, n_perm=199, noise=None)
    assert float(found["distance"]) == pytest.approx(1.0, abs=0.4)  # true squared shift / unit
    assert float(found["p_value"]) == pytest.approx(1 / 200)
    assert abs(float(found["null_mean"])) < 0.1
    patterns, labels = _two_conditions(rng, n_per=30, shift=0.0)
    none = distance_test(patterns, labels, n_perm=199, noise=None)
    assert float(none["p_value"]) > 0.05 and abs(float(none["distance"])) < 0.2


def test_segments_and_pseudo_populations():
    ds, _ = make_pseudo_population(per_cell=40)
    ds = ds.isel(trial=ds["coherence"].values != 1)
    ds = ds.isel(trial=ds["choice"].values == "R")  # coherence 0 vs 2, choice R: 2 conditions
    labels = condition_labels(ds, ["coherence"])
    out = distance_test(trial_patterns(ds, by="epoch"), labels, n_perm=49, min_units=3)
    assert out["distance"].dims == ("epoch",)
    stim = out.sel(epoch="stim")
    assert float(stim["distance"]) > 0 and float(stim["p_value"]) <= 0.05
    assert int(stim["n_units"]) >= 3
    assert out.attrs["conditions"] == ["0", "2"] and out.attrs["distance"] == "crossnobis"


def test_more_than_two_conditions_is_refused_with_the_fix():
    ds = make_rsa_dataset()
    with pytest.raises(DataValidationError, match="exactly 2 conditions.*compare RDMs"):
        distance_test(trial_patterns(ds, by=None), condition_labels(ds, ["rule", "side"]))


@pytest.mark.slow
@pytest.mark.parametrize("pseudo", [False, True])
def test_null_p_values_are_uniform_and_the_distance_unbiased(pseudo):
    """Under no difference: p-values uniform (KS over 200 small draws), mean distance 0."""
    rng = np.random.default_rng(1 if pseudo else 2)
    p, d = [], []
    for _ in range(200):
        patterns, labels = _two_conditions(rng, n_per=8, n_units=3, pseudo=pseudo)
        out = distance_test(
            patterns, labels, n_perm=49, seed=int(rng.integers(1 << 30)), noise=None, min_units=1
        )
        if np.isfinite(out["p_value"]):
            p.append(float(out["p_value"]))
            d.append(float(out["distance"]))
    p, d = np.array(p), np.array(d)
    assert p.size > 150
    jitter = rng.uniform(-1 / 50, 0, p.size)  # discrete p on a grid of 1/50: spread it
    assert kstest(p + jitter, "uniform").pvalue > 0.01
    assert abs(d.mean()) < 3 * d.std() / np.sqrt(d.size)
