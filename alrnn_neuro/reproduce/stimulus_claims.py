"""The stimulus-selection claims of the study, each a test that can fail (``criteria.toml``).

=================  =============================================================================
claim              holds when
=================  =============================================================================
zero_insufficient  P = 0 loses to some P > 0 by more than ``selection.min_effect`` bits/spike,
                   one-sided test over held-out trials (:mod:`alrnn_neuro.sweep.selection`)
sparse_suffices    P = 0 is insufficient *and* the minimal sufficient P (equivalent to the best
                   within ``selection.margin``) lies in 0 < P < M
little_data        the same two conditions at the sweep's smallest training fraction
epoch_alignment    region/epoch AMI beyond its circular-shift null (p < ``epoch_alignment.alpha``)
                   and above an untrained network's with the same inputs by the margin
rule_routing       in at least ``routing.min_replicating_seeds`` model seeds: each rule's
                   stimulus region routes its relevant feature (weakest selectivity >=
                   ``routing.min_selectivity``) and the trials' regions follow the rule
                   (:func:`~alrnn_neuro.analysis.rule_memory.routing_contrast` beyond its
                   rule-label permutation null, p < alpha)
slow_hold          the hold-epoch region depends on the rule (permutation p < alpha), its
                   slowest mode has ``|lambda| >= slow_hold.min_modulus``, and the rule reads
                   out of that mode on held-out trials (signed AUC >= ``slow_hold.min_auc``,
                   z0 from the inter-trial interval only), by ``min_gain_over_untrained`` more
                   than an untrained network's
rsa                model vs recorded ``rsa.area`` in the ``rsa.segment`` epoch on held-out
                   trials (z0 bins excluded): Holm p < alpha and a similarity above the
                   untrained network's by the margin; reported against the noise ceiling
=================  =============================================================================

Regime and RSA claims are tested only on fits that beat the PSTH on held-out trials
(``fit.min_bits_per_spike``); an unfitted model's structure is not a finding. Routing and slow
hold are claims about a *region*; they count only where the data need nonlinearity
(``zero_insufficient``; :func:`~alrnn_neuro.reproduce.stimulus_session.gate_regime_claims`):
a fitted model's ReLU units split its state by the rule on data from a linear system too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro.analysis.alignment import alignment_scores
from alrnn_neuro.analysis.routing import rule_routing
from alrnn_neuro.analysis.rsa.pipeline import run_rsa
from alrnn_neuro.analysis.rule_memory import (
    hold_region_dependence,
    routing_contrast,
    signed_rule_auc,
)
from alrnn_neuro.errors import AlrnnNeuroError
from alrnn_neuro.reproduce.claim_records import ClaimResult
from alrnn_neuro.reproduce.criteria import criteria
from alrnn_neuro.sweep.selection import select_nonlinearity

logger = logging.getLogger(__name__)

SOUNDS = ("left_noise", "right_noise", "high_pitch", "low_pitch")
CLAIMS = {
    "zero_insufficient": "The linear RNN (P = 0) is insufficient: some P > 0 predicts held-out "
    "spikes better by more than the minimum effect",
    "sparse_suffices": "Sparse nonlinearity suffices: P = 0 is insufficient and the minimal "
    "sufficient P lies strictly between 0 and M",
    "little_data": "With little training data, sparse nonlinearity still suffices (smallest "
    "training fraction)",
    "epoch_alignment": "Linear regions align with the task epochs beyond what the inputs alone "
    "give an untrained network",
    "rule_routing": "Rule-set routing: each rule's stimulus-epoch region passes the rule's "
    "relevant feature to the choice, replicated across model seeds",
    "slow_hold": "The rule is held in a slow mode of a rule-dependent hold region (held-out "
    "trials, z0 from the inter-trial interval)",
    "rsa": "Model and recorded population share the condition structure of the hold epoch "
    "beyond an untrained network (RSA, held-out trials)",
}


#: the criterion of each claim in words (thresholds from ``criteria.toml``)
CRITERIA_TEXT = {
    "zero_insufficient": "one-sided test over held-out trials (Bonferroni over P): some P > 0 "
    "beats P = 0 by more than selection.min_effect bits/spike, p < alpha",
    "sparse_suffices": "P = 0 insufficient and the minimal P equivalent to the best (within "
    "selection.margin, equivalence test) is 0 < P < M",
    "little_data": "sparse_suffices at the sweep's smallest training fraction",
    "epoch_alignment": "AMI(region, epoch) circular-shift p < epoch_alignment.alpha and at "
    "least epoch_alignment.min_gain_over_untrained above the untrained network's",
    "rule_routing": "each rule's dominant stimulus region routes its feature (weakest "
    "selectivity >= routing.min_selectivity) and the trials' regions follow the rule (rule "
    "contrast beyond its label-permutation null, p < alpha), in >= "
    "routing.min_replicating_seeds model seeds; counted only where zero_insufficient holds",
    "slow_hold": "hold region depends on the rule (permutation p < alpha); its slowest "
    "|lambda| >= slow_hold.min_modulus; held-out signed AUC >= slow_hold.min_auc and "
    ">= slow_hold.min_gain_over_untrained above the untrained network's; counted only where "
    "zero_insufficient holds",
    "rsa": "Holm p < alpha and similarity >= rsa.min_gain_over_untrained above the "
    "untrained network's (held-out trials, z0 bins excluded)",
}


def selection_claims(
    sweep_dir: str | Path, *, latent_dim: int, fractions: Sequence[float], seed: int = 0
) -> dict[str, ClaimResult]:
    """``zero_insufficient``, ``sparse_suffices`` and ``little_data`` from a sweep folder."""
    c = criteria()
    options = {
        "alpha": c["calibration"]["alpha"],
        "min_effect": c["selection"]["min_effect"],
        "margin": c["selection"]["margin"],
        "n_boot": c["selection"]["n_boot"],
        "seed": seed,
        "latent_dim": latent_dim,
    }
    fractions = sorted(float(f) for f in fractions)
    out: dict[str, ClaimResult] = {}
    big = select_nonlinearity(sweep_dir, train_fraction=fractions[-1], **options)
    out["zero_insufficient"] = _zero_insufficient(big)
    out["sparse_suffices"] = _sparse_suffices(big, latent_dim, fractions[-1])
    if len(fractions) > 1:
        small = select_nonlinearity(sweep_dir, train_fraction=fractions[0], **options)
        out["little_data"] = _sparse_suffices(small, latent_dim, fractions[0])
    else:
        out["little_data"] = ClaimResult.not_testable("the sweep has one training fraction")
    return out


def _zero_insufficient(result: xr.Dataset) -> ClaimResult:
    gains = result["gain_vs_zero"].values
    best = int(np.nanargmax(np.where(result["pwl_units"].values > 0, gains, -np.inf)))
    p = float(result["zero_insufficient_p"])
    ci = tuple(float(v) for v in result["gain_vs_zero_ci"].values[best])
    holds = bool(result["zero_insufficient"]) if np.isfinite(result["zero_insufficient"]) else None
    p_best = int(result["pwl_units"].values[best])
    return ClaimResult(
        holds=holds,
        effect=float(gains[best]),
        effect_name=f"gain of P={p_best} over P=0 (bits/spike)",
        ci=ci,
        p_value=p,
        evidence=(
            f"P={p_best} gains {gains[best]:+.4f} bits/spike over P=0 (95% CI {ci[0]:+.4f}.."
            f"{ci[1]:+.4f}); one-sided test against the minimum effect, p = {p:.3g} "
            f"(Bonferroni over P); {_per_p(result)}"
        ),
    )


def _sparse_suffices(result: xr.Dataset, latent_dim: int, fraction: float) -> ClaimResult:
    zero = _zero_insufficient(result)
    minimal = float(result["minimal_pwl_units"])
    sparse = math.isfinite(minimal) and 0 < minimal < latent_dim
    holds = bool(zero.holds) and sparse if zero.holds is not None else None
    word = "cannot tell" if not math.isfinite(minimal) else f"P = {minimal:g}"
    p_eq = float(result["p_equivalent"].sel(pwl_units=minimal)) if sparse else float("nan")
    # both parts must be shown: the intersection-union p is the larger of the two; with no
    # sparse P there is no equivalence test, so no p of the claim (zero_insufficient has its own)
    p_value = max(zero.p_value, p_eq) if sparse else None
    equivalence = f"equivalence p = {p_eq:.3g}; " if sparse else ""
    return ClaimResult(
        holds=holds,
        effect=minimal,
        effect_name="minimal sufficient P",
        p_value=p_value,
        evidence=(
            f"training fraction {fraction:g}: minimal sufficient P {word} (M = {latent_dim}; "
            f"{equivalence}p of both parts = max of their p-values); P = 0 insufficient: "
            f"{zero.holds} (p = {zero.p_value:.3g}); {_per_p(result)}"
        ),
    )


def _per_p(result: xr.Dataset) -> str:
    parts = [
        f"P={int(p)} {float(result['bits_per_spike'].sel(pwl_units=p)):.4f}"
        for p in result["pwl_units"].values
    ]
    return "held-out bits/spike " + ", ".join(parts)


def fit_quality(fit: Any) -> tuple[bool, str]:
    """Whether a fit beats the PSTH on held-out trials enough to read its structure."""
    bits = fit.metrics.get("test", {}).get("bits_per_spike", float("nan"))
    floor = criteria()["fit"]["min_bits_per_spike"]
    ok = bits is not None and math.isfinite(bits) and bits > floor
    return ok, f"test bits/spike {bits:.4f} {'>' if ok else '<='} {floor:g}"


def epoch_alignment_claim(fit: Any, untrained: Any, *, n_null: int, seed: int) -> ClaimResult:
    """Region/epoch AMI beyond its null and above an untrained network's (same inputs)."""
    c = criteria()["epoch_alignment"]
    lat = fit.latents
    labels = set(np.asarray(lat["epoch"].values)[np.asarray(lat["valid"].values, bool)].tolist())
    if len(labels) < 2:
        return ClaimResult.not_testable(f"the data have one epoch label only ({sorted(labels)})")
    ok, quality = fit_quality(fit)
    if not ok:
        return ClaimResult(
            holds=False, evidence=f"the model does not fit ({quality})", model_fits=False
        )
    ami, p = _epoch_ami(fit, n_null, seed)
    ami_u, _ = _epoch_ami(untrained, 0, seed)
    effect = ami - ami_u
    holds = p < c["alpha"] and effect >= c["min_gain_over_untrained"]
    return ClaimResult(
        holds=bool(holds),
        effect=effect,
        effect_name="AMI(region, epoch) minus the untrained network's",
        p_value=p,
        evidence=(
            f"AMI {ami:.3f} (circular-shift null p = {p:.3g}, {n_null} draws) vs untrained "
            f"{ami_u:.3f}: gain {effect:+.3f} (margin {c['min_gain_over_untrained']}); {quality}"
        ),
    )


