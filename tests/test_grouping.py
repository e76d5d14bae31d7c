"""group_sums and contingency give what np.add.at gives, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

from alrnn_neuro._grouping import contingency, group_sums


@pytest.mark.parametrize("shape", [(200, 7), (90, 5, 3), (40,)])
@pytest.mark.parametrize("n_groups", [1, 6, 150])
def test_group_sums_equal_add_at_bitwise(shape, n_groups):
    rng = np.random.default_rng(n_groups)
    values = rng.normal(size=shape) * 10.0 ** rng.integers(-8, 8, size=shape)
    index = rng.integers(0, n_groups, shape[0])
    expected = np.zeros((n_groups, *shape[1:]))
    np.add.at(expected, index, values)
    got = group_sums(index, values, n_groups)
    assert got.shape == expected.shape and got.dtype == np.float64
    assert np.array_equal(got, expected)  # same additions in the same order


def test_group_sums_counts_booleans_and_keeps_nan_in_its_group():
    seen = np.array([[True, False], [True, True], [False, True]])
    assert group_sums(np.array([0, 1, 0]), seen, 2).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    x = np.array([[np.nan], [1.0], [2.0]])
    out = group_sums(np.array([0, 1, 1]), x, 2)
    assert np.isnan(out[0, 0]) and out[1, 0] == 3.0


def test_contingency_equals_add_at():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 500), rng.integers(0, 7, 500)
    expected = np.zeros((4, 7), np.int64)
    np.add.at(expected, (a, b), 1)
    got = contingency(a, b, 4, 7)
    assert got.dtype == np.int64 and np.array_equal(got, expected)
