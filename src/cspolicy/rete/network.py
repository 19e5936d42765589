"""Translate a compiled policy into durable-rules ruleset definitions (the Rete network).

Two strata, each a set of durable-rules rules over facts of one case (one durable `sid`):

1. *Conditions* — one rule per policy rule and mode over the single `case` fact. A condition
   the Rete engine can decide exactly is translated from the shared AST into a durable-rules
   expression (a *native* condition); any other is computed with the reference closures and
   posted with the case as a flag `T` / `F` / `E` (a *precomputed* condition; `E` = the
   reference raised an evaluation error). Further rules fire when a precomputed condition that
   the reference would reach is `E`, so errors surface exactly where the reference raises them.
2. *Outcomes* — holds, requirements and recommendations as joins over `applies` and `taken`
   facts, triggered by a final `go` fact. durable-rules checks a `none(...)` pattern only when
   a partial match reaches it and never retracts a match later, so every outcome rule starts
   with the `go` pattern, posted after all the facts it reads: the negations are then exact.

This module translates the conditions (stratum 1); `cspolicy.rete.formulas` builds the outcome
rules (stratum 2) and `cspolicy.rete.encoding` posts case values exactly. The names the back end
uses from those two are importable from here too. See docs/rete.md for what is native and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cspolicy.engine.compiler import CompiledCondition, CompiledPolicy
from cspolicy.engine.snapshot import FIELDS
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
from cspolicy.rete.encoding import MAX_POSTED, SCALE_DIGITS, FactKey, NotNative, encode, sanitize
from cspolicy.rete.formulas import OutcomeFormulas, outcome_rule

__all__ = [  # FactKey, NotNative, encode, OutcomeFormulas and outcome_rule are defined in encoding / formulas
    "ConditionPlan",
    "ConditionTranslator",
    "FactKey",
    "NotNative",
    "OutcomeFormulas",
    "encode",
    "outcome_rule",
]

MAX_FACTOR = 1000
MAX_TERMS = 4

_DURABLE_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass
class ConditionPlan:
    """How one `when`/`unless` condition runs on the Rete back end."""

    rule: str
    part: str
    index: int
    text: str
    native: bool
    reason: str = ""  # why it is precomputed ("" when native)
    holds: dict[str, Any] = field(default_factory=dict, repr=False)  # durable expr: condition is True
    fails: dict[str, Any] = field(default_factory=dict, repr=False)  # durable expr: it is not True
    flag: str = ""  # key of the precomputed flag in the case fact
    condition: CompiledCondition | None = field(default=None, repr=False)


class ConditionTranslator:
    """AST → durable-rules expressions for conditions that can be decided exactly."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.keys: dict[str, FactKey] = {}
        self.in_item = False  # translating an any_of predicate: names are item fields

    def translate(self, node: Node) -> tuple[dict[str, Any], dict[str, Any]]:
        """(holds, fails) expressions of a condition: it is True / it is not True (False or None)."""
        before = dict(self.keys)
        try:
            return self.truth(node, True, True), self.truth(node, False, False)
        except NotNative:
            self.keys = before  # keep the case fact free of keys only a failed attempt used
            raise

    # -- conditions ---------------------------------------------------------------------------
    def truth(self, node: Node, want: bool, strict: bool) -> dict[str, Any]:
        """A durable expression true exactly when `node` is `want` (strict) or is `want` or None.

        Kleene logic: `a and b` is True when both are, False when either is; `not a` swaps
        True and False and keeps None. A value that may be missing is simply left out of the
        posted fact, and the leaves test for it with `$ex` / `$nex`.
        """
        if isinstance(node, Name):
            if node.kind == "derived":
                return self.truth(self.derived(node), want, strict)
            if node.type is not Type.BOOL:
                raise NotNative(f"{node.path} is not a yes/no value")
            return self.leaf({self.key(node, 0): want}, [node], strict)
        if isinstance(node, Call) and node.function == "taken":
            return {self.action_key("taken", _code(node)): want}
        if isinstance(node, Unary) and node.op == "not":
            return self.truth(node.operand, not want, strict)
        if isinstance(node, BoolOp):
            every = (node.op == "and") == want
            parts = [self.truth(operand, want, strict) for operand in node.operands]
            return {"$and" if every else "$or": parts}
        if isinstance(node, Membership):
            negated = node.negated == want
            key = self.key_of(node.operand)
            if node.operand.type is Type.STRING:
                values: list[Any] = [str(v) for v in node.values]
            elif node.operand.type is Type.INTEGER:
                values = [self.constant(Literal(v, type=Type.INTEGER), 0) for v in node.values]
            else:
                raise NotNative("membership test on a value that is not text or a whole number")
            if negated:
                test = {"$and": [{"$neq": {key: v}} for v in values]}
            else:
                test = {"$or": [{key: v} for v in values]}
            return self.leaf(test, [node.operand], strict)
        if isinstance(node, Compare):
            test = self.compare(node.op if want else _NEGATED[node.op], node.left, node.right)
            return self.leaf(test, [node.left, node.right], strict)
        if isinstance(node, Quantifier) and node.function == "any_of":
            return self.any_of(node, want)
        if isinstance(node, Missing):
            # `x == None`: a missing value is left out of the posted fact, so it is `$nex`.
            operand = self.resolve(node.operand)
            if self.in_item or not _single(operand):
                raise NotNative("a test for a missing value (== None) of something other than one field")
            key = self.key(operand, SCALE_DIGITS if _scaled(operand) else 0)
            return {"$nex" if want != node.negated else "$ex": {key: 1}}
        if isinstance(node, Literal):
            raise NotNative("a constant condition")
        raise NotNative(f"{_describe(node)} has no durable-rules equivalent")

    def leaf(self, test: dict[str, Any], operands: list[Node], strict: bool) -> dict[str, Any]:
        """Guard a comparison whose operands may be missing (None) with `$ex` / `$nex`."""
        missing = sorted({k for operand in operands for k in self.optional_keys(operand)})
        if not missing:
            return test
        if strict:
            return {"$and": [*({"$ex": {k: 1}} for k in missing), test]}
        return {"$or": [*({"$nex": {k: 1}} for k in missing), test]}

    def expanded(self, node: Node) -> Iterator[Node]:
        """Every node of an expression with derived names replaced by their expressions."""
        for part in node.walk():
            if isinstance(part, Name) and part.kind == "derived":
                yield from self.expanded(self.derived(part))
            else:
                yield part

    def optional_keys(self, node: Node) -> list[str]:
        """The posted keys an expression reads that may be missing (None) for a case."""
        keys = []
        for part in self.expanded(node):
            if isinstance(part, Name) and part.kind == "field":
                spec = FIELDS.get(part.path)
                if spec is not None and spec.optional:
                    keys += [k.key for k in self.keys.values() if k.kind == "field" and k.name == part.path]
            elif isinstance(part, Call) and part.function == "days_since_taken":
                keys += [k.key for k in self.keys.values() if k.kind == "since" and k.name == _code(part)]
        return keys

    def any_of(self, node: Quantifier, want: bool) -> dict[str, Any]:
        """any_of over a list property: `$iany`; its negation is `$iall` or an empty list."""
        spec = FIELDS.get(node.collection.path)
        if node.collection.kind != "field" or spec is None:
            raise NotNative("any_of over something that is not a snapshot list")
        key = "l_" + sanitize(node.collection.path)
        self.keys[key] = FactKey(key, "list", node.collection.path, "list", items=spec.items)
        self.keys["n" + key] = FactKey("n" + key, "length", node.collection.path, "raw")
        self.in_item = True
        try:
            if want:
                return {"$iany": {key: self.truth(node.predicate, True, True)}}
            if any(isinstance(part, BoolOp) for part in node.predicate.walk()):
                # Seen in fuzzing: durable-rules 2.0.28 mis-decides an $or/$and nested in $iall.
                raise NotNative("a negated any_of with a compound condition ($iall with $or/$and)")
            # durable-rules' $iall is false on an empty list, so "no item matches" says so.
            every = {"$iall": {key: self.truth(node.predicate, False, False)}}
            return {"$or": [{"n" + key: 0}, every]}
        finally:
            self.in_item = False

    def compare(self, op: str, left: Node, right: Node) -> dict[str, Any]:
        left, right = self.resolve(left), self.resolve(right)
        for side, other, flip in ((right, left, False), (left, right, True)):
            if isinstance(side, Call) and side.function in ("min", "max"):
                actual = _FLIPPED[op] if flip else op
                if actual in ("==", "!="):
                    raise NotNative(f"{side.function}() compared with == or !=")
                greater = actual in (">", ">=")
                every = greater == (side.function == "max")
                parts = [self.compare(actual, other, arg) for arg in side.args]
                return {"$and" if every else "$or": parts}
        if left.type is Type.NULL or right.type is Type.NULL:
            raise NotNative("comparison with a missing value (None)")
        scale = SCALE_DIGITS if _scaled(left) or _scaled(right) else 0
        for one, other, actual in ((left, right, op), (right, left, _FLIPPED[op])):
            one, other = self.isolate(one, other)
            if _single(one):
                key, value, op = self.key(one, scale), self.value(other, scale), actual
                break
        else:
            for part in (*left.walk(), *right.walk()):
                if isinstance(part, Binary) and part.op == "/":
                    raise NotNative("division (Decimal arithmetic; durable-rules numbers are binary)")
                if isinstance(part, Quantifier | Aggregate):
                    raise NotNative(f"{part.function}() (durable-rules cannot count or aggregate list items)")
                if isinstance(part, Lookup | Conditional):
                    raise NotNative(_describe(part))
            raise NotNative("neither side of the comparison is a single value")
        terms = [n for side in (left, right) for n in self.expanded(side) if isinstance(n, Name | Literal)]
        if len(terms) > MAX_TERMS:
            raise NotNative(f"more than {MAX_TERMS} terms (integer overflow guard)")
        if op == "==":
            return {key: value}
        return {_DURABLE_OPS[op]: {key: value}}

    def isolate(self, one: Node, other: Node) -> tuple[Node, Node]:
        """Move added or subtracted terms across: `a + b > c` becomes `a > c - b` (exact)."""
        one = self.resolve(one)
        if isinstance(one, Call) and one.function in ("days_between", "days_since"):
            start, end = (one.args[0], _AS_OF) if one.function == "days_since" else one.args
            one = Binary("-", end, start, type=Type.INTEGER)  # dates are posted as day numbers
        while isinstance(one, Binary) and one.op in ("+", "-"):
            head, tail = self.resolve(one.left), self.resolve(one.right)
            if one.op == "+" and not _single(head) and _single(tail):
                head, tail = tail, head
            inverse = "-" if one.op == "+" else "+"
            other = Binary(inverse, other, tail, type=one.type)
            one = head
        return one, other

    # -- values -------------------------------------------------------------------------------
    def resolve(self, node: Node) -> Node:
        """Inline derived names so the engine sees only snapshot fields and parameters."""
        while isinstance(node, Name) and node.kind == "derived":
            node = self.derived(node)
        return node

    def derived(self, name: Name) -> Node:
        derived = self.policy.derived.get(name.key)
        if derived is None:
            raise NotNative(f"unknown derived value {name.key!r}")
        return derived.expression.node

    def value(self, node: Node, scale: int) -> Any:
        """A durable right-hand value: constant, another property, or + - * of them."""
        node = self.resolve(node)
        if isinstance(node, Literal):
            return self.constant(node, scale)
        if _single(node):
            if self.in_item:
                raise NotNative("an any_of condition comparing two values")
            return {"$m": self.key(node, scale)}
        if isinstance(node, Binary) and node.op in ("+", "-"):
            op = "$add" if node.op == "+" else "$sub"
            return {op: {"$l": self.value(node.left, scale), "$r": self.value(node.right, scale)}}
        if isinstance(node, Binary) and node.op == "*":
            for factor, other in ((node.left, node.right), (node.right, node.left)):
                bound = self.factor_bound(self.resolve(factor))
                nested = any(isinstance(n, Binary) and n.op == "*" for n in self.expanded(other))
                if bound is not None and not nested:  # factors ≤ 1000, one per product
                    return {"$mul": {"$l": self.value(other, scale), "$r": self.value(factor, 0)}}
            raise NotNative("multiplication needs a whole-number constant or parameter factor")
        if isinstance(node, Call) and node.function in ("days_between", "days_since"):
            if scale:
                raise NotNative("a number of days compared with money")
            start, end = (node.args[0], _AS_OF) if node.function == "days_since" else node.args
            return {"$sub": {"$l": self.value(end, 0), "$r": self.value(start, 0)}}
        if isinstance(node, Binary) and node.op == "/":
            raise NotNative("division (Decimal arithmetic; durable-rules numbers are binary)")
        raise NotNative(f"{_describe(node)} has no durable-rules equivalent")

    def factor_bound(self, node: Node) -> int | None:
        """The largest absolute value of a whole-number factor known when the policy loads."""
        if isinstance(node, Literal) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return abs(node.value) if abs(node.value) <= MAX_FACTOR else None
        if isinstance(node, Name) and node.kind == "param":
            parameter = self.policy.parameters[node.key]
            if parameter.type is Type.INTEGER:
                largest = max((abs(v.value) for v in parameter.values), default=0)
                return largest if largest <= MAX_FACTOR else None
        return None

    def constant(self, node: Literal, scale: int) -> Any:
        value = node.value
        if isinstance(value, bool | str):
            return value
        if isinstance(value, dt.date):
            return value.toordinal()
        if isinstance(value, int | Decimal):
            scaled = Decimal(value) * (10**scale)
            if scaled != scaled.to_integral_value() or abs(scaled) >= MAX_POSTED:
                raise NotNative(f"constant {value} is not a whole number of millionths")
            return int(scaled)
        raise NotNative(f"constant {value!r}")

    def key_of(self, node: Node) -> str:
        node = self.resolve(node)
        if not _single(node):
            raise NotNative(f"{_describe(node)} is not a single value")
        return self.key(node, 0)

    def key(self, node: Node, scale: int) -> str:
        """The case-fact property for a field, parameter or item field (registered for posting)."""
        if isinstance(node, Call) and node.function == "days_since_taken":
            kind, name, type_, optional = "since", _code(node), Type.INTEGER, True
        elif not isinstance(node, Name):
            raise NotNative(f"{_describe(node)} is not a single value")
        elif self.in_item != (node.kind == "item"):
            raise NotNative("an any_of condition that reads case values")
        elif node.kind == "item":
            if node.type in (Type.MONEY, Type.NUMBER) and scale != SCALE_DIGITS:
                raise NotNative(f"{node.path} compared as a whole number")
            return "$i." + node.key
        elif node.kind == "field":
            spec = FIELDS.get(node.path)
            if spec is None or spec.type is Type.LIST:
                raise NotNative(f"{node.path} is a list")
            kind, name, type_, optional = "field", node.path, node.type, spec.optional
        elif node.kind == "param":
            kind, name, type_, optional = "param", node.key, node.type, False
        else:
            raise NotNative(f"name {node.path!r} of kind {node.kind!r}")
        if type_ in (Type.MONEY, Type.NUMBER):
            if scale != SCALE_DIGITS:
                raise NotNative(f"{name} compared as a whole number")
            encoding = "scaled"
        elif type_ is Type.INTEGER:
            encoding = "scaled" if scale else "raw"
        elif type_ is Type.DATE:
            encoding = "date"
        elif type_ in (Type.BOOL, Type.STRING):
            encoding = "plain"
        else:
            raise NotNative(f"{name} has type {type_}")
        prefix = {"field": "f_", "param": "p_", "since": "ds_"}[kind]
        key = prefix + sanitize(name) + ("_s" if encoding == "scaled" else "")
        self.keys[key] = FactKey(key, kind, name, encoding, optional=optional)
        return key

    def action_key(self, kind: str, code: str) -> str:
        key = "tk_" + sanitize(code)
        self.keys[key] = FactKey(key, kind, code, "plain")
        return key


_AS_OF = Name("as_of", kind="field", type=Type.DATE)


def _code(node: Call) -> str:
    first = node.args[0]
    assert isinstance(first, Literal)
    return str(first.value)


def _single(node: Node) -> bool:
    """A value durable-rules can name: a field, parameter, item field or days_since_taken()."""
    if isinstance(node, Call):
        return node.function == "days_since_taken"
    return isinstance(node, Name) and node.kind != "derived"


def _scaled(node: Node) -> bool:
    return any(n.type in (Type.MONEY, Type.NUMBER) for n in node.walk())


def _describe(node: Node) -> str:
    if isinstance(node, Call | Aggregate):
        return f"{node.function}()"  # max_of/min_of/sum_of: durable-rules cannot aggregate list items
    if isinstance(node, Conditional):
        return "a conditional expression (x if c else y)"
    if isinstance(node, Lookup):
        return f"a keyed parameter ({node.param.path}[...]; a missing key must raise as in the reference)"
    return type(node).__name__.lower()
