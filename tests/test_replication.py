"""Replication of regimes and primitives across fits of one configuration."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis import replication as rep
from alrnn_neuro.analysis.pipeline import analyze_run
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training import FitConfig, fit


@pytest.fixture(scope="module")
def fits():
    ds = simulate_stimulus_selection(n_trials=120, n_units=10, seed=11, lfp=False)
    cfg = FitConfig(latent_dim=4, pwl_units=2, epochs=3, init_bins=5)
    return ds, [fit(ds, cfg.replace(seed=s)) for s in (0, 1, 2)]


def test_table_has_one_row_per_fit_and_rates_within_bounds(fits):
    ds, results = fits
    table, summary = rep.replication_table(results, ds, n_null=9)
    assert table["found"].dims == ("fit", "finding") and table.sizes["fit"] == 3
    assert list(table["finding"].values) == list(rep.FINDINGS)
    assert summary["n_fits"] == 3
    for finding in rep.FINDINGS:
        s = summary[finding]
        expected = table["found"].sel(finding=finding).values.sum()
        assert s["n_found"] == expected and s["n_testable"] <= 3
        if s["n_testable"]:
            assert s["rate"] == pytest.approx(s["n_found"] / s["n_testable"])
    # the simulator has the rule, hold epoch and the sounds: routing and hold are testable
    assert summary["rule_routing"]["n_testable"] == 3 and summary["slow_hold"]["n_testable"] == 3


def test_rates_count_only_the_fits_where_a_finding_holds(fits, monkeypatch):
    ds, results = fits
    pattern = {0: True, 1: False, 2: True}

    def scripted(fit, analysis, matched, alpha):
        row = {f: rep._row(True, False, np.nan, -1) for f in rep.FINDINGS}
        row["slow_hold"] = rep._row(True, pattern[fit.config.seed], 0.9, 0)
        row["gating"] = rep._row(False, False, np.nan, -1)
        return {"label": f"seed{fit.config.seed}", **row}

    monkeypatch.setattr(rep, "_findings", scripted)
    _, summary = rep.replication_table(results, ds, n_null=5)
    assert summary["slow_hold"]["rate"] == pytest.approx(2 / 3)
    assert summary["integration"]["rate"] == 0.0
    assert summary["gating"]["rate"] is None and summary["gating"]["n_testable"] == 0


def test_regions_are_matched_by_task_profile_not_by_code():
    a = xr.DataArray(
        [[0.9, 0.1, 0.0], [0.1, 0.0, 0.8], [0.0, 0.9, 0.2]],
        dims=("region", "feature"),
        coords={"region": [0, 1, 3], "feature": ["hold|a", "hold|b", "stim|a"]},
    )
    permuted = a.assign_coords(region=[2, 0, 1])  # same profiles, other codes
    assert rep.match_regions(a, permuted) == {2: 0, 0: 1, 1: 3}


def test_one_fit_is_not_a_replication(fits):
    ds, results = fits
    with pytest.raises(ConfigError, match=">= 2 fits"):
        rep.replication_table(results[:1], ds)


def test_gating_is_testable_only_where_a_row_has_the_target_in_both_regions(fits):
    """A detected-looking gating row whose target never reaches one of the two regions is no
    test (``target_supported`` False); rows of other primitives have no such column and stay
    testable."""
    ds, results = fits
    analysis = analyze_run(results[0], ds, n_null=5, untrained=False)
    gate = {"primitive": "gating", "detected": False, "region_after": 1, "gain_ratio": 9.0}
    # as to_records writes the union of the detectors' columns: None where a column is not its own
    integration = {
        "primitive": "integration",
        "detected": False,
        "region": 0,
        "target_supported": None,
    }

    def findings(*rows):
        return rep._findings(results[0], replace(analysis, primitives=list(rows)), {}, 0.05)

    unsupported = findings({**gate, "target_supported": False}, integration)
    assert not unsupported["gating"]["testable"] and not unsupported["gating"]["found"]
    assert unsupported["integration"]["testable"]
    supported = findings({**gate, "target_supported": True}, integration)
    assert supported["gating"]["testable"] and not supported["gating"]["found"]
    found = findings({**gate, "target_supported": True, "detected": True})
    assert found["gating"]["found"] and found["gating"]["effect"] == 9.0
