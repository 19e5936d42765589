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

Every fact comes from the policy's case schema (its derived facts are posted as computed). A
condition reading a choice (`x if c else y`, `coalesce`, a nested `min`/`max`) is split into one
test per choice (`cspolicy.rete.lifting`); a keyed parameter's entry for the case is posted.

This module translates the conditions (stratum 1); `cspolicy.rete.formulas` builds the outcome
rules (stratum 2) and `cspolicy.rete.encoding` posts case values exactly. The names the back end
uses from those two are importable from here too. See docs/rete.md for what is native and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cspolicy.engine.caseschema import default_case_schema
from cspolicy.engine.compiler import CompiledCondition, CompiledPolicy
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
from cspolicy.rete.lifting import find_branch, is_none, substitute
from cspolicy.rete.nodeinfo import (
    AS_OF,
    code_of,
    constant,
    describe,
    entry_name,
    is_call,
    scaled,
    single,
    unsupported,
    whole,
)
from cspolicy.rete.patterns import ALWAYS, NEVER, item_bodies

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
MAX_LIFTED = 4  # choices (x if c else y, coalesce, nested min/max) split per condition: ≤ 16 branches

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
    keys: frozenset[str] = frozenset()  # the case-fact properties the native expression reads
    hybrid: bool = False  # native, but precomputed for a case that lacks one of those values


