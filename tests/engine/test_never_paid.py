"""A parent who never paid reads as such — never as a sentinel number — in explanations and near misses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cspolicy import load_policy
from cspolicy.engine.versions import PolicyVersions

from helpers import ROOT

POLICY = """\
id: never-paid-demo
version: "1"
title: Never-paid wording
jurisdiction: {state: WI}
case_schema: child-support/v2
effective: {from: 2024-01-01}
sources:
  s: {title: Example source, url: https://example.org}
parameters:
  quiet_days:
    description: days without a payment
    unit: days
    cite: [s]
    values: [{from: 2024-01-01, value: 60}]
rules:
  - id: no-payment-for-a-while
    kind: discretionary
    basis: agency-choice
    title: Call the parent when no payment has come for a while
    summary: A call.
    when:
      - arrears.total > 0
      - payments.days_since_last >= params.quiet_days
    action: offer_payment_plan
    cite: [s]
"""

NEVER_PAID = {
    "case_id": "never-paid",
    "as_of": "2025-03-01",
    "jurisdiction": {"state": "WI"},
    "order": {"established_on": "2024-01-15", "monthly_amount": "100"},
    "arrears": {"family_owed": "900"},
}
SENTINEL = re.compile(r"99[,_]?999")


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def test_why_not_says_no_payment_was_ever_received(policy_path: Path) -> None:
    decision = load_policy(policy_path).evaluate(NEVER_PAID)
    why_not = str(decision.why_not("no-payment-for-a-while"))
    assert "no payment has ever been received" in why_not
    assert not SENTINEL.search(why_not)
    assert not decision.near_misses()  # a missing value is not "close" to any threshold


def test_a_payment_gives_a_number_instead(policy_path: Path) -> None:
    paid = {**NEVER_PAID, "payments": [{"date": "2024-12-01", "amount": "50", "applied_to": "current"}]}
    decision = load_policy(policy_path).evaluate(paid)
    assert decision.action_codes == ["offer_payment_plan"]
    assert "(90)" in decision.to_json()  # 2024-12-01 → 2025-03-01


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples" / "cases-v2").glob("*.yaml")), ids=lambda p: p.stem
)
def test_no_example_explanation_shows_a_sentinel(path: Path) -> None:
    policy = "wisconsin" if "state: WI" in path.read_text(encoding="utf-8") else "federal"
    decision = PolicyVersions(ROOT / "policies" / policy).evaluate(path)
    for text in (decision.to_json(), decision.to_text()):
        assert not SENTINEL.search(text), path.name
