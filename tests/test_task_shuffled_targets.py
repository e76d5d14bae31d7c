"""The shuffled-targets control of the primitives claim: the shuffle, and the retrained networks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.reproduce.task_primitives import (
    SHUFFLED_CONTROLS,
    fitted_networks,
    primitive_counts,
    primitives_claim,
    primitives_result,
)
from alrnn_neuro.reproduce.task_shuffled_targets import shuffle_targets, shuffled_networks
from alrnn_neuro.simulate.tasks import make_task
from alrnn_neuro.sweep import SweepGrid, run_sweep
from alrnn_neuro.training.config import FitConfig


def _source_trial(ds, out, i: int) -> int:
    """The trial of ``ds`` whose targets and loss mask trial ``i`` of ``out`` holds."""
    same_targets = (ds["targets"].values == out["targets"].values[i]).all(axis=(1, 2))
    same_mask = (ds["loss_mask"].values == out["loss_mask"].values[i]).all(axis=1)
    return int(np.flatnonzero(same_targets & same_mask)[0])


@pytest.mark.parametrize(
    ("task", "params"),
    [
        ("addition", {"length": 10}),
        ("variable_delay_copy", {"n_symbols": 4, "seq_len": 3, "delay": (5, 15)}),
        ("contextual_integration", {"stimulus_steps": (5, 11)}),
    ],
)
def test_targets_move_between_trials_of_the_same_length_only(task, params):
    ds = make_task(task, n_trials=120, seed=2, **params)
    out = shuffle_targets(ds, seed=7)
    valid = ds["valid"].values
    # every trial's new targets and loss mask are some other trial's, of the same length
    source = [_source_trial(ds, out, i) for i in range(ds.sizes["trial"])]
    assert all((valid[i] == valid[j]).all() for i, j in enumerate(source))
    assert not (out["loss_mask"].values & ~valid).any()
    assert out.attrs["shuffled_targets_moved"] > 0.5
    for name in ("inputs", "valid", "epoch"):
        assert out[name].equals(ds[name])
    assert np.isclose(out["targets"].values.sum(), ds["targets"].values.sum())
    assert out["targets"].equals(shuffle_targets(ds, seed=7)["targets"])  # seeded
    assert not out["targets"].equals(shuffle_targets(ds, seed=8)["targets"])


def test_shuffle_breaks_the_input_target_pairing():
    # addition: the target is the sum of the two marked values, a function of the inputs
    ds = make_task("addition", n_trials=200, seed=0, length=10)
    out = shuffle_targets(ds, seed=1)
    step = -1
    truth = ds["target_sum"].values
    before = ds["targets"].values[:, step, 0]
    after = out["targets"].values[:, step, 0]
    assert np.corrcoef(before, truth)[0, 1] > 0.99
    assert abs(np.corrcoef(after, truth)[0, 1]) < 0.3


def test_shuffle_names_a_missing_variable():
    ds = make_task("addition", n_trials=10, seed=0, length=10).drop_vars("loss_mask")
    with pytest.raises(DataValidationError, match="loss_mask"):
        shuffle_targets(ds, seed=0)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    ds = make_task("contextual_integration", n_trials=80, seed=3)
    out = tmp_path_factory.mktemp("shuffled") / "sweep"
    save_dataset(ds, out / "dataset.h5")  # where reproduce tasks keeps it
    grid = SweepGrid(pwl_units=(0, 1, 2, 3), seeds=(0, 1), latent_dims=(4,))
    run_sweep(ds, grid, FitConfig(latent_dim=4, epochs=3, split=(0.6, 0.2, 0.2)), out=out)
    return out, ds


def test_retrained_networks_share_config_and_initialisation_but_not_the_targets(sweep):
    out, ds = sweep
    networks = fitted_networks(out)
    draw = make_task("contextual_integration", n_trials=80, seed=11)
    retrained = shuffled_networks(out, draw, networks, seed=11)
    assert [(p, s) for p, s, _ in retrained] == [(p, s) for p, s, _ in networks]
    test = set(json.loads((out / "sweep.json").read_text())["test_trials"])
    for (_, _, fit), (_, _, new) in zip(networks, retrained, strict=True):
        keep = ("latent_dim", "pwl_units", "epochs", "lr", "batch_size", "split")
        assert all(getattr(new.config, k) == getattr(fit.config, k) for k in keep)
        fitted_on = {int(t) for ids in new.split.values() for t in np.asarray(ids)}
        assert fitted_on and not fitted_on & test  # the held-out trials stay out
        assert not np.allclose(new.model.state_dict()["dynamics.W"], fit.model.state_dict()[
            "dynamics.W"])  # fmt: skip
    again = shuffled_networks(out, draw, networks, seed=11)
    for (_, _, a), (_, _, b) in zip(retrained, again, strict=True):
        assert all(
            np.array_equal(a.model.state_dict()[k], v) for k, v in b.model.state_dict().items()
        )
    assert shuffled_networks(out, draw, [], seed=11) == []


def test_full_budget_trains_every_epoch_and_keeps_the_last(sweep):
    out, ds = sweep
    networks = fitted_networks(out)
    draw = make_task("contextual_integration", n_trials=80, seed=11)
    as_fitted = shuffled_networks(out, draw, networks, seed=11)
    full = shuffled_networks(out, draw, networks, seed=11, full_budget=True)
    for (_, _, a), (_, _, b), (_, _, fit) in zip(as_fitted, full, networks, strict=True):
        assert (a.config.patience, a.config.keep_epoch) == (fit.config.patience, "best")
        assert (b.config.patience, b.config.keep_epoch) == (0, "last")
        assert b.history.sizes["epoch"] == fit.config.epochs


def test_primitives_claim_reports_the_controls_only_when_asked(sweep):
    out, ds = sweep

    def make(seed):
        return make_task("contextual_integration", n_trials=80, seed=seed)

    claim, _ = primitives_claim(out, "ci", make, (5,), learned=True, seed=0)
    assert set(claim.controls) == {"untrained"}
    claim, _ = primitives_claim(out, "ci", make, (5,), learned=True, seed=0, shuffled_seeds=(6, 7))
    assert set(claim.controls) == {"untrained", *SHUFFLED_CONTROLS}
    networks = fitted_networks(out)
    for name, full_budget in SHUFFLED_CONTROLS.items():
        entry = claim.controls[name]
        assert entry["seeds"] == [6, 7]
        for k, data_seed in enumerate((6, 7)):  # each run: retrained networks vs their init
            draw = make(data_seed)
            retrained = shuffled_networks(out, draw, networks, data_seed, full_budget=full_budget)
            counts = primitive_counts(out, draw, networks=retrained)
            assert counts.sizes["network"] == 6
            expected = primitives_result(counts, learned=None, seed=data_seed)
            assert expected.holds is not None and entry["holds"][k] == expected.holds
            assert entry["effects"][k] == pytest.approx(expected.effect)
        assert entry["n"] == 2
        assert entry["false_positive_rate"] == pytest.approx(np.mean(entry["holds"]))


def test_a_draw_whose_trials_cannot_swap_targets_is_refused_and_the_control_reads_na(
    sweep, monkeypatch
):
    out, ds = sweep
    networks = fitted_networks(out)
    draw = make_task("contextual_integration", n_trials=80, seed=11)
    # every trial valid steps of its own (the bits of its index): none can swap targets
    valid = draw["valid"].values.copy()
    bits = (np.arange(valid.shape[0])[:, None] >> np.arange(8)) & 1
    valid[:, :8] = bits.astype(bool)
    unique = draw.assign(valid=draw["valid"].copy(data=valid))
    unique = unique.assign(loss_mask=unique["loss_mask"] & unique["valid"])
    with pytest.raises(DataValidationError, match=r"only 0% of the trials"):
        shuffled_networks(out, unique, networks, seed=11)

    def make(seed):
        return make_task("contextual_integration", n_trials=80, seed=seed)

    def refuse(*args, **kwargs):
        raise DataValidationError("shuffled targets: only 10% of the trials moved")

    monkeypatch.setattr("alrnn_neuro.reproduce.task_primitives.shuffled_networks", refuse)
    claim, _ = primitives_claim(out, "ci", make, (5,), learned=True, seed=0, shuffled_seeds=(6,))
    for name in SHUFFLED_CONTROLS:
        assert claim.controls[name]["holds"] == [None] and claim.controls[name]["n"] == 0
