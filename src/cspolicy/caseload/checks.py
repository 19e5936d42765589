"""Vectorized validation of a raw caseload table: the canonical typed table plus one error row
(row number, case id, reason) for every row that is not a valid snapshot of the case schema.

The checks are read from the schema's layout (`cspolicy.caseload.tables.Layout`: types,
required fields, defaults, choices, patterns, lengths). It accepts exactly what the schema's
snapshot model accepts row by row (`caseload.read_snapshots`), apart from amounts with fractions
of a cent (money is whole cents) and numbers with more than 6 decimals, which a caseload cannot hold.
Every problem of a row is reported, each naming its field: `charges.2.amount: amount cannot be
negative (got -5.00)`.
"""

from __future__ import annotations

import datetime as dt
import json
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from cspolicy.caseload.listcells import NOT_A_LIST, instance, listable, materialized, pattern_misses
from cspolicy.caseload.tables import MONEY, NUMBER, Column, Layout, layout_for
from cspolicy.engine.snapshot import EARLIEST_DATE, LATEST_DATE

ROW = "__row"
REASON = "__reason"
_WIDE = pl.Decimal(38, 12)
_MONEY_LIMIT = Decimal("1e12")
_NUMBER_LIMIT = Decimal("1e30")  # Decimal(38, 6) holds 32 digits before the point
_INTEGER = r"^[+-]?[0-9]+$"
_TRUE = ["true", "t", "yes", "y", "on", "1"]
_FALSE = ["false", "f", "no", "n", "off", "0"]

ERROR_SCHEMA: dict[str, pl.DataType] = {
    "row_number": pl.Int64(),
    "case_id": pl.String(),
    "reason": pl.String(),
}


@dataclass
class Checked:
    """A validated chunk: valid rows in the canonical schema (plus `__row`) and the error rows."""

    valid: pl.DataFrame
    errors: pl.DataFrame


_DETAIL: ContextVar[bool] = ContextVar("caseload_check_detail", default=True)


def _fmt(template: str, *args: pl.Expr) -> pl.Expr:
    """A problem message: formatted with the row's values, or (in the cheap first pass, which
    only needs to know whether a row has a problem) one constant."""
    return pl.format(template, *args) if _DETAIL.get() else pl.lit("!")


def check_table(raw: pl.DataFrame, first_row: int = 1, layout: Layout | None = None) -> Checked:
    """Validate and convert a raw chunk whose first row is row number `first_row` (1-based),
    in the flat layout of a case schema (child-support/v1 when none is given)."""
    layout = layout or layout_for()
    raw = raw.with_row_index(ROW, offset=first_row).with_columns(pl.col(ROW).cast(pl.Int64))
    raw = raw.with_columns(listable(raw.get_column(name)) for name in layout.lists if name in raw.columns)
    # First pass: typed values and whether each row has a problem, without formatting any text.
    misses = pattern_misses(raw, layout)
    checked = materialized(_first_pass(raw, layout, misses), raw, layout)
    bad = checked.get_column(REASON).is_not_null()
    if not bad.any():  # the usual case: no filter to copy every column through
        valid = checked.select(ROW, *layout.dtypes, *layout.identity_columns())
        return Checked(valid, pl.DataFrame(schema=ERROR_SCHEMA))
    valid = checked.filter(~bad).drop(REASON).select(ROW, *layout.dtypes, *layout.identity_columns())
    # Second pass, on the bad rows only: every problem in words, naming its field.
    rejected = raw.filter(bad)
    reasons = _checked(rejected, layout, misses).get_column(REASON)
    key = layout.case_id
    case_id = (
        rejected.get_column(key).cast(pl.String, strict=False)
        if key in rejected.columns and rejected.schema[key] in (pl.String, pl.Null)
        else pl.Series([None] * rejected.height, dtype=pl.String)
    )
    errors = pl.DataFrame(
        {"row_number": rejected.get_column(ROW), "case_id": case_id, "reason": reasons},
        schema=ERROR_SCHEMA,
    )
    return Checked(valid, errors)


