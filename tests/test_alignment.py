"""Regimes vs task epochs and conditions: tables, AMI scores with nulls, switch latencies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_mutual_info_score

from alrnn_neuro.analysis import (
    alignment_scores,
    epoch_transition_graphs,
    latency_by_condition,
    region_condition_table,
    region_epoch_table,
    switch_latency,
    transition_matrix,
)
from alrnn_neuro.analysis.alignment import _ami, _circular_index
from alrnn_neuro.errors import DataValidationError

BIN = 0.05


def task_data(seed=0, n_trials=60, n_time=24, locked=True, noise=0.1):
    """Ragged trials with epochs pre/stim/resp; regions locked to epochs (and rule in stim)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(18, n_time + 1, n_trials)
    valid = np.arange(n_time)[None] < lengths[:, None]
    t = np.arange(n_time)
    epoch = np.where(t < 6, "pre", np.where(t < 14, "stim", "resp"))[None].repeat(n_trials, 0)
    epoch = np.where(valid, epoch, "")
    rule = rng.choice(["loc", "pitch"], n_trials)
    if locked:
        codes = np.where(epoch == "pre", 0, np.where(epoch == "stim", 1, 3))
        codes = np.where((epoch == "stim") & (rule[:, None] == "pitch"), 2, codes)
        codes = np.where(rng.random(codes.shape) < noise, rng.integers(0, 4, codes.shape), codes)
    else:
        codes = rng.integers(0, 4, (n_trials, n_time))
    codes = np.where(valid, codes, -1)
    coords = {
        "trial": np.arange(n_trials),
        "time": (t - 6 + 0.5) * BIN,
        "rule": ("trial", rule),
        "choice": ("trial", np.where(rng.random(n_trials) < 0.5, "left", "right")),
        "event_stim": ("trial", np.zeros(n_trials)),
    }
    bc = xr.DataArray(codes, dims=("trial", "time"), coords=coords, attrs={"bin_size": BIN})
    return (
        bc,
        xr.DataArray(valid, dims=("trial", "time")),
        xr.DataArray(epoch, dims=("trial", "time")),
    )


def test_region_epoch_table_matches_crosstab():
    bc, valid, epoch = task_data(1)
    table = region_epoch_table(bc, epoch, valid)
    ok = valid.values
    ref = pd.crosstab(bc.values[ok], epoch.values[ok])
    assert table.dims == ("region", "epoch") and table.epoch.values.tolist() == [
        "pre",
        "stim",
        "resp",
    ]
    for e in table.epoch.values:
        np.testing.assert_array_equal(
            table.sel(epoch=e).values, ref[e].reindex(table.region.values, fill_value=0).values
        )


def test_region_condition_table_per_epoch():
    bc, valid, epoch = task_data(2, noise=0.0)
    table = region_condition_table(bc, "rule", valid, epoch)
    assert table.dims == ("region", "rule", "epoch")
    stim = table.sel(epoch="stim")
    assert stim.sel(region=1, rule="pitch") == 0 and stim.sel(region=2, rule="loc") == 0
    assert int(table.sum()) == int(valid.sum())
    flat = region_condition_table(bc, "rule", valid)
    np.testing.assert_array_equal(flat.values, table.sum("epoch").values)
    with pytest.raises(DataValidationError, match="not a trial coord"):
        region_condition_table(bc, "stimulus", valid)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 200),
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(0, 2**31 - 1),
)
def test_fast_ami_equals_sklearn(n, rx, ry, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, rx, n), rng.integers(0, ry, n)
    if rng.random() < 0.5:
        y = (x + rng.integers(0, 2, n)) % ry
    assert _ami(x, y, {}) == pytest.approx(adjusted_mutual_info_score(x, y), abs=1e-10)


def test_circular_index_rotates_each_trial():
    rng = np.random.default_rng(0)
    ok = np.arange(7)[None] < np.array([7, 3, 1, 5])[:, None]
    values = np.arange(ok.sum())
    idx = _circular_index(ok, rng)
    start = 0
    for n in ok.sum(1):
        seg, orig = values[idx][start : start + n], values[start : start + n]
        assert any(np.array_equal(seg, np.roll(orig, s)) for s in range(n))
        start += n


