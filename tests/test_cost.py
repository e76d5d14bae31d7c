"""Cost vs P: exact operation and region counts, interleaved timings, the figure, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from alrnn_neuro.analysis.cost import model_cost
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.plotting.cost import plot_cost_vs_p


@pytest.fixture(scope="module")
def cost():
    return model_cost(6, (6, 0, 2, 2), input_dim=3, n_steps=12, batch_size=4, repeats=2, seed=1)


def test_counts_are_exact_and_p_sorted_unique(cost):
    assert list(cost["pwl_units"].values) == [0, 2, 6]
    assert list(cost["nonlinear_ops_per_step"].values) == [0, 2, 6]
    assert list(cost["n_regions"].values) == [1.0, 4.0, 64.0]
    assert set(cost["multiply_adds_per_step"].values) == {6 * 6 + 6 * 3 + 6}
    assert cost.attrs["latent_dim"] == 6 and cost.attrs["input_dim"] == 3


def test_timings_are_measured_and_relative_to_the_smallest_p(cost):
    seconds = cost["step_seconds"].values
    assert np.all(seconds > 0) and np.all(np.isfinite(cost["fixed_point_seconds"].values))
    np.testing.assert_allclose(cost["step_ratio"].values, seconds / seconds[0])
    assert cost["step_ratio"].values[0] == 1.0
    assert all("description" in cost[name].attrs for name in cost.data_vars)


def test_fixed_points_beyond_the_region_cap_are_not_timed():
    table = model_cost(5, (1, 5), input_dim=2, n_steps=5, batch_size=2, repeats=1, max_regions=4)
    assert np.isfinite(table["fixed_point_seconds"].sel(pwl_units=1))
    assert np.isnan(table["fixed_point_seconds"].sel(pwl_units=5))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pwl_units": (0, 7)}, r"pwl_units \[7\] lie outside 0..latent_dim=6"),
        ({"pwl_units": ()}, "pwl_units is empty"),
        ({"pwl_units": (1,), "repeats": 0}, "repeats=0 must be >= 1"),
        ({"pwl_units": (1,), "clock": "gpu"}, "clock='gpu' is unknown"),
    ],
)
def test_bad_arguments_name_field_and_fix(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        model_cost(6, input_dim=2, **kwargs)


def test_figure_draws_one_line_set_per_task_into_given_axes(cost):
    other = model_cost(4, (0, 4), input_dim=2, n_steps=5, batch_size=2, repeats=1)
    stacked = xr.concat([cost, other], dim="task", join="outer").assign_coords(task=["a", "b"])
    fig = Figure()
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    assert plot_cost_vs_p(stacked, axes=axes) is fig
    labels = [line.get_label() for line in axes[1].get_lines()]
    assert sum(label.startswith("a:") for label in labels) == 2
    assert sum(label.startswith("b:") for label in labels) == 2
    step_b = next(ln for ln in axes[1].get_lines() if ln.get_label() == "b: training step")
    assert list(step_b.get_xdata()) == [0, 4]  # task b's missing P are skipped, not drawn
    regions = next(ln for ln in axes[0].get_lines() if ln.get_label() == "linear regions 2^P")
    assert list(regions.get_xdata()) == [0, 2, 4, 6]
    assert list(regions.get_ydata()) == [1, 4, 16, 64]
    with pytest.raises(DataValidationError, match="lacks"):
        plot_cost_vs_p(cost.drop_vars("step_ratio"))
