"""``alrnn-neuro report``: one self-contained HTML page of a reproduce / sweep / run folder."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis.cost import model_cost
from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import read_netcdf, save_dataset, write_netcdf
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.report import build_report, write_report
from alrnn_neuro.reproduce.task_baselines import accuracy_table, write_comparison
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid, run_sweep, summarize
from alrnn_neuro.training import FitConfig, fit

IMAGE = re.compile(r'src="data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)"')
HEADINGS = [
    "<h2>Claims</h2>", "<h2>Nonlinearity sweep (P)</h2>", "<h3>Performance vs P",
    "<h3>Minimal sufficient P", "<h3>Performance vs training-set size", "<h3>Regions used vs P",
    "<h2>Per-task sweeps</h2>", "<h2>Multi-task region sharing</h2>", "<h3>Shared index vs P",
    "<h3>Region usage per task", "<h2>Cost of nonlinearity vs P</h2>",
    "<h2>Sparse P vs fully nonlinear networks</h2>", "<h2>Fitted model</h2>",
    "<h2>Regimes and task epochs</h2>", "<h2>Computational primitives</h2>",
    "<h2>RSA by epoch</h2>", "<h2>Configuration and versions</h2>",
]  # fmt: skip
CLAIMS = [
    {"claim": "sparse P (1-2) within one sem of P = M", "holds": True, "evidence": "P=1: 0.08"},
    {"claim": "P = 0 falls short", "holds": False, "evidence": "P=0 within sem of <b> best"},
    {"claim": "sparse P >= P = M at the smallest fraction", "holds": None, "evidence": "n/a"},
]


def multitask_table(seed: int = 0, drop: tuple[str, ...] = ()) -> xr.Dataset:
    """multitask.nc following the report contract (dims pwl_units, seed, task, region)."""
    rng = np.random.default_rng(seed)
    pwl, seeds, tasks, regions = [0, 1, 2], [0, 1], ["go", "anti", "dm1"], np.arange(4)
    usage = rng.random((3, 2, 3, 4))
    usage[0, ..., 1:] = 0.0
    usage /= usage.sum(-1, keepdims=True)
    ds = xr.Dataset(
        {
            "region_usage": (("pwl_units", "seed", "task", "region"), usage),
            "shared_index": (("pwl_units", "seed"), [[1.0, 1.0], [0.7, 0.6], [0.4, 0.5]]),
            "usage_entropy": (("pwl_units", "seed", "task"), rng.random((3, 2, 3))),
            "task_accuracy": (("pwl_units", "seed", "task"), rng.random((3, 2, 3))),
        },
        coords={"pwl_units": pwl, "seed": seeds, "task": tasks, "region": regions},
    )
    return ds.drop_vars(list(drop))


def task_results(metric: str, seed: int = 0) -> xr.Dataset:
    """A sweep results table (alrnn + gru, gru repeated over P) as collect_results writes it."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0.8, 0.05, (2, 3, 2, 2))
    values[1] = values[1, :1]
    dims = ("model", "pwl_units", "seed", "train_fraction")
    coords = {"model": ["alrnn", "gru"], "pwl_units": [0, 1, 2], "seed": [0, 1],
              "train_fraction": [0.3, 1.0], "latent_dim": 4}  # fmt: skip
    return xr.Dataset({metric: (dims, values)}, coords=coords)


def comparison_table() -> xr.Dataset:
    """A low-data comparison table of one task (P = 0, 1, 3 and a GRU at two fractions)."""
    rng = np.random.default_rng(0)
    correct = xr.DataArray(
        (rng.random((2, 4, 2, 30)) < 0.7).astype(float),
        dims=("train_fraction", "model", "seed", "trial"),
        coords={"train_fraction": [0.25, 1.0], "model": ["P=0", "P=1", "P=3", "gru"]},
        attrs={"latent_dim": 3},
    )
    table = accuracy_table(correct, n_boot=20)
    table.attrs["sparse_pwl_units"] = 1
    return table


