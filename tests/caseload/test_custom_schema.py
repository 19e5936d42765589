"""A policy with its own case schema (issue 14) decides caseloads in the flat layout of that schema.

The acme fixture policy reads fields the shipped schemas do not have (`household.income_monthly`,
`services`), a list with aggregates (`unpaid.total` is `sum_of(charges, …)`, `unpaid.oldest_due_on`
is `min_of(charges, …)`) and a keyed parameter (`params.low_income_limit[location.county]`). Its
caseloads, as CSV and as Parquet, are decided vectorized and agree with per-case evaluation; a bad
cell and a missing key become located error rows.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cspolicy import Code, EvaluationError, load_policy
from cspolicy.caseload.batch import Refused, VectorPlan
from cspolicy.caseload.checks import check_table
from cspolicy.caseload.readers import read_snapshots, write_csv
from cspolicy.caseload.reference import evaluate_reference
from cspolicy.caseload.schemafacts import schema_facts
from cspolicy.caseload.streaming import CaseloadEvaluator, evaluate_caseload
from cspolicy.caseload.tables import RowError, layout_for, snapshots_to_frame
from cspolicy.cli.cmd_check import caseload_mode
from cspolicy.engine.snapshot import CaseSnapshot

from helpers import FIXTURES

ACME = FIXTURES / "case_schema" / "acme-policy"
ACME_SCHEMA = FIXTURES / "case_schema" / "acme" / "schema.yaml"
DAY = dt.date(2026, 2, 15)


@pytest.fixture(scope="module")
def acme() -> Any:
    return load_policy(ACME)


def acme_snapshots(policy: Any, count: int, seed: int = 14) -> list[CaseSnapshot]:
    """Varied valid acme cases: both counties with a limit, incomes on and around the limits,
    charges due before and after the snapshot date, paid and unpaid, totals on the minimum."""
    rng = random.Random(seed)
    cases = []
    for number in range(count):
        county = rng.choice(["north", "south"])
        limit = {"north": 2500, "south": 2000}[county]
        income = rng.choice([limit - 1, limit, limit + Decimal("0.01"), limit + 700, Decimal("0.00")])
        charges = []
        for _ in range(rng.choice([0, 1, 2, 3, 5])):
            due = DAY + dt.timedelta(days=rng.randint(-120, 40))
            amount = rng.choice([Decimal("50.00"), Decimal("50.01"), Decimal("100.00"), Decimal("0.99")])
            item: dict[str, Any] = {"due_on": due.isoformat(), "amount": str(amount)}
            if rng.random() < 0.4:
                item["paid"] = rng.random() < 0.5
            charges.append(item)
        data: dict[str, Any] = {
            "case_number": f"AC-{1000 + number}",
            "snapshot_date": (DAY + dt.timedelta(days=rng.randint(-3, 3))).isoformat(),
            "location": {"state": "WI", "county": county},
            "household": {"income_monthly": str(income)},
            "charges": charges,
        }
        if rng.random() < 0.5:
            data["household"]["size"] = rng.randint(1, 6)
        if rng.random() < 0.2:
            data["services"] = "closed"
        cases.append(CaseSnapshot.parse(data, schema=policy.case_schema))
    return cases


def per_case(policy: Any, snapshots: list[CaseSnapshot]) -> list[tuple[int, str, str, str]]:
    """(row, case, rule, action) of every action `PolicySet.evaluate` recommends, case by case."""
    rows = []
    for number, snapshot in enumerate(snapshots, start=1):
        for action in policy.evaluate(snapshot).actions:
            rows.append((number, snapshot.case_number, action.rule, action.action))
    return rows


def recommended(decisions: pl.DataFrame) -> list[tuple[int, str, str, str]]:
    table = decisions.filter(pl.col("status") == "recommended")
    return [
        (row["row_number"], row["case_id"], row["rule"], str(row["action"]))
        for row in table.iter_rows(named=True)
    ]


# -- the layout comes from the schema ---------------------------------------------------------
def test_layout_is_read_from_the_schema(acme: Any) -> None:
    layout = layout_for(acme.case_schema)
    assert list(layout.dtypes) == [
        "case_number",
        "snapshot_date",
        "location.state",
        "location.county",
        "household.income_monthly",
        "household.size",
        "services",
        "charges",
    ]
    assert layout.dtypes["household.size"] == pl.Int64()
    assert layout.dtypes["household.income_monthly"] == pl.Decimal(38, 2)
    assert layout.list_dtype("charges") == pl.List(
        pl.Struct({"due_on": pl.Date(), "amount": pl.Decimal(38, 2), "paid": pl.Boolean()})
    )
    assert layout.scalars["location.county"].choices == ("north", "south", "east")
    assert layout.scalars["services"].default == "open"
    assert layout.scalars["household.size"].default == 1
    assert layout.scalars["case_number"].pattern == "^AC-[0-9]+$"
    # results read `case_id` / `as_of`: the identity fields are copied under those names
    assert layout.aliases == {"case_id": "case_number", "as_of": "snapshot_date"}
    assert "arrears.family_owed" not in layout.dtypes


def test_v1_layout_is_the_former_hand_listed_one() -> None:
    """Read from child-support/v1, the layout is column for column what cspolicy 0.1 wrote by hand."""
    money, text_, day, yes_no = pl.Decimal(38, 2), pl.String(), pl.Date(), pl.Boolean()
    former = {
        "case_id": text_,
        "as_of": day,
        "jurisdiction.state": text_,
        "jurisdiction.county": text_,
        "order.established_on": day,
        "order.monthly_amount": money,
        "order.income_withholding_active": yes_no,
        "arrears.family_owed": money,
        "arrears.state_owed": money,
        "arrears.state_owed_pre_1996": money,
        "public_assistance": text_,
        "paying_parent.employment": text_,
        "paying_parent.employer_known": yes_no,
        "paying_parent.address_known": yes_no,
        "paying_parent.incarcerated": yes_no,
        "paying_parent.incarcerated_since": day,
        "paying_parent.expected_release": day,
        "paying_parent.military_active_duty": yes_no,
        "paying_parent.programs.employment_training": text_,
        "paying_parent.programs.payment_plan": text_,
        "receiving_parent.family_violence_indicator": yes_no,
        "payments": pl.List(pl.Struct({"date": day, "amount": money, "applied_to": text_, "source": text_})),
        "paying_parent.licenses": pl.List(pl.Struct({"type": text_, "status": text_})),
        "paying_parent.warrants": pl.List(pl.Struct({"issued_on": day, "status": text_})),
        "enforcement": pl.List(pl.Struct({"action": text_, "date": day, "status": text_})),
    }
    layout = layout_for()
    assert layout.dtypes == former and list(layout.dtypes) == list(former)
    assert layout.aliases == {}
    required = {name for name, column in layout.scalars.items() if column.required}
    assert required == {
        "case_id",
        "as_of",
        "jurisdiction.state",
        "order.established_on",
        "order.monthly_amount",
    }
    assert layout.scalars["arrears.family_owed"].default == Decimal("0")
    assert layout.scalars["paying_parent.employment"].default == "unknown"
    assert layout.scalars["paying_parent.incarcerated_since"].default is None
    assert layout.scalars["case_id"].max_length == 64 and layout.scalars["case_id"].min_length == 1
    assert layout.lists["enforcement"]["action"].pattern == "^[a-z][a-z0-9_]*$"


def test_acme_derived_facts_are_vectorized_and_agree(acme: Any) -> None:
    """`sum_of` and `min_of` with conditions, computed by the plan from the schema's expressions."""
    snapshots = acme_snapshots(acme, 200)
    plan = VectorPlan(acme)
    layout = layout_for(acme.case_schema)
    valid = check_table(snapshots_to_frame(snapshots, layout), layout=layout).valid
    lazy = valid.lazy()
    for name, vector in schema_facts(plan.compiler, acme.case_schema):  # every fact, read or not
        lazy = lazy.with_columns(vector.value.alias(name))
    facts = lazy.select("unpaid.total", "unpaid.oldest_due_on").collect()
    expected = [(s.facts()["unpaid.total"], s.facts()["unpaid.oldest_due_on"]) for s in snapshots]
    assert list(facts.iter_rows()) == expected
    assert any(total == 0 for total, _ in expected) and any(total > 100 for total, _ in expected)
    assert any(oldest is None for _, oldest in expected) and any(oldest for _, oldest in expected)
    # the plan computes only the facts the policy reads (`unpaid.total`), not the others
    columns = plan.facts(valid).collect_schema().names()
    assert "unpaid.total" in columns and "unpaid.oldest_due_on" not in columns


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl"])
def test_acme_caseload_is_vectorized_and_agrees_with_per_case(acme: Any, tmp_path: Path, kind: str) -> None:
    snapshots = acme_snapshots(acme, 300, seed=len(kind))
    layout = layout_for(acme.case_schema)
    path = tmp_path / f"acme.{kind}"
    if kind == "csv":
        write_csv(snapshots_to_frame(snapshots, layout), path)
    elif kind == "parquet":
        snapshots_to_frame(snapshots, layout).write_parquet(path)
    else:
        path.write_text("".join(s.model_dump_json() + "\n" for s in snapshots), encoding="utf-8")
    evaluator = CaseloadEvaluator(acme)
    assert evaluator.mode == "vectorized", evaluator.why_reference
    result = evaluate_caseload(acme, path)
    assert result.rechecked == 0
    assert result.errors.height == 0
    expected = per_case(acme, snapshots)
    assert 10 < len(expected) < 290, "some cases lead to the notice and some do not"
    assert recommended(result.decisions) == expected
    assert result.decisions.get_column("as_of").to_list() == [
        snapshots[number - 1].snapshot_date for number, *_ in expected
    ]
    # and the whole decisions table equals the reference path's
    valid = check_table(
        pl.read_parquet(path) if kind == "parquet" else _raw(path, layout), layout=layout
    ).valid
    reference = evaluate_reference(acme, valid, schema=evaluator.schema)
    assert result.decisions.equals(reference.decisions)


