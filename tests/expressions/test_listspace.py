"""Item conditions that read the case, vectorized in list space, agree with the reference.

Random conditions over a payment's fields and the case's values (some of them missing) — with
`and`, `or`, `not`, comparisons both ways round, `same_month` and `days_between` — are evaluated
by `any_of`, `count_of`, `max_of`, `min_of` and `sum_of`, with the reference closures case by case
and with the vectorized compiler over the whole table; every value must be identical.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest

from cspolicy.caseload.batch import snapshot_table
from cspolicy.engine.snapshot import FIELDS, CaseSnapshot, snapshot_facts
from cspolicy.expressions import Context, Renderer, Scope, check, compile_expression, parse_expression
from cspolicy.expressions.render import Labels
from cspolicy.expressions.vectorized import VectorCompiler

ATOMS = [
    "date <= as_of",
    "as_of > date",
    "date >= paying_parent.expected_release",  # the release date is often missing
    "paying_parent.incarcerated_since < date",
    "amount > arrears.family_owed",
    "arrears.state_owed <= amount",
    "amount >= 100",
    'applied_to == "family_arrears"',
    'source != "withholding"',
    "same_month(date, as_of)",
    "same_month(paying_parent.expected_release, date)",
    "days_between(date, as_of) <= 31",
    "days_between(paying_parent.expected_release, date) > 0",
    "paying_parent.incarcerated",
    "arrears.family_owed > 500",
]


def condition(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 2 or roll < 0.4:
        return rng.choice(ATOMS)
    if roll < 0.55:
        return f"not ({condition(rng, depth + 1)})"
    op = rng.choice(["and", "or"])
    return f"({condition(rng, depth + 1)} {op} {condition(rng, depth + 1)})"


def expressions(count: int) -> list[str]:
    rng = random.Random(2026)
    wrappers = [
        "any_of(payments, {c})",
        "count_of(payments, {c})",
        "max_of(payments, date, {c})",
        "min_of(payments, amount, {c})",
        "sum_of(payments, amount, {c})",
    ]
    return [rng.choice(wrappers).format(c=condition(rng)) for _ in range(count)]


def snapshot(rng: random.Random, number: int) -> CaseSnapshot:
    as_of = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(0, 200))

    def near() -> str:
        return str(as_of + dt.timedelta(days=rng.choice([-40, -31, -1, 0, 1, 30, rng.randrange(-90, 90)])))

    parent: dict[str, Any] = {"incarcerated": rng.random() < 0.4}
    if rng.random() < 0.5:
        parent["expected_release"] = near()
    if rng.random() < 0.5:
        parent["incarcerated_since"] = near()
    return CaseSnapshot.parse(
        {
            "case_id": f"L{number}",
            "as_of": str(as_of),
            "jurisdiction": {"state": "WI"},
            "order": {"established_on": "2020-01-01", "monthly_amount": "100"},
            "arrears": {
                "family_owed": rng.choice(["0", "100", "500", "731.15"]),
                "state_owed": rng.choice(["0", "100", "99.99"]),
            },
            "paying_parent": parent,
            "payments": [
                {
                    "date": near(),
                    "amount": rng.choice(["0", "99.99", "100", "500", "731.15", "1200"]),
                    "applied_to": rng.choice(["current", "family_arrears", "state_arrears"]),
                    "source": rng.choice(["withholding", "voluntary", "intercept"]),
                }
                for _ in range(rng.choice([0, 1, 2, 4]))
            ],
        }
    )


SNAPSHOTS = [snapshot(random.Random(number), number) for number in range(300)]


@pytest.mark.parametrize("text", expressions(150))
def test_list_space_agrees_with_the_reference(text: str) -> None:
    node = parse_expression(text)
    check(node, Scope(FIELDS))
    fn = compile_expression(node)
    vector = VectorCompiler(Renderer(Labels()), {}).compile(node)
    assert not vector.errors
    values = snapshot_table(SNAPSHOTS).select(vector.value.alias("v")).get_column("v").to_list()
    for case, fast in zip(SNAPSHOTS, values, strict=True):
        expected = fn(Context(snapshot_facts(case), {}, {}))
        if isinstance(expected, Decimal):
            assert fast is not None and Decimal(fast) == expected, case.case_id
        else:
            assert fast == expected, case.case_id
