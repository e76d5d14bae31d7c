"""``variant="study"`` task generators against the AL-RNN study's code's definitions.

Each reference below is written from the study's public code (fnnrth/Linear_Nonlinear_Memory:
the generators in addition_problem/, copy_problem/, contextual_integration/ and
multi_task_training/Dataset.py), one trial at a time with plain loops, independently of the
vectorised generators: shapes, which steps carry loss, every input and target element, and
the chance level of the study's accuracy.
"""

from __future__ import annotations

import json
import numbers

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.tasks import (
    STUDY_PRESETS,
    STUDY_TASKS,
    SUITE,
    TASKS,
    classification_accuracy,
    epoch_seed,
    final_angle_accuracy,
    make_multitask,
    make_task,
    mse,
    task_accuracy,
)
from alrnn_neuro.simulate.tasks.study_suite import INPUT_NAMES, STUDY_DURATIONS, max_trial_steps


@pytest.fixture(scope="module")
def study_datasets() -> dict[str, xr.Dataset]:
    return {name: make_task(name, n_trials=10, seed=5, variant="study") for name in STUDY_TASKS}


# ---------------------------------------------------------------- every study task


def test_study_datasets_are_canonical_and_tagged(study_datasets):
    assert set(STUDY_TASKS) == set(TASKS) - {"stimulus_selection"}
    for name, ds in study_datasets.items():
        validate_dataset(ds)
        assert ds.attrs["task"] == name and ds.attrs["variant"] == "study"
        for key, value in ds.attrs.items():
            assert isinstance(value, str | numbers.Number), (name, key, value)
        valid, mask = ds.valid.values, ds.loss_mask.values
        assert not np.any(mask & ~valid) and mask.any(axis=1).all(), name
        assert not ds.targets.values[~mask].any(), f"{name}: targets outside loss_mask"
        assert task_accuracy(ds.targets.values, ds) == 1.0, name


def test_study_generators_are_deterministic_per_seed():
    for name, generator in STUDY_TASKS.items():
        xr.testing.assert_identical(generator(4, seed=2), generator(4, seed=2))
        assert not np.array_equal(generator(4, seed=2).inputs, generator(4, seed=3).inputs), name


def test_short_variant_is_todays_generator_and_tagged_short():
    for name in ("addition", "copy", "GoNogo"):
        ds = make_task(name, n_trials=3, seed=1)
        assert ds.attrs["variant"] == "short"
        call = json.loads(ds.attrs.pop("make_task"))  # make_task also records its call
        assert call == {"name": name, "variant": "short", "n_trials": 3, "seed": 1, "params": {}}
        xr.testing.assert_identical(ds, TASKS[name](3, seed=1))
    assert make_multitask(2, seed=0).attrs["variant"] == "short"
    for name in TASKS:  # every dataset says which definition it follows
        assert make_task(name, n_trials=2, seed=0).attrs["variant"] == "short", name


# ---------------------------------------------------------------- addition


def test_addition_reference():
    ds = make_task("addition", n_trials=400, seed=0, variant="study")
    x, y = ds.inputs.values, ds.targets.values[..., 0]
    assert x.shape == (400, 100, 2) and ds.input.values.tolist() == ["value", "marker"]
    assert ds.loss_mask.values.sum(axis=1).tolist() == [1] * 400
    assert ds.loss_mask.values[:, -1].all()  # final-state readout
    for k in range(400):
        marked = np.flatnonzero(x[k, :, 1])
        assert len(marked) == 2 and marked.max() < 50  # two distinct steps in the first half
        assert y[k, -1] == pytest.approx(x[k, marked, 0].sum(), abs=1e-6)
    assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()
    # chance level: the mean sum (1.0) has MSE = var(U + U) = 1/6
    constant = np.where(ds.loss_mask.values[..., None], 1.0, 0.0)
    assert mse(constant, ds) == pytest.approx(1 / 6, rel=0.15)


# ---------------------------------------------------------------- copy


