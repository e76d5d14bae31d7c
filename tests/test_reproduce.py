"""``alrnn-neuro reproduce``: output layout, reproduce.json, claims, resume rules, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr

from alrnn_neuro.cli.app import main
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.reproduce import common
from alrnn_neuro.reproduce.claims import multitask_claims, regime_claims, sweep_claims
from alrnn_neuro.reproduce.settings import stimulus_settings, task_settings


def _has_report() -> bool:
    try:
        from alrnn_neuro.report import write_report  # noqa: F401
    except ImportError:
        return False
    return True


def _check_claims(record: dict) -> None:
    assert record["claims"], "a reproduction lists its claims"
    for c in record["claims"]:
        assert set(c) == {"claim", "holds", "evidence"}
        assert c["holds"] in (True, False, None)
        assert isinstance(c["claim"], str) and c["claim"]
        assert isinstance(c["evidence"], str) and c["evidence"]


@pytest.fixture(scope="module")
def tiny_stimulus(tmp_path_factory) -> Path:
    from alrnn_neuro.reproduce import reproduce_stimulus_selection

    out = tmp_path_factory.mktemp("repro") / "ss"
    reproduce_stimulus_selection(out, settings="tiny", seed=2014, command="test")
    return out


@pytest.mark.slow
def test_stimulus_selection_tiny_layout_and_record(tiny_stimulus):
    out = tiny_stimulus
    for name in ("reproduce.json", "dataset.h5", "sweep/sweep.json", "sweep/results.nc",
                 "model/config.json", "model/metrics.json", "model/latents.nc",
                 "analysis/regimes.nc", "analysis/alignment.json", "rsa/rsa.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert list((out / "analysis" / "figures").glob("*.png"))
    cells = list((out / "sweep" / "cells").iterdir())
    s = stimulus_settings("tiny")
    n_cells = len(s.pwl_units) * s.n_seeds + len(s.baselines) * s.n_seeds
    assert len(cells) == n_cells * len(s.train_fractions)
    assert all((c / "config.json").is_file() for c in cells)
    record = json.loads((out / "reproduce.json").read_text())
    assert record["target"] == "stimulus-selection" and record["setting"] == "tiny"
    assert record["seconds"] > 0 and record["command"] == "test"
    assert set(record["versions"]) >= {"python", "torch", "numpy", "xarray", "alrnn_neuro"}
    assert record["fit_config"]["pwl_units"] == 2 and record["fit_config"]["mar"] == 1.0
    assert record["grid"]["pwl_units"] == list(s.pwl_units)
    _check_claims(record)
    texts = " ".join(c["claim"] for c in record["claims"])
    for word in ("Sparse nonlinearity", "P = 0", "smallest training fraction", "AMI", "routing",
                 "slow mode", "RSA"):  # fmt: skip
        assert word in texts
    if _has_report():
        assert (out / "report.html").is_file()


@pytest.mark.slow
def test_rerun_refused_then_resumed(tiny_stimulus):
    from alrnn_neuro.reproduce import reproduce_stimulus_selection

    with pytest.raises(RunDirError, match="--resume"):
        reproduce_stimulus_selection(tiny_stimulus, settings="tiny", seed=2014)
    with pytest.raises(RunDirError, match="another reproduction"):
        reproduce_stimulus_selection(tiny_stimulus, settings="tiny", seed=7, resume=True)
    before = (tiny_stimulus / "model" / "model.pt").stat().st_mtime_ns
    record = reproduce_stimulus_selection(tiny_stimulus, settings="tiny", seed=2014, resume=True)
    assert (tiny_stimulus / "model" / "model.pt").stat().st_mtime_ns == before  # reused
    _check_claims(record)


@pytest.mark.slow
def test_tasks_tiny_layout_and_multitask(tmp_path):
    from alrnn_neuro.reproduce import reproduce_tasks

    out = tmp_path / "tasks"
    record = reproduce_tasks(out, settings="tiny", seed=1)
    s = task_settings("tiny")
    for task in [*s.tasks, "multitask"]:
        assert (out / "tasks" / task / "sweep" / "results.nc").is_file()
        assert (out / "tasks" / task / "sweep" / "dataset.h5").is_file()
    mt = xr.load_dataset(out / "multitask" / "multitask.nc", engine="h5netcdf")
    assert mt["region_usage"].dims == ("pwl_units", "seed", "task", "region")
    assert mt["shared_index"].dims == ("pwl_units", "seed")
    assert mt.sizes["task"] == 11
    assert float(mt["shared_index"].sel(pwl_units=0).min()) == pytest.approx(1.0)
    summary = json.loads((out / "multitask" / "multitask.json").read_text())
    assert [r["pwl_units"] for r in summary["by_pwl_units"]] == list(s.multitask.pwl_units)
    assert record["target"] == "tasks"
    _check_claims(record)
    if _has_report():
        assert (out / "report.html").is_file()


def test_prepare_out_rules(tmp_path):
    ident = {"target": "tasks", "setting": "tiny", "seed": 0}
    root = common.prepare_out(tmp_path / "a", ident, resume=False)
    assert (root / common.START).is_file()
    with pytest.raises(RunDirError, match="add --resume"):
        common.prepare_out(root, ident, resume=False)
    common.prepare_out(root, ident, resume=True)
    with pytest.raises(RunDirError, match="seed: 0 -> 1"):
        common.prepare_out(root, {**ident, "seed": 1}, resume=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_text("mine")
    with pytest.raises(RunDirError, match="holds no reproduction"):
        common.prepare_out(tmp_path / "b", ident, resume=True)


def _results(values: dict[int, list[float]], small: dict[int, list[float]]) -> xr.Dataset:
    import numpy as np

    ps = sorted(values)
    arr = np.array([[small[p], values[p]] for p in ps])  # (pwl_units, train_fraction, seed)
    data = arr.transpose(0, 2, 1)[None]  # model, pwl_units, seed, train_fraction
    coords = {"model": ["alrnn"], "pwl_units": ps, "seed": [0, 1, 2],
              "train_fraction": [0.2, 1.0]}  # fmt: skip
    dims = ("model", "pwl_units", "seed", "train_fraction")
    return xr.Dataset({"test_bits_per_spike": (dims, data)}, coords=coords)


def test_sweep_claims_on_known_numbers():
    full = {0: [0.05, 0.051, 0.049], 1: [0.07, 0.071, 0.069], 2: [0.08, 0.081, 0.079],
            4: [0.08, 0.082, 0.078]}  # fmt: skip
    small = {0: [0.03] * 3, 1: [0.05] * 3, 2: [0.06, 0.061, 0.059], 4: [0.055] * 3}
    c = sweep_claims(_results(full, small), latent_dim=4)
    assert [x["holds"] for x in c] == [True, True, True]
    assert "P=2" in c[0]["evidence"] and "0.08" in c[0]["evidence"]
    # sparse clearly worse than P=M; P=0 as good as the best; small-data sparse worse
    full2 = {0: [0.09] * 3, 1: [0.05] * 3, 2: [0.05, 0.051, 0.049], 4: [0.09, 0.091, 0.089]}
    small2 = {0: [0.03] * 3, 1: [0.01] * 3, 2: [0.01] * 3, 4: [0.05] * 3}
    assert [x["holds"] for x in sweep_claims(_results(full2, small2), latent_dim=4)] == [
        False, False, False,
    ]  # fmt: skip


def test_sweep_claims_untestable_without_p0():
    r = _results({1: [0.1] * 3, 4: [0.1] * 3}, {1: [0.1] * 3, 4: [0.1] * 3})
    assert all(x["holds"] is None for x in sweep_claims(r, latent_dim=4))


def test_regime_and_multitask_claims():
    analysis = {"epoch_ami": 0.06, "epoch_p": 0.005, "n_regions_used": 4,
                "n_regions_total": 4, "n_regions_90": 3}  # fmt: skip
    hold = {"testable": True, "region": 1, "share": 0.9, "slowest_modulus": 0.99,
            "rule_auc": 0.91}  # fmt: skip
    c = regime_claims(analysis, {"testable": False, "reason": "no rule"}, hold)
    assert [x["holds"] for x in c] == [True, None, True]
    assert "no rule" in c[1]["evidence"]
    rows = [{"pwl_units": p, "shared_index": [v, 0.01], "task_specificity": [0.1, 0.0],
             "task_accuracy": [0.8, 0.0]} for p, v in ((0, 1.0), (2, 0.6), (8, 0.2))]  # fmt: skip
    trend = {"rho": -0.9, "p_value": 0.001, "n_cells": 6}
    (m,) = multitask_claims({"by_pwl_units": rows, "spearman_shared_vs_p": trend}, 8)
    assert m["holds"] is True and "rho = -0.90" in m["evidence"]


def test_unknown_setting_raises():
    with pytest.raises(ConfigError, match="setting='huge' is unknown"):
        stimulus_settings("huge")


def test_cli_unknown_target_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "nonsense", "--quick", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "target 'nonsense' is unknown" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_cli_missing_dataset_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "stimulus-selection", "--quick", "--dataset",
              str(tmp_path / "nope.h5"), "--out", str(tmp_path / "o")])  # fmt: skip
    assert exit_info.value.code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_dataset_with_tasks_exits_2(tmp_path):
    (tmp_path / "d.h5").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "tasks", "--dataset", str(tmp_path / "d.h5"),
              "--out", str(tmp_path / "o")])  # fmt: skip
    assert exit_info.value.code == 2
    assert not (tmp_path / "o").exists()


def test_cli_out_with_other_reproduction_exits_2(tmp_path, capsys):
    out = tmp_path / "o"
    common.prepare_out(out, {"target": "tasks", "setting": "full", "seed": 3}, resume=False)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "tasks", "--setting", "tiny", "--resume", "--out", str(out)])
    assert exit_info.value.code == 2
    assert "another reproduction" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before
