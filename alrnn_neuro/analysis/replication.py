"""Which regimes and primitives replicate across fits of the same configuration.

One fit's regimes are not a finding: another initialisation seed may solve the task another
way. :func:`replication_table` analyses several fits of one configuration (a sweep's cells of
one P, or a list of run directories) and reports, per finding, in how many fits it appears:

============== ====================================================================
finding        holds in a fit when
============== ====================================================================
epoch_regions  region/epoch AMI beyond its circular-shift null (p < ``alpha``) and at
               least ``AMI_MARGIN`` (0.02) above the AMI of the network the fit started
               from (same seed and inputs; inputs alone align an untrained network's
               regions with the epochs)
integration    a used region integrates an evidence input (``detect_integration``)
gating         an input onset gates another input's integration (``detect_gating``);
               testable only where the target input reaches the regions before and
               after the onsets in enough trials (``target_supported``)
rule_routing   each rule's stimulus-epoch region routes its relevant feature
               (:func:`~alrnn_neuro.analysis.routing.rule_routing`; needs the
               stimulus-selection inputs and labels)
slow_hold      the hold epoch's dominant region has a mode with ``|lambda| >= 0.95``
               along which the rule reads out (AUC >= 0.75)
============== ====================================================================

Regions of different fits carry arbitrary codes (the rectified units are interchangeable), so
regions are *matched* to those of a reference fit (the first) by their task profile: the
share of each epoch x rule-level cell's bins each region takes, compared by cosine similarity
and assigned one-to-one (Hungarian algorithm). ``integration_same_region`` then asks whether
each fit integrates in the (matched) region that most integrating fits share.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment

from alrnn_neuro.analysis.alignment import region_condition_table, region_epoch_table
from alrnn_neuro.analysis.files import load_fit
from alrnn_neuro.analysis.pipeline import (
    STIMULUS_SOUNDS,
    AnalysisResult,
    analyze_run,
    default_evidence_inputs,
)
from alrnn_neuro.analysis.routing import hold_mode, rule_routing
from alrnn_neuro.analysis.summary import gating_support
from alrnn_neuro.analysis.untrained_reference import AMI_MARGIN
from alrnn_neuro.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["FINDINGS", "match_regions", "region_profiles", "replication_table"]

FINDINGS = ("epoch_regions", "integration", "gating", "rule_routing", "slow_hold")
SOUNDS = STIMULUS_SOUNDS
HOLD_MODULUS, HOLD_AUC = 0.95, 0.75
#: primitive, the record key of its region, the record key of its effect
PRIMITIVE_KEYS = (("integration", "region", "eigenvalue"), ("gating", "region_after", "gain_ratio"))


def region_profiles(latents: xr.Dataset, condition: str | None = "rule") -> xr.DataArray:
    """Task profile of each used region: its share of every epoch (x condition) cell's bins.

    Parameters
    ----------
    latents : xr.Dataset
        A run's ``latents.nc`` (``bitcode``, ``valid``, ``epoch``, trial coords).
    condition : str or None
        Trial coord crossed with the epochs (skipped when absent).

    Returns
    -------
    DataArray, dims (region, feature)
        Rows sum to the region's share of each cell; ``feature`` labels ``epoch`` or
        ``epoch|level``.
    """
    bitcode, valid, epoch = latents["bitcode"], latents["valid"], latents["epoch"]
    if condition is not None and condition in latents.coords:
        table = region_condition_table(bitcode, condition, valid, epoch)
        table = table.stack(feature=("epoch", condition))
        labels = [f"{e}|{c}" for e, c in table["feature"].values]
    else:
        table = region_epoch_table(bitcode, epoch, valid).rename(epoch="feature")
        labels = [str(e) for e in table["feature"].values]
    counts = table.values.astype(float)
    share = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
    return xr.DataArray(
        share,
        dims=("region", "feature"),
        coords={"region": table["region"].values, "feature": labels},
    )


def match_regions(reference: xr.DataArray, other: xr.DataArray) -> dict[int, int]:
    """One-to-one match of ``other``'s regions to ``reference``'s by profile similarity.

    Parameters
    ----------
    reference, other : DataArray, dims (region, feature)
        Outputs of :func:`region_profiles` (features are aligned by label; missing ones are 0).

    Returns
    -------
    dict
        ``other`` region -> matched ``reference`` region (regions left over are unmatched).

    Examples
    --------
    >>> ref = xr.DataArray([[1.0, 0.0], [0.0, 1.0]], dims=("region", "feature"),
    ...                    coords={"region": [0, 3], "feature": ["a", "b"]})
    >>> other = ref.assign_coords(region=[2, 1])[::-1]
    >>> match_regions(ref, other)
    {1: 3, 2: 0}
    """
    features = sorted(set(reference["feature"].values) | set(other["feature"].values))
    a = reference.reindex(feature=features, fill_value=0.0).values
    b = other.reindex(feature=features, fill_value=0.0).values
    na = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    nb = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    rows, cols = linear_sum_assignment(-(nb @ na.T))
    regions_a, regions_b = reference["region"].values, other["region"].values
    return {int(regions_b[i]): int(regions_a[j]) for i, j in zip(rows, cols, strict=True)}


def replication_table(
    fits: Sequence[Any],
    dataset: xr.Dataset | None = None,
    *,
    evidence_inputs: Sequence[str] | None = None,
    alpha: float = 0.01,
    n_null: int = 100,
    seed: int = 0,
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Findings of every fit and the rate at which each replicates.

    Parameters
    ----------
    fits : sequence of FitResult or run directories
        Fits of one configuration (same data, P and M; different model seeds).
    dataset : xr.Dataset, optional
        The fitted dataset (default: the one each fit recorded).
    evidence_inputs : sequence of str, optional
        Channels tested for integration (default: the stimulus-selection sounds when present,
        else all channels).
    alpha : float
        Threshold of the epoch-alignment p-value.
    n_null, seed : int
        Null draws and seed of each fit's analysis.

    Returns
    -------
    table : xr.Dataset
        dims ``fit``, ``finding``: ``found`` (bool; False where not testable), ``testable``
        (bool), ``effect`` (float: AMI, eigenvalue, gain ratio, selectivity or AUC),
        ``region`` (the reference region matched to the fit's region carrying the finding;
        -1 where the finding does not hold or has no matched region);
        ``integration_same_region`` (fit): the fit integrates in the region most integrating
        fits share; ``epoch_ami_untrained`` (fit): the region/epoch AMI of the network each fit
        started from (NaN where its dataset was not found).
    summary : dict
        Per finding: ``n_fits``, ``n_testable``, ``n_found``, ``rate`` (found / testable);
        integration adds ``region`` (that shared region, reference-numbered; -1 if none) and
        ``same_region_rate`` (share of all fits integrating there; None when no fit
        integrates); ``n_fits`` overall.
    """
    if len(fits) < 2:
        raise ConfigError(
            f"replication needs >= 2 fits of one configuration, got {len(fits)}; fix: give "
            "several run directories or a sweep folder with several seeds"
        )
    results = [_analysed(fit, dataset, evidence_inputs, n_null, seed) for fit in fits]
    reference = region_profiles(results[0][1].latents)
    rows = []
    for fit, analysis in results:
        profile = region_profiles(analysis.latents)
        matched = match_regions(reference, profile)
        rows.append(_findings(fit, analysis, matched, alpha))
    integration_region = _shared_region([r["integration"] for r in rows])
    same = [
        integration_region >= 0
        and r["integration"]["found"]
        and r["integration"]["region"] == integration_region
        for r in rows
    ]
    table = xr.Dataset(
        {
            name: (("fit", "finding"), np.array([[r[f][name] for f in FINDINGS] for r in rows]))
            for name in ("found", "testable", "effect", "region")
        },
        coords={"fit": [r["label"] for r in rows], "finding": list(FINDINGS)},
    )
    table["integration_same_region"] = ("fit", np.array(same))
    untrained = [r["epoch_regions"].get("ami_untrained", np.nan) for r in rows]
    table["epoch_ami_untrained"] = ("fit", np.asarray(untrained, float))
    summary: dict[str, Any] = {"n_fits": len(rows)}
    for finding in FINDINGS:
        testable = table["testable"].sel(finding=finding).values.astype(bool)
        found = table["found"].sel(finding=finding).values.astype(bool) & testable
        summary[finding] = {
            "n_fits": len(rows),
            "n_testable": int(testable.sum()),
            "n_found": int(found.sum()),
            "rate": float(found.sum() / testable.sum()) if testable.any() else None,
        }
    summary["integration"]["region"] = integration_region
    summary["integration"]["same_region_rate"] = (
        float(np.mean(same)) if integration_region >= 0 else None
    )
    return table, summary