def _copy_reference(symbols: np.ndarray, n_symbols: int, delay: int):
    """One trial of the study's generate_copy_task_dataset_discrete (no time encoding)."""
    seq_len = len(symbols)
    total = 2 * seq_len + 1 + delay
    x = np.zeros((total, n_symbols))
    for t, s in enumerate(symbols):
        x[t, s] = 1
    x[seq_len, 0] = 1  # cue token
    x[seq_len + 1 + delay :, 0] = 1  # dummy decoder inputs
    y = np.full(total, -100)
    y[seq_len + 1 + delay :] = symbols
    return x, y


def test_copy_reference():
    ds = make_task("copy", n_trials=30, seed=1, variant="study")
    assert ds.inputs.shape == (30, 117, 5) and ds.targets.shape == (30, 117, 5)
    assert ds.attrs["task_loss"] == "cross_entropy"
    symbols = np.stack([ds[f"symbol_{k}"].values for k in range(8)], axis=1)
    assert symbols.min() >= 1 and symbols.max() <= 4  # token 0 is the cue
    for k in range(30):
        x, y = _copy_reference(symbols[k], 5, 100)
        np.testing.assert_array_equal(ds.inputs.values[k], x)
        scored = y != -100
        np.testing.assert_array_equal(ds.loss_mask.values[k], scored)  # the last 8 steps
        assert scored[-8:].all() and scored.sum() == 8
        np.testing.assert_array_equal(ds.targets.values[k][scored].argmax(-1), y[scored])
    assert not ds.inputs.values[:, 9:109].any()  # zero-input delay


def test_copy_accuracy_is_whole_sequence_with_chance_near_zero():
    ds = make_task("copy", n_trials=200, seed=2, variant="study")
    one_wrong = ds.targets.values.copy()
    one_wrong[:, -1] = np.roll(one_wrong[:, -1], 1, axis=-1)  # last recalled symbol wrong
    assert task_accuracy(one_wrong, ds) == 0.0
    assert classification_accuracy(one_wrong, ds, by="step") == pytest.approx(7 / 8)
    short = make_task("copy", n_trials=20, seed=2)
    wrong_short = short.targets.values.copy()
    wrong_short[:, -1] = np.roll(wrong_short[:, -1], 1, axis=-1)
    assert task_accuracy(wrong_short, short) == pytest.approx(9 / 10)  # short: per symbol
    # chance: always the same symbol -> 1/4 of the symbols, (1/4)^8 of the sequences
    guess = np.zeros(ds.targets.shape)
    guess[..., 1] = 1.0
    assert classification_accuracy(guess, ds, by="step") == pytest.approx(0.25, abs=0.04)
    assert task_accuracy(guess, ds) == 0.0


# ---------------------------------------------------------------- variable-delay copy


@pytest.mark.parametrize("recall_marker", [False, True])
def test_variable_delay_copy_reference(recall_marker):
    ds = make_task(
        "variable_delay_copy", n_trials=300, seed=3, variant="study", recall_marker=recall_marker
    )
    assert ds.inputs.shape == (300, 105, 5) and ds.valid.values.all()  # 50 + 50 + 5 steps
    cue = ds.cue_step.values
    assert cue.min() >= 50 and cue.max() <= 99 and len(np.unique(cue)) > 30
    symbols = np.stack([ds[f"symbol_{k}"].values for k in range(5)], axis=1)
    for k in range(300):
        x = np.zeros((105, 5))
        x[np.arange(5), symbols[k]] = 1
        x[cue[k], 0] = 1
        recall = np.arange(cue[k] + 1, cue[k] + 6)
        if recall_marker:
            x[recall, 0] = 1
        np.testing.assert_array_equal(ds.inputs.values[k], x)
        np.testing.assert_array_equal(np.flatnonzero(ds.loss_mask.values[k]), recall)
        np.testing.assert_array_equal(ds.targets.values[k, recall].argmax(-1), symbols[k])
    guess = np.zeros(ds.targets.shape)
    guess[..., 2] = 1.0
    assert classification_accuracy(guess, ds, by="step") == pytest.approx(0.25, abs=0.04)
    assert task_accuracy(guess, ds) < 0.02  # (1/4)^5 ~ 0.001


