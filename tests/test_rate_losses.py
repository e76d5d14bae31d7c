"""Split losses read from a fit's predicted rates equal a second free-running pass."""

from __future__ import annotations

import numpy as np
import pytest

from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, FitModel, evaluate, member_scoring, rate_losses
from alrnn_neuro.training.evaluate import predict_all
from alrnn_neuro.training.loop import evaluate_members
from alrnn_neuro.training.member_scoring import predict_members
from alrnn_neuro.training.session import prepare_session

CFG = dict(latent_dim=4, pwl_units=2, init_bins=5, patience=0)


@pytest.fixture(scope="module")
def session():
    """Ragged trials (44-58 valid steps) and units missing from some trials."""
    ds = simulate_stimulus_selection(n_trials=40, n_units=6, seed=3, lfp=False)
    observed = ds["observed"].values.copy()
    observed[::3, 1] = observed[1::4, 4] = False
    ds["observed"] = (ds["observed"].dims, observed)
    return prepare_session(ds, FitConfig(**CFG))


def _net(session, seed=0, **changes):
    config = session.config.replace(seed=seed, **changes)
    return FitModel(config, session.n_units, len(session.classes), session.unit_mean)


def _second_pass(model, session):
    return {n: evaluate_members(model, session.tensors, i) for n, i in session.positions.items()}


@pytest.mark.parametrize("chunk", [256, 7])  # 7: several chunks per split, weighted by trials
def test_single_fit_losses_from_rates_equal_a_second_pass(session, monkeypatch, chunk):
    monkeypatch.setattr(rate_losses, "CHUNK", chunk)
    monkeypatch.setattr("alrnn_neuro.training.loop.evaluate_members.__defaults__", (chunk,))
    net = _net(session)
    assert rate_losses.applies(net)
    prediction = predict_all(net, session.tensors)["prediction"]
    got = rate_losses.RateLosses(session.tensors, session.positions).losses(prediction)
    want = _second_pass(net, session)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == pytest.approx(float(want[name][0]), rel=1e-6), name


def test_ensemble_losses_from_time_major_member_slices_equal_a_second_pass(session):
    stack = FitModel.stack([_net(session, seed=s) for s in range(3)])
    predicted = predict_members(stack, session.tensors)
    assert not predicted[1]["prediction"].flags.c_contiguous  # a view of the stacked forward
    losses = rate_losses.RateLosses(session.tensors, session.positions)
    got = [losses.losses(member["prediction"]) for member in predicted]
    want = _second_pass(stack, session)
    for name, values in want.items():
        np.testing.assert_allclose([g[name] for g in got], values, rtol=1e-6)
    assert len({g["train"] for g in got}) == 3  # the members differ


def test_a_nan_rate_on_a_scored_entry_makes_that_split_nan(session):
    net = _net(session)
    prediction = predict_all(net, session.tensors)["prediction"].copy()
    trial = int(session.positions["val"][0])
    step = int(np.flatnonzero(session.tensors.loss_mask[trial].numpy())[0])
    unit = int(np.flatnonzero(session.tensors.observed[trial].numpy())[0])
    prediction[trial, step, unit] = np.nan
    got = rate_losses.RateLosses(session.tensors, session.positions).losses(prediction)
    assert np.isnan(got["val"]) and np.isfinite(got["train"]) and np.isfinite(got["test"])


def test_predictions_of_another_shape_are_refused(session):
    losses = rate_losses.RateLosses(session.tensors, session.positions)
    with pytest.raises(ValueError, match="predictions of shape"):
        losses.losses(np.zeros((3, 4, 5), np.float32))


def test_float64_fits_keep_the_second_pass(session, float64, monkeypatch):
    assert not rate_losses.applies(_net(session))  # float64 parameters
    monkeypatch.setattr(rate_losses.RateLosses, "losses", _refuse)
    net = _net(session)
    predicted = predict_all(net, session.tensors)
    metrics = evaluate.compute_metrics(net, session.ds, session.tensors, predicted,
                                       session.positions)  # fmt: skip
    assert metrics["val"]["loss"] == pytest.approx(float(_second_pass(net, session)["val"][0]))


def test_a_choice_head_is_not_read_from_rates():
    ds = simulate_stimulus_selection(n_trials=24, n_units=5, seed=1, lfp=False)
    session = prepare_session(ds, FitConfig(**CFG, behaviour=True))
    assert _net(session).head is not None
    assert not rate_losses.applies(_net(session))


def test_finishing_an_ensemble_reads_the_losses_from_rates(session, monkeypatch):
    calls = []
    real = rate_losses.RateLosses.losses
    monkeypatch.setattr(rate_losses.RateLosses, "losses",
                        lambda self, p: calls.append(1) or real(self, p))  # fmt: skip
    monkeypatch.setattr(member_scoring, "evaluate_members", _refuse)
    stack = FitModel.stack([_net(session, seed=s) for s in range(2)])
    predicted = predict_members(stack, session.tensors)
    losses = rate_losses.RateLosses(session.tensors, session.positions)
    got = member_scoring._split_losses(stack, session, predicted, losses)
    assert len(calls) == 2 and set(got) == set(session.positions)


def _refuse(*args, **kwargs):
    raise AssertionError("must not be called here")
