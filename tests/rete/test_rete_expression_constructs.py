"""The Rete back end on the newer expression constructs: `== None` is native; aggregates,
conditionals, coalesce/add_days/same_month and keyed parameters are precomputed (listed with a
reason), and every case decides — or fails with a missing key — exactly as the reference."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from cspolicy import CaseSnapshot, EvaluationError, load_policy
from cspolicy.caseload.synthetic import generate
from cspolicy.caseload.tables import frame_to_snapshots

pytest.importorskip("durable.engine")

from helpers import HEADER, write_policy

POLICY = (
    HEADER
    + """\
parameters:
  county_limit:
    description: Past-due support above which the county refers the case
    unit: USD
    values:
      - {from: 2020-01-01, value: {Dane: 500, Milwaukee: 2500.50, San Bernardino: 10}}
    cite: [src]
derived:
  last_paid: max_of(payments, date, date <= as_of)
  paid_this_month: >-
    sum_of(payments, amount, applied_to == "family_arrears" and date <= as_of and same_month(date, as_of))
rules:
  - id: never-paid
    kind: automatic
    title: Never paid
    summary: No payment recorded.
    when:
      - payments.last_date == None
      - paying_parent.expected_release != None or arrears.family_owed > 100
    action: send_delinquency_notice
    cite: [{source: src}]
  - id: not-this-month
    kind: threshold
    title: Nothing toward the family this month
    summary: Uses aggregates and a conditional.
    when:
      - last_paid != None
      - (paid_this_month if arrears.family_owed > 0 else arrears.state_owed) < 50
      - coalesce(paying_parent.expected_release, add_days(last_paid, 30)) < as_of
    action: report_to_credit_bureau
    cite: [{source: src}]
  - id: county-referral
    kind: threshold
    title: County referral
    summary: Past-due support above the county's limit.
    when: arrears.family_owed + arrears.state_owed > params.county_limit[jurisdiction.county]
    action: refer_state_delinquency_collection
    cite: [{source: src}]
"""
)


@pytest.fixture(scope="module")
def policy_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_policy(tmp_path_factory.mktemp("rete-constructs"), POLICY)


def outcome(policy: Any, snapshot: CaseSnapshot) -> str:
    try:
        return str(policy.evaluate(snapshot).to_json())
    except EvaluationError as exc:
        return f"error: {exc}"


def test_none_tests_are_native_and_the_rest_precomputed_with_a_reason(policy_path: Path) -> None:
    network = load_policy(policy_path).to_rete()
    assert network.native_conditions["never-paid"] == [
        "payments.last_date == None",
        "paying_parent.expected_release != None or arrears.family_owed > 100",
    ]
    reasons = {text: reason for rule in network.precomputed_conditions.values() for text, reason in rule}
    assert set(reasons) == {
        "last_paid != None",
        "(paid_this_month if arrears.family_owed > 0 else arrears.state_owed) < 50",
        "coalesce(paying_parent.expected_release, add_days(last_paid, 30)) < as_of",
        "arrears.family_owed + arrears.state_owed > params.county_limit[jurisdiction.county]",
    }
    assert (
        "keyed parameter"
        in reasons["arrears.family_owed + arrears.state_owed > params.county_limit[jurisdiction.county]"]
    )


def test_rete_agrees_with_the_reference(policy_path: Path) -> None:
    reference = load_policy(policy_path)
    network = reference.to_rete()
    table = generate(400, seed=21, start=dt.date(2025, 1, 1), days=90)
    errors = 0
    for case in frame_to_snapshots(table):
        assert isinstance(case, CaseSnapshot)
        expected = outcome(reference, case)
        errors += expected.startswith("error:")
        assert outcome(network, case) == expected, case.case_id
    assert errors > 10  # Los Angeles has no entry: a missing-key error on both back ends