def test_variable_delay_copy_rejects_more_symbols_than_fixed_steps():
    with pytest.raises(ConfigError, match=r"seq_len=9; fix: an integer in \[1, 8\]"):
        make_task(
            "variable_delay_copy", n_trials=2, seed=0, variant="study", seq_len=9, fixed_steps=8
        )


# ---------------------------------------------------------------- contextual integration


def test_contextual_integration_reference():
    ds = make_task("contextual_integration", n_trials=500, seed=4, variant="study")
    x = ds.inputs.values
    assert x.shape == (500, 100, 4)
    assert ds.input.values.tolist() == ["context_1", "context_2", "evidence", "recall"]
    context = ds.context.values
    for k in range(500):
        onehot = np.eye(2)[context[k] - 1]
        np.testing.assert_array_equal(x[k, 0], [*onehot, 0, 0])  # context at t = 0
        np.testing.assert_array_equal(x[k, -1], [*onehot, 0, 1])  # again, with recall flag
        assert not x[k, 1:-1, [0, 1, 3]].any()
        evidence = x[k, 1:-1, 2].astype(np.float64)
        assert np.all(np.abs(np.abs(evidence) - 1) < 0.06)  # +-1 + N(0, 0.01^2)
        positive = evidence.sum() > 0 if context[k] == 1 else evidence.sum() < 0
        np.testing.assert_array_equal(np.flatnonzero(ds.loss_mask.values[k]), [99])
        assert ds.targets.values[k, -1].argmax() == int(positive)
    assert 0.4 < (context == 2).mean() < 0.6
    # chance: a fixed answer is right on about half the trials
    guess = np.zeros(ds.targets.shape)
    guess[..., 1] = 1.0
    assert task_accuracy(guess, ds) == pytest.approx(0.5, abs=0.07)


# ---------------------------------------------------------------- the 11-task suite

RULE = {
    "DelayPro": 3,
    "ReactPro": 3,
    "CatPro": 3,
    "Match2Sample": 3,
    "GoNogo": 3,
    "DelayAnti": 4,
    "ReactAnti": 4,
    "CatAnti": 4,
    "NonMatch2Sample": 4,
    "CtxIntMod1": 5,
    "CtxIntMod2": 6,
}
EPOCH_NAMES = ("context", "stimulus", "delay", "test", "delay2", "response")


def _expected_ranges(task: str) -> dict[str, tuple[int, int]]:
    """Epoch lengths the study's classes draw (randint(lo, hi): hi excluded), inclusive."""
    hard = STUDY_DURATIONS["hard"]
    if task.startswith("React"):
        return {"context": hard["context"], "response": hard["stimulus"]}
    ranges = {key: hard[key] for key in ("context", "stimulus", "response")}
    if task.startswith("Delay"):
        ranges["delay"] = hard["delay"]
    if "Match" in task:
        ranges.update(delay=hard["delay"], test=hard["stimulus"], delay2=(5, 14))
    if task.startswith("CtxInt"):
        ranges.update(stimulus=(20, 78), delay=(10, 19))  # two stimulus draws
    return ranges


