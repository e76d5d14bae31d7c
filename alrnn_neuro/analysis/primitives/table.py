"""Run every applicable primitive detector and stack their rows into one table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from alrnn_neuro._json import to_jsonable
from alrnn_neuro.analysis.primitives.gating import detect_gating
from alrnn_neuro.analysis.primitives.integration import detect_integration, detect_slow_modes
from alrnn_neuro.analysis.primitives.trial_decoding import (
    detect_memory_transients,
    detect_rule_integration,
)
from alrnn_neuro.models.params import ALRNNParams

__all__ = ["detect_primitives", "skipped_detectors", "to_records"]

#: options each detector accepts (the rest of ``detect_primitives``' ``**options`` is ignored)
DETECTOR_OPTIONS = {
    "integration": ("eps", "max_growth", "cos_threshold", "alignment", "min_occupancy"),
    "slow_mode": ("eps", "max_growth", "min_occupancy"),
    "gating": (
        "eps",
        "alpha",
        "window",
        "horizon",
        "threshold",
        "min_gain_ratio",
        "min_target_trials",
        "min_readout_ratio",
    ),
    "rule_integration": ("eps", "max_growth", "cos_threshold", "alignment", "n_null", "alpha"),
    "memory_transient": ("n_steps", "n_null", "alpha"),
}
INTEGER_COLUMNS = ("region", "region_before", "region_after", "n_onsets", "n_trials")


def skipped_detectors(
    has_inputs: bool,
    gate_inputs: Sequence[str] | None,
    rule: str | None,
    stored: str | None,
    cue: str | None,
) -> dict[str, str]:
    """Detectors :func:`detect_primitives` will not run, each with the reason.

    Examples
    --------
    >>> skipped_detectors(False, None, "rule", None, None)["integration"]
    'the model has no task inputs (fitted with inputs = []): no input to integrate'
    """
    no_inputs = "the model has no task inputs (fitted with inputs = [])"
    out = {}
    if not has_inputs:
        out["integration"] = f"{no_inputs}: no input to integrate"
        out["gating"] = f"{no_inputs}: no input onset to gate"
        out["rule_integration"] = f"{no_inputs}: no evidence input"
    else:
        out["slow_mode"] = "the model has inputs: integration is tested per input instead"
        if gate_inputs is None:
            out["gating"] = "no gate inputs chosen (gate_inputs=None)"
        if rule is None:
            out["rule_integration"] = "no rule variable (rule=None)"
    if stored is None or cue is None:
        out["memory_transient"] = "needs a stored trial variable and a cue (stored=, cue_*=)"
    return out


def detect_primitives(
    params: ALRNNParams,
    bitcode: xr.DataArray,
    inputs: xr.DataArray | None,
    *,
    valid: xr.DataArray | None = None,
    epoch: xr.DataArray | None = None,
    evidence_inputs: Sequence[str] | None = None,
    gate_inputs: Sequence[str] | None = None,
    conditions: Sequence[str] = (),
    rule: str | None = None,
    stored: str | None = None,
    cue_event: str | None = None,
    cue_epoch: str | None = None,
    readout: np.ndarray | None = None,
    observation: np.ndarray | None = None,
    seed: int = 0,
    **options,
) -> pd.DataFrame:
    """Run every applicable detector and stack the rows into one table.

    With task inputs: integration always runs, gating when ``gate_inputs`` is given,
    rule-based integration when ``rule`` is given. Without inputs (``inputs`` None or with no
    channel): the input-free slow-mode detector runs instead. Memory transients run when
    ``stored`` and a cue are given. :func:`skipped_detectors` says why a detector did not run.
    ``options`` go to the detectors that accept them (``eps``, ``cos_threshold``, ``n_null``,
    ``alpha``, ...; see :data:`DETECTOR_OPTIONS`).

    Parameters
    ----------
    params : ALRNNParams
        The model.
    bitcode : DataArray of int, dims (trial, time), with trial coords
    inputs : DataArray, dims (trial, time, input), or None
    readout : ndarray, shape (output, latent), optional
        Task/choice head for rule-based integration's readout response (its first row).
    observation : ndarray, shape (unit, latent), optional
        The observation model's weights (latents -> predicted recordings): gating then also
        needs the target's readout response to change (``readout_gain_ratio``).

    Returns
    -------
    DataFrame
        Union of the detectors' columns; ``primitive`` and ``detected`` first; empty (with
        those two columns) when no detector produced a row.
    """

    def opts(name: str) -> dict:
        return {k: v for k, v in options.items() if k in DETECTOR_OPTIONS[name]}

    steps = {"valid": valid, "epoch": epoch}
    has_inputs = inputs is not None and inputs.sizes.get("input", 0) > 0
    tables = []
    if has_inputs:
        model = (params, bitcode, inputs)
        tables.append(
            detect_integration(
                *model,
                **steps,
                evidence_inputs=evidence_inputs,
                conditions=conditions,
                **opts("integration"),
            )
        )
        if gate_inputs is not None:
            tables.append(
                detect_gating(
                    *model,
                    **steps,
                    gate_inputs=gate_inputs,
                    target_inputs=evidence_inputs,
                    conditions=conditions,
                    readout=observation,
                    **opts("gating"),
                )
            )
        if rule is not None:
            tables.append(
                detect_rule_integration(
                    *model,
                    rule,
                    **steps,
                    evidence_inputs=evidence_inputs,
                    readout=readout,
                    seed=seed,
                    **opts("rule_integration"),
                )
            )
    else:
        tables.append(
            detect_slow_modes(params, bitcode, **steps, conditions=conditions, **opts("slow_mode"))
        )
    if stored is not None and (cue_event or cue_epoch):
        tables.append(
            detect_memory_transients(
                bitcode,
                stored,
                **steps,
                cue_event=cue_event,
                cue_epoch=cue_epoch,
                seed=seed,
                **opts("memory_transient"),
            )
        )
    found = [t for t in tables if len(t)]
    if not found:
        return pd.DataFrame({"primitive": pd.Series(dtype=str), "detected": pd.Series(dtype=bool)})
    table = pd.concat(found, ignore_index=True, sort=False)
    for col in INTEGER_COLUMNS:
        if col in table:
            table[col] = table[col].astype("Int64")  # integers with missing values
    return table


def to_records(table: pd.DataFrame) -> list[dict]:
    """JSON-ready list of dicts at full float64 precision (numpy scalars to Python, NaN and
    missing values to None). ``DataFrame.to_json`` would round to 10 decimal places: a
    p-value of 3e-11 became 0.

    Examples
    --------
    >>> to_records(pd.DataFrame({"p": [2.96e-11, np.nan], "n": pd.array([3, None], "Int64")}))
    [{'p': 2.96e-11, 'n': 3}, {'p': None, 'n': None}]
    """
    rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    return [to_jsonable(row) for row in rows]
