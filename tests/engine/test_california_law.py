"""California facts the YAML tests cannot show: the county table's gaps are errors, and the
FC 17500(d) clock runs from the case opening only for a delinquency that existed then."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cspolicy import load_policy
from cspolicy.diagnostics import EvaluationError

from helpers import ROOT

CALIFORNIA = ROOT / "policies" / "california"


def listing_case(county: str, as_of: str, **paying_parent: Any) -> dict[str, Any]:
    return {
        "case_id": "CA-T-1",
        "as_of": as_of,
        "jurisdiction": {"state": "CA", "county": county},
        "order": {
            "established_on": "2019-06-01",
            "monthly_amount": "400.00",
            "current_support_paid_in_full_through": "2025-01-31",
        },
        "arrears": {"family_owed": "1200.00"},
        "paying_parent": {
            "household_income_annual": "50000.00",
            "licenses": [{"type": "driver", "status": "active"}],
            **paying_parent,
        },
    }


def actions(data: dict[str, Any]) -> list[str]:
    return [a.action for a in load_policy(CALIFORNIA).evaluate(data).actions]


def test_a_county_missing_from_the_median_table_is_an_error_naming_it() -> None:
    with pytest.raises(EvaluationError) as caught:
        load_policy(CALIFORNIA).evaluate(listing_case("Fresno", "2025-06-02"))
    assert "ca_county_median_income" in str(caught.value) and "Fresno" in str(caught.value)


def test_the_2024_table_lacks_riverside_until_the_2025_limits_take_effect() -> None:
    with pytest.raises(EvaluationError) as caught:
        load_policy(CALIFORNIA).evaluate(listing_case("Riverside", "2025-04-22"))
    assert "Riverside" in str(caught.value)
    # $50,000 is at or below 70% of $103,900 from 2025-04-23: protected, not listed.
    assert "initiate_license_suspension" not in actions(listing_case("Riverside", "2025-04-23"))


def test_the_county_of_residence_is_the_key_when_recorded() -> None:
    # A case of a county with no figure is decided when the parent lives in one with a figure.
    data = listing_case(
        "Fresno", "2025-06-02", residence_county="Los Angeles", household_income_annual="74620.01"
    )
    assert "initiate_license_suspension" in actions(data)
    data["paying_parent"]["household_income_annual"] = "74620.00"  # 70% of $106,600
    assert "initiate_license_suspension" not in actions(data)


def test_no_table_lookup_without_a_driver_license_or_income() -> None:
    # The lookup happens only when the protection matters, so these Fresno cases decide.
    assert "verify_household_income" in actions(
        listing_case("Fresno", "2025-06-02", household_income_annual=None)
    )
    professional = listing_case(
        "Fresno", "2025-06-02", licenses=[{"type": "professional", "status": "active"}]
    )
    assert "initiate_license_suspension" in actions(professional)


def submission(opened_on: str, oldest_unpaid: str | None) -> Any:
    data = {
        "case_id": "CA-T-2",
        "as_of": "2025-06-02",
        "jurisdiction": {"state": "CA"},
        "ivd": {"opened_on": opened_on},
        "order": {"established_on": "2024-01-01", "monthly_amount": "300.00"},
        "arrears": {
            "family_owed": "3300.00",
            "past_due_over_60_days": "2700.00",
            "oldest_unpaid_due_on": oldest_unpaid,
        },
    }
    decision = load_policy(CALIFORNIA).evaluate(data)
    (found,) = [a for a in decision.actions if a.action == "refer_state_delinquency_collection"]
    return found


def test_state_submission_is_due_30_days_after_opening_for_a_delinquency_that_existed_then() -> None:
    found = submission("2025-05-15", "2024-07-01")
    assert (found.due_by, found.overdue) == (dt.date(2025, 6, 14), False)
    late = submission("2025-04-01", "2024-07-01")
    assert (late.due_by, late.overdue) == (dt.date(2025, 5, 1), True)


def test_no_opening_clock_when_the_debt_was_60_days_old_or_less_at_opening_or_its_age_is_unknown() -> None:
    assert submission("2025-03-02", "2025-01-01").due_by is None  # 60 days old on opening day
    assert submission("2025-03-03", "2025-01-01").due_by == dt.date(2025, 4, 2)  # 61 days
    assert submission("2025-05-15", None).due_by is None