def _suite_reference(task: str, trial: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (T, 18) and target (3,) of one trial, after the study's Dataset.py classes."""
    onset = {}
    for name in EPOCH_NAMES:
        value = trial[f"event_{name}"].item()
        if np.isfinite(value):
            onset[name] = int(round(value / 0.02))
    length = int(trial.valid.sum())
    theta = trial.stim_theta.item()
    x = np.zeros((trial.sizes["time"], 18))
    x[: onset["response"], 0] = 1  # fixation until the response epoch
    x[:length, RULE[task]] = 1
    x[:length, 7 + SUITE.index(task)] = 1
    if task.startswith("React"):
        shown = slice(onset["response"], length)
    else:
        shown = slice(onset["stimulus"], min(v for v in onset.values() if v > onset["stimulus"]))
    direction = np.array([np.cos(theta), np.sin(theta)])
    fixation = 0.0
    if task.startswith("CtxInt"):
        other = trial.irrelevant_theta.item()
        relevant, irrelevant = 0.8 * direction, 0.3 * np.array([np.cos(other), np.sin(other)])
        if task == "CtxIntMod1":
            x[shown, 1:3], x[shown, 3:5] = relevant, irrelevant
        else:
            x[shown, 1:3], x[shown, 3:5] = irrelevant, relevant
        phi = theta
    elif task == "GoNogo":
        amplitude = trial.amplitude.item()
        x[shown, 1:3] = amplitude * direction
        phi = 0.0
        if amplitude <= 0.5:  # no-go: keep fixating, no direction
            return x, np.array([1.0, 0.0, 0.0])
    else:
        x[shown, 1:3] = direction
        if task in ("DelayPro", "ReactPro"):
            phi = theta
        elif task in ("DelayAnti", "ReactAnti"):
            phi = theta + np.pi
        elif task.startswith("Cat"):
            phi = 0.0 if (theta < np.pi) == (task == "CatPro") else np.pi
        else:
            theta2 = trial.test_theta.item()
            x[onset["test"] : onset["delay2"], 1:3] = np.cos(theta2), np.sin(theta2)
            gap = np.angle(np.exp(1j * (theta2 - theta)))
            match = abs(gap) <= np.pi / 8
            assert match == bool(trial.match) and (match or abs(gap) >= np.pi / 4)
            phi = 0.0 if match == (task == "Match2Sample") else np.pi
    return x, np.array([fixation, np.cos(phi), np.sin(phi)])


@pytest.mark.parametrize("task", SUITE)
def test_suite_reference(task):
    ds = make_task(task, n_trials=40, seed=6, variant="study")
    assert ds.input.values.tolist() == list(INPUT_NAMES) and len(INPUT_NAMES) == 18
    assert ds.output.values.tolist() == ["fixation", "cos", "sin"]
    assert ds.sizes["time"] == max_trial_steps(task)
    ranges = _expected_ranges(task)
    for k in range(40):
        trial = ds.isel(trial=k)
        x, target = _suite_reference(task, trial)
        np.testing.assert_allclose(trial.inputs.values, x, atol=1e-6)
        length = int(trial.valid.sum())
        np.testing.assert_array_equal(np.flatnonzero(trial.loss_mask.values), [length - 1])
        np.testing.assert_allclose(trial.targets.values[length - 1], target, atol=1e-6)
        epochs = trial.epoch.values[:length]
        assert set(epochs) == set(ranges), k
        for name, (lo, hi) in ranges.items():
            assert lo <= (epochs == name).sum() <= hi, (k, name)


def test_suite_durations_cover_the_hard_ranges():
    ds = make_task("Match2Sample", n_trials=3000, seed=7, variant="study")
    epochs = ds.epoch.values
    for name, (lo, hi) in [("delay", STUDY_DURATIONS["hard"]["delay"]), ("delay2", (5, 14))]:
        counts = (epochs == name).sum(axis=1)
        assert counts.min() == lo and counts.max() == hi, name
    assert 0.45 < ds.match.values.mean() < 0.55


def test_suite_chance_level_and_gonogo_blind_spot():
    ds = make_task("DelayPro", n_trials=3000, seed=8, variant="study")
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, ds.sizes["trial"])
    guess = np.zeros(ds.targets.shape)
    guess[..., 1], guess[..., 2] = np.cos(angle)[:, None], np.sin(angle)[:, None]
    assert task_accuracy(guess, ds) == pytest.approx(1 / 6, abs=0.03)
    # the study's criterion ignores fixation: pointing at 0 rad always passes GoNogo
    gonogo = make_task("GoNogo", n_trials=200, seed=9, variant="study")
    assert gonogo.go.values.mean() == pytest.approx(0.625, abs=0.1)  # P(a > 0.5), a ~ U(0.2, 1)
    constant = np.zeros(gonogo.targets.shape)
    constant[..., 1] = 1.0
    assert task_accuracy(constant, gonogo) == 1.0


