"""Caseload evaluation: a whole table at once with polars, agreeing exactly with `PolicySet.evaluate`.

The result is a long decisions table, one row per (case, rule whose action is recommended, held
or waiting), plus an errors table with one row per case that could not be decided (invalid
row, division by zero reached, no parameter value, date outside the policy's version). Nothing
is dropped: rows in = cases decided + error rows (`BatchSummary.reconciles`).

Decisions columns: `row_number` (1-based row of the input), `case_id`, `as_of`, `action`,
`rule`, `kind`, `status` (recommended | held | waiting), `held_by`, `waiting_for`, `priority`,
`due_by`, `overdue`, and `outputs.NAME` for each output the policy computes (null unless
recommended). Rows are ordered like `Decision`: per case, recommended actions by priority, then
held, then waiting, each in policy order.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from cspolicy.caseload.checks import ERROR_SCHEMA, ROW
from cspolicy.caseload.tables import MONEY
from cspolicy.diagnostics import Code
from cspolicy.engine.compiler import CompiledExpression
from cspolicy.engine.snapshot import NO_PAYMENT_DAYS, CaseSnapshot
from cspolicy.expressions import Renderer, Type
from cspolicy.expressions.vectorized import NotVectorizable, Vector, VectorCompiler, reached

if TYPE_CHECKING:
    from cspolicy.engine.policy import PolicySet

STATUSES = ("recommended", "held", "waiting")
TAKEN_STATUSES = ["sent", "completed"]
BASE_SCHEMA: dict[str, pl.DataType] = {
    "row_number": pl.Int64(),
    "case_id": pl.String(),
    "as_of": pl.Date(),
    "action": pl.String(),
    "rule": pl.String(),
    "kind": pl.String(),
    "status": pl.String(),
    "held_by": pl.String(),
    "waiting_for": pl.List(pl.String()),
    "priority": pl.Int64(),
    "due_by": pl.Date(),
    "overdue": pl.Boolean(),
}


@dataclass
class BatchResult:
    """Decisions and error rows of one evaluated table."""

    decisions: pl.DataFrame
    errors: pl.DataFrame
    rows: int

    @property
    def decided(self) -> int:
        return self.rows - self.errors.height


@dataclass
class BatchSummary:
    """What a caseload run did: rows read, cases decided, error rows, actions by code, time."""

    rows: int = 0
    decided: int = 0
    errors: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    mode: str = "vectorized"

    @property
    def reconciles(self) -> bool:
        """rows in = cases decided + error rows."""
        return self.rows == self.decided + self.errors

    @property
    def cases_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def add(self, result: BatchResult) -> None:
        self.rows += result.rows
        self.decided += result.decided
        self.errors += result.errors.height
        recommended = result.decisions.filter(pl.col("status") == "recommended")
        for action, count in recommended.group_by("action").len().iter_rows():
            self.actions[action] += count


class VectorPlan:
    """A policy compiled to polars expressions, ready to evaluate validated caseload tables."""

    def __init__(self, policy: PolicySet) -> None:
        self.policy = policy
        compiled = policy.compiled
        self.param_scales = {
            name: max(_decimal_scale(v.value) for v in p.values)
            for name, p in compiled.parameters.items()
            if p.values and all(isinstance(v.value, Decimal) for v in p.values)
        }
        self.compiler = VectorCompiler(Renderer(compiled.labels), self.param_scales)
        self.derived: list[tuple[str, Vector]] = []
        for name, derived in compiled.derived.items():  # in dependency order
            vector = self.compiler.compile(derived.expression.node)
            self.compiler.derived_scales[name] = vector.scale
            self.derived.append((name, vector))
        self.rules = {rule_id: self._rule(rule_id) for rule_id in policy.order}
        for rule in compiled.rules.values():
            for required in rule.rule.requires:
                self.compiler.taken_codes.add(compiled.rules[required].rule.action or "")
        self.output_names = sorted({name for rule in compiled.rules.values() for name in rule.outputs})
        self.schema = self.evaluate(_empty_valid()).decisions.schema

    def _rule(self, rule_id: str) -> dict[str, Any]:
        rule = self.policy.compiled.rules[rule_id]
        return {
            "when": [self._condition(c, rule_id) for c in rule.when],
            "unless": [self._condition(c, rule_id) for c in rule.unless],
            "outputs": {name: self._output(e, rule_id) for name, e in rule.outputs.items()},
            "due_after": self._condition(rule.due_after, rule_id) if rule.due_after else None,
            "due_extended": (
                self._condition(rule.due_extended_when, rule_id) if rule.due_extended_when else None
            ),
        }

    def _output(self, expression: CompiledExpression, rule_id: str) -> Vector:
        """An output; money is rounded half up to the cent, as the reference does."""
        vector = self._condition(expression, rule_id)
        if expression.node.type is Type.MONEY:
            return Vector(round_cents(vector.value), vector.errors)
        return vector

    def _condition(self, expression: CompiledExpression, rule_id: str) -> Vector:
        vector = self.compiler.compile(expression.node)
        where = f"{expression.location}: rule {rule_id!r}: "
        errors = [
            (condition, pl.format("{}{} in `{}`", pl.lit(where), message, pl.lit(expression.text)))
            for condition, message in vector.errors
        ]
        return Vector(vector.value, errors)

    # -- columns every rule reads ---------------------------------------------------------------
    def facts(self, frame: pl.DataFrame) -> pl.LazyFrame:
        """Add derived facts, parameter values by as_of, taken dates and derived values."""
        as_of_day = pl.col("as_of").cast(pl.Int32)
        offsets = pl.col("payments").list.eval(pl.element().struct.field("date").cast(pl.Int32)) - as_of_day
        received = offsets.list.eval(pl.element().le(0).cast(pl.Int64))
        month_start = offsets - (1 - pl.col("as_of").dt.day().cast(pl.Int32))
        this_month = month_start.list.eval(pl.element().ge(0).cast(pl.Int64))
        family = pl.col("payments").list.eval(
            (pl.element().struct.field("applied_to") == "family_arrears").cast(pl.Int64)
        )
        cents = pl.col("payments").list.eval((pl.element().struct.field("amount") * 100).cast(pl.Int64))
        last_offset = offsets.list.eval(pl.element().filter(pl.element() <= 0)).list.max()
        total = pl.col("arrears.family_owed") + pl.col("arrears.state_owed")
        last_date = (as_of_day + last_offset).cast(pl.Date)
        established = pl.col("order.established_on")
        columns = [
            total.alias("arrears.total"),
            # snapshot.delinquent_since: the day after the last payment (the order date when
            # none was received, never before it), None when nothing is past due
            pl.when(total <= 0)
            .then(pl.lit(None, dtype=pl.Date))
            .when(last_date.is_null())
            .then(established)
            .otherwise(pl.max_horizontal(last_date + dt.timedelta(days=1), established))
            .alias("arrears.delinquent_since"),
            last_date.alias("payments.last_date"),
            (-last_offset).cast(pl.Int64).fill_null(NO_PAYMENT_DAYS).alias("payments.days_since_last"),
            ((received * this_month * family * cents).list.sum().cast(pl.Decimal(38, 0)) * Decimal("0.01"))
            .cast(MONEY)
            .alias("payments.to_family_arrears_in_period"),
        ]
        for name, parameter in self.policy.compiled.parameters.items():
            value: Any = None
            for dated in parameter.values:
                inside = pl.col("as_of") >= dated.start
                if dated.end is not None:
                    inside = inside & (pl.col("as_of") < dated.end)
                literal = _param_literal(dated.value, self.param_scales.get(name))
                value = pl.when(inside).then(literal) if value is None else value.when(inside).then(literal)
            columns.append((pl.lit(None) if value is None else value.otherwise(None)).alias(f"params.{name}"))
        lazy = self._taken(frame, frame.lazy().with_columns(columns))
        for name, vector in self.derived:  # in dependency order: one may read another
            lazy = lazy.with_columns(
                vector.value.alias(f"derived.{name}"),
                _first_error(vector.errors).alias(f"derived_error.{name}"),
            )
        return lazy

    def _taken(self, frame: pl.DataFrame, lazy: pl.LazyFrame) -> pl.LazyFrame:
        """`taken.CODE`: the last date each action the policy asks about was sent or completed."""
        codes = sorted(self.compiler.taken_codes)
        if not codes:
            return lazy
        entries = (
            frame.select(ROW, pl.col("enforcement"))
            .explode("enforcement")
            .unnest("enforcement")
            .filter(pl.col("action").is_in(codes) & pl.col("status").is_in(TAKEN_STATUSES))
            .group_by(ROW, "action")
            .agg(pl.col("date").max())
        )
        # Scatter each code's dates into a full column by position (rows are in ascending
        # `__row` order): cheaper than a pivot and a join.
        positions = frame.get_column(ROW)
        columns = []
        for code in codes:
            taken = entries.filter(pl.col("action") == code)
            column = pl.repeat(None, frame.height, dtype=pl.Date, eager=True).alias(f"taken.{code}")
            if taken.height:
                column = column.scatter(
                    positions.search_sorted(taken.get_column(ROW)), taken.get_column("date")
                )
            columns.append(pl.lit(column))
        return lazy.with_columns(columns)

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, valid: pl.DataFrame) -> BatchResult:
        """Decide every row of a validated table (canonical schema plus `__row`)."""
        policy = self.policy
        compiled = policy.compiled
        frame = self.facts(valid)
        errors: list[tuple[pl.Expr, pl.Expr]] = [*_jurisdiction_error(policy), _version_error(policy)]
        applies: dict[str, pl.Expr] = {}
        conditions: list[pl.Expr] = []
        for rule_id, plan in self.rules.items():
            going: pl.Expr = pl.lit(True)
            for index, vector in enumerate(plan["when"]):
                name = f"when.{rule_id}.{index}"
                conditions.append(vector.value.alias(name))
                errors += reached(vector.errors, going)
                going = going & pl.col(name).fill_null(False)
            for index, vector in enumerate(plan["unless"]):
                name = f"unless.{rule_id}.{index}"
                conditions.append(vector.value.alias(name))
                errors += reached(vector.errors, going)
                going = going & ~pl.col(name).fill_null(False)
            applies[rule_id] = going
        frame = self.facts(valid).with_columns(conditions)
        frame = frame.with_columns(expr.alias(f"applies.{rule_id}") for rule_id, expr in applies.items())
        held_by = self._holds()
        status = {rule_id: self._status(rule_id, held_by) for rule_id in compiled.rules}
        frame = frame.with_columns(
            *(expr.alias(f"status.{rule_id}") for rule_id, expr in status.items() if expr is not None),
            *(expr.alias(f"held_by.{rule_id}") for rule_id, expr in held_by.items()),
        )
        outputs: list[pl.Expr] = []
        for rule_id, rule in compiled.rules.items():
            plan = self.rules[rule_id]
            if status[rule_id] is None:
                continue
            recommended = (pl.col(f"status.{rule_id}") == "recommended").fill_null(False)
            for name, vector in plan["outputs"].items():
                outputs.append(vector.value.alias(f"out.{rule_id}.{name}"))
                errors += reached(vector.errors, recommended)
            if plan["due_after"] is not None and rule.rule.due is not None:
                due = rule.rule.due
                start = plan["due_after"].value
                due_by = _add_days(start, due.days, due.business_days)
                errors += reached(plan["due_after"].errors, recommended)
                extended = plan["due_extended"]
                if due.extended is not None and extended is not None:
                    # the longer clock only when its condition is true; evaluated only with a start date
                    longer = _add_days(start, due.extended.days, due.business_days)
                    due_by = pl.when(extended.value.fill_null(False)).then(longer).otherwise(due_by)
                    errors += reached(extended.errors, recommended & start.is_not_null())
                outputs.append(due_by.alias(f"due.{rule_id}"))
        # Which error a row meets first (an index, cheap); messages are formatted only for those rows.
        first = (
            pl.coalesce([pl.when(c).then(pl.lit(i, dtype=pl.Int32)) for i, (c, _) in enumerate(errors)])
            if errors
            else pl.lit(None, dtype=pl.Int32)
        )
        frame = frame.with_columns(*outputs, first.alias("__error")).collect(engine="in-memory").lazy()
        message = pl.coalesce([pl.when(pl.col("__error") == i).then(m) for i, (_, m) in enumerate(errors)])
        failed = frame.filter(pl.col("__error").is_not_null()).select(
            pl.col(ROW).alias("row_number"), pl.col("case_id"), message.cast(pl.String).alias("reason")
        )
        decisions = self._long(frame.filter(pl.col("__error").is_null()))
        decided, error_rows = pl.collect_all([decisions, failed], engine="in-memory")
        return BatchResult(decided, error_rows.cast(ERROR_SCHEMA), valid.height)  # type: ignore[arg-type]

    def _holds(self) -> dict[str, pl.Expr]:
        """held_by per rule, settled in graph order exactly as the reference does."""
        compiled = self.policy.compiled
        held_by: dict[str, pl.Expr] = {}
        for rule_id in self.policy.order:
            rule = compiled.rules[rule_id]
            if not rule.is_hold:
                continue
            active = (
                pl.col(f"applies.{rule_id}") & held_by.get(rule_id, pl.lit(None, dtype=pl.String)).is_null()
            )
            for target in rule.rule.holds:
                if target not in compiled.rules:
                    continue
                current = held_by.get(target, pl.lit(None, dtype=pl.String))
                takes = active & pl.col(f"applies.{target}") & current.is_null()
                held_by[target] = pl.when(takes).then(pl.lit(rule_id)).otherwise(current)
        return held_by

    def _status(self, rule_id: str, held_by: dict[str, pl.Expr]) -> pl.Expr | None:
        compiled = self.policy.compiled
        rule = compiled.rules[rule_id]
        if rule.is_hold:
            return None
        missing = [
            pl.col(f"taken.{compiled.rules[r].rule.action or ''}").is_null() for r in rule.rule.requires
        ]
        waiting = pl.any_horizontal(missing) if missing else pl.lit(False)
        held = held_by[rule_id].is_not_null() if rule_id in held_by else pl.lit(False)
        return (
            pl.when(~pl.col(f"applies.{rule_id}"))
            .then(pl.lit(None, dtype=pl.String))
            .when(held)
            .then(pl.lit("held"))
            .when(waiting)
            .then(pl.lit("waiting"))
            .otherwise(pl.lit("recommended"))
        )

    def _position(self, rule_id: str, status: pl.Expr) -> pl.Expr:
        """Where a rule's row goes within its case, as in Decision: recommended actions by
        priority (ties in policy order), then held, then waiting, each in policy order."""
        compiled = self.policy.compiled
        by_priority = sorted(compiled.rules.values(), key=lambda r: (-r.rule.priority, r.index))
        count = len(compiled.rules)
        recommended = [r.id for r in by_priority].index(rule_id)
        index = compiled.rules[rule_id].index
        return (
            pl.when(status == "recommended")
            .then(pl.lit(recommended))
            .when(status == "held")
            .then(pl.lit(count + index))
            .otherwise(pl.lit(2 * count + index))
            .cast(pl.Int64)
        )

    @property
    def enums(self) -> dict[str, pl.DataType]:
        """The text columns of the decisions table as Enums of this policy's values: cheap to
        sort and write (dictionary-encoded in Parquet), and they read back as text."""
        rules = self.policy.compiled.rules.values()
        return {
            "action": pl.Enum(sorted({r.rule.action or "" for r in rules})),
            "rule": pl.Enum(sorted(r.id for r in rules)),
            "kind": pl.Enum(sorted({r.rule.kind.value for r in rules})),
            "status": pl.Enum(list(STATUSES)),
            "held_by": pl.Enum(sorted(r.id for r in rules if r.is_hold)),
        }

    def _output_types(self, frame: pl.LazyFrame) -> dict[str, pl.DataType]:
        """One type per output name over every rule computing it (Decimal at the widest scale)."""
        types: dict[str, pl.DataType] = {}
        schema = frame.collect_schema()
        for rule_id, rule in self.policy.compiled.rules.items():
            for name in rule.outputs:
                column = f"out.{rule_id}.{name}"
                if column not in schema:
                    continue
                dtype = schema[column]
                seen = types.get(name)
                if seen is None or dtype == pl.Null:
                    types.setdefault(name, dtype)
                elif isinstance(seen, pl.Decimal) and isinstance(dtype, pl.Decimal):
                    types[name] = pl.Decimal(38, max(seen.scale or 0, dtype.scale or 0))
                elif seen != dtype and seen == pl.Null:
                    types[name] = dtype
        return {name: types.get(name, pl.String()) for name in self.output_names}

    def _long(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        compiled = self.policy.compiled
        parts: list[pl.LazyFrame] = []
        output_types = self._output_types(frame)
        names = frame.collect_schema().names()
        enums = self.enums
        for rule_id, rule in compiled.rules.items():
            if rule.is_hold:
                continue
            status = pl.col(f"status.{rule_id}")
            requires = [
                pl.when(pl.col(f"taken.{compiled.rules[r].rule.action or ''}").is_null()).then(
                    pl.lit(compiled.rules[r].rule.action or r)
                )
                for r in rule.rule.requires
            ]
            waiting_for = (
                pl.when(status == "waiting").then(pl.concat_list(requires).list.drop_nulls())
                if requires
                else pl.lit(None, dtype=pl.List(pl.String))
            )
            recommended = status == "recommended"
            due_by = pl.when(recommended).then(pl.col(f"due.{rule_id}")) if rule.due_after else None
            columns = [
                pl.col(ROW).alias("row_number"),
                pl.col("case_id"),
                pl.col("as_of"),
                pl.lit(rule.rule.action or "", dtype=enums["action"]).alias("action"),
                pl.lit(rule_id, dtype=enums["rule"]).alias("rule"),
                pl.lit(rule.rule.kind.value, dtype=enums["kind"]).alias("kind"),
                status.cast(enums["status"]).alias("status"),
                (pl.col(f"held_by.{rule_id}") if f"held_by.{rule_id}" in names else pl.lit(None))
                .cast(enums["held_by"])
                .alias("held_by"),
                waiting_for.cast(pl.List(pl.String)).alias("waiting_for"),
                pl.lit(rule.rule.priority, dtype=pl.Int64).alias("priority"),
                (due_by if due_by is not None else pl.lit(None, dtype=pl.Date)).alias("due_by"),
                (pl.col("as_of") > due_by if due_by is not None else pl.lit(None, dtype=pl.Boolean)).alias(
                    "overdue"
                ),
                (pl.col(ROW) * (3 * len(compiled.rules)) + self._position(rule_id, status)).alias("__order"),
                *(
                    (
                        pl.when(recommended).then(pl.col(f"out.{rule_id}.{name}")).cast(dtype)
                        if name in rule.outputs
                        else pl.lit(None, dtype=dtype)
                    ).alias(f"outputs.{name}")
                    for name, dtype in output_types.items()
                ),
            ]
            parts.append(frame.filter(status.is_not_null()).select(columns))
        empty = {**BASE_SCHEMA, **enums, **{f"outputs.{name}": dtype for name, dtype in output_types.items()}}
        if not parts:
            return pl.LazyFrame(schema=empty)
        table = pl.concat(parts, how="vertical").sort("__order").drop("__order")
        outputs = [f"outputs.{name}" for name in self.output_names]
        return table.select(*BASE_SCHEMA, *outputs)


def _add_days(start: pl.Expr, days: int, business: bool) -> pl.Expr:
    """`start` plus `days` calendar days, or plus `days` Monday-to-Friday days as
    `evaluate.add_business_days` counts them (whole weeks first; a weekend landing moves back)."""
    if not business:
        return start + dt.timedelta(days=days)
    weeks, rest = divmod(days, 5)
    return (start + dt.timedelta(weeks=weeks)).dt.add_business_days(rest, roll="backward")


def _decimal_scale(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _param_literal(value: Any, scale: int | None) -> pl.Expr:
    if isinstance(value, bool):
        return pl.lit(value, dtype=pl.Boolean)
    if isinstance(value, Decimal):
        return pl.lit(value, dtype=pl.Decimal(38, scale if scale is not None else _decimal_scale(value)))
    if isinstance(value, int):
        return pl.lit(value, dtype=pl.Int64)
    return pl.lit(value)


def _first_error(errors: list[tuple[pl.Expr, pl.Expr]]) -> pl.Expr:
    """The message of the first error (in the reference's evaluation order) a row meets, or null."""
    if not errors:
        return pl.lit(None, dtype=pl.String)
    return pl.coalesce([pl.when(condition).then(message) for condition, message in errors]).cast(pl.String)


def round_cents(amount: pl.Expr) -> pl.Expr:
    """A Decimal amount rounded half up (away from zero) to whole cents."""
    size = amount.abs()
    nearest = size.cast(MONEY)  # lowering the scale rounds half to even: fix the ties it lowered
    tie = (size - nearest) == pl.lit(Decimal("0.005"), dtype=pl.Decimal(38, 3))
    up = pl.when(tie).then(nearest + pl.lit(Decimal("0.01"), dtype=MONEY)).otherwise(nearest)
    return pl.when(amount < 0).then(-up).otherwise(up)


def _jurisdiction_error(policy: PolicySet) -> list[tuple[pl.Expr, pl.Expr]]:
    """A state policy decides only that state's cases (a `US` policy takes any state)."""
    state = policy.compiled.source.jurisdiction.state
    if state == "US":
        return []
    message = pl.format(
        "{}: case is in {} but {} {} applies to {} cases",
        pl.lit(Code.WRONG_JURISDICTION.value),
        pl.col("jurisdiction.state"),
        pl.lit(policy.id),
        pl.lit(policy.version),
        pl.lit(state),
    )
    return [(pl.col("jurisdiction.state") != state, message)]


def _version_error(policy: PolicySet) -> tuple[pl.Expr, pl.Expr]:
    start, end = policy.effective_from, policy.effective_to
    outside = pl.col("as_of") < start
    if end is not None:
        outside = outside | (pl.col("as_of") >= end)
    span = f"[{start}, {end or '…'})"
    message = pl.format(
        "{}: snapshot dated {} is outside {} {}'s effective dates {}",
        pl.lit(Code.NO_VERSION.value),
        pl.col("as_of"),
        pl.lit(policy.id),
        pl.lit(policy.version),
        pl.lit(span),
    )
    return outside, message


def _empty_valid() -> pl.DataFrame:
    from cspolicy.caseload.tables import SCHEMA

    return pl.DataFrame(schema={ROW: pl.Int64(), **SCHEMA})


def plan_for(policy: PolicySet) -> VectorPlan | None:
    """The vectorized plan of a policy, or None when it uses something only the reference can do."""
    try:
        return VectorPlan(policy)
    except NotVectorizable:
        return None


def snapshot_table(snapshots: list[CaseSnapshot]) -> pl.DataFrame:
    """Snapshots as a validated table with row numbers 1..n (for tests and examples)."""
    from cspolicy.caseload.tables import snapshots_to_frame

    return (
        snapshots_to_frame(snapshots).with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    )
