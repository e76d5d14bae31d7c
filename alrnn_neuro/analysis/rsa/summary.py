"""The JSON-ready summary of an RSA result (``rsa.json``): settings and one row per area and
segment, read from the ``rsa.nc`` Dataset of :func:`~.pipeline.run_rsa` alone."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

#: ``statistic`` attr of an RSA result: RDM comparison (>= 3 conditions) or the two-condition
#: distance test
RDM_COMPARISON, DISTANCE_VS_ZERO = "rdm_comparison", "distance_vs_zero"


def summarize(rsa: xr.Dataset) -> dict:
    """JSON-ready summary of :func:`~.pipeline.run_rsa`'s result: settings + rows.

    Rows of an RDM comparison carry ``similarity``, ``ci``, ``p_value``, ``p_corrected``,
    ``noise_ceiling`` ([low, high]), ``noise_ceiling_note``, ``noise_ceiling_conditions``
    (conditions the bounds rest on), ``model_vs_splits``,
    ``ceiling_fraction``, ``ceiling_position``, ``n_conditions``; rows of a two-condition
    question carry ``neural_distance``, ``model_distance`` with their p-values
    (``similarity`` is null there). Every row carries ``min_units_applied``, the pair
    threshold of the area's neural RDM in that segment: the requested ``min_units`` (a
    setting) capped at the usable units (null: no RDM, or a result written before it was
    recorded).
    """
    seg = rsa.attrs["segment_dim"]
    two = rsa.attrs.get("statistic") == DISTANCE_VS_ZERO
    rows = []
    for area in rsa["area"].values:
        for label in rsa[seg].values:
            r = rsa.sel(area=area, **{seg: label})
            row = {"area": str(area), seg: to_json(label)}
            row.update(_distance_row(r) if two else _comparison_row(r))
            if "neural_min_units_applied" in r:
                row["min_units_applied"] = _count(r["neural_min_units_applied"]) or None
            rows.append(row)
    settings = {k: to_json(v) for k, v in rsa.attrs.items()}
    settings["conditions"] = str(rsa.attrs["conditions"]).split(",")
    settings["conditions_list"] = [str(c) for c in rsa["condition"].values]
    settings["n_units"] = {
        str(a): int(n) for a, n in zip(rsa["area"].values, rsa["n_units"].values, strict=True)
    }
    if "n_trials" in rsa.coords:
        settings["n_trials_per_condition"] = {
            str(c): int(n)
            for c, n in zip(rsa["condition"].values, rsa["n_trials"].values, strict=True)
        }
    return {**settings, "rows": rows}


def _comparison_row(r: xr.Dataset) -> dict:
    return {
        "similarity": to_json(r["estimate"]),
        "ci": [to_json(r["ci_low"]), to_json(r["ci_high"])],
        "p_value": to_json(r["p_value"]),
        "p_corrected": to_json(r["p_corrected"]),
        "noise_ceiling": [to_json(r["noise_ceiling_low"]), to_json(r["noise_ceiling_high"])],
        "noise_ceiling_note": to_json(r["noise_ceiling_note"]) or None,
        "noise_ceiling_conditions": _count(r["noise_ceiling_conditions"]),
        "model_vs_splits": to_json(r["model_vs_splits"]),
        "ceiling_fraction": to_json(r["ceiling_fraction"]),
        "ceiling_position": to_json(r["ceiling_position"]) or None,
        "n_conditions": _count(r["n_conditions"]),
    }


def _distance_row(r: xr.Dataset) -> dict:
    return {
        "similarity": None,
        "neural_distance": to_json(r["neural_distance"]),
        "neural_p_value": to_json(r["neural_p_value"]),
        "neural_p_corrected": to_json(r["neural_p_corrected"]),
        "neural_n_units": to_json(r["neural_n_units"]),
        "model_distance": to_json(r["model_distance"]),
        "model_p_value": to_json(r["model_p_value"]),
        "model_p_corrected": to_json(r["model_p_corrected"]),
        "n_conditions": 2,
    }


def _count(value) -> int | None:
    value = to_json(value)
    return None if value is None else int(value)


def to_json(value):
    """A JSON-ready Python value (NaN -> None, numpy scalars -> int/float/str)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value if isinstance(value, int | bool | str) or value is None else str(value)
