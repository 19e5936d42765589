"""Caseload runs: bad rows become error rows, the counts reconcile, chunking changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from cspolicy import load_policy
from cspolicy.caseload.checks import check_table
from cspolicy.caseload.readers import read_snapshots
from cspolicy.caseload.streaming import CaseloadEvaluator, evaluate_batches, evaluate_caseload
from cspolicy.caseload.synthetic import generate
from cspolicy.caseload.tables import RowError, snapshots_to_frame
from cspolicy.cli import main
from cspolicy.engine.snapshot import CaseSnapshot

from helpers import FIXTURES, ROOT

BATCH_FIXTURES = FIXTURES / "batch"
HEADER = [
    "case_id",
    "as_of",
    "jurisdiction.state",
    "order.established_on",
    "order.monthly_amount",
    "arrears.family_owed",
    "paying_parent.employer_known",
    "public_assistance",
    "payments",
]
GOOD = ["WI-1", "2025-03-01", "WI", "2020-01-01", "350.10", "1050.30", "true", "never", ""]
# (what is wrong, column, bad cell, words the reason must contain)
HOSTILE = [
    ("NaN amount", "arrears.family_owed", "NaN", "arrears.family_owed: amount must be a finite number"),
    ("Infinity", "order.monthly_amount", "Infinity", "order.monthly_amount: amount must be a finite number"),
    ("negative money", "arrears.family_owed", "-20.00", "arrears.family_owed: amount cannot be negative"),
    ("text in an amount", "order.monthly_amount", "lots", "order.monthly_amount: not an amount (got lots)"),
    ("date before 1900", "as_of", "1899-12-31", "as_of: date must be between 1900-01-01 and 2200-01-01"),
    ("far future date", "order.established_on", "2999-01-01", "order.established_on: date must be between"),
    ("not a date", "as_of", "03/01/2025", "as_of: not a date"),
    ("missing required", "case_id", "", "case_id: required field is missing"),
    ("wrong enum", "public_assistance", "sometimes", "public_assistance: 'sometimes' is not one of"),
    (
        "bad yes/no",
        "paying_parent.employer_known",
        "perhaps",
        "paying_parent.employer_known: must be true or false",
    ),
    ("bad list", "payments", "[oops", "payments: not a JSON list of items"),
    (
        "bad payment",
        "payments",
        '[{"date": "2025-02-01", "amount": "-1"}]',
        "payments.0.amount: amount cannot be negative",
    ),
    (
        "sub-cent",
        "arrears.family_owed",
        "10.005",
        "arrears.family_owed: amounts in a caseload are whole cents",
    ),
]


def _csv(path: Path, rows: list[list[str]], extra: str | None = None) -> None:
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER + ([extra] if extra else []))
        writer.writerows(rows)


@pytest.fixture
def hostile_csv(tmp_path: Path) -> Path:
    rows = [GOOD]
    for index, (_, column, cell, _) in enumerate(HOSTILE):
        row = list(GOOD)
        row[0] = f"WI-BAD-{index}"
        row[HEADER.index(column)] = cell
        rows.append(row)
    rows.append(GOOD)
    path = tmp_path / "hostile.csv"
    _csv(path, rows)
    return path


def test_bad_rows_are_error_rows_and_the_counts_reconcile(hostile_csv: Path, tmp_path: Path) -> None:
    policy = load_policy(ROOT / "policies" / "wisconsin")
    output, errors = tmp_path / "out.parquet", tmp_path / "errors.parquet"
    summary = policy.evaluate_batches(hostile_csv, output, errors, batch_size=4)
    assert summary.rows == len(HOSTILE) + 2
    assert summary.errors == len(HOSTILE)
    assert summary.decided == 2
    assert summary.reconciles
    decided = pl.read_parquet(output)
    assert set(decided.get_column("row_number")) == {1, len(HOSTILE) + 2}
    error_rows = pl.read_parquet(errors).sort("row_number")
    assert error_rows.get_column("row_number").to_list() == list(range(2, len(HOSTILE) + 2))
    for (what, _, _, words), reason in zip(HOSTILE, error_rows.get_column("reason"), strict=True):
        assert words in reason, f"{what}: {reason}"


def test_vectorized_validation_rejects_what_the_snapshot_model_rejects(hostile_csv: Path) -> None:
    from cspolicy.caseload.readers import read_table

    checked = check_table(read_table(hostile_csv))
    rejected_fast = set(checked.errors.get_column("row_number"))
    rejected_model = {r.row_number for r in read_snapshots(hostile_csv) if isinstance(r, RowError)}
    sub_cent = 1 + len(HOSTILE)  # the one row a snapshot accepts and a caseload cannot hold
    assert rejected_fast == rejected_model | {sub_cent}


def test_unknown_columns_name_the_column(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    _csv(path, [[*GOOD, "x"], [*GOOD, ""]], extra="paying_parent.shoe_size")
    checked = check_table(pl.read_csv(path, infer_schema=False))
    assert checked.errors.get_column("row_number").to_list() == [1]
    assert "paying_parent.shoe_size: unknown field" in checked.errors.get_column("reason")[0]
    assert checked.valid.height == 1, "an empty cell in an unknown column is no field at all"


def test_typed_frames_with_floats_and_nulls(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "case_id": ["A", "B", "C"],
            "as_of": [dt.date(2025, 3, 1)] * 3,
            "jurisdiction.state": ["WI"] * 3,
            "order.established_on": [dt.date(2020, 1, 1)] * 3,
            "order.monthly_amount": [350.10, float("nan"), None],
            "paying_parent.incarcerated": [1, 2, 0],
        }
    )
    checked = check_table(frame)
    assert checked.valid.get_column("order.monthly_amount").to_list() == [Decimal("350.10")]
    reasons = dict(
        zip(checked.errors.get_column("row_number"), checked.errors.get_column("reason"), strict=True)
    )
    assert "finite number" in reasons[2] and "paying_parent.incarcerated: must be true or false" in reasons[2]
    assert "order.monthly_amount: required field is missing" in reasons[3]


def test_chunk_size_changes_nothing(tmp_path: Path) -> None:
    policy = load_policy(ROOT / "policies" / "wisconsin")
    table = generate(1500, seed=11, states=("WI", "WI", "CA"))
    whole = evaluate_caseload(policy, table)
    table.write_parquet(tmp_path / "in.parquet")
    summary = policy.evaluate_batches(tmp_path / "in.parquet", tmp_path / "out.parquet", batch_size=333)
    assert summary.reconciles and summary.rows == 1500
    assert pl.read_parquet(tmp_path / "out.parquet").equals(whole.decisions)
    assert pl.read_parquet(tmp_path / "out.errors.parquet").equals(whole.errors)
    recommended = whole.decisions.filter(pl.col("status") == "recommended")
    assert summary.actions == dict(recommended.group_by("action").len().iter_rows())


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_chunks_decided_at_once_are_written_in_input_order(tmp_path: Path, layout: str) -> None:
    """Several chunks decided at once (`workers`) write the same files as one at a time."""
    policy = load_policy(ROOT / "policies" / "wisconsin")
    table = generate(1200, seed=5, states=("WI", "WI", "CA"))  # CA rows are error rows
    table.write_parquet(tmp_path / "in.parquet")
    seen: list[tuple[int, int]] = []
    outputs = {}
    for workers in (1, 3):
        out = tmp_path / f"out-{workers}.parquet"
        summary = evaluate_batches(
            policy,
            tmp_path / "in.parquet",
            out,
            batch_size=97,
            layout=layout,
            workers=workers,
            on_batch=lambda s: seen.append((s.rows, s.decided + s.errors)),
        )
        assert summary.reconciles and summary.rows == 1200 and summary.errors > 0
        outputs[workers] = (
            pl.read_parquet(out),
            pl.read_parquet(out.with_name(out.stem + ".errors.parquet")),
        )
    assert outputs[1][0].equals(outputs[3][0]) and outputs[1][1].equals(outputs[3][1])
    decisions, errors = outputs[3]
    assert decisions.get_column("row_number").is_sorted() and errors.get_column("row_number").is_sorted()
    assert all(rows == counted for rows, counted in seen)
    assert [rows for rows, _ in seen[13:]] == sorted(rows for rows, _ in seen[13:])  # chunks in order


def test_a_policy_only_the_reference_can_run_falls_back_to_it() -> None:
    policy = load_policy(BATCH_FIXTURES / "quotient")
    evaluator = CaseloadEvaluator(policy)
    assert evaluator.mode == "reference"
    table = generate(200, seed=3)
    result = evaluator.evaluate(table)
    cases = [c for c in read_snapshots(table) if isinstance(c, CaseSnapshot)]
    expected = []
    for case in cases:
        try:
            decision = policy.evaluate(case)
        except Exception:
            continue
        expected += [(decision.case_id, a.action, a.outputs["months"]) for a in decision.actions]
    got = [
        (row["case_id"], row["action"], str(row["outputs.months"]))
        for row in result.decisions.iter_rows(named=True)
    ]
    assert got == expected and expected
    assert result.rows == result.decisions.get_column("row_number").n_unique() + result.errors.height + sum(
        1 for case in cases if not policy.evaluate(case).actions
    )


def test_cli_batch_writes_decisions_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [CaseSnapshot.from_file(p) for p in sorted((ROOT / "examples" / "cases").glob("*.yaml"))]
    source = tmp_path / "cases.parquet"
    snapshots_to_frame(cases).write_parquet(source)
    output = tmp_path / "decisions.parquet"
    assert (
        main(["batch", str(source), "--policy", str(ROOT / "policies" / "federal"), "-o", str(output)]) == 0
    )
    printed = capsys.readouterr().out
    assert f"rows {len(cases)} = decided" in printed and "cases/s" in printed
    decisions = pl.read_parquet(output)
    expected = sum(len(load_policy(ROOT / "policies" / "federal").evaluate(c).actions) for c in cases)
    assert decisions.filter(pl.col("status") == "recommended").height == expected
    assert (tmp_path / "decisions.errors.parquet").exists()
    assert (
        main(["batch", str(tmp_path / "missing.csv"), "--policy", "policies/federal", "-o", str(output)]) == 1
    )


def test_reference_mode_chunk_without_outputs_keeps_every_column() -> None:
    policy = load_policy(BATCH_FIXTURES / "quotient")
    evaluator = CaseloadEvaluator(policy)
    table = generate(50, seed=4).with_columns(
        pl.lit(Decimal("0")).cast(pl.Decimal(38, 2)).alias("order.monthly_amount")
    )
    result = evaluator.evaluate(table)
    assert result.decisions.height == 0, "no case is behind on a zero order"
    assert result.decisions.schema == pl.Schema(evaluator.schema)
    assert result.errors.height == 0 and result.rows == 50


def test_nested_junk_is_reported_not_raised() -> None:
    frame = pl.DataFrame(
        {
            "case_id": [[1, 2]],
            "as_of": [dt.date(2025, 3, 1)],
            "jurisdiction.state": ["WI"],
            "order.established_on": [dt.date(2020, 1, 1)],
            "order.monthly_amount": [1.5],
            "order": [{"a": 1}],
            "payments": [{"x": 1}],
        }
    )
    (reason,) = check_table(frame).errors.get_column("reason").to_list()
    assert "case_id: must be text" in reason
    assert "payments: must be a list of items" in reason
    assert "order: unknown field" in reason


def test_versioned_run_decides_each_row_under_its_dates_version(tmp_path: Path) -> None:
    from cspolicy.caseload.reference import decision_rows
    from cspolicy.caseload.versions import evaluate_versioned_batches
    from cspolicy.diagnostics import CSPolicyError
    from cspolicy.engine.versions import PolicyVersions

    # 30 days around Wisconsin 2025.1's start (13 January 2025), and some before any version
    table = generate(400, seed=8, start=dt.date(2024, 12, 30), days=30, states=("WI", "WI", "CA"))
    early = pl.int_range(pl.len()) < 20
    table = table.with_columns(
        pl.when(early).then(dt.date(2023, 12, 15)).otherwise(pl.col("as_of")).alias("as_of")
    )
    source = tmp_path / "mixed.parquet"
    table.write_parquet(source)
    summary, evaluator = evaluate_versioned_batches(
        ROOT / "policies" / "wisconsin", source, tmp_path / "out.parquet"
    )
    assert summary.reconciles and summary.rows == 400
    assert sorted(e.policy.version for e in evaluator.by_digest.values()) == ["2024.1", "2025.1"]
    versions = PolicyVersions(ROOT / "policies" / "wisconsin")
    expected, failed = [], []
    for number, case in enumerate(read_snapshots(source), start=1):
        try:
            expected += decision_rows(versions.evaluate(case), number)
        except CSPolicyError:
            failed.append(number)
    got = pl.read_parquet(tmp_path / "out.parquet")
    assert [(r["row_number"], r["rule"], r["status"]) for r in got.to_dicts()] == [
        (r["row_number"], r["rule"], r["status"]) for r in expected
    ]
    errors = pl.read_parquet(tmp_path / "out.errors.parquet")
    assert errors.get_column("row_number").to_list() == failed
    assert errors.get_column("reason").str.contains("no version of the policy set applies").any()
