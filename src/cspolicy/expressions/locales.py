"""Amounts and dates for a reader's language: one implementation for explanations and notices.

Written out here rather than read from Babel so the core needs no locale data and the output
never depends on which CLDR release is installed; `tests/i18n/test_locales.py` proves it equals
Babel's `en_US` / `es_US` formatting for every day of several years and a range of amounts.

Money is written the United States way in both languages ("$1,234.56"): the parent lives in
the United States, the agency's letters and statements write amounts that way, and the
`es_US` locale does too. Dates are written out: "December 3, 2026", "3 de diciembre de 2026".
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

LOCALES = {"en": "en_US", "es": "es_US"}
"""The languages cspolicy writes in, and the locale whose conventions each follows."""

_MONTHS = {
    "en": (
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ]
    ),
    "es": (
        [
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ]
    ),
}
_CENT = Decimal("0.01")


def _check(lang: str) -> None:
    if lang not in LOCALES:
        raise ValueError(f"no language {lang!r}; choose one of {', '.join(LOCALES)}")


def long_date(day: dt.date, lang: str) -> str:
    """A date written out: 'December 3, 2026' / '3 de diciembre de 2026'."""
    _check(lang)
    month = _MONTHS[lang][day.month - 1]
    if lang == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{month} {day.day}, {day.year}"


def money(amount: Decimal | int, lang: str) -> str:
    """An amount of dollars rounded half up to the cent: '$1,234.56', '-$20.00' (both languages)."""
    _check(lang)
    cents = Decimal(amount).quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def number(value: int | Decimal, lang: str) -> str:
    """A count or quantity: '1,826', '2.5' (digits grouped by commas, a decimal point; es_US as en_US)."""
    _check(lang)
    if isinstance(value, int):
        return f"{value:,}"
    text = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-') or '0'):,}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"
