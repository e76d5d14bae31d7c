"""Analyse a fitted run end to end: regimes, exact dynamics, cycles, primitives, alignment.

:func:`analyze_run` turns a run directory (or a :class:`~alrnn_neuro.training.result.FitResult`)
plus, optionally, its dataset into an :class:`AnalysisResult`;
:func:`~alrnn_neuro.analysis.files.write_analysis` saves it as ``regimes.nc``,
``dynamics.nc``, ``primitives.json`` and ``alignment.json`` (all or none; the file table is in
:mod:`alrnn_neuro.analysis.files`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.analysis import alignment as al
from alrnn_neuro.analysis import regimes as rg
from alrnn_neuro.analysis.checks import epoch_mean_inputs
from alrnn_neuro.analysis.cycles import cycle_dataset
from alrnn_neuro.analysis.dynamics import region_dynamics
from alrnn_neuro.analysis.files import fitted_dataset, load_fit, load_inputs
from alrnn_neuro.analysis.primitives import detect_primitives, skipped_detectors, to_records
from alrnn_neuro.analysis.primitives.common import observation_weights
from alrnn_neuro.analysis.summary import (
    alignment_record,
    cycle_summary,
    gating_summary,
    gating_support,
    summarize,
)
from alrnn_neuro.analysis.untrained_reference import shared_with_untrained, untrained_reference
from alrnn_neuro.errors import ConfigError, RunDirError
from alrnn_neuro.models.params import BIT_ORDER, ALRNNParams
from alrnn_neuro.training.rundir import MODEL_DIGEST, model_digest

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
        Records of :func:`~alrnn_neuro.analysis.detect_primitives` (input-free models: the
        slow-mode test; detectors that could not run are listed in ``summary``).
    alignment : dict
        ``scores`` (records of :func:`~alrnn_neuro.analysis.alignment_scores`),
        ``epoch_ami``, ``epoch_p``, ``n_null``, ``seed``, ``latency_by_condition``.
    summary : dict
        Short facts for people: ``n_latent``, ``n_pwl``, ``n_regions_used``, ``top_regions``
        (region, bits, frequency, epochs), ``primitives_found``, ``cycles`` (per period:
        ``n_cycles``, ``n_stable``, ``region_sequences``, ``epochs``, ``method``),
        ``gating`` (detected gates: ``input``, ``target``, ``epoch``, ``region_before`` /
        ``_after``, ``gain_ratio``, ``readout_gain_ratio``, ``p_flip``), ``gating_support``
        (:func:`~alrnn_neuro.analysis.summary.gating_support`), ``skipped_detectors`` (name ->
        reason),
        ``n_fits`` (how many fits the findings rest on: 1), ``replication`` (says that
        replication across seeds is untested; see :mod:`alrnn_neuro.analysis.replication`),
        ``note``.
    params : ALRNNParams
        The analysed model.
    latents : xr.Dataset
        The run's ``latents`` / ``bitcode`` / ``valid`` / ``epoch`` (for plotting).
    """

    regimes: xr.Dataset
    dynamics: xr.Dataset
    primitives: list[dict]
    alignment: dict[str, Any]
    summary: dict[str, Any]
    latents: xr.Dataset = field(repr=False)
    params: ALRNNParams | None = field(default=None, repr=False)


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
    untrained: bool | str = True,
) -> AnalysisResult:
    """Analyse the linear regimes of a fitted AL-RNN run.

    Parameters
    ----------
    run : str, PathLike or FitResult
        Run directory written by ``fit`` / ``alrnn-neuro fit``, or an in-memory fit result.
    dataset : str, PathLike or xr.Dataset, optional
        The dataset the run was fitted to (default: the one the run recorded: carried by an
        in-memory fit, or the path in ``config.json``, resolved relative to the run directory
        and checked by fingerprint). Needed for the inputs (fixed points per epoch,
        primitives); a model fitted without inputs needs none.
    n_null : int
        Null draws for the alignment p-values and the rule decoding.
    seed : int
        Seed of those nulls.
    trial_variables : tuple of str, optional
        Trial coords to score against the regions, any trial coord of the run's latents
        (categorical or numeric, e.g. ``signed_coherence``; numbers are compared as values,
        so ``-0.0`` and ``0.0`` are one level). Default: those of :data:`TRIAL_VARIABLES`
        present in the run.
    rule : str or None
        Trial coord of the rule for rule-based integration ("auto": ``rule`` if present).
    evidence_inputs : tuple of str, optional
        Channels whose integration is tested (default: :func:`default_evidence_inputs`: the
        stimulus-selection sounds when the run has them, else all channels; recorded in the
        summary's ``evidence_inputs``).
    gate_inputs : tuple of str, optional
        Channels tested as gates (default: every input channel; channels without onsets
        give no rows; ``()`` skips the gating test).
    cycle_periods : tuple of int
        Periods k of the cycle search under each epoch's mean input (period 1 = the fixed
        points, already in ``dynamics``). Exhaustive over region sequences while
        ``2**(P k) <= 2**16`` (else over the visited regions, else SCYFI); the summary's
        ``cycles`` says which was used.
    untrained : bool or "ami"
        Also run the network the fit started from (same config and seed) through the AMI and
        the detectors, as a reference: the summary's ``untrained`` and
        ``shared_with_untrained`` (findings it shows too; see
        :mod:`~alrnn_neuro.analysis.untrained_reference`); ``"ami"``: through the AMI only.
        Needs the dataset; skipped (with the reason) for a model without inputs or a dataset
        that cannot be found.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    RunDirError
        If the run directory lacks model or latents, or the model is not an AL-RNN.
    DataValidationError
        If the model has inputs and its dataset cannot be found (pass ``dataset``), or the
        dataset's trials, time bins or inputs do not match the run's.
    ConfigError
        If a name in ``trial_variables`` is not a trial coord of the run.
    """
    fit = load_fit(run)
    lat = fit.latents
    if trial_variables is not None:
        lat = with_trial_variables(lat, tuple(trial_variables))
    if "bitcode" not in lat:
        raise RunDirError(
            f"run model={fit.config.model!r} has no linear regions (no bitcode in latents.nc); "
            "fix: analyse an AL-RNN run (alrnn-neuro fit --model alrnn)"
        )
    params = ALRNNParams.from_model(fit)
    n_pwl, n_latent = params.n_pwl, params.latent_dim
    bitcode, valid, epoch = lat["bitcode"], lat["valid"], lat["epoch"]
    data = fitted_dataset(dataset, fit) if untrained else None  # loaded once, used twice
    given_path = dataset if isinstance(dataset, (str, os.PathLike)) else None
    inputs = load_inputs(dataset if data is None else data, fit, path=given_path)
    names = tuple(trial_variables) if trial_variables is not None else _default_variables(lat)
    regimes = _regimes(bitcode, valid, epoch, n_pwl, n_latent)
    usage = regimes["frequency"].to_series()
    drive = epoch_mean_inputs(inputs, epoch, valid) if inputs is not None else None
    dyn = region_dynamics(params, codes=regimes["region"].values, inputs=drive)
    dynamics = spectra_for_storage(dyn)
    dynamics = dynamics.assign(usage=("region", usage.reindex(dyn.region.values).values))
    cycles = cycle_dataset(
        params, inputs=drive, periods=cycle_periods, visited=regimes["region"].values, seed=seed
    )
    dynamics = dynamics.merge(cycles, combine_attrs="no_conflicts")
    scores = al.alignment_scores(bitcode, valid, epoch, names, n_null=n_null, seed=seed)
    alignment = alignment_record(scores, regimes, n_null, seed, names)
    rule_name = ("rule" if "rule" in lat.coords else None) if rule == "auto" else rule
    has_inputs = inputs is not None and inputs.sizes["input"] > 0
    if has_inputs:
        _check_channels(inputs, gate_inputs=gate_inputs, evidence_inputs=evidence_inputs)
    if has_inputs and gate_inputs is None:
        gate_inputs = tuple(str(x) for x in inputs["input"].values)
    if has_inputs and evidence_inputs is None:
        evidence_inputs = default_evidence_inputs([str(x) for x in inputs["input"].values])
    gates = gate_inputs or None
    table = detect_primitives(
        params,
        bitcode,
        inputs,
        valid=valid,
        epoch=epoch,
        evidence_inputs=evidence_inputs,
        gate_inputs=gates,
        rule=rule_name,
        observation=observation_weights(fit.model),
        seed=seed,
        n_null=n_null,
    )
    primitives = to_records(table)
    skipped = skipped_detectors(has_inputs, gates, rule_name, None, None)
    for name, reason in skipped.items():
        logger.info("primitive detector %s skipped: %s", name, reason)
    summary = summarize(regimes, primitives, alignment, n_pwl, n_latent, skipped)
    summary["cycles"] = cycle_summary(dynamics, n_pwl)
    summary["gating"] = gating_summary(primitives)
    summary["gating_support"] = gating_support(primitives)
    summary["evidence_inputs"] = None if evidence_inputs is None else list(evidence_inputs)
    summary["scope"] = SCOPE
    summary[MODEL_DIGEST] = model_digest(getattr(fit, "run_dir", None))
    if untrained:
        summary.update(
            _untrained_summary(
                untrained,
                fit,
                data,
                inputs,
                summary,
                evidence_inputs,
                gates,
                rule_name,
                n_null,
                seed,
            )
        )
    keep = lat[[v for v in ("latents", "bitcode", "valid", "epoch") if v in lat]]
    return AnalysisResult(regimes, dynamics, primitives, alignment, summary, keep, params)


