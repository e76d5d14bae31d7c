"""Ensemble trainer: K AL-RNNs trained together equal K single fits (float64, 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, FitModel, fit, load_run, member_scoring
from alrnn_neuro.training.checkpoint import TrainState
from alrnn_neuro.training.ensemble import fit_ensemble
from alrnn_neuro.training.loop import make_optimizer, train
from alrnn_neuro.training.network import clip_members
from alrnn_neuro.training.session import prepare_session
from tests.conftest import max_param_diff

#: float64 parameters of an ensemble member vs its single fit (rounding only: batched vs
#: unbatched matmuls; observed differences are ~1e-16)
PARAM_TOL = 1e-10
SMALL = dict(latent_dim=4, epochs=4, batch_size=8, init_bins=5, patience=0)


@pytest.fixture(scope="module")
def sim():
    return simulate_stimulus_selection(n_trials=36, n_units=6, seed=3, lfp=False)


def reference_fit(ds, config: FitConfig, pwl_units: int, seed: int) -> FitModel:
    """The single-model loop with init seed ``seed`` and data seed ``config.seed``."""
    session = prepare_session(ds, config)
    member_cfg = session.config.replace(pwl_units=pwl_units, seed=seed)
    net = FitModel.for_session(session, member_cfg)
    optimizer = make_optimizer(net, session.config)
    state = TrainState.start(config.seed)
    train(net, optimizer, session.tensors, session.positions, session.config, state)
    return net, state


def test_ensemble_equals_single_fits_with_forcing_mar_and_choice_head(sim, float64):
    cfg = FitConfig(**SMALL, tf_interval=4, mar=0.05, behaviour=True, seed=2)
    results = fit_ensemble(sim, cfg, pwl_units=[0, 1, 2], seeds=[2, 2, 2])
    for p, result in zip([0, 1, 2], results, strict=True):
        single = fit(sim, cfg.replace(pwl_units=p))
        assert result.model.dynamics.pwl_units == p
        assert max_param_diff(result.model, single.model) < PARAM_TOL
        np.testing.assert_allclose(
            result.history["val_loss"].values, single.history["val_loss"].values, rtol=1e-12
        )
        assert result.metrics["best_epoch"] == single.metrics["best_epoch"]
        for split in ("train", "val", "test"):
            assert result.metrics[split]["loss"] == pytest.approx(single.metrics[split]["loss"])


def test_members_with_own_seeds_equal_the_single_loop_with_that_init(sim, float64):
    cfg = FitConfig(**SMALL, obs="gaussian", init_state="learned", seed=0)
    pwl, seeds = [1, 3], [5, 9]
    ds = sim.assign(signal=sim["spikes"].astype(float)).drop_vars("spikes")
    results = fit_ensemble(ds, cfg, pwl_units=pwl, seeds=seeds)
    nets = [reference_fit(ds, cfg, p, s)[0] for p, s in zip(pwl, seeds, strict=True)]
    for result, net in zip(results, nets, strict=True):
        assert max_param_diff(result.model, net) < PARAM_TOL
    # the seeds really differ: the two members did not start (or end) alike
    assert not torch.allclose(results[0].model.readout.weight, results[1].model.readout.weight)


@pytest.mark.parametrize("obs", ["poisson", "gaussian"])
def test_batched_scoring_equals_each_members_own_finish(sim, float64, monkeypatch, obs):
    """Members are scored in stacks (here of 2, so 3 members need two) with the data-only
    parts of the metrics shared: every metric, latent and prediction equals the single fit's."""
    monkeypatch.setattr(member_scoring, "GROUP_BYTES", 2)  # two members per stack
    monkeypatch.setattr(member_scoring, "_bytes_per_member", lambda *_: 1)
    ds = sim if obs == "poisson" else sim.assign(signal=sim["spikes"] * 1.0).drop_vars("spikes")
    cfg = FitConfig(**{**SMALL, "epochs": 2}, behaviour=obs == "poisson", seed=1)
    results = fit_ensemble(ds, cfg, pwl_units=[0, 1, 3], seeds=[1, 1, 1])
    for p, result in zip([0, 1, 3], results, strict=True):
        single = fit(ds, cfg.replace(pwl_units=p))
        for split in ("train", "val", "test"):
            got, want = result.metrics[split], single.metrics[split]
            assert got.keys() == want.keys()
            for key, value in want.items():
                assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), key
        for name in ("latents", "prediction", "bitcode", "valid"):
            np.testing.assert_allclose(result.latents[name], single.latents[name], atol=1e-6)
        np.testing.assert_allclose(result.model.residual_std, single.model.residual_std)