def _epoch_ami(fit: Any, n_null: int, seed: int) -> tuple[float, float]:
    lat = fit.latents
    table = alignment_scores(
        lat["bitcode"], lat["valid"], lat["epoch"], (), n_null=n_null, seed=seed
    )
    row = table[(table["variable"] == "epoch") & (table["epoch"] == "all")].iloc[0]
    p = float(row["p_circular"]) if n_null else float("nan")
    return float(row["ami"]), p


def routing_claim(fits: Sequence[Any], *, n_shuffles: int, seed: int) -> ClaimResult:
    """Rule-set routing in each model seed against a rule-permutation null; replication count."""
    c = criteria()
    alpha, margin = c["calibration"]["alpha"], c["routing"]["min_selectivity"]
    lat0 = fits[0].latents
    names = list(fits[0].config.inputs)
    missing = [f"input {s!r}" for s in SOUNDS if s not in names]
    missing += [f"trial label {c!r}" for c in ("rule", "choice") if c not in lat0.coords]
    if missing:
        return ClaimResult.not_testable(f"the data lack {', '.join(missing)}")
    per_fit = []
    for k, fit in enumerate(fits):
        ok, quality = fit_quality(fit)
        if not ok:
            per_fit.append({"holds": False, "why": quality})
            continue
        try:
            table, summary = rule_routing(fit.params, fit.latents, names)
        except AlrnnNeuroError as error:
            per_fit.append({"holds": False, "why": str(error)})
            continue
        weakest = float(table["selectivity"].min())
        test = routing_contrast(fit.params, fit.latents, names, n_null=n_shuffles, seed=seed + k)
        p = test["p_value"]
        holds = bool(summary["pair_found"]) and weakest >= margin and p < alpha
        found = {"holds": holds, "weakest": weakest, "contrast": test["contrast"], "p": p}
        per_fit.append({**found, "q95": test["null_95"]})
    n_holds = sum(r["holds"] for r in per_fit)
    need = min(c["routing"]["min_replicating_seeds"], len(fits))
    contrasts = [r["contrast"] for r in per_fit if "contrast" in r]
    ps = [r["p"] for r in per_fit if "p" in r]
    q95 = [r["q95"] for r in per_fit if "q95" in r]
    rows = "; ".join(
        f"seed {k}: weakest SI {r['weakest']:+.2f}, rule contrast {r['contrast']:+.2f} "
        f"(p {r['p']:.3g}), holds {r['holds']}"
        if "weakest" in r
        else f"seed {k}: {r['why']}"
        for k, r in enumerate(per_fit)
    )
    return ClaimResult(
        holds=n_holds >= need,
        effect=float(np.median(contrasts)) if contrasts else float("nan"),
        effect_name="rule contrast of the trials' routing selectivity (median over model seeds)",
        p_value=float(np.max(ps)) if ps else None,
        null_quantile=float(np.median(q95)) if q95 else None,
        evidence=f"{n_holds} of {len(fits)} model seeds route (need {need}); {rows}",
    )