@pytest.fixture(scope="module")
def repro(tmp_path_factory) -> Path:
    """A reproduce-like folder: real tiny sweep, fit, analyze and rsa; synthetic multitask."""
    root = tmp_path_factory.mktemp("report") / "repro"
    root.mkdir()
    ds = simulate_stimulus_selection(n_trials=60, n_units=6, lfp=False)
    location = ds["location"].values
    ds = ds.assign_coords(location=("trial", np.where(location == "none", "<b>", location)))
    save_dataset(ds, root / "dataset.h5")
    grid = SweepGrid(pwl_units=(0, 1), seeds=(0, 1), latent_dims=(2,))  # 4 cells, one ensemble
    run_sweep(ds, grid, FitConfig(epochs=2, latent_dim=2), out=root / "sweep")
    model = root / "model"
    fit(ds, FitConfig(latent_dim=2, pwl_units=1, epochs=2), out=model,
        dataset_path=root / "dataset.h5")  # fmt: skip
    for args in (
        ["analyze", str(model), "--out", str(root / "analysis"), "--n-null", "10"],
        ["rsa", str(model), "--conditions", "rule,location", "--n-perm", "10", "--n-boot", "200",
         "--trials", "all", "--out", str(root / "rsa")],
    ):  # fmt: skip
        main(args)
    write_netcdf(multitask_table(), root / "multitask" / "multitask.nc")
    cost = model_cost(3, (0, 1, 3), input_dim=2, n_steps=5, batch_size=2, repeats=1)
    write_netcdf(cost.expand_dims(task=["copy"]), root / "cost" / "cost.nc")
    write_comparison({"copy": comparison_table()}, root / "baselines")
    write_netcdf(task_results("test_accuracy"), root / "tasks" / "copy" / "sweep" / "results.nc")
    write_netcdf(task_results("test_loss"), root / "tasks" / "add" / "sweep" / "results.nc")
    record = {"command": "alrnn-neuro reproduce stimulus-selection --quick", "setting": "quick",
              "target": "stimulus-selection", "seconds": 12.5, "dataset": "dataset.h5",
              "fit_config": {"epochs": 2, "latent_dim": 2}, "grid": grid.to_dict(),
              "versions": {"python": "3.11", "torch": "2", "alrnn_neuro": "0.1.0"},
              "claims": CLAIMS}  # fmt: skip
    (root / "reproduce.json").write_text(json.dumps(record))
    return root


@pytest.fixture(scope="module")
def html(repro) -> str:
    path = write_report(repro)
    assert path == repro / "report.html"
    return path.read_text(encoding="utf-8")


def test_report_has_every_section_in_order(html):
    positions = [html.find(h) for h in HEADINGS]
    assert all(p >= 0 for p in positions), [
        h for h, p in zip(HEADINGS, positions, strict=True) if p < 0
    ]
    assert positions[0] == min(positions)  # claims on top
    assert positions[-1] == max(positions)  # config and versions at the bottom
    assert "Not in this report" not in html


def test_figures_are_embedded_pngs(html):
    images = IMAGE.findall(html)
    # sweep 2 + tasks 1 + multitask 2 + cost 1 + baselines 1 + analyze figures (>= 4) + rsa 3
    assert len(images) >= 14
    for mime, data in images:
        assert mime == "image/png"
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")


def test_report_is_self_contained(html):
    lowered = html.lower()
    for bad in ('src="http', 'href="http', "<script", "<link", "url(", "@import"):
        assert bad not in lowered
    assert re.findall(r'href="([^"]*)"', html) == [
        f"#{k}" for k in ("claims", "sweep", "tasks", "multitask", "cost", "baselines", "run",
                          "regimes", "primitives", "rsa", "config")
    ]  # fmt: skip


def test_text_is_escaped(html):
    assert "<b>" not in html
    assert "&lt;b&gt; best" in html  # claim evidence
    assert re.search(r"conditions: [^<]*&lt;b&gt;", html)  # the trial label in the RSA section


def test_claims_marks(html):
    claims = html[html.find("<h2>Claims</h2>") : html.find("</section>")]
    assert claims.count("<tr>") == 1 + len(CLAIMS)
    for symbol in ("✓", "✗", "n.a."):
        assert claims.count(symbol) == 1


def test_minimal_p_matches_summarize(repro, html):
    results = read_netcdf(repro / "sweep" / "results.nc")
    minimal = summarize(results, metric="test_bits_per_spike")["minimal_pwl_units"]
    for f in results["train_fraction"].values:
        value = float(minimal.sel(train_fraction=f))
        row = rf'<tr><td class="num">{f:g}</td><td>{value:g}</td>'
        assert re.search(row, html), row


