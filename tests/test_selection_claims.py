"""The selection claims' records: the p-value a claim shows is the p-value of that claim."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.reproduce.stimulus_claims import _sparse_suffices


def _selection(minimal: float, zero_p: float, p_eq: list[float]) -> xr.Dataset:
    """A select_nonlinearity result for P in {0, 1, 2, 4} (M = 4) with the given tests."""
    ps = [0, 1, 2, 4]
    gains = [0.0, 0.01, 0.012, 0.011]
    return xr.Dataset(
        {
            "gain_vs_zero": ("pwl_units", gains),
            "gain_vs_zero_ci": (("pwl_units", "bound"), [[g - 0.002, g + 0.002] for g in gains]),
            "zero_insufficient_p": zero_p,
            "zero_insufficient": float(zero_p < 0.05),
            "minimal_pwl_units": minimal,
            "p_equivalent": ("pwl_units", p_eq),
            "bits_per_spike": ("pwl_units", [0.1 + g for g in gains]),
        },
        coords={"pwl_units": ps},
    )


def test_sparse_suffices_p_is_the_larger_of_its_two_tests():
    result = _sparse_suffices(_selection(1.0, 1e-6, [0.9, 0.02, 0.001, 1e-9]), 4, 1.0)
    assert result.holds is True and result.effect == 1.0
    # the equivalence of P = 1 (p = 0.02) is the weaker part of the conjunction
    assert result.p_value == pytest.approx(0.02)
    weak_zero = _sparse_suffices(_selection(1.0, 0.03, [0.9, 0.02, 0.001, 1e-9]), 4, 1.0)
    assert weak_zero.p_value == pytest.approx(0.03)


@pytest.mark.parametrize("minimal", [float("nan"), 4.0])
def test_sparse_suffices_without_a_sparse_p_shows_no_p_of_another_test(minimal):
    # before, the claim showed zero_insufficient's p (1e-6) though it failed on its other part
    result = _sparse_suffices(_selection(minimal, 1e-6, [0.9, 0.5, 0.4, 0.0]), 4, 1.0)
    assert result.holds is False
    assert result.p_value is None
    assert "p = 1e-06" in result.evidence  # zero_insufficient's own p stays in the words
    assert math.isnan(minimal) == ("cannot tell" in result.evidence)
    assert np.isfinite(result.to_dict()["effect"] or 0.0)
