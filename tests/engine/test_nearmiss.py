"""Near misses: rules within reach of firing, with what would have to change, in exact words."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
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


# -- the words come from the case schema ---------------------------------------------------------
CLINIC_SCHEMA = """\
id: clinic
version: "1"
title: Clinic account
identity: {case_id: ref, as_of: day, jurisdiction: region.state}
fields:
  ref: {type: text, label: the account number, required: true}
  day: {type: date, label: the statement date, required: true}
  region:
    state: {type: text, label: the state, required: true}
  fees:
    balance:
      type: money
      label: the balance
      default: 0
      near_miss: {down: the client pays the balance down}
  plan:
    type: choice
    label: the payment plan
    choices: [none, signed]
    default: none
    near_miss: {signed: the client signs a plan}
  status: {type: choice, label: the account status, choices: [active, frozen], default: frozen}
  visits:
    type: list
    label: the visits
    items:
      on: {type: date, label: visit date, required: true}
derived:
  visits.last:
    expr: max_of(visits, on, on <= day)
    label: the last visit
    optional: true
  visits.days_since_last:
    expr: days_between(visits.last, day)
    label: the days since the last visit
    unit: days
    optional: true
"""
CLINIC_POLICY = """\
id: clinic-policy
version: "1"
title: Clinic accounts
jurisdiction: {state: WI}
case_schema: ../schema/schema.yaml
effective: {from: 2025-01-01}
sources:
  code: {title: Clinic code, url: "https://example.org/clinic"}
rules:
  - id: plan-waiver
    kind: incentive
    title: Waive the late fee
    summary: A signed plan waives the late fee.
    when: ['plan == "signed"', "fees.balance < 5000"]
    action: waive_late_fee
    cite: [code]
  - id: small-balance
    kind: incentive
    title: Close the account
    summary: A small balance closes the account.
    when: ["fees.balance <= 100"]
    action: close_account
    cite: [code]
  - id: active-bonus
    kind: incentive
    title: Offer the active-account bonus
    summary: Active accounts get a bonus.
    when: ['status == "active"']
    action: offer_bonus
    cite: [code]
  - id: outreach
    kind: threshold
    title: Call the client
    summary: No visit for two months.
    when: ["visits.days_since_last > 60"]
    action: call_client
    cite: [code]
"""


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_policy(write_clinic(tmp_path_factory.mktemp("clinic"), CLINIC_SCHEMA))


def write_clinic(directory: Path, schema: str) -> Path:
    """The clinic policy in `directory`/policy, reading `schema` from `directory`/schema."""
    for name, text in (("schema", schema), ("policy", CLINIC_POLICY)):
        (directory / name).mkdir()
        (directory / name / f"{name}.yaml").write_text(text, encoding="utf-8")
    return directory / "policy"


def clinic_case(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ref": "C-1",
        "day": "2025-06-01",
        "region": {"state": "WI"},
        "fees": {"balance": "900.00"},
        "visits": [{"on": "2025-04-12"}],  # 50 days before
    }
    data.update(changes)
    return data


def test_incentive_words_are_the_schemas(clinic: Any) -> None:
    found = texts(clinic.evaluate(clinic_case()))
    assert found["plan-waiver"] == "Waive the late fee once the client signs a plan"
    assert found["small-balance"] == "Close the account once the client pays the balance down"


def test_a_choice_without_words_is_no_incentive_near_miss(clinic: Any) -> None:
    assert "active-bonus" not in texts(clinic.evaluate(clinic_case()))


def test_a_schema_count_of_days_to_the_snapshot_date_grows_with_time(clinic: Any) -> None:
    assert texts(clinic.evaluate(clinic_case()))["outreach"] == (
        "Call the client: would apply if nothing else changes for 11 days (on 2025-06-12)"
    )


def test_without_words_a_close_amount_is_said_from_the_label(tmp_path: Path) -> None:
    schema = CLINIC_SCHEMA.replace("      near_miss: {down: the client pays the balance down}\n", "")
    plain = load_policy(write_clinic(tmp_path, schema))
    found = texts(plain.evaluate(clinic_case(fees={"balance": "105.00"})))
    assert found["small-balance"] == "Close the account once the balance ($105.00) fell by $5.00, to $100"
    assert "small-balance" not in texts(plain.evaluate(clinic_case()))  # $800 away is not close


def test_near_miss_keys_are_checked(tmp_path: Path) -> None:
    from cspolicy import PolicyError
    from cspolicy.engine.caseschema import case_schema

    path = tmp_path / "schema.yaml"
    path.write_text(CLINIC_SCHEMA.replace("{signed: the client", "{approved: the client"), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        case_schema(path)
    [problem] = caught.value.problems
    assert "near_miss key 'approved' is not one of: up, down, none, signed" in problem.message
    assert problem.location.file == str(path)
    assert problem.location.line == CLINIC_SCHEMA.splitlines().index("  plan:") + 2  # in the spec of `plan`