class ConditionTranslator:
    """AST → durable-rules expressions for conditions that can be decided exactly."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        # Every fact the policy may read (derived facts of the schema included), from its case schema.
        self.fields = (policy.case_schema or default_case_schema()).fields
        self.keys: dict[str, FactKey] = {}
        self.in_item = False  # translating an any_of predicate: names are item fields
        self.lifted = 0  # choices split so far in the condition being translated

    def translate(self, node: Node, part: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
        """(holds, fails) expressions of a condition: it is True / it is not True (False or None).

        A `when` condition is only ever tested for holding and an `unless` one for failing
        (`RetePolicy.condition_rules`), so with `part` given only that expression is built; the
        other is left empty.
        """
        before = dict(self.keys)
        self.lifted = 0
        try:
            holds = self.truth(node, True, True) if part != "unless" else {}
            fails = self.truth(node, False, False) if part != "when" else {}
            return holds, fails
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
        if isinstance(node, Compare | Membership | Conditional) or is_call(node, "coalesce"):
            branch = find_branch(node, self.derived)
            if branch is not None and self.in_item:
                raise NotNative("a choice (x if c else y, coalesce, min/max) inside an any_of condition")
            if branch is not None:
                return self.lift(
                    node, branch.node, branch.test, (branch.then, branch.otherwise), want, strict
                )
            if isinstance(node, Compare | Membership) and any(
                is_none(side, self.derived) for side in node.children()
            ):
                if self.in_item:
                    raise NotNative("a comparison with None inside an any_of condition")
                return NEVER if strict else ALWAYS  # a comparison with None is None
        if isinstance(node, Name):
            if node.kind == "derived":
                return self.truth(self.derived(node), want, strict)
            if node.type is not Type.BOOL:
                raise NotNative(f"{node.path} is not a yes/no value")
            return self.leaf({self.key(node, 0): want}, [node], strict)
        if isinstance(node, Call) and node.function == "taken":
            return {self.action_key("taken", code_of(node)): want}
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
                values = [constant(Literal(v, type=Type.INTEGER), 0) for v in node.values]
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
            missing = want != node.negated  # the expression wanted: "the value is None"
            if is_none(operand, self.derived):
                return ALWAYS if missing else NEVER
            if isinstance(operand, Literal) and not self.in_item:  # a written value is never missing
                return NEVER if missing else ALWAYS
            if isinstance(operand, Conditional) and not self.in_item:
                return self.missing_choice(operand, missing)
            while isinstance(operand, Binary) and isinstance(operand.right, Literal) and operand.op != "/":
                operand = self.resolve(operand.left)  # `x + 1` (add_days(x, 1)) is None when x is
            if not single(operand) or isinstance(operand, Lookup):
                raise NotNative(f"a test for a missing value (== None) of {describe(operand)}, not one value")
            key = self.key(operand, SCALE_DIGITS if scaled(operand) else 0)
            return {"$nex" if missing else "$ex": {key: 1}}
        if (
            isinstance(node, Literal)
            and not self.in_item
            and (node.value is None or isinstance(node.value, bool))
        ):
            # A constant (a choice may leave one, e.g. `x if c else None`): None never holds.
            return ALWAYS if (node.value == want if node.value is not None else not strict) else NEVER
        if isinstance(node, Literal):
            raise NotNative("a constant condition")
        raise NotNative(unsupported(node))

    def lift(
        self, node: Node, choice: Node, test: Node, options: tuple[Node, Node], want: bool, strict: bool
    ) -> dict[str, Any]:
        """`node` reading `choice` (test ? then : otherwise), split into one test per option."""
        self.lifted += 1
        if self.lifted > MAX_LIFTED:
            raise NotNative(
                f"more than {MAX_LIFTED} choices (x if c else y, coalesce, min/max) in one condition"
            )
        then, otherwise = (substitute(node, choice, option, self.derived) for option in options)
        parts = [
            {"$and": [self.truth(test, True, True), self.truth(then, want, strict)]},
            {"$and": [self.truth(test, False, True), self.truth(otherwise, want, strict)]},
        ]
        if not strict:  # a test that is None makes the value None: "want or None" holds
            parts.append({"$and": [self.truth(test, True, False), self.truth(test, False, False)]})
        return {"$or": parts}

    def missing_choice(self, choice: Conditional, missing: bool) -> dict[str, Any]:
        """`(x if c else y) == None` (missing) or `!= None`: None when c is, else as the choice."""
        self.lifted += 1
        if self.lifted > MAX_LIFTED:
            raise NotNative(
                f"more than {MAX_LIFTED} choices (x if c else y, coalesce, min/max) in one condition"
            )
        test = choice.test
        parts = [
            {"$and": [self.truth(test, True, True), self.truth(Missing(choice.then), missing, True)]},
            {"$and": [self.truth(test, False, True), self.truth(Missing(choice.otherwise), missing, True)]},
        ]
        if missing:
            parts.append({"$and": [self.truth(test, True, False), self.truth(test, False, False)]})
        return {"$or": parts}

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
                spec = self.fields.get(part.path)
                if spec is not None and spec.optional:
                    keys += [k.key for k in self.keys.values() if k.kind == "field" and k.name == part.path]
            elif (
                isinstance(part, Name)
                and part.kind == "item"
                and part.spec is not None
                and part.spec.optional
            ):
                keys.append("$i." + part.key)  # an optional item field is left out of its item
            elif isinstance(part, Lookup):  # None when its key is
                keys += [
                    k.key for k in self.keys.values() if k.kind == "lookup" and k.name == entry_name(part)
                ]
            elif isinstance(part, Call) and part.function == "days_since_taken":
                keys += [k.key for k in self.keys.values() if k.kind == "since" and k.name == code_of(part)]
        return keys

    def any_of(self, node: Quantifier, want: bool) -> dict[str, Any]:
        """any_of over a list property: `$iany`; its negation is `$iall` or an empty list."""
        spec = self.fields.get(node.collection.path)
        if node.collection.kind != "field" or spec is None:
            raise NotNative("any_of over something that is not a snapshot list")
        key = "l_" + sanitize(node.collection.path)
        self.keys[key] = FactKey(key, "list", node.collection.path, "list", items=spec.items)
        self.keys["n" + key] = FactKey("n" + key, "length", node.collection.path, "raw")
        self.in_item = True
        try:
            # An item that matches is one whose condition is True; no item matches when every
            # item's condition is False or None.
            test = self.truth(node.predicate, want, not want)
        finally:
            self.in_item = False
        bodies = item_bodies(test, some_item=want)
        if want:
            tests = [{"$iany": {key: body}} for body in bodies]
            return tests[0] if len(tests) == 1 else {"$or": tests}
        # durable-rules' $iall is false on an empty list, so "no item matches" says so.
        return {"$or": [{"n" + key: 0}, {"$iall": {key: bodies[0]}}]}

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
        scale = SCALE_DIGITS if scaled(left) or scaled(right) else 0
        for one, other, actual in ((left, right, op), (right, left, _FLIPPED[op])):
            one, other = self.isolate(one, other)
            if single(one):
                key, value, op = self.key(one, scale), self.value(other, scale), actual
                break
        else:
            for part in (*left.walk(), *right.walk()):
                if isinstance(part, Binary) and part.op == "/":
                    raise NotNative("division (Decimal arithmetic; durable-rules numbers are binary)")
                if isinstance(part, Quantifier | Aggregate):
                    raise NotNative(describe(part))
                if isinstance(part, Lookup | Conditional):
                    raise NotNative(describe(part))
            raise NotNative("neither side of the comparison is a single value")
        read = [n for side in (left, right) for n in self.expanded(side)]
        # A keyed parameter's entry is one posted value, though it names a parameter and a key.
        terms = sum(isinstance(n, Name | Literal) for n in read) - sum(isinstance(n, Lookup) for n in read)
        if terms > MAX_TERMS:
            raise NotNative(f"more than {MAX_TERMS} terms (integer overflow guard)")
        if op == "==":
            return {key: value}
        return {_DURABLE_OPS[op]: {key: value}}

    def isolate(self, one: Node, other: Node) -> tuple[Node, Node]:
        """Move added or subtracted terms across: `a + b > c` becomes `a > c - b` (exact)."""
        one = self.resolve(one)
        if isinstance(one, Call) and one.function in ("days_between", "days_since"):
            start, end = (one.args[0], AS_OF) if one.function == "days_since" else one.args
            one = Binary("-", end, start, type=Type.INTEGER)  # dates are posted as day numbers
        while isinstance(one, Binary) and one.op in ("+", "-"):
            head, tail = self.resolve(one.left), self.resolve(one.right)
            if one.op == "+" and not single(head) and single(tail):
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
        if isinstance(node, Call) and node.function == "add_days":
            start, count = node.args
            start = self.resolve(start)
            # Day numbers: exact, and a schema date (1900-2200) moved by at most 100,000 days
            # never leaves the calendar, so the reference cannot raise where this is used.
            if not (isinstance(start, Name) and start.kind == "field" and start.type is Type.DATE):
                raise NotNative("add_days() of something other than a case date")
            if not (
                isinstance(count, Literal) and isinstance(count.value, int) and abs(count.value) <= 100_000
            ):
                raise NotNative("add_days() by something other than a whole number of days up to 100,000")
            return Binary("+", start, count, type=Type.DATE)
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
            return constant(node, scale)
        if single(node):
            if self.in_item:
                raise NotNative("an any_of condition comparing two values")
            return {"$m": self.key(node, scale)}
        if isinstance(node, Binary) and node.op in ("+", "-"):
            left, right = self.value(node.left, scale), self.value(node.right, scale)
            if whole(left) and whole(right):
                # durable-rules 2.0.28 never matches $add/$sub of two constants: fold them here.
                total = left + right if node.op == "+" else left - right
                if abs(total) >= MAX_POSTED:
                    raise NotNative(f"constant {total} is too large to compare exactly")
                return total
            return {"$add" if node.op == "+" else "$sub": {"$l": left, "$r": right}}
        if isinstance(node, Binary) and node.op == "*":
            for factor, other in ((node.left, node.right), (node.right, node.left)):
                bound = self.factor_bound(self.resolve(factor))
                nested = any(isinstance(n, Binary) and n.op == "*" for n in self.expanded(other))
                if bound is not None and not nested:  # factors ≤ 1000, one per product
                    left, right = self.value(other, scale), self.value(factor, 0)
                    if whole(left) and whole(right):  # two constants: folded (as + and -)
                        return left * right
                    return {"$mul": {"$l": left, "$r": right}}
            raise NotNative("multiplication needs a whole-number constant or parameter factor")
        if isinstance(node, Call) and node.function in ("days_between", "days_since"):
            if scale:
                raise NotNative("a number of days compared with money")
            start, end = (node.args[0], AS_OF) if node.function == "days_since" else node.args
            return {"$sub": {"$l": self.value(end, 0), "$r": self.value(start, 0)}}
        if isinstance(node, Binary) and node.op == "/":
            raise NotNative("division (Decimal arithmetic; durable-rules numbers are binary)")
        raise NotNative(unsupported(node))

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

    def key_of(self, node: Node) -> str:
        node = self.resolve(node)
        if not single(node):
            raise NotNative(f"{describe(node)} is not a single value")
        return self.key(node, 0)

    def key(self, node: Node, scale: int) -> str:
        """The case-fact property for a field, parameter or item field (registered for posting)."""
        if isinstance(node, Call) and node.function == "days_since_taken":
            if self.in_item:
                raise NotNative("an any_of condition that reads case values")
            kind, name, type_, optional = "since", code_of(node), Type.INTEGER, True
        elif isinstance(node, Lookup):
            if self.in_item:
                raise NotNative("a keyed parameter inside an any_of condition")
            # The entry in force for the case's key is posted (None when the key is; a key the
            # table lacks raises for the reference, so the case runs in precomputed mode).
            kind, name, type_, optional = "lookup", entry_name(node), node.type, True
        elif not isinstance(node, Name):
            raise NotNative(f"{describe(node)} is not a single value")
        elif self.in_item != (node.kind == "item"):
            raise NotNative("an any_of condition that reads case values")
        elif node.kind == "item":
            if node.type in (Type.MONEY, Type.NUMBER) and scale != SCALE_DIGITS:
                raise NotNative(f"{node.path} compared as a whole number")
            return "$i." + node.key
        elif node.kind == "field":
            spec = self.fields.get(node.path)
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
        prefix = {"field": "f_", "param": "p_", "since": "ds_", "lookup": "pk_"}[kind]
        key = prefix + sanitize(name) + ("_s" if encoding == "scaled" else "")
        self.keys[key] = FactKey(key, kind, name, encoding, optional=optional)
        return key

    def action_key(self, kind: str, code: str) -> str:
        key = "tk_" + sanitize(code)
        self.keys[key] = FactKey(key, kind, code, "plain")
        return key
