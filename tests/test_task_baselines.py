"""The low-data comparison of ``reproduce tasks``: sparse P against P = M, GRU and LSTM.

The claim is a non-inferiority test; it must fail where the sparse network is worse by more
than the margin, be n.a. where nothing learned, hold at most alpha of the time at the margin
(its false-positive rate), and hold where the sparse network is as good (its power).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.plotting.baselines import plot_low_data
from alrnn_neuro.reproduce import task_baselines as tb
from alrnn_neuro.reproduce.criteria import criteria
from alrnn_neuro.reproduce.settings import TaskSettings, TaskSpec
from alrnn_neuro.reproduce.task_controls import untrained_correct
from alrnn_neuro.reproduce.tasks import _task_sweep, generate_task

MODELS = ["P=0", "P=2", "P=8", "gru", "lstm"]


def _correct(rates: dict[str, float], *, n_trials=200, n_seeds=3, seed=0, fractions=(0.25, 1.0)):
    """Hand-built correctness (train_fraction, model, seed, trial): ``rates`` at the smallest
    fraction, 0.95 for every network with all trials."""
    rng = np.random.default_rng(seed)
    values = np.empty((len(fractions), len(MODELS), n_seeds, n_trials))
    for i, f in enumerate(fractions):
        for j, m in enumerate(MODELS):
            rate = rates.get(m, 0.9) if f == min(fractions) else 0.95
            values[i, j] = rng.random((n_seeds, n_trials)) < rate
    return xr.DataArray(
        values,
        dims=("train_fraction", "model", "seed", "trial"),
        coords={"train_fraction": list(fractions), "model": MODELS, "trial": np.arange(n_trials)},
        attrs={"latent_dim": 8},
    )


def test_holds_when_the_sparse_network_matches_every_nonlinear_one():
    result = tb.low_data_result(_correct({"P=2": 0.92}), 2)
    assert result.holds is True
    assert result.p_value < 0.05
    assert result.ci[0] < result.effect < result.ci[1]
    assert (
        "vs gru" in result.evidence and "vs lstm" in result.evidence and "vs P=8" in result.evidence
    )


def test_fails_when_the_sparse_network_is_worse_than_one_baseline():
    result = tb.low_data_result(_correct({"P=2": 0.92, "lstm": 0.92, "gru": 0.99}), 2)
    # one comparison far beyond the margin below: the intersection-union test fails
    worse = tb.low_data_result(_correct({"P=2": 0.5, "gru": 0.95}), 2)
    assert result.holds is True
    assert worse.holds is False and worse.effect < -0.3
    assert "gru" in worse.effect_name


def test_not_testable_cases():
    nothing_learned = _correct({m: 0.2 for m in MODELS})
    assert tb.low_data_result(nothing_learned, 2).holds is None
    assert "learned" in tb.low_data_result(nothing_learned, 2).reason
    assert tb.low_data_result(_correct({}), None).holds is None
    one_fraction = _correct({}, fractions=(1.0,))
    assert "one train fraction" in tb.low_data_result(one_fraction, 2).reason
    no_baseline = _correct({}).sel(model=["P=0", "P=2", "P=8"])
    assert "baseline" in tb.low_data_result(no_baseline, 2).reason


def test_false_positive_rate_at_the_margin_is_at_most_alpha():
    """Sparse exactly ``margin`` worse than every other network: the null's boundary."""
    margin = criteria()["low_data"]["margin"]
    alpha = criteria()["calibration"]["alpha"]
    rates = {"P=2": 0.85 - margin, "P=8": 0.85, "gru": 0.85, "lstm": 0.85}
    holds = [tb.low_data_result(_correct(rates, seed=k), 2).holds for k in range(300)]
    assert np.mean(holds) <= alpha + 0.03
    power = [tb.low_data_result(_correct({"P=2": 0.9}, seed=k), 2).holds for k in range(100)]
    assert np.mean(power) >= 0.8


def test_sparse_choice_is_the_minimal_sufficient_p_strictly_between_0_and_m():
    selection = xr.Dataset({"minimal_pwl_units": 2.0})
    assert tb.sparse_choice(selection, 8) == 2
    assert tb.sparse_choice(selection.assign(minimal_pwl_units=8.0), 8) is None
    assert tb.sparse_choice(selection.assign(minimal_pwl_units=0.0), 8) is None
    assert tb.sparse_choice(selection.assign(minimal_pwl_units=np.nan), 8) is None


