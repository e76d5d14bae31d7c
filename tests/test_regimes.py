"""Regime usage: bitcodes, usage, dwell times, transitions, bit flips, nonlinearity usage."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis import (
    bit_flips,
    bitcode_from_latents,
    dwell_times,
    nonlinearity_usage,
    region_usage,
    transition_matrix,
)
from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.models.params import code_bits


def bitcode_array(codes, bin_size=0.1, **trial_coords):
    codes = np.asarray(codes)
    coords = {
        "trial": np.arange(codes.shape[0]),
        "time": bin_size * (np.arange(codes.shape[1]) + 0.5),
    }
    coords |= {k: ("trial", np.asarray(v)) for k, v in trial_coords.items()}
    return xr.DataArray(codes, dims=("trial", "time"), coords=coords, attrs={"bin_size": bin_size})


def random_codes(seed=0, n_trials=20, n_time=30, n_regions=5):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_regions, (n_trials, n_time))
    lengths = rng.integers(n_time // 2, n_time + 1, n_trials)
    valid = np.arange(n_time)[None] < lengths[:, None]
    return np.where(valid, codes, -1), valid


def test_bitcode_matches_model_convention():
    z = np.random.default_rng(0).normal(size=(4, 7, 6))
    latents = xr.DataArray(z, dims=("trial", "time", "latent"))
    ours = bitcode_from_latents(latents, 3)
    # independent reference: read the sign of each rectified unit as a binary digit
    ref = sum((z[..., 3 + j] > 0).astype(int) * 2 ** (2 - j) for j in range(3))
    np.testing.assert_array_equal(ours.values, ref)
    assert ours.dims == ("trial", "time")
    # first PWL unit is the most significant bit
    bits = code_bits(ours.values, 3)
    np.testing.assert_array_equal(bits, z[..., 3:] > 0)
    assert (bitcode_from_latents(latents, 0).values == 0).all()
    padded = latents.where(latents.time < 5)  # NaN on the last two steps, as in latents.nc
    assert (bitcode_from_latents(padded, 3).values[:, 5:] == -1).all()


def test_region_usage_by_hand():
    codes = [[3, 3, 3, 1, 1, 0], [3, 3, 1, -1, -1, -1]]
    use = region_usage(bitcode_array(codes), n_pwl=2)
    assert use.region.values.tolist() == [3, 1, 0]  # most used first
    assert use["count"].values.tolist() == [5, 3, 1]
    np.testing.assert_allclose(use.frequency.values, np.array([5, 3, 1]) / 9)
    np.testing.assert_allclose(use.coverage.values, np.cumsum([5, 3, 1]) / 9)
    assert use.bits.values.tolist() == ["11", "01", "00"]
    assert int(use["n_regions_used"]) == 3 and int(use["n_valid_steps"]) == 9
    assert int(use["n_regions_90"]) == 3 and use.attrs["n_regions_total"] == 4
    p = np.array([5, 3, 1]) / 9
    np.testing.assert_allclose(float(use["entropy_bits"]), -(p * np.log2(p)).sum())
    # runs of 3: (3 steps) and (2 steps) -> 2.5; of 1: (2) and (1) -> 1.5; of 0: (1)
    np.testing.assert_allclose(use.mean_dwell.values, [2.5, 1.5, 1.0])


def test_valid_mask_overrides_codes():
    codes = np.array([[1, 1, 2, 2]])
    valid = xr.DataArray(np.array([[True, True, False, False]]), dims=("trial", "time"))
    use = region_usage(bitcode_array(codes), valid)
    assert use.region.values.tolist() == [1]


def test_single_region_p0():
    bc = bitcode_array(np.zeros((3, 5), int))
    use = region_usage(bc, n_pwl=0)
    assert use.region.values.tolist() == [0] and use.frequency.values.tolist() == [1.0]
    assert use.bits.values.tolist() == [""]
    tm = transition_matrix(bc)
    assert tm["count"].values.tolist() == [[12]] and int(tm["n_switches"]) == 0
    nl = nonlinearity_usage(bc, n_pwl=0, n_latent=4)
    assert nl.fraction_active_steps == 0 and nl.fraction_switching_steps == 0
    assert nl.attrs["nonlinear_ops_per_step"] == 0 and nl.attrs["ops_ratio"] == 0


def test_dwell_times_by_hand():
    bc = bitcode_array([[0, 0, 1, 1, 1, 0], [2, 2, 2, -1, -1, -1]], bin_size=0.05)
    runs = dwell_times(bc)
    assert runs.region.values.tolist() == [0, 1, 0, 2]
    assert runs.n_steps.values.tolist() == [2, 3, 1, 3]
    assert runs.trial.values.tolist() == [0, 0, 0, 1]
    assert runs.censored.values.tolist() == [True, False, True, True]
    np.testing.assert_allclose(runs.duration.values, [0.1, 0.15, 0.05, 0.15])
    np.testing.assert_allclose(runs.start_time.values, [0.025, 0.125, 0.275, 0.025])


def test_transition_matrix_matches_loop():
    codes, valid = random_codes(1)
    tm = transition_matrix(bitcode_array(codes))
    labels = tm.region_from.values.tolist()
    ref = np.zeros((len(labels), len(labels)), int)
    for row, ok in zip(codes, valid, strict=True):
        for t in range(1, len(row)):
            if ok[t] and ok[t - 1]:
                ref[labels.index(row[t - 1]), labels.index(row[t])] += 1
    np.testing.assert_array_equal(tm["count"].values, ref)
    np.testing.assert_allclose(tm.probability.sum("region_to").values, 1.0)
    assert tm.probability.dims == ("region_from", "region_to")


def test_transition_matrix_pools_rare_regions():
    codes, _ = random_codes(2, n_regions=6)
    full = transition_matrix(bitcode_array(codes))
    pooled = transition_matrix(bitcode_array(codes), max_regions=3)
    assert pooled.region_from.values.tolist()[-1] == -1 and pooled.sizes["region_from"] == 4
    assert pooled["count"].sum() == full["count"].sum()


def test_bit_flips_is_hamming_distance():
    codes, valid = random_codes(3, n_regions=16)
    flips = bit_flips(bitcode_array(codes)).values
    for i, row in enumerate(codes):
        for t in range(1, len(row)):
            if valid[i, t] and valid[i, t - 1]:
                assert flips[i, t] == bin(row[t] ^ row[t - 1]).count("1")
            else:
                assert np.isnan(flips[i, t])
    assert np.isnan(flips[:, 0]).all()


def test_nonlinearity_usage_by_hand():
    codes = [[0, 0, 2, 2, 3, -1], [0, 1, 1, 0, 0, 0]]
    epoch = xr.DataArray(
        [["a", "a", "b", "b", "b", ""], ["a", "a", "b", "b", "b", "b"]], dims=("trial", "time")
    )
    nl = nonlinearity_usage(bitcode_array(codes), epoch=epoch, n_pwl=2, n_latent=8)
    np.testing.assert_allclose(nl.fraction_active_steps, 5 / 11)  # codes != 0
    np.testing.assert_allclose(nl.fraction_switching_steps, 4 / 9)  # 0->2, 2->3, 0->1, 1->0
    np.testing.assert_allclose(nl.unit_active_fraction.values, [3 / 11, 3 / 11])
    np.testing.assert_allclose(nl.epoch_fraction_active.sel(epoch="a"), 1 / 4)
    np.testing.assert_allclose(nl.segment_fraction_active.sel(epoch="a"), 1 / 2)
    np.testing.assert_allclose(nl.segment_fraction_switching.values, [1 / 2, 1.0])
    assert nl.attrs["ops_ratio"] == 0.25 and nl.pwl_unit.values.tolist() == [6, 7]


def test_input_errors_name_the_fix():
    with pytest.raises(DataValidationError, match="dims"):
        region_usage(xr.DataArray(np.zeros(3, int), dims=("time",)))
    with pytest.raises(DataValidationError, match="valid mask"):
        region_usage(bitcode_array([[1, -2]]), xr.DataArray([[True, True]], dims=("trial", "time")))
    with pytest.raises(DataValidationError, match="no valid steps"):
        region_usage(bitcode_array([[-1, -1]]))
