"""The statutory clocks of the shipped federal policy (inherited by every state set).

45 CFR 303.6(c)(2): 30 days from identifying the delinquency or locating the parent, whichever is
later — never from the last payment, and no clock for a parent not located. 42 U.S.C. 653a(g)(1)
and 45 CFR 303.32(c)(2): 2 business days from the new-hire entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cspolicy import load_policy

from helpers import ROOT

SETS = [("federal", "WI"), ("wisconsin", "WI"), ("california", "CA")]


def case(state: str, as_of: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case_id": "CLOCK-1",
        "as_of": as_of,
        "jurisdiction": {"state": state},
        "order": {"established_on": "2024-01-01", "monthly_amount": "300.00"},
        "arrears": {"family_owed": "300.00", "delinquency_identified_on": "2025-03-01"},
        "paying_parent": {"located_on": "2025-02-01"},
        "payments": [{"date": "2025-01-31", "amount": "300.00"}],
    }
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def notice(policy: str, data: dict[str, Any]) -> Any:
    decision = load_policy(ROOT / "policies" / policy).evaluate(data)
    (found,) = [a for a in decision.actions if a.action == "send_delinquency_notice"]
    return found


@pytest.mark.parametrize(("policy", "state"), SETS)
@pytest.mark.parametrize(
    ("as_of", "overdue"), [("2025-03-30", False), ("2025-03-31", False), ("2025-04-01", True)]
)
def test_first_action_due_30_days_after_the_delinquency_is_identified(
    policy: str, state: str, as_of: str, overdue: bool
) -> None:
    found = notice(policy, case(state, as_of))
    assert found.due_by == dt.date(2025, 3, 31)
    assert found.overdue is overdue


@pytest.mark.parametrize(("policy", "state"), SETS)
def test_clock_starts_on_the_location_date_when_that_is_later(policy: str, state: str) -> None:
    found = notice(policy, case(state, "2025-04-01", paying_parent={"located_on": "2025-03-10"}))
    assert found.due_by == dt.date(2025, 4, 9)
    assert found.overdue is False


@pytest.mark.parametrize(("policy", "state"), SETS)
def test_a_token_payment_does_not_restart_the_clock(policy: str, state: str) -> None:
    data = case(state, "2025-04-02", payments=[{"date": "2025-03-20", "amount": "5.00"}])
    data["arrears"]["family_owed"] = "595.00"
    found = notice(policy, data)
    assert found.due_by == dt.date(2025, 3, 31)
    assert found.overdue is True


@pytest.mark.parametrize(("policy", "state"), SETS)
def test_no_clock_and_nothing_overdue_without_a_location_date(policy: str, state: str) -> None:
    data = case(state, "2029-01-01", paying_parent={"located_on": None, "address_known": True})
    found = notice(policy, data)
    assert found.due_by is None and found.overdue is None
    del data["paying_parent"]
    decision = load_policy(ROOT / "policies" / policy).evaluate(data)
    assert "send_delinquency_notice" not in {a.action for a in decision.actions}
    assert "initiate_locate" in {a.action for a in decision.actions}


@pytest.mark.parametrize(("as_of", "overdue"), [("2025-03-11", False), ("2025-03-12", True)])
@pytest.mark.parametrize("action", ["initiate_income_withholding", "send_medical_support_notice"])
def test_new_hire_notices_are_due_in_two_business_days(as_of: str, overdue: bool, action: str) -> None:
    data = case(
        "WI",
        as_of,
        order={"health_coverage_ordered": True},
        paying_parent={"employer_known": True, "new_hire_reported_on": "2025-03-07"},  # a Friday
    )
    decision = load_policy(ROOT / "policies" / "federal").evaluate(data)
    (found,) = [a for a in decision.actions if a.action == action]
    assert found.due_by == dt.date(2025, 3, 11)  # Tuesday: Monday and Tuesday are the 2 days
    assert found.overdue is overdue