def slow_hold_claim(
    fit: Any, untrained: Any, ds: xr.Dataset, *, n_null: int, seed: int
) -> ClaimResult:
    """Rule held in a slow mode of a rule-dependent hold region, on held-out trials."""
    c = criteria()
    h, alpha = c["slow_hold"], c["calibration"]["alpha"]
    lat = fit.latents
    if "rule" not in lat.coords or not (lat["epoch"].values == "hold").any():
        return ClaimResult.not_testable("the data lack a 'rule' label or a 'hold' epoch")
    if len(set(np.asarray(lat["rule"].values).astype(str).tolist())) != 2:
        return ClaimResult.not_testable("the rule does not have exactly two levels")
    ok, quality = fit_quality(fit)
    if not ok:
        return ClaimResult(
            holds=False, evidence=f"the model does not fit ({quality})", model_fits=False
        )
    dependence = hold_region_dependence(lat, n_null=n_null, seed=seed)
    trained = _held_out_auc(fit, ds, tuple(h["init_epochs"]))
    if trained["n_test"] < h["min_held_out_trials"]:
        return ClaimResult.not_testable(
            f"{trained['n_test']} held-out trials reach the hold epoch; the AUC needs >= "
            f"{h['min_held_out_trials']} (slow_hold.min_held_out_trials)"
        )
    baseline = _held_out_auc(untrained, ds, tuple(h["init_epochs"]))
    gain = trained["auc"] - baseline["auc"]
    holds = (
        dependence["p_value"] < alpha
        and trained["eigenvalue_modulus"] >= h["min_modulus"]
        and trained["auc"] >= h["min_auc"]
        and gain >= h["min_gain_over_untrained"]
    )
    return ClaimResult(
        holds=bool(holds),
        effect=trained["auc"],
        effect_name="held-out rule AUC along the hold region's slowest mode",
        p_value=dependence["p_value"],
        null_quantile=dependence["null_95"],
        evidence=(
            f"hold region depends on the rule: AMI {dependence['ami']:.3f} (permutation p = "
            f"{dependence['p_value']:.3g}); region {trained['region']} slowest |λ| "
            f"{trained['eigenvalue_modulus']:.3f}; held-out signed AUC {trained['auc']:.3f} "
            f"(untrained {baseline['auc']:.3f}, gain {gain:+.3f}) on {trained['n_test']} trials; "
            f"{quality}"
        ),
    )


