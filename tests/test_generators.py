"""Ground-truth generators of the stimulus-selection simulator: registry, layout, the property
each one exists for (pwl unchanged, linear without rectification, no_routing without routing,
softplus and bilinear with routing and a recurrent rule memory), CLI. ``lstm``: see
test_generators_lstm.py."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from alrnn_neuro.cli.app import app, main
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.simulate import latent_system as ls
from alrnn_neuro.simulate import task_structure as ts
from alrnn_neuro.simulate.generators import GENERATOR_NAMES, get_generator
from alrnn_neuro.simulate.generators.measure import choice_feature_weights, routing_index
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection

FAST = ("pwl", "linear", "no_routing", "softplus", "bilinear")
TASK_LABELS = ("rule", "block", "trial_in_block", "cue_trial", "location", "pitch", "target")


def simulate(generator: str, seed: int = 7, n_trials: int = 300, n_units: int = 8):
    return simulate_stimulus_selection(
        n_trials=n_trials, n_units=n_units, seed=seed, lfp=False, generator=generator
    )


@pytest.fixture(scope="module")
def sessions() -> dict[str, xr.Dataset]:
    return {name: simulate(name) for name in FAST}


def test_registry_names_the_six_generators_and_rejects_unknown_ones():
    assert GENERATOR_NAMES == ("pwl", "linear", "no_routing", "softplus", "bilinear", "lstm")
    assert all(get_generator(name).name == name for name in GENERATOR_NAMES)
    with pytest.raises(ConfigError, match=r"generator='gru'.*pwl, linear"):
        simulate_stimulus_selection(n_trials=5, n_units=2, generator="gru")


def _legacy_pwl(n_trials: int, n_units: int, seed: int) -> dict[str, np.ndarray]:
    """The simulator's pipeline as it was before the generator registry (same calls)."""
    task = ts.TaskParams()
    task_seq, latent_seq, spike_seq, _ = np.random.SeedSequence(seed).spawn(4)
    task_rng = np.random.default_rng(task_seq)
    trials = ts.make_trials(n_trials, rng=task_rng, params=task)
    timeline = ts.build_timeline(trials, bin_size=0.05)
    system = ls.stimulus_selection_system(0.05)
    z0 = ls.initial_state(system, trials["belief"])
    noise = np.random.default_rng(latent_seq).standard_normal((*timeline.valid.shape, 7))
    z = ls.simulate_latents(system, ts.make_inputs(trials, timeline), timeline.valid, z0, noise)
    value = z[np.arange(n_trials), timeline.decision_bin, 1]
    behaviour = ts.decide(value, trials, rng=task_rng, params=task)
    inputs = ts.make_inputs(trials, timeline, behaviour["correct"])
    z = ls.simulate_latents(system, inputs, timeline.valid, z0, noise)
    spike_rng = np.random.default_rng(spike_seq)
    B, b, _ = ls.make_observation_model(n_units, rng=spike_rng)
    spikes = ls.sample_spikes(z, B, b, bin_size=0.05, valid=timeline.valid, rng=spike_rng)
    region = np.where(timeline.valid, system.params.bitcode(z), 0)
    return {
        "spikes": spikes,
        "inputs": inputs,
        "true_latents": z,
        "true_region": region,
        "true_B": B,
        "choice": behaviour["choice"],
        "true_belief": trials["belief"],
    }


def test_pwl_is_the_default_and_reproduces_the_pre_registry_simulator_exactly():
    default = simulate_stimulus_selection(n_trials=40, n_units=6, seed=5, lfp=False)
    explicit = simulate("pwl", seed=5, n_trials=40, n_units=6)
    xr.testing.assert_identical(default, explicit)
    legacy = _legacy_pwl(40, 6, 5)
    for name, values in legacy.items():
        np.testing.assert_array_equal(default[name].values, values, err_msg=name)
    assert default.attrs["generator"] == "pwl"
    assert default.attrs["true_routing"] == "local:location,pitch:pitch"
    assert int(default.attrs["true_pwl_units"]) == 2


