"""Runs and sweeps are tied to the trial labels they were fitted with: the same recordings with
shuffled labels (rule, choice, epoch, ...) are refused; labels added since are fine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alrnn_neuro.analysis.files import check_fitted_dataset
from alrnn_neuro.errors import DataValidationError, RunDirError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.training import FitConfig, fit
from alrnn_neuro.training.fingerprint import changed_labels, dataset_fingerprint

CONFIG = FitConfig(latent_dim=3, pwl_units=1, epochs=2)


@pytest.fixture(scope="module")
def ds():
    return simulate_stimulus_selection(n_trials=40, n_units=6, lfp=False)


def shuffled(ds, name="choice"):
    values = ds[name].values.copy()
    np.random.default_rng(0).shuffle(values)
    assert not np.array_equal(values, ds[name].values)
    return ds.assign_coords({name: ("trial", values)})


def test_shuffled_labels_keep_the_dataset_fingerprint_but_not_the_labels(ds, tmp_path):
    other = shuffled(ds)
    assert dataset_fingerprint(other) == dataset_fingerprint(ds)  # why labels need their own
    fit(ds, CONFIG, out=tmp_path / "run")
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    recorded = record["data"]["label_fingerprints"]
    assert changed_labels(recorded, other) == ["choice"]
    epochs = ds.assign(epoch=ds["epoch"].where(ds["epoch"] != "hold", "iti"))
    assert changed_labels(recorded, epochs) == ["epoch"]
    added = ds.assign_coords(speed=("trial", np.arange(ds.sizes["trial"]) * 0.5))
    assert changed_labels(recorded, added) == [] and changed_labels(None, other) == []


def test_resume_and_analyses_refuse_a_relabelled_dataset(ds, tmp_path):
    run = tmp_path / "run"
    fit(ds, CONFIG, out=run)
    with pytest.raises(RunDirError, match=r"trial labels.*other values of \['choice'\]"):
        fit(shuffled(ds), CONFIG.replace(epochs=4), out=run, resume=True)
    with pytest.raises(DataValidationError, match=r"its labels \['location'\] have other values"):
        check_fitted_dataset(run, shuffled(ds, "location"), "relabelled.h5")
    added = ds.assign_coords(speed=("trial", np.arange(ds.sizes["trial"]) * 0.5))
    check_fitted_dataset(run, added, "with a new label.h5")  # no error


def test_a_sweep_cell_is_checked_on_its_own_trials_and_a_resumed_sweep_on_its_labels(ds, tmp_path):
    grid = SweepGrid(pwl_units=(0, 1), seeds=(0,), latent_dims=(3,))
    out = tmp_path / "sweep"
    run_sweep(ds, grid, CONFIG, out=out)
    cell = next((out / "cells").iterdir())
    check_fitted_dataset(cell, ds, "swept.h5")  # the cell holds a subset: it passes
    with pytest.raises(DataValidationError, match=r"labels \['choice'\]"):
        check_fitted_dataset(cell, shuffled(ds), "relabelled.h5")
    with pytest.raises(RunDirError, match=r"labels \['choice'\] had other values"):
        run_sweep(shuffled(ds), grid, CONFIG, out=out)
