"""Caseload evaluation: a whole table at once with polars, agreeing exactly with `PolicySet.evaluate`.

`VectorPlan` compiles a policy to polars expressions: the facts every rule reads (derived facts,
parameter values by `as_of`, dates actions were taken, derived values), each rule's conditions,
holds, waits, outputs and due dates, and the first error each row meets. The result is the long
decisions table that `cspolicy.caseload.results` assembles, plus an errors table with one row per
case that could not be decided (invalid row, division by zero reached, no parameter value, date
outside the policy's version). Nothing is dropped: rows in = cases decided + error rows
(`BatchSummary.reconciles`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from cspolicy.caseload.checks import ERROR_SCHEMA, ROW
from cspolicy.caseload.results import BASE_SCHEMA, BatchResult, BatchSummary, long_table, wide_table
from cspolicy.caseload.tables import MONEY
from cspolicy.diagnostics import Code, Location
from cspolicy.engine.compiler import CompiledExpression
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import Renderer, Type
from cspolicy.expressions.vectorized import NotVectorizable, Vector, VectorCompiler, reached
from cspolicy.source.vocabulary import TAKEN_STATUSES

if TYPE_CHECKING:
    from cspolicy.engine.policy import PolicySet

__all__ = [  # BASE_SCHEMA, BatchResult and BatchSummary are defined in `results`, importable here too
    "BASE_SCHEMA",
    "BatchResult",
    "BatchSummary",
    "VectorPlan",
    "plan_for",
    "round_cents",
    "snapshot_table",
]


class Refused(NotVectorizable):
    """A policy the vectorized plan cannot take: which rule or derived value, why, and where."""

    def __init__(self, message: str, location: Location) -> None:
        super().__init__(message)
        self.location = location


_NO_VALUE = " has no value in force on "  # a parameter's error message (vectorized._name)


def _is_parameter_gap(message: pl.Expr) -> bool:
    """Whether an error message is a parameter's "no value in force" (the reference locates it
    at the expression without naming the rule)."""
    try:
        return _NO_VALUE in message.meta.serialize(format="json")
    except Exception:  # a message that cannot be serialized is not one
        return False


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
        keyed = {  # tables by key, looked up per row (`params.NAME[key]`), not a column
            name: [(v.start, v.end, v.value) for v in p.values]
            for name, p in compiled.parameters.items()
            if p.keyed
        }
        self.compiler = VectorCompiler(Renderer(compiled.labels), self.param_scales, keyed)
        self.derived: list[tuple[str, Vector]] = []
        for name, derived in compiled.derived.items():  # in dependency order
            try:
                vector = self.compiler.compile(derived.expression.node)
            except NotVectorizable as exc:
                raise Refused(
                    f"derived value {name!r} (`{derived.expression.text}`): {exc}",
                    derived.expression.location,
                ) from None
            self.compiler.derived_scales[name] = vector.scale
            if vector.den is not None:  # a quotient: numerator and denominator columns
                self.compiler.derived_ratios[name] = (vector.den_scale, vector.rounds)
            self.derived.append((name, vector))
        self.rules = {rule_id: self._rule(rule_id) for rule_id in policy.order}
        for rule in compiled.rules.values():
            for required in rule.rule.requires:
                self.compiler.taken_codes.add(compiled.rules[required].rule.action or "")
        self.output_names = sorted({name for rule in compiled.rules.values() for name in rule.outputs})
        self.schema = self.evaluate(_empty_valid()).decisions.schema
        self.wide_schema = self.evaluate(_empty_valid(), layout="wide").decisions.schema

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
        if vector.den is not None:
            raise Refused(
                f"rule {rule_id!r}: an output computed from a quotient (the reference rounds it to "
                f"28 significant digits): `{expression.text}`",
                expression.location,
            )
        if expression.node.type is Type.MONEY:
            return Vector(round_cents(vector.value), vector.errors)
        return vector

    def _condition(self, expression: CompiledExpression, rule_id: str) -> Vector:
        try:
            vector = self.compiler.compile(expression.node)
        except Refused:
            raise
        except NotVectorizable as exc:
            raise Refused(f"rule {rule_id!r} (`{expression.text}`): {exc}", expression.location) from None
        where = f"{expression.location}: rule {rule_id!r}: "
        located = f"{expression.location}: "
        errors = [
            (condition, pl.format("{}{}", pl.lit(located), message))
            if _is_parameter_gap(message)  # the reference names no rule for a parameter gap
            else (condition, pl.format("{}{} in `{}`", pl.lit(where), message, pl.lit(expression.text)))
            for condition, message in vector.errors
        ]
        return replace(vector, errors=errors)

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
            (-last_offset).cast(pl.Int64).alias("payments.days_since_last"),
            ((received * this_month * family * cents).list.sum().cast(pl.Decimal(38, 0)) * Decimal("0.01"))
            .cast(MONEY)
            .alias("payments.to_family_arrears_in_period"),
        ]
        for name, parameter in self.policy.compiled.parameters.items():
            if parameter.keyed:
                continue  # looked up by the compiled expressions themselves
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
            ratio = []
            if vector.den is not None:
                assert vector.err is not None
                ratio = [vector.den.alias(f"derived_den.{name}"), vector.err.alias(f"derived_err.{name}")]
            lazy = lazy.with_columns(
                vector.value.alias(f"derived.{name}"),
                _first_error(vector.errors).alias(f"derived_error.{name}"),
                *ratio,
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
            .filter(pl.col("action").is_in(codes) & pl.col("status").is_in(list(TAKEN_STATUSES)))
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
    def evaluate(self, valid: pl.DataFrame, layout: str = "long") -> BatchResult:
        """Decide every row of a validated table (canonical schema plus `__row`), in the long
        or the wide decisions layout. Rows a quotient comparison leaves within the reference's
        rounding (`VectorCompiler.rechecks`, almost never) are decided by the reference."""
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
        rechecks = self.compiler.rechecks
        recheck = pl.any_horizontal(rechecks) if rechecks else pl.lit(False)
        frame = (
            frame.with_columns(*outputs, first.alias("__error"), recheck.alias("__recheck"))
            .collect(engine="in-memory")
            .lazy()
        )
        message = pl.coalesce([pl.when(pl.col("__error") == i).then(m) for i, (_, m) in enumerate(errors)])
        vectorized = frame.filter(~pl.col("__recheck"))
        failed = vectorized.filter(pl.col("__error").is_not_null()).select(
            pl.col(ROW).alias("row_number"), pl.col("case_id"), message.cast(pl.String).alias("reason")
        )
        good = vectorized.filter(pl.col("__error").is_null())
        if layout == "wide":
            decisions = wide_table(compiled, self.output_names, good)
        else:
            decisions = long_table(compiled, self.output_names, good)
        rows = frame.filter(pl.col("__recheck")).select(ROW)
        decided, error_rows, again = pl.collect_all([decisions, failed, rows], engine="in-memory")
        result = BatchResult(decided, error_rows.cast(ERROR_SCHEMA), valid.height)  # type: ignore[arg-type]
        if again.height:
            result = self._recheck(valid.join(again, on=ROW, how="semi"), result, layout)
        return result

    def _recheck(self, rows: pl.DataFrame, result: BatchResult, layout: str) -> BatchResult:
        """Decide `rows` with the reference evaluator and merge them into `result` in row order."""
        from cspolicy.caseload.reference import evaluate_reference

        exact = evaluate_reference(self.policy, rows, layout=layout, schema=result.decisions.schema)
        decisions = pl.concat([result.decisions, exact.decisions]).sort("row_number", maintain_order=True)
        errors = pl.concat([result.errors, exact.errors]).sort("row_number")
        return BatchResult(decisions, errors, result.rows, rechecked=rows.height)

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
