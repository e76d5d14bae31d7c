"""The task claims of ``reproduce tasks`` as tests that can fail: per-trial accuracy, the sparse-P
test on held-out trials, the sharing test against untrained networks, and their controls."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.reproduce import task_claims as tc
from alrnn_neuro.reproduce import task_controls as tctl
from alrnn_neuro.reproduce.claim_records import ClaimResult
from alrnn_neuro.reproduce.criteria import criteria
from alrnn_neuro.reproduce.task_controls import control_entry, linear_model_outcomes
from alrnn_neuro.simulate.tasks import make_multitask, make_task
from alrnn_neuro.simulate.tasks.metrics import trial_accuracy
from alrnn_neuro.sweep.sharing_test import sharing_trend_test
from alrnn_neuro.sweep.task_selection import select_by_accuracy

PS = [0, 1, 2, 8]


def _correct(rates: list[float], n_seeds: int = 3, n_trials: int = 150, seed: int = 0):
    """Hand-built per-trial correctness (pwl_units, seed, trial) with the given accuracy per P."""
    rng = np.random.default_rng(seed)
    values = np.stack([rng.random((n_seeds, n_trials)) < r for r in rates]).astype(float)
    return xr.DataArray(values, dims=("pwl_units", "seed", "trial"), coords={"pwl_units": PS})


def _claim(rates, seed=0, **kwargs):
    return tc.sparse_suffices_result(tc.task_selection(_correct(rates, seed=seed)), 8, **kwargs)


SEEDS = [0, 1, 2]


# per-trial accuracy -------------------------------------------------------------------------


def test_trial_accuracy_scores_whole_sequences_of_copy_tasks():
    ds = make_task("copy", n_trials=3, seed=0, seq_len=3, delay=2, n_symbols=4)
    guess = ds["targets"].values.copy()
    steps = np.flatnonzero(ds["loss_mask"].values[1])
    guess[1, steps[1]] = np.roll(guess[1, steps[1]], 1)  # one of three recalled symbols wrong
    assert trial_accuracy(guess, ds).tolist() == [1.0, 0.0, 1.0]
    guess[:, ~ds["loss_mask"].values.any(axis=0)] = np.nan  # unscored steps do not matter
    assert trial_accuracy(guess, ds).tolist() == [1.0, 0.0, 1.0]
    unscored = ds.copy(deep=True)
    unscored["loss_mask"].values[2] = False
    assert np.isnan(trial_accuracy(guess, unscored)[2])


def test_trial_accuracy_of_mse_tasks_is_regression_within_tolerance():
    ds = make_task("addition", n_trials=2, seed=0, length=6)
    guess = ds["targets"].values.copy()
    guess[0] += 0.03
    guess[1] += 0.05
    assert trial_accuracy(guess, ds).tolist() == [1.0, 0.0]


# the sparse-P claim -------------------------------------------------------------------------


def test_accuracy_selection_is_the_mean_and_its_differences():
    correct = _correct([0.3, 0.9, 0.95, 0.95])
    out = select_by_accuracy(correct, min_effect=0.05, margin=0.1, n_boot=50)
    mean = correct.mean(["seed", "trial"]).values
    assert np.allclose(out["accuracy"].values, mean)
    assert np.allclose(out["gain_vs_zero"].values, mean - mean[0])
    assert out["seed_accuracy"].dims == ("pwl_units", "seed")
    lo, hi = out["gain_vs_zero_ci"].sel(pwl_units=2).values
    assert lo < mean[2] - mean[0] < hi


@pytest.mark.parametrize("seed", SEEDS)
def test_sparse_claim_holds_when_zero_fails_and_a_small_p_matches_the_best(seed):
    correct = _correct([0.3, 0.93, 0.96, 0.96], seed=seed)
    result = tc.sparse_suffices_result(tc.task_selection(correct), 8)
    assert result.holds is True
    shown = int(result.effect_name.split("P=")[1].split()[0])  # the minimal sufficient P
    assert 0 < shown < 8
    mean = correct.mean(["seed", "trial"])
    assert result.effect == pytest.approx(float(mean.sel(pwl_units=shown) - mean.sel(pwl_units=0)))
    assert "minimal sufficient P = " in result.evidence and result.p_value < 0.05
    assert result.ci[0] < result.effect < result.ci[1]


@pytest.mark.parametrize("seed", SEEDS)
def test_sparse_claim_fails_when_zero_is_as_good_as_the_best(seed):
    result = _claim([0.95, 0.95, 0.96, 0.96], seed)
    assert result.holds is False
    assert "P = 0 insufficient: False" in result.evidence


@pytest.mark.parametrize("seed", SEEDS)
def test_sparse_claim_fails_when_only_p_equal_m_suffices(seed):
    result = _claim([0.2, 0.4, 0.5, 0.97], seed)
    assert result.holds is False
    assert "minimal sufficient P = 8" in result.evidence


def test_sparse_claim_is_not_testable_when_no_p_learned_the_task():
    result = _claim([0.05, 0.2, 0.3, 0.4])
    assert result.holds is None
    assert "no P learned the task" in result.reason and "0.6" in result.reason
    assert _claim([0.05, 0.2, 0.3, 0.4], require_learned=False).holds is not None


def test_zero_insufficiency_rejects_at_most_alpha_at_the_minimum_effect():
    """Calibration on binary per-trial outcomes: true gain exactly min_effect (the boundary of
    H0), 400 simulated sweeps of 150 held-out trials; the same check with min_effect = 0 must
    fail (the test has power), so the check can fail."""
    t = criteria()["tasks"]
    rng = np.random.default_rng(11)
    rejected, powered = [], []
    for _ in range(400):
        values = np.stack([rng.random(150) < 0.6, rng.random(150) < 0.6 + t["min_effect"]])
        out = select_by_accuracy(values.astype(float), [0, 2], min_effect=t["min_effect"], n_boot=0)
        rejected.append(float(out["zero_insufficient"]))
        loose = select_by_accuracy(values.astype(float), [0, 2], min_effect=0.0, n_boot=0)
        powered.append(float(loose["zero_insufficient"]))
    tolerance = 2.5 * np.sqrt(0.05 * 0.95 / 400)
    assert np.mean(rejected) <= 0.05 + tolerance
    assert np.mean(powered) > 0.05 + tolerance


@pytest.mark.parametrize("seed", SEEDS)
def test_linear_models_control_catches_seed_differences_of_p0_networks(seed):
    correct = _correct([0.5, 0.5, 0.5, 0.5], n_seeds=2, seed=seed).copy()
    found = dict(linear_model_outcomes(correct, 8))
    assert set(found) == {"0>1", "1>0"}
    assert not any(r.holds for r in found.values())  # equal seeds: the claim fails
    good = np.random.default_rng(seed + 3).random(150) < 0.95
    correct.loc[{"pwl_units": 0}] = np.stack([correct.sel(pwl_units=0).values[0], good])
    found = dict(linear_model_outcomes(correct, 8))
    assert found["0>1"].holds is True  # seed 1 is far better: a false positive, counted
    entry = control_entry(list(found.items()))
    assert entry["n"] == 2 and entry["n_holds"] == 1 and entry["false_positive_rate"] == 0.5
    assert entry["effects"] == [found[k].effect for k in entry["seeds"]]


def test_selection_rejects_bad_input():
    with pytest.raises(ConfigError, match="outside"):
        select_by_accuracy(np.full((2, 10), 2.0), [0, 1])
    with pytest.raises(ConfigError, match="shape"):
        select_by_accuracy(np.zeros((3, 10)), [0, 1])
    with pytest.raises(ConfigError, match="scored"):
        select_by_accuracy(np.full((2, 10), np.nan), [0, 1])


# multi-task sharing -------------------------------------------------------------------------

SHARE_PS = [0, 2, 4, 16]


def _shared(per_p: list[float], noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array(per_p)[:, None] + noise * rng.standard_normal((len(per_p), 4))


@pytest.mark.parametrize("seed", SEEDS)
def test_sharing_claim_holds_when_trained_networks_lose_sharing_faster(seed):
    untrained = _shared([1.0, 0.8, 0.75, 0.7], 0.01, 2 * seed)
    trained = _shared([1.0, 0.8, 0.6, 0.3], 0.01, 2 * seed + 1)
    test = sharing_trend_test(trained, untrained, SHARE_PS, n_perm=999, n_boot=200, seed=seed)
    result = tc.sharing_result(test, 16)
    assert result.holds is True and result.p_value < 0.01
    assert result.ci[0] < result.effect < result.ci[1]
    assert test["slope_trained"] < test["slope_untrained"] < 0


@pytest.mark.parametrize("seed", SEEDS)
def test_sharing_claim_fails_when_untrained_networks_share_as_much(seed):
    """Overlap falls with 2^P by counting alone: the same fall in untrained networks is no
    evidence for the claim, however significant the trained trend is by itself."""
    per_p = [1.0, 0.8, 0.5, 0.2]
    trained, untrained = _shared(per_p, 0.02, 2 * seed + 10), _shared(per_p, 0.02, 2 * seed + 11)
    test = sharing_trend_test(trained, untrained, SHARE_PS, n_perm=999, n_boot=200, seed=seed)
    assert test["slope_trained"] < -0.1  # the old claim (Spearman rho < 0) would hold
    assert tc.sharing_result(test, 16).holds is False


def test_sharing_claim_not_testable_with_one_p_above_zero():
    test = sharing_trend_test(np.ones((2, 3)), np.ones((2, 3)), [0, 2], n_perm=10, n_boot=10)
    result = tc.sharing_result(test, 4)
    assert result.holds is None and "fewer than two P > 0" in result.reason


def test_sharing_permutation_test_is_calibrated_under_its_null():
    """d independent of P: the rejection rate at alpha is <= alpha (300 draws); a test that
    ignores the untrained networks fails the same check."""
    rng = np.random.default_rng(5)
    p_null, p_naive = [], []
    for k in range(300):
        untrained = np.array([1.0, 0.8, 0.6, 0.4])[:, None] + 0.05 * rng.standard_normal((4, 3))
        trained = untrained + 0.05 * rng.standard_normal((4, 3))
        options = {"n_perm": 99, "n_boot": 1, "seed": k}
        p_null.append(sharing_trend_test(trained, untrained, SHARE_PS, **options)["p_value"])
        flat = np.zeros_like(untrained)
        p_naive.append(sharing_trend_test(trained, flat, SHARE_PS, **options)["p_value"])
    tolerance = 2.5 * np.sqrt(0.05 * 0.95 / 300)
    assert np.mean(np.array(p_null) < 0.05) <= 0.05 + tolerance
    assert np.mean(np.array(p_naive) < 0.05) > 0.5


def test_sharing_test_rejects_bad_input():
    with pytest.raises(ConfigError, match="shape|pwl_units"):
        sharing_trend_test(np.ones((3, 2)), np.ones((2, 2)), [0, 1, 2])
    with pytest.raises(ConfigError, match="n_perm"):
        sharing_trend_test(np.ones((3, 2)), np.ones((3, 2)), [0, 1, 2], n_perm=0)


def test_power_entry_counts_testable_runs():
    runs = [(1, ClaimResult(True)), (2, ClaimResult(False)), (3, ClaimResult.not_testable("x"))]
    entry = tctl.power_entry(runs)
    assert entry["seeds"] == [1, 2, 3] and entry["holds"] == [True, False, None]
    assert (entry["n"], entry["n_holds"], entry["rate"]) == (2, 1, 0.5)
    assert "false_positive_rate" not in entry
    assert entry["true_by_construction"] is False  # fresh task draws: a low rate replicates


# sweeps write and read per-trial task scores ------------------------------------------------


def test_task_sweep_writes_per_trial_scores(tmp_path):
    from alrnn_neuro.sweep import SweepGrid, run_sweep
    from alrnn_neuro.sweep.multitask import sweep_multitask
    from alrnn_neuro.sweep.task_scores import TASK_SCORES_FILE, sweep_task_scores
    from alrnn_neuro.training.config import FitConfig

    ds = make_task("addition", n_trials=40, seed=0, length=6)
    grid = SweepGrid(models=("alrnn",), pwl_units=(0, 2), seeds=(0, 1), latent_dims=(3,))
    run_sweep(ds, grid, FitConfig(latent_dim=3, epochs=1), out=tmp_path / "sw")
    correct = sweep_task_scores(tmp_path / "sw")
    assert correct.dims == ("pwl_units", "seed", "trial") and correct.shape[:2] == (2, 2)
    assert correct.sizes["trial"] == 6  # the 15 % common test trials
    assert set(np.unique(correct.values)) <= {0.0, 1.0}
    (tmp_path / "sw" / "cells" / "alrnn-M3-P2-seed1-tf1" / TASK_SCORES_FILE).unlink()
    with pytest.raises(RunDirError, match=TASK_SCORES_FILE):
        sweep_task_scores(tmp_path / "sw")
    with pytest.raises(ConfigError, match="seed_offset"):
        sweep_multitask(tmp_path / "sw", ds, untrained=True, seed_offset=-1)


# controls and power on real (tiny) sweeps ---------------------------------------------------


def _copy(seed: int) -> xr.Dataset:
    return make_task("copy", n_trials=48, seed=seed, seq_len=2, delay=2, n_symbols=3)


@pytest.fixture(scope="module")
def copy_sweep(tmp_path_factory):
    """A copy-task sweep, P in {0, 1, 3} (M = 3), two model seeds, a few epochs."""
    from alrnn_neuro.sweep import SweepGrid, run_sweep
    from alrnn_neuro.training.config import FitConfig

    out = tmp_path_factory.mktemp("copy") / "sweep"
    grid = SweepGrid(models=("alrnn",), pwl_units=(0, 1, 3), seeds=(0, 1), latent_dims=(3,))
    config = FitConfig(latent_dim=3, epochs=3, batch_size=16, split=(0.5, 0.1, 0.4), seed=7)
    run_sweep(_copy(7), grid, config, out=out)
    return out, config


def test_rescoring_a_sweep_on_its_own_data_gives_its_task_scores(copy_sweep):
    from alrnn_neuro.sweep.task_scores import rescore_sweep, sweep_task_scores

    sweep_dir, _ = copy_sweep
    own = sweep_task_scores(sweep_dir)
    again = rescore_sweep(sweep_dir, _copy(7))
    assert again.dims == own.dims and np.array_equal(again["trial"], own["trial"])
    np.testing.assert_array_equal(again.values, own.values)
    fresh = [rescore_sweep(sweep_dir, _copy(seed)) for seed in (11, 12)]
    assert all(f.shape == own.shape and set(np.unique(f)) <= {0.0, 1.0} for f in fresh)
    assert not np.array_equal(fresh[0].values, fresh[1].values)  # other trials, other scores


def test_rescoring_needs_the_held_out_trial_ids(copy_sweep):
    from alrnn_neuro.errors import DataValidationError
    from alrnn_neuro.sweep.task_scores import rescore_sweep

    short = make_task("copy", n_trials=5, seed=1, seq_len=2, delay=2, n_symbols=3)
    with pytest.raises(DataValidationError, match="held-out trial id"):
        rescore_sweep(copy_sweep[0], short)


def test_untrained_networks_do_not_pass_the_sparse_claim(copy_sweep):
    """Untrained control on real networks, three data seeds: judged by the tests alone (no
    'learned' gate), the claim fails on every draw."""
    _, config = copy_sweep
    found = tctl.untrained_task_outcomes(_copy, config, [0, 1, 3], 2, [3001, 3002, 3003])
    assert [k for k, _ in found] == [3001, 3002, 3003]
    assert all(r.holds is False for _, r in found)
    entry = control_entry(found)
    assert entry["n"] == 3 and entry["false_positive_rate"] == 0.0


def test_power_runs_score_the_fitted_networks_on_new_draws(copy_sweep):
    """Three epochs learn nothing: the claim is n.a. on every new draw (no P reaches the
    learned accuracy), so the power has no testable run rather than a made-up rate."""
    sweep_dir, _ = copy_sweep
    found = tctl.redrawn_task_outcomes(sweep_dir, _copy, 3, [3001, 3002])
    assert [k for k, _ in found] == [3001, 3002]
    assert all(r.holds is None and "no P learned" in r.reason for _, r in found)
    assert tctl.power_entry(found)["rate"] is None


@pytest.fixture(scope="module")
def suite_sweep(tmp_path_factory):
    """A one-epoch multi-task sweep, P in {0, 1, 2} (M = 3), two model seeds."""
    from alrnn_neuro.sweep import SweepGrid, run_sweep
    from alrnn_neuro.training.config import FitConfig

    out = tmp_path_factory.mktemp("suite") / "sweep"
    grid = SweepGrid(models=("alrnn",), pwl_units=(0, 1, 2), seeds=(0, 1), latent_dims=(3,))
    run_sweep(make_multitask(4, seed=5), grid, FitConfig(latent_dim=3, epochs=1), out=out)
    return out


def _suite(seed: int) -> xr.Dataset:
    return make_multitask(4, seed=seed)


def test_untrained_networks_do_not_pass_the_sharing_claim(suite_sweep):
    """Untrained networks against untrained networks of other seeds, three data seeds: the
    claim fails on each (their shared index falls with P alike)."""
    found = tctl.untrained_sharing_outcomes(suite_sweep, _suite, [3001, 3002, 3003])
    assert [k for k, _ in found] == [3001, 3002, 3003]
    assert all(r.holds is False for _, r in found)
    assert all(r.p_value is not None and 0 < r.p_value <= 1 for _, r in found)


def test_sharing_power_runs_compare_fitted_and_untrained_networks_on_new_draws(suite_sweep):
    found = tctl.redrawn_sharing_outcomes(suite_sweep, _suite, [3001, 3002])
    assert [k for k, _ in found] == [3001, 3002]
    assert all(r.holds is not None and "untrained" in r.evidence for _, r in found)
    assert found[0][1].evidence != found[1][1].evidence  # other draws, other numbers


# the claim record: calibration decides the status --------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_task_claim_reads_uncalibrated_when_its_control_passes_too_often(seed):
    """A sparse-P claim that holds on the reproduction but also on 2 of 5 untrained draws (FPR
    0.4 > alpha + 0.05) is "uncalibrated" in reproduce.json and in the printed table, never
    "holds"; with 0 of 5 it holds, with its power printed; holding on 1 of 4 power draws it
    reads "not replicated"."""
    from io import StringIO

    from rich.console import Console

    from alrnn_neuro.cli.reproduce import print_claims
    from alrnn_neuro.reproduce.claim_records import Claim

    result = tc.sparse_suffices_result(
        tc.task_selection(_correct([0.3, 0.93, 0.96, 0.96], seed=seed)), 8
    )
    assert result.holds is True

    def claim(untrained_holds: list[bool], power_holds: tuple[bool, ...] = (True,) * 4) -> dict:
        runs = list(enumerate(untrained_holds))
        return Claim(
            name=tc.claim_name("copy"),
            text=tc.claim_text("copy", 8),
            criterion=tc.TASK_CRITERION,
            result=result,
            controls={"untrained": control_entry([(k, ClaimResult(h)) for k, h in runs])},
            power=tctl.power_entry([(k, ClaimResult(h)) for k, h in enumerate(power_holds)]),
        ).to_dict()

    bad, good = claim([True, True, False, False, False]), claim([False] * 5)
    lone = claim([False] * 5, power_holds=(True, False, False, False))
    assert (bad["status"], bad["holds"], bad["false_positive_rate"]) == ("uncalibrated", False, 0.4)
    assert (good["status"], good["holds"], good["power"]["rate"]) == ("holds", True, 1.0)
    assert (lone["status"], lone["holds"], lone["power"]["rate"]) == ("not replicated", False, 0.25)
    printed = ((bad, "uncalibrated", "1"), (good, "holds", "1"), (lone, "not replicated", "0.25"))
    for record, word, power in printed:
        text = StringIO()
        print_claims(Console(file=text, width=200), {"claims": [record], "seconds": 1.0})
        row = next(line for line in text.getvalue().splitlines() if "sparse_suffices" in line)
        cells = [cell.strip() for cell in row.split("│")[1:-1]]
        assert cells[1] == word and cells[5] == power
        # the FPR with the exact 95 % interval of its control (2 of 5; 0 of 5)
        assert cells[4] == ("0.4 [0.0527, 0.853]" if word == "uncalibrated" else "0 [0, 0.522]")
