"""Snapshot hygiene: bad values from old case management systems give one clear error per field.

The same hostile values are checked three ways: a dict passed to `PolicySet.evaluate`, a
snapshot file (YAML and JSON, the file named in the error), and rows of a caseload, where
each bad row becomes an error row naming the field and the counts still add up.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cspolicy import CaseSnapshot, Code, SnapshotError, load_policy
from cspolicy.caseload.readers import flatten
from cspolicy.caseload.streaming import CaseloadEvaluator, evaluate_caseload

from helpers import FIXTURES

HOSTILE_FIXTURES = FIXTURES / "hostile"
VALID: dict[str, Any] = {
    "case_id": "OK-1",
    "as_of": "2025-01-01",
    "jurisdiction": {"state": "WI"},
    "order": {"established_on": "2020-01-01", "monthly_amount": "100.00"},
    "arrears": {"family_owed": "600.00"},
    "payments": [{"date": "2024-12-01", "amount": "50.00"}],
}
MISSING = object()

# (dotted path to change, new value or MISSING, the field the error must name, words it must use)
HOSTILE: list[tuple[str, Any, str, str]] = [
    ("arrears.family_owed", "NaN", "arrears.family_owed", "finite"),
    ("arrears.family_owed", "Infinity", "arrears.family_owed", "finite"),
    ("arrears.state_owed", "-Infinity", "arrears.state_owed", "finite"),
    ("arrears.family_owed", "-0.01", "arrears.family_owed", "negative"),
    ("order.monthly_amount", "-400", "order.monthly_amount", "negative"),
    ("payments.0.amount", "-5.00", "payments.0.amount", "negative"),
    ("arrears.family_owed", "1e999999999", "arrears.family_owed", "large"),
    ("as_of", "9999-12-31", "as_of", "between 1900-01-01 and 2200-01-01"),
    ("as_of", "1899-12-31", "as_of", "between 1900-01-01 and 2200-01-01"),
    ("order.established_on", "1066-10-14", "order.established_on", "between"),
    ("payments.0.date", "2999-01-01", "payments.0.date", "between"),
    ("as_of", "2025-02-30", "as_of", "date"),
    ("as_of", "yesterday", "as_of", "date"),
    ("arrears.family_owed", "lots", "arrears.family_owed", "lots"),
    ("order.monthly_amount", "$400", "order.monthly_amount", "$400"),
    ("order.monthly_amount", "400,00", "order.monthly_amount", "400,00"),
    ("order", MISSING, "order", "missing"),
    ("case_id", MISSING, "case_id", "missing"),
    ("order.monthly_amount", MISSING, "order.monthly_amount", "missing"),
    ("surprise", "x", "surprise", "unknown field"),
    ("arrears.interest_owed", "1.00", "arrears.interest_owed", "unknown field"),
    ("public_assistance", "sometimes", "public_assistance", "sometimes"),
    ("paying_parent.employment", "EMPLOYED", "paying_parent.employment", "EMPLOYED"),
    ("payments.0.applied_to", "arrears", "payments.0.applied_to", "arrears"),
    ("order.income_withholding_active", "maybe", "order.income_withholding_active", "boolean"),
    ("jurisdiction.state", "Wisconsin", "jurisdiction.state", "Wisconsin"),
]
IDS = [f"{path}={value if value is not MISSING else 'missing'}" for path, value, _, _ in HOSTILE]


def snapshot_with(path: str, value: Any, case_id: str = "BAD-1") -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    data["case_id"] = case_id
    parts = path.split(".")
    target: Any = data
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value
    return data


def fields_named(error: SnapshotError) -> list[str]:
    return [problem.message.split(":", 1)[0] for problem in error.problems]


@pytest.fixture(scope="module")
def policy() -> Any:
    return load_policy(HOSTILE_FIXTURES / "vectorized")


def test_the_valid_snapshot_is_valid(policy: Any) -> None:
    assert [a.action for a in policy.evaluate(VALID).actions] == ["send_delinquency_notice"]


@pytest.mark.parametrize(("path", "value", "field", "words"), HOSTILE, ids=IDS)
def test_single_evaluation_names_the_field(
    policy: Any, path: str, value: Any, field: str, words: str
) -> None:
    data = snapshot_with(path, value)
    with pytest.raises(SnapshotError) as caught:
        policy.evaluate(data)
    assert fields_named(caught.value) == [field], [str(p) for p in caught.value.problems]
    problem = caught.value.problems[0]
    assert problem.code is Code.SNAPSHOT_INVALID
    assert words in problem.message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_binary_float_specials_are_rejected(policy: Any, value: float) -> None:
    with pytest.raises(SnapshotError) as caught:
        policy.evaluate(snapshot_with("arrears.family_owed", value))
    assert fields_named(caught.value) == ["arrears.family_owed"]


@pytest.mark.parametrize("value", [True, [1], {"amount": 1}, None], ids=["bool", "list", "dict", "null"])
def test_wrong_shapes_in_a_money_field(policy: Any, value: Any) -> None:
    with pytest.raises(SnapshotError) as caught:
        policy.evaluate(snapshot_with("order.monthly_amount", value))
    assert fields_named(caught.value) == ["order.monthly_amount"]


def test_every_bad_field_is_reported_at_once(policy: Any) -> None:
    data = snapshot_with("arrears.family_owed", "NaN")
    data["as_of"] = "1800-01-01"
    data["public_assistance"] = "perhaps"
    data["extra"] = 1
    del data["order"]["monthly_amount"]
    with pytest.raises(SnapshotError) as caught:
        policy.evaluate(data)
    assert sorted(fields_named(caught.value)) == [
        "arrears.family_owed",
        "as_of",
        "extra",
        "order.monthly_amount",
        "public_assistance",
    ]


@pytest.mark.parametrize("data", [None, [], "case", 42], ids=["none", "list", "text", "number"])
def test_a_snapshot_must_be_a_mapping(data: Any) -> None:
    with pytest.raises(SnapshotError) as caught:
        CaseSnapshot.parse(data)
    assert caught.value.problems[0].code is Code.SNAPSHOT_INVALID


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_snapshot_files_name_the_file_and_the_field(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"case{suffix}"
    data = snapshot_with("as_of", "9999-12-31")
    data["arrears"]["family_owed"] = "-1"
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML too
    with pytest.raises(SnapshotError) as caught:
        CaseSnapshot.from_file(path)
    assert sorted(fields_named(caught.value)) == ["arrears.family_owed", "as_of"]
    assert {p.location.file for p in caught.value.problems} == {str(path)}


def test_json_nan_tokens_in_a_snapshot_file(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(VALID).replace('"600.00"', "NaN"), encoding="utf-8")
    with pytest.raises(SnapshotError) as caught:
        CaseSnapshot.from_file(path)
    assert fields_named(caught.value) == ["arrears.family_owed"]


def test_invalid_json_is_a_snapshot_error(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_bytes(b'{"case_id": "A", \xff}')
    with pytest.raises(SnapshotError) as caught:
        CaseSnapshot.from_file(path)
    assert caught.value.problems[0].location.file == str(path)


# -- the same values as rows of a caseload ------------------------------------------------------
def caseload_rows() -> list[dict[str, Any]]:
    rows = [copy.deepcopy(VALID)]
    rows += [snapshot_with(path, value, f"BAD-{i}") for i, (path, value, _, _) in enumerate(HOSTILE)]
    rows.append(copy.deepcopy(VALID) | {"case_id": "OK-2"})
    return rows


def assert_error_rows(errors: pl.DataFrame, rows: int, decided: set[str]) -> None:
    assert errors.get_column("row_number").to_list() == list(range(2, len(HOSTILE) + 2))
    for (_, _, field, _), reason in zip(HOSTILE, errors.get_column("reason").to_list(), strict=True):
        assert field in reason, f"{reason!r} does not name {field}"
    assert decided == {"OK-1", "OK-2"}
    assert rows == len(decided) + errors.height


def test_caseload_json_lines_rows_become_error_rows(tmp_path: Path, policy: Any) -> None:
    source = tmp_path / "caseload.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in caseload_rows()) + "\n", encoding="utf-8")
    assert CaseloadEvaluator(policy).mode == "vectorized"
    result = evaluate_caseload(policy, source)
    assert_error_rows(result.errors, result.rows, set(result.decisions.get_column("case_id").to_list()))


def test_caseload_csv_rows_become_error_rows(tmp_path: Path, policy: Any) -> None:
    flat = [flatten(row) for row in caseload_rows()]
    for row in flat:
        row["payments"] = json.dumps(row.get("payments", []))
    columns = sorted({name for row in flat for name in row})
    frame = pl.DataFrame(
        {name: [None if row.get(name) is None else str(row[name]) for row in flat] for name in columns},
        schema=dict.fromkeys(columns, pl.String()),
    )
    source = tmp_path / "caseload.csv"
    frame.write_csv(source)
    result = evaluate_caseload(policy, source)
    assert_error_rows(result.errors, result.rows, set(result.decisions.get_column("case_id").to_list()))


def test_caseload_summary_reconciles_when_streamed(tmp_path: Path, policy: Any) -> None:
    source = tmp_path / "caseload.jsonl"
    lines = [json.dumps(row) for row in caseload_rows()] + [
        "not json",
        "[1, 2]",
        '{"case_id": "X", "as_of": NaN}',
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = policy.evaluate_batches(source, tmp_path / "out.parquet", batch_size=5)
    assert summary.rows == len(lines)
    assert summary.errors == len(HOSTILE) + 3
    assert summary.reconciles
    errors = pl.read_parquet(tmp_path / "out.errors.parquet")
    assert errors.height == summary.errors
    assert errors.get_column("reason").null_count() == 0


def test_derived_quotient_caseload_rows_become_error_rows(tmp_path: Path) -> None:
    """The fixture with a derived quotient (decided case by case before exact vectorized
    quotients, issue 16) is vectorized now, and its bad rows are still error rows."""
    policy = load_policy(HOSTILE_FIXTURES / "base")
    assert CaseloadEvaluator(policy).mode == "vectorized"
    source = tmp_path / "caseload.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in caseload_rows()) + "\n", encoding="utf-8")
    result = evaluate_caseload(policy, source)
    assert_error_rows(result.errors, result.rows, set(result.decisions.get_column("case_id").to_list()))


@pytest.mark.parametrize("name", ["\0", "case\0.json", "a-directory.json", "a-directory", "missing.yaml"])
def test_unusable_snapshot_paths_are_snapshot_errors(
    tmp_path: Path, policy: Any, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Text given to `evaluate` is a path; a path that cannot be read is a clear error, not a crash."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-directory.json").mkdir()
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(SnapshotError) as caught:
        policy.evaluate(name)
    assert [p.code for p in caught.value.problems] == [Code.FILE_NOT_FOUND]
    assert caught.value.problems[0].location.file == name.replace("\0", "\\0")


def test_a_float_amount_from_a_python_caller_reads_as_dollars_and_cents(policy: Any) -> None:
    """`600.0` (a float) decides like "600.00" and is written `$600.00` in every sentence."""
    exact = policy.evaluate(VALID).to_json()
    floated = policy.evaluate(snapshot_with("arrears.family_owed", 600.0, case_id="OK-1")).to_json()
    assert "$600.0 " not in floated and "$600.0)" not in floated
    assert floated.count("$600.00") == exact.count("$600.00") > 0
