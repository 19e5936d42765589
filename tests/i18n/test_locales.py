"""Locale formatting: cspolicy's own dates and amounts equal Babel's en_US / es_US formatting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cspolicy.expressions.locales import LOCALES, long_date, money, number
from cspolicy.expressions.spanish import format_value_es
from cspolicy.expressions.types import Type

babel_dates = pytest.importorskip("babel.dates")
babel_numbers = pytest.importorskip("babel.numbers")


@pytest.mark.parametrize("lang", list(LOCALES))
def test_long_dates_equal_babel_for_every_day_of_three_years(lang: str) -> None:
    day = dt.date(2024, 1, 1)  # 2024 is a leap year
    while day < dt.date(2027, 1, 1):
        assert long_date(day, lang) == babel_dates.format_date(day, format="long", locale=LOCALES[lang])
        day += dt.timedelta(days=1)


def test_spanish_dates_are_written_out() -> None:
    assert long_date(dt.date(2026, 12, 3), "es") == "3 de diciembre de 2026"
    assert long_date(dt.date(2026, 12, 3), "en") == "December 3, 2026"
    assert format_value_es(dt.date(2025, 1, 1), Type.DATE) == "1 de enero de 2025"


AMOUNTS = [
    "0",
    "0.004",
    "0.005",
    "1",
    "12.3",
    "999.995",
    "1234.56",
    "-1234.5",
    "-0.01",
    "100000",
    "1234567.891",
    "2500",
    "-20",
]


@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("amount", AMOUNTS)
def test_money_equals_babel_rounded_half_up_to_the_cent(lang: str, amount: str) -> None:
    value = Decimal(amount)
    cents = value.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    expected = babel_numbers.format_currency(cents, "USD", locale=LOCALES[lang])
    assert money(value, lang) == expected


def test_money_rounds_half_up() -> None:
    assert money(Decimal("0.005"), "es") == "$0.01"
    assert money(Decimal("-1234.5"), "es") == "-$1,234.50"
    assert money(3120, "en") == "$3,120.00"


@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("value", [0, 7, 1826, 1234567, Decimal("0.7"), Decimal("12345.5"), Decimal("-2.25")])
def test_numbers_equal_babel(lang: str, value: int | Decimal) -> None:
    assert number(value, lang) == babel_numbers.format_decimal(value, locale=LOCALES[lang])


def test_numbers_keep_the_places_they_were_written_with() -> None:
    # As the English renderer does: a rate written 0.70 in a policy reads 0.70, not 0.7.
    assert number(Decimal("0.70"), "es") == "0.70"
    assert number(Decimal("2500.00"), "es") == "2,500"


def test_spanish_values() -> None:
    assert format_value_es(None, Type.MONEY) == "sin dato"
    assert format_value_es(True, Type.BOOL) == "sí"
    assert format_value_es(False, Type.BOOL) == "no"
    assert format_value_es(Decimal("3120.00"), Type.MONEY) == "$3,120.00"
    assert format_value_es(1826, Type.INTEGER) == "1,826"
    assert format_value_es([1, 2], Type.LIST) == "2 elementos"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="no language 'fr'"):
        long_date(dt.date(2026, 1, 1), "fr")
