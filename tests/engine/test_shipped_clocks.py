"""The 45 CFR 303.6 clock on the shipped federal policy (inherited by every state set)."""

from __future__ import annotations

import datetime as dt

import pytest

from cspolicy import load_policy

from helpers import ROOT


@pytest.mark.parametrize(("policy", "state"), [("federal", "WI"), ("wisconsin", "WI"), ("california", "CA")])
@pytest.mark.parametrize(
    ("as_of", "overdue"), [("2025-03-30", False), ("2025-03-31", False), ("2025-04-01", True)]
)
def test_first_action_due_30_days_after_delinquency(
    policy: str, state: str, as_of: str, overdue: bool
) -> None:
    decision = load_policy(ROOT / "policies" / policy).evaluate(
        {
            "case_id": "CLOCK-1",
            "as_of": as_of,
            "jurisdiction": {"state": state},
            "order": {"established_on": "2024-01-01", "monthly_amount": "300.00"},
            "arrears": {"family_owed": "300.00"},
            # Last paid on Feb 28: unpaid from Mar 1, due within 30 calendar days → Mar 31.
            "payments": [{"date": "2025-02-28", "amount": "300.00"}],
        }
    )
    (notice,) = [a for a in decision.actions if a.action == "send_delinquency_notice"]
    assert notice.due_by == dt.date(2025, 3, 31)
    assert notice.overdue is overdue