#: the channels that carry evidence in the stimulus-selection task (the cue, hold and reward
#: channels do not: "integrating" them is not evidence integration)
STIMULUS_SOUNDS = ("left_noise", "right_noise", "high_pitch", "low_pitch")
#: what the primitives describe (the summary's ``scope``, printed by ``alrnn-neuro analyze``)
SCOPE = (
    "the primitives and the region/epoch alignment describe how this fitted network "
    "computes; whether the recordings need them is another test: a network fitted to data "
    "from a linear system integrates too (the gating detector, which needs the readout to "
    "see the gate, stayed silent on 25 simulated linear sessions: docs/verdicts.md), and "
    "inputs alone switch an untrained network's regions with the epochs. Read them as "
    "properties of the circuit only where "
    "`alrnn-neuro select` finds P = 0 insufficient, they replicate across seeds, and an "
    "untrained network does not show them (the untrained reference above checks this fit's "
    "own initialisation; `alrnn-neuro reproduce ... --controls` checks other seeds and data)"
)


def _check_channels(inputs: xr.DataArray, **given: Sequence[str] | None) -> None:
    """Channels named in ``gate_inputs`` / ``evidence_inputs`` must be input channels."""
    names = [str(x) for x in inputs["input"].values]
    for field_name, channels in given.items():
        unknown = [c for c in channels or () if c not in names]
        if unknown:
            flag = "--" + field_name.replace("_", "-")
            raise ConfigError(
                f"{field_name}={list(channels)}: {unknown} are not input channels of the run "
                f"({names}); fix: {flag} with names from that list"
            )


