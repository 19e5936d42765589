"""Case snapshots: loading from dict/YAML/JSON, derived facts, and per-field errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cspolicy import CaseSnapshot, SnapshotError

from helpers import FIXTURES


def test_yaml_and_json_snapshots_load_with_decimal_money() -> None:
    yaml_case = CaseSnapshot.from_file(FIXTURES / "core" / "cases" / "behind.yaml")
    json_case = CaseSnapshot.from_file(FIXTURES / "core" / "cases" / "bot.json")
    assert yaml_case.order.monthly_amount == Decimal("350.10")
    assert isinstance(json_case.arrears.state_owed, Decimal)
    assert yaml_case.as_of == dt.date(2025, 3, 15)


def test_derived_facts() -> None:
    facts = CaseSnapshot.from_file(FIXTURES / "core" / "cases" / "bot.json").facts()
    assert facts["arrears.total"] == Decimal("4150.00")
    assert facts["payments.last_date"] == dt.date(2025, 3, 5)
    assert facts["payments.days_since_last"] == 10
    # Only this month's payments toward the family's arrears count (the February one does not).
    assert facts["payments.to_family_arrears_in_period"] == Decimal("75.25")


def test_no_payment_has_no_days_since_last(make_snapshot: Callable[..., dict[str, Any]]) -> None:
    """Never paid: no last payment date and no days since it (null, never a sentinel)."""
    facts = CaseSnapshot.parse(make_snapshot()).facts()
    assert facts["payments.last_date"] is None
    assert facts["payments.days_since_last"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"order": {"established_on": "2020-01-01"}}, "order.monthly_amount: required field is missing"),
        ({"color": "blue"}, "color: unknown field (got 'blue')"),
        (
            {"public_assistance": "sometimes"},
            "public_assistance: Input should be 'current', 'former' or 'never'",
        ),
        (
            {"order": {"established_on": "2020-01-01", "monthly_amount": "ten"}},
            "order.monthly_amount: Input should be a valid decimal (got 'ten')",
        ),
        (
            {"order": {"established_on": "1850-01-01", "monthly_amount": "10"}},
            "order.established_on: Value error, date must be between 1900-01-01 and 2200-01-01",
        ),
        (
            {"arrears": {"family_owed": "NaN"}},
            "arrears.family_owed: Input should be a finite number",
        ),
    ],
)
def test_invalid_snapshot_fields_are_named(
    make_snapshot: Callable[..., dict[str, Any]], change: dict[str, Any], message: str
) -> None:
    data = make_snapshot()
    data.update(change)
    with pytest.raises(SnapshotError) as caught:
        CaseSnapshot.parse(data)
    assert any(p.message.startswith(message) for p in caught.value.problems), caught.value.problems


def test_missing_file_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError) as caught:
        CaseSnapshot.from_file(tmp_path / "missing.json")
    assert "no such file" in str(caught.value)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SnapshotError) as caught:
        CaseSnapshot.from_file(bad)
    assert "invalid JSON" in str(caught.value)
