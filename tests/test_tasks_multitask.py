"""The 11-task suite (Yang et al. 2019 style), its concatenation and the angular accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks import SUITE, angular_accuracy, make_multitask, pad_time, suite_task
from alrnn_neuro.simulate.tasks.multitask import INPUT_NAMES

N_CHECK = 6  # trials per task checked against the per-trial reference


def _angle(vector: np.ndarray) -> float:
    return float(np.arctan2(vector[1], vector[0]))


def _same_angle(a: float, b: float, tol: float = 1e-4) -> bool:
    return abs(np.angle(np.exp(1j * (a - b)))) < tol


def _reference_response(task: str, x: np.ndarray, epoch: np.ndarray) -> tuple[bool, float]:
    """Plain per-trial reference from the inputs alone: (go?, response direction)."""
    stim = x[epoch == ("response" if task.startswith("React") else "stimulus")]
    mod1, mod2 = stim[:, 1:3], stim[:, 3:5]
    shown = mod1 if np.abs(mod1).sum() > 0 else mod2
    theta = _angle(shown[0])
    if task.startswith("CtxInt"):
        relevant = mod1 if task == "CtxIntMod1" else mod2
        return True, _angle(relevant.sum(axis=0))  # direction of the integrated vector
    if task in ("DelayPro", "ReactPro"):
        return True, theta
    if task in ("DelayAnti", "ReactAnti"):
        return True, theta + np.pi
    if task.startswith("Cat"):
        upper = np.sin(theta) >= 0
        towards = np.pi / 2 if upper else -np.pi / 2
        return True, towards + (np.pi if task == "CatAnti" else 0.0)
    if "Match" in task:
        test = x[epoch == "test"]
        test = test[:, 1:3] if np.abs(mod1).sum() > 0 else test[:, 3:5]
        match = _same_angle(_angle(test[0]), theta)
        return match == (task == "Match2Sample"), _angle(test[0])
    assert task == "GoNogo"
    return bool(np.abs(mod1).sum() > 0), theta


@pytest.fixture(scope="module")
def suite() -> dict[str, xr.Dataset]:
    return {task: suite_task(task, 300, seed=7) for task in SUITE}


@pytest.mark.parametrize("task", SUITE)
def test_targets_match_plain_reference(suite, task):
    ds = suite[task]
    for i in range(N_CHECK):
        n = int(ds.valid.values[i].sum())
        x, y, epoch = ds.inputs.values[i, :n], ds.targets.values[i, :n], ds.epoch.values[i, :n]
        go, direction = _reference_response(task, x, epoch)
        response = epoch == "response"
        assert response.any() and response[-1]
        assert (y[~response, 0] == 1).all() and not y[~response, 1:].any()
        if go:
            assert (y[response, 0] == 0).all()
            for step in y[response]:
                assert _same_angle(_angle(step[1:]), direction)
                assert np.hypot(*step[1:]) == pytest.approx(1.0, abs=1e-6)
            assert _same_angle(float(ds.target_theta.values[i]), direction)
        else:
            assert (y[response, 0] == 1).all() and not y[response, 1:].any()
            assert np.isnan(ds.target_theta.values[i])
        assert bool(ds.go.values[i]) == go
        # fixation input: off in the response epoch, except in the React tasks
        fixation_expected = np.ones(n) if task.startswith("React") else (~response).astype(float)
        assert np.array_equal(x[:, 0], fixation_expected)
        # the task one-hot is on for the whole trial, other task channels off
        task_channels = x[:, 5:]
        assert (task_channels[:, SUITE.index(task)] == 1).all()
        assert task_channels.sum() == n


def test_epoch_layout_per_task(suite):
    for task, ds in suite.items():
        labels = set(np.unique(ds.epoch.values)) - {""}
        if task.startswith("React"):
            assert labels == {"context", "response"}
        elif "Match" in task:
            assert labels == {"context", "stimulus", "delay", "test", "response"}
        else:
            assert labels == {"context", "stimulus", "delay", "response"}


def test_anti_is_pro_plus_180(suite):
    pro, anti = suite_task("DelayPro", 50, seed=1), suite_task("DelayAnti", 50, seed=1)
    assert np.allclose(pro.stim_theta, anti.stim_theta)  # same stream of draws
    diff = np.angle(np.exp(1j * (anti.target_theta.values - pro.target_theta.values)))
    assert np.allclose(np.abs(diff), np.pi)


def test_match_tasks_balance_and_separation(suite):
    for task in ("Match2Sample", "NonMatch2Sample"):
        ds = suite[task]
        match = ds.match.values
        assert 0.35 < match.mean() < 0.65
        gap = np.abs(np.angle(np.exp(1j * (ds.test_theta.values - ds.stim_theta.values))))
        assert np.allclose(gap[match], 0) and (gap[~match] >= np.pi / 4 - 1e-9).all()
        assert np.array_equal(ds.go.values, match if task == "Match2Sample" else ~match)


def test_trials_are_ragged_and_start_aligned(suite):
    ds = suite["DelayPro"]
    lengths = ds.valid.values.sum(axis=1)
    assert len(set(lengths.tolist())) > 5 and ds.sizes["time"] == lengths.max()
    assert ds.attrs["bin_size"] == 0.02 and ds.attrs["align_event"] == "start"
    assert np.allclose(ds.time.values[:2], [0.01, 0.03])
    onset = (ds.epoch.values == "response").argmax(axis=1) * 0.02
    assert np.allclose(ds.event_response.values, onset)
    assert np.isnan(ds.event_test.values).all()


def test_deterministic_per_seed():
    first, again = suite_task("CtxIntMod2", 5, seed=3), suite_task("CtxIntMod2", 5, seed=3)
    xr.testing.assert_identical(first, again)
    a, b = suite_task("GoNogo", 5, seed=3), suite_task("GoNogo", 5, seed=4)
    assert not np.allclose(a.stim_theta, b.stim_theta)


# ---------------------------------------------------------------- angular accuracy


@pytest.mark.parametrize("task", SUITE)
def test_oracle_scores_100_percent(suite, task):
    ds = suite[task]
    assert angular_accuracy(ds.targets.values, ds) == 1.0
    correct = angular_accuracy(ds.targets, ds.targets, ds.loss_mask, ds.epoch, per_trial=True)
    assert correct.shape == (300,) and correct.all()


def _constant_direction(ds: xr.Dataset) -> np.ndarray:
    """Correct fixation behaviour, but always aims at 0 rad."""
    pred = ds.targets.values.copy()
    pred[..., 1], pred[..., 2] = 1.0, 0.0
    return pred


def test_constant_direction_scores_at_chance(suite):
    # uniform target directions: P(error < 30 deg) = 60 / 360
    for task in ("DelayPro", "ReactAnti", "CtxIntMod1"):
        assert angular_accuracy(_constant_direction(suite[task]), suite[task]) == pytest.approx(
            1 / 6, abs=0.06
        ), task
    # category targets are pi/2 or 3pi/2: aiming at pi/2 is right half of the time
    pred = suite["CatPro"].targets.values.copy()
    pred[..., 1], pred[..., 2] = 0.0, 1.0
    assert angular_accuracy(pred, suite["CatPro"]) == pytest.approx(0.5, abs=0.08)


def test_fixation_errors_are_penalised(suite):
    ds = suite["GoNogo"]
    never_respond = np.zeros_like(ds.targets.values)
    never_respond[..., 0] = 1.0  # holds fixation throughout: right on no-go trials only
    assert angular_accuracy(never_respond, ds) == pytest.approx(1 - ds.go.values.mean())
    early = ds.targets.values.copy()
    early[:, :3, 0] = 0.0  # breaks fixation in the first steps
    assert angular_accuracy(early, ds) == 0.0
    anti = ds.targets.values.copy()
    anti[..., 1:] *= -1  # aims opposite
    assert angular_accuracy(anti, ds) == pytest.approx(1 - ds.go.values.mean())


def test_angular_accuracy_ignores_nan_on_unscored_steps():
    """latents.nc's predictions are NaN on padded bins: the score must not turn into 0."""
    ds = suite_task("DelayPro", 6, seed=0)
    perfect = ds.targets.values.copy()
    unscored = ~ds.loss_mask.values
    assert unscored.any()
    perfect[unscored] = np.nan
    assert angular_accuracy(perfect, ds) == 1.0


