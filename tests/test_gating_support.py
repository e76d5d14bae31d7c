"""Gating is tested only where the data reach both regions with the target input: the count
in the summary and the line ``alrnn-neuro analyze`` prints when no pair is testable."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from rich.console import Console

from alrnn_neuro.analysis.primitives.gating import MIN_TARGET_TRIALS
from alrnn_neuro.analysis.summary import gating_support
from alrnn_neuro.cli.analyze import _summary


def _rows(*supported: bool) -> list[dict]:
    return [{"primitive": "gating", "target_supported": s} for s in supported] + [
        {"primitive": "integration", "detected": True}
    ]


def test_gating_support_counts_only_gating_rows():
    assert gating_support(_rows(True, False, False)) == {
        "n_rows": 3,
        "n_supported": 1,
        "min_target_trials": MIN_TARGET_TRIALS,
    }
    assert gating_support(_rows())["n_rows"] == 0


def _printed(support: dict) -> str:
    summary = {
        "n_pwl": 2,
        "n_latent": 7,
        "n_regions_used": 4,
        "n_regions_total": 4,
        "n_regions_90": 2,
        "top_regions": [],
        "epoch_ami": None,
        "primitives_found": [],
        "n_primitives_tested": support["n_rows"],
        "gating": [],
        "gating_support": support,
        "note": "",
        "replication": "untested",
    }
    text = StringIO()
    _summary(Console(file=text, width=400), summary, Path("out"), 3)
    return text.getvalue()


def test_analyze_says_when_no_gating_pair_is_testable():
    untestable = _printed(gating_support(_rows(False, False)))
    assert (
        "gating: not testable on these trials: in none of the 2 gate onset x target" in untestable
    )
    assert f"in {MIN_TARGET_TRIALS} trials or more" in untestable
    assert "not testable" not in _printed(gating_support(_rows(True, False)))
    assert "not testable" not in _printed(gating_support(_rows()))  # gating did not run