def test_config_and_versions(html):
    config = html[html.find("<h2>Configuration and versions</h2>") :]
    for text in ("reproduce stimulus-selection --quick", "torch", "Sweep grid", "Run config",
                 "Base fit configuration"):  # fmt: skip
        assert text in config


def test_plain_sweep_folder(repro, tmp_path):
    report = build_report(repro / "sweep")
    assert report.sections == ["skipped", "sweep", "config"]
    skipped = dict(report.skipped)
    assert "rsa/rsa.json" in skipped["RSA by epoch"]
    assert "reproduce.json" in skipped["Claims"]
    assert "Not in this report" in report.html


def test_a_sweep_report_shows_the_tested_verdict_of_select(repro, tmp_path):
    """The one-sem rule is named as a rule of thumb; select's verdict (with its caution on
    2-epoch cells) is shown once selection.json exists, and how to get it before."""
    sweep = tmp_path / "sweep"
    shutil.copytree(repro / "sweep", sweep)
    before = build_report(sweep).html
    assert "rule of thumb over model seeds" in before
    assert f"No selection.json in {sweep}: run `alrnn-neuro select {sweep}`" in before
    assert main(["select", str(sweep), "--n-boot", "200"]) is None
    after = build_report(sweep).html
    verdict = json.loads((sweep / "selection.json").read_text())["verdict"]
    assert verdict[0].startswith("Caution: 4 of 4 cells stopped at their epoch limit")
    assert all(html_escape(line) in after for line in verdict)
    assert "common held-out test trials" in after  # one test split, not folds