def test_angular_accuracy_needs_three_outputs():
    ds = suite_task("DelayPro", 3, seed=0)
    with pytest.raises(ValueError, match=r"needs outputs \('fixation', 'cos', 'sin'\)"):
        angular_accuracy(np.zeros((3, ds.sizes["time"], 2)), np.zeros((3, ds.sizes["time"], 2)))


# ---------------------------------------------------------------- concatenation


def test_make_multitask_concatenates_all_tasks():
    ds = make_multitask(4, seed=0)
    validate_dataset(ds)
    assert ds.sizes["trial"] == 44 and list(ds.trial.values) == list(range(44))
    assert [str(t) for t in ds.task.values[::4]] == list(SUITE)
    assert ds.input.values.tolist() == list(INPUT_NAMES) and ds.sizes["input"] == 16
    assert ds.attrs["task"] == "multitask" and ds.attrs["tasks"] == ",".join(SUITE)
    lengths = ds.valid.values.sum(axis=1)
    assert ds.sizes["time"] == lengths.max()
    assert not ds.loss_mask.values[~ds.valid.values].any()
    assert (ds.epoch.values[~ds.valid.values] == "").all()
    assert angular_accuracy(ds.targets.values, ds) == 1.0
    task_id = ds.inputs.values[..., 5:].max(axis=1).argmax(axis=1)
    assert [SUITE[k] for k in task_id] == [str(t) for t in ds.task.values]
    xr.testing.assert_identical(ds, make_multitask(4, seed=0))


def test_pad_time_makes_separate_datasets_concatenable():
    a, b = suite_task("ReactPro", 3, seed=0), suite_task("Match2Sample", 3, seed=0)
    n = max(a.sizes["time"], b.sizes["time"])
    both = xr.concat([pad_time(a, n), pad_time(b, n)], dim="trial")
    assert both.valid.dtype == bool and both.sizes["time"] == n
    assert np.array_equal(both.valid.values[:3].sum(1), a.valid.values.sum(1))
    assert np.array_equal(both.inputs.values[:3, : a.sizes["time"]], a.inputs.values)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "DelayProAnti"}, r"task='DelayProAnti'; fix: one of \['DelayPro'"),
        ({"durations": {"delay": -2}}, r"durations\['delay'\]=\(-2, -2\); fix: an integer >= 1"),
        ({"durations": {"wait": 3}}, r"durations key 'wait'; fix: one of"),
        ({"min_separation": 4.0}, r"min_separation=4.0; fix: a number in"),
    ],
)
def test_bad_parameters(kwargs, message):
    args = {"task": "DelayPro", **kwargs}
    with pytest.raises(ConfigError, match=message):
        suite_task(args.pop("task"), 3, seed=0, **args)


def test_make_multitask_bad_count():
    with pytest.raises(ConfigError, match=r"n_trials_per_task=0; fix: an integer >= 1"):
        make_multitask(0, seed=0)
