"""Multi-task region usage: per-task distributions, overlap, entropy, sharing across P."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import cityblock
from scipy.stats import entropy
from sklearn.metrics import mutual_info_score

from alrnn_neuro.analysis.multitask import (
    pairwise_overlap,
    shared_index,
    task_region_usage,
    task_specificity,
    usage_entropy,
    usage_measures,
)
from alrnn_neuro.errors import DataValidationError, RunDirError
from alrnn_neuro.sweep.multitask import sweep_multitask


def codes(rows: list[list[int]], tasks: list[str]) -> xr.DataArray:
    return xr.DataArray(np.array(rows), dims=("trial", "time"), coords={"task": ("trial", tasks)})


def test_fully_shared_regions_give_index_one_and_specificity_zero():
    bit = codes([[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2]], ["a", "b", "c"])
    usage = task_region_usage(bit)
    assert np.allclose(usage.values, 0.25)
    assert shared_index(usage) == pytest.approx(1.0)
    assert task_specificity(usage) == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(usage_entropy(usage).values, 2.0)


def test_disjoint_regions_give_index_zero_and_specificity_one():
    bit = codes([[0, 1, 0, 1], [2, 2, 2, 2], [3, 4, 5, 6]], ["a", "b", "c"])
    usage = task_region_usage(bit)
    assert shared_index(usage) == pytest.approx(0.0)
    assert task_specificity(usage) == pytest.approx(1.0)
    assert usage_entropy(usage).values.tolist() == pytest.approx([1.0, 0.0, 2.0])


def test_p0_single_region_is_fully_shared_with_zero_entropy():
    bit = codes([[0, 0, 0, -1], [0, 0, -1, -1]], ["x", "y"])
    m = usage_measures(task_region_usage(bit))
    assert m["shared_index"] == pytest.approx(1.0)
    assert m["usage_entropy"].values.tolist() == [0.0, 0.0]
    assert m["task_specificity"] == pytest.approx(0.0, abs=1e-12)
    assert m["regions_used"] == 1


def test_partial_overlap_matches_independent_references():
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 5, size=(6, 40))
    tasks = ["a", "a", "b", "b", "c", "c"]
    usage = task_region_usage(codes(rows.tolist(), tasks))
    p = usage.values
    over = pairwise_overlap(usage).values
    for i in range(3):
        assert usage_entropy(usage).values[i] == pytest.approx(entropy(p[i], base=2))
        for j in range(3):  # overlap = 1 - total-variation distance
            assert over[i, j] == pytest.approx(1 - 0.5 * cityblock(p[i], p[j]))
    assert shared_index(usage) == pytest.approx(np.mean([over[0, 1], over[0, 2], over[1, 2]]))
    # equal step counts per task -> equal weights: normalised MI = I(task; region) / H(task)
    labels = np.repeat(tasks, 40)
    ref = mutual_info_score(labels, rows.ravel()) / np.log(3)
    assert task_specificity(usage) == pytest.approx(ref)


def test_hand_values_half_overlap():
    bit = codes([[0, 1], [1, 2]], ["a", "b"])
    usage = task_region_usage(bit)
    assert usage.region.values.tolist() == [0, 1, 2]
    assert shared_index(usage) == pytest.approx(0.5)


def test_valid_mask_and_fixed_region_axis():
    bit = codes([[0, 1, 1, 1]], ["a"])
    valid = xr.DataArray([[True, True, False, False]], dims=("trial", "time"))
    usage = task_region_usage(bit, valid, regions=range(4))
    assert usage.sel(task="a").values.tolist() == [0.5, 0.5, 0.0, 0.0]
    assert usage.attrs["n_steps"] == [2]
    assert np.isnan(shared_index(usage))  # one task: no pair


def test_task_without_steps_is_nan_and_left_out():
    bit = codes([[0, 0], [1, 1], [-1, -1]], ["a", "b", "c"])
    usage = task_region_usage(bit)
    assert np.isnan(usage.sel(task="c").values).all()
    assert np.isnan(usage_entropy(usage).sel(task="c"))
    assert shared_index(usage) == pytest.approx(0.0)


def test_explicit_task_order_and_labels():
    bit = xr.DataArray([[0, 1], [1, 1]], dims=("trial", "time"))
    usage = task_region_usage(bit, task=["b", "a"], tasks=["a", "b", "z"])
    assert usage.task.values.tolist() == ["a", "b", "z"]
    assert usage.sel(task="a").values.tolist() == [0.0, 1.0]


def test_codes_outside_regions_raise():
    with pytest.raises(DataValidationError, match="not in regions"):
        task_region_usage(codes([[0, 5]], ["a"]), regions=[0, 1])


def test_missing_task_labels_raise():
    with pytest.raises(DataValidationError, match="no 'task' coord"):
        task_region_usage(xr.DataArray([[0, 1]], dims=("trial", "time")))


def test_wrong_task_length_raises():
    with pytest.raises(DataValidationError, match="one task name per trial"):
        task_region_usage(xr.DataArray([[0, 1]], dims=("trial", "time")), task=["a", "b"])


def test_usage_with_wrong_dims_raises():
    with pytest.raises(DataValidationError, match="dims \\(task, region\\)"):
        usage_entropy(xr.DataArray([0.5, 0.5], dims="region"))


def test_sweep_multitask_assembles_cells(tmp_path):
    from alrnn_neuro.simulate.tasks import make_multitask
    from alrnn_neuro.sweep import SweepGrid, run_sweep
    from alrnn_neuro.training.config import FitConfig

    ds = make_multitask(6, seed=0, tasks=("DelayPro", "GoNogo", "ReactPro"))
    grid = SweepGrid(pwl_units=(0, 2), seeds=(0, 1), latent_dims=(3,))
    run_sweep(ds, grid, FitConfig(epochs=1, latent_dim=3), out=tmp_path / "sw")
    mt = sweep_multitask(tmp_path / "sw", ds)
    assert dict(mt["region_usage"].sizes) == {
        "pwl_units": 2, "seed": 2, "task": 3, "region": mt.sizes["region"],
    }  # fmt: skip
    assert mt["shared_index"].dims == ("pwl_units", "seed")
    assert mt["usage_entropy"].dims == mt["task_accuracy"].dims == ("pwl_units", "seed", "task")
    p0 = mt.sel(pwl_units=0)
    assert np.allclose(p0["shared_index"], 1.0) and np.allclose(p0["usage_entropy"], 0.0)
    sums = mt["region_usage"].sum("region")
    assert np.allclose(sums.values, 1.0)
    assert mt.region.size <= 4
    acc = mt["task_accuracy"].values
    assert np.all(np.isnan(acc) | ((acc >= 0) & (acc <= 1)))


def test_sweep_multitask_without_sweep_raises(tmp_path):
    with pytest.raises(RunDirError, match="holds no sweep.json"):
        sweep_multitask(tmp_path)


def test_cells_past_62_rectified_units_keep_their_accuracy_and_nan_region_measures(tmp_path):
    from alrnn_neuro.simulate.tasks import make_multitask
    from alrnn_neuro.sweep import SweepGrid, run_sweep
    from alrnn_neuro.training.config import FitConfig

    ds = make_multitask(6, seed=0, tasks=("DelayPro", "GoNogo", "ReactPro"))
    grid = SweepGrid(pwl_units=(2, 64), seeds=(0,), latent_dims=(64,))
    run_sweep(ds, grid, FitConfig(epochs=1, latent_dim=64), out=tmp_path / "sw")
    for untrained in (False, True):
        mt = sweep_multitask(tmp_path / "sw", ds, untrained=untrained)
        coded, uncoded = mt.sel(pwl_units=2, seed=0), mt.sel(pwl_units=64, seed=0)
        assert np.allclose(coded["region_usage"].sum("region"), 1.0)
        acc = uncoded["task_accuracy"].values
        assert np.isfinite(acc).any() and np.all(np.isnan(acc) | ((acc >= 0) & (acc <= 1)))
        for name in ("region_usage", "overlap", "usage_entropy", "regions_per_task"):
            assert np.isnan(uncoded[name].values).all(), name
        for name in ("shared_index", "task_specificity", "regions_used"):
            assert np.isnan(float(uncoded[name])), name
