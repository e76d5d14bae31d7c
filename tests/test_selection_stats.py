"""Calibration of the selection statistics on simulated per-trial log-likelihood differences.

No model is fitted: per-trial gains g_i (nats) and spike counts n_i are drawn with a known true
effect Δ (bits/spike), g_i = ln 2 · (Δ · n_i + σ · ε_i), with ε light-tailed (normal) or
heavy-tailed (Student t, 3 degrees of freedom). Every statistic is the library's own
(:mod:`alrnn_neuro.sweep.selection_stats`, :mod:`alrnn_neuro.sweep.selection_verdict`). Seeds
are fixed, so each check is deterministic.

Tolerances: a rejection rate r estimated from D draws is accepted up to α + 3·sqrt(α(1−α)/D)
(three binomial standard errors); p-values are "uniform" when a Kolmogorov–Smirnov test against
U(0, 1) gives p > 0.01.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.sweep.selection_stats import (
    DEFAULT_ALPHA,
    DEFAULT_MARGIN,
    DEFAULT_MIN_EFFECT,
    bootstrap_ci,
    effect_bits_per_spike,
    equivalence_test,
    one_sided_test,
)
from alrnn_neuro.sweep.selection_verdict import replicate_over_seeds, select_pwl_units
from alrnn_neuro.training.metrics import bits_per_spike

LN2 = math.log(2.0)
N_TRIALS = 40  # small held-out sets: the hard case for a t-test
KS_P = 0.01


def tolerance(alpha: float, draws: int) -> float:
    """Three binomial standard errors of a rate alpha estimated from ``draws`` draws."""
    return 3.0 * math.sqrt(alpha * (1.0 - alpha) / draws)


def draw_trials(rng, effects, *, n_trials=N_TRIALS, sigma=0.2, tails="normal"):
    """Per-trial log-likelihoods (P, trial) whose differences to row 0 have the given true
    effects (bits/spike), and spike counts (trial,)."""
    n_spikes = 1.0 + rng.poisson(30, n_trials)
    base = rng.normal(-200.0, 20.0, n_trials)
    rows = [base]
    for effect in effects:
        if tails == "normal":
            noise = rng.normal(0.0, sigma, n_trials)
        else:  # Student t with 3 dof, scaled to the same standard deviation
            noise = rng.standard_t(3, n_trials) * sigma / math.sqrt(3.0)
        rows.append(base + LN2 * (effect * n_spikes + noise))
    return np.stack(rows), n_spikes


@pytest.mark.parametrize("tails", ["normal", "student_t3"])
def test_one_sided_p_values_are_uniform_at_the_null_boundary(tails):
    """True effect exactly ``min_effect``: p-values of "effect > min_effect" must be
    U(0, 1) (KS p > 0.01, 400 draws of 40 trials) for light- and heavy-tailed noise."""
    rng = np.random.default_rng(11)
    p_values = []
    for _ in range(400):
        ll, n = draw_trials(rng, [DEFAULT_MIN_EFFECT], tails=tails)
        p_values.append(one_sided_test(ll[1] - ll[0], n, DEFAULT_MIN_EFFECT).p_value)
    assert stats.kstest(p_values, "uniform").pvalue > KS_P


def test_pseudoreplication_fails_the_uniformity_check():
    """The check above can fail: treating each trial's 10 bins as independent units (the same
    gains split into 10 bins) makes p-values far from uniform."""
    rng = np.random.default_rng(11)
    p_values = []
    for _ in range(400):
        ll, n = draw_trials(rng, [DEFAULT_MIN_EFFECT])
        gain = np.repeat((ll[1] - ll[0]) / 10.0, 10)
        p_values.append(one_sided_test(gain, np.repeat(n / 10.0, 10), DEFAULT_MIN_EFFECT).p_value)
    assert stats.kstest(p_values, "uniform").pvalue < KS_P


@pytest.mark.parametrize("side", [-1.0, 1.0])
def test_equivalence_rejects_at_rate_alpha_at_the_margin(side):
    """True effect exactly ±margin: TOST declares equivalence at rate α within three binomial
    standard errors (1000 draws), neither more (anti-conservative) nor far less."""
    rng = np.random.default_rng(12)
    draws = 1000
    rejected = 0
    for _ in range(draws):
        ll, n = draw_trials(rng, [side * DEFAULT_MARGIN])
        rejected += equivalence_test(ll[1] - ll[0], n, DEFAULT_MARGIN).p_value < DEFAULT_ALPHA
    tol = tolerance(DEFAULT_ALPHA, draws)
    assert DEFAULT_ALPHA - tol <= rejected / draws <= DEFAULT_ALPHA + tol


def test_minimal_p_is_zero_at_most_alpha_when_p0_loses_the_margin():
    """P = 0 truly a margin worse than P = 1 = P = 2: "minimal sufficient P = 0" must come out
    at rate <= α + three binomial standard errors (500 draws)."""
    rng = np.random.default_rng(13)
    draws = 500
    wrong = 0
    for _ in range(draws):
        ll, n = draw_trials(rng, [DEFAULT_MARGIN, DEFAULT_MARGIN])
        result = select_pwl_units(ll, ll[0] - 0.05 * n, n, [0, 1, 2], n_boot=0)
        wrong += float(result["minimal_pwl_units"]) == 0
    assert wrong / draws <= DEFAULT_ALPHA + tolerance(DEFAULT_ALPHA, draws)


@pytest.mark.parametrize("tails", ["normal", "student_t3"])
def test_zero_insufficient_false_positive_rate_at_most_alpha(tails):
    """Every P > 0 beats P = 0 by exactly ``min_effect`` (the least favourable null): "P = 0 is
    insufficient" must hold at rate <= α + three binomial standard errors (500 draws), although
    the best of three P is picked on the same trials."""
    rng = np.random.default_rng(14)
    draws = 500
    positives = 0
    for _ in range(draws):
        ll, n = draw_trials(rng, [DEFAULT_MIN_EFFECT] * 3, tails=tails)
        result = select_pwl_units(ll, ll[0] - 0.05 * n, n, [0, 1, 2, 4], n_boot=0)
        positives += float(result["zero_insufficient"]) == 1.0
    assert positives / draws <= DEFAULT_ALPHA + tolerance(DEFAULT_ALPHA, draws)


def test_power_when_nonlinearity_helps_a_lot():
    """P >= 1 gains 0.01 bits/spike (5 x min_effect) on 100 trials: P = 0 insufficient and
    minimal sufficient P >= 1 in more than 90 % of 200 draws."""
    rng = np.random.default_rng(15)
    hits = 0
    for _ in range(200):
        ll, n = draw_trials(rng, [0.01, 0.01], n_trials=100)
        result = select_pwl_units(ll, ll[0] - 0.05 * n, n, [0, 1, 2], n_boot=0)
        hits += (
            float(result["zero_insufficient"]) == 1.0 and float(result["minimal_pwl_units"]) >= 1
        )
    assert hits / 200 > 0.9


def test_power_when_no_nonlinearity_is_needed():
    """Every P equal to P = 0 on 100 trials: minimal sufficient P = 0 in more than 90 % of 200
    draws, and P = 0 insufficient in at most α + tolerance."""
    rng = np.random.default_rng(16)
    zero, insufficient = 0, 0
    for _ in range(200):
        ll, n = draw_trials(rng, [0.0, 0.0], n_trials=100)
        result = select_pwl_units(ll, ll[0] - 0.05 * n, n, [0, 1, 2], n_boot=0)
        zero += float(result["minimal_pwl_units"]) == 0
        insufficient += float(result["zero_insufficient"]) == 1.0
    assert zero / 200 > 0.9
    assert insufficient / 200 <= DEFAULT_ALPHA + tolerance(DEFAULT_ALPHA, 200)


def test_too_few_trials_for_the_margin_is_cannot_tell():
    rng = np.random.default_rng(17)
    ll, n = draw_trials(rng, [0.0, 0.0], n_trials=5, sigma=20.0)
    result = select_pwl_units(ll, ll[0], n, [0, 1, 2], n_boot=0)
    assert np.isnan(float(result["minimal_pwl_units"]))
    assert not result["equivalent"].values.any()


def test_bootstrap_interval_covers_the_true_effect():
    """95 % percentile intervals over 60 trials cover the true effect in >= 90 % of 200 draws
    (the percentile bootstrap runs slightly below nominal with few trials)."""
    rng = np.random.default_rng(18)
    covered = 0
    for k in range(200):
        ll, n = draw_trials(rng, [0.004], n_trials=60, tails="student_t3")
        lo, hi = bootstrap_ci(ll[1] - ll[0], n, n_boot=500, seed=k)[0]
        covered += lo <= 0.004 <= hi
    assert covered / 200 >= 0.9


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(19)
    ll, n = draw_trials(rng, [0.004, 0.0])
    gains = ll[1:] - ll[0]
    first = bootstrap_ci(gains, n, n_boot=300, seed=3)
    np.testing.assert_array_equal(first, bootstrap_ci(gains, n, n_boot=300, seed=3))
    assert not np.array_equal(first, bootstrap_ci(gains, n, n_boot=300, seed=4))
    assert first.shape == (2, 2) and (first[:, 0] < first[:, 1]).all()


def test_effect_matches_the_metrics_bits_per_spike():
    """The selection's Δ is the same number as metrics.bits_per_spike on the same trials."""
    rng = np.random.default_rng(20)
    counts = rng.poisson(2.0, (12, 7, 3)).astype(float)
    model, psth = rng.uniform(1, 3, counts.shape), rng.uniform(1, 3, counts.shape)
    mask = rng.random(counts.shape) > 0.2
    per_trial = np.array(
        [
            np.sum((counts[i] * np.log(model[i]) - model[i])[mask[i]])
            - np.sum((counts[i] * np.log(psth[i]) - psth[i])[mask[i]])
            for i in range(12)
        ]
    )
    spikes = np.array([counts[i][mask[i]].sum() for i in range(12)])
    expected = bits_per_spike(counts, model, psth, mask)
    assert effect_bits_per_spike(per_trial, spikes) == pytest.approx(expected, rel=1e-12)


