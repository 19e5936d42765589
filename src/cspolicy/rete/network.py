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

See docs/rete.md for what is native and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cspolicy.engine.compiler import CompiledCondition, CompiledPolicy, CompiledRule
from cspolicy.engine.snapshot import FIELDS
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
from cspolicy.expressions.types import FieldSpec, Type

SCALE_DIGITS = 6  # money and rates are posted as whole millionths: exact integer arithmetic
SCALE = 10**SCALE_DIGITS
MAX_POSTED = 10**15  # |posted integer| bound; with ≤ 4 terms and factors ≤ 1000 sums stay in int64
MAX_FACTOR = 1000
MAX_TERMS = 4
MAX_OUTCOME_TERMS = 256

_DURABLE_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class NotNative(Exception):
    """A condition durable-rules cannot decide exactly; the message says why."""


@dataclass(frozen=True)
class FactKey:
    """One value posted in the `case` fact for native conditions, and how it is encoded."""

    key: str
    kind: str  # field | param | taken
    name: str  # dotted field path, parameter name or action code
    encoding: str  # plain | scaled | raw | date | list
    optional: bool = False  # may be None: then left out of the posted fact
    items: dict[str, FieldSpec] = field(default_factory=dict)  # item fields of a list


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


def sanitize(path: str) -> str:
    """A durable-rules property name (dots would mean nesting)."""
    return "".join(ch if ch.isalnum() else "_" for ch in path)


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
                if isinstance(part, Quantifier):
                    raise NotNative(f"{part.function}() (durable-rules cannot count list items)")
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
    if isinstance(node, Call):
        return f"{node.function}()"
    return type(node).__name__.lower()


def encode(key: FactKey, value: Any) -> Any:
    """A case value as posted to durable-rules; raises ValueError when it cannot be exact."""
    if key.encoding == "list":
        return [{name: _encode_item(spec, item[name]) for name, spec in key.items.items()} for item in value]
    if key.encoding == "raw" and key.kind == "length":
        return len(value)
    if value is None:
        raise ValueError(f"{key.name} is missing")
    if key.encoding == "plain":
        return value
    if key.encoding == "date":
        return value.toordinal()
    return _number(key.name, value, SCALE if key.encoding == "scaled" else 1)


def _encode_item(spec: FieldSpec, value: Any) -> Any:
    if spec.type is Type.DATE:
        return value.toordinal()
    if spec.type in (Type.MONEY, Type.NUMBER):
        return _number(spec.path, value, SCALE)
    return value


def _number(name: str, value: Any, scale: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"{name} is not a number")
    scaled = Decimal(value) * scale
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{name} = {value} has more than {SCALE_DIGITS} decimal places")
    if abs(scaled) >= MAX_POSTED:
        raise ValueError(f"{name} = {value} is too large to compare exactly")
    return int(scaled)


# -- outcome formulas (holds, requirements) as sums of products over facts ----------------------
Literal_ = tuple[str, str, bool]  # (fact kind: applies | taken, rule id or action code, positive)
Term = frozenset[Literal_]
Formula = list[Term]

TRUE: Formula = [frozenset()]


def atom(kind: str, name: str) -> Formula:
    return [frozenset({(kind, name, True)})]


def conjoin(left: Formula, right: Formula) -> Formula:
    terms = []
    for a in left:
        for b in right:
            term = a | b
            if not any((k, n, not p) in term for k, n, p in term):
                terms.append(term)
    return _absorb(terms)


def disjoin(*formulas: Formula) -> Formula:
    return _absorb([t for f in formulas for t in f])


def negate(formula: Formula) -> Formula:
    result = TRUE
    for term in formula:
        result = conjoin(result, [frozenset({(k, n, not p)}) for k, n, p in sorted(term)])
    return result


def _absorb(terms: Iterable[Term]) -> Formula:
    unique = sorted(set(terms), key=lambda t: (len(t), sorted(t)))
    kept: list[Term] = []
    for term in unique:
        if not any(other <= term for other in kept):
            kept.append(term)
    if len(kept) > MAX_OUTCOME_TERMS:
        raise NotNative("holds are nested too deeply to translate")
    return kept


class OutcomeFormulas:
    """Held / recommended / waiting as formulas over `applies` and `taken` facts (graph order)."""

    def __init__(self, policy: CompiledPolicy, order: list[str]) -> None:
        self.policy = policy
        self.order = order
        self.memo: dict[str, Formula] = {}

    def holders(self, rule_id: str) -> list[str]:
        rules = self.policy.rules
        return [h for h in self.order if rules[h].is_hold and rule_id in rules[h].rule.holds]

    def effective(self, hold: str) -> Formula:
        """The hold applies and is not itself held."""
        if hold not in self.memo:
            self.memo[hold] = conjoin(atom("applies", hold), negate(self.held(hold)))
        return self.memo[hold]

    def held(self, rule_id: str) -> Formula:
        return disjoin(*(self.effective(h) for h in self.holders(rule_id)))

    def held_by(self, rule_id: str, hold: str) -> Formula:
        """The rule applies and `hold` is the first effective hold (in graph order) naming it."""
        formula = conjoin(atom("applies", rule_id), self.effective(hold))
        for earlier in self.holders(rule_id):
            if earlier == hold:
                break
            formula = conjoin(formula, negate(self.effective(earlier)))
        return formula

    def free(self, rule: CompiledRule) -> Formula:
        return conjoin(atom("applies", rule.id), negate(self.held(rule.id)))

    def recommended(self, rule: CompiledRule) -> Formula:
        formula = self.free(rule)
        for code in self.required_codes(rule):
            formula = conjoin(formula, atom("taken", code))
        return formula

    def waiting(self, rule: CompiledRule, code: str) -> Formula:
        return conjoin(self.free(rule), negate(atom("taken", code)))

    def required_codes(self, rule: CompiledRule) -> list[str]:
        return [self.policy.rules[r].rule.action or "" for r in rule.rule.requires]


def outcome_rule(term: Term, run: Callable[[Any], None]) -> dict[str, Any]:
    """A durable-rules rule for one product term; the `go` fact comes first (see module doc)."""
    patterns: list[dict[str, Any]] = [{"go": {"t": "go"}}]
    ordered = sorted(term, key=lambda lit: (not lit[2], lit[0], lit[1]))
    for index, (kind, name, positive) in enumerate(ordered):
        match = {"$and": [{"t": kind}, {"r" if kind == "applies" else "a": name}]}
        patterns.append({f"x{index}" if positive else f"x{index}$not": match})
    return {"all": patterns, "run": run}
