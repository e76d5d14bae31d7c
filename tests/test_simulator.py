"""The stimulus-selection simulator: schema, determinism, behaviour, ground truth, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from typer.testing import CliRunner

from alrnn_neuro.cli.app import app, main
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate import latent_system as ls
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.simulate.task_structure import INPUT_NAMES, TaskParams

CHANCE = 0.5


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return simulate_stimulus_selection(n_trials=1000, n_units=30, seed=11, lfp=False)


def _epoch_rates(ds: xr.Dataset, epoch: str, area: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean count per bin of each unit of ``area`` in ``epoch``; trials having that epoch."""
    mask = ds["epoch"].values == epoch
    counts = ds["spikes"].values[:, :, ds["area"].values == area]
    n_bins = mask.sum(axis=1)
    keep = n_bins > 0
    return (counts * mask[..., None]).sum(axis=1)[keep] / n_bins[keep, None], keep


def _at_decision(ds: xr.Dataset, latent: str) -> np.ndarray:
    """Value of a true latent at each trial's last stimulus bin (where the choice is read)."""
    decision_bin = np.array([np.flatnonzero(row == "stimulus")[-1] for row in ds["epoch"].values])
    values = ds["true_latents"].sel(true_latent=latent).values
    return values[np.arange(ds.sizes["trial"]), decision_bin]


def _cv_accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    model = LogisticRegression(max_iter=2000)
    return float(cross_val_score(model, features, labels, cv=5).mean())


def test_dataset_is_canonical_with_documented_fields(ds):
    validate_dataset(ds)
    assert ds.attrs["align_event"] == "stim_on"
    assert ds.sizes["input"] == 8 and list(ds["input"].values) == list(INPUT_NAMES)
    for name in (
        "rule",
        "block",
        "trial_in_block",
        "cue_trial",
        "location",
        "pitch",
        "congruent",
        "target",
        "choice",
        "correct",
        "rt",
        "switch",
        "event_trial_start",
        "event_hold_on",
        "event_stim_on",
        "event_response",
        "event_choice",
        "event_trial_end",
    ):
        assert ds[name].dims == ("trial",), name
    assert set(ds["area"].values) == {"mPFC", "A1"}
    assert ds["true_latents"].dims == ("trial", "time", "true_latent")
    assert ds["true_W"].dims == ("true_latent", "true_latent2")
    assert ds["true_C"].dims == ("true_latent", "input")
    assert ds["true_B"].dims == ("unit", "true_latent")
    assert int(ds.attrs["true_pwl_units"]) == 2
    assert set(ds["epoch"].values[ds["valid"].values]) == {
        "iti",
        "hold",
        "stimulus",
        "response",
        "outcome",
    }
    np.testing.assert_array_equal(ds["event_stim_on"].values, 0.0)


def test_padded_steps_are_zero_everywhere(ds):
    pad = ~ds["valid"].values
    assert pad.any()
    for name in ("spikes", "inputs", "true_latents", "true_region"):
        assert not ds[name].values[pad].any(), name
    assert (ds["epoch"].values[pad] == "").all()


def test_epochs_follow_event_times(ds):
    t = np.broadcast_to(ds["time"].values[None, :], ds["epoch"].shape)
    epoch = ds["epoch"].values
    rt = np.broadcast_to(ds["rt"].values[:, None], t.shape)
    hold_on = np.broadcast_to(ds["event_hold_on"].values[:, None], t.shape)
    stim, hold = epoch == "stimulus", epoch == "hold"
    assert (t[stim] >= 0).all() and (t[stim] < rt[stim]).all()
    assert (t[hold] >= hold_on[hold]).all() and (t[hold] < 0).all()
    assert (ds["event_choice"].values > ds["event_response"].values).all()