def test_accuracy_table_and_its_record():
    table = tb.accuracy_table(_correct({"P=2": 0.7}, n_trials=400), n_boot=200)
    assert table["accuracy"].dims == ("train_fraction", "model")
    value = float(table["accuracy"].sel(train_fraction=0.25, model="P=2"))
    low, high = table["accuracy_ci"].sel(train_fraction=0.25, model="P=2").values
    assert low < value < high and value == pytest.approx(0.7, abs=0.05)
    record = tb.table_record(table)
    assert set(record) == {"0.25", "1"} and record["0.25"]["P=2"][0] == pytest.approx(value)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """A real addition sweep: P in (0, 1, 3), a GRU, two train fractions, two seeds."""
    root = tmp_path_factory.mktemp("baselines")
    spec = TaskSpec(40, 3, (0, 1, 3), 2, {"length": 5}, split=(0.5, 0.2, 0.3))
    s = TaskSettings(
        "test",
        {"addition": spec},
        spec,
        n_seeds=2,
        workers=1,
        baselines=("gru",),
        train_fractions=(0.5, 1.0),
        control_seeds=(3001, 3002),
    )
    base = _task_sweep(root, "addition", spec, s, 7, None)
    return root / "tasks" / "addition" / "sweep", spec, base


def test_comparison_scores_read_and_rescored_agree(small_sweep):
    sweep_dir, spec, _ = small_sweep
    read = tb.comparison_scores(sweep_dir)
    assert read.dims == ("train_fraction", "model", "seed", "trial")
    assert read["model"].values.tolist() == ["P=0", "P=1", "P=3", "gru"]
    assert read["train_fraction"].values.tolist() == [0.5, 1.0]
    assert np.isfinite(read.values).all()
    # the same networks run again on the very dataset they were scored on give the same scores
    again = tb.comparison_scores(sweep_dir, load_dataset(sweep_dir / "dataset.h5"))
    np.testing.assert_array_equal(again.values, read.values)
    only = tb.comparison_scores(
        sweep_dir, load_dataset(sweep_dir / "dataset.h5"), train_fraction=0.5
    )
    assert np.isnan(only.sel(train_fraction=1.0).values).all()
    np.testing.assert_array_equal(
        only.sel(train_fraction=0.5).values, read.sel(train_fraction=0.5).values
    )


def test_controls_replace_the_sparse_slot_and_cover_every_seed(small_sweep, monkeypatch):
    sweep_dir, spec, base = small_sweep
    make = partial(generate_task, "addition", spec)
    seen = []
    judge = tb.low_data_result
    monkeypatch.setattr(tb, "low_data_result", lambda c, p, **k: seen.append(c) or judge(c, p, **k))
    untrained = tb.untrained_outcomes(sweep_dir, make, base, 1, (3001, 3002))
    redrawn = tb.redrawn_outcomes(sweep_dir, make, 1, (3001, 3002))
    assert [k for k, _ in untrained] == [3001, 3002] == [k for k, _ in redrawn]
    fake, real = seen[0].sel(train_fraction=0.5), seen[2].sel(train_fraction=0.5)
    # untrained networks of model seeds 100 * data seed + k hold the sparse slot ...
    draw = make(3001).sel(trial=seen[0]["trial"].values)
    expected = untrained_correct(draw, base, [1], [300100, 300101])[0]
    np.testing.assert_array_equal(fake.sel(model="P=1").values, expected)
    # ... and every other network is the fitted one, rescored on the same fresh draw
    for name in ("P=0", "P=3", "gru"):
        np.testing.assert_array_equal(fake.sel(model=name).values, real.sel(model=name).values)
    assert np.isnan(seen[0].sel(train_fraction=1.0).values).all()  # only the small fraction
    none = tb.untrained_outcomes(sweep_dir, make, base, None, (3001,))
    assert none[0][1].holds is None and "sparse" in none[0][1].reason


def test_plot_draws_one_panel_per_task_and_refuses_other_data():
    table = tb.accuracy_table(_correct({"P=2": 0.7}), n_boot=50)
    stacked = table.assign(latent_dim=8, sparse_pwl_units=2, n_trials=200).expand_dims(task=["a"])
    fig = plot_low_data(stacked)
    assert len(fig.axes) == 1
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["P=0", "P=2 (sparse)", "P=8", "gru", "lstm"]
    with pytest.raises(DataValidationError, match="accuracy"):
        plot_low_data(stacked.drop_vars("accuracy"))
    with pytest.raises(ConfigError, match="axes"):
        plot_low_data(stacked, axes=[])


