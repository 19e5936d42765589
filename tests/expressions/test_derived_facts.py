"""The expression language can say what `snapshot_facts` computes in Python (issue 14).

The derived facts of the v1 case snapshot are written here as expressions, evaluated with the
reference closures and with the vectorized compiler on random snapshots (never paid, payments
after as_of, payments on month boundaries, nothing owed), and compared with `snapshot_facts`.
The one intended difference: a case that was never paid has no `payments.days_since_last`
(None), where the Python facts use a sentinel.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from cspolicy.caseload.batch import snapshot_table
from cspolicy.engine.snapshot import FIELDS, CaseSnapshot, snapshot_facts
from cspolicy.expressions import Context, Renderer, Scope, check, compile_expression, parse_expression
from cspolicy.expressions.closures import Fn
from cspolicy.expressions.nodes import Node
from cspolicy.expressions.render import Labels
from cspolicy.expressions.vectorized import VectorCompiler

# The derived facts of schema child-support/v1, in dependency order.
DERIVED = {
    "arrears.total": "arrears.family_owed + arrears.state_owed",
    "payments.last_date": "max_of(payments, date, date <= as_of)",
    "payments.days_since_last": "days_between(payments.last_date, as_of)",
    "payments.to_family_arrears_in_period": (
        'sum_of(payments, amount, applied_to == "family_arrears" and date <= as_of and same_month(date, as_of))'
    ),
    "arrears.delinquent_since": (
        "None if arrears.total <= 0 else"
        " (order.established_on if payments.last_date == None"
        " else max(add_days(payments.last_date, 1), order.established_on))"
    ),
}
# The same delinquency start written with coalesce (max() of a missing value is missing).
DELINQUENT_COALESCE = (
    "None if arrears.total <= 0 else"
    " max(coalesce(add_days(payments.last_date, 1), order.established_on), order.established_on)"
)
DERIVED_PATHS = set(DERIVED)


def compile_derived() -> tuple[dict[str, Node], dict[str, Fn]]:
    fields = {path: spec for path, spec in FIELDS.items() if path not in DERIVED_PATHS}
    scope = Scope(fields)
    nodes: dict[str, Node] = {}
    for name, text in {**DERIVED, "delinquent_coalesce": DELINQUENT_COALESCE}.items():
        node = parse_expression(text)
        scope.derived[name] = check(node, scope)
        nodes[name] = node
    return nodes, {name: compile_expression(node) for name, node in nodes.items()}


NODES, FNS = compile_derived()


def test_the_derived_facts_have_the_types_of_the_snapshot_fields() -> None:
    for name in DERIVED:
        assert NODES[name].type is FIELDS[name].type, name
    assert NODES["delinquent_coalesce"].type is FIELDS["arrears.delinquent_since"].type


def random_snapshot(rng: random.Random, number: int) -> CaseSnapshot:
    """A snapshot whose payments crowd the month boundaries and the snapshot date."""
    as_of = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 800))
    if rng.random() < 0.2:
        as_of = as_of.replace(day=1)  # the first of a month: last month's payments are not "this month"
    elif rng.random() < 0.2:
        as_of = (as_of.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    payments = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 6])):
        offset = rng.choice([-40, -31, -30, -1, 0, 0, 1, 2, 31, rng.randrange(-400, 60)])
        if rng.random() < 0.3:  # around the first of the snapshot's month
            offset = (as_of.replace(day=1) - as_of).days + rng.choice([-1, 0, 1])
        payments.append(
            {
                "date": as_of + dt.timedelta(days=offset),
                "amount": Decimal(rng.choice([0, 1, 2500, 12345, rng.randrange(0, 10**7)])) / 100,
                "applied_to": rng.choice(["current", "family_arrears", "state_arrears"]),
                "source": rng.choice(["withholding", "voluntary", "intercept"]),
            }
        )
    owed = [Decimal(0), Decimal("0.01"), Decimal("150.00"), Decimal(rng.randrange(0, 10**8)) / 100]
    established = as_of - dt.timedelta(days=rng.choice([0, 1, 10, 400, 3000]))
    if rng.random() < 0.1:
        established = as_of + dt.timedelta(days=5)  # an order dated after a payment
    return CaseSnapshot.parse(
        {
            "case_id": f"C{number}",
            "as_of": as_of,
            "jurisdiction": {"state": "WI"},
            "order": {"established_on": established, "monthly_amount": "100"},
            "arrears": {"family_owed": rng.choice(owed), "state_owed": rng.choice(owed)},
            "payments": payments,
        }
    )


def snapshots() -> list[CaseSnapshot]:
    rng = random.Random(14)
    return [random_snapshot(rng, number) for number in range(1500)]


SNAPSHOTS = snapshots()


def reference_values(snapshot: CaseSnapshot) -> dict[str, Any]:
    facts = {k: v for k, v in snapshot_facts(snapshot).items() if k not in DERIVED_PATHS}
    context = Context(facts, {}, FNS)
    return {name: context.derive(name) for name in FNS}


def python_value(facts: dict[str, Any], name: str) -> Any:
    value = facts[name]
    if name == "payments.days_since_last" and facts["payments.last_date"] is None:
        assert value is None  # no sentinel since the schema's derived facts (issue 14)
    return value


def test_the_generated_snapshots_cover_the_edges() -> None:
    facts = [snapshot_facts(s) for s in SNAPSHOTS]
    assert sum(f["payments.last_date"] is None for f in facts) > 100  # never paid (or only later)
    assert sum(any(p["date"] > f["as_of"] for p in f["payments"]) for f in facts) > 100
    assert sum(f["payments.to_family_arrears_in_period"] > 0 for f in facts) > 50
    assert sum(f["arrears.total"] == 0 for f in facts) > 30
    assert sum(f["as_of"].day == 1 for f in facts) > 100


@pytest.mark.parametrize("index", range(0, len(SNAPSHOTS), 100))
def test_closures_reproduce_snapshot_facts(index: int) -> None:
    for snapshot in SNAPSHOTS[index : index + 100]:
        facts = snapshot_facts(snapshot)
        values = reference_values(snapshot)
        for name in DERIVED:
            assert values[name] == python_value(facts, name), (snapshot.case_id, name)
            assert type(values[name]) is type(python_value(facts, name)), (snapshot.case_id, name)
        assert values["delinquent_coalesce"] == facts["arrears.delinquent_since"]


def test_a_never_paid_case_has_no_days_since_the_last_payment() -> None:
    snapshot = CaseSnapshot.parse(
        {
            "case_id": "never",
            "as_of": "2025-03-01",
            "jurisdiction": {"state": "WI"},
            "order": {"established_on": "2024-01-15", "monthly_amount": "100"},
            "arrears": {"family_owed": "900"},
            "payments": [{"date": "2025-03-02", "amount": "10", "applied_to": "family_arrears"}],
        }
    )
    values = reference_values(snapshot)
    assert values["payments.last_date"] is None
    assert values["payments.days_since_last"] is None
    assert values["payments.to_family_arrears_in_period"] == Decimal(0)
    assert values["arrears.delinquent_since"] == dt.date(2024, 1, 15)
    text = Renderer(Labels()).render(NODES["payments.last_date"])
    assert (
        text == "the latest payment date among payments where payment date is on or before the snapshot date"
    )


def test_the_vectorized_compiler_reproduces_snapshot_facts() -> None:
    compiler = VectorCompiler(Renderer(Labels()), {})
    frame = snapshot_table(SNAPSHOTS).lazy()
    for name, node in NODES.items():
        vector = compiler.compile(node)
        failed = pl.any_horizontal([c for c, _ in vector.errors]) if vector.errors else pl.lit(False)
        frame = frame.with_columns(
            vector.value.alias(f"derived.{name}"),
            pl.lit(None, dtype=pl.String).alias(f"derived_error.{name}"),
            failed.fill_null(False).alias(f"failed.{name}"),
        )
        compiler.derived_scales[name] = vector.scale
    rows = frame.collect().to_dicts()
    for snapshot, row in zip(SNAPSHOTS, rows, strict=True):
        facts = snapshot_facts(snapshot)
        for name in DERIVED:
            assert row[f"derived.{name}"] == python_value(facts, name), (snapshot.case_id, name)
            assert row[f"failed.{name}"] is False
        assert row["derived.delinquent_coalesce"] == facts["arrears.delinquent_since"]


def test_the_vectorized_columns_have_the_reference_types() -> None:
    compiler = VectorCompiler(Renderer(Labels()), {})
    frame = snapshot_table(SNAPSHOTS[:3]).lazy()
    for name, node in NODES.items():
        vector = compiler.compile(node)
        frame = frame.with_columns(
            vector.value.alias(f"derived.{name}"),
            pl.lit(None, dtype=pl.String).alias(f"derived_error.{name}"),
        )
        compiler.derived_scales[name] = vector.scale
    schema = frame.collect_schema()
    assert schema["derived.payments.last_date"] == pl.Date
    assert schema["derived.payments.days_since_last"] == pl.Int64
    assert schema["derived.payments.to_family_arrears_in_period"] == pl.Decimal(38, 2)
    assert schema["derived.arrears.delinquent_since"] == pl.Date
