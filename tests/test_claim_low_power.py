"""A claim that fails where its test had low power reads "not shown (low power)", not "does not
hold": in the record, the printed table and the report."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from rich.console import Console

from alrnn_neuro._claim_status import LOW_POWER, STATUS_MEANINGS, STATUSES
from alrnn_neuro.cli.reproduce import STATUS_COLOURS, print_claims
from alrnn_neuro.report.meta_sections import claims_section
from alrnn_neuro.reproduce.claim_records import Claim, ClaimResult
from alrnn_neuro.reproduce.criteria import min_power


def _claim(
    holds: bool | None, n_holds: int | None, n: int = 5, fpr: float = 0.0, known: bool = True
) -> Claim:
    """A claim calibrated by one control (FPR ``fpr`` of 10 runs) with ``n_holds`` of ``n``
    power draws (None: no power record, as without --controls), drawn where the claim is true
    by construction (``known``, as the stimulus reproduction's pwl sessions) or not (fresh
    draws of the same task)."""
    power = None
    if n_holds is not None:
        power = {"n": n, "n_holds": n_holds, "rate": n_holds / n, "true_by_construction": known}
    return Claim(
        "x",
        "text",
        "criterion",
        ClaimResult(holds=holds),
        controls={"linear": {"n": 10, "false_positive_rate": fpr}},
        power=power,
    )


def test_low_power_status_is_distinct_and_known():
    assert LOW_POWER == "not shown (low power)"
    assert LOW_POWER in STATUSES and "does not hold" in STATUSES
    assert len(set(STATUSES)) == len(STATUSES)


def test_an_underpowered_failing_claim_is_not_shown_not_refuted():
    floor = min_power()
    claim = _claim(False, 1)  # power 0.2
    assert claim.power["rate"] < floor
    assert claim.status == LOW_POWER
    record = claim.to_dict()
    assert (record["status"], record["holds"]) == (LOW_POWER, False)
    assert _claim(False, 0).status == LOW_POWER
    assert _claim(False, 2).status == LOW_POWER  # 0.4 < 0.5


@pytest.mark.parametrize("n_holds, n", [(5, 5), (4, 5), (3, 6)])  # 3 of 6: exactly the floor
def test_a_well_powered_failing_claim_does_not_hold(n_holds, n):
    claim = _claim(False, n_holds, n)
    assert claim.power["rate"] >= min_power()
    assert claim.status == "does not hold"
    assert claim.to_dict()["holds"] is False


def test_a_failure_that_replicates_on_fresh_draws_does_not_hold():
    """Task claims' power draws are fresh draws of the same task, where the claim may be
    false: failing there too is the failure replicating, not low power. Records written before
    ``true_by_construction`` existed keep "does not hold" too."""
    assert _claim(False, 0, known=False).status == "does not hold"
    assert _claim(False, 1, known=False).status == "does not hold"
    old = _claim(False, 0)
    del old.power["true_by_construction"]
    assert old.status == "does not hold"
    assert _claim(True, 1, known=False).status == "not replicated"  # the holding side: as before


def test_a_failing_claim_without_power_draws_keeps_its_verdict():
    assert _claim(False, None).status == "does not hold"
    assert _claim(False, None).power is None


def test_a_holding_claim_holds_whatever_the_failing_side_rule():
    """Low power never turns a holding claim into LOW_POWER (it is "not replicated" below
    min_power, by its own rule); with enough power it holds."""
    assert _claim(True, 1).status == "not replicated"
    assert _claim(True, 5).status == "holds"
    assert _claim(True, None).status == "holds"


def test_calibration_and_testability_come_before_power():
    assert _claim(False, 0, fpr=0.5).status == "uncalibrated"
    assert _claim(None, 0).status == "n.a."


def _printed(records: list[dict]) -> str:
    text = StringIO()
    print_claims(Console(file=text, width=250), {"claims": records, "seconds": 1.0})
    return text.getvalue()


def test_cli_prints_the_low_power_status_and_why():
    assert set(STATUS_COLOURS) == set(STATUSES) - {"n.a."}
    low = {**_claim(False, 1).to_dict(), "name": "weak"}
    strong = {**_claim(False, 5).to_dict(), "name": "strong"}
    out = _printed([low, strong])
    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[1:-1]]
        for line in out.splitlines()
        if line.startswith("│")
    }
    assert rows["weak"][1] == LOW_POWER and rows["weak"][5] == "0.2"
    assert rows["strong"][1] == "does not hold" and rows["strong"][5] == "1"
    explained = [line for line in out.splitlines() if line.startswith(f"weak: {LOW_POWER}")]
    assert len(explained) == 1
    assert "held on only 1 of 5 fresh draws" in explained[0]
    assert "not evidence that it does not hold" in explained[0]
    assert not any(line.startswith(f"strong: {LOW_POWER}") for line in out.splitlines())


def test_report_shows_and_explains_the_low_power_status(tmp_path):
    assert set(STATUS_MEANINGS) == set(STATUSES) - {"holds", "does not hold", "n.a."}
    claims = [
        {**_claim(False, 1).to_dict(), "claim": "weak claim"},
        {**_claim(False, 5).to_dict(), "claim": "strong claim"},
    ]
    path = tmp_path / "reproduce.json"
    path.write_text(json.dumps({"target": "tasks", "claims": claims}))
    html = claims_section(path).render()
    assert f"<td>weak claim</td><td>{LOW_POWER}</td>" in html
    assert '<td>strong claim</td><td><span class="no">✗</span></td>' in html
    assert f"{LOW_POWER}: it failed on this draw" in html
    assert "no evidence that it does not hold" in html
    claims[0]["status"] = "does not hold"  # no low-power claim: no explanation
    path.write_text(json.dumps({"target": "tasks", "claims": claims}))
    assert f"{LOW_POWER}:" not in claims_section(path).render()