def test_every_generator_writes_the_same_observable_layout(sessions):
    pwl = sessions["pwl"]
    for name, ds in sessions.items():
        validate_dataset(ds)
        assert ds.attrs["generator"] == name
        for key in ("true_routing", "true_rule_memory", "true_nonlinearity"):
            assert isinstance(ds.attrs[key], str), (name, key)
        assert ds["spikes"].dims == ("trial", "time", "unit") and ds["spikes"].dtype == np.int32
        for label in (*TASK_LABELS, "valid", "epoch", "time", "area", "true_belief"):
            assert ds[label].dims == pwl[label].dims, (name, label)
        for label in (*TASK_LABELS, "valid", "epoch", "time", "area"):
            np.testing.assert_array_equal(ds[label].values, pwl[label].values, err_msg=label)
        sounds = pwl["inputs"].sel(input=[n for n in ts.INPUT_NAMES if n != "reward"])
        np.testing.assert_array_equal(ds["inputs"].sel(input=sounds["input"]), sounds)
        rewarded = ds["inputs"].sel(input="reward").max("time").values == 1
        np.testing.assert_array_equal(rewarded, ds["correct"].values)
        assert list(ds["true_latent"].values) == list(ls.LATENT_NAMES)
        assert ds["true_B"].dims == ("unit", "true_latent")
        assert ("true_region" in ds) == (name in ("pwl", "no_routing")), name
        assert not ds["true_latents"].values[~ds["valid"].values].any()


@pytest.mark.parametrize("name", FAST)
def test_generators_are_seeded_and_deterministic(name, sessions):
    again = simulate(name)
    xr.testing.assert_identical(again, sessions[name])
    other = simulate(name, seed=8, n_trials=300)
    assert not np.array_equal(other["spikes"].values, again["spikes"].values)


def _map_residual_std(ds: xr.Dataset, phi) -> np.ndarray:
    """Per latent, s.d. of z_t − (A z_{t-1} + W phi(z_{t-1}) + C s_t + h) over valid bin pairs."""
    z, s = ds["true_latents"].values, ds["inputs"].values.astype(float)
    A, W, C, h = (ds[f"true_{k}"].values for k in "AWCh")
    pairs = ds["valid"].values[:, 1:] & ds["valid"].values[:, :-1]
    before, after, drive = z[:, :-1][pairs], z[:, 1:][pairs], s[:, 1:][pairs]
    residual = after - (A * before + phi(before) @ W.T + drive @ C.T + h)
    return residual.std(axis=0)


def test_linear_has_no_rectification_anywhere(sessions):
    linear, pwl = sessions["linear"], sessions["pwl"]
    assert int(linear.attrs["true_pwl_units"]) == 0
    assert linear.attrs["true_nonlinearity"] == "none"
    assert linear.attrs["true_routing"] == "none"
    # the latents follow the map with phi = identity: only the process noise is left over
    noise = linear["true_noise_std"].values
    np.testing.assert_allclose(_map_residual_std(linear, lambda z: z), noise, rtol=0.1)
    # the same check fails on the rectified generator (so it can tell)
    pwl_residual = _map_residual_std(pwl, lambda z: z)
    assert pwl_residual[list(ls.LATENT_NAMES).index("context")] > 5 * noise[4]


def test_linear_choice_mixes_the_features_whatever_the_rule(sessions):
    weights = choice_feature_weights(sessions["linear"])
    assert (weights > 0.1).all()
    assert abs(weights - weights.mean()).max() < 0.03  # ~w/2 on both, in both rules
    assert abs(routing_index(weights)) < 0.05


def test_no_routing_weighs_location_and_pitch_alike_in_both_rules(sessions):
    weights = choice_feature_weights(sessions["no_routing"])
    difference = weights.sel(rule="local") - weights.sel(rule="pitch")
    assert abs(difference).max() < 0.03
    assert abs(routing_index(weights)) < 0.05
    assert routing_index(choice_feature_weights(sessions["pwl"])) > 0.3  # the test can tell


def test_no_routing_keeps_the_rule_exactly_as_pwl_does(sessions):
    pwl, control = sessions["pwl"], sessions["no_routing"]
    assert int(control.attrs["true_pwl_units"]) == 2
    others = [n for n in ls.LATENT_NAMES if n != "choice"]
    np.testing.assert_array_equal(
        control["true_latents"].sel(true_latent=others), pwl["true_latents"].sel(true_latent=others)
    )
    np.testing.assert_array_equal(control["true_region"], pwl["true_region"])
    np.testing.assert_array_equal(control["true_belief"], pwl["true_belief"])