def test_inputs_match_trial_conditions(ds):
    inputs = ds["inputs"]
    stim = ds["epoch"] == "stimulus"
    on = (inputs * stim).max("time")
    np.testing.assert_array_equal(on.sel(input="left_noise"), ds["location"] == "left")
    np.testing.assert_array_equal(on.sel(input="high_pitch"), ds["pitch"] == "high")
    np.testing.assert_array_equal(
        on.sel(input="cue_local"), ds["cue_trial"] & (ds["rule"] == "local")
    )
    assert ((inputs.sel(input="hold") == 1) == (ds["epoch"] == "hold")).all()
    rewarded = inputs.sel(input="reward").max("time") == 1
    np.testing.assert_array_equal(rewarded, ds["correct"])
    # cue trials carry only the relevant sound
    cue_local = ds["cue_trial"] & (ds["rule"] == "local")
    assert (ds["pitch"][cue_local] == "none").all() and (ds["location"][cue_local] != "none").all()


def test_same_seed_gives_identical_arrays_and_other_seeds_differ():
    a = simulate_stimulus_selection(n_trials=60, n_units=6, seed=5, lfp=False)
    b = simulate_stimulus_selection(n_trials=60, n_units=6, seed=5, lfp=False)
    c = simulate_stimulus_selection(n_trials=60, n_units=6, seed=6, lfp=False)
    xr.testing.assert_identical(a, b)
    for name in a.data_vars:
        assert a[name].values.tobytes() == b[name].values.tobytes(), name
    assert not np.array_equal(a["true_latents"].values, c["true_latents"].values)


def test_lfp_and_unit_count_do_not_change_behaviour():
    a = simulate_stimulus_selection(n_trials=30, n_units=4, seed=2, lfp=False)
    b = simulate_stimulus_selection(n_trials=30, n_units=8, seed=2, lfp=True)
    np.testing.assert_array_equal(a["true_latents"].values, b["true_latents"].values)
    np.testing.assert_array_equal(a["choice"].values, b["choice"].values)


def test_global_numpy_random_state_is_untouched():
    """neurodsp's simulators draw from numpy's global state; ours must not touch it."""
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking the legacy global state)
    simulate_stimulus_selection(n_trials=10, n_units=2, seed=0, lfp=True)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_behaviour_accuracy_lapses_switch_cost_and_congruency(ds):
    correct = ds["correct"].values
    main_trials = ~ds["cue_trial"].values
    for rule in ("local", "pitch"):
        accuracy = correct[main_trials & (ds["rule"].values == rule)].mean()
        assert 0.8 < accuracy < 0.99, (rule, accuracy)
    lapse_rate = ds["true_lapse"].values.mean()
    assert abs(lapse_rate - TaskParams().lapse) < 0.03
    # lapses are coin flips: about half of them are errors
    assert 0.3 < correct[ds["true_lapse"].values].mean() < 0.7
    incongruent = main_trials & ~ds["congruent"].values
    congruent = ds["congruent"].values
    assert correct[congruent].mean() > correct[incongruent].mean() + 0.04
    switch = ds["switch"].values
    assert correct[incongruent & switch].mean() < correct[incongruent & ~switch].mean() - 0.2
    rt = ds["rt"].values
    assert rt.min() >= TaskParams().rt_shift and np.median(rt) < 0.8


def test_choice_is_read_from_the_choice_latent(ds):
    value = _at_decision(ds, "choice")
    not_lapse = ~ds["true_lapse"].values
    choice_right = ds["choice"].values == "right"
    np.testing.assert_array_equal(choice_right[not_lapse], value[not_lapse] > 0)


def test_choice_latent_follows_the_rule_relevant_feature(ds):
    """On incongruent, non-switch trials the latent picks the relevant feature, not the other."""
    late = _at_decision(ds, "choice")
    sel = ~ds["cue_trial"].values & ~ds["congruent"].values & ~ds["switch"].values
    local = ds["rule"].values == "local"
    loc_side = np.where(ds["location"].values == "right", 1, -1)
    pitch_side = np.where(ds["pitch"].values == "low", 1, -1)
    relevant = np.where(local, loc_side, pitch_side)
    assert (np.sign(late[sel]) == relevant[sel]).mean() > 0.85
    assert (np.sign(late[sel]) == -relevant[sel]).mean() < 0.15