def _raw(path: Path, layout: Any) -> pl.DataFrame:
    from cspolicy.caseload.readers import read_table

    return read_table(path, layout)


def test_acme_rows_read_back_as_snapshots_of_the_schema(acme: Any, tmp_path: Path) -> None:
    snapshots = acme_snapshots(acme, 20)
    path = tmp_path / "acme.csv"
    write_csv(snapshots_to_frame(snapshots), path)  # the layout of the snapshots' own schema
    back = list(read_snapshots(path, layout=layout_for(acme.case_schema)))
    assert back == snapshots
    assert all(type(s).case_schema() is acme.case_schema for s in back)


# -- error rows -----------------------------------------------------------------------------
def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String())).write_csv(path)
    return path


GOOD_ROW = {
    "case_number": "AC-1",
    "snapshot_date": "2026-02-15",
    "location.state": "WI",
    "location.county": "north",
    "household.income_monthly": "3200.00",
    "household.size": "3",
    "charges": json.dumps(
        [{"due_on": "2025-12-01", "amount": "80.00"}, {"due_on": "2026-01-01", "amount": "80.00"}]
    ),
}


@pytest.mark.parametrize(
    ("column", "cell", "reason"),
    [
        ("household.income_monthly", "lots", "household.income_monthly: not an amount (got lots)"),
        ("household.size", "3.5", "household.size: not a whole number (got 3.5)"),
        ("location.county", "west", "location.county: 'west' is not one of: north, south, east"),
        ("case_number", "1001", "case_number: 1001 does not have the expected form"),
        ("charges", '[{"due_on": "2025-12-01"}]', "charges.0.amount: required field is missing"),
        ("charges", '[{"due_on": "soon", "amount": "1"}]', "charges.0.due_on: not a date"),
    ],
)
def test_a_bad_cell_is_a_located_error_row(
    acme: Any, tmp_path: Path, column: str, cell: str, reason: str
) -> None:
    bad = {**GOOD_ROW, "case_number": "AC-2", column: cell}
    path = _csv(tmp_path / "bad.csv", [GOOD_ROW, bad, {**GOOD_ROW, "case_number": "AC-3"}])
    result = evaluate_caseload(acme, path)
    assert CaseloadEvaluator(acme).mode == "vectorized"
    [error] = result.errors.to_dicts()
    assert error["row_number"] == 2
    assert error["case_id"] == bad["case_number"]
    assert reason in error["reason"]
    assert recommended(result.decisions) == [
        (1, "AC-1", "unpaid-notice", "send_delinquency_notice"),
        (3, "AC-3", "unpaid-notice", "send_delinquency_notice"),
    ]
    # the per-case reader says the same about that row, in the same words for the field
    [_, row_error, _] = list(read_snapshots(path, layout=layout_for(acme.case_schema)))
    assert isinstance(row_error, RowError)
    assert row_error.row_number == 2
    assert column.split(".")[0] in row_error.reason


