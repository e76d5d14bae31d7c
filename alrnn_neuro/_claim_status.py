"""The words a reproduced claim's verdict can read, and what the less obvious ones mean.

One vocabulary for the reproduction that assigns a status
(:mod:`alrnn_neuro.reproduce.claim_records`), the report that explains it and the command line
that colours it; kept in the base layer so that the light modules (the CLI, the report) need
not import the reproduction.
"""

from __future__ import annotations

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
NOT_TESTABLE = "n.a."
UNCALIBRATED = "uncalibrated"
NOT_REPLICATED = "not replicated"
LOW_POWER = "not shown (low power)"
"""Status of a calibrated claim that fails on the reproduction's draw while its power (the share
of the positive generator's draws on which it held, ``Claim.power["rate"]``) is below
``min_power`` of ``criteria.toml`` (section ``calibration``; the same floor below which a
holding claim reads ``"not replicated"``): the test could not have shown the claim, so its
failure is no evidence against it."""

STATUSES = (HOLDS, DOES_NOT_HOLD, NOT_TESTABLE, UNCALIBRATED, NOT_REPLICATED, LOW_POWER)

#: what each status other than holds / does not hold / n.a. means, for readers of a report
STATUS_MEANINGS = {
    UNCALIBRATED: "its false-positive rate on the controls exceeds alpha + max_excess_fpr "
    "of criteria.toml, so it is never reported as holding",
    NOT_REPLICATED: "it held on this draw but on fewer than min_power (criteria.toml) of "
    "its power draws, so this draw's verdict is not a finding",
    LOW_POWER: "it failed on this draw, but its power (how often it held on "
    "fresh draws where it is true) is below min_power of criteria.toml: the test could not "
    "have shown it, so the failure is no evidence that it does not hold",
}
