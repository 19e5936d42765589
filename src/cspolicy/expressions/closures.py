"""Compile a checked AST once into plain Python closures: the reference evaluator.

Semantics every other back end must match exactly:
- numbers are Decimal or int, never float;
- a missing value (None) propagates through arithmetic and comparisons, and `and`/`or`/`not`
  follow three-valued (Kleene) logic; a condition that ends up None does not hold;
- `and`/`or` evaluate left to right and stop early, so a guard such as
  `order.monthly_amount > 0 and arrears.total / order.monthly_amount >= 3` never divides by zero;
- a division by zero that is actually reached raises DivisionByZero (an evaluation error).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cspolicy.expressions.nodes import (
    Binary,
    BoolOp,
    Call,
    Compare,
    Literal,
    Membership,
    Name,
    Node,
    Quantifier,
    Unary,
)

TAKEN_STATUSES = frozenset({"sent", "completed"})


class DivisionByZero(Exception):
    """A division whose divisor was zero for this case."""

    def __init__(self, node: Node) -> None:
        self.node = node
        super().__init__("division by zero")


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
        inner = compile_expression(node.operand)
        if node.op == "not":
            return lambda c: None if (v := inner(c)) is None else not v
        return lambda c: None if (v := inner(c)) is None else -v
    if isinstance(node, Binary):
        return _binary(node)
    if isinstance(node, Compare):
        left, right = compile_expression(node.left), compile_expression(node.right)
        test = _COMPARE[node.op]

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
    raise TypeError(f"cannot compile call of {function}")
