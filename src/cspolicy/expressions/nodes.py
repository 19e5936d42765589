"""The expression AST shared by every back end: closures, vectorized, Rete, graph and renderer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cspolicy.expressions.types import FieldSpec, Type

# Operators, spelled as in the source.
ARITHMETIC = ("+", "-", "*", "/")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


@dataclass(eq=False)
class Node:
    """Base of every expression node: where it starts in the expression and its checked type."""

    line: int = field(default=0, kw_only=True)  # 0-based line within the expression text
    column: int = field(default=0, kw_only=True)  # 0-based column within that line
    type: Type = field(default=Type.NULL, kw_only=True)

    def children(self) -> Iterator[Node]:
        return iter(())

    def walk(self) -> Iterator[Node]:
        """This node and all its descendants, depth first."""
        yield self
        for child in self.children():
            yield from child.walk()


@dataclass(eq=False)
class Literal(Node):
    """A number, text, yes/no or date written in the expression."""

    value: Any


@dataclass(eq=False)
class Name(Node):
    """A snapshot path, `params.NAME`, a derived name, or an item field inside any_of/count_of.

    `kind` is set by the checker: field | param | derived | item.
    """

    path: str
    kind: str = ""
    spec: FieldSpec | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """The name without its `params.` prefix for parameters."""
        return self.path.removeprefix("params.") if self.kind == "param" else self.path


@dataclass(eq=False)
class Unary(Node):
    """`-x` or `not x`."""

    op: str
    operand: Node

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(eq=False)
class Binary(Node):
    """Arithmetic: + - * /."""

    op: str
    left: Node
    right: Node

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right


@dataclass(eq=False)
class Compare(Node):
    """One comparison of two values."""

    op: str
    left: Node
    right: Node

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right


@dataclass(eq=False)
class Membership(Node):
    """`x in ["a", "b"]` or `x not in [...]`, against literal values only."""

    operand: Node
    values: tuple[Any, ...]
    negated: bool = False

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(eq=False)
class BoolOp(Node):
    """`and` / `or` of two or more operands."""

    op: str
    operands: list[Node]

    def children(self) -> Iterator[Node]:
        yield from self.operands


@dataclass(eq=False)
class Call(Node):
    """A call of a whitelisted function (min, max, abs, days_between, days_since, taken, ...)."""

    function: str
    args: list[Node]

    def children(self) -> Iterator[Node]:
        yield from self.args


@dataclass(eq=False)
class Quantifier(Node):
    """`any_of(list, predicate)` or `count_of(list, predicate)`; the predicate reads item fields."""

    function: str
    collection: Name
    predicate: Node

    def children(self) -> Iterator[Node]:
        yield self.collection
        yield self.predicate


def names(node: Node) -> list[Name]:
    """Every name an expression reads (item names inside predicates included), in order."""
    return [n for n in node.walk() if isinstance(n, Name)]


def top_level_names(node: Node) -> list[Name]:
    """Names read from the snapshot, parameters or derived values (not item fields)."""
    return [n for n in names(node) if n.kind != "item"]


@dataclass(eq=False)
class Aggregate(Node):
    """`max_of` / `min_of` / `sum_of(list, field[, condition])`: one item field over a list's items.

    Items whose field is missing are skipped, and so are items the condition does not hold for.
    Nothing left: max_of/min_of give None; sum_of gives zero (a sum over nothing is 0).
    """

    function: str
    collection: Name
    field: Name
    predicate: Node | None = None

    def children(self) -> Iterator[Node]:
        yield self.collection
        yield self.field
        if self.predicate is not None:
            yield self.predicate


@dataclass(eq=False)
class Conditional(Node):
    """`then if test else otherwise`; a test that is None gives None."""

    test: Node
    then: Node
    otherwise: Node

    def children(self) -> Iterator[Node]:
        yield self.test
        yield self.then
        yield self.otherwise


@dataclass(eq=False)
class Missing(Node):
    """`x == None` (or `x != None`, negated): whether a value is missing; always yes or no."""

    operand: Node
    negated: bool = False

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(eq=False)
class Lookup(Node):
    """`params.NAME[key]`: the entry for `key` in a keyed parameter's table in force."""

    param: Name
    key: Node

    def children(self) -> Iterator[Node]:
        yield self.param
        yield self.key
