"""Every ``plot_*`` draws into the caller's axes and returns the figure; figures read well."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

import alrnn_neuro.plotting as plotting
from alrnn_neuro.analysis.pipeline import analyze_run
from alrnn_neuro.analysis.rsa.pipeline import run_rsa
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.plotting import regimes as pr
from alrnn_neuro.plotting import rsa as prsa
from alrnn_neuro.plotting.labels import label_points
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig

#: draws and saves many figures into a folder: it has no single axes to take
SAVES_FILES = {"plot_analysis"}


@pytest.fixture(scope="module")
def analysed():
    ds = simulate_stimulus_selection(n_trials=80, n_units=6, seed=1, lfp=False)
    result = fit(ds, FitConfig(latent_dim=3, pwl_units=2, epochs=2, init_bins=5))
    analysis = analyze_run(result, n_null=5)
    rsa, _ = run_rsa(
        result.latents,
        ds,
        conditions=["rule", "location"],
        trials="all",
        n_perm=5,
        n_boot=200,
        init_bins=5,
    )
    return analysis, rsa


def _canvas(rows: int = 1, cols: int = 1):
    fig = Figure(figsize=(4 * cols, 3 * rows))
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False)


def test_every_plot_function_takes_ax_or_axes():
    names = [m.name for m in pkgutil.iter_modules(plotting.__path__)]
    checked = 0
    for name in names:
        module = importlib.import_module(f"alrnn_neuro.plotting.{name}")
        for fname, func in inspect.getmembers(module, inspect.isfunction):
            if not fname.startswith("plot_") or fname in SAVES_FILES:
                continue
            params = inspect.signature(func).parameters
            assert "ax" in params or "axes" in params, f"{name}.{fname}"
            assert inspect.signature(func).return_annotation in ("Figure", Figure), fname
            checked += 1
    assert checked >= 15


def test_regime_figures_draw_into_given_axes(analysed):
    analysis, _ = analysed
    reg, dyn = analysis.regimes, analysis.dynamics
    single = [
        lambda ax: pr.plot_trajectories(analysis.latents, n_pwl=2, ax=ax),
        lambda ax: pr.plot_region_epoch(reg["region_epoch"], ax=ax),
        lambda ax: pr.plot_transition_graph(reg["transition_probability"], reg["frequency"], ax=ax),
        lambda ax: pr.plot_eigenvalues(dyn, ax=ax),
    ]
    for draw in single:
        fig, axes = _canvas()
        assert draw(axes[0, 0]) is fig and axes[0, 0].has_data() or axes[0, 0].texts
    events = int(np.isfinite(reg["switch_latency"]).any("trial").sum())
    fig, axes = _canvas(events, 1)
    assert pr.plot_switch_latency(reg["switch_latency"], axes=axes) is fig
    assert all(ax.get_ylabel() == "trials" for ax in axes[:, 0])


def test_rsa_figures_draw_into_given_axes(analysed):
    _, rsa = analysed
    fig, axes = _canvas()
    assert prsa.plot_similarity(rsa, ax=axes[0, 0]) is fig
    segments = int(np.isfinite(rsa["estimate"]).any("area").sum())
    rows, cols = min(segments, prsa.MAX_PANELS), 1 + rsa.sizes["area"]
    for plot in (prsa.plot_rdms, prsa.plot_mds):
        fig, axes = _canvas(rows, cols)
        assert plot(rsa, axes=axes) is fig
        with pytest.raises(ConfigError, match=rf"axes= has 1 axes but this plot draws {rows} x"):
            plot(rsa, axes=_canvas()[1])


def test_region_epoch_is_labelled_by_bit_string_and_fills_the_canvas(analysed):
    analysis, _ = analysed
    table = analysis.regimes["region_epoch"]
    fig = pr.plot_region_epoch(table)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [str(b) for b in table["bits"].values] and all(len(b) == 2 for b in labels)
    assert ax.get_position().width > 0.6  # the heatmap, not white space, fills the width


def test_transition_graph_explains_its_nodes(analysed):
    analysis, _ = analysed
    reg = analysis.regimes
    fig = pr.plot_transition_graph(reg["transition_probability"], reg["frequency"])
    ax = fig.axes[0]
    assert "bit string" in ax.get_xlabel() and "node size" in ax.get_xlabel()
    nodes = {t.get_text().split("\n")[0] for t in ax.texts if t.get_text()}  # not arrows
    assert nodes == {str(b) for b in reg["bits"].values}


def test_crowded_labels_do_not_overlap():
    fig, axes = _canvas()
    ax = axes[0, 0]
    rng = np.random.default_rng(0)
    xy = np.vstack([rng.normal(0, 0.01, (6, 2)), [[1.0, 1.0], [np.nan, np.nan]]])
    names = [f"condition {k}" for k in range(8)]
    ax.scatter(xy[:, 0], xy[:, 1])
    drawn = label_points(ax, xy, names)
    assert len(drawn) == 7  # the NaN point gets none
    fig.canvas.draw()
    boxes = [Text.get_window_extent(a) for a in drawn]  # the text, not its leader line
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (names[i], names[j])
    inside = ax.get_window_extent()
    assert all(b.x0 >= inside.x0 - 1 and b.x1 <= inside.x1 + 1 for b in boxes)


def _rates(p_values=(0, 2)):
    import pandas as pd

    rows = [
        dict(
            latent_dim=7,
            pwl_units=p,
            train_fraction=1.0,
            finding=finding,
            n_testable=5,
            n_holds=holds,
            rate=holds / 5,
        )
        for p in p_values
        for finding, holds in (("rule routing", 4), ("slow hold", 5))
    ]
    return pd.DataFrame(rows)


def test_replication_figure_draws_into_given_axes_and_refuses_too_few():
    from alrnn_neuro.plotting.replication import plot_replication

    fig, grid = _canvas(1, 1)
    assert plot_replication(_rates((2,)), axes=grid[0]) is fig
    assert [t.get_text() for t in grid[0, 0].texts] == ["4/5", "5/5"]
    fig, grid = _canvas(1, 2)
    plot_replication(_rates(), sweep=True, axes=grid)
    assert grid[0, 0].get_xlabel() == "PWL units P"
    two_configs = _rates()
    two_configs.loc[two_configs["pwl_units"] == 2, "latent_dim"] = 9
    with pytest.raises(ConfigError, match="axes= has 1 axes"):
        plot_replication(two_configs, sweep=True, axes=[_canvas()[1][0, 0]])
