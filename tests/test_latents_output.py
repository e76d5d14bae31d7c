"""Latents datasets: one shared frame gives each model exactly its own latents dataset."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, FitModel
from alrnn_neuro.training.evaluate import predict_all
from alrnn_neuro.training.latents_output import LatentsFrame, latents_dataset
from alrnn_neuro.training.session import prepare_session


@pytest.fixture(scope="module")
def session():
    ds = simulate_stimulus_selection(n_trials=24, n_units=5, seed=1, lfp=False)
    return prepare_session(ds, FitConfig(latent_dim=4, pwl_units=2))


def predictions(session, latent_dim: int, pwl_units: int, seed: int) -> dict:
    config = session.config.replace(latent_dim=latent_dim, pwl_units=pwl_units, seed=seed)
    return predict_all(FitModel(config, session.n_units, 0, session.unit_mean), session.tensors)


def test_one_frame_builds_each_models_own_latents_dataset(session):
    frame = LatentsFrame(session.ds, session.tensors, session.split)
    models = [(4, 2, 0), (4, 0, 1), (6, 3, 2)]  # another seed, P = 0, another M
    built = []
    for m, p, seed in models:
        predicted = predictions(session, m, p, seed)
        alone = latents_dataset(session.ds, session.tensors, predicted, session.split)
        from_frame = frame.build(predicted)
        xr.testing.assert_identical(from_frame, alone)
        assert list(from_frame.coords) == list(alone.coords)
        assert from_frame.sizes["latent"] == m and from_frame.attrs["n_pwl"] == p
        built.append(from_frame)
    # the frame keeps no model's arrays: the first dataset is still the first model's
    assert not np.allclose(built[0]["latents"], built[1]["latents"], equal_nan=True)
    first = latents_dataset(
        session.ds, session.tensors, predictions(session, 4, 2, 0), session.split
    )
    xr.testing.assert_identical(built[0], first)


def test_latents_dataset_puts_predictions_back_on_the_time_axis(session):
    predicted = predictions(session, 4, 2, 0)
    out = latents_dataset(session.ds, session.tensors, predicted, session.split)
    valid = session.ds["valid"].values.astype(bool)
    assert np.isnan(out["latents"].values[~valid]).all()
    assert np.isfinite(out["latents"].values[valid]).all()
    assert (out["bitcode"].values[~valid] == -1).all()
    # each trial's first valid bin holds the model's first left-justified step
    for i in range(valid.shape[0]):
        first = int(np.flatnonzero(valid[i])[0])
        np.testing.assert_array_equal(
            out["latents"].values[i, first], predicted["latents"][i, 0].astype(np.float32)
        )
    labels = set(out["split"].values.tolist())
    assert labels == set(session.split)
