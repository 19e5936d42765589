"""Compile a checked AST once into plain Python closures: the reference evaluator.

Semantics every other back end must match exactly:
- numbers are Decimal or int, never float;
- a missing value (None) propagates through arithmetic and comparisons, and `and`/`or`/`not`
  follow three-valued (Kleene) logic; a condition that ends up None does not hold;
- `and`/`or` evaluate left to right and stop early, so a guard such as
  `account.limit > 0 and account.balance / account.limit >= 3` never divides by zero;
- a division by zero that is actually reached raises DivisionByZero (an evaluation error);
- `x if c else y` evaluates only the branch chosen, and gives None when `c` is None;
  `coalesce(a, b, ...)` evaluates left to right and stops at the first value that is set;
- `x == None` / `x != None` are always yes or no (never None);
- `max_of` / `min_of` / `sum_of(list, field[, condition])` skip items whose field is None and
  items the condition does not hold for (None does not hold); with nothing left, max_of and
  min_of give None and sum_of gives zero (0 for whole numbers, Decimal 0 otherwise);
- `params.NAME[key]` gives None for a None key and raises MissingKey (an evaluation error) for
  a key the table in force does not have: never a silent default;
- `add_days` raises ExpressionFailure when the date would leave the calendar (years 1–9999).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cspolicy.diagnostics import Code
from cspolicy.expressions.fused import and2, fused_compare, or2
from cspolicy.expressions.nodes import (
    Aggregate,
    Binary,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Literal,
    Lookup,
    Membership,
    Missing,
    Name,
    Node,
    Quantifier,
    Unary,
)
from cspolicy.expressions.types import Type
from cspolicy.source import vocabulary

TAKEN_STATUSES = frozenset(vocabulary.TAKEN_STATUSES)


class DivisionByZero(Exception):
    """A division whose divisor was zero for this case."""

    def __init__(self, node: Node) -> None:
        self.node = node
        super().__init__("division by zero")


class ExpressionFailure(KeyError):
    """An evaluation error other than a division by zero, with its code: `CaseOutcome.run`
    turns it into an EvaluationError naming the rule and the expression.

    A KeyError, like the one a parameter without a value in force raises, so that every caller
    that treats "this expression fails for this case" alike (`except (DivisionByZero, KeyError)`)
    handles it too; `CaseOutcome.run` catches it first to report its own code.
    """

    def __init__(self, code: Code, message: str, node: Node) -> None:
        self.code = code
        self.message = message
        self.node = node
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class MissingKey(ExpressionFailure):
    """`params.NAME[key]` for a key that the parameter's table in force does not have."""

    def __init__(self, parameter: str, key: Any, node: Node) -> None:
        self.parameter = parameter
        self.key = key
        super().__init__(
            Code.MISSING_PARAMETER_KEY,
            f"parameter {parameter!r} has no entry for {key!r}",
            node,
        )


class Context:
    """What one evaluation reads: facts, parameter values in force, derived values, list item."""

    __slots__ = ("derived", "derived_fns", "facts", "item", "params", "taken_dates")

    def __init__(
        self,
        facts: dict[str, Any],
        params: dict[str, Any],
        derived_fns: dict[str, Fn],
    ) -> None:
        self.facts = facts
        self.params = params
        self.derived_fns = derived_fns
        self.derived: dict[str, Any] = {}
        self.item: dict[str, Any] = {}
        self.taken_dates: dict[str, dt.date] | None = None

    def derive(self, name: str) -> Any:
        try:
            return self.derived[name]
        except KeyError:
            value = self.derived[name] = self.derived_fns[name](self)
            return value

    def last_taken(self, action: str) -> dt.date | None:
        if self.taken_dates is None:
            dates: dict[str, dt.date] = {}
            for entry in self.facts["enforcement"]:
                if entry["status"] in TAKEN_STATUSES:
                    code = entry["action"]
                    if code not in dates or entry["date"] > dates[code]:
                        dates[code] = entry["date"]
            self.taken_dates = dates
        return self.taken_dates.get(action)


