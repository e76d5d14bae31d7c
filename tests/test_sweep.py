"""Sweep engine: grid validation, local and dask execution, resume, results and CLI."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid, group_cells, memory, run_sweep, summarize
from alrnn_neuro.sweep.memory import ensemble_size, member_bytes
from alrnn_neuro.training import FitConfig, load_run

BASE = FitConfig(epochs=2, latent_dim=3)
GRID = SweepGrid(models=("alrnn", "gru"), pwl_units=(0, 1), seeds=(0, 1),
                 train_fractions=(0.5, 1.0), latent_dims=(3,))  # fmt: skip
METRICS = ["test_bits_per_spike", "test_loss", "val_loss", "regions_used"]


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return simulate_stimulus_selection(n_trials=60, n_units=8, lfp=False)


@pytest.fixture(scope="module")
def local_sweep(ds, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "local"
    return out, run_sweep(ds, GRID, BASE, out=out)


def test_grid_rejects_p_above_m():
    with pytest.raises(ConfigError, match=r"pwl_units=\[4\] > latent_dim=3.*fix"):
        SweepGrid(pwl_units=(0, 4), latent_dims=(3, 6))


def test_grid_rejects_unknown_model():
    with pytest.raises(ConfigError, match="unknown.*'tcn'.*alrnn, rnn, gru, lstm"):
        SweepGrid(models=("alrnn", "tcn"))


def test_grid_rejects_bad_fraction():
    with pytest.raises(ConfigError, match=r"train_fractions holds 1.5.*\(0, 1\]"):
        SweepGrid(train_fractions=(0.5, 1.5))


def test_cells_and_groups_respect_max_members():
    grid = SweepGrid(models=("alrnn", "lstm"), pwl_units=(0, 1, 2), seeds=(0, 1, 2),
                     train_fractions=(0.3, 1.0), latent_dims=(4,), max_members=4)  # fmt: skip
    cells = grid.cells()
    assert len(cells) == 3 * 3 * 2 + 3 * 2
    groups = group_cells(cells, 4)
    alrnn = [g for g in groups if g[0].model == "alrnn"]
    assert sorted(len(g) for g in alrnn) == [1, 1, 4, 4, 4, 4]
    for g in alrnn:  # one ensemble = one M and one train fraction
        assert len({(c.latent_dim, c.train_fraction) for c in g}) == 1
    assert sum(len(g) for g in groups) == len(cells)
    assert len({c.name for c in cells}) == len(cells)


def test_local_sweep_results(local_sweep):
    out, results = local_sweep
    assert dict(results.sizes) == {"model": 2, "pwl_units": 2, "seed": 2, "train_fraction": 2}
    assert int(results["latent_dim"]) == 3
    saved = xr.load_dataset(out / "results.nc", engine="h5netcdf")
    xr.testing.assert_identical(saved.drop_attrs(), results.drop_attrs())
    for name in METRICS[:3] + ["fit_seconds"]:
        assert np.isfinite(results[name].values).all(), name
    alrnn = results["regions_used"].sel(model="alrnn")
    assert (alrnn.sel(pwl_units=0) == 1).all()  # P=0: one linear region
    assert ((alrnn.sel(pwl_units=1) >= 1) & (alrnn.sel(pwl_units=1) <= 2)).all()
    assert results["regions_used"].sel(model="gru").isnull().all()
    # every cell is an ordinary run dir; the fit saw the share of non-test trials it asked for
    half = load_run(out / "cells" / "alrnn-M3-P1-seed1-tf0.5")
    full = load_run(out / "cells" / "alrnn-M3-P1-seed1-tf1")
    n_half, n_full = half.latents.sizes["trial"], full.latents.sizes["trial"]
    assert n_half == round(0.5 * n_full)
    assert set(half.latents["trial"].values) <= set(full.latents["trial"].values)
    assert (half.config.pwl_units, half.config.seed) == (1, 1)


def test_summary_minimal_nonlinearity(local_sweep):
    _, results = local_sweep
    summary = summarize(results)
    data = results["test_bits_per_spike"].sel(model="alrnn", train_fraction=1.0)
    mean = data.mean("seed").values
    sem = data.std("seed", ddof=1).values / np.sqrt(2)
    np.testing.assert_allclose(summary["mean"].sel(model="alrnn", train_fraction=1.0), mean)
    best = int(np.argmax(mean))
    expected = min(p for p, m in zip((0, 1), mean, strict=True) if m >= mean[best] - sem[best])
    assert float(summary["minimal_pwl_units"].sel(train_fraction=1.0)) == expected


def test_resume_skips_finished_and_recomputes_deleted(ds, tmp_path):
    grid = SweepGrid(pwl_units=(0, 1), seeds=(0,), train_fractions=(0.5,), latent_dims=(3,))
    calls = []
    out = tmp_path / "sweep"
    first = run_sweep(ds, grid, BASE, out=out, task_hook=calls.append)
    assert [len(c) for c in calls] == [2]  # both P in one ensemble
    kept = out / "cells" / "alrnn-M3-P0-seed0-tf0.5" / "metrics.json"
    stamp = kept.stat().st_mtime_ns
    again = run_sweep(ds, grid, BASE, out=out, task_hook=calls.append)
    assert len(calls) == 1
    xr.testing.assert_identical(first, again)
    shutil.rmtree(out / "cells" / "alrnn-M3-P1-seed0-tf0.5")
    third = run_sweep(ds, grid, BASE, out=out, task_hook=calls.append)
    assert [[c.name for c in group] for group in calls[1:]] == [["alrnn-M3-P1-seed0-tf0.5"]]
    assert kept.stat().st_mtime_ns == stamp
    # a member trained alone ends where it ended inside the ensemble
    fitted = ["test_loss", "val_loss", "regions_used"]
    xr.testing.assert_allclose(first[fitted], third[fitted], rtol=1e-5)


def test_out_dir_guards(ds, tmp_path):
    grid = SweepGrid(pwl_units=(1,), seeds=(0,), latent_dims=(3,))
    out = tmp_path / "sweep"
    run_sweep(ds, grid, BASE, out=out)
    with pytest.raises(RunDirError, match="already holds a sweep.*fix"):
        run_sweep(ds, grid, BASE, out=out, resume=False)
    with pytest.raises(RunDirError, match="epochs: 2 -> 3.*fix"):
        run_sweep(ds, grid, BASE.replace(epochs=3), out=out)
    # the base config's seed is what --data-seed sets: the message names the flag
    with pytest.raises(RunDirError, match=r"seed \(batch order, --data-seed\): 0 -> 5"):
        run_sweep(ds, grid, BASE.replace(seed=5), out=out)


def test_unreachable_scheduler_fails_fast(ds, tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr("alrnn_neuro.sweep.cluster.CONNECT_TIMEOUT", "1s")
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="scheduler='tcp://127.0.0.1:9' is unreachable"):
        run_sweep(ds, GRID, BASE, out=tmp_path / "s", executor="dask",
                  scheduler="tcp://127.0.0.1:9")  # fmt: skip
    assert time.perf_counter() - started < 10
    assert not (tmp_path / "s").exists()


def test_tls_scheduler_without_credentials_is_one_error_naming_them(ds, tmp_path):
    """tls:// with no client certificate configured: distributed fails with a TypeError
    about an ssl_context deep inside; the sweep names the dask settings instead."""
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.distributed")
    empty = {"ca-file": None, "client": {"cert": None, "key": None}}
    with dask.config.set({"distributed.comm.tls": empty}):
        with pytest.raises(
            ConfigError,
            match=r"speaks TLS, but the dask configuration holds no "
            r"distributed.comm.tls.ca-file, distributed.comm.tls.client.cert",
        ):
            run_sweep(ds, GRID, BASE, out=tmp_path / "s", executor="dask",
                      scheduler="tls://127.0.0.1:9")  # fmt: skip
    assert not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:  # fmt: skip
        yield local


def test_dask_matches_local(ds, local_sweep, cluster, tmp_path):
    _, local = local_sweep
    grid = SweepGrid(models=("alrnn", "gru"), pwl_units=(0, 1), seeds=(0, 1),
                     train_fractions=(1.0,), latent_dims=(3,))  # fmt: skip
    remote = run_sweep(ds, grid, BASE, out=tmp_path / "dask", executor="dask",
                       scheduler=cluster.scheduler_address)  # fmt: skip
    assert remote.sizes["train_fraction"] == 1
    for name in METRICS:  # same seeds, same data: identical numbers on other processes
        expected = local[name].sel(train_fraction=[1.0]).values
        np.testing.assert_array_equal(remote[name].values, expected, err_msg=name)


def test_sweep_on_a_given_client_leaves_it_open(ds, local_sweep, cluster, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    _, local = local_sweep
    grid = SweepGrid(pwl_units=(0, 1), seeds=(0,), train_fractions=(1.0,), latent_dims=(3,))
    with distributed.Client(cluster.scheduler_address) as client:
        first = run_sweep(ds, grid, BASE, out=tmp_path / "a", executor="dask", client=client)
        assert client.status == "running"  # the caller's client: not closed by the sweep
        second = run_sweep(ds, grid, BASE, out=tmp_path / "b", executor="dask", client=client)
    for name in METRICS:  # the same fits twice; as the local sweep up to its ensemble's rounding
        np.testing.assert_array_equal(second[name].values, first[name].values, err_msg=name)
        expected = local[name].sel(model=["alrnn"], seed=[0], train_fraction=[1.0]).values
        np.testing.assert_allclose(first[name].values, expected, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("executor, scheduler", [("local", None), ("dask", "tcp://127.0.0.1:9")])
def test_a_client_needs_the_dask_executor_and_no_scheduler(ds, tmp_path, executor, scheduler):
    with pytest.raises(ConfigError, match=f"client= runs on dask: executor='{executor}'.*fix"):
        run_sweep(ds, GRID, BASE, out=tmp_path / "s", executor=executor, scheduler=scheduler,
                  client=object())  # fmt: skip
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_dask_survives_killed_worker(ds, cluster, tmp_path):
    marker = tmp_path / "killed-once"

    def kill_first_full_data_task(cells):
        if cells[0].train_fraction == 1.0 and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies mid-sweep; the nanny restarts it

    grid = SweepGrid(pwl_units=(0, 1), seeds=(0,), train_fractions=(0.5, 1.0), latent_dims=(3,))
    out = tmp_path / "sweep"
    results = run_sweep(ds, grid, BASE, out=out, executor="dask",
                        scheduler=cluster.scheduler_address,
                        task_hook=kill_first_full_data_task)  # fmt: skip
    assert marker.exists()
    assert np.isfinite(results["test_loss"].values).all()
    assert len(list((out / "cells").iterdir())) == 4


@pytest.fixture
def dataset_file(ds, tmp_path):
    path = tmp_path / "d.h5"
    save_dataset(ds, path)
    return path


def test_cli_sweep(dataset_file, tmp_path, capsys):
    out = tmp_path / "cli"
    args = "--pwl-units 0,1 --seeds 1 --train-fraction 1 --model alrnn --latent-dim 3 --epochs 2"
    main(["sweep", str(dataset_file), *args.split(), "--out", str(out)])
    text = capsys.readouterr().out
    assert "sweep summary" in text and "minimal sufficient P" in text
    assert (out / "results.nc").is_file()


def test_cli_sweep_takes_model_and_m_from_the_config_file_unless_flags_say_otherwise(
    dataset_file, tmp_path, capsys
):
    """--config's latent_dim / pwl_units / model were ignored (the grid kept its defaults)
    while sweep.json recorded them; now they are the grid's defaults, and flags win."""
    import json

    toml = tmp_path / "recipe.toml"
    toml.write_text("latent_dim = 4\npwl_units = 2\nepochs = 2\n")
    out = tmp_path / "from_toml"
    main(["sweep", str(dataset_file), "--config", str(toml), "--seeds", "1", "--out", str(out)])
    assert sorted(p.name for p in (out / "cells").iterdir()) == ["alrnn-M4-P2-seed0-tf1"]
    record = json.loads((out / "sweep.json").read_text())
    assert record["grid"]["latent_dims"] == [4] and record["base_config"]["latent_dim"] == 4
    flags = ["--pwl-units", "0,1", "--latent-dim", "3"]
    out = tmp_path / "flags_win"
    main(["sweep", str(dataset_file), "--config", str(toml), "--seeds", "1", *flags, "--out",
          str(out)])  # fmt: skip
    names = sorted(p.name for p in (out / "cells").iterdir())
    assert names == ["alrnn-M3-P0-seed0-tf1", "alrnn-M3-P1-seed0-tf1"]
    assert json.loads((out / "sweep.json").read_text())["base_config"]["latent_dim"] == 3
    capsys.readouterr()