# The first pass's expressions by (layout, input schema, pattern misses): building them costs
# more than validating a small table, and an in-memory caseload is often checked again and again.
_FIRST_PASS: dict[tuple[int, tuple[tuple[str, pl.DataType], ...], str], tuple[Layout, list[pl.Expr]]] = {}
_FIRST_PASS_SIZE = 64


def _first_pass(raw: pl.DataFrame, layout: Layout, misses: dict[str, dict[str, list[str]]]) -> pl.DataFrame:
    """`_checked` without messages (whether each row has a problem), its expressions cached."""
    key = (id(layout), tuple(raw.schema.items()), json.dumps(misses, sort_keys=True))
    known = _FIRST_PASS.get(key)
    if known is None or known[0] is not layout:
        token = _DETAIL.set(False)
        try:
            known = (layout, _check_exprs(raw.schema, layout, misses))
        finally:
            _DETAIL.reset(token)
        if len(_FIRST_PASS) >= _FIRST_PASS_SIZE:
            _FIRST_PASS.clear()
        _FIRST_PASS[key] = known
    return raw.select(known[1])


def _checked(
    raw: pl.DataFrame, layout: Layout, misses: dict[str, dict[str, list[str]]] | None = None
) -> pl.DataFrame:
    return raw.select(_check_exprs(raw.schema, layout, misses))


def _check_exprs(
    schema: pl.Schema, layout: Layout, misses: dict[str, dict[str, list[str]]] | None = None
) -> list[pl.Expr]:
    """The columns of a checked table: `__row`, the typed values, and `__reason` (null when valid)."""
    columns = list(schema)
    values: list[pl.Expr] = []
    problems: list[pl.Expr] = []
    for name, column in layout.scalars.items():
        if name in columns:
            value, problem = convert(pl.col(name), schema[name], column, pl.lit(name))
        else:
            value, problem = _absent(column, pl.lit(name))
        values.append(value.alias(name))
        problems.append(problem)
    for name in layout.lists:
        required = name in layout.required_lists
        if name in columns:
            value, problem = convert_list(name, schema[name], layout, (misses or {}).get(name))
            if required:
                problem = (
                    pl.when(pl.col(name).is_null())
                    .then(_fmt("{}: required field is missing", pl.lit(name)))
                    .otherwise(problem)
                )
        else:
            value = pl.lit([], dtype=layout.list_dtype(name))
            problem = (
                _fmt("{}: required field is missing", pl.lit(name))
                if required
                else pl.lit(None, dtype=pl.String)
            )
        values.append(value.alias(name))
        problems.append(problem)
    known = layout.dtypes
    for name in columns:
        if name not in known and name not in (ROW, REASON):
            problems.append(
                pl.when(pl.col(name).is_not_null()).then(
                    _fmt("{}: unknown field (got {})", pl.lit(name), _shown_any(pl.col(name), schema[name]))
                )
            )
    if _DETAIL.get():
        reason = pl.concat_str(problems, separator="; ", ignore_nulls=True)
    else:  # the first pass only asks whether a row has a problem: no text to join
        reason = pl.when(pl.any_horizontal(p.is_not_null() for p in problems)).then(pl.lit("!"))
    if REASON in columns:  # a JSON Lines line that held no snapshot: that is the whole story
        reason = pl.coalesce(pl.col(REASON), reason)
    return [pl.col(ROW), *values, pl.when(reason != "").then(reason).alias(REASON)]


