"""A report never shows an analysis or RSA of a model the run no longer holds.

Refitting a run with ``--overwrite`` (or resuming it) replaces ``model.pt`` but leaves
``analysis/`` and ``rsa/`` beside it; the report must leave them out and say why.
"""

from __future__ import annotations

import json

import pytest

from alrnn_neuro.analysis import analyze_run, write_analysis
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.report import build_report
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.rundir import model_digest
from tests.conftest import entry_point

CONFIG = FitConfig(latent_dim=3, pwl_units=1, epochs=2, batch_size=16, init_bins=5)


@pytest.fixture
def run(tmp_path):
    ds = simulate_stimulus_selection(n_trials=30, n_units=5, seed=1, lfp=False)
    save_dataset(ds, tmp_path / "data.h5")
    run_dir = tmp_path / "run"
    fit(ds, CONFIG, out=run_dir, dataset_path=tmp_path / "data.h5")
    analysis = analyze_run(run_dir, n_null=9, cycle_periods=(), untrained=False)
    write_analysis(analysis, run_dir / "analysis")
    return ds, run_dir, tmp_path


def test_the_analysis_records_the_model_it_describes(run):
    _, run_dir, _ = run
    saved = json.loads((run_dir / "analysis" / "alignment.json").read_text())
    assert saved["model_digest"] == model_digest(run_dir) and len(saved["model_digest"]) == 16
    report = build_report(run_dir)
    assert "regimes" in report.sections and "primitives" in report.sections


def test_a_refitted_runs_old_analysis_is_left_out_and_named(run):
    ds, run_dir, tmp_path = run
    before = model_digest(run_dir)
    fit(ds, CONFIG.replace(pwl_units=2, seed=9), out=run_dir, overwrite=True,
        dataset_path=tmp_path / "data.h5")  # fmt: skip
    assert model_digest(run_dir) != before
    report = build_report(run_dir)
    assert "regimes" not in report.sections and "primitives" not in report.sections
    reasons = dict(report.skipped)
    assert "describes another model" in reasons["Regimes and task epochs"]
    assert f"model.pt {before[:8]}" in reasons["Regimes and task epochs"]
    assert "alrnn-neuro analyze" in reasons["Regimes and task epochs"]


def test_the_report_command_says_it_too(run):
    ds, run_dir, tmp_path = run
    fit(ds, CONFIG.replace(seed=4), out=run_dir, overwrite=True, dataset_path=tmp_path / "data.h5")
    done = entry_point("report", run_dir)
    assert done.returncode == 0, done.stderr
    html = (run_dir / "report.html").read_text()
    assert "describes another model" in html


def test_an_rsa_of_another_model_is_left_out_and_one_without_a_record_kept(run):
    from alrnn_neuro.report.discover import discover

    _, run_dir, _ = run
    rsa = run_dir / "rsa"
    rsa.mkdir()
    (rsa / "rsa.json").write_text(json.dumps({"rows": [], "model_digest": "0" * 16}))
    found = discover(run_dir)
    assert found.rsa is None and "describes another model" in found.stale["rsa"]
    assert found.analysis is not None  # its own record matches
    (rsa / "rsa.json").write_text(json.dumps({"rows": []}))  # an older RSA: no record, kept
    assert discover(run_dir).rsa == rsa
