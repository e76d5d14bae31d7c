"""Trial splits: disjoint, complete, reproducible, stratified."""

from __future__ import annotations

import numpy as np
import pytest

from alrnn_neuro.data.split import split_trials
from alrnn_neuro.errors import ConfigError
from tests.conftest import build_tiny_dataset


def test_split_is_a_partition_and_reproducible():
    ds = build_tiny_dataset(n_trials=40)
    first = split_trials(ds, (0.6, 0.2, 0.2), seed=3)
    again = split_trials(ds, (0.6, 0.2, 0.2), seed=3)
    other = split_trials(ds, (0.6, 0.2, 0.2), seed=4)
    joined = np.concatenate(list(first.values()))
    assert sorted(joined) == list(ds.trial.values)
    assert [len(first[k]) for k in ("train", "val", "test")] == [24, 8, 8]
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["train"], other["train"])


def test_stratified_split_balances_each_condition():
    ds = build_tiny_dataset(n_trials=40)
    parts = split_trials(ds, {"train": 0.5, "test": 0.5}, stratify=["rule"], seed=0)
    rules = ds.rule.sel(trial=parts["test"]).values
    assert (rules == "local").sum() == 10 and (rules == "pitch").sum() == 10


def test_fractions_must_sum_to_one(tiny_dataset):
    with pytest.raises(ConfigError, match="sum to 0.9"):
        split_trials(tiny_dataset, (0.5, 0.2, 0.2))


def test_unknown_stratify_variable(tiny_dataset):
    with pytest.raises(ConfigError, match=r"stratify names \['block'\].*choose from"):
        split_trials(tiny_dataset, (0.5, 0.5), stratify=["block"])


def test_fit_split_follows_split_seed_not_the_model_seed():
    from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
    from alrnn_neuro.training import FitConfig, fit

    ds = simulate_stimulus_selection(n_trials=40, n_units=5, seed=0, lfp=False)
    cfg = FitConfig(latent_dim=3, pwl_units=1, epochs=1)
    a, b = fit(ds, cfg), fit(ds, cfg.replace(seed=7))
    c = fit(ds, cfg.replace(split_seed=3))
    for name in ("train", "val", "test"):
        assert np.array_equal(np.sort(a.split[name]), np.sort(b.split[name]))
    assert not np.array_equal(np.sort(a.split["test"]), np.sort(c.split["test"]))