def test_ground_truth_region_depends_on_rule_in_stimulus_epoch(ds):
    region = ds["true_region"].values
    stim = ds["epoch"].values == "stimulus"
    local = (ds["rule"].values == "local")[:, None]
    frac_local = np.bincount(region[stim & local], minlength=4) / (stim & local).sum()
    frac_pitch = np.bincount(region[stim & ~local], minlength=4) / (stim & ~local).sum()
    assert frac_local[3] > 0.6 and frac_pitch[0] > 0.6
    assert frac_local[0] < 0.1 and frac_pitch[3] < 0.1
    # the stored region is the bitcode of the stored latents (independent recomputation)
    gates = ds["true_latents"].sel(true_latent=["gate_plus", "gate_minus"]).values > 0
    expected = np.where(ds["valid"].values, gates[..., 0] * 2 + gates[..., 1] * 1, 0)
    np.testing.assert_array_equal(region, expected)


def test_region_maps_gate_the_inputs_and_rule_is_a_slow_mode():
    """Region 3 routes location (not pitch) to the choice, region 0 the reverse."""
    system = ls.stimulus_selection_system(0.05)
    names = list(system.latent_names)
    choice, inputs = names.index("choice"), list(system.input_names)
    m, p = len(names), system.n_pwl
    gains = {}
    for region in (0, 3):
        d = np.ones(m)
        d[m - p :] = [(region >> j) & 1 for j in range(p)]
        gains[region] = (system.W * d) @ system.C  # input -> choice through one step of Φ*
        jacobian = np.diag(system.A) + system.W * d
        assert np.max(np.abs(np.linalg.eigvals(jacobian))) == pytest.approx(0.995, abs=1e-9)
    w = ls.CHOICE_GAIN
    assert gains[3][choice, inputs.index("right_noise")] == pytest.approx(w)
    assert gains[3][choice, inputs.index("low_pitch")] == pytest.approx(0.0, abs=1e-12)
    assert gains[0][choice, inputs.index("right_noise")] == pytest.approx(0.0, abs=1e-12)
    assert gains[0][choice, inputs.index("low_pitch")] == pytest.approx(w)


def test_simulate_latents_matches_an_explicit_loop():
    system = ls.stimulus_selection_system(0.05)
    rng = np.random.default_rng(0)
    valid = np.zeros((3, 6), bool)
    valid[0, :] = True
    valid[1, 2:5] = True
    valid[2, 1:4] = True
    inputs = rng.random((3, 6, 8)) * valid[..., None]
    z0 = rng.normal(size=(3, 7))
    noise = rng.normal(size=(3, 6, 7))
    out = ls.simulate_latents(system, inputs, valid, z0, noise)
    for i in range(3):
        z = z0[i].copy()
        for t in np.flatnonzero(valid[i]):
            relu = z.copy()
            relu[-2:] = np.maximum(relu[-2:], 0)
            z = (
                system.A * z
                + system.W @ relu
                + system.C @ inputs[i, t]
                + system.noise_std * noise[i, t]
            )
            np.testing.assert_allclose(out[i, t], z, rtol=1e-12)
    assert not out[~valid].any()


def test_rule_is_decodable_from_mpfc_before_the_stimulus(ds):
    rule = ds["rule"].values == "local"
    features, keep = _epoch_rates(ds, "hold", "mPFC")
    assert _cv_accuracy(features, rule[keep]) > 0.8


def test_mpfc_rule_selectivity_peaks_in_the_hold_epoch(ds):
    counts = ds["spikes"].values[:, :, ds["area"].values == "mPFC"].astype(float)
    local = (ds["rule"].values == "local")[:, None]
    selectivity = {}
    for epoch in ("iti", "hold", "stimulus", "response", "outcome"):
        mask = ds["epoch"].values == epoch
        a, b = counts[mask & local], counts[mask & ~local]
        d = np.abs(a.mean(0) - b.mean(0)) / np.sqrt((a.var(0) + b.var(0)) / 2)
        selectivity[epoch] = d.mean()
    assert max(selectivity, key=selectivity.get) == "hold", selectivity


