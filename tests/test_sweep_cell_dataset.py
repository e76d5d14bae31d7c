"""A sweep cell (fitted in memory) finds its dataset through its sweep, so `analyze CELL` and
`rsa CELL` work without --dataset."""

from __future__ import annotations

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.training import FitConfig
from alrnn_neuro.training.rundir import recorded_dataset_path


def test_a_cell_of_a_file_sweep_finds_the_swept_file(tmp_path, capsys):
    ds = simulate_stimulus_selection(n_trials=40, n_units=6, lfp=False)
    path = tmp_path / "session.h5"
    save_dataset(ds, path)
    out = tmp_path / "sweep"
    run_sweep(str(path), SweepGrid(pwl_units=(1,), seeds=(0,), latent_dims=(3,)),
              FitConfig(epochs=1, latent_dim=3), out=out)  # fmt: skip
    (cell,) = (out / "cells").iterdir()
    assert recorded_dataset_path(cell) == path.resolve()
    main(["analyze", str(cell), "--n-null", "5", "--no-figures", "--out", str(tmp_path / "a")])
    assert (tmp_path / "a").is_dir() and "error" not in capsys.readouterr().err
    rsa_args = ["--conditions", "rule,location", "--n-perm", "5", "--n-boot", "0", "--trials"]
    main(["rsa", str(cell), *rsa_args, "all", "--out", str(tmp_path / "r")])  # its own trials
    assert (tmp_path / "r" / "rsa.json").is_file() and "error" not in capsys.readouterr().err
    path.unlink()  # gone: nothing to stand in (the sweep holds no dataset.h5 of its own)
    assert recorded_dataset_path(cell) is None
