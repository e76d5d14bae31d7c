"""The selection figure and verdict words: verdicts named, minimal P marked, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.errors import DataValidationError
from alrnn_neuro.plotting.selection import plot_selection, save_selection_figure
from alrnn_neuro.sweep.selection import verdict_lines
from alrnn_neuro.sweep.selection_verdict import select_pwl_units


def selection(effects, n_trials=100, sigma=0.2, seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    n = 1.0 + rng.poisson(30, n_trials)
    base = rng.normal(-200, 20, n_trials)
    rows = [base] + [base + np.log(2) * (e * n + rng.normal(0, sigma, n_trials)) for e in effects]
    return select_pwl_units(np.stack(rows), base - 0.05 * n, n, [0, 1, 2], n_boot=100)


def title(fig) -> str:
    return " ".join(text.get_text() for text in fig.texts)


def test_figure_names_and_marks_the_minimal_p(tmp_path):
    fig = plot_selection(selection([0.01, 0.01]))
    assert len(fig.axes) == 2
    assert "minimal sufficient P: P = 1" in title(fig)
    assert "P = 0 insufficient: yes" in title(fig)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "minimal sufficient P = 1" in labels
    path = save_selection_figure(fig, tmp_path / "s.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_figure_says_cannot_tell():
    fig = plot_selection(selection([0.0, 0.0], n_trials=5, sigma=20.0))
    assert "cannot tell" in title(fig)


def test_figure_rejects_other_datasets():
    with pytest.raises(DataValidationError, match=r"lacks \['bits_per_spike'.*select_nonlinearity"):
        plot_selection(xr.Dataset({"x": ("pwl_units", [1.0])}))


def test_verdict_words_cover_every_outcome():
    needed = verdict_lines(selection([0.01, 0.01]))
    assert needed[0].startswith("P = 0 is insufficient: best P = ")
    assert needed[1].startswith("Minimal sufficient P = 1")
    unclear = verdict_lines(selection([0.0, 0.0], n_trials=5, sigma=20.0))
    assert unclear[0].startswith("P = 0 is not shown insufficient")
    assert unclear[1].startswith("Minimal sufficient P: cannot tell")
    # a loss of 0.0025 bits/spike with tight errors: detectable, yet inside the margin
    both = verdict_lines(selection([0.0025, 0.0025], n_trials=2000, sigma=0.05))
    assert both[1].startswith("Minimal sufficient P = 0") and both[2].startswith("Both hold")
    rng = np.random.default_rng(1)
    n = 1.0 + rng.poisson(30, 50)
    ll = rng.normal(-200, 20, (2, 50))
    no_zero = verdict_lines(select_pwl_units(ll, ll[0], n, [1, 2], n_boot=0))
    assert no_zero[0] == "P = 0 is not in the sweep: its sufficiency is not tested."


def test_verdict_names_the_best_nonzero_p_when_p0_is_best():
    """Not "best P = 0 beats P = 0 by +0.0000": the words compare P = 0 with the best P > 0."""
    result = selection([-0.01, -0.005])
    assert int(result["best_pwl_units"]) == 0
    first = verdict_lines(result)[0]
    gain = float(result["gain_vs_zero"].sel(pwl_units=2))
    assert first.startswith("P = 0 is not shown insufficient: P = 0 is the best P; the best P > 0,")
    assert f"P = 2, differs by {gain:+.4f} bits/spike" in first
    assert "beats P = 0" not in first


def test_verdict_without_bootstrap_says_there_is_no_ci_instead_of_nan():
    rng = np.random.default_rng(2)
    n = 1.0 + rng.poisson(30, 50)
    ll = rng.normal(-200, 20, (3, 50))
    first = verdict_lines(select_pwl_units(ll, ll[0], n, [0, 1, 2], n_boot=0))[0]
    assert "no CI: n_boot = 0" in first and "nan" not in first
