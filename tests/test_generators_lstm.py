"""The ``lstm`` generator: a network trained on the behavioural task holds the rule it got from
the cue trials, chooses well above chance where the rule matters, and is seeded."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.simulate import task_structure as ts
from alrnn_neuro.simulate.generators import lstm
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection

SEED = 7


def simulate() -> xr.Dataset:
    return simulate_stimulus_selection(
        n_trials=300, n_units=12, seed=SEED, lfp=False, generator="lstm"
    )


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return simulate()


def test_layout_and_ground_truth_say_what_it_is(ds):
    validate_dataset(ds)
    assert ds.attrs["generator"] == "lstm"
    assert ds.attrs["true_nonlinearity"] == "lstm"
    assert ds.attrs["true_rule_memory"] == "recurrent"
    assert ds.attrs["true_routing"] == "local:location,pitch:pitch"
    assert int(ds.attrs["true_hidden_units"]) == lstm.HIDDEN
    assert ds["true_latents"].dims == ("trial", "time", "true_latent")
    assert ds.sizes["true_latent"] == lstm.HIDDEN and ds["true_B"].shape == (12, lstm.HIDDEN)
    assert ds["true_lstm_w_ih"].shape == (4 * lstm.HIDDEN, len(lstm.READ_INPUTS))
    assert list(ds["true_lstm_input"].values) == list(lstm.READ_INPUTS)
    for absent in ("true_region", "true_belief", "true_A", "true_W"):
        assert absent not in ds, absent
    assert "true_pwl_units" not in ds.attrs
    assert list(ds["input"].values) == list(ts.INPUT_NAMES)


def test_behaviour_is_above_chance_where_the_rule_matters(ds):
    correct = ds["correct"].values
    incongruent = ~ds["cue_trial"].values & ~ds["congruent"].values
    for rule in ("local", "pitch"):
        chosen = incongruent & (ds["rule"].values == rule)
        assert chosen.sum() > 30
        assert correct[chosen].mean() > 0.8, rule  # chance: 0.5
    late = incongruent & (ds["trial_in_block"].values >= 30)
    assert late.sum() > 20 and correct[late].mean() > 0.8  # the rule survives the block


def test_rule_is_decodable_from_the_hidden_state_in_the_hold_epoch(ds):
    hold = ds["epoch"].values == "hold"
    keep = hold.any(axis=1) & ~ds["cue_trial"].values
    hidden = ds["true_latents"].values
    mean_hold = (hidden * hold[..., None]).sum(axis=1)[keep] / hold.sum(axis=1)[keep, None]
    rule = ds["rule"].values[keep]
    model = LogisticRegression(max_iter=2000)
    assert cross_val_score(model, mean_hold, rule, cv=5).mean() > 0.9
    # the hold epoch's inputs are the same in both rules: the rule comes from memory
    held = ds["inputs"].values[hold]
    assert (held == held[0]).all()


def test_training_and_simulation_are_deterministic_for_a_seed(ds):
    xr.testing.assert_identical(simulate(), ds)  # the trained network is reused in-process
    spawn = (*np.random.SeedSequence(SEED).spawn(4)[1].spawn_key, 0)
    cached = lstm.train_lstm(SEED, spawn, 0.05)
    fresh = lstm.train_lstm.__wrapped__(SEED, spawn, 0.05)  # trains again, from scratch
    for name in ("w_ih", "w_hh", "b", "w_out", "b_out"):
        np.testing.assert_array_equal(getattr(fresh, name), getattr(cached, name), err_msg=name)
    assert fresh.training_steps == cached.training_steps == int(ds.attrs["true_training_steps"])