def _shared_region(findings: list[dict]) -> int:
    """The (reference-numbered) region in which most fits find a finding; ties go to the
    lowest code; -1 where no fit finds it in a matched region. Taking the fits' own majority,
    not the first fit's region, keeps a first fit without the finding from making every
    other fit's region "different"."""
    regions = [f["region"] for f in findings if f["found"] and f["region"] >= 0]
    if not regions:
        return -1
    codes, counts = np.unique(regions, return_counts=True)
    return int(codes[np.argmax(counts)])


def _analysed(fit, dataset, evidence_inputs, n_null, seed) -> tuple[Any, AnalysisResult]:
    fit = load_fit(fit)
    evidence = evidence_inputs
    if evidence is None and fit.config.inputs:
        evidence = default_evidence_inputs(list(fit.config.inputs))
    analysis = analyze_run(
        fit,
        dataset,
        n_null=n_null,
        seed=seed,
        evidence_inputs=evidence,
        cycle_periods=(),
        untrained="ami",  # epoch_regions must beat the fit's own initialisation
    )
    return fit, analysis


def _findings(fit, analysis: AnalysisResult, matched: dict[int, int], alpha: float) -> dict:
    label = str(fit.run_dir.name) if fit.run_dir is not None else f"seed{fit.config.seed}"
    out: dict[str, Any] = {"label": label}
    p = analysis.summary.get("epoch_p")
    ami = analysis.summary.get("epoch_ami")
    untrained = (analysis.summary.get("untrained") or {}).get("epoch_ami")
    learned = ami is not None and (untrained is None or ami >= untrained + AMI_MARGIN)
    out["epoch_regions"] = _row(p is not None, p is not None and p < alpha and learned, ami, -1)
    out["epoch_regions"]["ami_untrained"] = np.nan if untrained is None else float(untrained)
    for kind, region_key, effect_key in PRIMITIVE_KEYS:
        hits = [r for r in analysis.primitives if r["primitive"] == kind and r.get("detected")]
        tested = any(r["primitive"] == kind for r in analysis.primitives)
        if kind == "gating":  # a row is a test only where the target reaches both regions
            tested = gating_support(analysis.primitives)["n_supported"] > 0
        best = max(hits, key=lambda r: _strength(kind, r), default={})
        region = matched.get(int(best[region_key]), -1) if best else -1
        effect = best.get(effect_key) if best else np.nan
        out[kind] = _row(tested, bool(hits), effect, region)
    out["rule_routing"] = _routing(fit, analysis, matched)
    out["slow_hold"] = _hold(fit, analysis, matched)
    return out