Fn = Callable[[Context], Any]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def compile_expression(node: Node) -> Fn:
    """A closure computing `node` for one context."""
    if isinstance(node, Literal):
        value = node.value
        return lambda c: value
    if isinstance(node, Name):
        return _name(node)
    if isinstance(node, Unary):
        operand = node.operand
        if node.op == "not" and isinstance(operand, Name) and operand.kind == "field":
            key = operand.key
            return lambda c: None if (v := c.facts[key]) is None else not v
        inner = compile_expression(operand)
        if node.op == "not":
            return lambda c: None if (v := inner(c)) is None else not v
        return lambda c: None if (v := inner(c)) is None else -v
    if isinstance(node, Binary):
        return _binary(node)
    if isinstance(node, Compare):
        test = _COMPARE[node.op]
        fused = fused_compare(node, test)
        if fused is not None:
            return fused
        left, right = compile_expression(node.left), compile_expression(node.right)

        def compare(c: Context) -> bool | None:
            a = left(c)
            if a is None:
                return None
            b = right(c)
            if b is None:
                return None
            return test(a, b)

        return compare
    if isinstance(node, Membership):
        inner = compile_expression(node.operand)
        values = frozenset(node.values)
        negated = node.negated
        return lambda c: None if (v := inner(c)) is None else ((v in values) != negated)
    if isinstance(node, BoolOp):
        return _boolean(node)
    if isinstance(node, Quantifier):
        return _quantifier(node)
    if isinstance(node, Aggregate):
        return _aggregate(node)
    if isinstance(node, Conditional):
        return _conditional(node)
    if isinstance(node, Missing):
        inner = compile_expression(node.operand)
        negated = node.negated
        return lambda c: (inner(c) is None) != negated
    if isinstance(node, Lookup):
        return _lookup(node)
    if isinstance(node, Call):
        return _call(node)
    raise TypeError(f"cannot compile {type(node).__name__}")


def _name(node: Name) -> Fn:
    key = node.key
    if node.kind == "param":
        return lambda c: c.params[key]
    if node.kind == "derived":
        return lambda c: c.derive(key)
    if node.kind == "item":
        return lambda c: c.item[key]
    return lambda c: c.facts[key]


def _binary(node: Binary) -> Fn:
    left, right = compile_expression(node.left), compile_expression(node.right)
    op = node.op
    if op == "/":

        def divide(c: Context) -> Any:
            a, b = left(c), right(c)
            if a is None or b is None:
                return None
            if b == 0:
                raise DivisionByZero(node)
            return Decimal(a) / Decimal(b)

        return divide
    function = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

    def arithmetic(c: Context) -> Any:
        a, b = left(c), right(c)
        if a is None or b is None:
            return None
        return function(a, b)

    return arithmetic


def _boolean(node: BoolOp) -> Fn:
    parts = [compile_expression(operand) for operand in node.operands]
    if len(parts) == 2:  # the commonest shape, unrolled
        return and2(*parts) if node.op == "and" else or2(*parts)
    if node.op == "and":

        def conjunction(c: Context) -> bool | None:
            unknown = False
            for part in parts:
                value = part(c)
                if value is False:
                    return False
                if value is None:
                    unknown = True
            return None if unknown else True

        return conjunction

    def disjunction(c: Context) -> bool | None:
        unknown = False
        for part in parts:
            value = part(c)
            if value is True:
                return True
            if value is None:
                unknown = True
        return None if unknown else False

    return disjunction


def _quantifier(node: Quantifier) -> Fn:
    key = node.collection.key
    predicate = compile_expression(node.predicate)
    counting = node.function == "count_of"

    def quantify(c: Context) -> Any:
        saved = c.item
        count = 0
        try:
            for item in c.facts[key]:
                c.item = item
                if predicate(c) is True:
                    if not counting:
                        return True
                    count += 1
        finally:
            c.item = saved
        return count if counting else False

    return quantify


