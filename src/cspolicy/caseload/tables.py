"""Caseloads as tables: the flat column layout of snapshot v1, converters and row errors.

Layout (documented in docs/guides/caseloads.md):
- every scalar snapshot field is one column named by its dotted path (`arrears.family_owed`);
- money is `Decimal(38, 2)` (whole cents), dates are `Date`, yes/no are `Boolean`, the rest text;
- the four list fields (`payments`, `paying_parent.licenses`, `paying_parent.warrants`,
  `enforcement`) are list-of-struct columns whose struct fields are the item fields; in CSV a
  list cell holds the JSON array of the items;
- a null cell means the field was left out: the snapshot default applies (an error for the
  required fields `case_id`, `as_of`, `jurisdiction.state`, `order.established_on`,
  `order.monthly_amount`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from cspolicy.diagnostics import SnapshotError
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.source.vocabulary import (
    APPLIED_TO,
    EMPLOYMENT,
    EMPLOYMENT_TRAINING_STATUSES,
    ENFORCEMENT_STATUSES,
    LICENSE_STATUSES,
    LICENSE_TYPES,
    PAYMENT_PLAN_STATUSES,
    PAYMENT_SOURCES,
    PUBLIC_ASSISTANCE,
    RECORDED_ACTION,
    STATE_CODE,
    WARRANT_STATUSES,
)

MONEY_SCALE = 2
MONEY = pl.Decimal(38, MONEY_SCALE)


@dataclass(frozen=True)
class Column:
    """One field of the flat layout: its kind (text|money|bool|date|choice) and constraints."""

    name: str
    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    max_length: int | None = None

    @property
    def dtype(self) -> pl.DataType:
        return _DTYPES[self.kind]


_DTYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "choice": pl.String(),
    "money": MONEY,
    "bool": pl.Boolean(),
    "date": pl.Date(),
}

SCALAR_COLUMNS: dict[str, Column] = {
    c.name: c
    for c in [
        Column("case_id", "text", required=True, max_length=64),
        Column("as_of", "date", required=True),
        Column("jurisdiction.state", "text", required=True, pattern=STATE_CODE),
        Column("jurisdiction.county", "text"),
        Column("order.established_on", "date", required=True),
        Column("order.monthly_amount", "money", required=True),
        Column("order.income_withholding_active", "bool", default=False),
        Column("arrears.family_owed", "money", default=Decimal("0")),
        Column("arrears.state_owed", "money", default=Decimal("0")),
        Column("arrears.state_owed_pre_1996", "money", default=Decimal("0")),
        Column("public_assistance", "choice", default="never", choices=PUBLIC_ASSISTANCE),
        Column("paying_parent.employment", "choice", default="unknown", choices=EMPLOYMENT),
        Column("paying_parent.employer_known", "bool", default=False),
        Column("paying_parent.address_known", "bool", default=False),
        Column("paying_parent.incarcerated", "bool", default=False),
        Column("paying_parent.incarcerated_since", "date"),
        Column("paying_parent.expected_release", "date"),
        Column("paying_parent.military_active_duty", "bool", default=False),
        Column(
            "paying_parent.programs.employment_training",
            "choice",
            default="none",
            choices=EMPLOYMENT_TRAINING_STATUSES,
        ),
        Column(
            "paying_parent.programs.payment_plan", "choice", default="none", choices=PAYMENT_PLAN_STATUSES
        ),
        Column("receiving_parent.family_violence_indicator", "bool", default=False),
    ]
}

LIST_COLUMNS: dict[str, dict[str, Column]] = {
    "payments": {
        c.name: c
        for c in [
            Column("date", "date", required=True),
            Column("amount", "money", required=True),
            Column("applied_to", "choice", default="current", choices=APPLIED_TO),
            Column("source", "choice", default="voluntary", choices=PAYMENT_SOURCES),
        ]
    },
    "paying_parent.licenses": {
        c.name: c
        for c in [
            Column("type", "choice", required=True, choices=LICENSE_TYPES),
            Column("status", "choice", required=True, choices=LICENSE_STATUSES),
        ]
    },
    "paying_parent.warrants": {
        c.name: c
        for c in [
            Column("issued_on", "date", required=True),
            Column("status", "choice", required=True, choices=WARRANT_STATUSES),
        ]
    },
    "enforcement": {
        c.name: c
        for c in [
            Column("action", "text", required=True, pattern=RECORDED_ACTION),
            Column("date", "date", required=True),
            Column("status", "choice", default="sent", choices=ENFORCEMENT_STATUSES),
        ]
    },
}


def list_dtype(name: str) -> pl.DataType:
    """The list-of-struct type of list column `name`."""
    return pl.List(pl.Struct({f: c.dtype for f, c in LIST_COLUMNS[name].items()}))


SCHEMA: dict[str, pl.DataType] = {
    **{name: column.dtype for name, column in SCALAR_COLUMNS.items()},
    **{name: list_dtype(name) for name in LIST_COLUMNS},
}
"""The canonical caseload schema, column by column, in snapshot order."""


@dataclass(frozen=True)
class RowError:
    """A caseload row that could not be decided: its 1-based row number, case id (if readable) and why."""

    row_number: int
    case_id: str | None
    reason: str


# -- snapshots ⇄ table --------------------------------------------------------------------------
def snapshot_row(snapshot: CaseSnapshot) -> dict[str, Any]:
    """One snapshot as a row of the flat layout."""
    data = snapshot.model_dump()
    row: dict[str, Any] = {}
    for name in SCALAR_COLUMNS:
        value: Any = data
        for part in name.split("."):
            value = value[part]
        row[name] = value
    for name in LIST_COLUMNS:
        value = data
        for part in name.split("."):
            value = value[part]
        row[name] = value
    return row


def snapshots_to_frame(snapshots: Iterable[CaseSnapshot]) -> pl.DataFrame:
    """A caseload table (canonical schema) from snapshots. Sub-cent amounts raise ValueError."""
    rows = [snapshot_row(s) for s in snapshots]
    for row in rows:
        _check_cents(row)
    return pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else empty_frame()


def empty_frame() -> pl.DataFrame:
    """A caseload table with no rows."""
    return pl.DataFrame(schema=SCHEMA)


def _check_cents(row: dict[str, Any]) -> None:
    for name, column in SCALAR_COLUMNS.items():
        if column.kind == "money" and not _whole_cents(row[name]):
            raise ValueError(f"case {row['case_id']}: {name} has fractions of a cent ({row[name]})")
    for item in row["payments"]:
        if not _whole_cents(item["amount"]):
            raise ValueError(f"case {row['case_id']}: a payment has fractions of a cent ({item['amount']})")


def _whole_cents(value: Decimal) -> bool:
    return value == value.quantize(Decimal(1).scaleb(-MONEY_SCALE))


def row_to_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A flat row (dotted keys) as the nested mapping CaseSnapshot validates; null cells are left out."""
    nested: dict[str, Any] = {}
    for name, value in row.items():
        if value is None:
            continue
        if name in LIST_COLUMNS and isinstance(value, list):
            value = [
                {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item
                for item in value
            ]
        target = nested
        *parents, leaf = name.split(".")
        for part in parents:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                child = target[part] = {}
            target = child
        target[leaf] = value
    return nested


def frame_to_snapshots(frame: pl.DataFrame, first_row: int = 1) -> Iterator[CaseSnapshot | RowError]:
    """Each row of a caseload table as a validated CaseSnapshot, or a RowError saying why not."""
    for offset, row in enumerate(frame.iter_rows(named=True)):
        number = first_row + offset
        reason = row.pop("__reason", None)
        if reason is not None:
            yield RowError(number, None, reason)
            continue
        decoded = _decode_lists(row)
        if isinstance(decoded, str):
            yield RowError(number, _case_id(row), decoded)
            continue
        yield _validate(row_to_dict(decoded), number)


def _validate(data: Any, number: int) -> CaseSnapshot | RowError:
    try:
        return CaseSnapshot.parse(data, source=f"row {number}")
    except SnapshotError as exc:
        reason = "; ".join(problem.message for problem in exc.problems)
        return RowError(number, _case_id(data) if isinstance(data, dict) else None, reason)


def _case_id(row: dict[str, Any]) -> str | None:
    value = row.get("case_id")
    return value if isinstance(value, str) and value else None


def _decode_lists(row: dict[str, Any]) -> dict[str, Any] | str:
    """CSV list cells hold JSON arrays: decode them (a reason string when one is not valid JSON)."""
    decoded = dict(row)
    for name in LIST_COLUMNS:
        value = row.get(name)
        if isinstance(value, str):
            try:
                decoded[name] = json.loads(value, parse_float=Decimal) if value.strip() else None
            except json.JSONDecodeError as exc:
                return f"{name}: not a JSON list of items ({exc.msg} at character {exc.pos})"
    return decoded
