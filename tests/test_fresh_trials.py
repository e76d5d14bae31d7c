"""Fresh training trials every epoch (``FitConfig.fresh_trials``), as the study's suite."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.simulate.tasks import epoch_seed, make_task, study_copy_task
from alrnn_neuro.training import FitConfig, fit, load_run
from alrnn_neuro.training import session as session_module
from alrnn_neuro.training.ensemble import fit_ensemble
from alrnn_neuro.training.loop import evaluate_members
from alrnn_neuro.training.session import prepare_session
from tests.conftest import max_param_diff

COPY = dict(seq_len=3, delay=5)
CFG = dict(latent_dim=4, pwl_units=2, epochs=3, batch_size=8, patience=0, fresh_trials=16)


@pytest.fixture(scope="module")
def copy_ds():
    return make_task("copy", n_trials=40, seed=0, variant="study", **COPY)


@pytest.fixture
def draws(monkeypatch):
    """Record (epoch, inputs) of every fresh draw a fit trains on."""
    seen: list[tuple[int, torch.Tensor]] = []
    original = session_module.fresh_trial_source

    def recording_source(ds, config, to_tensors):
        source = original(ds, config, to_tensors)
        if source is None:
            return None

        def draw(epoch):
            tensors = source(epoch)
            seen.append((epoch, tensors.inputs.clone()))
            return tensors

        return draw

    monkeypatch.setattr(session_module, "fresh_trial_source", recording_source)
    return seen


def _state(result) -> dict[str, torch.Tensor]:
    return result.model.state_dict()


def test_two_fits_with_one_seed_are_identical(copy_ds):
    cfg = FitConfig(**CFG)
    a, b = fit(copy_ds, cfg), fit(copy_ds, cfg)
    for name, value in _state(a).items():
        assert torch.equal(value, _state(b)[name]), name
    np.testing.assert_array_equal(a.history["train_loss"], b.history["train_loss"])
    other = fit(copy_ds, cfg.replace(fresh_trials=0))  # the stream is really used
    assert not torch.equal(_state(a)["dynamics.W"], _state(other)["dynamics.W"])


def test_every_epoch_trains_on_its_own_draw_of_the_seeded_stream(copy_ds, draws):
    cfg = FitConfig(**CFG, seed=4)
    fit(copy_ds, cfg)
    assert [epoch for epoch, _ in draws] == [0, 1, 2]
    inputs = [x for _, x in draws]
    assert all(x.shape == (16, copy_ds.sizes["time"], 5) for x in inputs)
    assert not torch.equal(inputs[0], inputs[1]) and not torch.equal(inputs[1], inputs[2])
    for epoch, x in draws:  # exactly make_task(..., seed=epoch_seed(seed, epoch))
        fresh = make_task("copy", n_trials=16, seed=epoch_seed(4, epoch), variant="study", **COPY)
        np.testing.assert_array_equal(x.numpy(), fresh["inputs"].values)
    draws.clear()
    fit(copy_ds, cfg.replace(seed=5))  # another seed, another stream
    assert not torch.equal(draws[0][1], inputs[0])


def test_every_ensemble_member_sees_the_same_fresh_trials(copy_ds, draws, float64):
    cfg = FitConfig(**CFG, seed=1)
    results = fit_ensemble(copy_ds, cfg, pwl_units=[1, 2, 4], seeds=[1, 1, 7])
    shared = list(draws)
    assert [epoch for epoch, _ in shared] == [0, 1, 2]  # one draw per epoch for all members
    draws.clear()
    for p, result in zip([1, 2], results[:2], strict=True):  # init seed = data seed
        single = fit(copy_ds, cfg.replace(pwl_units=p))
        assert max_param_diff(result.model, single.model) < 1e-10
    for (_, mine), (_, theirs) in zip(draws[:3], shared, strict=True):
        assert torch.equal(mine, theirs)


def test_validation_trials_are_the_datasets_own_and_never_change(copy_ds):
    cfg = FitConfig(**CFG, keep_epoch="last")
    result = fit(copy_ds, cfg)
    plain = fit(copy_ds, cfg.replace(fresh_trials=0))
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(result.split[name], plain.split[name])
    session = prepare_session(copy_ds, cfg)
    val = evaluate_members(result.model, session.tensors, session.positions["val"])
    assert float(result.history["val_loss"][-1]) == pytest.approx(float(val[0]), rel=1e-6)


@pytest.mark.parametrize("keep_epoch", ["best", "last"])
def test_resumed_fit_continues_the_same_stream(copy_ds, tmp_path, keep_epoch):
    cfg = FitConfig(**{**CFG, "epochs": 4}, keep_epoch=keep_epoch)
    straight = fit(copy_ds, cfg, out=tmp_path / "straight")

    def stop_after_two(info):
        if info["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(copy_ds, cfg, out=tmp_path / "resumed", callback=stop_after_two)
    resumed = fit(copy_ds, cfg, out=tmp_path / "resumed", resume=True)
    for name, value in _state(straight).items():
        assert torch.equal(value, _state(resumed)[name]), name
    np.testing.assert_array_equal(straight.history["val_loss"], resumed.history["val_loss"])
    assert resumed.metrics["best_epoch"] == straight.metrics["best_epoch"]
    if keep_epoch == "last":
        assert resumed.metrics["best_epoch"] == 4


def test_dataset_that_cannot_be_regenerated_is_a_config_error(copy_ds):
    cfg = FitConfig(**CFG)
    direct = study_copy_task(40, seed=0, **COPY)  # the generator itself records no recipe
    assert "make_task" not in direct.attrs
    for ds in (direct, simulate_stimulus_selection(n_trials=20, n_units=4, seed=0, lfp=False)):
        with pytest.raises(ConfigError, match=r"fresh_trials .*attrs\['make_task'\].*fix:.*"):
            fit(ds, cfg if "task" in ds.attrs else cfg.replace(latent_dim=4))
    broken = copy_ds.copy()
    broken.attrs = {**copy_ds.attrs, "make_task": "{not json"}
    with pytest.raises(ConfigError, match="not a make_task record.*fix"):
        fit(broken, cfg)


def test_draws_that_do_not_fit_the_dataset_are_rejected(copy_ds):
    longer = copy_ds.copy()
    recipe = json.loads(copy_ds.attrs["make_task"])
    recipe["params"]["delay"] = 50  # longer trials than the dataset's
    longer.attrs = {**copy_ds.attrs, "make_task": json.dumps(recipe)}
    with pytest.raises(ConfigError, match="do not fit the dataset.*time steps.*fix"):
        fit(longer, FitConfig(**CFG))


def test_suite_draws_are_padded_to_the_datasets_length(float64):
    tasks = ("DelayPro", "GoNogo")
    ds = make_task("multitask", n_trials=6, seed=0, variant="study", tasks=tasks)
    assert json.loads(ds.attrs["make_task"])["params"] == {"tasks": list(tasks)}
    cfg = FitConfig(**{**CFG, "epochs": 1, "fresh_trials": 2})
    session = prepare_session(ds, cfg)
    fresh = session.fresh(0)
    assert fresh.n_trials == 4 and fresh.inputs.shape[1] == ds.sizes["time"]
    assert fit(ds, cfg).metrics["epochs_run"] == 1


def test_fit_command_takes_the_study_options(tmp_path):
    data = tmp_path / "copy.h5"
    save_dataset(make_task("copy", n_trials=30, seed=0, variant="study", **COPY), data)
    flags = (
        "--latent-dim 4 --pwl-units 1 --epochs 2 --batch-size 8 --a-placement pwl "
        "--a-init 0.9,0.1 --mar 0.1 --mar-units 2 --mar-definition study --keep-epoch last "
        "--fresh-trials 8 --grad-clip 0 --lr-schedule constant"
    )
    try:
        main(["fit", str(data), "--out", str(tmp_path / "run"), *flags.split()])
    except SystemExit as exit_:
        assert exit_.code in (0, None)
    result = load_run(tmp_path / "run")
    cfg = result.config
    assert (cfg.a_placement, cfg.a_init, cfg.mar_definition) == ("pwl", (0.9, 0.1), "study")
    assert (cfg.keep_epoch, cfg.fresh_trials, result.metrics["best_epoch"]) == ("last", 8, 2)
    np.testing.assert_array_equal(result.params.A[:3], 0.0)
