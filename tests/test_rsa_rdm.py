"""RSA: condition labels, per-segment trial patterns and RDM distances."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform

from alrnn_neuro.analysis.rsa import (
    compute_rdm,
    compute_rdms,
    condition_labels,
    trial_patterns,
)
from alrnn_neuro.data.schema import make_dataset
from alrnn_neuro.errors import ConfigError, DataValidationError


def make_rsa_dataset(seed=0, n_trials=48, n_time=10, n_units=6, signal=1.0, kind="signal"):
    """Ragged dataset: rule x side conditions, two epochs, condition-specific means."""
    rng = np.random.default_rng(seed)
    rule = np.array(["loc", "pitch"])[np.arange(n_trials) % 2]
    side = np.array(["L", "R"])[(np.arange(n_trials) // 2) % 2]
    means = rng.normal(size=(4, n_units)) * signal
    cond = (np.arange(n_trials) % 2) * 2 + (np.arange(n_trials) // 2) % 2
    x = means[cond][:, None, :] + rng.normal(size=(n_trials, n_time, n_units))
    lengths = rng.integers(n_time - 3, n_time + 1, n_trials)
    valid = np.arange(n_time)[None] < lengths[:, None]
    x = np.where(valid[..., None], x, 0.0)
    epoch = np.where(valid, np.where(np.arange(n_time) < 4, "pre", "stim"), "")
    if kind == "spikes":
        x = rng.poisson(3.0, x.shape).astype(np.int32) * valid[..., None]
    return make_dataset(
        x,
        kind=kind,
        valid=valid,
        epoch=epoch,
        bin_size=0.05,
        align_event="stim_on",
        time=np.arange(n_time) * 0.05 - 0.2,
        trial_coords={"rule": rule, "side": side, "block": np.arange(n_trials) % 3},
    )


def test_condition_labels_and_missing_variable():
    ds = make_rsa_dataset()
    labels = condition_labels(ds, ["rule", "side"])
    assert labels.dims == ("trial",)
    assert labels.values[:4].tolist() == ["loc|L", "pitch|L", "loc|R", "pitch|R"]
    match = r"names \['pitch'\], which are not.*fix: --conditions.*\['block', 'rule', 'side'\]"
    with pytest.raises(ConfigError, match=match):
        condition_labels(ds, ["rule", "pitch"])


def test_epoch_patterns_use_only_valid_steps_of_each_epoch():
    ds = make_rsa_dataset()
    spoiled = ds.copy(deep=True)
    spoiled["signal"] = spoiled["signal"].where(spoiled["valid"], 1e6)  # padded steps poisoned
    patterns = trial_patterns(spoiled, by="epoch")
    assert patterns.dims == ("epoch", "trial", "unit")
    assert patterns["epoch"].values.tolist() == ["pre", "stim"]
    x, valid, epoch = ds.signal.values, ds.valid.values, ds.epoch.values
    for trial in (0, 5, 17):
        for name in ("pre", "stim"):
            steps = [t for t in range(x.shape[1]) if valid[trial, t] and epoch[trial, t] == name]
            expected = np.mean([x[trial, t] for t in steps], axis=0)
            np.testing.assert_allclose(patterns.sel(epoch=name).values[trial], expected)


def test_time_patterns_are_nan_on_padded_steps_and_windows_average_bins():
    ds = make_rsa_dataset()
    per_time = trial_patterns(ds, by="time")
    assert per_time.dims == ("time", "trial", "unit")
    assert np.array_equal(np.isnan(per_time.values[..., 0]).T, ~ds.valid.values)
    windows = trial_patterns(ds, by="window", windows={"early": (-0.2, -0.05)})
    expected = ds.signal.isel(time=slice(0, 3)).mean("time").values
    np.testing.assert_allclose(windows.sel(window="early").values, expected)


def test_region_patterns_from_a_model_bitcode_and_trial_mismatch():
    ds = make_rsa_dataset()
    bitcode = xr.DataArray(
        (np.arange(ds.sizes["time"]) >= 5).astype(int)[None].repeat(48, 0),
        dims=("trial", "time"),
        coords={"trial": ds.trial},
    )
    per_region = trial_patterns(ds, by="region", bitcode=bitcode)
    assert per_region["region"].values.tolist() == [0, 1]
    np.testing.assert_allclose(
        per_region.sel(region=0).values, ds.signal.isel(time=slice(0, 5)).mean("time").values
    )
    shifted = bitcode.assign_coords(trial=bitcode.trial + 1000)
    with pytest.raises(DataValidationError, match="mismatched trials.*bitcode"):
        trial_patterns(ds, by="region", bitcode=shifted)


def test_euclidean_and_correlation_match_scipy_on_condition_means():
    ds = make_rsa_dataset()
    labels = condition_labels(ds, ["rule", "side"])
    patterns = trial_patterns(ds, by=None)
    means = np.stack(
        [
            patterns.values[labels.values == c].mean(0)
            for c in ["loc|L", "loc|R", "pitch|L", "pitch|R"]
        ]
    )
    for method, metric in (("euclidean", "euclidean"), ("correlation", "correlation")):
        rdm = compute_rdm(patterns, labels, distance=method)
        assert rdm["condition"].values.tolist() == ["loc|L", "loc|R", "pitch|L", "pitch|R"]
        np.testing.assert_allclose(rdm.values, squareform(pdist(means, metric)), atol=1e-12)
    sq = compute_rdm(patterns, labels, distance="sqeuclidean").values
    np.testing.assert_allclose(sq, squareform(pdist(means, "sqeuclidean")) / means.shape[1])


def _null_rdms(method, n_rep=300, n_per=6, n_units=20, seed=0):
    """Four conditions with identical means, noisy trials; n_rep replicates along ``rep``."""
    rng = np.random.default_rng(seed)
    n = 4 * n_per
    patterns = xr.DataArray(
        rng.normal(size=(n_rep, n, n_units)),
        dims=("rep", "trial", "unit"),
        coords={"trial": np.arange(n)},
    )
    labels = condition_labels(
        xr.DataArray(
            np.zeros(n),
            dims="trial",
            coords={"trial": np.arange(n), "c": ("trial", np.arange(n) % 4)},
        ),
        "c",
    )
    rdm = compute_rdm(patterns, labels, distance=method, noise=None).values
    rows, cols = np.triu_indices(4, 1)
    return rdm[:, rows, cols].mean(axis=1)  # one independent mean per replicate


def test_crossnobis_is_unbiased_where_plain_euclidean_is_not():
    cv = _null_rdms("crossnobis")
    plain = _null_rdms("sqeuclidean")
    assert abs(cv.mean()) < 3.5 * cv.std() / np.sqrt(cv.size)
    assert 0.3 < (cv < 0).mean() < 0.7  # an unbiased estimate of 0 is negative about half the time
    # E||mean_i - mean_j||^2 / F = 2 sigma^2 / n_per for plain Euclidean: positive bias
    assert plain.mean() == pytest.approx(2 / 6, rel=0.05)


def test_crossnobis_recovers_true_distances_with_noise_normalisation():
    rng = np.random.default_rng(3)
    n_units, n_per = 8, 400
    means = rng.normal(size=(3, n_units)) * 0.5
    code = np.arange(3 * n_per) % 3
    scale = np.linspace(0.5, 3.0, n_units)  # heteroscedastic noise
    x = means[code] + rng.normal(size=(code.size, n_units)) * scale
    labels = condition_labels(
        xr.DataArray(
            np.zeros(code.size),
            dims="trial",
            coords={"trial": np.arange(code.size), "c": ("trial", code)},
        ),
        "c",
    )
    patterns = xr.DataArray(x, dims=("trial", "unit"), coords={"trial": np.arange(code.size)})
    rdm = compute_rdm(patterns, labels, distance="crossnobis", noise="diag", folds=5).values
    truth = squareform(pdist(means / scale, "sqeuclidean")) / n_units
    np.testing.assert_allclose(rdm, truth, rtol=0.1)
    raw = compute_rdm(patterns, labels, distance="crossnobis", noise=None, folds=5).values
    np.testing.assert_allclose(raw, squareform(pdist(means, "sqeuclidean")) / n_units, rtol=0.1)
    assert not np.allclose(raw, truth, rtol=0.3)


def test_crossnobis_folds_from_int_and_trial_variable():
    ds = make_rsa_dataset()
    by_block = compute_rdms(ds, ["rule", "side"], by="epoch", folds="block")
    by_three = compute_rdms(ds, ["rule", "side"], by="epoch", folds=3)
    assert by_block.dims == ("epoch", "condition", "condition2")
    assert np.all(np.isfinite(by_block.values)) and np.all(np.isfinite(by_three.values))
    np.testing.assert_allclose(by_block.values, np.swapaxes(by_block.values, 1, 2))
    with pytest.raises(ConfigError, match="folds = 'session'.*choose from"):
        compute_rdms(ds, ["rule", "side"], folds="session")
    one_fold = np.where(ds["side"] == "L", 1, np.arange(48) // 4 % 2)  # side L: fold 1 only
    with pytest.raises(DataValidationError, match=r"\['loc\|L', 'pitch\|L'\] have all"):
        compute_rdms(ds, ["rule", "side"], folds=one_fold)


def test_crossnobis_leaves_conditions_with_one_trial_nan_and_says_so(caplog):
    ds = make_rsa_dataset(n_trials=48).isel(trial=list(range(6)) + list(range(8, 48, 4)))
    # loc|R (trial 2) and pitch|R (trial 3) have one trial now; loc|L, pitch|L many
    with caplog.at_level("INFO"):
        rdm = compute_rdms(ds, ["rule", "side"], by=None)
    assert "2 condition(s) (e.g. ['loc|R', 'pitch|R']) have fewer than 2 trials" in caplog.text
    rdm = rdm.sel(condition=["loc|L", "pitch|L", "loc|R", "pitch|R"])
    rdm = rdm.sel(condition2=rdm["condition"].values)
    assert np.isfinite(rdm.values[0, 1]) and rdm.values[0, 1] == rdm.values[1, 0]
    assert np.isnan(rdm.values[2:, :2]).all() and np.isnan(rdm.values[:2, 2:]).all()
    assert rdm["pair_units"].values[0, 1] == 6 and rdm["pair_units"].values[0, 2] == 0


def test_constant_pattern_makes_correlation_distance_an_error():
    ds = make_rsa_dataset(kind="spikes")
    silent = ds.copy(deep=True)
    silent["spikes"] = silent["spikes"].where(silent["rule"] != "loc", 0)
    with pytest.raises(DataValidationError, match=r"\['loc\|L', 'loc\|R'\] have a constant"):
        compute_rdms(silent, ["rule", "side"], by=None, distance="correlation")


def test_pseudo_population_uses_observed_entries_only():
    ds = make_rsa_dataset()
    observed = np.ones((48, 6), bool)
    observed[:24, 0] = False  # unit 0 recorded only in the second half
    observed[24:, 1] = False  # unit 1 only in the first half
    ds["observed"] = (("trial", "unit"), observed)
    ds["signal"] = ds["signal"].where(ds["observed"], 0.0)
    patterns = trial_patterns(ds, by=None)
    assert np.isnan(patterns.values[:24, 0]).all() and np.isfinite(patterns.values[24:, 0]).all()
    labels = condition_labels(ds, ["rule", "side"])
    rdm = compute_rdm(patterns, labels, distance="sqeuclidean")
    x = patterns.values
    means = np.stack([np.nanmean(x[labels.values == c], axis=0) for c in rdm.condition.values])
    np.testing.assert_allclose(rdm.values, squareform(pdist(means, "sqeuclidean")) / 6)
    assert np.all(np.isfinite(compute_rdm(patterns, labels, distance="crossnobis").values))


def test_time_resolved_rdm_stack_and_lfp_feature_stacking():
    ds = make_rsa_dataset()
    rdms = compute_rdms(ds, ["rule", "side"], by="time", distance="crossnobis", noise=None)
    assert rdms.dims == ("time", "condition", "condition2") and rdms.sizes["time"] == 10
    assert rdms.attrs["distance"] == "crossnobis" and rdms.attrs["conditions"] == ["rule", "side"]
    lfp = xr.DataArray(
        np.random.default_rng(0).normal(size=(48, 10, 3, 2)),
        dims=("trial", "time", "channel", "band"),
        coords={
            "trial": ds.trial,
            "time": ds.time,
            "channel": ["a", "b", "c"],
            "band": ["theta", "gamma"],
            "rule": ds.rule,
            "side": ds.side,
        },
    )
    patterns = trial_patterns(lfp, by=None)
    assert patterns.dims == ("trial", "feature") and patterns.sizes["feature"] == 6
    assert patterns["feature"].values[1] == "a|gamma"
    assert patterns["rule"].values.tolist() == ds["rule"].values.tolist()


def _latents_like(ds, seed=0):
    """A run-dir ``latents.nc``-like Dataset for the trials of ``ds``."""
    rng = np.random.default_rng(seed)
    shape = (ds.sizes["trial"], ds.sizes["time"])
    latents = rng.normal(size=(*shape, 3))
    bitcode = (latents[..., 2] > 0).astype(int)
    trial_coords = {name: ds[name] for name in ("rule", "side", "block")}
    return xr.Dataset(
        {
            "latents": (("trial", "time", "latent"), latents),
            "bitcode": (("trial", "time"), bitcode),
            "epoch": ds["epoch"],
            "valid": ds["valid"],
        },
        coords={"trial": ds.trial, "time": ds.time, **trial_coords},
    )


def test_model_and_data_rdms_per_model_regime():
    ds = make_rsa_dataset()
    run = _latents_like(ds)
    model = compute_rdms(run, ["rule", "side"], by="region", distance="sqeuclidean")
    data = compute_rdms(ds, ["rule", "side"], by="region", bitcode=run["bitcode"])
    assert model.dims == data.dims == ("region", "condition", "condition2")
    assert model["region"].values.tolist() == data["region"].values.tolist() == [0, 1]
    assert model.attrs["trials_digest"] == data.attrs["trials_digest"]
    late = run["bitcode"].isel(time=slice(0, 8))
    with pytest.raises(DataValidationError, match="mismatched time bins: 'bitcode' has 8"):
        compute_rdms(ds, ["rule", "side"], by="region", bitcode=late)


def test_rounding_level_noise_falls_back_instead_of_exploding(caplog):
    """A model latent fixed by the condition (its residuals float32 rounding, ~1e-8) has no
    usable noise variance: shrinkage_diag refuses it, and the pipeline's ``robust_rdm`` uses
    shrinkage_eye, whose distances stay of the order of the real features' (not ~1e15)."""
    from alrnn_neuro.analysis.rsa.pipeline import robust_rdm

    rng = np.random.default_rng(1)
    code = np.arange(120) % 4
    x = rng.normal(size=(code.size, 5)) + rng.normal(size=(4, 5))[code]
    fixed = np.float32(1.0) + np.float32(0.3) * code.astype(np.float32)
    x[:, 0] = fixed + rng.normal(size=code.size) * 1e-8  # condition-determined + rounding
    labels = condition_labels(
        xr.DataArray(np.zeros(code.size), dims="trial",
                     coords={"trial": np.arange(code.size), "c": ("trial", code)}),
        "c",
    )  # fmt: skip
    patterns = xr.DataArray(x, dims=("trial", "unit"), coords={"trial": np.arange(code.size)})
    with pytest.raises(DataValidationError, match="1 feature.*below 1e-12 of the largest"):
        compute_rdm(patterns, labels, noise="shrinkage_diag")
    with caplog.at_level("WARNING"):
        rdm, noise = robust_rdm(patterns.expand_dims(seg=["all"]), labels)
    assert noise == "shrinkage_eye" and "shrinkage_eye" in caplog.text
    assert np.nanmax(np.abs(rdm.values)) < 100
