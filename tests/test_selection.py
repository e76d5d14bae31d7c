"""K-fold sweeps, per-trial held-out scores, and `alrnn-neuro select` end to end (tiny fits)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro._resampling import MIN_N_BOOT
from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.sweep.folds import fold_assignment
from alrnn_neuro.sweep.selection import held_out_log_likelihoods, select_nonlinearity
from alrnn_neuro.training import FitConfig, load_run
from tests.conftest import entry_point

BASE = FitConfig(epochs=2, latent_dim=3)
GRID = SweepGrid(pwl_units=(0, 1), seeds=(0, 1), latent_dims=(3,))


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return simulate_stimulus_selection(n_trials=40, n_units=6, lfp=False)


@pytest.fixture(scope="module")
def fold_sweep(ds, tmp_path_factory):
    out = tmp_path_factory.mktemp("folds") / "sweep"
    calls = []
    results = run_sweep(ds, GRID, BASE, out=out, folds=2, split_seed=7, task_hook=calls.append)
    return out, results, calls


def cell_dirs(out, p, seed):
    return [out / "cells" / f"alrnn-M3-P{p}-seed{seed}-tf1-fold{k}" for k in (0, 1)]


def test_every_trial_is_held_out_exactly_once(ds, fold_sweep):
    out, _, calls = fold_sweep
    record = json.loads((out / "sweep.json").read_text())
    assert record["split"] == {"folds": 2, "split_seed": 7}
    held = [set(ids) for ids in record["fold_test_trials"]]
    assert held[0].isdisjoint(held[1])
    assert held[0] | held[1] == set(ds["trial"].values.tolist())
    # AL-RNN cells of one fold are still trained together as one ensemble
    assert sorted(len(group) for group in calls) == [4, 4]
    assert all(len({c.fold for c in group}) == 1 for group in calls)
    for p in (0, 1):
        for seed in (0, 1):
            for k, run in enumerate(cell_dirs(out, p, seed)):
                scores = xr.load_dataset(run / "trial_scores.nc", engine="h5netcdf")
                assert set(scores["trial"].values.tolist()) == held[k]
                fitted = set(load_run(run).latents["trial"].values.tolist())
                assert fitted.isdisjoint(held[k])  # the fold's trials never reach its fit


def test_trial_scores_sum_to_the_cell_test_metrics(fold_sweep):
    """Per-trial values are the ones metrics score (init bins left out, same PSTH baseline)."""
    out, results, _ = fold_sweep
    assert BASE.init_state == "data"  # the init bins must be excluded for the sums to match
    for seed in (0, 1):
        totals = {"ll_model": 0.0, "ll_psth": 0.0, "n_spikes": 0.0}
        for run in cell_dirs(out, 1, seed):
            scores = xr.load_dataset(run / "trial_scores.nc", engine="h5netcdf")
            test = json.loads((run / "sweep_cell.json").read_text())["test"]
            for name in totals:
                assert float(scores[name].sum()) == pytest.approx(test[name], rel=1e-10)
                totals[name] += test[name]
        pooled = (totals["ll_model"] - totals["ll_psth"]) / (totals["n_spikes"] * np.log(2))
        value = results["test_bits_per_spike"].sel(model="alrnn", pwl_units=1, seed=seed)
        assert float(value.squeeze()) == pytest.approx(pooled, rel=1e-10)
    assert results.attrs["folds"] == 2


def test_split_is_drawn_by_the_split_seed_only(ds, tmp_path):
    """Other model seeds leave the held-out trials alone; another split seed moves them."""
    one = SweepGrid(pwl_units=(1,), seeds=(3,), latent_dims=(3,))
    tests = {}
    for name, grid, split_seed in [("a", GRID, 7), ("b", one, 7), ("c", GRID, 8)]:
        config = BASE.replace(epochs=1)
        run_sweep(ds, grid, config, out=tmp_path / name, folds=2, split_seed=split_seed)
        tests[name] = json.loads((tmp_path / name / "sweep.json").read_text())["fold_test_trials"]
    assert tests["a"] == tests["b"]
    assert tests["a"] != tests["c"]


def test_fold_assignment_is_balanced_within_conditions(ds):
    folds = fold_assignment(ds, 3, stratify=["rule"], seed=1)
    assert np.bincount(folds).max() - np.bincount(folds).min() <= 1
    for rule in np.unique(ds["rule"].values):
        counts = np.bincount(folds[ds["rule"].values == rule], minlength=3)
        assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(folds, fold_assignment(ds, 3, stratify=["rule"], seed=1))
    with pytest.raises(ConfigError, match="folds=41 with 40 trials.*from 2 to 40"):
        fold_assignment(ds, 41)


def test_resume_refuses_other_held_out_trials(ds, fold_sweep):
    out, _, _ = fold_sweep
    with pytest.raises(RunDirError, match="held-out trials.*--split-seed"):
        run_sweep(ds, GRID, BASE, out=out, folds=2, split_seed=8)


def test_assembled_log_likelihoods(fold_sweep):
    out, _, _ = fold_sweep
    data = held_out_log_likelihoods(out)
    assert dict(data["ll_model"].sizes) == {"pwl_units": 2, "seed": 2, "trial": 40}
    assert np.isfinite(data["ll_model"].values).all()
    assert sorted(np.unique(data["fold"].values).tolist()) == [0, 1]
    assert (data["n_spikes"] > 0).any()


def test_select_reports_an_unfinished_sweep(fold_sweep, tmp_path):
    out, _, _ = fold_sweep
    copy = tmp_path / "sweep"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "cells" / "alrnn-M3-P1-seed0-tf1-fold1")
    with pytest.raises(RunDirError, match="1 unfinished cells.*run the same sweep command"):
        select_nonlinearity(copy, n_boot=0)


def test_cli_fold_sweep_then_select(ds, tmp_path, capsys):
    data = tmp_path / "d.h5"
    save_dataset(ds, data)
    out = tmp_path / "cv"
    args = "--pwl-units 0,1 --seeds 2 --latent-dim 3 --epochs 2 --folds 2 --split-seed 3"
    main(["sweep", str(data), *args.split(), "--out", str(out)])
    assert "alrnn-neuro select" in capsys.readouterr().out
    main(["select", str(out), "--n-boot", "200", "--margin", "0.01"])
    text = capsys.readouterr().out
    assert "Minimal sufficient P" in text and "P = 0 is" in text and "Replication over 2" in text
    summary = json.loads((out / "selection.json").read_text())
    assert summary["parameters"]["margin"] == 0.01
    assert summary["parameters"]["n_trials"] == 40
    assert [row["pwl_units"] for row in summary["per_pwl_units"]] == [0, 1]
    assert summary["replication"]["seeds"] == [0, 1]
    saved = xr.load_dataset(out / "selection.nc", engine="h5netcdf")
    minimal = float(saved["minimal_pwl_units"])
    expected = summary["minimal_pwl_units"]
    assert (np.isnan(minimal) and expected is None) or minimal == expected
    assert (out / "selection.png").stat().st_size > 0


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--alpha", "0.9"], "alpha=0.9"),
        (["--n-boot", "-1"], "--n-boot -1 is negative"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_cli_select_bad_option_exits_2(fold_sweep, tmp_path, capsys, extra, message):
    out, _, _ = fold_sweep
    with pytest.raises(SystemExit) as exit_info:
        main(["select", str(out), "--out", str(tmp_path / "sel"), *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "sel").exists()


@pytest.mark.parametrize("n_boot", [1, MIN_N_BOOT - 1])
def test_installed_cli_select_refuses_too_few_resamples(fold_sweep, tmp_path, n_boot):
    """--n-boot 1 gave a zero-width "95 % CI": a positive --n-boot below the minimum is one
    error line (exit 2) naming the flag, the value and the fix; nothing is written."""
    sweep = tmp_path / "sweep"
    shutil.copytree(fold_sweep[0], sweep)
    before = sorted(p.name for p in sweep.iterdir())
    done = entry_point("select", sweep, "--n-boot", n_boot, "--out", tmp_path / "sel")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and done.stdout == ""
    assert f"--n-boot {n_boot} is too few bootstrap resamples" in lines[0]
    assert f"fix: --n-boot {MIN_N_BOOT} or more" in lines[0] and "--n-boot 0 for no CI" in lines[0]
    assert not (tmp_path / "sel").exists()
    done = entry_point("select", sweep, "--n-boot", n_boot)  # default --out: the sweep
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in sweep.iterdir()) == before


def test_select_nonlinearity_needs_enough_resamples_or_none(fold_sweep):
    out = fold_sweep[0]
    with pytest.raises(ValueError, match=rf"n_boot=1 .*fix: use n_boot >= {MIN_N_BOOT}"):
        select_nonlinearity(out, n_boot=1)
    with pytest.raises(ConfigError, match="n_boot=-5"):
        select_nonlinearity(out, n_boot=-5)
    ci = select_nonlinearity(out, n_boot=0)["gain_vs_zero_ci"].sel(pwl_units=1).values
    assert np.isnan(ci).all()  # 0: no interval
    ci = select_nonlinearity(out, n_boot=MIN_N_BOOT)["gain_vs_zero_ci"].sel(pwl_units=1).values
    assert ci[0] < ci[1]  # the smallest allowed gives an interval of non-zero width


def test_installed_cli_select_on_a_folder_without_sweep(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "alrnn_neuro", "select", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds no sweep.json" in lines[0]
    assert not (tmp_path / "selection.json").exists()


def test_select_on_a_sweep_with_one_test_split(ds, tmp_path):
    """Without folds the common test trials are the units (and the verdict still comes)."""
    out = tmp_path / "one"
    run_sweep(ds, GRID, BASE.replace(epochs=1), out=out, split_seed=2)
    record = json.loads((out / "sweep.json").read_text())
    result = select_nonlinearity(out, n_boot=MIN_N_BOOT)
    assert result.attrs["folds"] == 1 and result.attrs["split_seed"] == 2
    assert result.attrs["n_trials"] == len(record["test_trials"])
    verdict = result.attrs["verdict"]  # 1-epoch cells: a caution comes first
    assert verdict.count("\n") == 3 and verdict.startswith("Caution: 4 of 4 cells stopped")


def test_the_verdict_says_when_cells_had_not_finished_training(fold_sweep, tmp_path):
    """2-epoch cells that were still improving get a caution; cells that stopped early (or
    levelled off well before the limit) do not; a diverged cell is named as such."""
    out = tmp_path / "sweep"
    shutil.copytree(fold_sweep[0], out)
    cells = sorted(p.name for p in (out / "cells").iterdir())
    first = select_nonlinearity(out, n_boot=MIN_N_BOOT)
    assert sorted(first.attrs["cells_still_improving"].split(", ")) == cells
    assert "Caution: 8 of 8 cells stopped at their epoch limit" in first.attrs["verdict"]
    for name in cells:  # as if each fit had stopped early
        path = out / "cells" / name / "metrics.json"
        metrics = json.loads(path.read_text())
        metrics.update(stop_reason="early_stopping", best_epoch=1)
        path.write_text(json.dumps(metrics))
    trained = select_nonlinearity(out, n_boot=0)
    assert "Caution" not in trained.attrs["verdict"]
    assert trained.attrs["cells_still_improving"] == trained.attrs["cells_diverged"] == ""
    metrics.update(stop_reason="diverged")
    path.write_text(json.dumps(metrics))
    diverged = select_nonlinearity(out, n_boot=0)
    assert diverged.attrs["cells_diverged"] == cells[-1]
    assert diverged.attrs["verdict"].startswith("Caution: 1 of 8 cells diverged.")


@pytest.mark.parametrize(
    "folds, message",
    [
        ("0", r"folds holds \[0\].*integers in 1\.\.1024"),
        ("41", "folds=41 with 40 trials"),
        ("2 --conditions nosuch", r"conditions=\['nosuch'\].*not trial coords"),
    ],
)
def test_cli_sweep_bad_folds_exits_2_before_writing(ds, tmp_path, capsys, folds, message):
    """One error line, nothing on stdout (no sweep header above the error), no folder."""
    data = tmp_path / "d.h5"
    save_dataset(ds, data)
    out = tmp_path / "cv"
    args = ["sweep", str(data), "--folds", *folds.split(), "--latent-dim", "3", "--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""
    assert re.search(message, captured.err)
    assert not out.exists()