def _held_out_auc(fit: Any, ds: xr.Dataset, init_epochs: tuple[str, ...]) -> dict[str, float]:
    """Signed rule AUC with z0 read from ``init_epochs`` only, training vs held-out trials."""
    train = np.asarray(fit.split["train"])
    held_out = np.concatenate([np.asarray(fit.split[k]) for k in ("val", "test") if k in fit.split])
    epochs = init_epochs if fit.config.init_state == "data" else None
    latents = fit.encode(ds, init_epochs=epochs)
    try:
        return signed_rule_auc(fit.params, latents, train, held_out)
    except AlrnnNeuroError as error:
        logger.info("slow hold: %s", error)
        return {"auc": float("nan"), "region": -1, "eigenvalue_modulus": float("nan"), "n_test": 0}


def rsa_claim(
    fit: Any, untrained: Any, ds: xr.Dataset, *, n_perm: int, n_boot: int, seed: int
) -> ClaimResult:
    """Model vs recorded area in one epoch, held-out trials, against an untrained network."""
    c = criteria()
    r, alpha = c["rsa"], c["calibration"]["alpha"]
    conditions = [name for name in r["conditions"] if name in ds.coords]
    areas = []
    if "area" in ds.coords:
        areas = sorted(set(np.asarray(ds["area"].values).astype(str).tolist()))
    if r["area"] not in areas:
        where = f"the recorded units are in {areas}" if areas else "the units have no 'area'"
        return ClaimResult.not_testable(f"{where}, none in {r['area']}")
    if len(conditions) < 2:
        return ClaimResult.not_testable(f"the data lack the condition labels {r['conditions']}")
    ok, quality = fit_quality(fit)
    if not ok:
        return ClaimResult(
            holds=False, evidence=f"the model does not fit ({quality})", model_fits=False
        )
    row = _rsa_row(fit, ds, conditions, n_perm, n_boot, seed)
    if row is None:
        return ClaimResult.not_testable(f"no {r['area']} / {r['segment']} comparison was possible")
    row_u = _rsa_row(untrained, ds, conditions, 0, 0, seed)
    base = row_u["similarity"] if row_u is not None else float("nan")
    effect = row["similarity"] - base if math.isfinite(base) else float("nan")
    p = row["p_corrected"]
    holds = p is not None and p < alpha and math.isfinite(effect)
    holds = holds and effect >= r["min_gain_over_untrained"]
    ceiling = row.get("noise_ceiling") or [None, None]
    return ClaimResult(
        holds=bool(holds),
        effect=row["similarity"],
        effect_name=f"model vs {r['area']} similarity in the {r['segment']} epoch",
        ci=tuple(float(v) for v in row["ci"]) if row.get("ci") else None,
        p_value=p,
        evidence=(
            f"similarity {row['similarity']:.3f}, Holm p = {_n(p)}, untrained {_n(base)} "
            f"(gain {_n(effect)}); noise ceiling {_n(ceiling[0])}..{_n(ceiling[1])} "
            f"({row.get('ceiling_position', 'n/a')}); held-out trials, z0 bins excluded; "
            f"{quality}"
        ),
    )