def test_a_sweep_cell_is_analysed_with_the_sweeps_dataset_and_not_with_another(
    dataset_file, ds, tmp_path, capsys
):
    """A cell is fitted to the sweep's training pool (a subset): --dataset with the sweep's
    file passes the fingerprint check, other recordings of the same shape do not."""
    out = tmp_path / "sw"
    args = "--pwl-units 1 --seeds 1 --latent-dim 3 --epochs 2"
    main(["sweep", str(dataset_file), *args.split(), "--out", str(out)])
    cell = next((out / "cells").iterdir())
    other = ds.copy(deep=True)
    other["spikes"][0, 0, 0] = other["spikes"][0, 0, 0] + 1
    save_dataset(other, tmp_path / "other.h5")
    options = ["--n-null", "5", "--no-figures", "--max-period", "2"]
    main(["analyze", str(cell), "--dataset", str(dataset_file), *options, "--out",
          str(tmp_path / "a")])  # fmt: skip
    assert (tmp_path / "a" / "primitives.json").is_file()
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", str(cell), "--dataset", str(tmp_path / "other.h5"), *options, "--out",
              str(tmp_path / "b")])  # fmt: skip
    assert exit_info.value.code == 2 and "is not the one run" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("source", "args"),
    [
        ("file", ["--train-fraction", "1,0.04"]),  # the second group has 2 trials
        ("task", ["--n-trials", "3"]),  # a generated task too small to split
    ],
)
def test_a_group_without_validation_trials_is_refused_before_any_fit(
    dataset_file, tmp_path, capsys, source, args
):
    """The split of every group is checked before the first fit; nothing is left behind
    (not even a generated task's dataset.h5, which blocked the corrected command)."""
    out = tmp_path / "sw"
    what = str(dataset_file) if source == "file" else "contextual_integration"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", what, "--pwl-units", "1", "--seeds", "1", "--latent-dim", "3",
              "--epochs", "2", *args, "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert "leaves without 'val' trials" in err and "nothing was fitted" in err
    assert not out.exists()


