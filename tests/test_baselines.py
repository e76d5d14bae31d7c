"""Baseline RNNs share the AL-RNN interface; the factory validates names and sizes."""

from __future__ import annotations

import pytest
import torch

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models import ALRNN, RNNBaseline, make_model


def _cell_reference(model: RNNBaseline, inputs, h0, forcing=None):
    """Independent step loop through torch's *Cell modules with copied weights."""
    cls = {"rnn": torch.nn.RNNCell, "gru": torch.nn.GRUCell, "lstm": torch.nn.LSTMCell}
    cell = cls[model.kind](model.input_dim, model.latent_dim).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(model.rnn, f"{name}_l0"))
    h, c, outs = h0, torch.zeros_like(h0), []
    for t in range(inputs.shape[1]):
        if model.kind == "lstm":
            h, c = cell(inputs[:, t], (h, c))
        else:
            h = cell(inputs[:, t], h)
        outs.append(h)
        if forcing is not None:
            target, alpha = forcing
            h = (1 - alpha[:, t]) * h + alpha[:, t] * target[:, t]
    return torch.stack(outs, 1)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_baselines_match_cell_loops_with_and_without_forcing(kind):
    model = RNNBaseline(kind, 4, 3, seed=0).double()
    gen = torch.Generator().manual_seed(1)
    inputs = torch.randn(2, 6, 3, generator=gen, dtype=torch.float64)
    z0 = torch.randn(2, 4, generator=gen, dtype=torch.float64)
    out = model(inputs, z0=z0)
    assert out.shape == (2, 6, 4)
    assert torch.allclose(out, _cell_reference(model, inputs, z0), atol=1e-12)
    target = torch.randn(2, 6, 4, generator=gen, dtype=torch.float64)
    alpha = torch.zeros(2, 6, 1, dtype=torch.float64)
    alpha[:, 2] = 1.0
    alpha[:, 4] = 0.5
    forced = model(inputs, z0=z0, forcing=(target, alpha))
    ref = _cell_reference(model, inputs, z0, (target, alpha))
    assert torch.allclose(forced, ref, atol=1e-12)
    assert torch.allclose(forced[:, :3], out[:, :3], atol=1e-12)
    assert not torch.allclose(forced[:, 3:], out[:, 3:])


def test_baseline_seed_is_explicit_and_reproducible():
    a, b = RNNBaseline("gru", 5, 2, seed=3), RNNBaseline("gru", 5, 2, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    c = RNNBaseline("gru", 5, 2, seed=4)
    assert not torch.equal(a.rnn.weight_hh_l0, c.rnn.weight_hh_l0)
    bound = 1 / 5**0.5
    assert all(float(p.detach().abs().max()) <= bound for p in a.parameters())


def test_learned_initial_state_gets_gradient():
    model = RNNBaseline("lstm", 3, 2, seed=0, init_state="learned")
    model(torch.randn(2, 4, 2)).sum().backward()
    assert model.z0.grad is not None and float(model.z0.grad.abs().sum()) > 0


def test_make_model_builds_each_kind():
    alrnn = make_model("alrnn", 6, 2, 8, seed=0, init_state="zero")
    assert isinstance(alrnn, ALRNN) and alrnn.pwl_units == 2 and alrnn.init_state == "zero"
    for name in ("rnn", "gru", "lstm"):
        model = make_model(name, 6, 0, 8, seed=0)
        assert isinstance(model, RNNBaseline) and model.kind == name
        assert model(torch.zeros(2, 3, 8)).shape == (2, 3, 6)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("mamba", 6, 2, 8), {}, "model name='mamba' is not one of alrnn, rnn, gru, lstm"),
        (("alrnn", 6, 7, 8), {}, r"pwl_units=7 must satisfy 0 <= pwl_units <= latent_dim \(6\)"),
        (("alrnn", 0, 0, 8), {}, "latent_dim=0 must be an integer >= 1"),
        (("gru", 0, 0, 8), {}, "latent_dim=0 must be an integer >= 1"),
        (("rnn", 4, 1, 2), {"ensemble_shape": (3,)}, "ensemble_shape is only supported"),
        (("lstm", 4, 1, 2), {"init_state": "data"}, "init_state='data' is not supported"),
    ],
)
def test_make_model_rejects_bad_configs(args, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        make_model(*args, seed=0, **kwargs)


def test_baseline_shape_errors():
    model = RNNBaseline("rnn", 3, 2, seed=0)
    with pytest.raises(DataValidationError, match=r"inputs has shape \(2, 4, 3\)"):
        model(torch.zeros(2, 4, 3))
    with pytest.raises(DataValidationError, match="z0 has shape"):
        model(torch.zeros(2, 4, 2), z0=torch.zeros(5, 3))
