"""``alrnn-neuro rsa`` and :func:`run_rsa`: outputs, a small science check, input errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis.rsa.pipeline import exclude_trials, run_rsa
from alrnn_neuro.analysis.rsa.selection import after_init_bins
from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import read_netcdf, save_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, fit
from tests.rsa_checks import assert_ceiling_ordered

RULE = ["rule", "location", "pitch"]
INIT_BINS = 8  # the fixture's fit infers z0 from each trial's first 8 valid bins


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, Path, xr.Dataset]:
    """A small simulated session on disk and a tiny model fitted to it (2 epochs)."""
    root = tmp_path_factory.mktemp("rsa")
    ds = simulate_stimulus_selection(n_trials=100, n_units=8, seed=3, lfp=False)
    path = root / "data.h5"
    save_dataset(ds, path)
    run = root / "run"
    config = FitConfig(latent_dim=3, pwl_units=1, epochs=2, init_bins=INIT_BINS)
    fit(ds, config, out=run, dataset_path=path)
    return run, path, ds


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_writes_well_formed_outputs(fitted, tmp_path, capsys):
    run, _, ds = fitted
    out = tmp_path / "rsa"
    code, stdout, _ = run_cli(
        [
            "rsa",
            str(run),
            "--conditions",
            "rule,target",
            "--n-perm",
            "50",
            "--n-boot",
            "200",
            "--area",
            "mPFC",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    assert "similarity" in stdout and "hold" in stdout
    summary = json.loads((out / "rsa.json").read_text())
    epochs = [e for e in np.unique(ds["epoch"].values) if e]
    assert summary["conditions"] == ["rule", "target"]
    assert summary["compare"] == "kendall_tau_a" and summary["distance"] == "crossnobis"
    # held-out trials only, and the bins that inferred z0 (read from config.json) left out
    split = read_netcdf(run / "latents.nc")["split"].values
    assert summary["trials"] == "heldout" and summary["n_train_included"] == 0
    assert sum(summary["n_trials_per_condition"].values()) == int(
        np.isin(split, ["val", "test"]).sum()
    )
    assert summary["init_bins"] == INIT_BINS and "excluded" in summary["init_bins_rule"]
    assert {r["area"] for r in summary["rows"]} == {"mPFC"}
    assert len(summary["rows"]) == len(epochs)
    # min_units: the requested value and the one applied (capped at the area's units)
    applied = min(5, summary["n_units"]["mPFC"])
    assert summary["min_units"] == 5
    assert {r["min_units_applied"] for r in summary["rows"]} == {applied}
    row = summary["rows"][0]
    assert -1 <= row["similarity"] <= 1 and 0 < row["p_value"] <= 1
    assert row["ci"][0] <= row["ci"][1]
    assert {"model_vs_splits", "ceiling_fraction", "ceiling_position"} <= set(row)
    rsa = xr.load_dataset(out / "rsa.nc")
    assert_ceiling_ordered(rsa)
    assert rsa.attrs["trials"] == "heldout" and rsa.attrs["init_bins"] == INIT_BINS
    assert rsa["neural_rdm"].dims == ("area", "epoch", "condition", "condition2")
    assert rsa["model_rdm"].sizes["condition"] == 4 and set(rsa["epoch"].values) == set(epochs)
    assert np.allclose(
        rsa["neural_rdm"].values,
        rsa["neural_rdm"].transpose("area", "epoch", "condition2", "condition").values,
        equal_nan=True,
    )
    for stem in ("rsa_rdms", "rsa_mds", "rsa_similarity"):
        assert (out / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert "<svg" in (out / f"{stem}.svg").read_text()[:2000]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rsa"]  # no temporary leftovers


def test_rule_structure_in_hold_epoch_matches_ground_truth():
    """mPFC data vs a model RDM from the true latents: rule structure in the hold epoch is
    significant; with the neural condition labels shuffled it is not."""
    ds = simulate_stimulus_selection(n_trials=240, n_units=20, seed=1, lfp=False)
    ds = ds.isel(trial=~ds["cue_trial"].values)
    truth = ds[["valid", "epoch"]].assign(latents=ds["true_latents"].rename(true_latent="latent"))
    kwargs = {"conditions": RULE, "areas": ["mPFC"], "n_perm": 500, "n_boot": 200, "seed": 0}
    kwargs |= {"trials": "all", "init_bins": 0}  # true latents: nothing was fitted
    rsa, _ = run_rsa(truth, ds, **kwargs)
    hold = rsa.sel(area="mPFC", epoch="hold")
    assert float(hold["estimate"]) > 0.5
    assert float(hold["p_corrected"]) < 0.05
    shuffled, _ = run_rsa(truth, ds, shuffle_labels=True, **kwargs)
    hold = shuffled.sel(area="mPFC", epoch="hold")
    assert float(hold["p_value"]) > 0.1
    assert abs(float(hold["estimate"])) < 0.3


def test_run_rsa_by_regime_uses_the_bitcode(fitted):
    run, _, ds = fitted
    latents = xr.load_dataset(run / "latents.nc", engine="h5netcdf")
    rsa, summary = run_rsa(
        latents,
        ds,
        conditions=["rule", "target"],
        by="regime",
        distance="sqeuclidean",
        init_bins=INIT_BINS,
        n_perm=20,
        n_boot=0,
    )
    regions = np.unique(latents["bitcode"].values[latents["valid"].values])
    assert set(rsa["region"].values) <= set(regions.tolist())
    assert summary["segment_dim"] == "region"


def _assert_one_line_error(code: int, err: str, pattern: str) -> None:
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert pattern in lines[0]


def test_cli_unknown_condition_variable(fitted, tmp_path, capsys):
    run, _, _ = fitted
    code, _, err = run_cli(
        ["rsa", str(run), "--conditions", "rule,colour", "--out", str(tmp_path / "o")], capsys
    )
    _assert_one_line_error(code, err, "colour")
    assert not any(tmp_path.iterdir())


def test_a_task_dataset_without_units_is_refused_by_name(fitted):
    """A run fitted to a task (targets, no units) has no neurons to compare with."""
    from alrnn_neuro.simulate.tasks import make_task

    run, _, _ = fitted
    task = make_task("copy", n_trials=20, seed=0)
    with pytest.raises(DataValidationError, match=r"the dataset has no units .* task dataset"):
        run_rsa(read_netcdf(run / "latents.nc"), task, conditions=["symbol_0"], n_perm=0, n_boot=0)
    with pytest.raises(ConfigError, match=r"by = 'window' is not a segment of RSA"):
        run_rsa(read_netcdf(run / "latents.nc"), task, conditions=["symbol_0"], by="window")


def test_by_epoch_without_epoch_labels_is_one_error(fitted):
    """Every valid bin unlabelled: by='epoch' has no segment (was a ValueError from np.stack)."""
    run, _, ds = fitted
    unlabelled = ds.copy(deep=True)
    unlabelled["epoch"].values = np.full(ds["epoch"].shape, "", dtype=ds["epoch"].dtype)
    latents = read_netcdf(run / "latents.nc")
    with pytest.raises(DataValidationError, match=r"by='epoch' but no valid bin .* --by time"):
        run_rsa(latents, unlabelled, conditions=["rule"], n_perm=0, n_boot=0)


def test_cli_condition_with_one_trial(fitted, tmp_path, capsys):
    run, _, _ = fitted
    code, _, err = run_cli(
        ["rsa", str(run), "--conditions", "rt", "--out", str(tmp_path / "o")], capsys
    )
    _assert_one_line_error(code, err, "with fewer than 2 trials, which crossnobis needs")
    assert "coarser condition variables" in err and "--exclude" in err and "np.str_" not in err
    assert not any(tmp_path.iterdir())


def test_cli_mismatched_trials(fitted, tmp_path, capsys):
    run, _, ds = fitted
    other = tmp_path / "fewer.h5"
    save_dataset(ds.isel(trial=slice(0, -5)), other)
    code, _, err = run_cli(
        [
            "rsa",
            str(run),
            "--dataset",
            str(other),
            "--conditions",
            "rule,target",
            "--out",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    _assert_one_line_error(code, err, "mismatched trials")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fewer.h5"]


def test_failed_rerun_keeps_the_earlier_result(fitted, tmp_path, capsys):
    run, _, _ = fitted
    out = tmp_path / "rsa"
    out.mkdir()
    (out / "rsa.json").write_text('{"earlier": true}')
    code, _, _ = run_cli(
        ["rsa", str(run), "--conditions", "rule", "--by", "phase", "--out", str(out)], capsys
    )
    assert code == 2
    assert json.loads((out / "rsa.json").read_text()) == {"earlier": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rsa"]


def test_overwrite_replaces_the_rsa_files_and_keeps_the_users_files(fitted, tmp_path, capsys):
    """--overwrite replaces rsa.json, rsa.nc and the figures, not a notes file or a report."""
    run, _, _ = fitted
    out = tmp_path / "rsa"
    args = ["rsa", str(run), "--conditions", "rule", "--n-perm", "5", "--n-boot", "0"]
    assert run_cli([*args, "--out", str(out)], capsys)[0] == 0
    (out / "my_notes.txt").write_text("precious")
    (out / "rsa.json").write_text('{"earlier": true}')
    assert run_cli([*args, "--out", str(out), "--overwrite"], capsys)[0] == 0
    assert (out / "my_notes.txt").read_text() == "precious"
    assert "earlier" not in json.loads((out / "rsa.json").read_text())
    assert (out / "rsa.nc").is_file() and (out / "rsa_rdms.png").is_file()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]


@pytest.mark.parametrize("command", ["rsa", "analyze"])
def test_a_dataset_other_than_the_fitted_one_is_refused(fitted, tmp_path, capsys, command):
    """--dataset with other recordings (same trials and bins) exits 2 naming both
    fingerprints, and writes nothing; the fitted file itself passes the check."""
    run, path, ds = fitted
    other = ds.copy(deep=True)
    other["spikes"][0, 0, 0] = other["spikes"][0, 0, 0] + 1
    save_dataset(other, tmp_path / "other.h5")
    options = {
        "rsa": ["--conditions", "rule", "--n-perm", "5", "--n-boot", "0"],
        "analyze": ["--n-null", "5", "--no-figures"],
    }[command]
    out = tmp_path / "out"
    code, _, err = run_cli(
        [command, str(run), "--dataset", str(tmp_path / "other.h5"), *options, "--out", str(out)],
        capsys,
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "is not the one run" in err and "fingerprint" in err and not out.exists()
    code, _, err = run_cli(
        [command, str(run), "--dataset", str(path), *options, "--out", str(out)], capsys
    )
    assert code == 0, err


def test_cli_exclude_and_bootstrap_units(fitted, tmp_path, capsys):
    run, _, ds = fitted
    out = tmp_path / "rsa"
    code, _, _ = run_cli(
        [
            "rsa",
            str(run),
            "--conditions",
            "rule,target",
            "--distance",
            "sqeuclidean",
            "--exclude",
            "cue_trial=True",
            "--bootstrap-units",
            "--n-boot",
            "200",
            "--n-perm",
            "10",
            "--area",
            "mPFC",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    summary = json.loads((out / "rsa.json").read_text())
    assert summary["exclude"] == ["cue_trial=True"] and summary["bootstrap"] == "units"
    rsa = read_netcdf(out / "rsa.nc")
    assert rsa.attrs["exclude"] == "cue_trial=True"
    assert rsa["ci_low"].notnull().any() and (rsa["ci_low"] <= rsa["ci_high"] + 1e-12).all()
    # the model RDM comes from the held-out non-cue trials after the z0 bins: recompute it
    from alrnn_neuro.analysis.rsa.conditions import condition_labels, trial_patterns
    from alrnn_neuro.analysis.rsa.rdm import compute_rdm

    lat = exclude_trials(read_netcdf(run / "latents.nc"), ["cue_trial=True"])
    assert lat.sizes["trial"] == int((~ds["cue_trial"].values).sum())
    lat = lat.isel(trial=np.isin(lat["split"].values, ["val", "test"]))
    valid = lat["valid"].values.copy()
    for row, first in enumerate(valid.argmax(axis=1)):
        valid[row, first : first + INIT_BINS] = False  # the bins that inferred z0
    pat = trial_patterns(lat, by="epoch", var="latents", valid=lat["valid"].copy(data=valid))
    ref = compute_rdm(pat, condition_labels(lat, ["rule", "target"]), distance="sqeuclidean")
    got = rsa["model_rdm"].sel(epoch=ref["epoch"].values)
    assert np.allclose(got.values, ref.transpose(*got.dims).values, equal_nan=True)
    assert sum(summary["n_trials_per_condition"].values()) == lat.sizes["trial"]


def test_exclude_trials_rules_and_errors(fitted):
    _, _, ds = fitted
    kept = exclude_trials(ds, ["cue_trial=true", "rule=pitch"])
    expect = (~ds["cue_trial"].values) & (ds["rule"].values != "pitch")
    assert kept["trial"].values.tolist() == ds["trial"].values[expect].tolist()
    with pytest.raises(ConfigError, match="not a trial coord"):
        exclude_trials(ds, ["colour=red"])
    with pytest.raises(ConfigError, match="no trial has rule=loud"):
        exclude_trials(ds, ["rule=loud"])
    with pytest.raises(ConfigError, match="COORD=VALUE"):
        exclude_trials(ds, ["cue_trial"])
    with pytest.raises(DataValidationError, match="removes every trial"):
        exclude_trials(ds, ["rule=local", "rule=pitch"])


def test_two_conditions_give_the_distance_test(fitted, tmp_path, capsys):
    run, _, ds = fitted
    latents = read_netcdf(run / "latents.nc")
    rsa, summary = run_rsa(
        latents, ds, conditions=["rule"], init_bins=INIT_BINS, n_perm=30, n_boot=0, seed=1
    )
    assert summary["statistic"] == "distance_vs_zero" and rsa.sizes["condition"] == 2
    assert set(rsa["neural_distance"].dims) == {"area", "epoch"}
    assert rsa["model_distance"].dims == ("epoch",)
    finite = np.isfinite(rsa["neural_p_value"].values)
    assert finite.any()
    assert np.all(rsa["neural_p_value"].values[finite] >= 1 / 31)
    assert np.all(rsa["neural_p_corrected"].values[finite] >= rsa["neural_p_value"].values[finite])
    row = summary["rows"][0]
    assert row["similarity"] is None and "neural_distance" in row and row["n_conditions"] == 2
    code, stdout, _ = run_cli(
        [
            "rsa",
            str(run),
            "--conditions",
            "rule",
            "--n-perm",
            "20",
            "--n-boot",
            "0",
            "--out",
            str(tmp_path / "two"),
        ],
        capsys,
    )
    assert code == 0 and "distance vs 0" in stdout
    assert (tmp_path / "two" / "rsa_similarity.png").is_file()


def test_cli_all_trials_warns_that_training_trials_enter(fitted, tmp_path, capsys, caplog):
    run, _, _ = fitted
    with caplog.at_level("WARNING"):
        code, _, _ = run_cli(
            [
                "rsa",
                str(run),
                "--conditions",
                "rule,target",
                "--trials",
                "all",
                "--n-perm",
                "10",
                "--n-boot",
                "0",
                "--distance",
                "sqeuclidean",
                "--out",
                str(tmp_path / "a"),
            ],
            capsys,
        )
    assert code == 0
    assert "training trials" in caplog.text and "inflated" in caplog.text
    summary = json.loads((tmp_path / "a" / "rsa.json").read_text())
    assert summary["trials"] == "all" and summary["n_train_included"] > 0


def test_cli_min_units_default_is_the_library_default():
    import inspect

    from alrnn_neuro.analysis.rsa.rdm import MIN_UNITS
    from alrnn_neuro.cli.rsa import rsa_command

    assert inspect.signature(rsa_command).parameters["min_units"].default.default == MIN_UNITS


def test_init_bins_are_required_or_recorded(fitted):
    run, _, ds = fitted
    latents = read_netcdf(run / "latents.nc")
    with pytest.raises(ConfigError, match="init_bins is not given.*fix: pass init_bins="):
        run_rsa(latents, ds, conditions=["rule", "target"], n_perm=0, n_boot=0)
    recorded = latents.assign_attrs(init_bins=INIT_BINS)
    rsa, _ = run_rsa(recorded, ds, conditions=["rule", "target"], n_perm=0, n_boot=0)
    assert rsa.attrs["init_bins"] == INIT_BINS
    cut = after_init_bins(latents["valid"], INIT_BINS).values
    first = latents["valid"].values.argmax(axis=1)
    assert not cut[np.arange(cut.shape[0]), first].any()
    assert cut.sum() == latents["valid"].values.sum() - INIT_BINS * cut.shape[0]


def test_check_comparable_warns_for_some_segments_and_raises_for_all(caplog):
    from alrnn_neuro.analysis.rsa.matching import check_comparable

    rng = np.random.default_rng(0)
    x = rng.random((2, 4, 4))
    x = x + x.transpose(0, 2, 1)
    x[:, range(4), range(4)] = 0
    dims = ("epoch", "condition", "condition2")
    coords = {"epoch": ["hold", "stim"], "condition": list("abcd"), "condition2": list("abcd")}
    model = xr.DataArray(x, dims=dims, coords=coords)
    neural = model.copy()
    neural.values[1, :2, :] = np.nan  # "stim": conditions a, b missing -> only 2 left
    neural.values[1, :, :2] = np.nan
    with caplog.at_level("WARNING"):
        check_comparable(model, neural, "mPFC", "epoch", ["rule"])
    assert "['stim']" in caplog.text and "NaN" in caplog.text
    neural.values[0, :2, :] = np.nan
    neural.values[0, :, :2] = np.nan
    with pytest.raises(DataValidationError, match="fewer than 3: {'hold': 0, 'stim': 0}"):
        check_comparable(model, neural, "mPFC", "epoch", ["rule"])


def test_installed_cli_bad_trials_choice_is_one_line(fitted, tmp_path):
    import os
    import subprocess
    import sys

    run, _, _ = fitted
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "alrnn_neuro",
            "rsa",
            str(run),
            "--conditions",
            "rule,target",
            "--trials",
            "heldin",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert (
        len(lines) == 1 and "trials = 'heldin'; choose from ['heldout', 'test', 'all']" in lines[0]
    )
    assert not (tmp_path / "o").exists()


def test_the_ceiling_column_shows_the_value_it_places_and_its_conditions():
    """below/within/above places model_vs_splits, which may rest on fewer conditions than the
    similarity printed beside it: the table says which value and how many conditions."""
    from alrnn_neuro.cli.rsa import _placed

    row = {"ceiling_position": "within", "model_vs_splits": -0.0667,
           "noise_ceiling_conditions": 9, "n_conditions": 12}  # fmt: skip
    assert _placed(row) == " within (-0.0667, 9/12 cond.)"
    assert _placed({**row, "noise_ceiling_conditions": 12}) == " within (-0.0667)"
    assert _placed({**row, "ceiling_position": None}) == ""
