"""Classic task generators (addition, copy, contextual integration) and the task registry."""

from __future__ import annotations

import numbers

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks import (
    TASKS,
    addition_task,
    classification_accuracy,
    contextual_integration_task,
    copy_task,
    make_task,
    mse,
    regression_accuracy,
    task_accuracy,
    variable_delay_copy_task,
)


@pytest.fixture(scope="module")
def registry_datasets() -> dict[str, xr.Dataset]:
    return {name: make_task(name, n_trials=12, seed=3) for name in TASKS}


# ---------------------------------------------------------------- every registered task


def test_registry_datasets_are_canonical(registry_datasets):
    for name, ds in registry_datasets.items():
        validate_dataset(ds)
        assert ds.attrs["task"] == name
        assert (ds["task"].values == name).all()
        assert ds.attrs["task_loss"] in ("mse", "cross_entropy")
        for key, value in ds.attrs.items():
            assert isinstance(value, str | numbers.Number), (name, key, value)
        valid, mask = ds.valid.values, ds.loss_mask.values
        assert not np.any(mask & ~valid), name
        assert mask.any(axis=1).all(), f"{name}: a trial without scored steps"
        assert (ds.epoch.values[~valid] == "").all() and (ds.epoch.values[valid] != "").all()
        assert not ds.inputs.values[~valid].any() and not ds.targets.values[~valid].any()
        assert not ds.targets.values[~mask].any(), f"{name}: targets outside loss_mask"


def test_registry_oracle_scores_perfectly(registry_datasets):
    for name, ds in registry_datasets.items():
        assert task_accuracy(ds.targets.values, ds) == 1.0, name
        assert mse(ds.targets.values, ds) == 0.0


def test_every_generator_is_deterministic():
    for name, generator in TASKS.items():
        a, b = generator(6, seed=11), generator(6, seed=11)
        xr.testing.assert_identical(a, b)
        c = generator(6, seed=12)
        assert not (a.sizes == c.sizes and np.array_equal(a.inputs.values, c.inputs.values)), (
            f"{name}: seed ignored"
        )


def test_make_task_unknown_name_lists_choices():
    with pytest.raises(ConfigError, match=r"'adition' is unknown; fix: one of \[.*'addition'"):
        make_task("adition", n_trials=2, seed=0)


@pytest.mark.parametrize("name", ["addition", "copy", "contextual_integration", "GoNogo"])
def test_n_trials_below_one_is_rejected(name):
    with pytest.raises(ConfigError, match=r"n_trials=0; fix: an integer >= 1"):
        make_task(name, n_trials=0, seed=0)


def test_negative_seed_is_rejected():
    with pytest.raises(ConfigError, match=r"seed=-1"):
        addition_task(3, seed=-1)


# ---------------------------------------------------------------- addition


def test_addition_target_is_sum_of_marked_values():
    ds = addition_task(40, seed=0, length=30)
    inputs, targets = ds.inputs.values, ds.targets.values
    for i in range(5):
        marked = np.flatnonzero(inputs[i, :, 1] == 1)
        assert len(marked) == 2 and marked.max() < 15  # first half
        expected = inputs[i, marked, 0].sum()
        assert targets[i, -1, 0] == pytest.approx(expected, rel=1e-6)
        assert ds.target_sum.values[i] == pytest.approx(expected, rel=1e-6)
        assert list(marked) == [ds.marker_1.values[i], ds.marker_2.values[i]]
    assert ds.loss_mask.values.sum(axis=1).tolist() == [1] * 40
    assert ds.loss_mask.values[:, -1].all() and (ds.epoch.values[:, -1] == "response").all()


def test_addition_metrics_oracle_and_constant_chance():
    ds = addition_task(3000, seed=1, length=12)
    assert regression_accuracy(ds.targets.values, ds) == 1.0
    constant = np.ones_like(ds.targets.values)  # the mean of the sum
    assert mse(constant, ds) == pytest.approx(1 / 6, abs=0.015)  # var of U(0,1)+U(0,1)
    # P(|S - 1| < 0.04) for the triangular sum = 1 - 0.96**2
    assert regression_accuracy(constant, ds) == pytest.approx(1 - 0.96**2, abs=0.02)


def test_addition_bad_marker_window():
    with pytest.raises(ConfigError, match=r"marker_window=10; fix: an integer in \[2, 9\]"):
        addition_task(3, seed=0, length=10, marker_window=10)


# ---------------------------------------------------------------- copy


def _reference_copy(inputs: np.ndarray, n_symbols: int, seq_len: int) -> np.ndarray:
    """Plain per-trial reference: stored symbols shifted to the steps after the go cue."""
    stored = inputs[:seq_len, :n_symbols].argmax(axis=1)
    go = int(np.flatnonzero(inputs[:, n_symbols + 1])[0])
    expected = np.full(inputs.shape[0], -1)
    expected[go + 1 : go + 1 + seq_len] = stored
    return expected


