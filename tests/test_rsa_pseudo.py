"""RSA on pseudo-populations: each condition pair over the units observed in both conditions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis.rsa import (
    compute_rdm,
    compute_rdms,
    condition_labels,
    noise_ceiling,
    trial_patterns,
)
from alrnn_neuro.analysis.rsa.pairwise import pseudo_population_rdm
from alrnn_neuro.analysis.rsa.pipeline import run_rsa
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.schema import make_dataset
from tests.rsa_checks import assert_ceiling_ordered
from tests.test_rsa_rdm import make_rsa_dataset

LIP = Path(__file__).resolve().parents[1] / "datasets" / "roitman2002_fd_monkeyB.h5"
RARE = "2|L"  # the rare cell: three trials, each recorded from a different unit


def make_pseudo_population(seed=0, n_units=8, per_cell=40, n_time=6, signal=1.0):
    """Coherence (0, 1, 2) x choice (L, R); each trial records one unit. Cell ``2|L`` has 3
    trials from 3 different units, so no unit has 2 trials in every condition."""
    rng = np.random.default_rng(seed)
    cells = [(c, s) for c in (0, 1, 2) for s in ("L", "R")]
    coherence, choice, unit = [], [], []
    for c, s in cells:
        n = 3 if (c, s) == (2, "L") else per_cell
        coherence += [c] * n
        choice += [s] * n
        unit += list(range(3)) if n == 3 else list(rng.integers(0, n_units, n))
    coherence, choice, unit = np.array(coherence), np.array(choice), np.array(unit)
    tuning = rng.normal(size=(n_units, 2))
    value = np.stack([coherence, np.where(choice == "L", -1.0, 1.0)], axis=1)
    means = signal * value @ tuning.T  # (trial, unit)
    n_trials = coherence.size
    x = means[:, None, :] + rng.normal(size=(n_trials, n_time, n_units))
    observed = np.zeros((n_trials, n_units), bool)
    observed[np.arange(n_trials), unit] = True
    x = np.where(observed[:, None, :], x, 0.0)
    epoch = np.where(np.arange(n_time) < 2, "pre", "stim")[None].repeat(n_trials, 0)
    ds = make_dataset(
        x,
        kind="signal",
        observed=observed,
        epoch=epoch,
        bin_size=0.05,
        align_event="stim_on",
        trial_coords={"coherence": coherence.astype(float), "choice": choice},
        unit_coords={"area": np.array(["LIP"] * n_units)},
    )
    return ds, signal * value @ tuning.T


def test_one_rare_cell_leaves_the_other_pairs_finite():
    ds, _ = make_pseudo_population()
    labels = condition_labels(ds, ["coherence", "choice"])
    patterns = trial_patterns(ds, by="epoch").sel(epoch="stim")
    # the old rule (a unit needs >= 2 trials in every condition) keeps no unit at all
    seen = np.isfinite(patterns.values)
    per_cell = np.stack([seen[labels.values == c].sum(0) for c in np.unique(labels.values)])
    assert not np.any(np.all(per_cell >= 2, axis=0))
    rdm = compute_rdm(patterns, labels, distance="crossnobis", min_units=3)
    names = list(rdm["condition"].values)
    assert names == ["0|L", "0|R", "1|L", "1|R", RARE, "2|R"]
    k = names.index(RARE)
    others = [i for i in range(6) if i != k]
    block = rdm.values[np.ix_(others, others)]
    assert np.isfinite(block).all() and np.allclose(block, block.T)
    assert np.isnan(np.delete(rdm.values[k], k)).all()  # no unit has 2 trials in 2|L
    units = rdm["pair_units"].values
    assert (units[np.ix_(others, others)][~np.eye(5, dtype=bool)] >= 3).all()
    assert (np.delete(units[k], k) == 0).all()


def test_pair_dissimilarities_follow_the_true_condition_means():
    ds, means = make_pseudo_population(per_cell=200, signal=1.0)
    labels = condition_labels(ds, ["coherence", "choice"])
    rdm = compute_rdms(ds, ["coherence", "choice"], by=None, distance="crossnobis", noise=None)
    keep = [c for c in rdm["condition"].values if c != RARE]
    got = rdm.sel(condition=keep, condition2=keep).values
    truth = np.stack([means[labels.values == c][0] for c in keep])
    expected = ((truth[:, None] - truth[None]) ** 2).mean(-1)
    iu = np.triu_indices(len(keep), 1)
    assert np.corrcoef(got[iu], expected[iu])[0, 1] > 0.95
    assert np.median(got[iu] / expected[iu]) == pytest.approx(1.0, abs=0.25)  # unbiased scale


def test_min_units_rule_states_the_count_behind_each_pair():
    ds, _ = make_pseudo_population(n_units=8, per_cell=20, seed=3)
    patterns = trial_patterns(ds, by=None)
    labels = condition_labels(ds, ["coherence", "choice"])
    loose = compute_rdm(patterns, labels, min_units=1)
    units = loose["pair_units"].values
    off = ~np.eye(units.shape[0], dtype=bool) & (units > 0)
    rule = int(np.median(units[off])) + 1
    assert units[off].min() < rule <= units[off].max()  # the rule bites on some pairs only
    strict = compute_rdm(patterns, labels, min_units=rule)
    assert np.isnan(strict.values[off & (units < rule)]).all()
    np.testing.assert_array_equal(strict.values[units >= rule], loose.values[units >= rule])
    assert strict.attrs["min_units"] == rule
    full = make_rsa_dataset(n_units=3)  # fully observed, 3 units: the rule is capped at 3
    capped = compute_rdms(full, ["rule", "side"], by=None, min_units=5)
    assert np.isfinite(capped.values).all() and (capped["pair_units"] == 3).all()


def _naive_crossnobis(x, labels, i, j):
    """Per-unit leave-one-occurrence-out crossnobis of conditions i, j, averaged over units
    with >= 2 trials in both (written with loops, as an independent reference)."""
    values = []
    for u in range(x.shape[1]):
        a = x[(labels == i) & np.isfinite(x[:, u]), u]
        b = x[(labels == j) & np.isfinite(x[:, u]), u]
        if a.size < 2 or b.size < 2:
            continue
        terms = []
        for k in range(min(a.size, b.size)):
            train = np.delete(a, k).mean() - np.delete(b, k).mean()
            terms.append(train * (a[k] - b[k]))
        values.append(np.mean(terms))
    return (np.mean(values) if values else np.nan), len(values)


def test_pairwise_crossnobis_equals_a_loop_reference():
    ds, _ = make_pseudo_population(per_cell=30, seed=5)
    patterns = trial_patterns(ds, by=None)
    labels = condition_labels(ds, ["coherence", "choice"])
    rdm = compute_rdm(patterns, labels, distance="crossnobis", noise=None, min_units=1)
    x, lab = patterns.values, labels.values
    checked = 0
    for i, ci in enumerate(rdm["condition"].values):
        for j, cj in enumerate(rdm["condition"].values):
            if i < j:
                value, n = _naive_crossnobis(x, lab, ci, cj)
                assert rdm["pair_units"].values[i, j] == n
                if n == 0:
                    assert np.isnan(rdm.values[i, j])
                    continue
                assert rdm.values[i, j] == pytest.approx(value, rel=1e-10)
                checked += 1
    assert checked == 10  # every pair without the rare cell


@pytest.mark.parametrize("distance", ["crossnobis", "sqeuclidean", "euclidean", "correlation"])
def test_pairwise_path_equals_the_joint_one_on_fully_observed_data(distance):
    ds = make_rsa_dataset(n_trials=48, n_units=6)
    labels = condition_labels(ds, ["rule", "side"])
    patterns = trial_patterns(ds, by=None)
    joint = compute_rdm(patterns, labels, distance=distance, noise=None)
    code = np.unique(labels.values, return_inverse=True)[1]
    pairwise, units, applied = pseudo_population_rdm(
        patterns.values, code, 4, distance=distance, noise=None, fold=None, min_units=1
    )
    np.testing.assert_allclose(joint.values, pairwise, rtol=1e-10, atol=1e-12)
    assert (units == 6).all() and applied == 1


def test_lip_signed_coherence_by_choice_keeps_finite_pairs():
    """Shipped LIP pseudo-population (one unit per trial): signed coherence x choice has
    cells with one trial per unit (-25.6|1); the rest of the RDM stays finite."""
    ds = load_dataset(LIP)
    ds = ds.isel(trial=ds["task"].values == "dots")
    labels = condition_labels(ds, ["signed_coherence", "choice"])
    assert "0|1" in labels.values and "-0|1" not in labels.values  # one 0 % level
    patterns = trial_patterns(ds, by="epoch").sel(epoch=["motion", "delay"])
    seen = np.isfinite(patterns.sel(epoch="motion").values)
    per_cell = np.stack([seen[labels.values == c].sum(0) for c in np.unique(labels.values)])
    assert not np.any(np.all(per_cell >= 2, axis=0))  # the old every-condition rule: 0 units
    rdm = compute_rdm(patterns, labels, min_units=5)
    motion = rdm.sel(epoch="motion")
    units = motion["pair_units"].values
    off = ~np.eye(units.shape[0], dtype=bool)
    np.testing.assert_array_equal(np.isfinite(motion.values)[off], (units >= 5)[off])
    assert (units[off] >= 5).mean() > 0.6  # most pairs have >= 5 units seen in both
    assert np.isnan(motion.sel(condition="-25.6|1").drop_sel(condition2="-25.6|1")).all()
    ceiling = noise_ceiling(patterns, labels, compare="tau-a", seed=0)
    assert_ceiling_ordered(ceiling, min_finite=2)


def _latents_for(ds, seed=0, init_bins=0):
    """Model-like latents for a dataset: a noisy linear code of the trial variables, with a
    stratified train/val/test split coord."""
    rng = np.random.default_rng(seed)
    value = np.stack([ds["coherence"].values, np.where(ds["choice"].values == "L", -1, 1)], 1)
    z = value @ rng.normal(size=(2, 3))
    n_trials, n_time = ds.sizes["trial"], ds.sizes["time"]
    z = z[:, None, :] + 0.5 * rng.normal(size=(n_trials, n_time, 3))
    split = np.array(["train", "train", "val", "test"])[rng.permutation(n_trials) % 4]
    out = xr.Dataset(
        {"latents": (("trial", "time", "latent"), z), "valid": ds["valid"], "epoch": ds["epoch"]},
        coords={c: ds[c] for c in ("trial", "time", "coherence", "choice")},
    )
    return out.assign_coords(split=("trial", split)).assign_attrs(init_bins=init_bins)


def test_run_rsa_on_a_pseudo_population_with_a_rare_cell():
    ds, _ = make_pseudo_population(per_cell=200)
    latents = _latents_for(ds)
    rsa, summary = run_rsa(
        latents, ds, conditions=["coherence", "choice"], n_perm=50, n_boot=200, min_units=3
    )
    stim = rsa.sel(area="LIP", epoch="stim")
    assert np.isfinite(float(stim["estimate"])) and int(stim["n_conditions"]) == 5
    assert rsa["neural_pair_units"].dims == ("area", "epoch", "condition", "condition2")
    pair = rsa["neural_pair_units"].sel(area="LIP", epoch="stim", condition="0|L")
    assert int(pair.sel(condition2="1|R")) >= 3 and int(pair.sel(condition2=RARE)) == 0
    assert_ceiling_ordered(rsa)
    assert summary["min_units"] == 3 and summary["trials"] == "heldout"


def test_a_capped_min_units_is_recorded_as_the_threshold_applied():
    """min_units above the usable units is capped; rsa.json's rows say which value was used,
    next to the requested one (an independent count: units with >= 2 held-out trials)."""
    ds, _ = make_pseudo_population(n_units=8, per_cell=200, seed=1)
    latents = _latents_for(ds)
    rsa, summary = run_rsa(
        latents, ds, conditions=["coherence", "choice"], n_perm=0, n_boot=0, min_units=100
    )
    heldout = np.isin(latents["split"].values, ["val", "test"])
    observed = ds["observed"].values[heldout]  # (trial, unit)
    cell = (ds["coherence"].values * 2 + (ds["choice"].values == "R"))[heldout]
    n_cells = [np.unique(cell[observed[:, u]]).size for u in range(observed.shape[1])]
    dof = observed.sum(axis=0) - np.array(n_cells)  # residual dof of each unit's variance
    usable = int((dof >= 1).sum())
    assert 1 < usable < 100
    assert summary["min_units"] == 100 and rsa.attrs["min_units"] == 100
    assert [row["min_units_applied"] for row in summary["rows"]] == [usable, usable]
    assert (rsa["neural_min_units_applied"].values == usable).all()
    json.dumps(summary)  # the record stays JSON-ready
    # the RDM applies that threshold: finite off-diagonal pairs rest on >= `usable` units
    units = rsa["neural_pair_units"].sel(area="LIP", epoch="stim").values
    finite = np.isfinite(rsa["neural_rdm"].sel(area="LIP", epoch="stim").values)
    off = ~np.eye(units.shape[0], dtype=bool)
    np.testing.assert_array_equal(finite[off], (units >= usable)[off])


def test_compute_rdm_records_the_threshold_per_segment():
    ds, _ = make_pseudo_population(n_units=6, per_cell=20, seed=2)
    labels = condition_labels(ds, ["coherence", "choice"])
    rdm = compute_rdm(trial_patterns(ds, by="epoch"), labels, noise=None, min_units=50)
    assert rdm.attrs["min_units"] == 50
    assert rdm.attrs["min_units_applied"] == [6, 6]  # every unit usable without noise weights
    full = compute_rdms(make_rsa_dataset(n_units=3), ["rule", "side"], by=None, min_units=5)
    assert full.attrs["min_units"] == 5 and full.attrs["min_units_applied"] == [3]