def test_an_unknown_column_is_an_error_row(acme: Any, tmp_path: Path) -> None:
    """A v1 column is not a field of this schema."""
    path = _csv(tmp_path / "extra.csv", [{**GOOD_ROW, "arrears.family_owed": "10.00"}])
    result = evaluate_caseload(acme, path)
    assert result.errors.get_column("reason").to_list() == ["arrears.family_owed: unknown field (got 10.00)"]


def test_a_missing_key_of_a_keyed_parameter_is_an_error_row(acme: Any, tmp_path: Path) -> None:
    rows = [GOOD_ROW, {**GOOD_ROW, "case_number": "AC-9", "location.county": "east"}]
    layout = layout_for(acme.case_schema)
    csv = _csv(tmp_path / "keys.csv", rows)
    parquet = tmp_path / "keys.parquet"  # typed columns, as a database export would have them
    snapshots = [s for s in read_snapshots(csv, layout=layout) if not isinstance(s, RowError)]
    snapshots_to_frame(snapshots, layout).write_parquet(parquet)
    for path in (csv, parquet):
        result = evaluate_caseload(acme, path)
        [error] = result.errors.to_dicts()
        assert error["row_number"] == 2
        assert error["case_id"] == "AC-9"
        assert "parameter 'low_income_limit' has no entry for 'east'" in error["reason"]
        assert error["reason"].startswith(f"{ACME / 'policy.yaml'}:")  # located at the expression
        assert recommended(result.decisions) == [(1, "AC-1", "unpaid-notice", "send_delinquency_notice")]
        assert result.rows == 2
    # the per-case evaluator raises for that case, naming the same parameter and key
    with pytest.raises(EvaluationError, match=r"low_income_limit.*east"):
        acme.evaluate(snapshots[1])