def test_a1_encodes_location_and_pitch_in_the_stimulus_epoch(ds):
    features, keep = _epoch_rates(ds, "stimulus", "A1")
    main_trials = ~ds["cue_trial"].values[keep]
    for feature in ("location", "pitch"):
        labels = ds[feature].values[keep][main_trials]
        assert _cv_accuracy(features[main_trials], labels) > 0.85, feature
    # and not in the hold epoch, before any sound
    features, keep = _epoch_rates(ds, "hold", "A1")
    main_trials = ~ds["cue_trial"].values[keep]
    labels = ds["location"].values[keep][main_trials]
    assert _cv_accuracy(features[main_trials], labels) < CHANCE + 0.1


def test_other_bin_sizes_keep_the_behaviour():
    ds = simulate_stimulus_selection(n_trials=300, n_units=4, seed=3, bin_size=0.02, lfp=False)
    assert ds.attrs["bin_size"] == 0.02
    main_trials = ~ds["cue_trial"].values
    assert ds["correct"].values[main_trials].mean() > 0.8


def test_simulation_is_fast():
    import time

    start = time.perf_counter()
    simulate_stimulus_selection(n_trials=500, n_units=30, seed=0, lfp=False)
    assert time.perf_counter() - start < 10.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_trials": 0}, "n_trials=0"),
        ({"n_trials": 2.5}, "n_trials=2.5"),
        ({"n_units": 1}, "n_units=1"),
        ({"seed": -1}, "seed=-1"),
        ({"bin_size": 0.5}, "bin_size=0.5"),
        ({"lfp_fs": 100.0}, "lfp_fs=100.0"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        simulate_stimulus_selection(**kwargs)


def test_bad_task_parameters_raise_config_error():
    with pytest.raises(ConfigError, match="n_cue_trials"):
        TaskParams(n_cue_trials=50, block_length=(40, 80))


def test_cli_writes_identical_files_for_the_same_seed(tmp_path):
    runner = CliRunner()
    args = ["simulate", "stimulus-selection", "--n-trials", "25", "--n-units", "4", "--seed", "9"]
    first, second = tmp_path / "a.h5", tmp_path / "b.h5"
    for out in (first, second):
        result = runner.invoke(app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert "accuracy" in result.output
    assert first.read_bytes() == second.read_bytes()
    loaded = load_dataset(first)
    direct = simulate_stimulus_selection(n_trials=25, n_units=4, seed=9)
    np.testing.assert_array_equal(loaded["spikes"].values, direct["spikes"].values)
    np.testing.assert_array_equal(loaded["rule"].values, direct["rule"].values)
    np.testing.assert_allclose(loaded["lfp_amplitude"].values, direct["lfp_amplitude"].values)
    assert list(loaded["band"].values) == list(direct["band"].values)


def test_cli_no_lfp_flag(tmp_path):
    out = tmp_path / "x.h5"
    main(
        [
            "simulate",
            "stimulus-selection",
            "--out",
            str(out),
            "--n-trials",
            "5",
            "--n-units",
            "2",
            "--no-lfp",
        ]
    )
    assert "lfp_amplitude" not in load_dataset(out)


@pytest.mark.parametrize(
    "bad", [["--n-trials", "0"], ["--n-units", "1"], ["--bin-size", "0"], ["--seed", "-3"]]
)
def test_cli_bad_values_exit_2_and_leave_no_file(tmp_path, bad):
    out = tmp_path / "bad.h5"
    with pytest.raises(SystemExit) as info:
        main(["simulate", "stimulus-selection", "--out", str(out), *bad])
    assert info.value.code == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_shipped_demo_dataset_matches_its_recipe():
    import importlib.util
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    path = repo / "datasets" / "stimulus_selection_demo.h5"
    assert path.stat().st_size < 10e6
    script = repo / "scripts" / "make_demo_dataset.py"
    spec = importlib.util.spec_from_file_location("make_demo_dataset", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stored = load_dataset(path)
    fresh = simulate_stimulus_selection(**module.RECIPE)
    xr.testing.assert_identical(stored, fresh)