def test_final_angle_accuracy_reads_the_last_scored_step_only():
    ds = make_task("ReactAnti", n_trials=50, seed=10, variant="study")
    pred = ds.targets.values.copy()
    pred[~ds.loss_mask.values] = (0.0, -1.0, 0.0)  # every other step is ignored
    assert final_angle_accuracy(pred, ds) == 1.0
    rows = np.arange(50)
    last = ds.valid.values.sum(axis=1) - 1
    turned = pred.copy()
    cos, sin = turned[rows, last, 1].copy(), turned[rows, last, 2].copy()
    rot = np.radians(31.0)
    turned[rows, last, 1] = np.cos(rot) * cos - np.sin(rot) * sin
    turned[rows, last, 2] = np.sin(rot) * cos + np.cos(rot) * sin
    assert final_angle_accuracy(turned, ds) == 0.0
    assert final_angle_accuracy(turned, ds, tolerance_deg=32.0) == 1.0


def test_study_multitask_concatenates_the_suite():
    ds = make_task("multitask", n_trials=4, seed=0, variant="study")
    assert ds.attrs["variant"] == "study" and ds.attrs["task"] == "multitask"
    assert ds.sizes["trial"] == 44 and ds.sizes["time"] == max_trial_steps("Match2Sample")
    assert ds.loss_mask.values.sum(axis=1).tolist() == [1] * 44
    assert task_accuracy(ds.targets.values, ds) == 1.0
    sub = ds.isel(trial=ds.task.values == "CatAnti")
    assert sub.attrs["variant"] == "study" and task_accuracy(sub.targets.values, sub) == 1.0


# ---------------------------------------------------------------- streaming seeds


def test_epoch_seed_gives_fresh_reproducible_draws():
    seeds = [epoch_seed(3, epoch) for epoch in range(50)]
    assert len(set(seeds)) == 50 and all(s >= 0 for s in seeds)
    assert seeds == [epoch_seed(3, epoch) for epoch in range(50)]
    assert epoch_seed(4, 0) not in seeds
    a = make_task("multitask", n_trials=2, seed=epoch_seed(3, 1), variant="study")
    b = make_task("multitask", n_trials=2, seed=epoch_seed(3, 1), variant="study")
    c = make_task("multitask", n_trials=2, seed=epoch_seed(3, 2), variant="study")
    xr.testing.assert_identical(a, b)
    assert a.sizes == c.sizes and not np.array_equal(a.inputs.values, c.inputs.values)


BAD_REQUESTS = [
    ({"name": "copy", "variant": "paper"}, r"variant='paper'; fix: one of \['short', 'study'\]"),
    ({"name": "stimulus_selection", "variant": "study"}, "has no 'study' variant; fix: variant"),
    ({"name": "addition", "variant": "study", "length": 3}, r"length=3; fix: an integer >= 4"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_REQUESTS)
def test_bad_variant_requests_name_the_fix(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        make_task(n_trials=2, seed=0, **kwargs)


def test_epoch_seed_rejects_negative_epoch():
    with pytest.raises(ConfigError, match=r"epoch=-1; fix: an integer >= 0"):
        epoch_seed(0, -1)


def test_presets_cover_every_study_task_with_sources():
    assert set(STUDY_PRESETS) == {*STUDY_TASKS} - set(SUITE) | {"multitask"}
    for name, preset in STUDY_PRESETS.items():
        assert preset.task == name and preset.sources
        assert all("@" in source and len(source.split("@")[1]) == 40 for source in preset.sources)
        assert max(preset.pwl_grid) <= preset.latent_dim and preset.mar_units <= preset.latent_dim
        ds = make_task(name, n_trials=1, seed=0, variant="study", **preset.task_params)
        assert ds.attrs["variant"] == "study"
    assert STUDY_PRESETS["multitask"].pwl_grid == (0, 1, 2, 4, 8, 16, 32, 64)
    assert STUDY_PRESETS["multitask"].fresh_trials_each_epoch