def _aggregate(node: Aggregate) -> Fn:
    key = node.collection.key
    field = node.field.key
    predicate = compile_expression(node.predicate) if node.predicate is not None else None
    function = node.function

    def values(c: Context) -> list[Any]:
        found = []
        saved = c.item
        try:
            for item in c.facts[key]:
                value = item.get(field)
                if value is None:
                    continue
                if predicate is not None:
                    c.item = item
                    if predicate(c) is not True:
                        continue
                found.append(value)
        finally:
            c.item = saved
        return found

    if function == "sum_of":
        zero: int | Decimal = 0 if node.type is Type.INTEGER else Decimal(0)
        return lambda c: sum(values(c), zero)
    pick = max if function == "max_of" else min

    def extreme(c: Context) -> Any:
        found = values(c)
        return pick(found) if found else None

    return extreme


def _conditional(node: Conditional) -> Fn:
    test = compile_expression(node.test)
    then, otherwise = compile_expression(node.then), compile_expression(node.otherwise)

    def choose(c: Context) -> Any:
        holds = test(c)
        if holds is None:
            return None
        return then(c) if holds else otherwise(c)

    return choose


def _lookup(node: Lookup) -> Fn:
    name = node.param.key
    key = compile_expression(node.key)

    def entry(c: Context) -> Any:
        table = c.params[name]  # KeyError: no value in force (as for any parameter)
        which = key(c)
        if which is None:
            return None
        try:
            return table[which]
        except KeyError:
            raise MissingKey(name, which, node) from None

    return entry


_FIRST_DAY = dt.date.min.toordinal()
_LAST_DAY = dt.date.max.toordinal()


def days_added(day: dt.date, days: int, node: Node) -> dt.date:
    """`add_days(day, days)` of two known values; ExpressionFailure off the calendar."""
    ordinal = day.toordinal() + days
    if not _FIRST_DAY <= ordinal <= _LAST_DAY:
        raise ExpressionFailure(
            Code.EVALUATION_FAILED,
            f"add_days(): {day} plus {days:,} days is outside the calendar (years 1 to 9999)",
            node,
        )
    return dt.date.fromordinal(ordinal)


def in_same_month(a: dt.date, b: dt.date) -> bool:
    """`same_month(a, b)` of two known dates."""
    return (a.year, a.month) == (b.year, b.month)


def days_from(a: dt.date, b: dt.date) -> int:
    """`days_between(a, b)` of two known dates."""
    return (b - a).days


def _call(node: Call) -> Fn:
    function = node.function
    if function in ("taken", "days_since_taken", "date_taken"):
        first = node.args[0]
        assert isinstance(first, Literal)
        code = str(first.value)
        if function == "taken":
            return lambda c: c.last_taken(code) is not None
        if function == "date_taken":
            return lambda c: c.last_taken(code)

        def days_since_taken(c: Context) -> int | None:
            last = c.last_taken(code)
            return None if last is None else (c.facts["as_of"] - last).days

        return days_since_taken
    args = [compile_expression(arg) for arg in node.args]
    if function in ("min", "max"):
        pick = min if function == "min" else max

        def extreme(c: Context) -> Any:
            values = [arg(c) for arg in args]
            if any(v is None for v in values):
                return None
            return pick(values)

        return extreme
    if function == "abs":
        only = args[0]
        return lambda c: None if (v := only(c)) is None else abs(v)
    if function == "days_between":
        start, end = args

        def between(c: Context) -> int | None:
            a, b = start(c), end(c)
            return None if a is None or b is None else (b - a).days

        return between
    if function == "days_since":
        since = args[0]
        return lambda c: None if (v := since(c)) is None else (c.facts["as_of"] - v).days
    if function == "add_days":
        start, count = args

        def add_days(c: Context) -> dt.date | None:
            day, days = start(c), count(c)
            if day is None or days is None:
                return None
            return days_added(day, days, node)

        return add_days
    if function == "same_month":
        earlier, later = args

        def same_month(c: Context) -> bool | None:
            a, b = earlier(c), later(c)
            return None if a is None or b is None else in_same_month(a, b)

        return same_month
    if function == "coalesce":

        def coalesce(c: Context) -> Any:
            for arg in args:
                value = arg(c)
                if value is not None:
                    return value
            return None

        return coalesce
    raise TypeError(f"cannot compile call of {function}")
