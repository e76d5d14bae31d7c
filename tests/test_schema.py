"""validate_dataset explains each violation of the canonical data model."""

from __future__ import annotations

import numpy as np
import pytest

from alrnn_neuro.data.schema import make_dataset, observation_variable, validate_dataset
from alrnn_neuro.errors import DataValidationError


def test_valid_dataset_passes(tiny_dataset):
    assert validate_dataset(tiny_dataset) is tiny_dataset
    assert observation_variable(tiny_dataset) == "spikes"


def test_missing_required_variable_is_named(tiny_dataset):
    with pytest.raises(DataValidationError, match="required variable 'valid'"):
        validate_dataset(tiny_dataset.drop_vars("valid"))


def test_no_observation_variable(tiny_dataset):
    with pytest.raises(DataValidationError, match="exactly one of .spikes. or .signal."):
        validate_dataset(tiny_dataset.drop_vars("spikes"))


def test_misnamed_dims_are_reported(tiny_dataset):
    renamed = tiny_dataset.rename_dims({"unit": "neuron"})
    with pytest.raises(DataValidationError, match=r"'spikes' has dims .*'neuron'.*expected"):
        validate_dataset(renamed)


def test_transposed_variable_is_reported(tiny_dataset):
    ds = tiny_dataset.copy()
    ds["spikes"] = ds["spikes"].transpose("unit", "time", "trial")
    with pytest.raises(DataValidationError, match=r"transpose"):
        validate_dataset(ds)


def test_negative_counts(tiny_dataset):
    ds = tiny_dataset.copy(deep=True)
    ds["spikes"][0, 0, 0] = -3
    with pytest.raises(DataValidationError, match=r"negative counts \(min -3\)"):
        validate_dataset(ds)


def test_fractional_counts(tiny_dataset):
    ds = tiny_dataset.copy(deep=True)
    ds["spikes"] = ds["spikes"].astype(float)
    ds["spikes"][0, 0, 0] = 1.5
    with pytest.raises(DataValidationError, match=r"fractional values \(e.g. 1.5\).*'signal'"):
        validate_dataset(ds)


def test_nan_on_valid_steps(tiny_dataset):
    ds = tiny_dataset.copy(deep=True).rename({"spikes": "signal"})
    ds["signal"] = ds["signal"].astype(float)
    ds["signal"][0, 0, 0] = np.nan
    with pytest.raises(DataValidationError, match="'signal' holds NaN/inf on valid steps"):
        validate_dataset(ds)


def test_nan_on_padded_steps_is_allowed(tiny_dataset):
    ds = tiny_dataset.copy(deep=True).rename({"spikes": "signal"})
    ds["signal"] = ds["signal"].astype(float).where(ds["valid"])
    validate_dataset(ds)


def test_nan_inputs(tiny_dataset):
    ds = tiny_dataset.copy(deep=True)
    ds["inputs"][0, 0, 1] = np.nan
    with pytest.raises(DataValidationError, match="'inputs' holds NaN/inf"):
        validate_dataset(ds)


def test_empty_trials_are_named(tiny_dataset):
    ds = tiny_dataset.copy(deep=True)
    ds["valid"][2, :] = False
    with pytest.raises(DataValidationError, match=r"trials \[2\] .*no valid step"):
        validate_dataset(ds)


def test_bin_size_must_be_positive(tiny_dataset):
    ds = tiny_dataset.copy()
    ds.attrs["bin_size"] = 0.0
    with pytest.raises(DataValidationError, match=r"attrs\['bin_size'\] = 0.0"):
        validate_dataset(ds)


def test_every_violation_is_listed(tiny_dataset):
    ds = tiny_dataset.drop_vars(["epoch", "inputs"])
    del ds.attrs["align_event"]
    with pytest.raises(DataValidationError) as caught:
        validate_dataset(ds)
    message = str(caught.value)
    assert "'inputs'" in message and "'epoch'" in message and "align_event" in message


def test_make_dataset_rejects_wrong_rank():
    with pytest.raises(DataValidationError, match=r"3 dims \(trial, time, unit\)"):
        make_dataset(np.zeros((2, 3)), bin_size=0.1, align_event="go")


def test_task_dataset_is_valid_and_checked():
    targets = np.zeros((3, 4, 2), np.float32)
    valid = np.ones((3, 4), bool)
    loss_mask = np.zeros((3, 4), bool)
    loss_mask[:, -1] = True
    ds = make_dataset(
        targets,
        kind="targets",
        valid=valid,
        loss_mask=loss_mask,
        output_names=["sum", "x"],
        bin_size=1.0,
        align_event="start",
    )
    assert observation_variable(ds) == "targets" and "unit" not in ds.dims
    assert list(ds.output.values) == ["sum", "x"] and ds.attrs["task_loss"] == "mse"
    bad = ds.copy(deep=True)
    bad["valid"][0, -1] = False
    with pytest.raises(DataValidationError, match="'loss_mask' is True on padded steps"):
        validate_dataset(bad)


def test_task_loss_must_be_known():
    with pytest.raises(DataValidationError, match=r"task_loss'\] = 'hinge'"):
        make_dataset(
            np.zeros((1, 2, 1)),
            kind="targets",
            task_loss="hinge",
            bin_size=1.0,
            align_event="start",
        )
