"""``alrnn-neuro reproduce``: output layout, reproduce.json, claims, resume rules, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr

from alrnn_neuro._claim_status import STATUSES
from alrnn_neuro.cli.app import main
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.reproduce import common
from alrnn_neuro.reproduce.claim_records import Claim, ClaimResult
from alrnn_neuro.reproduce.criteria import criteria_sha256, max_false_positive_rate, min_power
from alrnn_neuro.reproduce.settings import stimulus_settings, task_settings
from alrnn_neuro.reproduce.stimulus_claims import CLAIMS
from alrnn_neuro.reproduce.stimulus_controls import MUST_FAIL, calibration
from alrnn_neuro.reproduce.task_baselines import claim_name as low_data_name
from alrnn_neuro.reproduce.task_claims import SHARING, claim_name, sharing_result
from alrnn_neuro.reproduce.task_primitives import claim_name as primitives_name


def _has_report() -> bool:
    try:
        from alrnn_neuro.report import write_report  # noqa: F401
    except ImportError:
        return False
    return True


def _check_claims(record: dict) -> None:
    assert record["claims"], "a reproduction lists its claims"
    for c in record["claims"]:
        assert {"claim", "holds", "evidence"} <= set(c)
        assert c["holds"] in (True, False, None)
        assert isinstance(c["claim"], str) and c["claim"]
        assert isinstance(c["evidence"], str) and c["evidence"]


CLAIM_KEYS = {"name", "claim", "criterion", "status", "holds", "effect", "effect_name", "ci",
              "p_value", "null_quantile", "evidence", "reason", "model_fits", "false_positive_rate",
              "controls", "power"}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_stimulus(tmp_path_factory) -> Path:
    from alrnn_neuro.reproduce import reproduce_stimulus_selection

    out = tmp_path_factory.mktemp("repro") / "ss"
    reproduce_stimulus_selection(out, settings="tiny", seed=3000, controls=True, command="test")
    return out


@pytest.mark.slow
def test_stimulus_selection_tiny_layout_and_record(tiny_stimulus):
    out = tiny_stimulus
    for name in ("reproduce.json", "dataset.h5", "sweep/sweep.json", "sweep/results.nc",
                 "model/config.json", "model/metrics.json",
                 "model/latents.nc", "model-seeds/seed-1/config.json", "analysis/regimes.nc",
                 "analysis/alignment.json", "rsa/rsa.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert list((out / "analysis" / "figures").glob("*.png"))
    s = stimulus_settings("tiny")
    cells = list((out / "sweep" / "cells").iterdir())
    per_fold = (len(s.pwl_units) + len(s.baselines)) * s.n_seeds * len(s.train_fractions)
    assert len(cells) == per_fold * s.folds
    record = json.loads((out / "reproduce.json").read_text())
    assert record["target"] == "stimulus-selection" and record["setting"] == "tiny"
    assert record["seconds"] > 0 and record["command"] == "test"
    assert record["criteria_sha256"] == criteria_sha256()
    assert record["study"].startswith("parameter recovery") and record["controls_run"] is True
    assert set(record["versions"]) >= {"python", "torch", "numpy", "xarray", "alrnn_neuro", "cpu"}
    assert record["versions"]["cpu"] and record["versions"]["cpu"] != "unknown"
    assert record["fit_config"]["pwl_units"] == 2 and record["fit_config"]["mar"] == 1.0
    assert record["grid"]["pwl_units"] == list(s.pwl_units)
    _check_claims(record)
    assert [c["name"] for c in record["claims"]] == list(CLAIMS)
    for c in record["claims"]:
        assert set(c) == CLAIM_KEYS, c["name"]
        assert c["status"] in STATUSES
        for control in (k for k, v in MUST_FAIL.items() if c["name"] in v):
            found = c["controls"][control]
            assert found["n"] + found["holds"].count(None) == len(s.control_seeds)
            assert found["seeds"] == list(s.control_seeds)
        if c["status"] == "holds":
            assert c["false_positive_rate"] is None or c["false_positive_rate"] <= 0.1
    for name in ("pwl", "linear", "no_routing"):
        assert (out / "controls" / f"{name}-{s.control_seeds[0]}" / "claims.json").is_file()
    if _has_report():
        html = (out / "report.html").read_text()
        assert "FPR" in html and "power" in html


@pytest.mark.slow
def test_rerun_refused_then_resumed(tiny_stimulus):
    from alrnn_neuro.reproduce import reproduce_stimulus_selection

    with pytest.raises(RunDirError, match="--resume"):
        reproduce_stimulus_selection(tiny_stimulus, settings="tiny", seed=3000, controls=True)
    with pytest.raises(RunDirError, match="another reproduction"):
        reproduce_stimulus_selection(tiny_stimulus, settings="tiny", seed=7, resume=True)
    model = tiny_stimulus / "model" / "model.pt"
    control = next((tiny_stimulus / "controls").glob("linear-*")) / "claims.json"
    before = model.stat().st_mtime_ns, control.stat().st_mtime_ns
    record = reproduce_stimulus_selection(
        tiny_stimulus, settings="tiny", seed=3000, controls=True, resume=True
    )
    assert (model.stat().st_mtime_ns, control.stat().st_mtime_ns) == before  # reused
    _check_claims(record)


def _claim(holds: bool | None, rates: dict[str, float | None]) -> Claim:
    controls = {
        k: {"n": 0 if r is None else 10, "false_positive_rate": r} for k, r in rates.items()
    }
    return Claim("x", "text", "criterion", ClaimResult(holds=holds), controls=controls)


def test_claim_status_uncalibrated_when_a_control_passes_too_often():
    limit = max_false_positive_rate()
    assert limit == pytest.approx(0.1)
    assert _claim(True, {"linear": 0.0, "untrained": 0.3}).status == "uncalibrated"
    assert _claim(False, {"linear": 0.3}).status == "uncalibrated"
    assert _claim(True, {"linear": limit}).status == "holds"
    assert _claim(True, {"linear": None}).status == "holds"  # no control ran
    assert _claim(False, {"linear": 0.0}).status == "does not hold"
    assert _claim(None, {"linear": 0.5}).status == "n.a."
    record = _claim(True, {"linear": 0.3}).to_dict()
    assert record["holds"] is False and record["false_positive_rate"] == 0.3


def _powered(holds: bool | None, n_holds: int, n: int, fpr: float = 0.0) -> Claim:
    claim = _claim(holds, {"linear": fpr})
    claim.power = {"n": n, "n_holds": n_holds, "rate": n_holds / n if n else None}
    return claim


def test_claim_status_not_replicated_when_power_draws_rarely_repeat_it():
    """A calibrated claim that holds on the reproduction's draw but on fewer than min_power of
    its power draws reads "not replicated" (and holds False in the record); at or above
    min_power, or with no power draws, it holds; power never rescues a failing or
    uncalibrated claim."""
    floor = min_power()
    assert floor == pytest.approx(0.5)
    assert _powered(True, 0, 5).status == "not replicated"
    assert _powered(True, 2, 5).status == "not replicated"  # 0.4 < 0.5
    assert _powered(True, 3, 6).status == "holds"  # exactly the floor
    assert _powered(True, 5, 5).status == "holds"
    assert _powered(True, 0, 0).status == "holds"  # no power draw ran: verdict alone
    assert _powered(False, 5, 5).status == "does not hold"
    # power draws without the effect by construction (no flag): the failure replicates
    assert _powered(False, 0, 5).status == "does not hold"  # see test_claim_low_power
    assert _powered(True, 0, 5, fpr=0.3).status == "uncalibrated"
    assert _powered(None, 0, 5).status == "n.a."
    record = _powered(True, 1, 5).to_dict()
    assert (record["status"], record["holds"]) == ("not replicated", False)
    assert set(STATUSES) >= {"holds", "does not hold", "n.a.", "uncalibrated", "not replicated"}
    assert "not shown (low power)" in STATUSES


def _session(generator: str, seed: int, holds: dict, controls: dict | None = None) -> dict:
    claims = {k: ClaimResult(holds=v, effect=seed / 10).to_dict() for k, v in holds.items()}
    model = {
        c: {k: ClaimResult(holds=v).to_dict() for k, v in found.items()}
        for c, found in (controls or {}).items()
    }
    return {"name": f"{generator}-{seed}", "generator": generator, "seed": seed,
            "claims": claims, "model_controls": model}  # fmt: skip


def test_calibration_counts_false_positives_per_control_and_power():
    records = {}
    for seed, routes in ((1, True), (2, False), (3, None)):
        records[f"linear-{seed}"] = _session("linear", seed, {"rule_routing": routes})
        records[f"pwl-{seed}"] = _session(
            "pwl", seed, {"rule_routing": seed != 2}, {"untrained": {"rule_routing": seed == 3}}
        )
    out = calibration(records)["rule_routing"]
    linear = out["controls"]["linear"]
    assert linear["seeds"] == [1, 2, 3] and linear["holds"] == [True, False, None]
    assert (linear["n"], linear["n_holds"]) == (2, 1) and linear["false_positive_rate"] == 0.5
    assert linear["effects"] == [0.1, 0.2, None]  # None: the run could not test the claim
    untrained = out["controls"]["untrained"]
    assert untrained["holds"] == [False, False, True] and untrained["false_positive_rate"] == 1 / 3
    assert out["controls"]["no_routing"]["n"] == 0  # no such session ran
    assert (out["power"]["n_holds"], out["power"]["n"], out["power"]["rate"]) == (2, 3, 2 / 3)
    assert out["power"]["true_by_construction"] is True  # pwl sessions: a low rate is low power


@pytest.mark.slow
def test_tasks_tiny_layout_and_multitask(tmp_path):
    from alrnn_neuro.reproduce import reproduce_tasks

    out = tmp_path / "tasks"
    record = reproduce_tasks(out, settings="tiny", seed=1)
    s = task_settings("tiny")
    for task in [*s.tasks, "multitask"]:
        assert (out / "tasks" / task / "sweep" / "results.nc").is_file()
        assert (out / "tasks" / task / "sweep" / "dataset.h5").is_file()
        assert list((out / "tasks" / task / "sweep" / "cells").glob("*/task_scores.nc"))
    mt = xr.load_dataset(out / "multitask" / "multitask.nc", engine="h5netcdf")
    assert mt["region_usage"].dims == ("pwl_units", "seed", "task", "region")
    assert mt["shared_index"].dims == ("pwl_units", "seed")
    assert mt.sizes["task"] == 11
    assert float(mt["shared_index"].sel(pwl_units=0).min()) == pytest.approx(1.0)
    null = xr.load_dataset(out / "multitask" / "multitask_untrained.nc", engine="h5netcdf")
    assert null.attrs["networks"] == "untrained" and null["shared_index"].shape == (3, 2)
    summary = json.loads((out / "multitask" / "multitask.json").read_text())
    assert [r["pwl_units"] for r in summary["by_pwl_units"]] == list(s.multitask.pwl_units)
    assert {"untrained", "sharing_test"} <= set(summary)
    assert record["target"] == "tasks"
    assert record["criteria_sha256"] == criteria_sha256() and "tasks" in record["criteria"]
    _check_claims(record)
    names = [c["name"] for c in record["claims"]]
    tasks = [*s.tasks, "multitask"]
    expected = []
    for t in tasks:
        expected += [claim_name(t), primitives_name(t)]
        expected += [low_data_name(t)] if t in s.tasks else []  # no baselines on the suite
    assert names == [*expected, SHARING]
    for task in tasks:
        counts = xr.load_dataset(out / "tasks" / task / "primitives.nc", engine="h5netcdf")
        swept = s.tasks.get(task, s.multitask).pwl_units
        assert set(counts["pwl_units"].values) == {p for p in swept if p > 0}
    for c in record["claims"]:
        assert set(c) == CLAIM_KEYS
        assert c["status"] in STATUSES
        sparse = c["name"].startswith("sparse_suffices:")
        must_fail = {"untrained", "linear_models"} if sparse else {"untrained"}
        if c["name"].startswith("task_primitives:"):  # retrained on shuffled targets
            shuffled = {"shuffled_targets", "shuffled_targets_full_budget"}
            must_fail |= shuffled
            assert all(c["controls"][k]["seeds"] == list(s.shuffled_seeds) for k in shuffled)
        assert set(c["controls"]) == must_fail
        untrained = c["controls"]["untrained"]
        assert untrained["seeds"] == list(s.control_seeds) and untrained["n"] <= 1
        if untrained["n"]:
            assert c["false_positive_rate"] is not None
        power = c["power"]  # the fitted networks on new draws of the task, per control seed
        assert power["seeds"] == list(s.control_seeds) and {"n", "n_holds", "rate"} <= set(power)
    cost = xr.load_dataset(out / "cost" / "cost.nc", engine="h5netcdf")
    assert list(cost["task"].values) == [*s.tasks, "multitask"]
    assert (out / "cost" / "cost.png").is_file()
    for task, spec in {**s.tasks, "multitask": s.multitask}.items():
        per_p = record["cost_vs_p"][task]
        assert sorted(int(p) for p in per_p) == sorted(spec.pwl_units)
        assert all(v["n_regions"] == 2.0 ** int(p) for p, v in per_p.items())
        assert int(cost["latent_dim"].sel(task=task)) == spec.latent_dim
    table = xr.load_dataset(out / "baselines" / "baselines.nc", engine="h5netcdf")
    assert table["accuracy"].dims == ("task", "train_fraction", "model")
    assert list(table["task"].values) == list(s.tasks)
    assert list(table["train_fraction"].values) == list(s.train_fractions)
    assert {"gru", "P=0", "P=3"} <= set(table["model"].values.tolist())
    assert (out / "baselines" / "baselines.png").is_file()
    comparison = record["baseline_comparison"]["addition"]
    assert set(comparison) == {"0.5", "1"} and set(comparison["1"]) == {"P=0", "P=3", "gru"}
    linear = record["claims"][0]["controls"]["linear_models"]
    assert linear["seeds"] == ["0>1", "1>0"]  # ordered pairs of the two P = 0 model seeds
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


def test_sharing_claim_record():
    means = {"pwl_units": [2, 8], "trained_mean": [0.6, 0.2], "untrained_mean": [0.7, 0.6]}
    slopes = {"slope_trained": -0.2, "slope_untrained": -0.05}
    stats = {"effect": 0.15, "ci": [0.1, 0.2], "p_value": 0.001, "null_95": 0.05}
    test = {"testable": True, "n_cells": 6, **means, **slopes, **stats}
    result = sharing_result(test, 8)
    assert result.holds is True and result.null_quantile == 0.05
    assert "excess fall +0.150" in result.evidence
    assert sharing_result({**test, "p_value": 0.2}, 8).holds is False
    assert sharing_result({**test, "effect": 0.001}, 8).holds is False  # below the minimum


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tasks", "--quick", "--setting", "tiny"], "--quick and --setting tiny disagree"),
        (["stimulus-selection", "--setting", "study-reduced"], "'study-reduced' is unknown"),
        (["tasks", "--setting", "huge"], "study-reduced"),  # the choices are listed
        (["tasks", "--quick", "--device", "gpu"], "--device 'gpu' is unknown"),
        (["stimulus-selection", "--quick", "--device", "cuda"], "--device applies to tasks"),
    ],
)
def test_cli_bad_setting_exits_2_in_one_line(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", *args, "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_cli_device_cuda_without_a_gpu_exits_2(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible")
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "tasks", "--quick", "--device", "cuda", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "no CUDA device is visible" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_on_device_moves_every_task_fit():
    from alrnn_neuro.reproduce.settings import on_device

    s = task_settings("tiny")
    moved = on_device(s, "cuda")
    for spec in (*moved.tasks.values(), moved.multitask):
        assert spec.fit_options["device"] == "cuda"
    assert on_device(s, "cpu") is s and "device" not in s.multitask.fit_options


def test_on_a_gpu_the_study_grids_train_as_ensembles():
    from alrnn_neuro.reproduce.settings import on_device

    study = task_settings("study")
    assert study.max_members == 1  # on CPU: one network per cell, for --resume
    assert on_device(study, "cuda").max_members == 0  # the grid split over the workers
    assert on_device(study, "cpu").max_members == 1


def test_cli_missing_dataset_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "stimulus-selection", "--quick", "--dataset",
              str(tmp_path / "nope.h5"), "--out", str(tmp_path / "o")])  # fmt: skip
    assert exit_info.value.code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_task_dataset_for_stimulus_selection_exits_2_before_writing(tmp_path, capsys):
    """A dataset without spike counts is refused before the sweep, not after it."""
    from alrnn_neuro.data.h5 import save_dataset
    from alrnn_neuro.simulate.tasks import make_task

    save_dataset(make_task("copy", n_trials=20, seed=0), tmp_path / "copy.h5")
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "stimulus-selection", "--setting", "tiny", "--dataset",
              str(tmp_path / "copy.h5"), "--out", str(tmp_path / "o")])  # fmt: skip
    assert exit_info.value.code == 2
    assert "holds targets (a task dataset), not spike counts" in capsys.readouterr().err
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


def test_regime_claims_count_only_where_nonlinearity_is_needed():
    from alrnn_neuro.reproduce.stimulus_session import gate_regime_claims

    names = ("rule_routing", "slow_hold", "rsa")
    found = {name: ClaimResult(holds=True, evidence="stats") for name in names}
    linear = gate_regime_claims(found, {"zero_insufficient": ClaimResult(holds=False)})
    assert not linear["rule_routing"].holds and not linear["slow_hold"].holds
    assert "do not need nonlinearity" in linear["slow_hold"].evidence
    assert linear["rsa"].holds  # not a claim about a region
    needed = gate_regime_claims(found, {"zero_insufficient": ClaimResult(holds=True)})
    assert needed["rule_routing"].holds and needed["slow_hold"].evidence == "stats"
    untested = gate_regime_claims(found, {})
    assert untested["slow_hold"].holds and "not tested" in untested["slow_hold"].evidence


def test_sweep_client_runs_in_process_with_one_worker():
    with common.sweep_client(1) as client:
        assert client is None


def test_sweep_client_is_one_cluster_for_several_sweeps_closed_at_the_end(tmp_path):
    pytest.importorskip("dask.distributed")
    from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
    from alrnn_neuro.sweep import SweepGrid
    from alrnn_neuro.training import FitConfig

    ds = simulate_stimulus_selection(n_trials=40, n_units=5, seed=1, lfp=False)
    grid = SweepGrid(pwl_units=(0, 1), seeds=(0,), train_fractions=(1.0,), latent_dims=(3,))
    base = FitConfig(epochs=1, latent_dim=3)
    with common.sweep_client(2) as client:
        workers = set(client.scheduler_info()["workers"])
        assert len(workers) == 2
        for name in ("a", "b"):
            results = common.sweep(ds, grid, base, tmp_path / name, client)
            assert results.sizes["pwl_units"] == 2
        assert set(client.scheduler_info()["workers"]) == workers  # the same processes
    assert client.status == "closed"


def test_a_control_whose_model_does_not_fit_is_untested_not_a_pass():
    """A claim that fails on a control only because the control's model does not fit was
    never put to the test: the control's false-positive rate leaves it out (0/5 was printed
    where 2 of 5 sessions were tested); on the positive sessions it counts against power."""
    unfit = ClaimResult(holds=False, evidence="the model does not fit", model_fits=False)
    records = {}
    for seed in (1, 2, 3):
        found = unfit if seed != 2 else ClaimResult(holds=False)
        session = _session("pwl", seed, {"rule_routing": True})
        session["model_controls"] = {"untrained": {"rule_routing": found.to_dict()}}
        if seed == 3:
            session["claims"]["rule_routing"] = unfit.to_dict()
        records[f"pwl-{seed}"] = session
    out = calibration(records)["rule_routing"]
    untrained = out["controls"]["untrained"]
    assert untrained["holds"] == [None, False, None] and untrained["n"] == 1
    assert untrained["ci_95"] == pytest.approx([0.0, 0.975])  # 0 of 1 tested: says nothing
    assert (out["power"]["n"], out["power"]["n_holds"]) == (3, 2)  # the unfit session: a miss


def test_model_controls_use_networks_of_their_own_seeds(monkeypatch):
    """The untrained control was the reference untrained network compared with itself (gain
    0 by construction) and copied once per seed (replication by copying): now each control
    network has its own seed, none the reference's."""
    from types import SimpleNamespace

    from alrnn_neuro.reproduce import stimulus_session as ss
    from alrnn_neuro.training import FitConfig

    def network(config):
        return SimpleNamespace(config=config)

    calls = {}
    monkeypatch.setattr(ss, "fit", lambda ds, config: network(config))
    monkeypatch.setattr(ss, "initial_fit", lambda ds, config: network(config))
    monkeypatch.setattr(ss, "recipe_config", lambda s, ds: FitConfig(seed=0))
    monkeypatch.setattr(ss, "gate_regime_claims", lambda found, claims: found)

    def model_claims(ds, fits, untrained, s, *, seed):
        calls[len(calls)] = (fits, untrained)
        return {}

    monkeypatch.setattr(ss, "model_claims", model_claims)
    reference = network(FitConfig(seed=0))
    fits = [network(FitConfig(seed=k)) for k in (0, 1, 2)]
    outcome = ss.SessionOutcome({}, fits, reference)
    ss.model_control_claims(xr.Dataset(), outcome, stimulus_settings("quick"), seed=0)
    for controls, base in calls.values():
        seeds = [c.config.seed for c in controls]
        assert base is reference and reference not in controls
        assert len(set(seeds)) == 3  # one network per model seed, not one copied
    untrained_seeds = [c.config.seed for c in calls[0][0]]
    assert 0 not in untrained_seeds and calls[1][0][0].config.epochs == 1
