"""Statutory clocks: 45 CFR 303.6 (30 days, 60 with service of process) and business-day windows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from cspolicy import PolicyError, load_policy
from cspolicy.engine.outcomes import add_business_days
from cspolicy.engine.snapshot import CaseSnapshot

from helpers import FIXTURES

RECORDS = FIXTURES / "records"


def case(as_of: str, **changes: Any) -> dict[str, Any]:
    """One month behind since the last payment on 2025-01-31: delinquent since 2025-02-01."""
    data: dict[str, Any] = {
        "case_id": "CLOCK-1",
        "as_of": as_of,
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2019-01-01", "monthly_amount": "350.00"},
        "arrears": {"family_owed": "350.00"},
        "payments": [{"date": "2025-01-31", "amount": "350.00"}],
        "paying_parent": {"address_known": True},
    }
    data.update(changes)
    return data


def action(decision: Any, code: str) -> Any:
    found = [a for a in decision.actions if a.action == code]
    assert found, f"{code} not recommended: {decision.action_codes}"
    return found[0]


@pytest.fixture(scope="module")
def state() -> Any:
    return load_policy(RECORDS / "state")


def test_delinquent_since_is_the_day_after_the_last_payment() -> None:
    facts = CaseSnapshot.parse(case("2025-03-03")).facts()
    assert facts["arrears.delinquent_since"] == dt.date(2025, 2, 1)


def test_delinquent_since_is_the_order_date_without_payments_and_none_without_arrears() -> None:
    assert CaseSnapshot.parse(case("2025-03-03", payments=[])).facts()["arrears.delinquent_since"] == dt.date(
        2019, 1, 1
    )
    paid_up = case("2025-03-03", arrears={"family_owed": "0"})
    assert CaseSnapshot.parse(paid_up).facts()["arrears.delinquent_since"] is None


def test_day_30_is_on_time_and_day_31_is_overdue(state: Any) -> None:
    on_time = action(state.evaluate(case("2025-03-03")), "send_delinquency_notice")
    assert (on_time.due_by, on_time.overdue) == (dt.date(2025, 3, 3), False)
    late = action(state.evaluate(case("2025-03-04")), "send_delinquency_notice")
    assert (late.due_by, late.overdue) == (dt.date(2025, 3, 3), True)


def test_service_of_process_gives_60_days(state: Any) -> None:
    unserved = {"address_known": False}
    day_60 = action(state.evaluate(case("2025-04-02", paying_parent=unserved)), "send_delinquency_notice")
    assert (day_60.due_by, day_60.overdue) == (dt.date(2025, 4, 2), False)
    day_61 = action(state.evaluate(case("2025-04-03", paying_parent=unserved)), "send_delinquency_notice")
    assert day_61.overdue is True
    # The same day is overdue on the 30-day clock when the address is known.
    assert action(state.evaluate(case("2025-04-02")), "send_delinquency_notice").overdue is True


def test_clock_appears_in_the_json(state: Any) -> None:
    text = state.evaluate(case("2025-03-04")).to_json()
    assert '"due_by": "2025-03-03"' in text
    assert '"overdue": true' in text


def test_license_hearing_window_is_20_business_days(state: Any) -> None:
    notice = {"action": "initiate_license_suspension", "date": "2025-02-21", "status": "sent"}  # a Friday
    snapshot = {
        "enforcement": [notice],
        "paying_parent": {"address_known": True, "licenses": [{"type": "driver", "status": "active"}]},
    }
    last_day = action(state.evaluate(case("2025-03-21", **snapshot)), "await_license_hearing_request")
    assert (last_day.due_by, last_day.overdue) == (dt.date(2025, 3, 21), False)
    monday = action(state.evaluate(case("2025-03-24", **snapshot)), "await_license_hearing_request")
    assert monday.overdue is True


def test_lien_review_window_is_10_business_days(state: Any) -> None:
    lien = {"action": "docket_lien", "date": "2025-03-05", "status": "completed"}  # a Wednesday
    window = action(state.evaluate(case("2025-03-10", enforcement=[lien])), "await_lien_review_request")
    assert (window.due_by, window.overdue) == (dt.date(2025, 3, 19), False)


def test_no_trigger_date_means_no_clock(state: Any) -> None:
    decision = state.evaluate(case("2025-03-03"))
    assert action(decision, "send_delinquency_notice").due_by is not None
    passport = state.evaluate(case("2025-03-03", arrears={"family_owed": "3000.00"}))
    certify = action(passport, "certify_passport_denial")
    assert (certify.due_by, certify.overdue) == (None, None)


@pytest.mark.parametrize("start", [dt.date(2025, 3, 1) + dt.timedelta(days=n) for n in range(7)])
@pytest.mark.parametrize("days", [1, 4, 5, 6, 10, 20, 23])
def test_business_days_match_counting_weekdays_one_by_one(start: dt.date, days: int) -> None:
    day, left = start, days
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    assert add_business_days(start, days) == day


def write_policy(tmp_path: Path, due: str) -> Path:
    (tmp_path / "policy.yaml").write_text(
        f"""id: clock-errors
version: "1"
title: Clock errors
jurisdiction: {{state: US}}
effective: {{from: 2020-01-01}}
sources:
  s: {{title: A source, url: "https://example.org"}}
rules:
  - id: letter
    kind: threshold
    title: Send a letter
    summary: A letter.
    when: arrears.total > 0
    action: send_delinquency_notice
    cite: [s]
    due: {due}
""",
        encoding="utf-8",
    )
    return tmp_path


def test_extended_clock_must_be_longer(tmp_path: Path) -> None:
    path = write_policy(tmp_path, '{days: 30, after: as_of, extended: {days: 20, when: "true"}}')
    with pytest.raises(PolicyError, match="must be longer"):
        load_policy(path)


def test_extended_condition_must_be_yes_or_no_with_its_location(tmp_path: Path) -> None:
    path = write_policy(tmp_path, '{days: 30, after: as_of, extended: {days: 60, when: "arrears.total"}}')
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert "`extended.when` must be yes/no" in str(error.value)
    assert "policy.yaml:16:63:" in str(error.value)


def test_date_taken_must_name_an_action_code(tmp_path: Path) -> None:
    path = write_policy(tmp_path, '{days: 30, after: date_taken("Not A Code")}')
    with pytest.raises(PolicyError, match="not an action code"):
        load_policy(path)
