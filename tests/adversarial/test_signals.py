"""Ctrl-C (SIGINT to the process group) during analyze, rsa, simulate and sweep: exit code 130,
one line saying what was saved and how to go on, and no half-written output.

Each command is interrupted once it has used more CPU than a small complete run of the same
command needs, i.e. in the middle of its own work (not while Python starts).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig
from tests.adversarial.processes import (
    cpu_of_run,
    ctrl_c,
    debris,
    interrupt_when_busy,
    run,
    start,
    wait_for,
)

pytestmark = pytest.mark.adversarial


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[Path, Path]:
    """A simulated session on disk and a small run fitted to it."""
    root = tmp_path_factory.mktemp("signals")
    ds = simulate_stimulus_selection(n_trials=100, n_units=8, seed=3, lfp=False)
    save_dataset(ds, root / "data.h5")
    config = FitConfig(latent_dim=3, pwl_units=2, epochs=2, batch_size=16, init_bins=5)
    fit(ds, config, out=root / "run", dataset_path=root / "data.h5")
    return root / "data.h5", root / "run"


def assert_one_interrupted_line(code: int, err: str, *phrases: str) -> str:
    lines = err.strip().splitlines()
    assert code == 130, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("interrupted:"), lines[0]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def test_ctrl_c_in_analyze(session, tmp_path):
    _, run_dir = session
    small = cpu_of_run(["analyze", str(run_dir), "--n-null", "1", "--out", "small"], tmp_path)
    args = ["analyze", str(run_dir), "--n-null", "100000", "--out", "big"]
    code, err = interrupt_when_busy(args, tmp_path, cpu=small + 0.5)
    assert_one_interrupted_line(code, err, "before anything was written", "run the same")
    assert not (tmp_path / "big").exists() and not debris(tmp_path) and not debris(run_dir)


def test_ctrl_c_in_rsa(session, tmp_path):
    _, run_dir = session
    common = ["rsa", str(run_dir), "--conditions", "rule,target", "--n-perm", "5"]
    small = cpu_of_run([*common, "--n-boot", "0", "--out", "small"], tmp_path)
    big = [*common, "--bootstrap-units", "--n-boot", "5000", "--out", "big"]  # minutes of work
    code, err = interrupt_when_busy(big, tmp_path, cpu=small + 0.5)
    assert_one_interrupted_line(code, err, "before anything was written")
    assert not (tmp_path / "big").exists() and not debris(tmp_path)


def test_ctrl_c_in_simulate(tmp_path):
    common = ["simulate", "stimulus-selection", "--no-lfp"]
    small = cpu_of_run([*common, "--n-trials", "10", "--out", "small.h5"], tmp_path)
    code, err = interrupt_when_busy(
        [*common, "--n-trials", "20000", "--n-units", "4", "--out", "big.h5"],
        tmp_path,
        cpu=small + 0.3,
    )
    assert_one_interrupted_line(code, err, "big.h5 was not written", "run the same command")
    assert not (tmp_path / "big.h5").exists() and not debris(tmp_path)


def test_ctrl_c_in_sweep_keeps_finished_cells_and_the_rerun_completes(session, tmp_path):
    data, _ = session
    grid = "--pwl-units 0,1 --seeds 2 --latent-dim 3 --max-members 1 --epochs 4"
    args = ["sweep", str(data), *grid.split(), "--batch-size", "32", "--out", "sw"]
    cells = tmp_path / "sw" / "cells"
    process = start(args, tmp_path)
    wait_for(lambda: cells.is_dir() and any(cells.iterdir()), process, "a finished cell")
    code, err = ctrl_c(process)
    line = assert_one_interrupted_line(code, err, "finished cell", "run the same")
    done = sorted(p.name for p in cells.iterdir())
    assert all(name in line for name in done[:4])
    assert not (tmp_path / "sw" / "staging").exists() and not debris(tmp_path)
    again = run(args, tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "sw" / "results.nc").is_file() and len(list(cells.iterdir())) == 4


@pytest.mark.slow
def test_ctrl_c_in_a_dask_sweep_stops_the_workers_quietly(session, tmp_path):
    pytest.importorskip("dask.distributed")
    data, _ = session
    grid = "--pwl-units 0,1 --seeds 2 --latent-dim 3 --max-members 1 --epochs 30"
    dask = "--executor dask --workers 2"
    args = ["sweep", str(data), *grid.split(), *dask.split(), "--out", "sw"]
    cells = tmp_path / "sw" / "cells"
    process = start(args, tmp_path)
    wait_for(lambda: cells.is_dir() and any(cells.iterdir()), process, "a finished cell")
    code, err = ctrl_c(process)  # the whole process group, workers included, gets SIGINT
    assert_one_interrupted_line(code, err, "workers stopped", "finished cell")
    assert not (tmp_path / "sw" / "staging").exists() and not debris(tmp_path)