def test_copy_targets_are_stored_symbols_after_go():
    ds = copy_task(20, seed=0, n_symbols=5, seq_len=4, delay=7)
    assert ds.attrs["task"] == "copy" and ds.sizes["time"] == 4 + 7 + 1 + 4
    for i in range(4):
        expected = _reference_copy(ds.inputs.values[i], 5, 4)
        mask = ds.loss_mask.values[i]
        assert np.array_equal(np.flatnonzero(mask), np.flatnonzero(expected >= 0))
        assert np.array_equal(ds.targets.values[i][mask].argmax(axis=1), expected[mask])
        stored = [ds[f"symbol_{k}"].values[i] for k in range(4)]
        assert list(expected[mask]) == stored
        assert (ds.inputs.values[i, 4:11, 5] == 1).all()  # blank during the delay


def test_variable_delay_copy_is_ragged_and_correct():
    ds = variable_delay_copy_task(30, seed=2, n_symbols=4, seq_len=3, delay=(2, 12))
    lengths = ds.valid.values.sum(axis=1)
    assert np.array_equal(lengths, 2 * 3 + 1 + ds.delay.values)
    assert len(set(lengths.tolist())) > 3 and ds.sizes["time"] == lengths.max()
    assert ds.attrs["task"] == "variable_delay_copy"
    assert ds.valid.values[np.arange(30), lengths - 1].all()
    for i in range(5):
        n = lengths[i]
        expected = _reference_copy(ds.inputs.values[i, :n], 4, 3)
        got = np.where(ds.loss_mask.values[i, :n], ds.targets.values[i, :n].argmax(1), -1)
        assert np.array_equal(got, expected)


def test_copy_metrics_oracle_and_constant_chance():
    ds = copy_task(400, seed=4, n_symbols=8, seq_len=10, delay=3)
    assert classification_accuracy(ds.targets.values, ds) == 1.0
    assert classification_accuracy(ds.targets.values, ds, by="trial") == 1.0
    constant = np.zeros_like(ds.targets.values)
    constant[..., 0] = 1.0
    assert classification_accuracy(constant, ds) == pytest.approx(1 / 8, abs=0.02)
    assert classification_accuracy(constant, ds, by="trial") < 0.01


def test_copy_negative_delay_is_rejected():
    with pytest.raises(ConfigError, match=r"delay=\(-1, -1\); fix: an integer >= 0"):
        copy_task(3, seed=0, delay=-1)


def test_variable_delay_copy_needs_a_range():
    with pytest.raises(ConfigError, match=r"delay=\(5, 5\) is a single value"):
        variable_delay_copy_task(3, seed=0, delay=(5, 5))


# ---------------------------------------------------------------- contextual integration


def test_contextual_integration_answer_is_context_signed_evidence_sum():
    ds = contextual_integration_task(50, seed=5, stimulus_steps=(4, 9))
    assert ((ds.n_evidence.values % 2) == 1).all()
    for i in range(8):
        n = int(ds.valid.values[i].sum())
        x = ds.inputs.values[i, :n]
        context = 1 if x[:, 0].any() else 2
        assert x[:, 1].any() != (context == 1)  # exactly one cue channel
        evidence = x[:, 2][ds.epoch.values[i, :n] == "stimulus"]
        assert set(np.unique(evidence)) <= {-1.0, 1.0}
        answer = np.sign(evidence.sum()) * (1 if context == 1 else -1)
        response = ds.loss_mask.values[i, :n]
        assert (ds.epoch.values[i, :n][response] == "response").all()
        assert (x[response, 3] == 1).all()  # go cue
        chosen = ds.targets.values[i, :n][response].argmax(axis=1)
        assert (chosen == (1 if answer > 0 else 0)).all()
        assert ds.answer.values[i] == answer and ds.context.values[i] == context


def test_contextual_integration_is_ragged_and_chance_is_half():
    ds = contextual_integration_task(600, seed=6)
    assert len(set(ds.valid.values.sum(axis=1).tolist())) > 3
    assert set(ds.context.values.tolist()) == {1, 2}
    constant = np.zeros_like(ds.targets.values)
    constant[..., 1] = 1.0
    assert classification_accuracy(constant, ds, by="trial") == pytest.approx(0.5, abs=0.07)
    assert classification_accuracy(ds.targets.values, ds, by="trial") == 1.0


def test_contextual_integration_bad_coherence():
    with pytest.raises(ConfigError, match=r"coherence=1.5; fix: a number in \[0.0, 1.0\]"):
        contextual_integration_task(3, seed=0, coherence=(0.2, 1.5))