def test_an_inert_fit_flag_is_refused_by_sweep_too(dataset_file, tmp_path, capsys):
    out = tmp_path / "sw"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(dataset_file), "--pwl-units", "1", "--seeds", "1", "--latent-dim",
              "3", "--epochs", "2", "--tf-alpha", "0.3", "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "--tf-alpha 0.3 has no effect here" in err, err
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--n-trials", "--task-seed"])
def test_task_flags_on_a_data_file_are_refused_not_ignored(dataset_file, tmp_path, capsys, flag):
    # they were accepted with exit 0 and every trial of the file was swept
    out = tmp_path / "sw"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(dataset_file), "--pwl-units", "1", "--seeds", "1", "--latent-dim",
              "3", "--epochs", "2", flag, "7", "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "\n" not in err, err
    assert f"{flag} 7 applies to a generated task" in err and f"leave {flag} out" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pwl-units", "0,4", "--latent-dim", "3"], "P > M"),
        (["--model", "alrnn,foo"], "unknown"),
        (["--pwl-units", "a,b"], "not integers"),
        (["--executor", "ray"], "executor='ray'"),
        (["--lr", "-1"], "lr=-1.0"),
        (["--workers", "2"], "needs executor='dask'"),
        (["--dashboard"], "--dashboard serves the dask cluster's dashboard"),
    ],
)
def test_cli_bad_input_exits_2(dataset_file, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(dataset_file), "--out", str(tmp_path / "x"), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_summarize_tolerates_a_train_fraction_with_no_finished_alrnn_cell():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(2, 3, 3, 2))
    values[0, :, :, 0] = np.nan  # no AL-RNN cell finished at train_fraction 0.3
    coords = {"model": ["alrnn", "gru"], "pwl_units": [0, 1, 2], "seed": [0, 1, 2],
              "train_fraction": [0.3, 1.0]}  # fmt: skip
    results = xr.Dataset(
        {"test_loss": (("model", "pwl_units", "seed", "train_fraction"), values)}, coords=coords
    )
    minimal = summarize(results)["minimal_pwl_units"]
    assert np.isnan(minimal.sel(train_fraction=0.3))
    mean = results["test_loss"].sel(model="alrnn", train_fraction=1.0).mean("seed")
    sem = results["test_loss"].sel(model="alrnn", train_fraction=1.0).std("seed", ddof=1) / 3**0.5
    best = int(np.argmin(mean.values))
    within = mean <= mean[best] + sem[best]
    assert minimal.sel(train_fraction=1.0) == results["pwl_units"].values[within.values].min()