def test_single_member_ensemble_equals_fit(sim, float64):
    cfg = FitConfig(**SMALL, pwl_units=2, seed=4)
    (result,) = fit_ensemble(sim, cfg, pwl_units=[2], seeds=[4])
    single = fit(sim, cfg)
    assert max_param_diff(result.model, single.model) < PARAM_TOL
    assert result.metrics["stop_reason"] == single.metrics["stop_reason"] == "max_epochs"


def test_early_stopped_member_is_frozen_and_keeps_its_best_state(sim, float64):
    cfg = FitConfig(**{**SMALL, "epochs": 8, "patience": 2}, lr=0.3, seed=1)
    session = prepare_session(sim, cfg)
    pwl, seeds = [0, 4, 2], [1, 1, 1]
    nets = [
        FitModel(session.config.replace(pwl_units=p, seed=s), session.n_units, 0, session.unit_mean)
        for p, s in zip(pwl, seeds, strict=True)
    ]
    model = FitModel.stack(nets)
    optimizer = make_optimizer(model, session.config)
    states = [TrainState.start(s) for s in seeds]
    seen: list[list[dict]] = []

    def remember(info):
        seen.append([model.member_state(k) for k in range(3)])

    train(
        model,
        optimizer,
        session.tensors,
        session.positions,
        session.config,
        TrainState.start(cfg.seed),
        states,
        divergence="freeze",
        callback=remember,
    )
    stops = [s.epoch for s in states]
    early = [k for k, s in enumerate(states) if s.stop_reason == "early_stopping"]
    assert early and min(stops) < max(stops), f"need a member stopping first, got {stops}"
    for k in early:  # after its stop, not one parameter of member k moved
        after = [snaps[k] for snaps in seen[stops[k] - 1 :]]
        for snap in after[1:]:
            assert all(torch.equal(snap[name], after[0][name]) for name in snap)
    for k, (p, s) in enumerate(zip(pwl, seeds, strict=True)):
        net, single = reference_fit(sim, cfg, p, s)
        assert states[k].stop_reason == single.stop_reason
        assert states[k].best_epoch == single.best_epoch
        nets[k].load_state_dict(states[k].best_model)
        assert max_param_diff(nets[k], net) < PARAM_TOL


def test_diverging_member_is_frozen_without_touching_the_others(sim, float64):
    cfg = FitConfig(**SMALL, seed=0)
    session = prepare_session(sim, cfg)
    pwl = [1, 2, 3]
    nets = [
        FitModel(session.config.replace(pwl_units=p), session.n_units, 0, session.unit_mean)
        for p in pwl
    ]
    model = FitModel.stack(nets)
    with torch.no_grad():
        model.dynamics.W[1] = float("inf")  # member 1 blows up in the first batch
    states = [TrainState.start(0) for _ in pwl]
    optimizer = make_optimizer(model, session.config)
    args = (session.tensors, session.positions, session.config, TrainState.start(0), states)
    train(model, optimizer, *args, divergence="freeze")
    assert [s.stop_reason for s in states] == ["max_epochs", "diverged", "max_epochs"]
    assert torch.isinf(model.dynamics.W[1]).all()  # frozen where it was, not updated
    for k in (0, 2):
        net, _ = reference_fit(sim, cfg, pwl[k], 0)
        nets[k].load_state_dict(states[k].best_model)
        assert max_param_diff(nets[k], net) < PARAM_TOL


