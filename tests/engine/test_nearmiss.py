"""Near misses: rules within reach of firing, with what would have to change, in exact words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cspolicy import load_policy

from helpers import FIXTURES

RECORDS = FIXTURES / "records"


def case(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case_id": "NEAR-1",
        "as_of": "2025-03-03",
        "jurisdiction": {"state": "WI", "county": "Milwaukee"},
        "order": {"established_on": "2019-01-01", "monthly_amount": "350.00"},
        "arrears": {"family_owed": "2300.00"},
        "payments": [{"date": "2025-01-31", "amount": "350.00"}],
        "paying_parent": {"address_known": True},
    }
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def county() -> Any:
    return load_policy(RECORDS / "county")


def texts(decision: Any, **options: Any) -> dict[str, str]:
    return {miss.rule: miss.text for miss in decision.near_misses(**options)}


def test_threshold_near_miss_wording(county: Any) -> None:
    misses = {m.rule: m for m in county.evaluate(case()).near_misses()}
    passport = misses["passport-denial"]
    assert passport.text == (
        "Certify for passport denial: would apply if past-due support ($2,300.00) rose by more than "
        "$200.00, past the passport denial threshold ($2,500)"
    )
    assert passport.distance == "$200.00"
    assert passport.condition == "arrears.total > params.passport_denial_threshold"


def test_threshold_outside_the_distance_is_not_a_near_miss(county: Any) -> None:
    far = county.evaluate(case(arrears={"family_owed": "2200.00"}))  # 12% below $2,500
    assert "passport-denial" not in texts(far)
    assert "passport-denial" in texts(far, threshold=Decimal("0.15"))


def test_date_near_miss_wording(county: Any) -> None:
    # 80 days without a payment; contempt screening starts at 90.
    decision = county.evaluate(case(payments=[{"date": "2024-12-13", "amount": "350.00"}]))
    assert texts(decision)["contempt-referral"] == (
        "Consider referring to court for contempt: would apply if nothing else changes for 10 days (on 2025-03-13)"
    )
    assert "contempt-referral" not in texts(decision, days=9)


def test_incentive_near_miss_is_what_the_parent_can_do(county: Any) -> None:
    decision = county.evaluate(case(arrears={"family_owed": "900.00", "state_owed_pre_1996": "1500.00"}))
    assert "eligible_back_on_track" not in decision.action_codes
    assert texts(decision)["back-on-track-match"] == (
        "Eligible for Back on Track once a payment toward the other parent's arrears is made"
    )


def test_incentive_that_applies_is_not_a_near_miss(county: Any) -> None:
    paid = [
        {"date": "2025-01-31", "amount": "350.00"},
        {"date": "2025-03-01", "amount": "50.00", "applied_to": "family_arrears"},
    ]
    decision = county.evaluate(case(arrears={"state_owed_pre_1996": "1500.00"}, payments=paid))
    assert "eligible_back_on_track" in decision.action_codes
    assert "back-on-track-match" not in texts(decision)


def test_rule_with_two_unmet_conditions_is_not_a_near_miss(county: Any) -> None:
    # Not delinquent (nothing owed) and paid recently: contempt is two conditions away.
    decision = county.evaluate(case(arrears={"family_owed": "0"}))
    assert "contempt-referral" not in texts(decision)
    assert "passport-denial" not in texts(decision)


def test_rules_that_apply_are_never_near_misses(county: Any) -> None:
    decision = county.evaluate(case(arrears={"family_owed": "2600.00"}))
    assert "certify_passport_denial" in decision.action_codes
    assert "passport-denial" not in texts(decision)


def test_exactly_at_a_strict_threshold(county: Any) -> None:
    decision = county.evaluate(case(arrears={"family_owed": "2500.00"}))
    assert texts(decision)["passport-denial"] == (
        "Certify for passport denial: would apply if past-due support ($2,500.00) moved past "
        "the passport denial threshold ($2,500) (it is exactly at it)"
    )
