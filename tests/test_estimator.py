"""The scikit-learn-style ``ALRNN`` estimator: the same engine as ``fit``, sklearn's rules."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

import alrnn_neuro
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.estimator import ALRNN

SMALL = {"latent_dim": 3, "pwl_units": 1, "epochs": 3, "batch_size": 16, "init_bins": 5}


@pytest.fixture(scope="module")
def ds():
    return simulate_stimulus_selection(n_trials=60, n_units=6, seed=5, lfp=False)


@pytest.fixture(scope="module")
def fitted(ds):
    return ALRNN(**SMALL).fit(ds)


def test_top_level_names():
    code = (
        "from alrnn_neuro.analysis import analyze_run; from alrnn_neuro.analysis.rsa import "
        "run_rsa; from alrnn_neuro import FitModel, ALRNN; import alrnn_neuro.models as m; "
        "import torch; assert issubclass(m.ALRNN, torch.nn.Module); print(ALRNN.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "alrnn_neuro.training.estimator"
    assert alrnn_neuro.ALRNN is ALRNN and alrnn_neuro.FitModel.__name__ == "FitModel"


def test_hyperparameters_are_the_fit_config_fields_with_its_defaults():
    params = ALRNN().get_params()
    defaults = FitConfig().to_dict()
    assert set(params) == set(defaults) | {"output", "progress"}
    for name, value in defaults.items():
        expected = tuple(value) if isinstance(value, list) else value
        assert params[name] == expected, name
    assert ALRNN(**SMALL).fit_config() == FitConfig(**SMALL)


def test_fit_returns_self_with_learned_attributes_equal_to_fit(ds, fitted):
    assert fitted.result_.config == fitted.config_ and fitted.config_.obs == "poisson"
    assert fitted.params_.n_pwl == 1 and fitted.params_.latent_dim == 3
    reference = fit(ds, FitConfig(**SMALL))  # the same engine, the same numbers
    assert fitted.result_.metrics["test"] == reference.metrics["test"]


def test_transform_gives_the_latents_of_the_trials(ds, fitted):
    z = fitted.transform(ds)
    assert z.dims == ("trial", "time", "latent") and z.sizes["trial"] == 60
    np.testing.assert_allclose(
        z.values, fitted.result_.latents["latents"].values, rtol=1e-5, equal_nan=True
    )
    array = clone(fitted).set_params(output="numpy").fit(ds).transform(ds.isel(trial=[0, 1]))
    assert isinstance(array, np.ndarray) and array.shape == (2, ds.sizes["time"], 3)


def test_score_is_held_out_bits_per_spike(ds, fitted):
    test = ds.sel(trial=fitted.result_.split["test"])
    expected = fitted.result_.metrics["test"]["bits_per_spike"]
    assert fitted.score(test) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_clone_copies_hyperparameters_not_the_fit(fitted):
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "result_")
    with pytest.raises(NotFittedError, match=r"call \.fit\(ds\) first"):
        twin.transform(None)


def test_set_params_and_bad_values(ds):
    est = ALRNN().set_params(**{**SMALL, "pwl_units": 4})
    assert est.pwl_units == 4
    with pytest.raises(ConfigError, match=r"pwl_units=4 is invalid.*--pwl-units"):
        est.fit(ds)
    with pytest.raises(ConfigError, match="fix: pass a canonical xr.Dataset"):
        ALRNN(**SMALL).fit(np.zeros((3, 4)))


def test_a_baseline_has_no_alrnn_params(ds):
    est = ALRNN(**{**SMALL, "pwl_units": 0, "epochs": 1}, model="gru").fit(ds)
    assert est.params_ is None and est.transform(ds).sizes["latent"] == 3


def test_in_a_pipeline(ds, fitted):
    def valid_bins(z):
        values = z.values.reshape(-1, z.sizes["latent"])
        return values[np.isfinite(values).all(axis=1)]

    pipe = Pipeline(
        [("alrnn", ALRNN(**SMALL)), ("bins", FunctionTransformer(valid_bins)), ("pca", PCA(2))]
    )
    projected = pipe.fit_transform(ds)
    assert projected.shape == (int(ds["valid"].sum()), 2)
    torch.manual_seed(0)  # the estimator seeds itself; global state must not matter
    scored = make_pipeline(ALRNN(**SMALL)).fit(ds)
    test = ds.sel(trial=fitted.result_.split["test"])
    assert scored.score(test) == pytest.approx(fitted.score(test))


def test_dataclass_fields_and_init_stay_in_step():
    import inspect

    init = inspect.signature(ALRNN.__init__).parameters
    for f in dataclasses.fields(FitConfig):
        assert init[f.name].default == f.default, f.name