def test_clipping_is_per_member():
    torch.manual_seed(0)
    shapes = [(3, 4), (3, 4, 5)]
    params = [torch.zeros(s, requires_grad=True) for s in shapes]
    grads = [torch.randn(s) for s in shapes]
    grads[0][1] *= 100.0  # member 1 has a huge gradient
    grads[1][1] *= 100.0
    grads[0][0] *= 0.01  # member 0 is well under the limit
    grads[1][0] *= 0.01
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    norms = clip_members(params, 1.0)
    for k in range(3):  # independent reference: torch's clipping on member k alone
        own = [torch.zeros(s[1:], requires_grad=True) for s in shapes]
        for o, g in zip(own, grads, strict=True):
            o.grad = g[k].clone()
        ref = torch.nn.utils.clip_grad_norm_(own, 1.0)
        assert float(norms[k]) == pytest.approx(float(ref), rel=1e-6)
        for p, o in zip(params, own, strict=True):
            torch.testing.assert_close(p.grad[k], o.grad)
    # member 0 was under the limit: a global norm would have shrunk it, per-member does not
    assert float(norms[0]) < 1.0
    torch.testing.assert_close(params[0].grad[0], grads[0][0])


def test_run_dirs_per_member_load_back(sim, tmp_path):
    cfg = FitConfig(**{**SMALL, "epochs": 2})
    results = fit_ensemble(sim, cfg, pwl_units=[0, 2], seeds=[0, 3], out=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["member-P0-seed0", "member-P2-seed3"]
    loaded = load_run(tmp_path / "member-P2-seed3")
    assert loaded.config.pwl_units == 2 and loaded.config.seed == 3
    for name, value in results[1].model.state_dict().items():
        assert torch.equal(value, loaded.model.state_dict()[name])
    with pytest.raises(RunDirError, match="already holds this finished run"):
        fit_ensemble(sim, cfg, pwl_units=[0, 2], seeds=[0, 3], out=tmp_path)


def test_mismatched_member_lists_are_rejected(sim):
    with pytest.raises(ConfigError, match="pwl_units has 2 entries and seeds 1"):
        fit_ensemble(sim, FitConfig(**SMALL), pwl_units=[0, 1], seeds=[0])


def test_pwl_units_above_latent_dim_are_rejected(sim):
    with pytest.raises(ConfigError, match=r"pwl_units holds \[5\] > latent_dim=4"):
        fit_ensemble(sim, FitConfig(**SMALL), pwl_units=[0, 5], seeds=[0, 0])


def test_baseline_models_are_rejected(sim):
    with pytest.raises(ConfigError, match="model='gru'.*AL-RNNs only"):
        fit_ensemble(sim, FitConfig(**SMALL, model="gru"), pwl_units=[0], seeds=[0])


@pytest.mark.parametrize("kind", ["adam", "radam"])
def test_one_optimizer_over_stacked_members_equals_one_per_member(kind, float64):
    """The ensemble steps one Adam/RAdam over (member, ...) parameters: elementwise maths and
    one shared step counter make that K independent optimisers (checked to 1e-15)."""
    gen = torch.Generator().manual_seed(0)
    shapes, k, steps = [(4,), (4, 3)], 3, 6
    stacked = [torch.randn(k, *s, generator=gen).requires_grad_(True) for s in shapes]
    alone = [[p[i].detach().clone().requires_grad_(True) for p in stacked] for i in range(k)]
    cfg = FitConfig(optimizer=kind, lr=0.05, weight_decay=0.01)
    opt = make_optimizer(torch.nn.ParameterList(stacked), cfg)
    opts = [make_optimizer(torch.nn.ParameterList(ps), cfg) for ps in alone]
    for _ in range(steps):
        grads = [torch.randn(k, *s, generator=gen) for s in shapes]
        for p, g in zip(stacked, grads, strict=True):
            p.grad = g.clone()
        clip_members(stacked, 1.0)
        opt.step()
        for i in range(k):
            for p, g in zip(alone[i], grads, strict=True):
                p.grad = g[i].clone()
            torch.nn.utils.clip_grad_norm_(alone[i], 1.0)
            opts[i].step()
    for i in range(k):
        for p, q in zip(stacked, alone[i], strict=True):
            torch.testing.assert_close(p[i].detach(), q.detach(), rtol=0, atol=1e-15)
