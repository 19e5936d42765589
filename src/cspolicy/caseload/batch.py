"""Caseload evaluation: a whole table at once with polars, agreeing exactly with `PolicySet.evaluate`.

`VectorPlan` compiles a policy to polars expressions: the facts every rule reads (the case
schema's derived facts, compiled from their expressions like any rule's; parameter values by
`as_of`; dates actions were taken; the policy's derived values), each rule's conditions,
holds, waits, outputs and due dates, and the first error each row meets. The result is the long
decisions table that `cspolicy.caseload.results` assembles, plus an errors table with one row per
case that could not be decided (invalid row, division by zero reached, no parameter value, date
outside the policy's version). Nothing is dropped: rows in = cases decided + error rows
(`BatchSummary.reconciles`).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

from cspolicy.caseload.checks import ERROR_SCHEMA, ROW
from cspolicy.caseload.planparts import HISTORY, add_days, jurisdiction_error, last_taken, version_error
from cspolicy.caseload.results import (
    BASE_SCHEMA,
    BatchResult,
    BatchSummary,
    long_table,
    output_types,
    wide_table,
)
from cspolicy.caseload.schemafacts import Refused, fact_errors, needed, schema_facts
from cspolicy.caseload.tables import MONEY, Layout, layout_for
from cspolicy.diagnostics import Location
from cspolicy.engine.compiler import CompiledExpression, CompiledPolicy
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import Renderer, Type
from cspolicy.expressions.nodes import Node
from cspolicy.expressions.vectorcents import rational_cents
from cspolicy.expressions.vectorized import NotVectorizable, Vector, VectorCompiler, reached

if TYPE_CHECKING:
    from cspolicy.engine.policy import PolicySet

__all__ = [  # BASE_SCHEMA, BatchResult and BatchSummary are defined in `results`, importable here too
    "BASE_SCHEMA",
    "BatchResult",
    "BatchSummary",
    "Refused",
    "VectorPlan",
    "plan_for",
    "round_cents",
    "snapshot_table",
]


_NO_VALUE = " has no value in force on "  # a parameter's error message (vectorized._name)


def _is_parameter_gap(message: pl.Expr) -> bool:
    """Whether an error message is a parameter's "no value in force" (the reference locates it
    at the expression without naming the rule)."""
    try:
        return _NO_VALUE in message.meta.serialize(format="json")
    except Exception:  # a message that cannot be serialized is not one
        return False


@dataclass
class _Stages:
    """What a plan adds to decide a table: column groups in order (conditions, applies, statuses
    and holds, outputs and due dates), the first error's index, the rows to recheck, the message."""

    columns: list[list[pl.Expr]]
    first: pl.Expr
    recheck: pl.Expr
    message: pl.Expr


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
        self.layout: Layout = layout_for(policy.case_schema)
        # Every fact must vectorize (a scratch compiler: no rechecks or taken codes of unread
        # facts); the plan computes those the policy reads and those that can fail.
        scratch = VectorCompiler(self.compiler.renderer, self.param_scales, keyed)
        read = needed(schema_facts(scratch, policy.case_schema), policy.case_schema, _expressions(compiled))
        self.facts_of_schema = schema_facts(self.compiler, policy.case_schema, read)
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
        if self.compiler.taken_codes and HISTORY not in self.layout.lists:
            raise Refused(
                f"the policy asks which actions were taken, but case schema {policy.case_schema.name}"
                f" has no `{HISTORY}` list (the action history `taken()` reads)",
                Location(str(compiled.source.header.file)),
            )
        self.output_names = sorted({name for rule in compiled.rules.values() for name in rule.outputs})
        self._types: dict[str, pl.DataType] | None = None
        self.schema = self.evaluate(self._empty_valid()).decisions.schema
        self.wide_schema = self.evaluate(self._empty_valid(), layout="wide").decisions.schema

    def _empty_valid(self) -> pl.DataFrame:
        layout = self.layout
        return pl.DataFrame(schema={ROW: pl.Int64(), **layout.dtypes}).with_columns(layout.identity_columns())

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
        if vector.den is not None and expression.node.type is Type.MONEY:
            cents, recheck = rational_cents(vector)
            self.compiler.rechecks.append(recheck)
            return Vector(cents.cast(MONEY), vector.errors)
        if vector.den is not None:
            # A number (not money) computed from a quotient: the reference's value has 28
            # significant digits, and its written form depends on how each operand was written
            # (6.00 / 2 is 3.00, 6 / 2 is 3), which the columns do not keep. Rows where the rule
            # is recommended are decided by the reference (counted as rechecked, mode `mixed`);
            # every other row stays vectorized, and its output is null as it would be anyway.
            recommended = (pl.col(f"status.{rule_id}") == "recommended").fill_null(False)
            self.compiler.rechecks.append(recommended)
            return Vector(pl.lit(None, dtype=pl.String), vector.errors)
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
        """Add the schema's derived facts, parameter values by as_of, taken dates and derived values."""
        lazy = frame.lazy()
        for name, vector in self.facts_of_schema:  # in dependency order: one may read another
            lazy = lazy.with_columns(vector.value.alias(name))
        columns = []
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
        lazy = self._taken(frame, lazy.with_columns(columns))
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
        return lazy.with_columns(pl.lit(column) for column in last_taken(frame.get_column(HISTORY), codes))

    @cached_property
    def _stages(self) -> _Stages:
        """The expressions `evaluate` adds, in order: built once per plan (they depend only on the
        policy), so deciding a small table does not pay for building them again."""
        policy = self.policy
        compiled = policy.compiled
        errors: list[tuple[pl.Expr, pl.Expr]] = [
            *jurisdiction_error(policy, self.layout),
            version_error(policy),
            *fact_errors(self.facts_of_schema),
        ]
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
        held_by = self._holds()
        status = {rule_id: self._status(rule_id, held_by) for rule_id in compiled.rules}
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
                due_by = add_days(start, due.days, due.business_days)
                errors += reached(plan["due_after"].errors, recommended)
                extended = plan["due_extended"]
                if due.extended is not None and extended is not None:
                    # the longer clock only when its condition is true; evaluated only with a start date
                    longer = add_days(start, due.extended.days, due.business_days)
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
        message = pl.coalesce([pl.when(pl.col("__error") == i).then(m) for i, (_, m) in enumerate(errors)])
        return _Stages(
            columns=[
                conditions,
                [expr.alias(f"applies.{rule_id}") for rule_id, expr in applies.items()],
                [
                    *(
                        expr.alias(f"status.{rule_id}")
                        for rule_id, expr in status.items()
                        if expr is not None
                    ),
                    *(expr.alias(f"held_by.{rule_id}") for rule_id, expr in held_by.items()),
                ],
                outputs,
            ],
            first=first,
            recheck=recheck,
            message=message,
        )

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, valid: pl.DataFrame, layout: str = "long") -> BatchResult:
        """Decide every row of a validated table (canonical schema plus `__row`), in the long
        or the wide decisions layout. Rows a quotient comparison leaves within the reference's
        rounding (`VectorCompiler.rechecks`, almost never) are decided by the reference."""
        # One chunk per column: polars evaluates list expressions far slower (10x and more) over
        # columns whose chunks do not line up, as a table read in row groups or filtered may have.
        valid = valid.rechunk()
        compiled = self.policy.compiled
        stages = self._stages
        frame = self.facts(valid)
        for columns in stages.columns:
            frame = frame.with_columns(columns)
        done = frame.with_columns(stages.first.alias("__error"), stages.recheck.alias("__recheck")).collect(
            engine="in-memory"
        )
        types = self._output_types(done)
        if done.get_column("__error").null_count() == done.height and not done.get_column("__recheck").any():
            # every row decided here (the usual case): no filter to copy the columns through,
            # and no error or recheck query to plan
            table = wide_table if layout == "wide" else long_table
            decided = table(compiled, self.output_names, done.lazy(), types).collect(engine="in-memory")
            return BatchResult(decided, pl.DataFrame(schema=ERROR_SCHEMA), valid.height)
        frame = done.lazy()
        message = stages.message
        vectorized = frame.filter(~pl.col("__recheck"))
        failed = vectorized.filter(pl.col("__error").is_not_null()).select(
            pl.col(ROW).alias("row_number"), pl.col("case_id"), message.cast(pl.String).alias("reason")
        )
        good = vectorized.filter(pl.col("__error").is_null())
        if layout == "wide":
            decisions = wide_table(compiled, self.output_names, good, types)
        else:
            decisions = long_table(compiled, self.output_names, good, types)
        rows = frame.filter(pl.col("__recheck")).select(ROW)
        decided, error_rows, again = pl.collect_all([decisions, failed, rows], engine="in-memory")
        result = BatchResult(decided, error_rows.cast(ERROR_SCHEMA), valid.height)  # type: ignore[arg-type]
        if again.height:
            result = self._recheck(valid.join(again, on=ROW, how="semi"), result, layout)
        return result

    def _output_types(self, done: pl.DataFrame) -> dict[str, pl.DataType]:
        """Each output's column type, read once from a decided table (they depend only on the
        policy and the canonical input schema, which every validated table has)."""
        if self._types is None:
            self._types = output_types(self.policy.compiled, self.output_names, done.lazy())
        return self._types

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