def test_settings_sweep_baselines_on_classic_tasks_only():
    from alrnn_neuro.reproduce.settings import task_settings
    from alrnn_neuro.reproduce.tasks import _grid

    s = task_settings("quick")
    assert s.baselines == ("gru", "lstm") and min(s.train_fractions) < 1.0
    classic = _grid(s.tasks["addition"], s)
    suite = _grid(s.multitask, s, classic=False)
    assert set(classic.models) == {"alrnn", "gru", "lstm"}
    assert classic.train_fractions == s.train_fractions
    assert suite.models == ("alrnn",) and suite.train_fractions == (1.0,)
    assert classic.max_members == 6  # 4 P x 3 seeds over 2 workers
    study = task_settings("study-reduced")
    assert _grid(study.tasks["copy"], study).max_members == 1
    assert s.to_dict()["baselines"] == ["gru", "lstm"]


# the reduced study setting -------------------------------------------------------------------


def test_study_reduced_setting_is_the_study_training_with_a_quarter_of_its_epochs():
    from alrnn_neuro.reproduce.settings import STUDY_EPOCH_SHARE, task_settings
    from alrnn_neuro.simulate.tasks import STUDY_PRESETS

    s = task_settings("study-reduced")
    assert STUDY_EPOCH_SHARE >= 0.25 and s.n_seeds == 3 and not s.baselines
    assert s.max_members == 1  # every network its own cell: --resume loses at most one fit
    assert list(s.tasks)[0] == "contextual_integration"  # the cheapest task first
    for task, spec in {**s.tasks, "multitask": s.multitask}.items():
        preset = STUDY_PRESETS[task]
        assert spec.params["variant"] == "study"
        assert spec.latent_dim == preset.latent_dim and len(spec.pwl_units) == 3
        assert spec.pwl_units[0] == 0 and spec.pwl_units[-1] == preset.latent_dim
        assert spec.epochs >= preset.epochs / 4 and spec.epochs == round(preset.epochs / 4)
        assert (spec.lr, spec.batch_size) == (preset.learning_rate, preset.batch_size)
        options = spec.fit_options
        assert options["mar"] == preset.mar_tau and options["mar_units"] == preset.mar_units
        assert options["a_placement"] == "pwl" and options["mar_definition"] == "study"
        assert options["grad_clip"] == 0.0 and options["lr_schedule"] == "constant"
        assert (options["fresh_trials"] > 0) == preset.fresh_trials_each_epoch


def test_study_setting_has_all_epochs_and_the_study_grids():
    from alrnn_neuro.reproduce.settings import task_settings
    from alrnn_neuro.simulate.tasks import STUDY_PRESETS

    s = task_settings("study")
    assert s.n_seeds == 5 and s.max_members == 1 and len(s.control_seeds) == 10
    for task, spec in {**s.tasks, "multitask": s.multitask}.items():
        preset = STUDY_PRESETS[task]
        assert spec.epochs == preset.epochs
        assert set(preset.pwl_grid) | {0, preset.latent_dim} == set(spec.pwl_units)


def test_study_reduced_tasks_run_through_the_reproduction(tmp_path):
    """A shrunken copy of the setting (few trials, one epoch) runs end to end: the cells are
    fitted with the study's options (A only on the rectified units, fresh suite trials)."""
    from alrnn_neuro.reproduce import reproduce_tasks
    from alrnn_neuro.reproduce.settings import study_spec
    from alrnn_neuro.training.api import load_run

    ci = dataclasses.replace(study_spec("contextual_integration", (0, 5), 0.001), n_trials=40)
    suite = study_spec("multitask", (0, 2), 0.001)
    options = {**suite.fit_options, "fresh_trials": 2, "mar_units": 2}
    suite = dataclasses.replace(suite, n_trials=12, latent_dim=4, fit_options=options)
    s = TaskSettings("study-test", {"contextual_integration": ci}, suite, n_seeds=1, workers=1)
    record = reproduce_tasks(tmp_path / "r", settings=s, seed=5)
    assert record["setting"] == "study-test"
    cell = tmp_path / "r" / "tasks" / "contextual_integration" / "sweep" / "cells"
    run = load_run(cell / "alrnn-M10-P5-seed0-tf1")
    assert run.config.a_placement == "pwl" and run.config.mar_definition == "study"
    assert (run.params.A[:5] == 0).all()  # the 5 linear units carry no A
    suite_run = load_run(
        tmp_path / "r" / "tasks" / "multitask" / "sweep" / "cells" / "alrnn-M4-P2-seed0-tf1"
    )
    assert suite_run.config.fresh_trials == 2
