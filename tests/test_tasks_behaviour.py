"""The stimulus-selection task at the behaviour level (task dataset)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate import task_structure as ts
from alrnn_neuro.simulate.tasks import classification_accuracy, stimulus_selection_task
from alrnn_neuro.simulate.tasks.behaviour import INPUT_NAMES


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return stimulus_selection_task(400, seed=9, block_length=(20, 40), n_cue_trials=3)


def _channel(ds: xr.Dataset, name: str) -> np.ndarray:
    return ds.inputs.values[..., INPUT_NAMES.index(name)]


def test_is_a_cross_entropy_task_dataset(ds):
    validate_dataset(ds)
    assert ds.attrs["task"] == "stimulus_selection" and ds.attrs["task_loss"] == "cross_entropy"
    assert ds.attrs["align_event"] == "stim_on" and ds.attrs["bin_size"] == 0.05
    assert ds.output.values.tolist() == ["left", "right"]
    assert ds.input.values.tolist()[:8] == list(ts.INPUT_NAMES)  # same channels as the simulator
    assert np.array_equal(ds.loss_mask.values, ds.epoch.values == "response")
    assert ds.loss_mask.values.any(axis=1).all()
    assert len(set(ds.valid.values.sum(axis=1).tolist())) > 5  # ragged


def test_targets_follow_the_rule_per_trial(ds):
    pitch_side = {"high": "left", "low": "right"}
    for i in range(40):
        rule, loc, pitch = (str(ds[k].values[i]) for k in ("rule", "location", "pitch"))
        stim = ds.epoch.values[i] == "stimulus"
        heard = {
            name: bool(_channel(ds, name)[i][stim].all())
            for name in ("left_noise", "right_noise", "high_pitch", "low_pitch")
        }
        noise = "left" if heard["left_noise"] else "right" if heard["right_noise"] else "none"
        warble = "high" if heard["high_pitch"] else "low" if heard["low_pitch"] else "none"
        assert (noise, warble) == (loc, pitch)
        expected = noise if rule == "local" else pitch_side[warble]
        response = ds.loss_mask.values[i]
        chosen = ds.targets.values[i][response].argmax(axis=1)
        assert (chosen == ["left", "right"].index(expected)).all()
        assert str(ds.target.values[i]) == expected
        assert not ds.targets.values[i][~response].any()


def test_block_structure_and_cue_trials(ds):
    rule, block = ds.rule.values, ds.block.values
    for b in np.unique(block):
        in_block = block == b
        assert len(set(rule[in_block].tolist())) == 1
        if b > 0:
            assert rule[in_block][0] != rule[block == b - 1][0]  # rules alternate
        first = ds.trial_in_block.values[in_block] < 3
        assert np.array_equal(ds.cue_trial.values[in_block], first)
    cue = ds.cue_trial.values
    local = rule == "local"
    # cue trials carry only the relevant sound and the matching cue channel
    assert (ds.pitch.values[cue & local] == "none").all()
    assert (ds.location.values[cue & ~local] == "none").all()
    assert (_channel(ds, "cue_local").max(axis=1) == (cue & local)).all()
    assert (_channel(ds, "cue_pitch").max(axis=1) == (cue & ~local)).all()
    assert not ds.congruent.values[cue].any()


@pytest.mark.parametrize("rule_cue", ["hold", "trial", "none"])
def test_rule_cue_channels(rule_cue):
    ds = stimulus_selection_task(30, seed=1, rule_cue=rule_cue)
    local = (ds.rule.values == "local")[:, None]
    shown = {
        "hold": ds.epoch.values == "hold",
        "trial": ds.valid.values,
        "none": np.zeros(ds.valid.shape, bool),
    }[rule_cue]
    assert np.array_equal(_channel(ds, "rule_local") == 1, shown & local)
    assert np.array_equal(_channel(ds, "rule_pitch") == 1, shown & ~local)
    assert ds.attrs["rule_cue"] == rule_cue


def test_oracle_and_constant_prediction(ds):
    assert classification_accuracy(ds.targets.values, ds, by="trial") == 1.0
    left = np.zeros_like(ds.targets.values)
    left[..., 0] = 1.0
    share_left = float((ds.target.values == "left").mean())
    assert classification_accuracy(left, ds, by="trial") == pytest.approx(share_left)
    assert share_left == pytest.approx(0.5, abs=0.08)


def test_deterministic():
    a, b = stimulus_selection_task(25, seed=3), stimulus_selection_task(25, seed=3)
    xr.testing.assert_identical(a, b)
    assert not np.array_equal(a.target.values, stimulus_selection_task(25, seed=4).target.values)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trials": 0}, r"n_trials=0; fix: an integer >= 1"),
        ({"bin_size": 0.5}, r"bin_size=0.5 s; fix: a bin width in \[0.005, 0.15\] s"),
        ({"rule_cue": "sometimes"}, r"rule_cue='sometimes'; fix: one of \['hold'"),
        ({"n_cue_trials": 50}, r"n_cue_trials=50; fix: 0 <= n_cue_trials < block_length"),
    ],
)
def test_bad_parameters(kwargs, message):
    args = {"n_trials": 5, **kwargs}
    with pytest.raises(ConfigError, match=message):
        stimulus_selection_task(args.pop("n_trials"), seed=0, **args)
