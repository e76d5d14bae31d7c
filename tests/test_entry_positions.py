"""Scored entries read in place from predictions in any memory layout."""

from __future__ import annotations

import numpy as np
import pytest

import alrnn_neuro.training.split_scorer as ss
from alrnn_neuro.training.metric_kernels import restride
from alrnn_neuro.training.split_scorer import EntryPositions, by_row


def _numpy_restride(positions, n_steps, n_units, strides):
    trial, rest = np.divmod(positions.astype(np.int64), n_steps * n_units)
    step, unit = np.divmod(rest, n_units)
    return trial * strides[0] + step * strides[1] + unit * strides[2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_restride_equals_integer_division_also_for_large_positions(seed):
    rng = np.random.default_rng(seed)
    n_steps, n_units = int(rng.integers(1, 400)), int(rng.integers(1, 300))
    strides = tuple(int(s) for s in rng.integers(1, 10**6, 3))
    small = rng.integers(0, 10**7, 5000)
    edges = np.arange(3 * n_steps * n_units)  # every step and trial boundary
    large = rng.integers(2**40, 2**50, 5000)  # float64 products no longer exact
    for positions in (small, edges, large, small.astype(np.int32)):
        out = np.empty(positions.size, dtype=np.int64)
        restride(positions, n_steps, n_units, strides, out)
        np.testing.assert_array_equal(out, _numpy_restride(positions, n_steps, n_units, strides))


def test_entries_read_from_a_time_major_buffer_are_those_of_the_c_ordered_array():
    """A member's slice of a stacked forward lies time-major in memory: ``read`` returns its
    memory and, per chunk, positions sorted by address with the values in the same order."""
    rng = np.random.default_rng(4)
    n_trials, n_steps, n_units = 13, 7, 5
    buffer = rng.random((2, n_steps, n_trials, n_units)).astype(np.float32)  # (member, step, ...)
    prediction = buffer[1].transpose(1, 0, 2)  # (trial, step, unit), time-major memory
    c_order = np.ascontiguousarray(prediction).reshape(-1)
    chunks = [np.sort(rng.choice(c_order.size, 40, replace=False)) for _ in range(3)]
    entries = EntryPositions(chunks, [(c_order[where].copy(),) for where in chunks])
    flat, read = entries.read(prediction)
    assert not np.shares_memory(flat, c_order) and np.shares_memory(flat, buffer)
    for where, (expected,) in read:
        assert np.all(np.diff(where) > 0)  # in address order
        np.testing.assert_array_equal(flat[where], expected)
    assert entries.read(prediction)[1] is read  # the layout is computed once
    flat_c, read_c = entries.read(c_order.reshape(prediction.shape))
    assert read_c is entries.chunks  # C order: the positions as given


def test_left_justified_positions_shift_every_trial_by_its_offset():
    rng = np.random.default_rng(6)
    n_time, n_units, n_steps = 9, 4, 6
    rows = np.array([5, 0, 3])  # trial positions, in any order
    offset = np.array([1, 0, 2, 3, 0, 2])
    m = np.zeros((3, n_time, n_units), bool)
    for r, trial in enumerate(rows):
        m[r, offset[trial] : offset[trial] + n_steps] = rng.random((n_steps, n_units)) > 0.4
    entries = np.flatnonzero(m)
    got = ss._left_justified(entries, m, rows, offset, n_steps)
    row, time, unit = np.unravel_index(entries, m.shape)
    expected = (rows[row] * n_steps + time - offset[rows[row]]) * n_units + unit
    np.testing.assert_array_equal(got, expected)
    m[1, offset[rows[1]] + n_steps, 0] = True  # a scored entry past the predictions
    with pytest.raises(ValueError, match="outside the predictions' 6 steps"):
        ss._left_justified(np.flatnonzero(m), m, rows, offset, n_steps)


def test_by_row_repeats_each_rows_value_for_its_true_entries():
    flags = np.array([[[1, 0], [1, 1]], [[0, 0], [0, 0]], [[0, 1], [0, 0]]], bool)
    np.testing.assert_array_equal(by_row(flags, np.array([7, 8, 9])), [7, 7, 7, 9])
    assert by_row(np.zeros((0, 3, 2), bool), np.zeros(0, np.int64)).size == 0  # no rows
    np.testing.assert_array_equal(by_row(np.array([True, False, True]), np.arange(3)), [0, 2])
