"""The primitives claim of reproduce tasks: its sign-flip test, its verdicts, and its counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.reproduce.task_primitives import (
    primitive_counts,
    primitives_result,
    sign_flip_p,
)
from alrnn_neuro.simulate.tasks import make_task
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.sweep.cell_primitives import primitives_in
from alrnn_neuro.training.api import initial_fit, load_run
from alrnn_neuro.training.config import FitConfig


def _counts(trained, untrained, pwl_units=None) -> xr.Dataset:
    n = len(trained)
    ps = pwl_units if pwl_units is not None else [1 + k % 3 for k in range(n)]
    return xr.Dataset(
        {"trained": ("network", np.asarray(trained, float)),
         "untrained": ("network", np.asarray(untrained, float))},
        coords={"pwl_units": ("network", ps), "seed": ("network", list(range(n)))},
    )  # fmt: skip


def test_sign_flip_p_is_exact_for_small_samples():
    assert sign_flip_p(np.ones(5)) == pytest.approx(1 / 32)
    assert sign_flip_p(-np.ones(5)) == 1.0
    assert sign_flip_p(np.array([3.0, -1.0])) == pytest.approx(0.5)  # {+3-1, +3+1} of 4


def test_sign_flip_p_is_uniform_under_a_symmetric_null():
    rng = np.random.default_rng(7)
    p = np.array([sign_flip_p(rng.normal(size=10)) for _ in range(300)])
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert np.mean(p < 0.05) <= 0.05 + 0.03


def test_sign_flip_p_uses_random_flips_beyond_sixteen_networks():
    values = np.r_[np.ones(20), -np.ones(20)]
    assert 0.3 < sign_flip_p(values, seed=1, n_random=2000) < 0.7


def test_clear_excess_holds_and_no_excess_fails():
    holds = primitives_result(_counts([3, 2, 4, 3, 2, 5], [0] * 6))
    assert holds.holds is True and holds.effect == pytest.approx(19 / 6)
    assert holds.ci[0] > 0 and holds.p_value == pytest.approx(1 / 64)
    same = primitives_result(_counts([2, 0, 1, 3, 0, 1], [2, 0, 1, 3, 0, 1]))
    assert same.holds is False and same.effect == 0 and same.p_value == 1.0


def test_significant_but_small_excess_does_not_hold():
    small = primitives_result(_counts([1, 1, 1, 1, 1, 1, 0, 0], [0] * 8))
    assert small.p_value < 0.05 and small.effect < 1.0
    assert small.holds is False  # below task_primitives.min_excess


def test_evidence_says_how_many_networks_differ_and_the_floor_of_p():
    """Unchanged networks (ties) cannot move the sign-flip p: with 4 of 9 networks differing,
    p >= 1/16 > alpha however large their gains, and the evidence says so."""
    tied = primitives_result(_counts([5, 5, 5, 5, 1, 0, 2, 0, 3], [0, 0, 0, 0, 1, 0, 2, 0, 3]))
    assert tied.holds is False and tied.p_value == pytest.approx(1 / 16)
    assert "(4 differ from their initialisation: p >= 1/2^4 = 0.0625)" in tied.evidence


def test_too_few_networks_for_the_sign_flip_test_is_not_testable():
    """With n <= 4 networks even a gain in every one gives p = 1/2^n >= alpha = 0.05: the claim
    cannot hold by design, so it reads n.a. (saying why), not "does not hold"; five can."""
    four = primitives_result(_counts([9, 9, 9, 9], [0] * 4))
    assert four.holds is None and "cannot go below 1/2^4" in four.reason
    assert "fix: more model seeds" in four.reason
    five = primitives_result(_counts([9, 9, 9, 9, 9], [0] * 5))
    assert five.holds is True and five.p_value == pytest.approx(1 / 32)


def test_unlearned_task_is_not_testable_and_controls_skip_the_condition():
    counts = _counts([3, 2, 4, 3, 2, 5], [0] * 6)
    assert primitives_result(counts, learned=False).holds is None
    assert "no P learned" in primitives_result(counts, learned=False).reason
    assert primitives_result(counts, learned=None).holds is True
    assert primitives_result(_counts([], [], [])).holds is None


@pytest.fixture(scope="module")
def task_sweep(tmp_path_factory):
    ds = make_task("contextual_integration", n_trials=80, seed=3)
    out = tmp_path_factory.mktemp("prim") / "sweep"
    grid = SweepGrid(pwl_units=(0, 2), seeds=(0, 1), latent_dims=(4,))
    run_sweep(ds, grid, FitConfig(latent_dim=4, epochs=3, split=(0.6, 0.2, 0.2)), out=out)
    return out, ds


def test_counts_pair_every_p_above_zero_network_with_its_initialisation(task_sweep):
    out, ds = task_sweep
    counts = primitive_counts(out, ds)
    assert list(counts["pwl_units"].values) == [2, 2]
    assert sorted(counts["seed"].values) == [0, 1]
    assert np.all(counts["trained"].values >= 0) and np.all(counts["untrained"].values >= 0)
    assert primitive_counts(out, ds).equals(counts)  # deterministic


def test_control_replaces_the_fitted_networks_by_untrained_ones(task_sweep):
    out, ds = task_sweep
    control = primitive_counts(out, ds, control_seed=5)
    assert control.equals(primitive_counts(out, ds, control_seed=5))
    assert control.attrs["control_seed"] == "5"
    test = ds.sel(trial=json.loads((out / "sweep.json").read_text())["test_trials"])
    for k, seed in enumerate(control["seed"].values):
        run = out / "cells" / f"alrnn-M4-P2-seed{seed}-tf1"
        config = load_run(run).config.replace(seed=100 * 5 + int(seed))
        for slot, offset in (("trained", 0), ("untrained", 50)):
            stand_in = initial_fit(ds, config.replace(seed=config.seed + offset))
            expected = primitives_in(
                ALRNNParams.from_model(stand_in), stand_in.encode(test), test, config.inputs
            )
            assert control[slot].values[k] == expected
    assert primitive_counts(out, ds).attrs["control_seed"] == "None"