def test_alignment_scores_detect_locking_and_null():
    bc, valid, epoch = task_data(3)
    df = alignment_scores(bc, valid, epoch, ["rule", "choice"], n_null=49, seed=0).set_index(
        ["variable", "epoch"]
    )
    row = df.loc[("epoch", "all")]
    assert row.ami > 0.5 and row.p_circular == pytest.approx(1 / 50)
    assert row.ami == pytest.approx(
        adjusted_mutual_info_score(epoch.values[valid.values], bc.values[valid.values])
    )
    assert df.loc[("rule", "stim")].p_shuffle == pytest.approx(1 / 50)
    assert df.loc[("rule", "pre")].p_shuffle > 0.05
    assert df.loc[("choice", "all")].p_shuffle > 0.05
    assert np.isnan(df.loc[("rule", "all")].p_circular)  # degenerate null, reported as NaN
    # seeded: identical on rerun
    again = alignment_scores(bc, valid, epoch, ["rule", "choice"], n_null=49, seed=0)
    pd.testing.assert_frame_equal(df.reset_index(), again)


def test_alignment_scores_unlocked_regions_are_not_significant():
    bc, valid, epoch = task_data(4, locked=False)
    df = alignment_scores(bc, valid, epoch, ["rule"], n_null=49, seed=1, per_epoch=False)
    assert (df[["p_circular", "p_shuffle"]].min(axis=1) > 0.05).all()
    assert abs(df.ami).max() < 0.05


def test_switch_latency_by_hand():
    # bins of 0.1 s centred at 0.05, 0.15, ...; events relative to alignment
    codes = np.array([[0, 1, 1, 1, 2, 2], [0, 0, 0, 0, 0, 0], [0, 0, 1, 1, -1, -1]])
    coords = {
        "trial": [0, 1, 2],
        "time": 0.1 * np.arange(6) + 0.05,
        "event_go": ("trial", [0.22, 0.1, np.nan]),
        "rule": ("trial", ["a", "a", "b"]),
        "event_cue": ("trial", [0.0, 0.0, 0.12]),
    }
    bc = xr.DataArray(codes, dims=("trial", "time"), coords=coords, attrs={"bin_size": 0.1})
    lat = switch_latency(bc)
    assert lat.dims == ("trial", "event") and set(lat.event.values) == {"go", "cue"}
    go, cue = lat.sel(event="go").values, lat.sel(event="cue").values
    # trial 0: go at 0.22 -> next change at bin 4 (centre 0.45); cue at 0 -> bin 1 (0.15)
    np.testing.assert_allclose([go[0], cue[0]], [0.45 - 0.22, 0.15])
    assert np.isnan(go[1]) and np.isnan(cue[1])  # never changes
    assert np.isnan(go[2])  # missing event
    np.testing.assert_allclose(cue[2], 0.25 - 0.12)  # the change in the bin holding the event
    summary = latency_by_condition(lat, "rule")
    row = summary[(summary.event == "cue") & (summary.rule == "a")].iloc[0]
    assert row.n_trials == 2 and row.n_switched == 1 and row["median"] == pytest.approx(0.15)
    with pytest.raises(DataValidationError, match="event_"):
        switch_latency(bc.drop_vars(["event_go", "event_cue"]))


def test_epoch_transition_graphs_partition_all_transitions():
    bc, valid, epoch = task_data(5)
    graphs = epoch_transition_graphs(bc, epoch, valid)
    total = transition_matrix(bc, valid)
    assert dict(graphs.sizes) == {"epoch": 3, "region_from": 4, "region_to": 4}
    summed = (
        graphs["count"].sum("epoch").sel(region_from=total.region_from, region_to=total.region_to)
    )
    np.testing.assert_array_equal(summed.values, total["count"].values)
    prob = graphs.probability.sel(epoch="stim")
    np.testing.assert_allclose(prob.sum("region_to").values, 1.0)