def _strength(kind: str, record: dict) -> float:
    """Which detected row of a primitive is reported: the most occupied integrating region,
    the gate that changes the gain most (either way)."""
    value = record.get("occupancy" if kind == "integration" else "gain_ratio")
    if value is None or not np.isfinite(value) or value <= 0:
        return 0.0
    return float(value) if kind == "integration" else abs(float(np.log(value)))


def _routing(fit, analysis: AnalysisResult, matched: dict[int, int]) -> dict:
    lat = fit.latents
    names = list(fit.config.inputs)
    if not (set(SOUNDS) <= set(names) and {"rule", "choice"} <= set(lat.coords)):
        return _row(False, False, np.nan, -1)
    stim = lat["valid"].values.astype(bool) & (lat["epoch"].values.astype(str) == "stimulus")
    rules = np.asarray(lat["rule"].values).astype(str)
    if not all((stim & (rules == level)[:, None]).any() for level in ("local", "pitch")):
        return _row(False, False, np.nan, -1)  # both rules' stimulus epochs are needed
    table, summary = rule_routing(analysis.params, lat, names)
    effect = float(table["selectivity"].min()) if len(table) else np.nan
    region = matched.get(int(table["region"].iloc[0]), -1) if len(table) else -1
    return _row(True, bool(summary["pair_found"]), effect, region)


def _hold(fit, analysis: AnalysisResult, matched: dict[int, int]) -> dict:
    lat = fit.latents
    hold = lat["valid"].values.astype(bool) & (lat["epoch"].values.astype(str) == "hold")
    if "rule" not in lat.coords or not hold.any():
        return _row(False, False, np.nan, -1)
    mode = hold_mode(analysis.params, lat)
    auc = mode["rule_auc"]
    found = mode["eigenvalue_modulus"] >= HOLD_MODULUS and np.isfinite(auc) and auc >= HOLD_AUC
    return _row(True, bool(found), float(auc), matched.get(int(mode["region"]), -1))


def _row(testable: bool, found: bool, effect: Any, region: int) -> dict:
    """One fit's record of a finding; the region only where the finding holds (the effect
    is kept either way: how far from the criterion a fit that misses it lies)."""
    value = np.nan if effect is None else float(effect)
    where = int(region) if found else -1
    return {"testable": bool(testable), "found": bool(found), "effect": value, "region": where}