def test_ensemble_size_is_capped_by_memory():
    per_member = member_bytes(n_time=60, n_units=30, latent_dim=16, batch_size=32)
    # 256 validation trials x 60 steps x (6*16 + 3*30) numbers x 4 bytes x safety factor 2
    assert per_member == 2 * 4 * 256 * 60 * (6 * 16 + 3 * 30)
    assert ensemble_size(16, per_member, budget=5 * per_member) == 5
    assert ensemble_size(16, per_member, budget=10 * per_member, workers=4) == 2
    assert ensemble_size(16, per_member, budget=per_member // 2) == 1
    assert ensemble_size(4, per_member, budget=100 * per_member) == 4


def test_sweep_splits_ensembles_when_memory_is_short(ds, tmp_path, monkeypatch):
    grid = SweepGrid(pwl_units=(0, 1, 2), seeds=(0,), train_fractions=(0.5,), latent_dims=(3,))
    per_member = member_bytes(n_time=ds.sizes["time"], n_units=ds.sizes["unit"], latent_dim=3,
                              batch_size=BASE.batch_size)  # fmt: skip
    # room for two members in half of the "available" memory
    monkeypatch.setattr(memory, "available_memory", lambda: 4 * per_member + 1)
    calls = []
    run_sweep(ds, grid, BASE, out=tmp_path / "sweep", task_hook=calls.append)
    assert sorted(len(group) for group in calls) == [1, 2]


def test_every_model_seed_of_a_sweep_sees_the_same_split(local_sweep):
    out, _ = local_sweep
    import json

    splits = {}
    for cell in sorted((out / "cells").iterdir()):
        record = json.loads((cell / "split.json").read_text())
        splits[cell.name] = {k: sorted(record[k]) for k in ("train", "val", "test") if k in record}
    for name, split in splits.items():  # the same model and fraction, another seed
        twin = name.replace("seed0", "seed1")
        if twin != name and twin in splits:
            assert split == splits[twin], name
    assert any("seed0" in n for n in splits) and any("seed1" in n for n in splits)


def test_baseline_cells_checkpoint_once_and_keep_a_resumable_checkpoint(ds, tmp_path, monkeypatch):
    import alrnn_neuro.training.api as api

    saved = []
    real = api.save_checkpoint
    monkeypatch.setattr(api, "save_checkpoint", lambda path, state, *a: saved.append(
        state.epoch) or real(path, state, *a))  # fmt: skip
    grid = SweepGrid(models=("gru",), seeds=(0, 1), latent_dims=(3,))
    run_sweep(ds, grid, BASE.replace(epochs=3), out=tmp_path / "sw")
    assert saved == [3, 3]  # one checkpoint per cell (the staging folder is never resumed)
    for cell in (tmp_path / "sw" / "cells").iterdir():
        assert (cell / "checkpoint.pt").is_file()


def test_regions_used_is_recorded_per_cell_and_read_from_latents_for_older_cells(
    local_sweep, tmp_path
):
    import json

    from alrnn_neuro.sweep.results import collect_results, regions_used

    out, results = local_sweep
    copy = tmp_path / "old"
    shutil.copytree(out, copy)
    for cell in (copy / "cells").iterdir():
        record = json.loads((cell / "sweep_cell.json").read_text())
        with xr.open_dataset(cell / "latents.nc", engine="h5netcdf") as latents:
            counted = regions_used(latents)
        assert record["regions_used"] == (None if np.isnan(counted) else counted)
        del record["regions_used"]  # as written by older versions
        (cell / "sweep_cell.json").write_text(json.dumps(record))
    old = collect_results(copy, write=False)
    xr.testing.assert_identical(old["regions_used"], results["regions_used"])