def test_replication_reports_per_seed_verdicts_and_agreement():
    rng = np.random.default_rng(21)
    ll, n = draw_trials(rng, [0.01, 0.01], n_trials=100)
    # three seeds: two see the effect, one sees no nonlinearity at all
    seeds = np.stack([ll, ll + rng.normal(0, 0.01, ll.shape), np.stack([ll[0]] * 3)], axis=1)
    pooled = select_pwl_units(seeds.mean(axis=1), ll[0] - n, n, [0, 1, 2], n_boot=0)
    rep = replicate_over_seeds(seeds, ll[0] - n, n, [0, 1, 2], pooled)
    assert rep["seed_zero_insufficient"].values.tolist() == [1.0, 1.0, 0.0]
    assert float(pooled["zero_insufficient"]) == 1.0
    assert float(rep["insufficient_agreement"]) == pytest.approx(2 / 3)
    assert rep["seed_minimal_pwl_units"].values[2] == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alpha": 0.7}, r"alpha=0.7.*\(0, 0.5\)"),
        ({"margin": 0.0}, r"margin=0.0.*> 0"),
        ({"min_effect": -1.0}, r"min_effect=-1.0.*>= 0"),
        ({"pwl_units": [0, 0, 1]}, r"pwl_units=\[0, 0, 1\].*distinct"),
    ],
)
def test_select_rejects_bad_parameters(kwargs, message):
    rng = np.random.default_rng(22)
    ll, n = draw_trials(rng, [0.0, 0.0])
    pwl = kwargs.pop("pwl_units", [0, 1, 2])
    with pytest.raises(ConfigError, match=message):
        select_pwl_units(ll, ll[0], n, pwl, n_boot=0, **kwargs)


def test_paired_test_needs_matching_trials():
    with pytest.raises(ConfigError, match="gain has 3 trials and n_spikes 2"):
        one_sided_test(np.zeros(3), np.ones(2))
