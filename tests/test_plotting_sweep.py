"""Figures of sweep and multi-task results (alrnn_neuro.plotting.sweep) on synthetic tables."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.container import ErrorbarContainer

from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.plotting import sweep as ps

PWL = [0, 1, 2, 4]
SEEDS = [0, 1, 2]
FRACTIONS = [0.25, 1.0]


def synthetic_results(metric: str = "test_bits_per_spike", seed: int = 0) -> xr.Dataset:
    """A results table shaped like collect_results: alrnn + gru, baselines repeated over P."""
    rng = np.random.default_rng(seed)
    shape = (2, len(PWL), len(SEEDS), len(FRACTIONS))
    values = rng.normal(0.1, 0.02, shape)
    values[1] = values[1, :1]  # gru: same value for every P, as collect_results writes it
    regions = np.broadcast_to(np.minimum(2.0 ** np.array(PWL), 3)[None, :, None, None], shape)
    regions = regions.copy()
    regions[1] = np.nan
    dims = ("model", "pwl_units", "seed", "train_fraction")
    coords = {"model": ["alrnn", "gru"], "pwl_units": PWL, "seed": SEEDS,
              "train_fraction": FRACTIONS, "latent_dim": 4}  # fmt: skip
    return xr.Dataset(
        {metric: (dims, values), "test_loss": (dims, -values), "regions_used": (dims, regions)},
        coords=coords,
    )


def synthetic_multitask(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    tasks, regions = ["go", "anti", "dm1"], np.arange(8)
    usage = rng.random((len(PWL), len(SEEDS), len(tasks), regions.size))
    usage[0, :, :, 1:] = 0.0  # P = 0: one region
    usage /= usage.sum(-1, keepdims=True)
    shared = rng.random((len(PWL), len(SEEDS)))
    return xr.Dataset(
        {
            "region_usage": (("pwl_units", "seed", "task", "region"), usage),
            "shared_index": (("pwl_units", "seed"), shared),
            "usage_entropy": (("pwl_units", "seed", "task"), rng.random(usage.shape[:3])),
            "task_accuracy": (("pwl_units", "seed", "task"), rng.random(usage.shape[:3])),
        },
        coords={"pwl_units": PWL, "seed": SEEDS, "task": tasks, "region": regions},
    )


def errorbar_y(ax, label: str) -> np.ndarray:
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer) and c.get_label() == label:
            return np.asarray(c.lines[0].get_ydata(), dtype=float)
    raise AssertionError(f"no errorbar labelled {label!r}")


def test_default_metric_order():
    res = synthetic_results()
    assert ps.default_metric(res) == "test_bits_per_spike"
    assert ps.default_metric(synthetic_results("test_accuracy")) == "test_accuracy"
    assert ps.default_metric(res.drop_vars("test_bits_per_spike")) == "test_loss"


def test_default_metric_rejects_table_without_metrics():
    with pytest.raises(DataValidationError, match="none of.*results.nc"):
        ps.default_metric(xr.Dataset({"fit_seconds": ("seed", [1.0])}))


def test_mean_sem_matches_numpy():
    data = xr.DataArray([[1.0, 2.0, 4.0], [3.0, np.nan, np.nan]], dims=("p", "seed"))
    mean, sem = ps.mean_sem(data)
    np.testing.assert_allclose(mean.values, [7 / 3, 3.0])
    np.testing.assert_allclose(sem.values, [np.std([1, 2, 4], ddof=1) / np.sqrt(3), 0.0])


def test_performance_vs_p_draws_mean_seeds_baseline_and_minimal_p():
    res = synthetic_results()
    fig = ps.plot_performance_vs_p(res, minimal_p=2)
    ax = fig.axes[0]
    top = res["test_bits_per_spike"].sel(model="alrnn", train_fraction=1.0).values
    np.testing.assert_allclose(errorbar_y(ax, "AL-RNN mean ± sem"), top.mean(axis=1))
    seeds = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert len(seeds) == len(SEEDS)
    np.testing.assert_allclose(np.sort(seeds[0].get_ydata()), np.sort(top[:, 0]))
    gru = res["test_bits_per_spike"].sel(model="gru", train_fraction=1.0).isel(pwl_units=0)
    base = [ln for ln in ax.lines if ln.get_label().startswith("gru")]
    assert base and np.isclose(base[0].get_ydata()[0], float(gru.mean()))
    vline = [ln for ln in ax.lines if "minimal sufficient P = 2" in ln.get_label()]
    assert vline and vline[0].get_xdata()[0] == PWL.index(2)
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(p) for p in PWL]


def test_performance_vs_p_picks_fraction():
    res = synthetic_results()
    fig = ps.plot_performance_vs_p(res, train_fraction=0.25)
    low = res["test_bits_per_spike"].sel(model="alrnn", train_fraction=0.25).values
    np.testing.assert_allclose(errorbar_y(fig.axes[0], "AL-RNN mean ± sem"), low.mean(axis=1))
    assert "0.25" in fig.axes[0].get_title()


def test_performance_vs_train_fraction_one_line_per_p():
    res = synthetic_results()
    fig = ps.plot_performance_vs_train_fraction(res)
    ax = fig.axes[0]
    for p in PWL:
        expected = res["test_bits_per_spike"].sel(model="alrnn", pwl_units=p).mean("seed")
        np.testing.assert_allclose(errorbar_y(ax, f"AL-RNN P = {p}"), expected.values)
    gru = res["test_bits_per_spike"].sel(model="gru").isel(pwl_units=0).mean("seed")
    np.testing.assert_allclose(errorbar_y(ax, "gru"), gru.values)


def test_performance_vs_train_fraction_needs_fractions():
    res = synthetic_results().isel(train_fraction=-1)
    with pytest.raises(DataValidationError, match="one train fraction.*--train-fraction"):
        ps.plot_performance_vs_train_fraction(res)


def test_regions_vs_p_shows_existing_regions():
    res = synthetic_results()
    fig = ps.plot_regions_vs_p(res)
    ax = fig.axes[0]
    exists = [ln for ln in ax.lines if ln.get_label() == "2^P regions exist"][0]
    np.testing.assert_allclose(exists.get_ydata(), 2.0 ** np.array(PWL))
    np.testing.assert_allclose(errorbar_y(ax, "train fraction 1"), [1, 2, 3, 3])


def test_plots_reject_extra_dims():
    res = xr.concat([synthetic_results(), synthetic_results(seed=1)], dim="latent_dim")
    with pytest.raises(DataValidationError, match="extra.*latent_dim.*sel"):
        ps.plot_performance_vs_p(res)


def test_task_sweeps_one_panel_per_task():
    tasks = {"copy": synthetic_results("test_accuracy"), "add": synthetic_results(seed=2)}
    fig = ps.plot_task_sweeps(tasks, ncols=3)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled == ["copy", "add"]


def test_shared_index_mean_over_seeds():
    mt = synthetic_multitask()
    fig = ps.plot_shared_index(mt)
    got = errorbar_y(fig.axes[0], "shared index (mean overlap), mean ± sem")
    np.testing.assert_allclose(got, mt["shared_index"].values.mean(axis=1))


def test_region_usage_heatmap_of_largest_p():
    mt = synthetic_multitask()
    assert ps.pick_model(mt["region_usage"]) == (4, 0)
    fig = ps.plot_region_usage(mt)
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(image, mt["region_usage"].sel(pwl_units=4, seed=0).values)
    fig = ps.plot_region_usage(mt, pwl_units=0, seed=1)
    assert fig.axes[0].images[0].get_array().shape == (3, 1)  # only the region used


def test_multitask_plots_name_missing_variable():
    with pytest.raises(DataValidationError, match="lack 'shared_index'"):
        ps.plot_shared_index(synthetic_multitask().drop_vars("shared_index"))
