"""Analyse a fitted run end to end: regimes, exact dynamics, cycles, primitives, alignment.

:func:`analyze_run` turns a run directory (or a :class:`~alrnn_neuro.training.api.FitResult`)
plus, optionally, its dataset into an :class:`AnalysisResult`;
:func:`~alrnn_neuro.analysis.outputs.write_analysis` saves it as ``regimes.nc``,
``dynamics.nc``, ``primitives.json`` and ``alignment.json`` (all or none; the file table is in
:mod:`alrnn_neuro.analysis.outputs`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.analysis import alignment as al
from alrnn_neuro.analysis import regimes as rg
from alrnn_neuro.analysis.checks import epoch_mean_inputs, params_from_model
from alrnn_neuro.analysis.cycles import cycle_dataset
from alrnn_neuro.analysis.dynamics import region_dynamics
from alrnn_neuro.analysis.outputs import FILES as FILES
from alrnn_neuro.analysis.outputs import load_fit as load_fit
from alrnn_neuro.analysis.outputs import load_inputs as load_inputs
from alrnn_neuro.analysis.outputs import write_analysis as write_analysis
from alrnn_neuro.analysis.primitives_trials import detect_primitives, to_records
from alrnn_neuro.errors import RunDirError

logger = logging.getLogger(__name__)
#: trial variables scored against the regions when present (others are ignored by default)
TRIAL_VARIABLES = ("rule", "context", "choice", "target", "correct", "condition", "stimulus")


@dataclass
class AnalysisResult:
    """Everything :func:`analyze_run` computed.

    Attributes
    ----------
    regimes : xr.Dataset
        Region usage, transitions, region x epoch table, dwell runs, switch latencies.
    dynamics : xr.Dataset
        Per-region Jacobians, spectra (``eigenvalue_real`` / ``eigenvalue_imag``, dims
        region, mode), stability and fixed points; cycles (dim ``cycle``, see
        :func:`~alrnn_neuro.analysis.cycles.cycle_dataset`).
    primitives : list of dict
        Records of :func:`~alrnn_neuro.analysis.detect_primitives` (empty without inputs).
    alignment : dict
        ``scores`` (records of :func:`~alrnn_neuro.analysis.alignment_scores`),
        ``epoch_ami``, ``epoch_p``, ``n_null``, ``seed``, ``latency_by_condition``.
    summary : dict
        Short facts for people: ``n_latent``, ``n_pwl``, ``n_regions_used``, ``top_regions``
        (region, bits, frequency, epochs), ``primitives_found``, ``cycles`` (per period:
        ``n_cycles``, ``n_stable``, ``region_sequences``, ``epochs``, ``method``),
        ``gating`` (detected gates: ``input``, ``target``, ``epoch``, ``region_before`` /
        ``_after``, ``gain_ratio``, ``p_flip``), ``note``.
    latents : xr.Dataset
        The run's ``latents`` / ``bitcode`` / ``valid`` / ``epoch`` (for plotting).
    """

    regimes: xr.Dataset
    dynamics: xr.Dataset
    primitives: list[dict]
    alignment: dict[str, Any]
    summary: dict[str, Any]
    latents: xr.Dataset = field(repr=False)


def analyze_run(
    run: str | os.PathLike | Any,
    dataset: str | os.PathLike | xr.Dataset | None = None,
    *,
    n_null: int = 200,
    seed: int = 0,
    trial_variables: tuple[str, ...] | None = None,
    rule: str | None = "auto",
    evidence_inputs: tuple[str, ...] | None = None,
    gate_inputs: tuple[str, ...] | None = None,
    cycle_periods: tuple[int, ...] = (2, 3),
) -> AnalysisResult:
    """Analyse the linear regimes of a fitted AL-RNN run.

    Parameters
    ----------
    run : str, PathLike or FitResult
        Run directory written by ``fit`` / ``alrnn-neuro fit``, or an in-memory fit result.
    dataset : str, PathLike or xr.Dataset, optional
        The dataset the run was fitted to (default: the path recorded in ``config.json``, if
        it still exists). Needed for inputs (fixed points per epoch, primitives); without it
        those parts use zero input / are skipped.
    n_null : int
        Null draws for the alignment p-values and the rule decoding.
    seed : int
        Seed of those nulls.
    trial_variables : tuple of str, optional
        Trial coords to score against the regions (default: those of
        :data:`TRIAL_VARIABLES` present in the run).
    rule : str or None
        Trial coord of the rule for rule-based integration ("auto": ``rule`` if present).
    evidence_inputs : tuple of str, optional
        Channels whose integration is tested (default: all channels).
    gate_inputs : tuple of str, optional
        Channels tested as gates (default: every input channel; channels without onsets
        give no rows; ``()`` skips the gating test).
    cycle_periods : tuple of int
        Periods k of the cycle search under each epoch's mean input (period 1 = the fixed
        points, already in ``dynamics``). Exhaustive over region sequences while
        ``2**(P k) <= 2**16`` (else over the visited regions, else SCYFI); the summary's
        ``cycles`` says which was used.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    RunDirError
        If the run directory lacks model or latents, or the model is not an AL-RNN.
    DataValidationError
        If the dataset's trials, time bins or inputs do not match the run's.
    """
    fit = load_fit(run)
    lat = fit.latents
    if "bitcode" not in lat:
        raise RunDirError(
            f"run model={fit.config.model!r} has no linear regions (no bitcode in latents.nc); "
            "fix: analyse an AL-RNN run (alrnn-neuro fit --model alrnn)"
        )
    params = params_from_model(fit.model.dynamics)
    n_pwl, n_latent = int(params["n_pwl"]), int(params["A"].shape[0])
    bitcode, valid, epoch = lat["bitcode"], lat["valid"], lat["epoch"]
    inputs = load_inputs(dataset, fit)
    names = tuple(trial_variables) if trial_variables is not None else _default_variables(lat)
    regimes = _regimes(bitcode, valid, epoch, n_pwl, n_latent)
    usage = regimes["frequency"].to_series()
    drive = epoch_mean_inputs(inputs, epoch, valid) if inputs is not None else None
    dyn = region_dynamics(
        params["A"], params["W"], params["C"], params["h"], n_pwl,
        codes=regimes["region"].values, inputs=drive,
    )  # fmt: skip
    dynamics = _storable(dyn).assign(usage=("region", usage.reindex(dyn.region.values).values))
    cycles = cycle_dataset(
        params["A"], params["W"], params["C"], params["h"], n_pwl, inputs=drive,
        periods=cycle_periods, visited=regimes["region"].values, seed=seed,
    )  # fmt: skip
    dynamics = dynamics.merge(cycles, combine_attrs="no_conflicts")
    scores = al.alignment_scores(bitcode, valid, epoch, names, n_null=n_null, seed=seed)
    alignment = _alignment(scores, regimes, n_null, seed, names)
    rule_name = ("rule" if "rule" in lat.coords else None) if rule == "auto" else rule
    primitives: list[dict] = []
    if inputs is not None:
        if gate_inputs is None:
            gate_inputs = tuple(str(x) for x in inputs["input"].values)
        table = detect_primitives(
            params["A"], params["W"], params["C"], n_pwl, bitcode, inputs,
            valid=valid, epoch=epoch, evidence_inputs=evidence_inputs,
            gate_inputs=gate_inputs or None,
            rule=rule_name, seed=seed, n_null=n_null,
        )  # fmt: skip
        primitives = to_records(table)
    else:
        logger.info("no dataset: primitives skipped, fixed points at zero input")
    summary = _summary(regimes, primitives, alignment, n_pwl, n_latent, inputs is not None)
    summary["cycles"] = _cycle_summary(dynamics, n_pwl)
    summary["gating"] = _gating_summary(primitives)
    keep = lat[[v for v in ("latents", "bitcode", "valid", "epoch") if v in lat]]
    return AnalysisResult(regimes, dynamics, primitives, alignment, summary, keep)


def _default_variables(lat: xr.Dataset) -> tuple[str, ...]:
    return tuple(v for v in TRIAL_VARIABLES if v in lat.coords and lat[v].dims == ("trial",))


def _regimes(bitcode, valid, epoch, n_pwl: int, n_latent: int) -> xr.Dataset:
    """All bitcode statistics in one Dataset (dims region, region_from/to, epoch, run, ...)."""
    usage = rg.region_usage(bitcode, valid, n_pwl=n_pwl)
    regions = usage["region"].values
    trans = rg.transition_matrix(bitcode, valid, regions=regions)
    graphs = al.epoch_transition_graphs(bitcode, epoch, valid, max_regions=None)
    graphs = graphs.reindex(region_from=trans.region_from, region_to=trans.region_to)
    graphs["count"] = graphs["count"].fillna(0).astype(np.int64)
    table = al.region_epoch_table(bitcode, epoch, valid).reindex(region=regions, fill_value=0)
    dwell = rg.dwell_times(bitcode, valid).rename({k: f"dwell_{k}" for k in ("trial", "region")})
    nl = rg.nonlinearity_usage(bitcode, valid, epoch, n_pwl=n_pwl, n_latent=n_latent)
    out = usage.assign(
        transition_count=trans["count"],
        transition_probability=trans["probability"],
        epoch_transition_count=graphs["count"],
        epoch_transition_probability=graphs["probability"],
        region_epoch=table.reindex(epoch=graphs.epoch.values, fill_value=0),
    )
    out = out.merge(dwell, combine_attrs="drop_conflicts").merge(nl, combine_attrs="override")
    events = [str(k)[6:] for k in bitcode.coords if str(k).startswith("event_")]
    if events:
        lat = al.switch_latency(bitcode, valid, events)
        out["switch_latency"] = lat.reset_coords(drop=True)
    out.attrs = {**usage.attrs, "n_pwl": n_pwl, "n_latent": n_latent, "bin_size": _bin(bitcode)}
    return out


def _bin(bitcode: xr.DataArray) -> float:
    t = bitcode["time"].values
    return float(bitcode.attrs.get("bin_size", np.median(np.diff(t)) if len(t) > 1 else 1.0))


def _storable(dyn: xr.Dataset) -> xr.Dataset:
    """Complex spectra split into real and imaginary parts (netCDF has no complex type)."""
    out = dyn.drop_vars(["eigenvalues", "eigenvectors"])
    ev, vec = dyn["eigenvalues"], dyn["eigenvectors"]
    return out.assign(
        eigenvalue_real=ev.real, eigenvalue_imag=ev.imag,
        eigenvector_real=vec.real, eigenvector_imag=vec.imag,
        eigenvalue_modulus=np.abs(ev),
    )  # fmt: skip


def _alignment(scores, regimes, n_null: int, seed: int, names) -> dict[str, Any]:
    epoch_row = scores[(scores["variable"] == "epoch") & (scores["epoch"] == "all")]
    first = epoch_row.iloc[0] if len(epoch_row) else None
    out = {
        "scores": to_records(scores),
        "epoch_ami": None if first is None else _num(first["ami"]),
        "epoch_p": None if first is None else _num(first["p_circular"]),
        "trial_variables": list(names),
        "n_null": n_null,
        "seed": seed,
    }
    if "switch_latency" in regimes:
        lat = regimes["switch_latency"]
        out["switch_latency_median_s"] = {
            str(e): _num(np.nanmedian(lat.sel(event=e).values))
            if np.isfinite(lat.sel(event=e).values).any()
            else None
            for e in lat.event.values
        }
    return out


def _num(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _summary(regimes, primitives, alignment, n_pwl, n_latent, has_inputs) -> dict[str, Any]:
    table = regimes["region_epoch"]
    top = []
    for r in regimes["region"].values[:5]:
        row = table.sel(region=r)
        share = row / max(int(row.sum()), 1)
        order = share.epoch.values[np.argsort(-share.values)]
        epochs = [str(e) for e in order if share.sel(epoch=e) >= 0.1]
        top.append(
            {
                "region": int(r),
                "bits": str(regimes["bits"].sel(region=r).values),
                "frequency": float(regimes["frequency"].sel(region=r)),
                "epochs": epochs,
            }
        )
    found = sorted({p["primitive"] for p in primitives if p.get("detected")})
    note = "one region (P = 0: linear RNN)" if n_pwl == 0 else ""
    if not has_inputs:
        note = (note + "; " if note else "") + "no dataset: primitives skipped"
    return {
        "n_latent": n_latent,
        "n_pwl": n_pwl,
        "n_regions_used": int(regimes.attrs["n_regions_used"]),
        "n_regions_total": 2**n_pwl,
        "n_regions_90": int(regimes.attrs["n_regions_90"]),
        "top_regions": top,
        "epoch_ami": alignment["epoch_ami"],
        "epoch_p": alignment["epoch_p"],
        "primitives_found": found,
        "n_primitives_tested": len(primitives),
        "note": note,
    }


def _cycle_summary(dynamics: xr.Dataset, n_pwl: int) -> list[dict[str, Any]]:
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
                "region_sequences": sorted(
                    [[format(c, f"0{n_pwl}b") if n_pwl else "" for c in q] for q in seqs]
                ),
                "epochs": sorted({str(e) for e in dynamics["cycle_epoch"].values[sel]}),
                "method": str(dynamics.attrs.get(f"cycle_method_k{k}", "")),
            }
        )
    return out


def _gating_summary(primitives: list[dict]) -> list[dict[str, Any]]:
    """Detected gating records: gate, target, epoch, regions before/after, gain ratio."""
    keys = ("input", "target", "epoch", "condition", "region_before", "region_after",
            "gain_ratio", "p_flip")  # fmt: skip
    return [
        {k: p.get(k) for k in keys}
        for p in primitives
        if p.get("primitive") == "gating" and p.get("detected")
    ]