# -- a derived fact the plan cannot take is named, not guessed --------------------------------
def test_a_schema_fact_that_cannot_be_vectorized_is_named(tmp_path: Path) -> None:
    schema = tmp_path / "schema" / "schema.yaml"
    schema.parent.mkdir()
    text = ACME_SCHEMA.read_text(encoding="utf-8")
    text += (
        "  unpaid.open_mismatch:\n"
        '    expr: count_of(charges, paid == (services == "open"))\n'
        "    label: charges whose paid flag matches the service status\n"
    )
    schema.write_text(text, encoding="utf-8")
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    policy_text = (ACME / "policy.yaml").read_text(encoding="utf-8")
    (policy_dir / "policy.yaml").write_text(
        policy_text.replace("../acme/schema.yaml", "../schema/schema.yaml"), encoding="utf-8"
    )
    policy = load_policy(policy_dir)
    with pytest.raises(Refused) as caught:
        VectorPlan(policy)
    assert "derived fact 'unpaid.open_mismatch' of case schema acme-support 1" in str(caught.value)
    location = caught.value.location
    assert Path(location.file).resolve() == schema.resolve()
    assert location.line == text.splitlines().index("  unpaid.open_mismatch:") + 1
    # `cspolicy check` says so: CSP409 at the fact in the schema file
    [warning] = caseload_mode(policy, str(policy_dir))
    assert warning.code is Code.NOT_VECTORIZED and warning.location == location
    assert "unpaid.open_mismatch" in warning.message
    evaluator = CaseloadEvaluator(policy)
    assert evaluator.mode == "reference"
    assert evaluator.why_reference is not None and "unpaid.open_mismatch" in evaluator.why_reference
    snapshots = acme_snapshots(policy, 40)
    path = tmp_path / "acme.parquet"
    snapshots_to_frame(snapshots).write_parquet(path)
    assert recommended(evaluate_caseload(policy, path).decisions) == per_case(policy, snapshots)