def test_a_selection_made_before_the_sweep_grew_is_left_out(repro, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(repro / "sweep", sweep)
    assert main(["select", str(sweep), "--n-boot", "200"]) is None
    record = json.loads((sweep / "sweep.json").read_text())
    grid = record["grid"]
    latent_dims = grid.get("latent_dims") or [record["base_config"]["latent_dim"]]
    new_p = next(p for p in range(min(latent_dims) + 1) if p not in grid["pwl_units"])
    grid["pwl_units"] = [*grid["pwl_units"], new_p]  # the sweep rerun with one P more
    grid["seeds"] = [*grid["seeds"], 7]
    (sweep / "sweep.json").write_text(json.dumps(record))
    html = build_report(sweep).html
    assert f"was made before the sweep grew (P = {new_p}; seeds 7 are not in it)" in html
    verdict = json.loads((sweep / "selection.json").read_text())["verdict"]
    assert not any(html_escape(line) in html for line in verdict)


def test_an_unfinished_sweep_says_so_and_how_many_cells_are_missing(repro, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(repro / "sweep", sweep)
    assert "Unfinished sweep" not in build_report(sweep).html
    (sweep / "results.nc").unlink(missing_ok=True)
    cells = sorted((sweep / "cells").iterdir())
    shutil.rmtree(cells[0])
    html = build_report(sweep).html
    assert f"Unfinished sweep: {len(cells) - 1} of {len(cells)} cells are finished" in html


def test_run_dir_with_analyses_beside_it(repro, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(repro / "model", run)
    shutil.copytree(repro / "analysis", run / "analysis")
    report = build_report(run)
    assert report.sections == ["skipped", "run", "regimes", "primitives", "config"]


def test_rsa_from_netcdf_only(repro, tmp_path):
    rsa = tmp_path / "rsa"
    rsa.mkdir()
    shutil.copy(repro / "rsa" / "rsa.nc", rsa / "rsa.nc")
    report = build_report(rsa)
    assert "rsa" in report.sections
    section = report.html[report.html.find('<section id="rsa">') :]
    assert "noise ceiling" in section and IMAGE.search(section)


def test_unreadable_input_is_noted_and_the_rest_written(repro, tmp_path):
    copy = tmp_path / "repro"
    for part in ("rsa", "multitask"):
        shutil.copytree(repro / part, copy / part)
    shutil.copy(repro / "reproduce.json", copy)
    (copy / "rsa" / "rsa.json").write_text("{not json")
    write_netcdf(multitask_table(drop=("region_usage", "task_accuracy")),
                 copy / "multitask" / "multitask.nc")  # fmt: skip
    path = write_report(copy, out=tmp_path / "out.html")
    text = path.read_text()
    assert "RSA by epoch</strong>: could not be read" in text
    assert "multitask.nc lacks region_usage, task_accuracy" in text
    assert "<h3>Shared index vs P</h3>" in text and "<h3>Region usage per task" not in text
    assert not (copy / "report.html").exists()


def test_folder_without_inputs_is_refused(tmp_path):
    with pytest.raises(RunDirError, match="holds none of the report's inputs.*reproduce.json"):
        write_report(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_prints_path_and_sections(repro, tmp_path, capsys):
    out = tmp_path / "r.html"
    main(["report", str(repro / "analysis"), "--out", str(out)])
    stdout = capsys.readouterr().out
    assert str(out) in stdout.replace("\n", "")
    assert "sections: skipped, regimes, primitives, config" in stdout
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_cli_missing_inputs_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "holds none of the report's inputs" in err and len(err.strip().splitlines()) == 1


def test_sweep_folder_with_baselines_and_accuracy(tmp_path):
    results = task_results("test_accuracy", seed=3)
    write_netcdf(results, tmp_path / "results.nc")
    report = build_report(tmp_path)
    assert report.sections == ["skipped", "sweep", "config"]
    assert "metric test_accuracy" in report.html
    gru = results["test_accuracy"].sel(model="gru", train_fraction=1.0).isel(pwl_units=0)
    sem = float(gru.std(ddof=1)) / np.sqrt(2)
    assert "<th>gru (mean ± sem)</th>" in report.html
    assert f"{float(gru.mean()):.3g} ± {sem:.2g}" in report.html
    assert len(IMAGE.findall(report.html)) == 2  # performance vs P and vs training-set size
    assert "One train fraction" not in report.html and "No AL-RNN regions_used" in report.html


def test_primitives_grouped_by_kind_with_cycles(repro, html):
    records = json.loads((repro / "analysis" / "primitives.json").read_text())
    assert records
    for kind in {r["primitive"] for r in records}:
        rows = [r for r in records if r["primitive"] == kind]
        n = sum(bool(r["detected"]) for r in rows)
        assert f"<h3>{kind} ({n} of {len(rows)} detected)</h3>" in html
    alignment = json.loads((repro / "analysis" / "alignment.json").read_text())
    if alignment.get("cycles"):
        cycles = html[html.find("<h3>Cycles</h3>") :]
        assert cycles.count("<tr>") >= 1 + len(alignment["cycles"])


def test_claims_list_every_control_with_its_runs_and_effects(tmp_path):
    from alrnn_neuro.report.meta_sections import claims_section

    controls = {
        "untrained": {"seeds": [1, 2], "holds": [False, None], "n": 1, "n_holds": 0,
                      "false_positive_rate": 0.0, "ci_95": [0.0, 0.975]},
        "shuffled_targets": {"seeds": [3], "holds": [True], "effects": [1.25], "n": 1,
                             "n_holds": 1, "false_positive_rate": 1.0},
    }  # fmt: skip
    claims = [{"name": "task_primitives:copy", "claim": "copy primitives", "holds": True,
               "status": "uncalibrated", "false_positive_rate": 1.0, "controls": controls},
              {"name": "plain", "claim": "no controls", "holds": False}]  # fmt: skip
    path = tmp_path / "reproduce.json"
    path.write_text(json.dumps({"target": "tasks", "claims": claims}))
    html = claims_section(path).render()
    claims_table = html[: html.find("Controls, each")]
    assert "<td>uncalibrated</td><td>–</td><td>–</td><td>1</td>" in claims_table  # no interval
    controls["shuffled_targets"]["ci_95"] = [0.025, 1.0]  # the worst control's interval
    path.write_text(json.dumps({"target": "tasks", "claims": claims}))
    html = claims_section(path).render()
    assert "<td>1 [0.025, 1]</td>" in html[: html.find("Controls, each")]
    part = html[html.find("Controls, each") :]
    assert part.count("<tr>") == 1 + len(controls)  # header + one row per control
    assert "task_primitives:copy</td><td>untrained</td><td>0 / 1</td><td>0 [0, 0.975]</td>" in part
    assert "<td>shuffled_targets</td><td>1 / 1</td>" in part and "+1.25" in part
    assert "<td>1, 2</td>" in part and "plain" not in part
    path.write_text(json.dumps({"claims": claims[1:]}))
    assert "Controls, each" not in claims_section(path).render()
