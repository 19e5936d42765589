"""The reference path of caseload evaluation: case by case with `PolicySet.evaluate`.

Used when a policy has an expression the vectorized evaluator cannot reproduce exactly, and by
the differential test, which compares the two. Produces the same long decisions table.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from cspolicy.caseload.checks import ERROR_SCHEMA, ROW
from cspolicy.caseload.results import BASE_SCHEMA, BatchResult, conform, long_to_wide, mixed_outputs
from cspolicy.caseload.tables import RowError, layout_for
from cspolicy.diagnostics import EvaluationError
from cspolicy.expressions import Type

if TYPE_CHECKING:
    from cspolicy.engine.decision import Decision
    from cspolicy.engine.policy import PolicySet


def decision_rows(decision: Decision, row_number: int) -> list[dict[str, Any]]:
    """A Decision as rows of the long decisions table (outputs as Decimal/date values)."""
    rows: list[dict[str, Any]] = []
    run = decision.outcome if decision.evaluated else None
    mixed = mixed_outputs(run.policy) if run is not None else frozenset()
    for action in decision.actions:
        outputs = {}
        if run is not None:
            rule = run.policy.rules[action.rule]
            outputs = {
                f"outputs.{name}": _typed(
                    action.outputs.get(name), Type.STRING if name in mixed else expr.node.type
                )
                for name, expr in rule.outputs.items()
            }
        rows.append(
            _row(decision, row_number, action.action, action.rule, action.kind, "recommended", None, None)
            | {"due_by": action.due_by, "overdue": action.overdue}
            | outputs
        )
    for held in decision.held:
        rows.append(_row(decision, row_number, held.action, held.rule, held.kind, "held", held.held_by, None))
    for waiting in decision.waiting:
        rows.append(
            _row(
                decision,
                row_number,
                waiting.action,
                waiting.rule,
                waiting.kind,
                "waiting",
                None,
                waiting.waiting_for,
            )
        )
    return rows


def _typed(value: Any, type_: Type) -> Any:
    """An output from Decision JSON back to its value (Decimal for amounts, date for dates)."""
    if value is None:
        return None
    if type_ is Type.MONEY:
        return Decimal(str(value))
    if type_ is Type.NUMBER:  # a quotient has up to 28 digits: kept as its exact text
        return str(value)
    if type_ is Type.DATE:
        return dt.date.fromisoformat(value)
    if type_ is Type.STRING and isinstance(value, bool):  # written as the vectorized table writes it
        return "true" if value else "false"
    if type_ is Type.STRING and value is not None:
        return str(value)
    return value


def _row(
    decision: Decision,
    row_number: int,
    action: str,
    rule: str,
    kind: str,
    status: str,
    held_by: str | None,
    waiting_for: list[str] | None,
) -> dict[str, Any]:
    run = decision.outcome if decision.evaluated else None
    priority = run.policy.rules[rule].rule.priority if run is not None else None
    return {
        "row_number": row_number,
        "case_id": decision.case_id,
        "as_of": decision.as_of,
        "action": action,
        "rule": rule,
        "kind": kind,
        "status": status,
        "held_by": held_by,
        "waiting_for": waiting_for,
        "priority": priority,
        "due_by": None,
        "overdue": None,
    }


def evaluate_reference(
    policy: PolicySet,
    valid: pl.DataFrame,
    *,
    layout: str = "long",
    schema: dict[str, pl.DataType] | None = None,
) -> BatchResult:
    """Decide a validated table case by case with the reference evaluator (the exact fallback),
    in the long or the wide layout; with `schema`, the decisions conform to it."""
    rows: list[dict[str, Any]] = []
    errors: list[RowError] = []
    numbers = valid.get_column(ROW).to_list()
    snapshots = layout_for(policy.case_schema).frame_to_snapshots(valid.drop(ROW))
    for number, case in zip(numbers, snapshots, strict=True):
        if isinstance(case, RowError):
            errors.append(RowError(number, case.case_id, case.reason))
            continue
        try:
            decision = policy.evaluate(case)
        except EvaluationError as exc:
            errors.append(RowError(number, case.case_id, f"{exc.problem.location}: {exc.problem.message}"))
            continue
        rows.extend(decision_rows(decision, number))
    decisions = pl.DataFrame(rows, schema_overrides=BASE_SCHEMA, infer_schema_length=None) if rows else None
    error_frame = pl.DataFrame(
        [(e.row_number, e.case_id, e.reason) for e in errors], schema=ERROR_SCHEMA, orient="row"
    )
    long = decisions if decisions is not None else pl.DataFrame(schema=BASE_SCHEMA)
    if layout == "wide":
        assert schema is not None, "the wide layout needs its schema"
        failed = set(error_frame.get_column("row_number").to_list())
        cases = valid.select(pl.col(ROW).alias("row_number"), "case_id", "as_of").filter(
            ~pl.col("row_number").is_in(list(failed))
        )
        return BatchResult(long_to_wide(policy.compiled, long, cases, schema), error_frame, valid.height)
    if schema is not None:
        long = conform(long, schema)
    return BatchResult(long, error_frame, valid.height)