class _ThinConditions(logging.Filter):
    """Drops run_rsa's per-call warning about thin conditions (claims run RSA many times)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "have fewer than" not in str(record.msg)


@contextmanager
def _quiet_rsa():
    rsa_log = logging.getLogger("alrnn_neuro.analysis.rsa.pipeline")
    quiet = _ThinConditions()
    rsa_log.addFilter(quiet)
    try:
        yield
    finally:
        rsa_log.removeFilter(quiet)


def _rsa_row(fit, ds, conditions, n_perm, n_boot, seed) -> dict | None:
    r = criteria()["rsa"]
    try:
        with _quiet_rsa():
            _, summary = run_rsa(
                fit.latents,
                ds,
                conditions=conditions,
                by="epoch",
                n_perm=n_perm,
                n_boot=n_boot,
                seed=seed,
                init_bins=_init_bins(fit),
            )
    except AlrnnNeuroError as error:
        logger.info("RSA: %s", error)
        return None
    seg = summary.get("segment_dim", "epoch")
    rows = [x for x in summary["rows"] if x["area"] == r["area"] and x.get(seg) == r["segment"]]
    if not rows or rows[0].get("similarity") is None:
        return None
    return rows[0]


def _init_bins(fit: Any) -> int:
    return int(fit.config.init_bins) if fit.config.init_state == "data" else 0


def _n(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3g}"
