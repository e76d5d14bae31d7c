"""One claim, evaluated: the verdict with its effect size, uncertainty and test, and calibration.

A :class:`ClaimResult` is what one evaluation of a claim on one session gives. The claims of a
reproduction then carry, beside the positive session's result, how often each claim held on
data where it must not (its *false-positive rate* per control) and on the positive generator
(its *power*), and a status:

* a claim whose false-positive rate exceeds ``alpha + max_excess_fpr`` of ``criteria.toml`` is
  reported as ``"uncalibrated"``, never as holding;
* a calibrated claim that holds on the reproduction's draw but on fewer than ``min_power`` of
  its power draws is reported as ``"not replicated"``: one draw's verdict that fresh draws of
  the same data do not repeat is not a finding;
* a calibrated claim that fails on the reproduction's draw while its power is below the same
  ``min_power``, measured on draws that have the effect by construction (the stimulus
  reproduction's pwl sessions: ``power["true_by_construction"]``), is reported as
  :data:`~alrnn_neuro._claim_status.LOW_POWER` (``"not shown (low power)"``), never as
  ``"does not hold"``: a test that misses the effect on most draws where it is true says
  nothing against the claim by missing it once (absence of evidence is not evidence of
  absence). Where the power draws are fresh draws of the same data (the task reproduction), a
  low rate means the failure replicates, and the claim reads ``"does not hold"``; so does a
  failing claim with power at or above ``min_power``, or without power draws.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy.stats import binomtest

from alrnn_neuro._claim_status import (
    DOES_NOT_HOLD,
    HOLDS,
    LOW_POWER,
    NOT_REPLICATED,
    NOT_TESTABLE,
    UNCALIBRATED,
)
from alrnn_neuro.reproduce.criteria import max_false_positive_rate, min_power


@dataclass
class ClaimResult:
    """One evaluation of one claim.

    Attributes
    ----------
    holds : bool or None
        None when the data cannot test the claim (``reason`` says why).
    effect : float
        The effect size the claim is about (named by ``effect_name``).
    ci : (float, float) or None
        Its confidence interval.
    p_value : float or None
        The test's p-value (or the permutation p-value against the null).
    null_quantile : float or None
        95th percentile of the null distribution, where the test is a permutation test.
    evidence : str
        The numbers in words.
    reason : str
        Why the claim could not be tested (``holds is None``).
    model_fits : bool
        False where the claim failed because the model under test does not fit the data
        (no better than the PSTH): on a control that is no test of the claim, so the control's
        false-positive rate leaves it out; on the positive sessions it counts against power.
    """

    holds: bool | None
    effect: float = float("nan")
    effect_name: str = ""
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    null_quantile: float | None = None
    evidence: str = ""
    reason: str = ""
    model_fits: bool = True

    @classmethod
    def not_testable(cls, reason: str) -> ClaimResult:
        """A result for data that cannot test the claim."""
        return cls(holds=None, reason=reason, evidence=f"not testable: {reason}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None)."""
        out = asdict(self)
        for key in ("effect", "p_value", "null_quantile"):
            value = out[key]
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        if out["ci"] is not None:
            out["ci"] = [None if not math.isfinite(v) else float(v) for v in out["ci"]]
        return out


@dataclass
class Claim:
    """A claim of the reproduction: text, criterion, the positive result and its calibration.

    Attributes
    ----------
    name, text, criterion : str
        Identifier, the claim in words, and the rule it is judged by.
    result : ClaimResult
        On the reproduction's own session.
    controls : dict
        Control name -> ``{"n": data seeds, "n_holds": ..., "false_positive_rate": ...}``.
    power : dict or None
        ``{"n", "n_holds", "rate", "true_by_construction"}``: on the positive generator's
        control seeds (True) or on fresh draws of the same data (False).
    """

    name: str
    text: str
    criterion: str
    result: ClaimResult
    controls: dict[str, dict[str, Any]] = field(default_factory=dict)
    power: dict[str, Any] | None = None

    @property
    def false_positive_rate(self) -> float | None:
        """Largest false-positive rate over the controls the claim must fail (None: none ran)."""
        rates = [c["false_positive_rate"] for c in self.controls.values() if c["n"]]
        return max(rates) if rates else None

    @property
    def status(self) -> str:
        """One of :data:`~alrnn_neuro._claim_status.STATUSES` (see module docstring):
        ``n.a.``, else ``uncalibrated``, else by the verdict and the power: a failing claim
        reads ``does not hold``, or ``not shown (low power)`` below ``min_power``; a holding
        one ``holds``, or ``not replicated`` below ``min_power``."""
        if self.result.holds is None:
            return NOT_TESTABLE
        fpr = self.false_positive_rate
        if fpr is not None and fpr > max_false_positive_rate() + 1e-12:
            return UNCALIBRATED
        power = (self.power or {}).get("rate")
        low_power = power is not None and power < min_power() - 1e-12
        if not self.result.holds:
            # low power excuses a failure only where the power draws have the effect: on
            # fresh draws of the same data (tasks) a low rate is the failure replicating
            known = bool((self.power or {}).get("true_by_construction"))
            return LOW_POWER if low_power and known else DOES_NOT_HOLD
        return NOT_REPLICATED if low_power else HOLDS

    def to_dict(self) -> dict[str, Any]:
        """The ``reproduce.json`` record of the claim."""
        return {
            "name": self.name,
            "claim": self.text,
            "criterion": self.criterion,
            "status": self.status,
            **self.result.to_dict(),
            # "holds" only when the claim is calibrated (or uncalibratable) and replicates (or
            # had no power draws): never "uncalibrated" or "not replicated"; False also for
            # LOW_POWER (the status, not "holds", says that the failure is no evidence)
            "holds": self.status == HOLDS if self.result.holds is not None else None,
            "false_positive_rate": self.false_positive_rate,
            "controls": self.controls,
            "power": self.power,
        }


def rate(outcomes: list[bool | None]) -> dict[str, Any]:
    """``{"n", "n_holds", "false_positive_rate", "ci_95"}`` of testable outcomes (None ones
    are skipped); ``ci_95`` is the exact (Clopper-Pearson) 95 % interval of the rate: 0 of 5
    says little (up to 0.52).

    Examples
    --------
    >>> out = rate([True, False, None, False])
    >>> out["n"], out["n_holds"], round(out["false_positive_rate"], 3)
    (3, 1, 0.333)
    >>> [round(x, 3) for x in rate([False] * 5)["ci_95"]]
    [0.0, 0.522]
    """
    tested = [bool(o) for o in outcomes if o is not None]
    n = len(tested)
    holds = sum(tested)
    ci = None
    if n:
        interval = binomtest(holds, n).proportion_ci(confidence_level=0.95, method="exact")
        ci = [float(interval.low), float(interval.high)]
    return {
        "n": n,
        "n_holds": holds,
        "false_positive_rate": holds / n if n else None,
        "ci_95": ci,
    }