@pytest.mark.parametrize(("name", "minimum"), [("softplus", 0.3), ("bilinear", 0.4)])
def test_softplus_and_bilinear_route_the_rules_feature(sessions, name, minimum):
    ds = sessions[name]
    weights = choice_feature_weights(ds)
    assert routing_index(weights) > minimum
    assert weights.sel(rule="local", feature="location") > 3 * weights.sel(
        rule="local", feature="pitch"
    )
    assert weights.sel(rule="pitch", feature="pitch") > 3 * weights.sel(
        rule="pitch", feature="location"
    )
    assert ds.attrs["true_routing"] == "local:location,pitch:pitch"
    assert "true_pwl_units" not in ds.attrs and "true_region" not in ds


@pytest.mark.parametrize("name", ["softplus", "bilinear"])
def test_rule_is_set_by_cue_inputs_and_carried_across_trials(sessions, name):
    ds = sessions[name]
    assert ds.attrs["true_rule_memory"] == "recurrent"
    belief = ds["true_belief"].values  # rule latent at each trial's first bin
    sign = np.where(ds["rule"].values == "local", 1.0, -1.0)
    settled = ds["trial_in_block"].values >= 4
    assert (np.sign(belief[settled]) == sign[settled]).mean() > 0.97
    # a block's first trial starts with the previous block's rule: no per-trial reset
    first = (ds["trial_in_block"].values == 0) & (ds["block"].values > 0)
    assert first.sum() >= 2
    assert (np.sign(belief[first]) == -sign[first]).all()
    # each trial's rule starts where the previous trial's ended (pwl redraws it per trial)
    for generator, carried in ((ds, True), (sessions["pwl"], False)):
        rule = generator["true_latents"].sel(true_latent="rule").values
        valid = generator["valid"].values
        last = rule[np.arange(len(rule)), valid.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)]
        first_bin = rule[np.arange(len(rule)), np.argmax(valid, axis=1)]
        jump = np.abs(first_bin[1:] - last[:-1])
        assert (jump.max() < 0.2) == carried, generator.attrs["generator"]


def test_bilinear_rule_state_stays_in_the_unit_interval(sessions):
    ds = sessions["bilinear"]
    valid = ds["valid"].values
    rule = ds["true_latents"].sel(true_latent="rule").values
    assert np.abs(rule[valid]).max() < 1.0  # rule_state = (1 + rule) / 2 in (0, 1)
    assert np.abs(rule[valid]).max() > 0.9  # and the cues drive it close to the ends
    pairs = valid[:, 1:] & valid[:, :-1]
    for gate, sign in (("gate_plus", 1.0), ("gate_minus", -1.0)):
        state = ds["true_latents"].sel(true_latent=gate).values[:, 1:][pairs]
        residual = state - (1 + sign * rule[:, :-1][pairs]) / 2
        assert abs(residual.std() - 0.05) < 0.005  # the gate is the rule state + its noise


def test_measuring_routing_needs_named_latents():
    ds = simulate("pwl", n_trials=20, n_units=2).drop_vars("true_latents")
    with pytest.raises(DataValidationError, match="true_latents lacks"):
        choice_feature_weights(ds)


def test_cli_records_the_generator(tmp_path):
    out = tmp_path / "linear.h5"
    args = ["simulate", "stimulus-selection", "--n-trials", "20", "--n-units", "4"]
    result = CliRunner().invoke(app, [*args, "--no-lfp", "--generator", "linear", "--out", out])
    assert result.exit_code == 0, result.output
    assert "ground truth (linear)" in result.output
    loaded = load_dataset(out)
    assert loaded.attrs["generator"] == "linear" and "true_region" not in loaded


def test_cli_unknown_generator_exits_2_with_one_line_and_no_file(tmp_path):
    out = tmp_path / "x.h5"
    with pytest.raises(SystemExit) as info:
        main(["simulate", "stimulus-selection", "--out", str(out), "--generator", "gru"])
    assert info.value.code == 2
    assert list(tmp_path.iterdir()) == []


def test_installed_cli_names_the_known_generators_on_a_bad_one(tmp_path):
    out = tmp_path / "x.h5"
    cmd = [sys.executable, "-m", "alrnn_neuro", "simulate", "stimulus-selection"]
    done = subprocess.run(
        [*cmd, "--out", str(out), "--generator", "nope", "--n-trials", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "generator='nope'" in done.stderr + done.stdout
    assert "no_routing" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    assert not out.exists()
