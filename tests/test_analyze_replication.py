"""``alrnn-neuro analyze`` over several fits: replication tables of run dirs and of sweeps."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from alrnn_neuro.analysis import replication as rep
from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.simulate.task_structure import TaskParams
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.sweep.replication import replicate_runs
from alrnn_neuro.training import FitConfig, fit

BASE = FitConfig(latent_dim=3, pwl_units=2, epochs=2, batch_size=16, init_bins=5)
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("replication")
    short_blocks = TaskParams(block_length=(20, 30))  # both rules within 60 trials
    ds = simulate_stimulus_selection(n_trials=60, n_units=6, seed=3, lfp=False, task=short_blocks)
    data = root / "data.h5"
    save_dataset(ds, data)
    runs = root / "runs"
    for s in SEEDS:
        fit(ds, BASE.replace(seed=s), out=runs / f"s{s}", dataset_path=data)
    fit(ds, BASE.replace(seed=5, latent_dim=4), out=root / "other_m4", dataset_path=data)
    grid = SweepGrid(pwl_units=(0, 2), seeds=(0, 1), latent_dims=(3,))
    run_sweep(data, grid, BASE, out=root / "sweep", folds=2)
    one = SweepGrid(pwl_units=(1,), seeds=(0,), latent_dims=(3,))
    run_sweep(data, one, BASE.replace(epochs=1), out=root / "one_seed")
    return SimpleNamespace(root=root, ds=ds, data=data, runs=[runs / f"s{s}" for s in SEEDS])


def run_cli(args, capsys):
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, " ".join(out.out.split()), out.err  # rich wraps lines at the console width


def entry_point(*args):
    """The installed command line (usage errors are checked where users meet them)."""
    return subprocess.run(
        [sys.executable, "-m", "alrnn_neuro", "analyze", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_runs_replication_writes_csv_json_and_figure(setup, capsys):
    out = setup.root / "rep_runs"
    code, stdout, _ = run_cli(["analyze", *setup.runs, "--n-null", "9", "--out", out], capsys)
    assert code == 0
    assert "replication over 3 fits (seeds 0, 1, 2)" in stdout and "slow_hold" in stdout
    frame = pd.read_csv(out / "replication.csv")
    assert len(frame) == len(SEEDS) * len(rep.FINDINGS)
    assert sorted(frame["seed"].unique().tolist()) == list(SEEDS)
    summary = json.loads((out / "replication.json").read_text())
    assert summary["kind"] == "runs" and len(summary["groups"]) == 1
    findings = summary["groups"][0]["findings"]
    for name in rep.FINDINGS:
        rows = frame[frame["finding"] == name]
        s = findings[name]
        # the rate columns restate the per-fit rows: holds / testable fits
        assert s["n_fits"] == 3 and s["n_holds"] == int(rows["holds"].sum())
        assert s["n_testable"] == int(rows["testable"].sum())
        assert (rows["n_holds"] == s["n_holds"]).all()
        if s["n_testable"]:
            assert s["rate"] == pytest.approx(s["n_holds"] / s["n_testable"])
            assert rows["rate"].iloc[0] == pytest.approx(s["rate"])
        assert s["criterion"] == summary["criteria"][name]
    # the simulator has rules, a hold epoch and the four sounds: routing and hold are testable
    assert findings["rule_routing"]["n_testable"] == 3 and findings["slow_hold"]["n_testable"] == 3
    assert (out / "replication.png").stat().st_size > 5000


def test_too_few_null_draws_leave_epoch_alignment_untested_not_failed(setup):
    few = replicate_runs(setup.runs[:2], n_null=9)
    assert few.groups[0].summary["epoch_regions"]["rate"] is None
    assert few.groups[0].summary["epoch_regions"]["n_testable"] == 0
    assert "n_null >= 100" in few.parameters["notes"][0]
    enough = replicate_runs(setup.runs[:2], n_null=100)
    assert enough.groups[0].summary["epoch_regions"]["n_testable"] == 2
    assert enough.parameters["notes"] == []


def test_sweep_replication_one_table_per_p_and_fold(setup, capsys):
    sweep = setup.root / "sweep"
    code, stdout, _ = run_cli(["analyze", sweep, "--n-null", "9", "--no-figures"], capsys)
    assert code == 0 and "rates per P" in stdout
    out = sweep / "replication"  # the default; the dataset comes from sweep.json
    summary = json.loads((out / "replication.json").read_text())
    keys = [(g["pwl_units"], g["fold"]) for g in summary["groups"]]
    assert sorted(keys) == [(0, 0), (0, 1), (2, 0), (2, 1)]
    assert all(g["seeds"] == [0, 1] and g["n_fits"] == 2 for g in summary["groups"])
    assert all("fold" in r for g in summary["groups"] for r in g["runs"])
    for pooled in summary["per_pwl_units"]:
        groups = [g for g in summary["groups"] if g["pwl_units"] == pooled["pwl_units"]]
        for name in rep.FINDINGS:
            s = pooled["findings"][name]
            assert s["n_fits"] == 4
            assert s["n_holds"] == sum(g["findings"][name]["n_holds"] for g in groups)
    frame = pd.read_csv(out / "replication.csv")
    assert len(frame) == 4 * 2 * len(rep.FINDINGS)
    assert set(frame["fold"]) == {0, 1} and not (out / "replication.png").exists()
    code, _, err = run_cli(["analyze", sweep, "--n-null", "9"], capsys)
    assert code == 2 and "--overwrite" in err  # an earlier replication is kept


def test_sweep_with_another_dataset_is_refused(setup, capsys):
    other = setup.root / "other.h5"
    save_dataset(setup.ds.isel(trial=slice(0, 50)), other)
    out = setup.root / "rep_other"
    args = ["analyze", setup.root / "sweep", "--dataset", other, "--out", out, "--n-null", "9"]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "fingerprint" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_single_run_says_it_rests_on_one_fit(setup, capsys):
    out = setup.root / "single"
    args = ["analyze", setup.runs[0], "--n-null", "5", "--no-figures", "--out", out]
    code, stdout, _ = run_cli(args, capsys)
    assert code == 0
    assert "rest on one fit" in stdout and "alrnn-neuro analyze RUN0 RUN1" in stdout
    summary = json.loads((out / "alignment.json").read_text())
    assert summary["n_fits"] == 1 and summary["replication"].startswith("untested")


def test_options_of_one_run_are_refused_for_several(setup, capsys):
    out = setup.root / "rep_gate"
    args = ["analyze", *setup.runs[:2], "--gate-inputs", "hold", "--out", out]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "--gate-inputs" in err and "one RUN_DIR" in err
    assert not out.exists()


def test_a_run_given_twice_is_refused(setup, capsys):
    out = setup.root / "rep_twice"
    code, _, err = run_cli(["analyze", setup.runs[0], setup.runs[0], "--out", out], capsys)
    assert code == 2 and "given twice" in err and not out.exists()


def test_mixed_configurations_exit_2_through_the_entry_point(setup):
    out = setup.root / "rep_mixed"
    done = entry_point(*setup.runs[:2], setup.root / "other_m4", "--out", out)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "other_m4" in lines[0] and "latent_dim = 3 vs 4" in lines[0] and "fix:" in lines[0]
    assert not out.exists()


def test_neither_run_nor_sweep_exits_2_through_the_entry_point(setup, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = entry_point(empty)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(empty) in lines[0]
    assert "neither config.json" in lines[0] and "fix:" in lines[0]
    assert list(empty.iterdir()) == []


def test_sweep_with_one_seed_exits_2_through_the_entry_point(setup):
    sweep = setup.root / "one_seed"
    done = entry_point(sweep, "--n-null", "9")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(sweep) in lines[0] and "one model seed" in lines[0]
    assert "--seeds 3" in lines[0] and not (sweep / "replication").exists()


def test_gating_reports_the_gain_ratio_of_the_strongest_gate():
    latents = xr.Dataset(
        {
            "valid": (("trial", "time"), np.ones((2, 3), bool)),
            "epoch": (("trial", "time"), np.full((2, 3), "stimulus")),
        }
    )
    gates = [
        {"primitive": "gating", "detected": True, "region_after": 1, "gain_ratio": 3.0},
        {"primitive": "gating", "detected": True, "region_after": 2, "gain_ratio": 0.1},
        {"primitive": "gating", "detected": False, "region_after": 3, "gain_ratio": 50.0},
        {
            "primitive": "integration",
            "detected": True,
            "region": 0,
            "eigenvalue": 0.99,
            "occupancy": 0.2,
            "gain_ratio": None,
        },
    ]
    analysis = SimpleNamespace(primitives=gates, summary={"epoch_p": None, "epoch_ami": None})
    fit_ = SimpleNamespace(latents=latents, config=SimpleNamespace(inputs=["hold"], seed=0))
    fit_.run_dir = None
    row = rep._findings(fit_, analysis, {0: 5, 1: 6, 2: 7}, alpha=0.01)
    # 0.1 changes the gain 10x (more than 3x); undetected rows never count
    assert row["gating"]["effect"] == pytest.approx(0.1) and row["gating"]["region"] == 7
    assert row["integration"]["effect"] == pytest.approx(0.99)
    assert row["integration"]["region"] == 5


def _finding(found: bool, region: int) -> dict:
    return {"testable": True, "found": found, "effect": 1.0, "region": region}


def test_same_region_is_the_integrating_fits_majority_not_the_first_fits():
    # the first fit does not integrate: the other fits agree on region 3, so they replicate
    # there (before, a first fit without integration made every fit's region "different")
    fits = [_finding(False, -1), _finding(True, 3), _finding(True, 3), _finding(True, 1)]
    assert rep._shared_region(fits) == 3
    assert rep._shared_region([_finding(True, 2), _finding(True, 1)]) == 1  # tie: lowest code
    assert rep._shared_region([_finding(False, 4), _finding(True, -1)]) == -1  # none found


def test_a_finding_that_does_not_hold_names_no_region():
    assert rep._row(True, False, 0.4, 6)["region"] == -1
    assert rep._row(True, True, 0.9, 6)["region"] == 6
    assert np.isnan(rep._row(False, False, None, -1)["effect"])


def _epoch_only(p: float, ami: float, ami_untrained: float | None):
    latents = xr.Dataset(
        {
            "valid": (("trial", "time"), np.ones((1, 2), bool)),
            "epoch": (("trial", "time"), np.full((1, 2), "stimulus")),
        }
    )
    summary = {"epoch_p": p, "epoch_ami": ami, "untrained": {"epoch_ami": ami_untrained}}
    analysis = SimpleNamespace(primitives=[], summary=summary)
    fit_ = SimpleNamespace(latents=latents, config=SimpleNamespace(inputs=[], seed=0))
    fit_.run_dir = None
    return rep._findings(fit_, analysis, {}, alpha=0.01)["epoch_regions"]


def test_epoch_regions_must_beat_the_fits_own_initialisation():
    # p = 0.005 passes the null, but the untrained network aligns better (as on the demo:
    # 0.058 against 0.565): not a finding of training
    row = _epoch_only(0.005, 0.058, 0.565)
    assert row["testable"] and not row["found"] and row["ami_untrained"] == 0.565
    assert _epoch_only(0.005, 0.30, 0.27)["found"]  # 0.03 above: learned
    assert not _epoch_only(0.005, 0.28, 0.27)["found"]  # within the 0.02 margin
    assert _epoch_only(0.005, 0.30, None)["found"]  # no dataset: the null alone
    assert not _epoch_only(0.2, 0.30, 0.0)["found"]  # the null still applies
