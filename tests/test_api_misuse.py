"""The Python API refuses realistic misuse with an error that names it (found in a QA pass):
a path or an array where a dataset belongs, a dict where a FitConfig belongs, a dataset that
fails the data model handed to encode/score, one path where a list belongs."""

from __future__ import annotations

import numpy as np
import pytest

from alrnn_neuro.analysis.dynamics import fixed_points, region_dynamics
from alrnn_neuro.errors import ConfigError, DataValidationError, RunDirError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.sweep.grid import SweepGrid
from alrnn_neuro.sweep.replication import replicate_runs
from alrnn_neuro.training import FitConfig, fit
from alrnn_neuro.training.api import load_run


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    ds = simulate_stimulus_selection(n_trials=40, n_units=5, seed=0, lfp=False)
    out = tmp_path_factory.mktemp("api") / "run"
    result = fit(ds, FitConfig(latent_dim=3, pwl_units=1, epochs=2), out=out)
    return ds, result, out


@pytest.mark.parametrize("given", ["data.h5", "array", "dataarray"])
def test_fit_names_what_it_got_instead_of_a_dataset(fitted, given):
    ds = fitted[0]
    value = {"data.h5": "data.h5", "array": ds["spikes"].values, "dataarray": ds["spikes"]}[given]
    with pytest.raises(ConfigError, match=r"fit\(\) got a (str|ndarray|DataArray).*xr.Dataset"):
        fit(value, FitConfig(epochs=1))


def test_fit_refuses_a_dict_config(fitted):
    with pytest.raises(ConfigError, match=r"config as a dict; fix: FitConfig"):
        fit(fitted[0], {"epochs": 1})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop_vars("inputs"), r"required variable 'inputs'"),
        (lambda t: t.drop_vars("valid"), r"required variable 'valid'"),
        (lambda t: t.isel(trial=slice(0, 0)), r"0 trials"),
        (lambda t: t.transpose("unit", "time", "trial", ...), r"transpose"),
        (lambda t: t.assign(spikes=t["spikes"] + 0.5), r"fractional"),
        (lambda t: t.assign(spikes=t["spikes"] - 1), r"negative counts"),
    ],
)
@pytest.mark.parametrize("method", ["encode", "score"])
def test_encode_and_score_check_the_data_model(fitted, change, message, method):
    ds, result, _ = fitted
    trials = ds.sel(trial=np.asarray(result.split["test"]))
    with pytest.raises(DataValidationError, match=message):
        getattr(result, method)(change(trials))


def test_encode_names_the_unit_count_and_the_first_differing_unit(fitted):
    ds, result, _ = fitted
    fewer = ds.isel(unit=slice(0, 4))
    with pytest.raises(DataValidationError, match=r"has 4 units, the fit 5, .* from position 4"):
        result.encode(fewer)
    with pytest.raises(ConfigError, match=r"encode\(\) got a str"):
        result.encode("data.h5")


def test_load_run_on_a_file_names_the_folder(fitted):
    out = fitted[2]
    with pytest.raises(RunDirError, match=r"is a file, not a run directory.*perhaps"):
        load_run(out / "metrics.json")


def test_replicate_runs_refuses_one_path(fitted):
    with pytest.raises(RunDirError, match=r"is one path; replication needs a list"):
        replicate_runs(str(fitted[2]))


@pytest.mark.parametrize("field", ["seeds", "pwl_units", "models"])
def test_sweep_grid_refuses_a_single_value(field):
    value = "gru" if field == "models" else 3
    with pytest.raises(ConfigError, match=rf"{field}=.* is one value, not a list"):
        SweepGrid(**{field: value})


@pytest.mark.parametrize("function", [fixed_points, region_dynamics])
def test_dynamics_take_params_and_say_so_for_a_fit_result(fitted, function):
    result = fitted[1]
    with pytest.raises(ConfigError, match=r"got a FitResult, not the model's ALRNNParams.*"
                       r"result.params"):  # fmt: skip
        function(result)
    assert function(result.params).sizes["region"] == 2  # P = 1: two regions


def test_init_bins_refusal_suggests_only_what_can_work(fitted):
    """With a 1-bin trial no --init-bins is small enough: only --init-state learned is
    suggested (the message used to propose the rejected value, 1)."""
    from alrnn_neuro.training.resolve import resolve_config

    ds = fitted[0].copy(deep=True)
    valid = ds["valid"].values
    valid[0] = False
    valid[0, 0] = True
    ds["valid"].values = valid
    with pytest.raises(ConfigError) as error:
        resolve_config(FitConfig(init_bins=1), ds)
    assert "(1 valid bins); fix: --init-state learned" in str(error.value)
    assert "smaller --init-bins" not in str(error.value)
    valid[0, :9] = True  # 9 valid bins: a smaller init_bins (3) would work
    ds["valid"].values = valid
    with pytest.raises(ConfigError, match=r"a smaller --init-bins \(e.g. 3"):
        resolve_config(FitConfig(init_bins=9), ds)


def test_a_split_that_leaves_no_test_trials_is_warned(fitted, caplog):
    """Strata too small for a test share: the test metrics would be NaN without a word;
    stratified by the rule alone, the same 12 trials keep 2 test trials and nothing is warned."""
    few = fitted[0].isel(trial=slice(0, 12))
    small = FitConfig(latent_dim=3, pwl_units=1, epochs=1)
    with caplog.at_level("WARNING", logger="alrnn_neuro.training.session"):
        result = fit(few, small.replace(conditions=("rule", "location", "pitch")))
    assert len(result.split["test"]) == 0
    assert "leaves no test trials out of 12 (stratified by ['rule', 'location', 'pitch']" in (
        caplog.text
    )
    caplog.clear()
    with caplog.at_level("WARNING", logger="alrnn_neuro.training.session"):
        result = fit(few, small.replace(conditions=("rule",)))
    assert len(result.split["test"]) == 2 and "leaves no test trials" not in caplog.text
