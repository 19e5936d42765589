"""The seed-003 reform variants (policies/reforms) measured on the California example caseload:
`cspolicy impact` shows what adopting each would change."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from cspolicy.caseload.impact import measure_impact, read_caseload
from cspolicy.cli import main
from cspolicy.engine.policy import load_policy

from helpers import ROOT

CASELOAD = ROOT / "examples" / "cases-ca" / "caseload.yaml"
CALIFORNIA = ROOT / "policies" / "california"
REFORMS = ROOT / "policies" / "reforms"


def impact(variant: str) -> dict[str, dict[str, object]]:
    old, new = load_policy(CALIFORNIA), load_policy(REFORMS / variant)
    report = measure_impact(old, new, read_caseload(CASELOAD, new.case_schema))
    assert report.rows == 16 and not report.errors
    return {a["action"]: a for a in report.to_dict()["actions"]}


def test_in_kind_credit_holds_listing_only_where_money_and_in_kind_reach_the_order() -> None:
    listing = impact("ca-in-kind-credit")["initiate_license_suspension"]
    assert (listing["before"], listing["after"], listing["held_after"]) == (5, 2, 3)
    assert listing["lost_examples"] == ["CA-27-0101", "CA-27-0102", "CA-27-0103"]


def test_full_pass_through_totals_what_families_receive_and_the_state_only_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(
        [
            "impact",
            "--caseload",
            str(CASELOAD),
            "--from",
            str(CALIFORNIA),
            "--to",
            str(REFORMS / "ca-full-pass-through"),
            "--format",
            "json",
        ]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    totals = {(o["action"], o["output"]): o for o in report["outputs"]}
    # $350 + $520 + $150 + $275 collected for CalWORKs families; above $100 (one child) or $200.
    assert Decimal(totals[("pass_through_to_family", "to_family")]["after"]) == Decimal("1295.00")
    assert Decimal(totals[("pass_through_to_family", "state_only_cost")]["after"]) == Decimal("745.00")
    assert Decimal(totals[("pass_through_to_family", "to_family")]["before"]) == 0


def test_good_cause_flex_holds_enforcement_and_adds_a_screen() -> None:
    actions = impact("ca-good-cause-flex")
    assert actions["screen_good_cause"]["gained_examples"] == ["CA-27-0303"]
    assert actions["refer_state_delinquency_collection"]["lost_examples"] == ["CA-27-0301", "CA-27-0302"]
    assert actions["refer_state_delinquency_collection"]["held_after"] == 2