def _shown_any(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A cell of any type, shown briefly (nested values by their type: they have no short text)."""
    if dtype.is_nested() or dtype == pl.Object:
        return pl.lit(f"a {dtype} value")
    return _shown(expr)


def _shown(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String, strict=False).fill_null("…").str.slice(0, 40)


def _absent(column: Column, label: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    if column.required:
        return pl.lit(None, dtype=column.dtype), _fmt("{}: required field is missing", label)
    return pl.lit(column.default, dtype=column.dtype), pl.lit(None, dtype=pl.String)


def convert(
    expr: pl.Expr, dtype: pl.DataType, column: Column, label: pl.Expr, misses: list[str] | None = None
) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, problem text or null) for one field read from a column of type `dtype`;
    `misses`, when known, are the texts that do not match the column's pattern."""
    converter = {
        "money": _money,
        "number": _number,
        "integer": _integer,
        "date": _date,
        "bool": _bool,
        "text": _text,
        "choice": _text,
    }[column.kind]
    value, problem = converter(expr, dtype, label)
    if column.kind in ("text", "choice"):
        value, problem = _text_rules(value, problem, column, label, misses)
    missing = expr.is_null()
    if column.required:
        problem = pl.when(missing).then(_fmt("{}: required field is missing", label)).otherwise(problem)
    elif column.default is not None:
        value = value.fill_null(pl.lit(column.default, dtype=column.dtype))
    return value, problem


_MONEY_WORDS = (
    "{}: amount must be a finite number (got {})",
    "{}: not an amount (got {})",
    "{}: amounts in a caseload are whole cents (got {})",
    "{}: must be an amount of money, not {}",
)
_NUMBER_WORDS = (
    "{}: must be a finite number (got {})",
    "{}: not a number (got {})",
    "{}: numbers in a caseload have at most 6 decimals (got {})",
    "{}: must be a number, not {}",
)


def _decimal(
    expr: pl.Expr, dtype: pl.DataType, label: pl.Expr, target: pl.Decimal, words: tuple[str, ...]
) -> tuple[pl.Expr, pl.Expr]:
    """The column as `target`, and why a value is not one (`words`: infinite, unreadable, too precise, type)."""
    problem: pl.Expr = pl.lit(None, dtype=pl.String)
    if isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= (target.scale or 0):
        return expr.cast(target), problem
    if dtype.is_integer():
        return expr.cast(pl.Decimal(38, 0)).cast(target), problem
    if isinstance(dtype, pl.Decimal) or dtype.is_float() or dtype == pl.String or dtype == pl.Null:
        text = expr.cast(pl.String).str.strip_chars()
        wide = text.cast(_WIDE, strict=False)
        value = wide.cast(target)
        chain: Any = pl
        if _DETAIL.get():
            # NaN and infinities do not parse either (`wide` is null): naming them is for the
            # message alone, so the first pass, which only asks whether there is a problem, skips it
            lowered = text.str.to_lowercase().str.strip_prefix("+").str.strip_prefix("-")
            chain = chain.when(lowered.is_in(["nan", "inf", "infinity", "snan"])).then(
                _fmt(words[0], label, text)
            )
        problem = (
            chain.when(text.is_not_null() & wide.is_null())
            .then(_fmt(words[1], label, _shown(text)))
            .when(wide != value.cast(_WIDE))
            .then(_fmt(words[2], label, text))
        )
        return value, problem
    # A null value passes the callers' range checks, so this problem is the one reported.
    wrong_type = _fmt(words[3], label, pl.lit(str(dtype)))
    return pl.lit(None, dtype=target), pl.when(expr.is_not_null()).then(wrong_type)


def _money(expr: pl.Expr, dtype: pl.DataType, label: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    value, problem = _decimal(expr, dtype, label, MONEY, _MONEY_WORDS)
    problem = (
        pl.when(problem.is_not_null())
        .then(problem)
        .when(value < 0)
        .then(_fmt("{}: amount cannot be negative (got {})", label, value.cast(pl.String)))
        .when(value >= _MONEY_LIMIT)
        .then(_fmt("{}: amount is implausibly large (at least $1,000,000,000,000)", label))
    )
    return value, problem


def _number(expr: pl.Expr, dtype: pl.DataType, label: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """A `number` field: any finite value with at most 6 decimals (kept exactly)."""
    value, problem = _decimal(expr, dtype, label, NUMBER, _NUMBER_WORDS)
    problem = (
        pl.when(problem.is_not_null())
        .then(problem)
        .when(value.abs() >= _NUMBER_LIMIT)
        .then(_fmt("{}: number is too large for a caseload", label))
    )
    return value, problem


def _integer(expr: pl.Expr, dtype: pl.DataType, label: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """A whole number: an integer column, or text of digits (as the snapshot model accepts)."""
    if dtype.is_integer():
        return expr.cast(pl.Int64, strict=False), pl.when(
            expr.is_not_null() & expr.cast(pl.Int64, strict=False).is_null()
        ).then(_fmt("{}: whole number is too large (got {})", label, expr.cast(pl.String)))
    if dtype in (pl.String, pl.Null):
        text = expr.cast(pl.String).str.strip_chars()
        value = pl.when(text.str.contains(_INTEGER)).then(text.cast(pl.Int64, strict=False))
        problem = pl.when(text.is_not_null() & value.is_null()).then(
            _fmt("{}: not a whole number (got {})", label, _shown(text))
        )
        return value, problem
    if isinstance(dtype, pl.Decimal) or dtype.is_float():
        value = pl.when(expr == expr.floor()).then(expr.cast(pl.Int64, strict=False))
        problem = pl.when(expr.is_not_null() & value.is_null()).then(
            _fmt("{}: not a whole number (got {})", label, _shown(expr))
        )
        return value, problem
    return pl.lit(None, dtype=pl.Int64), pl.when(expr.is_not_null()).then(
        _fmt("{}: must be a whole number, not {}", label, pl.lit(str(dtype)))
    )


def _date(expr: pl.Expr, dtype: pl.DataType, label: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    problem: pl.Expr = pl.lit(None, dtype=pl.String)
    if dtype == pl.Date:
        value = expr
    elif isinstance(dtype, pl.Datetime):
        value = expr.dt.date()
        problem = pl.when(expr.dt.time() != dt.time(0)).then(
            _fmt("{}: must be a date without a time of day (got {})", label, expr.cast(pl.String))
        )
    elif dtype in (pl.String, pl.Null):
        text = expr.cast(pl.String).str.strip_chars()
        value = text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        problem = pl.when(text.is_not_null() & value.is_null()).then(
            _fmt("{}: not a date (use YYYY-MM-DD; got {})", label, _shown(text))
        )
    else:
        return pl.lit(None, dtype=pl.Date), pl.when(expr.is_not_null()).then(
            _fmt("{}: must be a date, not {}", label, pl.lit(str(dtype)))
        )
    problem = (
        pl.when(problem.is_not_null())
        .then(problem)
        .when((value < EARLIEST_DATE) | (value >= LATEST_DATE))
        .then(
            _fmt(
                "{}: date must be between {} and {} (got {})",
                label,
                pl.lit(str(EARLIEST_DATE)),
                pl.lit(str(LATEST_DATE)),
                value.cast(pl.String),
            )
        )
    )
    return value, problem


def _bool(expr: pl.Expr, dtype: pl.DataType, label: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    if dtype == pl.Boolean:
        return expr, pl.lit(None, dtype=pl.String)
    if dtype.is_integer():
        value = pl.when(expr == 1).then(True).when(expr == 0).then(False)
        shown = expr.cast(pl.String)
    elif dtype in (pl.String, pl.Null):
        text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
        value = pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False)
        shown = _shown(expr)
    else:
        return pl.lit(None, dtype=pl.Boolean), pl.when(expr.is_not_null()).then(
            _fmt("{}: must be true or false, not {}", label, pl.lit(str(dtype)))
        )
    problem = pl.when(expr.is_not_null() & value.is_null()).then(
        _fmt("{}: must be true or false (got {})", label, shown)
    )
    return value, problem


def _text(expr: pl.Expr, dtype: pl.DataType, label: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    if dtype in (pl.String, pl.Null) or isinstance(dtype, pl.Categorical | pl.Enum):
        return expr.cast(pl.String), pl.lit(None, dtype=pl.String)
    return pl.lit(None, dtype=pl.String), pl.when(expr.is_not_null()).then(
        _fmt("{}: must be text (got {})", label, _shown_any(expr, dtype))
    )


def _text_rules(
    value: pl.Expr, problem: pl.Expr, column: Column, label: pl.Expr, misses: list[str] | None = None
) -> tuple[pl.Expr, pl.Expr]:
    checks: Any = pl.when(problem.is_not_null()).then(problem)
    if column.choices:
        checks = checks.when(value.is_not_null() & ~value.is_in(list(column.choices))).then(
            _fmt(
                "{}: {} is not one of: {}",
                label,
                pl.concat_str(pl.lit("'"), _shown(value), pl.lit("'")),
                pl.lit(", ".join(column.choices)),
            )
        )
    if column.pattern:
        mismatch = (
            value.is_in(misses)
            if misses is not None
            else value.is_not_null() & ~value.str.contains(column.pattern)
        )
        checks = checks.when(mismatch).then(
            _fmt("{}: {} does not have the expected form", label, _shown(value))
        )
    if column.min_length:
        short = value.str.len_chars() < column.min_length
        if column.min_length == 1:
            checks = checks.when(short).then(_fmt("{}: must not be empty", label))
        else:
            checks = checks.when(short).then(
                _fmt("{}: shorter than {} characters", label, pl.lit(column.min_length))
            )
    if column.max_length:
        checks = checks.when(value.str.len_chars() > column.max_length).then(
            _fmt("{}: longer than {} characters", label, pl.lit(column.max_length))
        )
    return value, checks.otherwise(pl.lit(None, dtype=pl.String))


def convert_list(
    name: str, dtype: pl.DataType, layout: Layout | None = None, misses: dict[str, list[str]] | None = None
) -> tuple[pl.Expr, pl.Expr]:
    """(typed list-of-struct value, problem text or null) for a list column; `misses`: per item
    field, the texts known not to match its pattern (`_pattern_misses`)."""
    layout = layout or layout_for()
    expr = pl.col(name)
    typed = layout.list_dtype(name)
    if dtype == pl.Null or (isinstance(dtype, pl.List) and dtype.inner == pl.Null):
        return pl.lit([], dtype=typed), pl.lit(None, dtype=pl.String)
    if not (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)):
        return pl.lit([], dtype=typed), pl.when(expr.is_not_null()).then(
            _fmt("{}: must be a list of items, not {}", pl.lit(name), pl.lit(str(dtype)))
        )
    present: dict[str, pl.DataType] = {f.name: instance(f.dtype) for f in dtype.inner.fields}
    element = pl.element()
    label_base = _fmt("{}.{}", pl.lit(name), pl.int_range(pl.len()))
    fields: list[pl.Expr] = []
    item_problems: list[pl.Expr] = [
        pl.when(element.is_null()).then(_fmt("{}: must be an item, not null", label_base))
    ]
    if NOT_A_LIST in present:
        item_problems.append(
            pl.when(element.struct.field(NOT_A_LIST).is_not_null()).then(
                _fmt("{}: not a JSON list of items (got {})", pl.lit(name), element.struct.field(NOT_A_LIST))
            )
        )
    items = layout.lists[name]
    for field, column in items.items():
        label = _fmt("{}.{}", label_base, pl.lit(field))
        if field in present:
            known = (misses or {}).get(field)
            value, problem = convert(element.struct.field(field), present[field], column, label, known)
            problem = pl.when(element.is_not_null()).then(problem)
        else:
            value, problem = _absent(column, label)
            problem = pl.when(element.is_not_null()).then(problem)
        fields.append(value.alias(field))
        item_problems.append(problem)
    for field in present:
        if field not in items and field not in (NOT_A_LIST, "_"):
            item_problems.append(
                pl.when(element.struct.field(field).is_not_null()).then(
                    _fmt("{}.{}: unknown field", label_base, pl.lit(field))
                )
            )
    values = expr.list.eval(pl.struct(fields)).fill_null(pl.lit([], dtype=typed))
    if not _DETAIL.get():  # the first pass: whether any item has a problem, as a yes/no per item
        flags = expr.list.eval(pl.any_horizontal(p.is_not_null() for p in item_problems))
        return values.cast(typed), pl.when(flags.list.any()).then(pl.lit("!"))
    texts = expr.list.eval(pl.concat_str(item_problems, separator="; ", ignore_nulls=True))
    problem = texts.list.eval(element.filter(element != "")).list.join("; ")
    if NOT_A_LIST in present:  # one message for the cell, not one per pseudo-item
        problem = problem.str.replace(r"^(.*?not a JSON list of items \(got [^)]*\)).*$", "$1")
    return values.cast(typed), pl.when(problem != "").then(problem)
