"""What the Rete translator asks of expression nodes: which name one value, how each is posted,
and how a construct durable-rules cannot decide is described in the fallback reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from cspolicy.expressions.nodes import Aggregate, Call, Conditional, Literal, Lookup, Name, Node, Quantifier
from cspolicy.expressions.types import Type
from cspolicy.rete.encoding import MAX_POSTED, NotNative


def constant(node: Literal, scale: int) -> Any:
    """A literal as posted: text and yes/no as they are, dates as day numbers, numbers scaled."""
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


AS_OF = Name("as_of", kind="field", type=Type.DATE)


def whole(value: Any) -> bool:
    """A posted constant that is a whole number (not yes/no, text, or an engine expression)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_call(node: Node, function: str) -> bool:
    return isinstance(node, Call) and node.function == function


def code_of(node: Call) -> str:
    first = node.args[0]
    assert isinstance(first, Literal)
    return str(first.value)


def entry_name(node: Lookup) -> str:
    """The posted name of a keyed parameter's entry: `NAME[key.path]`."""
    key = node.key
    if not isinstance(key, Name) or key.kind != "field":
        raise NotNative("a keyed parameter whose key is not a case field")
    return f"{node.param.key}[{key.path}]"


def single(node: Node) -> bool:
    """A value durable-rules can name: a field, parameter, item field, days_since_taken() or
    a keyed parameter's entry for a case field."""
    if isinstance(node, Call):
        return node.function == "days_since_taken"
    if isinstance(node, Lookup):
        return isinstance(node.key, Name) and node.key.kind == "field"
    return isinstance(node, Name) and node.kind != "derived"


def scaled(node: Node) -> bool:
    return any(n.type in (Type.MONEY, Type.NUMBER) for n in node.walk())


def unsupported(node: Node) -> str:
    if isinstance(node, Quantifier | Aggregate):
        return describe(node)
    return f"{describe(node)} has no durable-rules equivalent"


def describe(node: Node) -> str:
    if isinstance(node, Quantifier | Aggregate):
        return f"{node.function}() (durable-rules cannot count or aggregate list items)"
    if isinstance(node, Call):
        return f"{node.function}()"
    if isinstance(node, Conditional):
        return "a conditional expression (x if c else y)"
    if isinstance(node, Lookup):
        return f"a keyed parameter ({node.param.path}[...]; a missing key must raise as in the reference)"
    return type(node).__name__.lower()
