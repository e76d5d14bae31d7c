"""relabelled_rdms (permutation tests) equals compute_rdm on the relabelled trials."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis.rsa.rdm import RDM_DEFAULTS, compute_rdm, relabelled_rdms


def _patterns(pseudo: bool) -> tuple[xr.DataArray, xr.DataArray]:
    rng = np.random.default_rng(1)
    n_trial, n_unit = 60, 8
    labels = np.array(["a", "b", "c"])[np.arange(n_trial) % 3]
    x = rng.normal(size=(2, n_trial, n_unit)) + (labels == "b")[None, :, None]
    if pseudo:  # each trial sees 4 of the 8 units
        seen = np.zeros((n_trial, n_unit), bool)
        for i in range(n_trial):
            seen[i, rng.choice(n_unit, 4, replace=False)] = True
        x = np.where(seen[None], x, np.nan)
    trial = np.arange(n_trial)
    pat = xr.DataArray(x, dims=("epoch", "trial", "unit"), coords={"trial": trial})
    lab = xr.DataArray(labels, dims="trial", coords={"trial": trial, "block": ("trial", trial % 4)})
    return pat, lab


@pytest.mark.parametrize("pseudo", [False, True])
@pytest.mark.parametrize(
    "settings",
    [
        {"distance": "crossnobis"},
        {"distance": "crossnobis", "folds": 3},
        {"distance": "crossnobis", "folds": "block"},
        {"distance": "sqeuclidean", "noise": None},
        {"distance": "correlation", "min_units": 2},
    ],
)
def test_equals_compute_rdm_of_the_relabelled_trials(pseudo, settings):
    pat, lab = _patterns(pseudo)
    rdm_of = relabelled_rdms(pat, lab, **settings)
    rng = np.random.default_rng(2)
    for _ in range(3):
        new = rng.permutation(lab.values)
        expected = compute_rdm(pat, lab.copy(data=new), **settings).values
        np.testing.assert_array_equal(rdm_of(new), expected)
    assert not np.allclose(rdm_of(new), compute_rdm(pat, lab, **settings).values, equal_nan=True)


def test_defaults_are_compute_rdms():
    params = inspect.signature(compute_rdm).parameters
    assert RDM_DEFAULTS == {name: params[name].default for name in RDM_DEFAULTS}
    assert set(RDM_DEFAULTS) == {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY}