def default_evidence_inputs(names: Sequence[str]) -> tuple[str, ...]:
    """The stimulus-selection sounds when ``names`` holds them all, else every channel.

    Examples
    --------
    >>> default_evidence_inputs(["left_noise", "right_noise", "high_pitch", "low_pitch", "hold"])
    ('left_noise', 'right_noise', 'high_pitch', 'low_pitch')
    >>> default_evidence_inputs(["motion", "cue"])
    ('motion', 'cue')
    """
    return STIMULUS_SOUNDS if set(STIMULUS_SOUNDS) <= set(names) else tuple(names)


def _untrained_summary(
    untrained, fit, data, inputs, summary, evidence_inputs, gates, rule, n_null, seed
) -> dict[str, Any]:
    """``untrained`` (the reference, or why it was skipped) and ``shared_with_untrained``."""
    if data is None or inputs is None or inputs.sizes["input"] == 0:
        reason = "no dataset found" if data is None else "the model has no inputs"
        return {"untrained": {"skipped": reason}, "shared_with_untrained": None}
    reference = untrained_reference(
        fit,
        data,
        inputs,
        evidence_inputs=evidence_inputs,
        gate_inputs=gates,
        rule=rule,
        n_null=n_null,
        seed=seed,
        detectors=untrained != "ami",
    )
    return {
        "untrained": reference,
        "shared_with_untrained": shared_with_untrained(summary, reference),
    }


def with_trial_variables(lat: xr.Dataset, names: tuple[str, ...]) -> xr.Dataset:
    """``lat`` with the named trial coords checked and numeric ones made canonical
    (``-0.0`` -> ``0.0``, so a 0 % coherence is one level).

    Raises
    ------
    ConfigError
        Naming the unknown variables and the trial coords there are.
    """
    available = sorted(
        str(k) for k, v in lat.coords.items() if v.dims == ("trial",) and k != "trial"
    )
    missing = [n for n in names if n not in available]
    if missing:
        raise ConfigError(
            f"trial_variables = {list(names)}: {missing} are not trial coords of the run; "
            f"choose from {available} (CLI: --trial-vars a,b)"
        )
    numeric = {n: lat[n] + 0.0 for n in names if lat[n].dtype.kind == "f"}  # -0.0 + 0.0 = 0.0
    return lat.assign_coords(numeric)


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
    out.attrs["pwl_latents"] = ",".join(str(i) for i in range(n_latent - n_pwl, n_latent))
    out.attrs["bit_order"] = BIT_ORDER
    return out


def _bin(bitcode: xr.DataArray) -> float:
    t = bitcode["time"].values
    return float(bitcode.attrs.get("bin_size", np.median(np.diff(t)) if len(t) > 1 else 1.0))


def spectra_for_storage(dyn: xr.Dataset) -> xr.Dataset:
    """Complex spectra split into real and imaginary parts (netCDF has no complex type)."""
    out = dyn.drop_vars(["eigenvalues", "eigenvectors"])
    ev, vec = dyn["eigenvalues"], dyn["eigenvectors"]
    return out.assign(
        eigenvalue_real=ev.real,
        eigenvalue_imag=ev.imag,
        eigenvector_real=vec.real,
        eigenvector_imag=vec.imag,
        eigenvalue_modulus=np.abs(ev),
    )
