"""Calibration of the routing claim's test (:func:`routing_contrast`) and why it replaced the
weakest-selectivity shuffle null.

Under the null the trial's stimulus-epoch regions do not depend on its rule: permutation
p-values must then be uniform (KS test over 300 simulated sessions; the threshold 0.001 keeps
the test's own false-failure rate tiny for any seed). Where the regions follow the rule, the
contrast is large and p is at its floor. The companion test shows the old statistic (each rule
level's *dominant* region's selectivity, :func:`rule_shuffle_null`) cannot be calibrated this
way: with regions that do follow the rule but split evenly within each level, its null
reproduces the observed value about half the time.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from alrnn_neuro.analysis.routing import rule_routing
from alrnn_neuro.analysis.rule_memory import routing_contrast, rule_shuffle_null
from alrnn_neuro.models.params import ALRNNParams

SOUNDS = ("left_noise", "right_noise", "high_pitch", "low_pitch")
INPUTS = (*SOUNDS, "cue_local", "cue_pitch", "hold", "reward")
M, P = 4, 2


def _params() -> ALRNNParams:
    """The rectified latents 2 and 3 carry location and pitch, each reaching the choice latent
    0 only when it is on: the region with only unit 2 on routes location, only 3 on pitch."""
    A = np.array([0.9, 0.5, 0.5, 0.5])
    W = np.zeros((M, M))
    W[0, 2] = W[0, 3] = 1.0
    C = np.zeros((M, len(INPUTS)))
    C[2, INPUTS.index("right_noise")], C[2, INPUTS.index("left_noise")] = 1.0, -1.0
    C[3, INPUTS.index("low_pitch")], C[3, INPUTS.index("high_pitch")] = 1.0, -1.0
    return ALRNNParams(A=A, W=W, C=C, h=np.zeros(M), n_pwl=P, input_names=INPUTS)


def _codes(params: ALRNNParams) -> tuple[int, int]:
    """The region codes with only unit 0 on (location) and only unit 1 on (pitch)."""
    codes = np.arange(2**P)
    bits = params.code_bits(codes)
    location = int(codes[(bits[:, 0] == 1) & (bits[:, 1] == 0)][0])
    pitch = int(codes[(bits[:, 0] == 0) & (bits[:, 1] == 1)][0])
    return location, pitch


def _session(rng, *, follow: float, n_trials: int = 80, n_time: int = 8) -> xr.Dataset:
    """Regions of the stimulus bins: with probability ``follow`` the rule's own, else random."""
    location, pitch = _codes(_params())
    rule = rng.choice(["local", "pitch"], n_trials)
    own = np.where(rule == "local", location, pitch)
    random_codes = rng.integers(0, 4, (n_trials, n_time))
    codes = np.where(rng.random((n_trials, n_time)) < follow, own[:, None], random_codes)
    z = rng.normal(size=(n_trials, n_time, M))
    choice = np.where(z[:, -1, 0] > 0, "right", "left")
    return xr.Dataset(
        {
            "latents": (("trial", "time", "latent"), z),
            "bitcode": (("trial", "time"), codes),
            "valid": (("trial", "time"), np.ones((n_trials, n_time), bool)),
            "epoch": (("trial", "time"), np.full((n_trials, n_time), "stimulus")),
        },
        coords={
            "trial": np.arange(n_trials),
            "rule": ("trial", rule),
            "choice": ("trial", choice),
        },
    )


def test_p_values_are_uniform_when_regions_ignore_the_rule():
    rng = np.random.default_rng(31)
    params = _params()
    p_values = [
        routing_contrast(params, _session(rng, follow=0.0), n_null=99, seed=k)["p_value"]
        for k in range(200)
    ]
    assert stats.kstest(p_values, "uniform").pvalue > 0.001
    rejected = np.mean(np.asarray(p_values) < 0.05)
    assert rejected <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)


@pytest.mark.parametrize("follow", [0.3, 1.0])
def test_regions_that_follow_the_rule_are_found(follow):
    rng = np.random.default_rng(32)
    params = _params()
    for k in range(5):
        found = routing_contrast(params, _session(rng, follow=follow), n_null=99, seed=k)
        assert found["p_value"] == pytest.approx(0.01)  # the floor: no permutation reached it
        assert found["contrast"] == pytest.approx(follow, abs=0.15)


def test_the_dominant_region_shuffle_null_cannot_see_perfect_routing():
    """Every trial in its own rule's routing region, yet permuting the labels reproduces the
    dominant regions' selectivity often: the old null's p-value stays far above alpha."""
    rng = np.random.default_rng(33)
    params = _params()
    old = []
    for k in range(5):
        ds = _session(rng, follow=1.0)
        table, _ = rule_routing(params, ds)
        null = rule_shuffle_null(params, ds, n_null=40, seed=k)
        old.append((1 + np.sum(null >= table["selectivity"].min() - 1e-12)) / 41)
        assert routing_contrast(params, ds, n_null=99, seed=k)["p_value"] < 0.05
    assert np.median(old) > 0.05
