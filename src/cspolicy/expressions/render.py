"""Render an expression AST as plain language, with or without a case's values.

The same renderer writes the docs' "when it applies" and the explanations in decisions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
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
from cspolicy.expressions.types import Type

_COMPARE_WORDS = {
    ">": "is more than",
    ">=": "is at least",
    "<": "is less than",
    "<=": "is at most",
    "==": "is",
    "!=": "is not",
}
_ARITHMETIC_WORDS = {"+": "plus", "-": "minus", "*": "×", "/": "divided by"}


def format_value(value: Any, type_: Type) -> str:
    """A value as a reader sees it: $3,120.00, 2025-03-01, yes/no, 'not set'."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if type_ is Type.MONEY and isinstance(value, int | Decimal):
        return format_money(Decimal(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return format_decimal(value)
    return str(value)


def format_money(amount: Decimal) -> str:
    """$1,234.50 — keeps the amount's own precision; whole amounts show no cents."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    exponent = amount.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > 2 and amount == amount.quantize(Decimal("0.01")):
        places = 2
    return f"{sign}${amount:,.{places}f}"


def format_decimal(value: Decimal) -> str:
    """A decimal without exponent notation."""
    text = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    return text


def words(name: str) -> str:
    """`passport_denial_threshold` → 'passport denial threshold'."""
    return name.replace("_", " ")


@dataclass
class Labels:
    """Plain-language names for parameters and derived values (fields carry their own)."""

    params: Mapping[str, str] = field(default_factory=dict)
    derived: Mapping[str, str] = field(default_factory=dict)

    def of(self, node: Name) -> str:
        if node.kind == "param":
            return "the " + self.params.get(node.key, words(node.key))
        if node.kind == "derived":
            return self.derived.get(node.key, words(node.key))
        if node.spec is not None:
            return node.spec.label
        return words(node.path)


class Renderer:
    """Turns an expression into a sentence; `values` (by path) adds the case's values in brackets.

    `params` (values in force) lets the docs show a threshold's amount without a case.
    """

    def __init__(
        self,
        labels: Labels | None = None,
        values: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.labels = labels or Labels()
        self.values = values
        self.params = params or {}

    def render(self, node: Node) -> str:
        return self._render(node)

    def show(self, path: str, value: Any, type_: Type) -> str:
        """How a case's value appears in the text (a template renderer leaves a slot instead)."""
        return format_value(value, type_)

    def _render(self, node: Node) -> str:
        if isinstance(node, Literal):
            if isinstance(node.value, str):
                return node.value
            return format_value(node.value, node.type)
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Unary):
            if node.op == "not":
                return self._negated(node.operand)
            return "minus " + self._wrap(node.operand)
        if isinstance(node, Binary):
            return f"{self._wrap(node.left)} {_ARITHMETIC_WORDS[node.op]} {self._wrap(node.right)}"
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Membership):
            verb = "is not one of" if node.negated else "is one of"
            return f"{self._render(node.operand)} {verb} {', '.join(str(v) for v in node.values)}"
        if isinstance(node, BoolOp):
            text = f" {node.op} ".join(self._wrap(op) for op in node.operands)
            return text
        if isinstance(node, Quantifier):
            inner = Renderer(self.labels, None, self.params)._render(node.predicate)
            collection = self._render(node.collection)
            if node.function == "any_of":
                return f"any of {collection} has {inner}"
            return f"the number of {collection} with {inner}"
        if isinstance(node, Call):
            return self._call(node)
        return "?"

    def _wrap(self, node: Node) -> str:
        text = self._render(node)
        if isinstance(node, BoolOp | Binary):
            return f"({text})"
        return text

    def _negated(self, operand: Node) -> str:
        if isinstance(operand, Name) and operand.type is Type.BOOL:
            if self.values is not None and operand.path in self.values:
                return self._name(operand)  # "label: no" already says why the negation holds
            return f"it is not true that {self.labels.of(operand)}"
        return "not " + self._wrap(operand)

    def _name(self, node: Name) -> str:
        label = self.labels.of(node)
        if node.kind == "item":
            return label
        if node.type is Type.BOOL:
            if self.values is not None and node.path in self.values:
                return f"{label}: {self.show(node.path, self.values[node.path], Type.BOOL)}"
            return label
        if self.values is not None and node.path in self.values:
            return f"{label} ({self.show(node.path, self.values[node.path], node.type)})"
        if node.kind == "param" and node.key in self.params:
            return f"{label} ({format_value(self.params[node.key], node.type)})"
        return label

    def _compare(self, node: Compare) -> str:
        left, right = node.left, node.right
        if right.type is Type.BOOL and isinstance(right, Literal) and node.op in ("==", "!="):
            positive = (right.value is True) == (node.op == "==")
            return self._render(left) if positive else self._negated(left)
        words_ = _COMPARE_WORDS[node.op]
        if node.left.type is Type.DATE and node.op in (">", ">=", "<", "<="):
            words_ = {
                ">": "is after",
                ">=": "is on or after",
                "<": "is before",
                "<=": "is on or before",
            }[node.op]
        return f"{self._side(left, right)} {words_} {self._side(right, left)}"

    def _side(self, node: Node, other: Node) -> str:
        """One side of a comparison; a bare number compared with money reads as money ($500)."""
        if (
            isinstance(node, Literal)
            and other.type is Type.MONEY
            and isinstance(node.value, int | Decimal)
            and not isinstance(node.value, bool)
            and node.value != 0
        ):
            return format_money(Decimal(node.value))
        return self._render(node)

    def _call(self, node: Call) -> str:
        args = [self._render(a) for a in node.args]
        function = node.function
        if function == "taken":
            return f"{words(args[0])} has been done"
        if function == "date_taken":
            return f"the date {words(args[0])} was done"
        if function == "days_since_taken":
            return f"the days since {words(args[0])}"
        if function == "min":
            return "the smaller of " + " and ".join(args)
        if function == "max":
            return "the larger of " + " and ".join(args)
        if function == "abs":
            return f"the size of {args[0]}"
        if function == "days_between":
            return f"the days from {args[0]} to {args[1]}"
        if function == "days_since":
            return f"the days since {args[0]}"
        return f"{function}({', '.join(args)})"


_SLOT = "\x00"


class Template:
    """A sentence rendered once per expression with slots for the case's values; filling it
    is much cheaper than rendering (explanations are built for every case of a caseload)."""

    def __init__(self, parts: list[str], slots: list[tuple[str, Type]]) -> None:
        self.parts = parts
        self.slots = slots

    def fill(self, values: Mapping[str, Any]) -> str:
        pieces = [self.parts[0]]
        for (path, type_), text in zip(self.slots, self.parts[1:], strict=True):
            pieces.append(format_value(values.get(path), type_))
            pieces.append(text)
        return "".join(pieces)


class _SlotRenderer(Renderer):
    def __init__(self, labels: Labels, paths: list[str]) -> None:
        super().__init__(labels, dict.fromkeys(paths))
        self.slots: list[tuple[str, Type]] = []

    def show(self, path: str, value: Any, type_: Type) -> str:
        self.slots.append((path, type_))
        return _SLOT


def template(node: Node, labels: Labels, paths: list[str]) -> Template:
    """Render `node` once, leaving a slot wherever the value of one of `paths` goes."""
    renderer = _SlotRenderer(labels, paths)
    text = renderer.render(node)
    return Template(text.split(_SLOT), renderer.slots)
