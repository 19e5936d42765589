"""The reference evaluator: actions, holds, waiting, traces, citations, why-not, determinism."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cspolicy import Code, EvaluationError, PolicySet, SnapshotError, load_policy

from helpers import FIXTURES, HEADER, write_policy

Snapshot = Callable[..., dict[str, Any]]


@pytest.fixture
def policy(basic_policy_path: Path) -> PolicySet:
    return load_policy(basic_policy_path)


def test_threshold_rule_fires_with_trace_values_and_citation(
    policy: PolicySet, make_snapshot: Snapshot
) -> None:
    decision = policy.evaluate(make_snapshot(arrears__family_owed="3120.00"))
    action = next(a for a in decision.actions if a.action == "certify_passport_denial")
    assert action.rule == "passport-denial"
    assert action.kind == "threshold"
    (condition,) = action.because
    assert condition.expr == "arrears.total > params.passport_denial_threshold"
    assert condition.values == {"arrears.total": "3120.00", "params.passport_denial_threshold": "2500"}
    assert condition.result is True
    assert (
        condition.text == "past-due support ($3,120.00) is more than the passport denial threshold ($2,500)"
    )
    assert action.parameters == {"passport_denial_threshold": "2500"}
    (citation,) = action.citations
    assert citation.source == "usc-652k"
    assert citation.pinpoint == "(k)(1)"
    assert citation.url == "https://www.law.cornell.edu/uscode/text/42/652"


@pytest.mark.parametrize(("amount", "fires"), [("2499.99", False), ("2500.00", False), ("2500.01", True)])
def test_threshold_boundary(policy: PolicySet, make_snapshot: Snapshot, amount: str, fires: bool) -> None:
    decision = policy.evaluate(make_snapshot(arrears__family_owed=amount))
    assert ("certify_passport_denial" in decision.action_codes) is fires


def test_parameter_value_in_force_on_the_snapshot_date(policy: PolicySet, make_snapshot: Snapshot) -> None:
    before = policy.evaluate(make_snapshot(as_of="2006-09-30", arrears__family_owed="3000.00"))
    after = policy.evaluate(make_snapshot(as_of="2006-10-01", arrears__family_owed="3000.00"))
    assert "certify_passport_denial" not in before.action_codes
    assert "certify_passport_denial" in after.action_codes
    assert after.actions[0].parameters == {"passport_denial_threshold": "2500"}


def test_hold_suppresses_named_rules_with_reason_and_citation(
    policy: PolicySet, make_snapshot: Snapshot
) -> None:
    snapshot = make_snapshot(
        arrears__family_owed="3120.00",
        paying_parent={"programs": {"employment_training": "enrolled"}},
    )
    decision = policy.evaluate(snapshot)
    assert "certify_passport_denial" not in decision.action_codes
    held = {h.action: h for h in decision.held}
    assert set(held) == {"certify_passport_denial", "refer_for_contempt"}
    assert held["certify_passport_denial"].held_by == "engagement-hold"
    assert held["certify_passport_denial"].reason == "Parent is engaged in employment services"
    assert held["certify_passport_denial"].citations[0].source == "cfr-303-6"


def test_requires_reports_waiting_until_prerequisite_taken(
    policy: PolicySet, make_snapshot: Snapshot
) -> None:
    fresh = policy.evaluate(make_snapshot(arrears__family_owed="600.00"))
    assert "send_delinquency_notice" in fresh.action_codes
    assert "refer_federal_tax_offset" not in fresh.action_codes
    (waiting,) = fresh.waiting
    assert waiting.action == "refer_federal_tax_offset"
    assert waiting.waiting_for == ["send_delinquency_notice"]
    noticed = policy.evaluate(
        make_snapshot(
            arrears__family_owed="600.00",
            enforcement=[{"action": "send_delinquency_notice", "date": "2025-02-01", "status": "sent"}],
        )
    )
    assert noticed.action_codes == ["refer_federal_tax_offset"]  # notice already sent: not repeated
    assert noticed.waiting == []


def test_incentive_output_is_exact_and_capped(policy: PolicySet) -> None:
    decision = policy.evaluate(FIXTURES / "core" / "cases" / "bot.json")
    bot = next(a for a in decision.actions if a.action == "eligible_back_on_track")
    assert bot.outputs == {"credit": "150.50"}  # $2 per $1 of the $75.25 paid this month
    capped = policy.evaluate(
        {
            "case_id": "T-3",
            "as_of": "2025-03-15",
            "jurisdiction": {"state": "WI"},
            "order": {"established_on": "1994-01-01", "monthly_amount": "0"},
            "arrears": {"state_owed": "300.00", "state_owed_pre_1996": "100.00"},
            "payments": [{"date": "2025-03-01", "amount": "80.00", "applied_to": "family_arrears"}],
        }
    )
    assert next(a for a in capped.actions if a.action == "eligible_back_on_track").outputs == {
        "credit": "100.00"
    }


def test_priority_orders_actions(policy: PolicySet, make_snapshot: Snapshot) -> None:
    decision = policy.evaluate(make_snapshot(arrears__family_owed="3000.00"))
    assert decision.action_codes[0] == "certify_passport_denial"  # priority 5 comes first


def test_why_not_gives_failed_condition_and_distance(policy: PolicySet, make_snapshot: Snapshot) -> None:
    decision = policy.evaluate(make_snapshot(arrears__family_owed="1900.00"))
    answer = decision.why_not("passport-denial")
    assert answer.status == "not applicable"
    (failed,) = answer.failed
    assert failed.result is False
    assert failed.text == (
        "past-due support ($1,900.00) is not more than the passport denial threshold ($2,500)"
        " — $600.00 below the passport denial threshold"
    )
    assert answer.text == f"Certify for passport denial: does not apply because {failed.text}"


def test_why_not_for_held_waiting_and_recommended(policy: PolicySet, make_snapshot: Snapshot) -> None:
    held = policy.evaluate(
        make_snapshot(
            arrears__family_owed="3000.00", paying_parent={"programs": {"employment_training": "enrolled"}}
        )
    )
    assert held.why_not("passport-denial").status == "held"
    assert held.why_not("passport-denial").held_by == "engagement-hold"
    assert held.why_not("tax-offset").status == "waiting"
    assert held.why_not("delinquency-notice").status == "recommended"
    assert held.why_not("engagement-hold").status == "hold applies"
    with pytest.raises(KeyError):
        held.why_not("no-such-rule")


def test_exactly_three_months_behind_with_decimal(policy: PolicySet) -> None:
    decision = policy.evaluate(FIXTURES / "core" / "cases" / "behind.yaml")
    assert "refer_for_contempt" in decision.action_codes


def test_division_by_zero_is_a_located_evaluation_error(tmp_path: Path, make_snapshot: Snapshot) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: ratio
    kind: discretionary
    title: R
    summary: S
    when: arrears.total / order.monthly_amount >= 3
    action: refer_for_contempt
    cite: [src]
""",
    )
    policy = load_policy(path)
    with pytest.raises(EvaluationError) as caught:
        policy.evaluate(make_snapshot(order__monthly_amount="0", case_id="ZERO-1"))
    assert caught.value.case_id == "ZERO-1"
    assert caught.value.problem.code is Code.DIVISION_BY_ZERO
    assert str(caught.value) == (
        f"case ZERO-1: {path}:13:11: rule 'ratio': division by zero in "
        "`arrears.total / order.monthly_amount >= 3` (the monthly support amount is 0) [CSP503]"
    )


