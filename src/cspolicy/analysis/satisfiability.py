"""Can conditions hold together? Three-valued interval and set reasoning over the expression AST.

The analyser asks questions like "can every `when` of this rule be true while no `unless` is?"
The answer must follow the reference semantics (`expressions/closures.py`): a missing value
(None) propagates, `and`/`or`/`not` are Kleene, a condition that is None does not hold. So each
boolean node is translated, for one of four *polarities*, into a formula over simple literals:

- `T` the node evaluates to True      - `F` it evaluates to False
- `NT` it does not evaluate to True   - `NF` it does not evaluate to False

A literal constrains one *term* (a snapshot field, a derived number, any other expression that
reads the case, or the order of two such terms) to a set of values — a union of ranges for
numbers and dates, a finite or co-finite set for text and yes/no — plus whether None is allowed.
Parameters and literals are folded to constants first (for one set of parameter values in force).

The search is an over-approximation of what can happen: terms are treated as independent (a
derived number may take any value), and any node it does not understand becomes a fresh free
term. So `satisfiable() is False` is a proof that the conditions cannot hold together; True means
only "not proven impossible". A step budget bounds the search; running out answers True.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cspolicy.expressions import Context, Type, compile_expression
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

T, F, NT, NF = "T", "F", "NT", "NF"
_NEGATE = {T: F, F: T, NT: NF, NF: NT}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
SEARCH_BUDGET = 20_000
MAX_CHOICE_DEPTH = 400  # nested `or` choices followed at once (well inside Python's recursion limit)

Ordered = Decimal | int | dt.date


@dataclass(frozen=True)
class Interval:
    """One range of an ordered term; a bound of None is unbounded."""

    low: Ordered | None
    low_closed: bool
    high: Ordered | None
    high_closed: bool

    def intersect(self, other: Interval) -> Interval:
        low, low_closed = self.low, self.low_closed
        if other.low is not None and (low is None or _lt(low, other.low)):
            low, low_closed = other.low, other.low_closed
        elif other.low is not None and low == other.low:
            low_closed = low_closed and other.low_closed
        high, high_closed = self.high, self.high_closed
        if other.high is not None and (high is None or _lt(other.high, high)):
            high, high_closed = other.high, other.high_closed
        elif other.high is not None and high == other.high:
            high_closed = high_closed and other.high_closed
        return Interval(low, low_closed, high, high_closed)

    def empty(self, whole: bool) -> bool:
        """Whether no value lies in the range (`whole`: only whole numbers count)."""
        if self.low is None or self.high is None:
            return False
        if whole and isinstance(self.low, Decimal | int) and isinstance(self.high, Decimal | int):
            low = math.floor(self.low) + 1 if not self.low_closed else math.ceil(self.low)
            high = math.ceil(self.high) - 1 if not self.high_closed else math.floor(self.high)
            return bool(low > high)
        if _lt(self.low, self.high):
            return False
        return not (self.low == self.high and self.low_closed and self.high_closed)


def _lt(a: Ordered, b: Ordered) -> bool:
    return bool(a < b)  # type: ignore[operator]


@dataclass(frozen=True)
class Values:
    """The values a term may take: ranges (ordered terms) or a set / co-set (text, yes/no)."""

    ranges: tuple[Interval, ...] | None = None
    members: frozenset[Any] | None = None  # None: any value not excluded
    excluded: frozenset[Any] = frozenset()
    whole: bool = False

    def intersect(self, other: Values) -> Values:
        if self.ranges is not None and other.ranges is not None:
            whole = self.whole or other.whole
            ranges = tuple(
                kept for a in self.ranges for b in other.ranges if not (kept := a.intersect(b)).empty(whole)
            )
            return Values(ranges=ranges, whole=whole)
        if self.ranges is not None or other.ranges is not None:
            return _mixed(self, other)
        if self.members is not None and other.members is not None:
            members: frozenset[Any] | None = self.members & other.members
        else:
            members = self.members if self.members is not None else other.members
        excluded = self.excluded | other.excluded
        if members is not None:
            return Values(members=members - excluded)
        return Values(excluded=excluded)

    def empty(self) -> bool:
        if self.ranges is not None:
            return not self.ranges
        return self.members is not None and not self.members


def _mixed(a: Values, b: Values) -> Values:
    """A range constraint met by a set constraint (`x > 3` and `x in [1, 5]`): the set members
    inside the ranges; a co-set leaves the ranges as they are (an over-approximation)."""
    ranged, listed = (a, b) if a.ranges is not None else (b, a)
    assert ranged.ranges is not None
    if listed.members is None:
        return ranged
    point = Interval
    kept = frozenset(
        m
        for m in listed.members
        if _ordered(m) and any(not r.intersect(point(m, True, m, True)).empty(False) for r in ranged.ranges)
    )
    return Values(members=kept)


@dataclass(frozen=True)
class Constraint:
    """A constraint on one term: its value is in `values`, or None when `none` allows it."""

    term: str
    values: Values
    none: bool


@dataclass(frozen=True)
class Junction:
    """`and` (all parts) or `or` (some part) of formulas."""

    op: str
    parts: tuple[Formula, ...]


Formula = Constraint | Junction | bool


def conjunction(parts: list[Formula]) -> Formula:
    """All of `parts` (True when there are none)."""
    if any(part is False for part in parts):
        return False
    kept = tuple(part for part in parts if part is not True)
    if not kept:
        return True
    return kept[0] if len(kept) == 1 else Junction("and", kept)


def disjunction(parts: list[Formula]) -> Formula:
    """Some of `parts` (False when there are none)."""
    if any(part is True for part in parts):
        return True
    kept = tuple(part for part in parts if part is not False)
    if not kept:
        return False
    return kept[0] if len(kept) == 1 else Junction("or", kept)


class Translator:
    """Turns checked boolean expressions into formulas for one set of parameter values in force."""

    def __init__(self, params: Mapping[str, Any], derived: Mapping[str, Node]) -> None:
        self.params = params
        self.derived = derived
        self.context = Context({}, dict(params), {})
        # Per derived name: a value used twice is translated once (a chain of derived values
        # each reading the previous twice would otherwise grow exponentially).
        self.derived_formulas: dict[tuple[str, str], Formula] = {}
        self.derived_missing: dict[str, bool] = {}
        self.derived_none: dict[str, bool] = {}

    def formula(self, node: Node, polarity: str) -> Formula:
        """What must hold of the case for `node` to have `polarity` (T, F, NT or NF)."""
        if self.is_constant(node):
            return self.constant(node, polarity)
        if not isinstance(node, BoolOp | Unary) and self.reads_missing(node):
            # Evaluating a parameter with no value in force is an error: the rule cannot apply.
            return False
        if isinstance(node, Unary) and node.op == "not":
            return self.formula(node.operand, _NEGATE[polarity])
        if isinstance(node, BoolOp):
            parts = [self.formula(operand, polarity) for operand in node.operands]
            # De Morgan in three values: `and` is True only if all are; not True if any is not.
            all_of = (polarity in (T, NF)) == (node.op == "and")
            return conjunction(parts) if all_of else disjunction(parts)
        if isinstance(node, Name) and node.kind == "derived" and node.key in self.derived:
            inner = self.derived[node.key]
            if inner.type is Type.BOOL:
                key = (node.key, polarity)
                if key not in self.derived_formulas:
                    self.derived_formulas[key] = self.formula(inner, polarity)
                return self.derived_formulas[key]
        if isinstance(node, Compare):
            return self.comparison(node, polarity)
        if isinstance(node, Membership) and not self.is_constant(node.operand):
            values = frozenset(node.values)
            inside = Values(members=values) if node.negated is False else Values(excluded=values)
            outside = Values(excluded=values) if node.negated is False else Values(members=values)
            return self.literal(node.operand, inside, outside, polarity, self.choices(node.operand))
        yes, no = Values(members=frozenset({True})), Values(members=frozenset({False}))
        return self.literal(node, yes, no, polarity)

    def comparison(self, node: Compare, polarity: str) -> Formula:
        left, right, op = node.left, node.right, node.op
        if self.is_constant(left):
            left, right, op = right, left, _FLIP[op]
        if not self.is_constant(right):
            return self.relation(left, right, op, polarity)
        yes, no = Values(members=frozenset({True})), Values(members=frozenset({False}))
        try:
            constant = self.evaluate(right)
        except Exception:
            return False  # as in `constant`: the evaluation fails
        if constant is None:
            return polarity in (NT, NF)
        if not _ordered(constant):
            if op not in ("==", "!="):
                return self.literal(node, yes, no, polarity)
            inside = Values(members=frozenset({constant}))
            outside = Values(excluded=frozenset({constant}))
            if op == "!=":
                inside, outside = outside, inside
            return self.literal(left, inside, outside, polarity, self.choices(left))
        whole = left.type is Type.INTEGER
        return self.literal(
            left, _ranges(op, constant, whole), _ranges(_complement(op), constant, whole), polarity
        )

    def relation(self, left: Node, right: Node, op: str, polarity: str) -> Formula:
        """`a op b` of two case values: a term whose value is the sign of a - b."""
        a, b = term_key(left), term_key(right)
        if a > b:
            a, b, op = b, a, _FLIP[op]
        signs = {"<": {-1}, "<=": {-1, 0}, ">": {1}, ">=": {0, 1}, "==": {0}, "!=": {-1, 1}}[op]
        inside = Values(members=frozenset(signs))
        outside = Values(members=frozenset({-1, 0, 1} - signs))
        none = self.may_be_none(left) or self.may_be_none(right)
        return _polar(f"order({a}, {b})", inside, outside, polarity, none)

    def literal(
        self,
        term: Node,
        inside: Values,
        outside: Values,
        polarity: str,
        universe: frozenset[Any] | None = None,
    ) -> Formula:
        if universe is not None:
            inside = Values(members=universe).intersect(inside)
            outside = Values(members=universe).intersect(outside)
        return _polar(term_key(term), inside, outside, polarity, self.may_be_none(term))

    def choices(self, node: Node) -> frozenset[Any] | None:
        if isinstance(node, Name) and node.spec is not None and node.spec.choices:
            return frozenset(node.spec.choices)
        if node.type is Type.BOOL:
            return frozenset({True, False})
        return None

    def is_constant(self, node: Node) -> bool:
        """Whether `node` reads nothing of the case (only literals and parameters)."""
        for part in node.walk():
            if isinstance(part, Name) and part.kind != "param":
                return False
            if isinstance(part, Call) and part.function in ("taken", "days_since_taken", "days_since"):
                return False
            if isinstance(part, Quantifier):
                return False
        return True

    def reads_missing(self, node: Node) -> bool:
        """Whether `node` reads a parameter with no value in force (directly or via derived)."""
        for part in node.walk():
            if isinstance(part, Name) and part.kind == "param" and part.key not in self.params:
                return True
            if isinstance(part, Name) and part.kind == "derived" and part.key in self.derived:
                if part.key not in self.derived_missing:
                    self.derived_missing[part.key] = False  # derived values are acyclic
                    self.derived_missing[part.key] = self.reads_missing(self.derived[part.key])
                if self.derived_missing[part.key]:
                    return True
        return False

    def evaluate(self, node: Node) -> Any:
        return compile_expression(node)(self.context)

    def constant(self, node: Node, polarity: str) -> Formula:
        try:
            value = self.evaluate(node)
        except Exception:
            # No parameter value in force, or a division by zero: evaluation fails, so the rule
            # cannot apply through this node.
            return False
        return {T: value is True, F: value is False, NT: value is not True, NF: value is not False}[polarity]

    def may_be_none(self, node: Node) -> bool:
        """Whether `node` can evaluate to None (a missing optional fact propagates)."""
        if isinstance(node, Literal):
            return node.value is None
        if isinstance(node, Name):
            if node.kind == "field":
                return node.spec is None or node.spec.optional
            if node.kind == "derived":
                inner = self.derived.get(node.key)
                if inner is None:
                    return True
                if node.key not in self.derived_none:
                    self.derived_none[node.key] = self.may_be_none(inner)
                return self.derived_none[node.key]
            if node.kind == "param":
                return node.key not in self.params
            return True
        if isinstance(node, Quantifier):
            return False
        if isinstance(node, Call):
            if node.function == "taken":
                return False
            if node.function == "days_since_taken":
                return True
            return any(self.may_be_none(arg) for arg in node.args)
        return any(self.may_be_none(child) for child in node.children())


def _polar(term: str, inside: Values, outside: Values, polarity: str, none: bool) -> Formula:
    if polarity == T:
        return Constraint(term, inside, False)
    if polarity == F:
        return Constraint(term, outside, False)
    if polarity == NT:
        return Constraint(term, outside, none)
    return Constraint(term, inside, none)


def _ordered(value: Any) -> bool:
    return isinstance(value, Decimal | int | dt.date) and not isinstance(value, bool)


def _complement(op: str) -> str:
    return {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}[op]


def _ranges(op: str, value: Ordered, whole: bool) -> Values:
    below = Interval(None, False, value, op in ("<=", "!="))
    above = Interval(value, op in (">=", "!="), None, False)
    point = Interval(value, True, value, True)
    chosen = {
        "<": (below,),
        "<=": (below,),
        ">": (above,),
        ">=": (above,),
        "==": (point,),
        "!=": (Interval(None, False, value, False), Interval(value, False, None, False)),
    }[op]
    return Values(ranges=chosen, whole=whole)


def term_key(node: Node) -> str:
    """A canonical text for a term, so that the same value written twice is one term."""
    if isinstance(node, Literal):
        return repr(node.value)
    if isinstance(node, Name):
        return node.path
    if isinstance(node, Unary):
        return f"({node.op} {term_key(node.operand)})"
    if isinstance(node, Binary | Compare):
        return f"({term_key(node.left)} {node.op} {term_key(node.right)})"
    if isinstance(node, Membership):
        word = "not in" if node.negated else "in"
        return f"({term_key(node.operand)} {word} {sorted(map(repr, node.values))})"
    if isinstance(node, BoolOp):
        return "(" + f" {node.op} ".join(term_key(o) for o in node.operands) + ")"
    if isinstance(node, Quantifier):
        return f"{node.function}({term_key(node.collection)}, {term_key(node.predicate)})"
    if isinstance(node, Call):
        return f"{node.function}({', '.join(term_key(a) for a in node.args)})"
    # Any other node (aggregates, conditionals, None tests, keyed parameters): its kind, its
    # own attributes and its children, so that two different terms never share a key.
    attributes = [
        repr(getattr(node, f.name))
        for f in dataclasses.fields(node)
        if f.name not in ("line", "column", "type", "spec")
        and not isinstance(getattr(node, f.name), Node | type(None))
    ]
    children = [term_key(child) for child in node.children()]
    return f"<{type(node).__name__} {' '.join(attributes)} ({', '.join(children)})>"


class _OutOfBudget(Exception):
    pass


def satisfiable(formulas: list[Formula], budget: int = SEARCH_BUDGET) -> bool:
    """Whether some case may make every formula hold (False is a proof; True may be unproven)."""
    steps = [budget]
    try:
        return _search(list(formulas), {}, steps)
    except _OutOfBudget:
        return True


def _search(pending: list[Formula], box: dict[str, Constraint], steps: list[int], depth: int = 0) -> bool:
    """Depth-first search for values meeting every formula: take in every plain constraint,
    drop the parts of each `or` that contradict what is known (an `or` left with one part is
    taken in too, without branching), then try the parts of the first `or` still open."""
    if depth > MAX_CHOICE_DEPTH:
        raise _OutOfBudget
    choices: list[Junction] = []
    box = dict(box)
    while True:
        while pending:
            _spend(steps)
            formula = pending.pop()
            if formula is False:
                return False
            if formula is True:
                continue
            if isinstance(formula, Junction):
                if formula.op == "and":
                    pending.extend(formula.parts)
                else:
                    choices.append(formula)
                continue
            merged = _merge(box, formula)
            if merged is None:
                return False
            box[formula.term] = merged
        open_choices: list[Junction] = []
        for choice in choices:
            _spend(steps)
            alive = [part for part in choice.parts if part is not False and not _contradicts(box, part)]
            if not alive:
                return False
            if len(alive) == 1:
                pending.append(alive[0])
            else:
                open_choices.append(
                    choice if len(alive) == len(choice.parts) else Junction("or", tuple(alive))
                )
        choices = open_choices
        if not pending:
            break
    if not choices:
        return True
    first, rest = choices[0], choices[1:]
    return any(_search([*rest, part], box, steps, depth + 1) for part in first.parts)


def _spend(steps: list[int]) -> None:
    steps[0] -= 1
    if steps[0] < 0:
        raise _OutOfBudget


def _merge(box: dict[str, Constraint], constraint: Constraint) -> Constraint | None:
    """`constraint` combined with what `box` knows of its term; None when nothing is left."""
    known = box.get(constraint.term)
    if known is not None:
        values = known.values.intersect(constraint.values)
        constraint = Constraint(constraint.term, values, known.none and constraint.none)
    if constraint.values.empty() and not constraint.none:
        return None
    return constraint


def _contradicts(box: dict[str, Constraint], part: Formula) -> bool:
    return isinstance(part, Constraint) and _merge(box, part) is None
