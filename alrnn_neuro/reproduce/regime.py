"""Regime facts of the chosen stimulus-selection model, as needed by the claims.

Measures (fixed before any reproduction was run; docs/notes/regime-recovery.md motivates them):

- **epoch alignment**: AMI(region, epoch) of ``analyze_run`` and its circular-shift null p;
- **rule-set routing**: :func:`alrnn_neuro.analysis.routing.rule_routing` (dominant
  stimulus-epoch region per rule, and whether that region's map passes the rule's relevant
  feature to a logistic choice axis; T = 10 bins);
- **slow hold mode**: the most used region of the hold epoch, its slowest |eigenvalue|, and
  how well the rule reads out (ROC AUC, sign-free) of the latents projected on that mode's left
  eigenvector at each trial's last hold bin.

Each function returns a dict with ``testable`` False and a ``reason`` when the dataset lacks
what the measure needs (e.g. a lab's own recordings with other labels).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from alrnn_neuro.analysis.routing import hold_mode, rule_routing
from alrnn_neuro.models.params import ALRNNParams

logger = logging.getLogger(__name__)

SOUNDS = ("left_noise", "right_noise", "high_pitch", "low_pitch")
RULES = ("local", "pitch")


def routing_facts(fit: Any) -> dict[str, Any]:
    """Rule-set routing pair of a fitted AL-RNN (see the module docstring)."""

    lat = fit.latents
    names = list(fit.config.inputs)
    missing = _missing(lat, names)
    if missing:
        return {"testable": False, "reason": f"the data lack {', '.join(missing)}"}
    table, summary = rule_routing(ALRNNParams.from_model(fit), lat, names)
    rows = table.to_dict(orient="records")
    return {
        "testable": True,
        "pair_found": bool(summary["pair_found"]),
        "rows": rows,
        "choice_accuracy": float(summary["choice_accuracy"]),
        "horizon": int(summary["horizon"]),
    }


def hold_facts(fit: Any) -> dict[str, Any]:
    """Slowest mode of the dominant hold-epoch region and the rule AUC along it.

    :func:`~alrnn_neuro.analysis.routing.hold_mode` on the fit, as a claims record:
    ``testable``, ``region``, ``share``, ``slowest_modulus`` and ``rule_auc`` (None unless the
    rule has two levels).
    """

    lat = fit.latents
    hold = lat["valid"].values.astype(bool) & (lat["epoch"].values.astype(str) == "hold")
    if "rule" not in lat.coords or not hold.any():
        return {"testable": False, "reason": "the data lack a 'rule' trial label or a 'hold' epoch"}
    mode = hold_mode(ALRNNParams.from_model(fit), lat)
    auc = mode["rule_auc"]
    return {
        "testable": True,
        "region": mode["region"],
        "share": mode["share"],
        "slowest_modulus": mode["eigenvalue_modulus"],
        "rule_auc": None if np.isnan(auc) else auc,
    }


def _missing(lat, names: list[str]) -> list[str]:
    out = [f"input '{s}'" for s in SOUNDS if s not in names]
    for coord in ("rule", "choice"):
        if coord not in lat.coords:
            out.append(f"trial label '{coord}'")
    if "rule" in lat.coords:
        have = set(np.asarray(lat["rule"].values).astype(str))
        out += [f"rule level '{r}'" for r in RULES if r not in have]
    if "epoch" in lat and not (lat["epoch"].values == "stimulus").any():
        out.append("a 'stimulus' epoch")
    return out