def test_snapshot_before_version_is_a_clear_error(policy: PolicySet, make_snapshot: Snapshot) -> None:
    with pytest.raises(EvaluationError) as caught:
        policy.evaluate(make_snapshot(as_of="1999-12-31"))
    assert "snapshot dated 1999-12-31 is outside basic 1.0's effective dates [2000-01-01, …)" in str(
        caught.value
    )


def test_bad_snapshot_is_a_snapshot_error(policy: PolicySet, make_snapshot: Snapshot) -> None:
    with pytest.raises(SnapshotError) as caught:
        policy.evaluate(make_snapshot(arrears__family_owed="-5"))
    assert [p.message for p in caught.value.problems] == [
        "arrears.family_owed: Value error, amount cannot be negative (got '-5')"
    ]


def test_to_json_shape_matches_design(policy: PolicySet, make_snapshot: Snapshot) -> None:
    decision = policy.evaluate(make_snapshot(arrears__family_owed="3120.00"))
    data = json.loads(decision.to_json())
    assert list(data) == ["case_id", "as_of", "policy", "actions", "held", "waiting"]
    assert data["policy"]["id"] == "basic"
    assert data["policy"]["digest"].startswith("sha256:")
    assert data["actions"][0]["citations"][0]["url"].startswith("https://")


def test_to_json_is_byte_identical_across_runs_and_processes(basic_policy_path: Path) -> None:
    case = FIXTURES / "core" / "cases" / "bot.json"
    first = load_policy(basic_policy_path).evaluate(case).to_json()
    second = load_policy(basic_policy_path).evaluate(case).to_json()
    assert first == second
    script = (
        "import sys; from cspolicy import load_policy; "
        f"sys.stdout.write(load_policy({str(basic_policy_path)!r}).evaluate({str(case)!r}).to_json())"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    ).stdout
    assert other == first


def test_digest_changes_when_policy_changes(tmp_path: Path, basic_policy_path: Path) -> None:
    import shutil

    copy = tmp_path / "basic"
    shutil.copytree(basic_policy_path, copy)
    assert load_policy(copy).digest == load_policy(basic_policy_path).digest
    text = (copy / "policy.yaml").read_text().replace("value: 2500", "value: 2600")
    (copy / "policy.yaml").write_text(text)
    assert load_policy(copy).digest != load_policy(basic_policy_path).digest


def test_outputs_are_decimal_strings(policy: PolicySet) -> None:
    decision = policy.evaluate(FIXTURES / "core" / "cases" / "bot.json")
    credit = next(a for a in decision.actions if a.action == "eligible_back_on_track").outputs["credit"]
    assert Decimal(credit) == Decimal("150.50")


def test_state_policy_rejects_another_states_case(policy: PolicySet, make_snapshot: Snapshot) -> None:
    with pytest.raises(EvaluationError) as caught:
        policy.evaluate(make_snapshot(jurisdiction={"state": "CA"}, case_id="CA-1"))
    assert caught.value.problem.code is Code.WRONG_JURISDICTION
    assert "case is in CA but basic 1.0 applies to WI cases" in str(caught.value)


def test_money_outputs_are_rounded_half_up_to_cents(tmp_path: Path, make_snapshot: Snapshot) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: interest
    kind: automatic
    title: Interest
    summary: S
    when: arrears.total > 0
    action: charge_interest
    outputs:
      monthly_interest: arrears.total * 0.005
      rate: 0.005 * 1
    cite: [src]
""",
    )
    decision = load_policy(path).evaluate(make_snapshot(arrears__family_owed="349.00"))
    # 349.00 × 0.005 = 1.745: half up gives 1.75 (banker's rounding would give 1.74)
    assert decision.actions[0].outputs == {"monthly_interest": "1.75", "rate": "0.005"}
