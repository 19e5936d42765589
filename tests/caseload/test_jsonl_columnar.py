"""JSON Lines are parsed columnar (issue 16), with exactly the results of the line-by-line
reader: the same valid rows and the same error rows, word for word, for every odd line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from cspolicy.caseload.checks import check_table
from cspolicy.caseload.readers import _json_frame, _jsonl_row, iter_tables
from cspolicy.caseload.synthetic import generate
from cspolicy.caseload.tables import frame_to_snapshots


def _line_by_line(path: Path) -> pl.DataFrame:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return _json_frame([_jsonl_row(line) for line in lines])


def _both(path: Path, batch_size: int = 7) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    first, checked_fast = 1, []
    for raw in iter_tables(path, batch_size):
        checked_fast.append(check_table(raw, first))
        first += raw.height
    fast_valid = pl.concat([c.valid for c in checked_fast])
    fast_errors = pl.concat([c.errors for c in checked_fast])
    slow = check_table(_line_by_line(path))
    return fast_valid, fast_errors, slow.valid, slow.errors


ODD_LINES = [
    "{not json",
    "[1, 2]",
    '"a string"',
    '{"case_id": "X1", "as_of": "2025-03-01", "jurisdiction": {"state": "WI"}, "mystery": 1,'
    ' "order": {"established_on": "2020-01-01", "monthly_amount": "100.00"}}',
    '{"case_id": "X2", "as_of": "2025-03-01", "jurisdiction": {"state": "WI"},'
    ' "order": {"established_on": "2020-01-01", "monthly_amount": 100.0000000000000001}}',
    '{"case_id": "X3", "as_of": "2025-03-01", "jurisdiction": {"state": "WI"},'
    ' "order": {"established_on": "2020-01-01", "monthly_amount": 1e2},'
    ' "payments": [{"date": "2025-01-01", "amount": 5, "extra": true}]}',
    '{"case_id": "X4", "as_of": "2025-03-01", "jurisdiction": "WI",'
    ' "order": {"established_on": "2020-01-01", "monthly_amount": 100}}',
    '{"case_id": "X5", "as_of": "2025-03-01", "jurisdiction": {"state": "WI"},'
    ' "order": {"established_on": "2020-01-01", "monthly_amount": 350.10}, "payments": "nope",'
    ' "arrears": {"family_owed": 1050.30, "state_owed": -1}, "public_assistance": null}',
    '{"case_id": "X6", "as_of": "2025-03-01", "jurisdiction": {"state": "WI"}, "case_id": "X7",'
    ' "order": {"established_on": "2020-01-01", "monthly_amount": "12.345"}}',
]


def test_columnar_json_lines_equal_line_by_line(tmp_path: Path) -> None:
    table = generate(60, seed=4, start=dt.date(2025, 1, 13), days=60)
    path = tmp_path / "cases.jsonl"
    lines = []
    for case in frame_to_snapshots(table):
        assert not hasattr(case, "reason")
        lines.append(case.model_dump_json(exclude_none=True))  # type: ignore[union-attr]
    for index, odd in enumerate(ODD_LINES):
        lines.insert(5 * index + 3, odd)
    lines.insert(10, "   ")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast_valid, fast_errors, slow_valid, slow_errors = _both(path)
    assert fast_errors.rows() == slow_errors.rows()
    assert fast_valid.equals(slow_valid)
    assert fast_errors.height >= len(ODD_LINES) - 1 and fast_valid.height >= 60


def test_numbers_and_booleans_as_json_values(tmp_path: Path) -> None:
    case = {
        "case_id": "N1",
        "as_of": "2025-03-01",
        "jurisdiction": {"state": "WI", "county": "Dane"},
        "order": {"established_on": "2020-01-01", "monthly_amount": 350.1, "income_withholding_active": True},
        "arrears": {"family_owed": 1050.30, "state_owed": 0},
        "paying_parent": {"licenses": [{"type": "driver", "status": "active"}], "incarcerated": False},
        "payments": [{"date": "2025-02-01", "amount": 100, "applied_to": "family_arrears"}],
    }
    path = tmp_path / "n.jsonl"
    path.write_text(json.dumps(case) + "\n" + json.dumps(case | {"case_id": "N2"}) + "\n", encoding="utf-8")
    fast_valid, fast_errors, slow_valid, slow_errors = _both(path)
    assert fast_errors.height == 0 and slow_errors.height == 0
    assert fast_valid.equals(slow_valid)


def test_plain_lines_take_the_columnar_path(tmp_path: Path) -> None:
    table = generate(50, seed=2, start=dt.date(2025, 1, 13), days=30)
    path = tmp_path / "plain.jsonl"
    lines = [case.model_dump_json(exclude_none=True) for case in frame_to_snapshots(table)]  # type: ignore[union-attr]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    frames = list(iter_tables(path, 1000))
    assert len(frames) == 1 and isinstance(frames[0].schema["payments"], pl.List)  # not JSON text
