"""The study's claims, evaluated on a reproduction's numbers (Brenner & Koppe, TMLR 2026).

Every claim is a dict ``{"claim": str, "holds": bool | None, "evidence": str}``; ``holds`` is
None when the data cannot test it (and the evidence says why). The criteria are fixed here,
before any run, and are never tuned to a result:

Sweep (stimulus selection; metric from :func:`alrnn_neuro.sweep.summarize`: test bits/spike,
higher is better, or test loss for non-spike data), mean ± sem over seeds:

1. at the largest training fraction the best sparse P (1 or 2) has mean >= mean(P=M) - sem(P=M);
2. at the largest training fraction mean(P=0) < mean(best P) - sem(best P);
3. at the smallest training fraction mean(best sparse P) >= mean(P=M).

Regimes of the chosen model: region/epoch AMI null p < 0.01; a rule-set routing pair; a slow
hold mode with |lambda| >= 0.95 from which the rule reads out with AUC >= 0.8. RSA: model vs
mPFC rule structure in the hold epoch, Holm-corrected p < 0.05.

Tasks: per task, the minimal sufficient P (smallest P within one sem of the best mean test
accuracy) is below M, provided some P learned the task (best mean accuracy >= 0.6); multi-task:
the shared index falls with P over P > 0 (Spearman rho < 0, p < 0.05; P = 0 is excluded
because one region is shared trivially).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.sweep import summarize

SPARSE = (1, 2)
LEARNED = 0.6


def claim(text: str, holds: bool | None, evidence: str) -> dict[str, Any]:
    """One claim record."""
    return {"claim": text, "holds": None if holds is None else bool(holds), "evidence": evidence}


def _ms(mean: xr.DataArray, sem: xr.DataArray, **sel: Any) -> tuple[float, float]:
    return float(mean.sel(**sel)), float(sem.sel(**sel))


def _row(mean, sem, ps, **sel) -> str:
    return ", ".join(f"P={p} {_fmt(*_ms(mean, sem, pwl_units=p, **sel))}" for p in ps)


def _fmt(m: float, s: float) -> str:
    return f"{m:.4g} ± {s:.2g}"


def sweep_claims(results: xr.Dataset, *, latent_dim: int) -> list[dict[str, Any]]:
    """Claims 1-3 from a stimulus-selection sweep (dims model, pwl_units, seed, train_fraction)."""

    summary = summarize(results)
    metric = summary.attrs["metric"]
    higher = metric.endswith(("bits_per_spike", "accuracy"))
    better = (lambda a, b: a >= b) if higher else (lambda a, b: a <= b)
    sign = 1.0 if higher else -1.0
    mean = summary["mean"].sel(model="alrnn", drop=True)
    sem = summary["sem"].sel(model="alrnn", drop=True)
    ps = [int(p) for p in mean["pwl_units"].values]
    fractions = sorted(float(f) for f in mean["train_fraction"].values)
    big, small = fractions[-1], fractions[0]
    sparse = [p for p in ps if p in SPARSE]
    n = int(summary["n_seeds"].sel(model="alrnn").max())
    head = f"{metric} (mean ± sem over {n} seeds)"
    texts = (
        f"Sparse nonlinearity (P = 1-2) reaches the full PLRNN (P = M = {latent_dim}) within "
        "one sem",
        "The linear RNN (P = 0) falls short of the best P by more than one sem",
        "At the smallest training fraction sparse P is at least as good as P = M (mean)",
    )
    if latent_dim not in ps or 0 not in ps or not sparse:
        why = f"the sweep's P values {ps} must include 0, 1 or 2, and M={latent_dim}"
        return [claim(t, None, f"not testable: {why}") for t in texts]
    out = []
    best_s = max(sparse, key=lambda p: sign * float(mean.sel(pwl_units=p, train_fraction=big)))
    ms, _ = _ms(mean, sem, pwl_units=best_s, train_fraction=big)
    mm, sm = _ms(mean, sem, pwl_units=latent_dim, train_fraction=big)
    bound = mm - sign * sm
    base = _baselines(summary, big)
    minimal = summary["minimal_pwl_units"].sel(train_fraction=big).item()
    out.append(
        claim(
            texts[0],
            better(ms, bound),
            (
                f"{head}, train fraction {big:g}: {_row(mean, sem, ps, train_fraction=big)}{base}. "
                f"Best sparse P={best_s}: {ms:.4g} vs P=M bound {mm:.4g} {'-' if higher else '+'} "
                f"{sm:.2g} = {bound:.4g}. Minimal sufficient P (within one sem of the best): "
                f"{minimal:g}."
            ),
        )
    )
    row = mean.sel(train_fraction=big)
    best = int(row["pwl_units"].values[int(np.nanargmax(sign * row.values))])
    mb, sb = _ms(mean, sem, pwl_units=best, train_fraction=big)
    m0, _ = _ms(mean, sem, pwl_units=0, train_fraction=big)
    gap = mb - sign * sb
    holds = best != 0 and not better(m0, gap)
    out.append(
        claim(
            texts[1],
            holds,
            (
                f"train fraction {big:g}: P=0 {m0:.4g} vs best P={best} {_fmt(mb, sb)} (bound "
                f"{gap:.4g}); the gap is {abs(mb - m0):.2g} = {abs(mb - m0) / max(sb, 1e-12):.1f} "
                "sem."
            ),
        )
    )
    best_small = max(
        sparse, key=lambda p: sign * float(mean.sel(pwl_units=p, train_fraction=small))
    )
    ms2, _ = _ms(mean, sem, pwl_units=best_small, train_fraction=small)
    mm2, _ = _ms(mean, sem, pwl_units=latent_dim, train_fraction=small)
    out.append(
        claim(
            texts[2],
            better(ms2, mm2),
            (
                f"{head}, train fraction {small:g}: {_row(mean, sem, ps, train_fraction=small)}"
                f"{_baselines(summary, small)}. Best sparse P={best_small} {ms2:.4g} vs P=M "
                f"{mm2:.4g}."
            ),
        )
    )
    return out


def _baselines(summary: xr.Dataset, fraction: float) -> str:
    models = [str(m) for m in summary["model"].values if str(m) != "alrnn"]
    if not models:
        return ""
    p0 = summary["pwl_units"].values[0]
    parts = [
        f"{m} {_fmt(*_ms(summary['mean'], summary['sem'], model=m, pwl_units=p0, train_fraction=fraction))}"  # noqa: E501
        for m in models
    ]
    return "; baselines: " + ", ".join(parts)


def regime_claims(
    analysis: dict[str, Any], routing: dict[str, Any], hold: dict[str, Any]
) -> list[dict[str, Any]]:
    """Regime claims from ``analyze_run``'s summary and :mod:`~alrnn_neuro.reproduce.regime`.

    ``analysis["n_epochs"]`` (distinct epoch labels on valid bins; optional) below 2 makes the
    epoch-alignment claim untestable.
    """
    out = []
    ami, p = analysis.get("epoch_ami"), analysis.get("epoch_p")
    text = "Linear regions align with the task epochs (region/epoch AMI above null, p < 0.01)"
    if analysis.get("n_epochs", 2) < 2:
        out.append(claim(text, None, "not testable: the data have one epoch label only"))
    elif ami is None or p is None:
        out.append(claim(text, None, "not testable: no epoch labels or no null draws"))
    else:
        out.append(
            claim(
                text,
                p < 0.01,
                (
                    f"AMI(region, epoch) = {ami:.3f}, circular-shift null p = {p:.3g} "
                    f"({analysis.get('n_regions_used')} of {analysis.get('n_regions_total')} "
                    "regions "
                    f"used, {analysis.get('n_regions_90')} cover 90 % of steps)"
                ),
            )
        )
    text = (
        "Rule-set routing: each rule puts the stimulus epoch in its own region, whose map passes "
        "the rule's relevant feature (location / pitch) to the choice"
    )
    if not routing.get("testable"):
        out.append(claim(text, None, f"not testable: {routing.get('reason')}"))
    else:
        rows = "; ".join(
            f"{r['rule']}: region {r['region']} ({r['share']:.0%} of its stimulus bins), "
            f"location {r['location']:+.2f}, pitch {r['pitch']:+.2f}, SI {r['selectivity']:+.2f}"
            for r in routing["rows"]
        )
        out.append(
            claim(
                text,
                routing["pair_found"],
                (
                    f"{rows}; choice axis CV accuracy {routing['choice_accuracy']:.2f}, T = "
                    f"{routing['horizon']} bins (SI > 0: the region passes the rule's relevant "
                    "feature)"
                ),
            )
        )
    text = "The rule is held in a slow mode during the hold epoch (|λ| >= 0.95, rule AUC >= 0.8)"
    if not hold.get("testable"):
        out.append(claim(text, None, f"not testable: {hold.get('reason')}"))
    else:
        auc = hold["rule_auc"]
        ok = hold["slowest_modulus"] >= 0.95 and auc is not None and auc >= 0.8
        auc_text = "n/a" if auc is None else f"{auc:.2f}"
        out.append(
            claim(
                text,
                ok,
                (
                    f"hold region {hold['region']} ({hold['share']:.0%} of hold bins): slowest "
                    "|λ| = "
                    f"{hold['slowest_modulus']:.3f}; rule AUC along its left eigenvector = "
                    f"{auc_text}"
                ),
            )
        )
    return out


def rsa_claim(summary: dict[str, Any] | None, *, area: str = "mPFC", segment: str = "hold"):
    """Model vs recorded ``area`` similarity in the ``segment`` epoch (Holm p < 0.05)."""
    text = f"Model and recorded {area} share the condition structure in the {segment} epoch (RSA)"
    if summary is None:
        return claim(text, None, "not testable: RSA was skipped (no condition labels)")
    seg = summary.get("segment_dim", "epoch")
    rows = [r for r in summary["rows"] if r["area"] == area and r.get(seg) == segment]
    areas = sorted({str(r["area"]) for r in summary["rows"]})
    if area not in areas:
        return claim(text, None, f"not testable: the recorded units are in {areas}, none in {area}")
    if not rows or rows[0]["similarity"] is None:
        return claim(text, None, f"not testable: no {area} / {segment} comparison in rsa.json")
    r = rows[0]
    ok = r["similarity"] > 0 and r["p_corrected"] is not None and r["p_corrected"] < 0.05
    return claim(
        text,
        ok,
        (
            f"{summary.get('compare')} on {summary.get('distance')} RDMs of "
            f"{', '.join(summary.get('conditions', []))}: similarity {r['similarity']:.3f} "
            f"(95% CI {_n(r['ci'][0])}..{_n(r['ci'][1])}), p = {_n(r['p_value'])}, Holm p = "
            f"{_n(r['p_corrected'])}, noise ceiling {_n(r['noise_ceiling'][0])}.."
            f"{_n(r['noise_ceiling'][1])}, {_n(r['n_conditions'])} conditions"
        ),
    )


def _n(x: float | None) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.3g}"


def task_claim(task: str, results: xr.Dataset, latent_dim: int) -> dict[str, Any]:
    """Minimal sufficient P of one task (test accuracy), and whether it is below M."""

    text = f"{task}: a sparse AL-RNN (P < M = {latent_dim}) is as good as the best P"
    metric = "test_accuracy" if "test_accuracy" in results else "test_loss"
    if bool(results[metric].sel(model="alrnn").isnull().all()):
        return claim(text, None, f"not testable: no finished cell has a {metric}")
    summary = summarize(results, metric)
    mean = summary["mean"].sel(model="alrnn", drop=True)
    sem = summary["sem"].sel(model="alrnn", drop=True)
    if "train_fraction" in mean.dims:
        big = float(mean["train_fraction"].max())
        mean, sem = mean.sel(train_fraction=big), sem.sel(train_fraction=big)
        minimal = summary["minimal_pwl_units"].sel(train_fraction=big).item()
    else:
        minimal = summary["minimal_pwl_units"].item()
    ps = [int(p) for p in mean["pwl_units"].values]
    evidence = f"{summary.attrs['metric']}: {_row(mean, sem, ps)}; minimal sufficient P = "
    evidence += f"{minimal:g}" if np.isfinite(minimal) else "n/a"
    best = float(mean.max())
    if summary.attrs["metric"] == "test_accuracy" and not best >= LEARNED:
        return claim(
            text,
            None,
            f"not testable: no P learned the task (best mean accuracy "
            f"{best:.3g} < {LEARNED}); {evidence}",
        )
    return claim(text, bool(np.isfinite(minimal) and minimal < latent_dim), evidence)


def multitask_claims(summary: dict[str, Any], latent_dim: int) -> list[dict[str, Any]]:
    """Shared-vs-distributed claim from :func:`~alrnn_neuro.reproduce.tasks.summarize_multitask`."""
    text = (
        "Multi-task: small P shares regions across tasks, large P makes them task-specific "
        "(shared index falls with P over P > 0; Spearman rho < 0, p < 0.05)"
    )
    rows = summary["by_pwl_units"]
    per_p = "; ".join(
        f"P={r['pwl_units']}: shared {_pair(r['shared_index'])}, specificity "
        f"{_pair(r['task_specificity'])}, accuracy {_pair(r['task_accuracy'])}"
        for r in rows
    )
    trend = summary["spearman_shared_vs_p"]
    if trend["rho"] is None:
        return [claim(text, None, f"not testable: fewer than two P > 0 with data; {per_p}")]
    ok = trend["rho"] < 0 and trend["p_value"] < 0.05
    return [
        claim(
            text,
            ok,
            (
                f"Spearman rho = {trend['rho']:.2f} (p = {trend['p_value']:.3g}, "
                f"{trend['n_cells']} "
                f"cells, M = {latent_dim}); {per_p}"
            ),
        )
    ]


def _pair(v: list) -> str:
    return "n/a" if v[0] is None else f"{v[0]:.3f} ± {v[1]:.2g}"
