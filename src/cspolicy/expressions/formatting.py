"""How values read in sentences: money as $1,234.56, dates ISO, numbers without trailing zeros."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cspolicy.expressions.types import Type


def format_value(value: Any, type_: Type) -> str:
    """A value as a reader sees it: $3,120.00, 2025-03-01, yes/no, 'not set'; a list by its size."""
    if value is None:
        return "not set"
    # The common exact types first (what the general checks below would say for them).
    cls = value.__class__
    if cls is Decimal:
        return format_money(value) if type_ is Type.MONEY else format_decimal(value)
    if cls is bool:
        return "yes" if value else "no"
    if cls is dt.date:
        return value.isoformat()  # type: ignore[no-any-return]
    if cls is str:
        return value  # type: ignore[no-any-return]
    if isinstance(value, Mapping):  # a keyed parameter's table
        return "; ".join(f"{key}: {format_value(entry, type_)}" for key, entry in value.items())
    if isinstance(value, list | tuple):  # never a repr: a list is described by its size
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
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


_CENT = Decimal("0.01")


def format_money(amount: Decimal) -> str:
    """$1,234.50 — keeps the amount's own precision (nothing is hidden: $0.125 stays), except that
    cents are written with two digits ($412.5 → $412.50, as a float 412.0 passed by a Python
    caller arrives: $412.00); whole amounts show no cents ($2,500)."""
    text = str(amount)
    if "." in text and "E" not in text:  # plain notation: its decimal places are what follows the point
        places = len(text) - text.index(".") - 1
        places = 2 if places < 2 or amount == amount.quantize(_CENT) else places
        if text[0] == "-":
            return f"-${-amount:,.{places}f}" if amount else f"${-amount:,.{places}f}"
        return f"${amount:,.{places}f}"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    exponent = amount.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places == 1 or (places > 2 and amount == amount.quantize(_CENT)):
        places = 2
    return f"{sign}${amount:,.{places}f}"


def format_decimal(value: Decimal) -> str:
    """A decimal without exponent notation."""
    text = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    return text
