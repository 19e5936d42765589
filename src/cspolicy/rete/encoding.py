"""How case values are posted to durable-rules: exactly, or not at all.

durable-rules compares numbers as binary floats, so money and rates are posted as whole
millionths (`SCALE`) and dates as day numbers; a value that cannot be posted exactly raises
ValueError, and a condition that cannot be decided exactly raises NotNative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cspolicy.expressions.types import FieldSpec, Type

SCALE_DIGITS = 6  # money and rates are posted as whole millionths: exact integer arithmetic
SCALE = 10**SCALE_DIGITS
MAX_POSTED = 10**15  # |posted integer| bound; with ≤ 4 terms and factors ≤ 1000 sums stay in int64


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


def sanitize(path: str) -> str:
    """A durable-rules property name (dots would mean nesting)."""
    return "".join(ch if ch.isalnum() else "_" for ch in path)


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