def _expressions(compiled: CompiledPolicy) -> list[Node]:
    """Every expression of a policy: its derived values and its rules' conditions, outputs, clocks."""
    nodes = [derived.expression.node for derived in compiled.derived.values()]
    for rule in compiled.rules.values():
        parts = [*rule.when, *rule.unless, *rule.outputs.values(), rule.due_after, rule.due_extended_when]
        nodes += [part.node for part in parts if part is not None]
    return nodes


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
    # One rounding on the exact value (a cast alone would round half to even).
    return amount.round(2, mode="half_away_from_zero").cast(MONEY)


def plan_for(policy: PolicySet) -> VectorPlan | None:
    """The vectorized plan of a policy, or None when it uses something only the reference can do."""
    try:
        return cached_plan(policy)
    except NotVectorizable:
        return None


# Plans by policy: compiling one (and typing its decisions tables) costs far more than deciding
# a small in-memory caseload, and a plan only reads its policy, which does not change.
_PLANS: weakref.WeakKeyDictionary[PolicySet, VectorPlan | NotVectorizable] = weakref.WeakKeyDictionary()
_PLANS_LOCK = threading.Lock()


def cached_plan(policy: PolicySet) -> VectorPlan:
    """The vectorized plan of `policy`, compiled once per policy object; raises NotVectorizable
    (a `Refused` naming the rule) as `VectorPlan` does."""
    with _PLANS_LOCK:
        known = _PLANS.get(policy)
    if known is None or (isinstance(known, VectorPlan) and known.policy.compiled is not policy.compiled):
        try:
            known = VectorPlan(policy)
        except NotVectorizable as exc:
            known = exc
        with _PLANS_LOCK:
            _PLANS[policy] = known
    if isinstance(known, NotVectorizable):
        raise known.with_traceback(None)
    return known


def snapshot_table(snapshots: list[CaseSnapshot], layout: Layout | None = None) -> pl.DataFrame:
    """Snapshots as a validated table with row numbers 1..n (for tests and examples)."""
    from cspolicy.caseload.tables import snapshots_to_frame

    if layout is None:
        layout = layout_for(type(snapshots[0]).case_schema() if snapshots else None)
    frame = snapshots_to_frame(snapshots, layout)
    return (
        frame.with_row_index(ROW, offset=1)
        .with_columns(pl.col(ROW).cast(pl.Int64))
        .with_columns(layout.identity_columns())
    )
