"""``fit --resume`` with changed settings: recorded in config.json, refused where it cannot act,
and a longer patience continues a run that had stopped early."""

from __future__ import annotations

import json
import logging

import pytest

from alrnn_neuro.errors import RunDirError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, fit

BASE = FitConfig(latent_dim=3, pwl_units=1, seed=2)


@pytest.fixture(scope="module")
def ds():
    return simulate_stimulus_selection(n_trials=40, n_units=6, lfp=False)


def _record(run):
    return json.loads((run / "config.json").read_text())


def test_more_epochs_are_recorded_with_the_epoch_they_began(ds, tmp_path, caplog):
    run = tmp_path / "run"
    fit(ds, BASE.replace(epochs=3), out=run)
    assert _record(run).get("resumed") is None or _record(run)["resumed"] == []
    with caplog.at_level(logging.WARNING):
        result = fit(ds, BASE.replace(epochs=5), out=run, resume=True)
    assert result.metrics["epochs_run"] == 5
    assert _record(run)["resumed"] == [{"after_epoch": 3, "changed": {"epochs": [3, 5]}}]
    assert "differs from a fresh fit" in caplog.text
    fresh = fit(ds, BASE.replace(epochs=5))  # what config.json alone would reproduce
    assert fresh.metrics["test"]["loss"] != pytest.approx(result.metrics["test"]["loss"], 1e-9)
    fit(ds, BASE.replace(epochs=7), out=run, resume=True)  # the history grows
    assert [r["after_epoch"] for r in _record(run)["resumed"]] == [3, 5]


def test_fewer_epochs_than_trained_are_refused_and_the_run_is_left_alone(ds, tmp_path):
    run = tmp_path / "run"
    fit(ds, BASE.replace(epochs=4), out=run)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(RunDirError, match="trained 4 epochs already; fix: --epochs 4 or more"):
        fit(ds, BASE.replace(epochs=2), out=run, resume=True)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_longer_patience_continues_an_early_stopped_run_other_changes_are_refused(ds, tmp_path):
    run = tmp_path / "run"
    stopped = fit(ds, BASE.replace(epochs=60, lr=0.05, patience=1), out=run)
    assert stopped.metrics["stop_reason"] == "early_stopping"  # the premise
    trained = stopped.metrics["epochs_run"]
    with pytest.raises(RunDirError, match=r"lr 0\.05 -> 0\.01: it stopped \(early_stopping\)"):
        fit(ds, BASE.replace(epochs=60, lr=0.01, patience=1), out=run, resume=True)
    longer = fit(ds, BASE.replace(epochs=60, lr=0.05, patience=4), out=run, resume=True)
    assert longer.metrics["epochs_run"] > trained
    assert _record(run)["resumed"][-1]["changed"] == {"patience": [1, 4]}
