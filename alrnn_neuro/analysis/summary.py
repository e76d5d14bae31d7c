"""Short, human-readable facts of an analysis: top regions, primitives, cycles, gates.

These build the ``summary`` of :class:`~alrnn_neuro.analysis.pipeline.AnalysisResult` (and
``alignment.json``) from the labelled results; they compute nothing new.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro.analysis.primitives import to_records
from alrnn_neuro.analysis.primitives.gating import MIN_TARGET_TRIALS
from alrnn_neuro.models.params import region_labels

__all__ = ["alignment_record", "cycle_summary", "gating_summary", "gating_support", "summarize"]

#: what a one-fit analysis says about replication (it rests on one model seed)
SINGLE_FIT = (
    "untested: these findings rest on one fit (one model seed); another seed may solve the "
    "task another way. Test it: fit the same config with several --seed values and run "
    "`alrnn-neuro analyze RUN0 RUN1 RUN2 ...` (or `alrnn-neuro analyze SWEEP_DIR`)"
)

GATING_KEYS = (
    "input",
    "target",
    "epoch",
    "condition",
    "region_before",
    "region_after",
    "gain_ratio",
    "readout_gain_ratio",
    "p_flip",
    "p_flip_corrected",
)


def finite_or_none(x: Any) -> float | None:
    """``float(x)``, or None where it is NaN/inf (for JSON)."""
    x = float(x)
    return x if np.isfinite(x) else None


def alignment_record(
    scores: pd.DataFrame, regimes: xr.Dataset, n_null: int, seed: int, names
) -> dict[str, Any]:
    """``alignment.json`` content: score records, epoch AMI and p, switch latencies."""
    epoch_row = scores[(scores["variable"] == "epoch") & (scores["epoch"] == "all")]
    first = epoch_row.iloc[0] if len(epoch_row) else None
    out = {
        "scores": to_records(scores),
        "epoch_ami": None if first is None else finite_or_none(first["ami"]),
        "epoch_p": None if first is None else finite_or_none(first["p_circular"]),
        "trial_variables": list(names),
        "n_null": n_null,
        "seed": seed,
    }
    if "switch_latency" in regimes:
        lat = regimes["switch_latency"]
        out["switch_latency_median_s"] = {
            str(e): finite_or_none(np.nanmedian(lat.sel(event=e).values))
            if np.isfinite(lat.sel(event=e).values).any()
            else None
            for e in lat.event.values
        }
    return out


def summarize(
    regimes: xr.Dataset,
    primitives: list[dict],
    alignment: dict[str, Any],
    n_pwl: int,
    n_latent: int,
    skipped: dict[str, str],
) -> dict[str, Any]:
    """Short facts: sizes, the five most used regions with their epochs, primitives found."""
    table = regimes["region_epoch"]
    top = []
    for r in regimes["region"].values[:5]:
        row = table.sel(region=r)
        share = row / max(int(row.sum()), 1)
        order = share.epoch.values[np.argsort(-share.values)]
        top.append(
            {
                "region": int(r),
                "bits": str(regimes["bits"].sel(region=r).values),
                "frequency": float(regimes["frequency"].sel(region=r)),
                "epochs": [str(e) for e in order if share.sel(epoch=e) >= 0.1],
            }
        )
    found = sorted({p["primitive"] for p in primitives if p.get("detected")})
    return {
        "n_latent": n_latent,
        "n_pwl": n_pwl,
        "n_regions_used": int(regimes["n_regions_used"]),
        "n_regions_total": 2**n_pwl,
        "n_regions_90": int(regimes["n_regions_90"]),
        "top_regions": top,
        "epoch_ami": alignment["epoch_ami"],
        "epoch_p": alignment["epoch_p"],
        "primitives_found": found,
        "n_primitives_tested": len(primitives),
        "skipped_detectors": skipped,
        "n_fits": 1,
        "replication": SINGLE_FIT,
        "note": "one region (P = 0: linear RNN)" if n_pwl == 0 else "",
    }


def cycle_summary(dynamics: xr.Dataset, n_pwl: int) -> list[dict[str, Any]]:
    """Per searched period: cycles found (distinct region sequences), stable ones, method."""
    periods = [int(k) for k in str(dynamics.attrs.get("cycle_periods", "")).split(",") if k]
    out = []
    for k in periods:
        sel = dynamics["cycle_period"].values == k
        seqs = {tuple(int(c) for c in row[:k]) for row in dynamics["cycle_regions"].values[sel]}
        out.append(
            {
                "period": k,
                "n_cycles": int(sel.sum()),
                "n_stable": int(dynamics["cycle_stable"].values[sel].sum()),
                "region_sequences": sorted(region_labels(np.array(q), n_pwl) for q in seqs),
                "epochs": sorted({str(e) for e in dynamics["cycle_epoch"].values[sel]}),
                "method": str(dynamics.attrs.get(f"cycle_method_k{k}", "")),
            }
        )
    return out


def gating_summary(primitives: list[dict]) -> list[dict[str, Any]]:
    """Detected gating records: gate, target, epoch, regions before/after, gain ratio."""
    return [
        {k: p.get(k) for k in GATING_KEYS}
        for p in primitives
        if p.get("primitive") == "gating" and p.get("detected")
    ]


def gating_support(
    primitives: list[dict], min_target_trials: int = MIN_TARGET_TRIALS
) -> dict[str, int]:
    """How many gating rows (gate x condition x target) the data could test at all.

    A row is testable where its target input arrives in the regions before and after the
    gate's onsets in enough trials (``target_supported``; see
    :func:`~alrnn_neuro.analysis.primitives.detect_gating`, run with ``min_target_trials``,
    which the record repeats).

    Examples
    --------
    >>> rows = [{"primitive": "gating", "target_supported": False}, {"primitive": "integration"}]
    >>> gating_support(rows)
    {'n_rows': 1, 'n_supported': 0, 'min_target_trials': 10}
    """
    rows = [p for p in primitives if p.get("primitive") == "gating"]
    return {
        "n_rows": len(rows),
        "n_supported": sum(bool(p.get("target_supported", True)) for p in rows),
        "min_target_trials": int(min_target_trials),
    }
