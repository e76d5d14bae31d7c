"""An unfinished sweep names the metric it is scored by, or says that none is known yet; never
``test_loss`` for a sweep scored by bits/spike (K-fold sweeps pool folds, so a configuration
has no value until all its folds are finished)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.data.h5 import write_netcdf
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.report import build_report
from alrnn_neuro.report.sweep_sections import tasks_section
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid, collect_results, run_sweep, summarize
from alrnn_neuro.sweep.results import sweep_metric
from alrnn_neuro.training import FitConfig


@pytest.fixture(scope="module")
def fold_sweep(tmp_path_factory) -> Path:
    """A finished 2-fold spike sweep of P = 0, 1 (4 cells, 1 epoch each)."""
    ds = simulate_stimulus_selection(n_trials=40, n_units=6, lfp=False)
    out = tmp_path_factory.mktemp("partial") / "sweep"
    grid = SweepGrid(pwl_units=(0, 1), seeds=(0,), latent_dims=(3,))
    run_sweep(ds, grid, FitConfig(epochs=1, latent_dim=3), out=out, folds=2, split_seed=7)
    return out


def _interrupted(fold_sweep: Path, tmp_path: Path, keep: str) -> Path:
    """A copy of the sweep as if interrupted: no results.nc, only the cells matching
    ``keep`` finished."""
    sweep = tmp_path / "sweep"
    shutil.copytree(fold_sweep, sweep)
    (sweep / "results.nc").unlink()
    for cell in (sweep / "cells").iterdir():
        if not re.search(keep, cell.name):
            shutil.rmtree(cell)
    return sweep


def _sweep_text(html: str) -> str:
    part = html[html.find('<section id="sweep">') :]
    return part[: part.find("</section>")]


def test_a_finished_fold_sweep_records_its_metric(fold_sweep):
    results = collect_results(fold_sweep, write=False)
    assert results.attrs["metric"] == "test_bits_per_spike"
    assert bool(results["test_bits_per_spike"].notnull().all())


def test_an_unfinished_fold_sweep_names_bits_per_spike_not_test_loss(fold_sweep, tmp_path):
    """Fold 0 of every configuration finished, fold 1 of none: no pooled value yet."""
    sweep = _interrupted(fold_sweep, tmp_path, keep="fold0$")
    results = collect_results(sweep, write=False)
    assert results.attrs["metric"] == "test_bits_per_spike"
    assert "test_bits_per_spike" in results  # kept, all NaN, so the report finds it
    assert not bool(results["test_bits_per_spike"].notnull().any())
    assert "test_accuracy" not in results  # a metric the sweep does not use is dropped
    assert summarize(results).attrs["metric"] == "test_bits_per_spike"
    text = _sweep_text(build_report(sweep).html)
    assert "metric test_bits_per_spike on the held-out folds of a 2-fold" in text
    assert "No test_bits_per_spike value yet: this 2-fold sweep" in text
    assert "test_loss" not in text


def test_a_fold_sweep_without_finished_cells_says_no_metric_yet(fold_sweep, tmp_path):
    sweep = _interrupted(fold_sweep, tmp_path, keep="^$")
    results = collect_results(sweep, write=False)
    assert results.attrs["metric"] == ""  # obs="auto" on recordings: spikes or signal
    assert "test_bits_per_spike" not in results and "test_accuracy" not in results
    with pytest.raises(RunDirError, match="no cell of the sweep .* has finished"):
        summarize(results)
    assert summarize(results, metric="test_loss").attrs["metric"] == "test_loss"
    text = _sweep_text(build_report(sweep).html)
    assert "metric none yet (no cell has finished)" in text
    assert "No finished cells yet, so no metric yet" in text
    assert "test_loss" not in text


@pytest.mark.parametrize(
    "record, metric",
    [
        ({"base_config": {"obs": "poisson"}, "data": {"task": ""}}, "test_bits_per_spike"),
        ({"base_config": {"obs": "gaussian"}, "data": {"task": ""}}, "test_loss"),
        ({"base_config": {"obs": "auto"}, "data": {"task": "copy"}}, "test_accuracy"),
        ({"base_config": {"obs": "cross_entropy"}, "data": {}}, "test_accuracy"),
        ({"base_config": {"obs": "auto"}, "data": {"task": ""}}, None),
        ({}, None),
    ],
)
def test_the_metric_of_a_sweep_without_finished_cells_comes_from_its_config(record, metric):
    assert sweep_metric([], record) == metric


def test_finished_cells_decide_the_metric():
    nan = float("nan")
    spikes = {"test_bits_per_spike": 0.1, "test_accuracy": nan, "test_loss": 1.0}
    task = {"test_bits_per_spike": nan, "test_accuracy": 0.9, "test_loss": 0.3}
    signal = {"test_bits_per_spike": nan, "test_accuracy": None, "test_loss": 0.3}
    assert sweep_metric([spikes], {"base_config": {"obs": "auto"}}) == "test_bits_per_spike"
    assert sweep_metric([task], {}) == "test_accuracy"
    assert sweep_metric([signal], {}) == "test_loss"


def test_a_task_sweep_without_a_known_metric_is_listed_without_one(tmp_path):
    dims = ("model", "pwl_units", "seed", "train_fraction")
    results = xr.Dataset(
        {"test_loss": (dims, np.full((1, 2, 1, 1), np.nan))},
        coords={"model": ["alrnn"], "pwl_units": [0, 1], "seed": [0], "train_fraction": [1.0]},
        attrs={"metric": ""},
    )
    write_netcdf(results, tmp_path / "copy" / "results.nc")
    html = tasks_section({"copy": tmp_path / "copy"}).render()
    assert "<td>copy</td><td>none yet (no cell has finished)</td>" in html
    assert "test_loss" not in html
