"""Small-setting check of the science claim of the regime analysis (issue 4).

A fit with the documented recipe (``examples/configs/stimulus_selection.toml``: M=7, P=2,
MAR on one latent) to a small simulated stimulus-selection session must recover the
generating structure: regions aligned with the task epochs (AMI above its circular-shift null,
p < 0.01), one region per rule whose map routes that rule's relevant sound (location / pitch)
to the choice, and the rule held in a slow mode (|eigenvalue| > 0.95) through the hold epoch.
Setting: 300 trials of a data seed never used while choosing the recipe (7; the recipe was
chosen on the demo's seed 2014), 30 units, the recipe's 200 epochs, fit seeds 0-5 (about
10-20 s each on one thread). The documented pass rate is asserted, not one lucky seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alrnn_neuro.analysis import analyze_run
from alrnn_neuro.analysis.routing import feature_responses, hold_mode, rule_routing
from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig

RECIPE = Path(__file__).parents[1] / "examples" / "configs" / "stimulus_selection.toml"
SOUNDS = ("left_noise", "right_noise", "high_pitch", "low_pitch")


def test_feature_response_matches_simulated_pulse():
    """r^T sum_{t<T} J^t C_k equals the readout of a T-step simulation inside one region."""
    rng = np.random.default_rng(0)
    M, K, P, T = 4, 3, 2, 6
    A, W = rng.uniform(0.3, 0.9, M), rng.normal(0, 0.2, (M, M))
    C, r = rng.normal(0, 1, (M, K)), rng.normal(0, 1, M)
    code = 2  # bits "10": PWL unit M-2 active, M-1 inactive
    d = np.array([1.0, 1.0, 1.0, 0.0])
    z, total = np.zeros(M), 0.0
    for _ in range(T):  # input (C_0 - C_1) held for T steps from z = 0, map of region `code`
        z = A * z + W @ (d * z) + C[:, 0] - C[:, 1]
    total = r @ z
    params = ALRNNParams(A, W, C, np.zeros(M), P)
    got = feature_responses(params, code, r, {"f": (0, 1)}, horizon=T)
    assert got["f"] == pytest.approx(total)


def test_recipe_toml_is_the_documented_fit_config():
    cfg = FitConfig.from_toml(RECIPE)
    assert (cfg.latent_dim, cfg.pwl_units, cfg.mar, cfg.mar_units) == (7, 2, 1.0, 1)
    assert (cfg.epochs, cfg.seed, cfg.obs, cfg.model) == (200, 0, "auto", "alrnn")


#: a data seed never used while choosing the recipe (that was seed 2014, the demo's)
DATA_SEED = 7
FIT_SEEDS = tuple(range(6))
#: documented pass rate (docs/notes/regime-recovery.md): measured 6 of 6 fit seeds on this
#: data seed at this size; the test allows one miss for floating-point differences between
#: machines, so it fails if recovery depends on a lucky initialisation
MIN_PASSES = 5
_outcomes: dict[int, dict] = {}


@pytest.fixture(scope="module")
def session():
    return simulate_stimulus_selection(n_trials=300, n_units=30, seed=DATA_SEED, lfp=False)


def _outcome(session, fit_seed: int) -> dict[str, bool]:
    """The recovery facts of one fit seed, fitted once per test process.

    Cached per process: pytest-xdist may run the per-seed tests in another worker than the
    rate test, which then fits the seeds it has not seen itself.
    """
    if fit_seed not in _outcomes:
        run = fit(session, FitConfig.from_toml(RECIPE, seed=fit_seed))
        res = analyze_run(
            run, session, n_null=200, seed=0, evidence_inputs=SOUNDS, cycle_periods=()
        )
        table, summary = rule_routing(run.params, run.latents)
        hold = hold_mode(run.params, run.latents)
        _outcomes[fit_seed] = {
            "epoch_aligned": res.summary["epoch_p"] < 0.01,
            "routing_pair": bool(summary["pair_found"]) and table["region"].nunique() == 2,
            "slow_hold": hold["eigenvalue_modulus"] > 0.95 and hold["rule_auc"] > 0.75,
        }
    return _outcomes[fit_seed]


@pytest.mark.slow
@pytest.mark.parametrize("fit_seed", FIT_SEEDS)
def test_recipe_on_an_unseen_data_seed(session, fit_seed):
    facts = _outcome(session, fit_seed)
    assert set(facts) == {"epoch_aligned", "routing_pair", "slow_hold"}


@pytest.mark.slow
def test_recipe_recovers_the_generating_structure_at_the_documented_rate(session):
    outcomes = {seed: _outcome(session, seed) for seed in FIT_SEEDS}
    passed = [s for s, facts in outcomes.items() if all(facts.values())]
    assert len(passed) >= MIN_PASSES, outcomes
