"""Training the AL-RNN study's way: A placement and initialisation, the study's MAR, presets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models import ALRNN
from alrnn_neuro.models.params import ALRNNParams
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.simulate.tasks import STUDY_PRESETS, make_task
from alrnn_neuro.training import FitConfig, FitModel, fit, load_run
from alrnn_neuro.training.ensemble import fit_ensemble
from alrnn_neuro.training.regularizers import mar_member_penalty, mar_penalty
from alrnn_neuro.training.session import prepare_session
from alrnn_neuro.training.study import study_dataset, study_fit_config, study_trial_counts
from tests.conftest import max_param_diff

PARAM_TOL = 1e-10  # float64 ensemble member vs its single fit (as in test_ensemble.py)
SMALL = dict(latent_dim=5, pwl_units=2, epochs=3, batch_size=8, init_bins=5, patience=0)
PWL = dict(a_placement="pwl", a_init=(0.9, 0.1), mar=0.1, mar_units=4, mar_definition="study")


@pytest.fixture(scope="module")
def sim():
    return simulate_stimulus_selection(n_trials=36, n_units=6, seed=3, lfp=False)


@pytest.fixture(scope="module")
def copy_ds():
    return make_task("copy", n_trials=40, seed=0, variant="study", seq_len=3, delay=5)


# ---------------------------------------------------------------- A placement and init
def test_pwl_placement_keeps_linear_A_at_exactly_zero_and_trains_rectified_A(copy_ds):
    cfg = FitConfig(**SMALL, **PWL, lr=0.01)
    session = prepare_session(copy_ds, cfg)
    start = FitModel(session.config, session.n_units).dynamics.A.detach().clone()
    result = fit(copy_ds, cfg)
    a = result.model.dynamics.A.detach()
    assert torch.equal(a[:3], torch.zeros(3))  # linear units: never left 0
    assert torch.equal(start[:3], torch.zeros(3))
    assert bool((a[3:] != start[3:]).all())  # rectified units: trained
    np.testing.assert_array_equal(result.params.A[:3], 0.0)
    np.testing.assert_allclose(result.params.A[3:], a[3:].double().numpy())


def test_pwl_placement_with_p_zero_has_no_A_at_all():
    model = ALRNN(4, 0, 2, seed=0, a_placement="pwl")
    assert torch.equal(model.A.detach(), torch.zeros(4))
    z, s = torch.randn(3, 4), torch.randn(3, 2)
    expected = z @ model.W.mT + s @ model.C.mT + model.h  # self-coupling = W_ii only
    assert torch.allclose(model.step(z, s), expected)
    np.testing.assert_array_equal(model.params().A, np.zeros(4))


def test_linear_units_self_coupling_is_w_ii_under_pwl_placement():
    model = ALRNN(3, 1, 0, seed=1, a_placement="pwl").double()
    with torch.no_grad():
        model.A.fill_(0.5)  # even a raw A set on linear units is masked out
    jac = model.jacobian(torch.ones(1, 3, dtype=torch.float64))[0].detach()
    w = model.W.detach()
    assert torch.allclose(jac.diagonal(), w.diagonal() + torch.tensor([0.0, 0.0, 0.5]).double())
    params = ALRNNParams.from_model(model)
    np.testing.assert_array_equal(params.A, [0.0, 0.0, 0.5])
    np.testing.assert_allclose(params.region_jacobians([1])[0], jac.numpy())


@pytest.mark.parametrize("ens", [(), (3,)])
def test_fast_and_plain_engines_agree_with_the_a_mask(ens):
    pwl = 2 if not ens else [0, 2, 5]
    model = ALRNN(5, pwl, 3, seed=0, ensemble_shape=ens, a_placement="pwl", a_init=(0.9, 0.1))
    model = model.double()
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        model.W.copy_(0.4 * torch.randn(model.W.shape, generator=gen, dtype=torch.float64))
        model.h.copy_(0.3 * torch.randn(model.h.shape, generator=gen, dtype=torch.float64))
    inputs = torch.randn(4, 12, 3, generator=gen, dtype=torch.float64)
    grads = {}
    for engine in ("fast", "plain"):
        latents = model(inputs, engine=engine)
        loss = (latents**2).sum() + latents.sum()
        params = [model.A, model.W, model.C, model.h, model.z0]
        grads[engine] = (latents.detach(), *torch.autograd.grad(loss, params))
    for fast, plain in zip(grads["fast"], grads["plain"], strict=True):
        assert torch.allclose(fast, plain, rtol=1e-10, atol=1e-10)
    g_a = grads["fast"][1]
    assert torch.equal(g_a * (1 - model.a_mask), torch.zeros_like(g_a))  # masked: no gradient
    assert float((g_a * model.a_mask).abs().sum()) > 0


@pytest.mark.parametrize("a_placement", ["all", "pwl"])
def test_ensemble_member_equals_its_single_fit_with_study_options(sim, float64, a_placement):
    cfg = FitConfig(**SMALL, **{**PWL, "a_placement": a_placement}, keep_epoch="last", seed=2)
    results = fit_ensemble(sim, cfg, pwl_units=[0, 2, 5], seeds=[2, 2, 2])
    for p, result in zip([0, 2, 5], results, strict=True):
        single = fit(sim, cfg.replace(pwl_units=p))
        assert max_param_diff(result.model, single.model) < PARAM_TOL
        # rounding-level only: the data-inferred z0 of a stacked readout differs from a
        # single one's by ~4e-15 (batched pseudo-inverse), so A need not match bitwise
        np.testing.assert_allclose(result.params.A, single.params.A, rtol=0, atol=PARAM_TOL)
        if a_placement == "pwl":
            np.testing.assert_array_equal(result.params.A[: 5 - p], 0.0)
        assert result.metrics["best_epoch"] == single.metrics["best_epoch"] == 3


def test_a_init_normal_has_the_requested_mean_and_sd():
    model = ALRNN(2000, 1000, 0, seed=0, a_placement="pwl", a_init=(0.9, 0.1))
    a = model.A.detach().double()
    assert torch.equal(a[:1000], torch.zeros(1000, dtype=torch.float64))
    assert float(a[1000:].mean()) == pytest.approx(0.9, abs=0.01)
    assert float(a[1000:].std()) == pytest.approx(0.1, rel=0.08)
    small = ALRNN(2000, 2000, 0, seed=0, a_init=(0.0, 0.01)).A.detach().double()
    assert float(small.mean()) == pytest.approx(0.0, abs=0.002)
    assert float(small.std()) == pytest.approx(0.01, rel=0.08)
    default = ALRNN(50, 10, 0, seed=0).A.detach()
    assert bool(((default > 0) & (default <= 1)).all())  # () keeps the PD-diagonal init


def test_saved_pwl_run_loads_back_with_zero_A_on_linear_units(copy_ds, tmp_path):
    cfg = FitConfig(**SMALL, **PWL)
    result = fit(copy_ds, cfg, out=tmp_path / "run")
    loaded = load_run(tmp_path / "run")
    assert loaded.config.a_placement == "pwl" and loaded.config.a_init == (0.9, 0.1)
    assert loaded.config.mar_definition == "study"
    np.testing.assert_array_equal(loaded.params.A, result.params.A)
    np.testing.assert_array_equal(loaded.params.A[:3], 0.0)
    assert torch.equal(loaded.model.dynamics.a_mask, torch.tensor([0.0, 0, 0, 1, 1]))


def test_old_run_without_the_new_fields_loads_and_resumes_with_defaults(sim, tmp_path):
    run = tmp_path / "old"
    cfg = FitConfig(**{**SMALL, "epochs": 1})
    fit(sim, cfg, out=run)
    record = json.loads((run / "config.json").read_text())
    new = ("a_placement", "a_init", "mar_definition", "keep_epoch", "fresh_trials")
    for key in new:
        del record["config"][key]
    (run / "config.json").write_text(json.dumps(record))
    loaded = load_run(run)
    assert (loaded.config.a_placement, loaded.config.a_init) == ("all", ())
    again = fit(sim, cfg, out=run, resume=True)  # same run: found finished, not "another config"
    assert again.metrics["run_id"] == loaded.metrics["run_id"]


# ---------------------------------------------------------------- the study's MAR
W3 = torch.tensor([[0.5, 0.2, -0.1], [0.3, 0.8, 0.4], [-0.2, 0.1, 0.6]], dtype=torch.float64)
A3 = torch.tensor([0.7, 0.9, 0.3], dtype=torch.float64)
H3 = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)


@pytest.mark.parametrize(
    "a_placement, expected",
    [
        # pwl (P = 1): a_eff = W_ii on units 0, 1, W_22 + A_2 on unit 2, all three regularised
        #   unit 0: (0.5 - 1)^2 + 0.2^2 + 0.1^2 + 0.1^2 = 0.25 + 0.04 + 0.01 + 0.01 = 0.31
        #   unit 1: (0.8 - 1)^2 + 0.3^2 + 0.4^2 + 0.2^2 = 0.04 + 0.09 + 0.16 + 0.04 = 0.33
        #   unit 2: (0.6 + 0.3 - 1)^2 + 0.2^2 + 0.1^2 + 0.3^2 = 0.01 + 0.04 + 0.01 + 0.09 = 0.15
        ("pwl", 0.5 * (0.31 + 0.33 + 0.15)),
        # all: a_eff = W_ii + A_i everywhere
        #   unit 0: (0.5 + 0.7 - 1)^2 = 0.04 (+ 0.06) = 0.10
        #   unit 1: (0.8 + 0.9 - 1)^2 = 0.49 (+ 0.29) = 0.78;  unit 2: as above, 0.15
        ("all", 0.5 * (0.10 + 0.78 + 0.15)),
    ],
)
def test_study_mar_matches_a_hand_computed_3x3_example(a_placement, expected):
    model = ALRNN(3, 1, 0, seed=0, a_placement=a_placement).double()
    with torch.no_grad():
        model.A.copy_(A3), model.W.copy_(W3), model.h.copy_(H3)
    a, w, h = model.self_connection.detach(), model.W.detach(), model.h.detach()
    got = mar_penalty(a, w, h, [0, 1, 2], 0.5, include_w_diagonal=True)
    assert float(got) == pytest.approx(expected, abs=1e-12)
    # the first 2 units only: the rectified unit 2 drops out
    first_two = mar_penalty(a, w, h, [0, 1], 0.5, include_w_diagonal=True)
    assert float(first_two) == pytest.approx(expected - 0.5 * 0.15, abs=1e-12)


def test_toolbox_mar_is_unchanged_by_default():
    # toolbox: (A_i - 1)^2, W_ii free: 0.5 * [(0.7-1)^2 + 0.05 + 0.01 + (0.9-1)^2 + 0.25 + 0.04]
    got = mar_member_penalty(A3, W3, H3, torch.tensor([1.0, 1.0, 0.0]).double(), 0.5)
    assert float(got) == pytest.approx(0.5 * (0.09 + 0.06 + 0.01 + 0.29), abs=1e-12)
    assert FitConfig().mar_definition == "toolbox"


def test_fit_model_penalty_uses_the_configured_mar_definition(copy_ds, float64):
    cfg = FitConfig(latent_dim=3, pwl_units=1, mar=0.5, mar_units=3, a_placement="pwl")
    for definition, expected in (("study", 0.5 * 0.79), ("toolbox", None)):
        session = prepare_session(copy_ds, cfg.replace(mar_definition=definition))
        net = FitModel(session.config, session.n_units)
        with torch.no_grad():
            net.dynamics.A.copy_(A3), net.dynamics.W.copy_(W3), net.dynamics.h.copy_(H3)
        terms = net.member_losses(session.tensors.take(np.arange(4)))
        penalty = float(terms["penalty"][0].detach())
        if expected is None:  # toolbox on pwl: (0 - 1)^2 on the linear units, W_ii free
            expected = 0.5 * ((1 + 0.05 + 0.01) + (1 + 0.25 + 0.04) + (0.49 + 0.05 + 0.09))
        assert penalty == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------- presets -> FitConfig
@pytest.mark.parametrize("task", sorted(STUDY_PRESETS))
def test_study_fit_config_carries_the_preset_numbers(task):
    preset = STUDY_PRESETS[task]
    cfg = study_fit_config(task, pwl_units=preset.pwl_grid[0], epoch_share=0.5)
    assert cfg.latent_dim == preset.latent_dim and cfg.pwl_units == preset.pwl_grid[0]
    assert cfg.epochs == round(preset.epochs * 0.5)
    assert (cfg.lr, cfg.batch_size) == (preset.learning_rate, preset.batch_size)
    assert (cfg.mar, cfg.mar_units, cfg.mar_definition) == (
        preset.mar_tau,
        preset.mar_units,
        "study",
    )
    assert (cfg.a_placement, cfg.a_init) == ("pwl", preset.a_init)
    assert (cfg.lr_schedule, cfg.grad_clip, cfg.weight_decay, cfg.patience) == (
        "constant",
        0.0,
        0.0,
        0,
    )
    assert cfg.init_state == "zero" and cfg.tf_interval == 0
    assert cfg.keep_epoch == ("best" if task == "contextual_integration" else "last")
    counts = study_trial_counts(task)
    assert counts["train"] == preset.n_train and counts["test"] == preset.n_test
    assert cfg.split[0] == pytest.approx(preset.n_train / sum(counts.values()))
    expected_fresh = {"multitask": 455}.get(task, 0)  # ceil(5000 / 11) per task
    assert cfg.fresh_trials == expected_fresh
    assert study_fit_config(task).pwl_units == max(preset.pwl_grid)
    assert study_fit_config(task, epoch_share=1e-9).epochs == 1


def test_study_dataset_and_config_fit_end_to_end(float64):
    ds = study_dataset("contextual_integration", seed=1, trial_share=0.02)
    assert ds.attrs["variant"] == "study" and ds.sizes["trial"] == 20 + 4 + 4
    cfg = study_fit_config("contextual_integration", epoch_share=0.002, batch_size=8)
    result = fit(ds, cfg)
    assert result.metrics["epochs_run"] == 2
    np.testing.assert_array_equal(result.params.A[:5], 0.0)


# ---------------------------------------------------------------- bad values
@pytest.mark.parametrize(
    "field, value, fix",
    [
        ("a_placement", "foo", "one of all, pwl"),
        ("a_init", (0.5,), "two numbers [mean, sd]"),
        ("a_init", (0.0, -0.1), "sd >= 0"),
        ("a_init", (float("nan"), 0.1), "finite mean"),
        ("fresh_trials", -1, "an integer >= 0"),
        ("mar_definition", "paper", "one of toolbox, study"),
        ("keep_epoch", "first", "one of best, last"),
    ],
)
def test_bad_study_options_name_field_value_and_fix(field, value, fix):
    with pytest.raises(ConfigError) as info:
        FitConfig(**{field: value})
    message = str(info.value)
    shown = repr(list(value)) if isinstance(value, tuple) else repr(value)
    assert message.startswith(f"{field}=") and shown in message and fix in message
    assert "fix:" in message and f"--{field.replace('_', '-')}" in message


def test_bad_study_options_of_models_and_presets():
    with pytest.raises(ConfigError, match="a_placement='foo'.*fix"):
        ALRNN(3, 1, 0, a_placement="foo")
    with pytest.raises(ConfigError, match=r"a_init=\(0.0, -1.0\).*fix"):
        ALRNN(3, 1, 0, a_init=(0.0, -1.0))
    with pytest.raises(ConfigError, match="a_init='ab'.*fix"):
        ALRNN(3, 1, 0, a_init="ab")
    with pytest.raises(ConfigError, match="a_placement='pwl'.*baseline"):
        FitConfig(model="gru", a_placement="pwl")
    with pytest.raises(ConfigError, match="task='nope' has no study preset; fix"):
        study_fit_config("nope")
    with pytest.raises(ConfigError, match="epoch_share=0.*fix"):
        study_fit_config("copy", epoch_share=0)
