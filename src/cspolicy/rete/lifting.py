"""Values that choose between operands, lifted out of a condition so each choice is translated.

`x if c else y`, `coalesce(a, b, ...)` and a `min`/`max` nested in arithmetic each give one of
their operands. durable-rules has no such values, but a condition reading one can be split:
`f(x if c else y)` is `(c and f(x)) or (not c and f(y))`, and None when `c` is None (Kleene, as
the reference: a test that is None gives None). `coalesce(a, b)` is `a if a != None else b`, and
`min(a, b)` is `a if a <= b else b` (None when either is, as the reference's min).
`cspolicy.rete.network` translates each branch on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cspolicy.expressions.nodes import (
    Aggregate,
    Binary,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Literal,
    Lookup,
    Missing,
    Name,
    Node,
    Quantifier,
    Unary,
)
from cspolicy.expressions.types import Type

Derived = Callable[[Name], Node]  # a derived name's expression
_NONE_PROPAGATING = ("abs", "days_between", "days_since", "add_days", "same_month", "min", "max")


@dataclass(frozen=True)
class Branch:
    """A choosing node of a condition and the choice it makes."""

    node: Node
    test: Node
    then: Node
    otherwise: Node


def find_branch(condition: Node, derived: Derived) -> Branch | None:
    """The first choosing value a condition reads (through derived names; never inside a list
    test, which reads item fields, nor inside `== None`, which is never None)."""
    sides = _resolved_sides(condition, derived)
    for node in _values(condition, derived):
        if isinstance(node, Conditional):
            return Branch(node, node.test, node.then, node.otherwise)
        if isinstance(node, Call) and node.function == "coalesce":
            first, *rest = node.args
            otherwise = rest[0] if len(rest) == 1 else dataclasses.replace(node, args=rest)
            return Branch(node, Missing(first, negated=True, type=Type.BOOL), first, otherwise)
        # A min/max that is a whole side of a comparison is translated directly (network.compare).
        if isinstance(node, Call) and node.function in ("min", "max") and node not in sides:
            first, second, *rest = node.args
            if rest:  # min(a, b, c) is min(min(a, b), c): None when any is
                first, second = dataclasses.replace(node, args=[first, second]), _fold(node, rest)
            op = "<=" if node.function == "min" else ">="
            return Branch(node, Compare(op, first, second, type=Type.BOOL), first, second)
    return None


def _fold(node: Call, rest: list[Node]) -> Node:
    return rest[0] if len(rest) == 1 else dataclasses.replace(node, args=rest)


def _resolved_sides(condition: Node, derived: Derived) -> list[Node]:
    if not isinstance(condition, Compare):
        return []
    sides = []
    for side in (condition.left, condition.right):
        while isinstance(side, Name) and side.kind == "derived":
            side = derived(side)
        sides.append(side)
    return sides


def _values(node: Node, derived: Derived) -> Iterator[Node]:
    """Depth first, a choice before the choices inside it, derived names expanded. Not entered:
    list tests (they read item fields) and what is not None whenever a part is (`== None`, and
    `and`/`or`: `False and None` is False), where lifting a choice would not be exact."""
    if isinstance(node, Name) and node.kind == "derived":
        yield from _values(derived(node), derived)
        return
    yield node
    if isinstance(node, Quantifier | Aggregate | Missing | BoolOp):
        return
    for child in node.children():
        yield from _values(child, derived)


def substitute(node: Node, target: Node, replacement: Node, derived: Derived) -> Node:
    """A copy of `node` with `target` (the very node) replaced; derived names on the way are
    expanded so a choice inside one is replaced too. The policy's own nodes are never changed."""
    if node is target:
        return replacement
    if isinstance(node, Name) and node.kind == "derived":
        expanded = derived(node)
        copy = substitute(expanded, target, replacement, derived)
        return node if copy is expanded else copy
    if isinstance(node, Quantifier | Aggregate | Missing):
        return node
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, Node):
            new = substitute(value, target, replacement, derived)
            if new is not value:
                changes[field.name] = new
        elif isinstance(value, list) and any(isinstance(v, Node) for v in value):
            items = [substitute(v, target, replacement, derived) for v in value]
            if any(a is not b for a, b in zip(items, value, strict=True)):
                changes[field.name] = items
    return dataclasses.replace(node, **changes) if changes else node


def is_none(node: Node, derived: Derived) -> bool:
    """The value is None whatever the case: `None`, or arithmetic, a day count or min/max of it."""
    while isinstance(node, Name) and node.kind == "derived":
        node = derived(node)
    if isinstance(node, Literal):
        return node.value is None
    if isinstance(node, Binary):
        return is_none(node.left, derived) or is_none(node.right, derived)
    if isinstance(node, Unary):
        return is_none(node.operand, derived)
    if isinstance(node, Lookup):
        return is_none(node.key, derived)
    if isinstance(node, Call) and node.function in _NONE_PROPAGATING:
        return any(is_none(arg, derived) for arg in node.args)
    return False
