"""Inline generated expressions (cspolicy.expressions.codegen) give exactly what the closures give:
the same value, or the same failure (division by zero, a parameter without a value in force)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cspolicy.engine.snapshot import FIELDS, CaseSnapshot
from cspolicy.expressions import Context, Scope, Type, check, codegen, compile_expression
from cspolicy.expressions.closures import DivisionByZero
from cspolicy.expressions.nodes import Binary, Conditional, Literal, Membership, Missing, Name, Node, Unary
from cspolicy.expressions.parser import parse_expression

from strategies import TYPES, ExpressionScope, snapshot, typed_expression

VALUES = {
    "money": Decimal("500.00"),
    "int": 30,
    "number": Decimal("0"),  # a zero divisor, so divisions by a parameter fail
    "date": dt.date(2024, 1, 1),
    "bool": True,
}


def _generated(node: Node) -> Any:
    """`node` as one generated function of (context, facts, params, derive)."""
    source = codegen.Source()
    context, facts, params, derive = (source.name("a") for _ in range(4))
    inline = codegen.Expressions(source, facts, params, derive, context)
    source.line(0, "def {}({}, {}, {}, {}):", source.name("r"), context, facts, params, derive)
    source.line(1, "return " + inline(node))
    return source.build("_r0")


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        value = run()
    except DivisionByZero as error:
        return "division by zero", id(error.node)
    except KeyError as error:
        return "no value", error.args
    return "value", (type(value), value)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    params=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(sorted(TYPES)), max_size=3),
    type_=st.sampled_from(sorted(TYPES)),
    data=st.data(),
    case=snapshot(),
    missing=st.sampled_from(["", "a", "b", "c"]),
)
def test_generated_expressions_agree_with_the_closures(
    params: dict[str, str], type_: str, data: st.DataObject, case: dict[str, Any], missing: str
) -> None:
    text = data.draw(typed_expression(type_, ExpressionScope(params), 3))
    node = parse_expression(text)
    check(node, Scope(FIELDS, {name: TYPES[t] for name, t in params.items()}))
    # One parameter may have no value in force: reading it fails, as it does in a case.
    values = {name: VALUES[t] for name, t in params.items() if name != missing}
    context = Context(CaseSnapshot.parse(case).facts(), values, {})
    generated = _generated(node)
    expected = _outcome(lambda: compile_expression(node)(context))
    assert _outcome(lambda: generated(context, context.facts, context.params, context.derive)) == expected


def test_each_inline_node_type_agrees_including_none_and_failures() -> None:
    """Arithmetic, division, negation, membership, missing and conditional, each with None and
    failing operands: both operands are computed before either is tested, as the closures do."""
    x, y, d = Name(path="x", kind="field"), Name(path="y", kind="field"), Name(path="d", kind="param")
    nodes: list[Node] = [
        *(Binary(op=op, left=x, right=y) for op in "+-*/"),
        Binary(op="+", left=x, right=Binary(op="/", left=y, right=Literal(value=0))),
        Binary(op="*", left=Literal(value=None), right=d),  # None on the left, failure on the right
        Unary(op="-", operand=x),
        Membership(operand=x, values=(Decimal(2), 3)),
        Membership(operand=x, values=(Decimal(2),), negated=True),
        Missing(operand=x),
        Missing(operand=y, negated=True),
        Conditional(test=Name(path="flag", kind="field"), then=x, otherwise=Binary(op="/", left=x, right=y)),
    ]
    for node in nodes:
        generated = _generated(node)
        for a in (Decimal(2), 3, None, Decimal("-1.5")):
            for b in (Decimal(0), 2, None):
                for flag in (True, False, None):
                    for params in ({}, {"d": Decimal(4)}):
                        case = Context({"x": a, "y": b, "flag": flag}, params, {})
                        expected = _outcome(lambda n=node, c=case: compile_expression(n)(c))
                        found = _outcome(lambda g=generated, c=case: g(c, c.facts, c.params, c.derive))
                        assert found == expected, (node, a, b, flag, params)


CALLS_AND_LISTS = [
    "min(arrears.total, arrears.family_owed, params.a)",
    "max(order.monthly_amount, arrears.state_owed)",
    "abs(arrears.family_owed - arrears.state_owed)",
    "days_between(order.established_on, as_of)",
    "days_since(paying_parent.incarcerated_since)",
    "same_month(payments.last_date, as_of)",
    "add_days(paying_parent.expected_release, params.n)",
    "add_days(as_of, params.n)",
    "coalesce(paying_parent.expected_release, paying_parent.incarcerated_since, as_of)",
    "coalesce(arrears.delinquent_since, paying_parent.incarcerated_since)",
    'any_of(payments, amount > params.a and applied_to == "current")',
    "count_of(payments, date <= as_of and same_month(date, as_of))",
    'any_of(paying_parent.licenses, type == "driver" and status != "active")',
    "sum_of(payments, amount, date <= as_of and amount / params.z > 1)",
    "sum_of(payments, amount)",
    "max_of(payments, date, date <= add_days(as_of, params.n))",
    "min_of(payments, amount, amount >= params.a)",
    'count_of(enforcement, days_since_taken("docket_lien") > 1)',  # reads the history: a closure
]


def _variants(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The case as it is, with its optional facts missing, and with a payment lacking an amount."""
    missing = dict(facts)
    for path in (
        "paying_parent.incarcerated_since",
        "paying_parent.expected_release",
        "arrears.delinquent_since",
    ):
        missing[path] = None
    odd = dict(facts)
    odd["payments"] = [
        *facts["payments"],
        {"date": None, "amount": None, "applied_to": "current", "source": None},
    ]
    return [facts, missing, odd]


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=snapshot(), days=st.sampled_from([0, 45, -400, 3_000_000]))
def test_calls_and_list_functions_agree_with_the_closures(case: dict[str, Any], days: int) -> None:
    """Every whitelisted function inline (or, reading the history, its closure), on the case, on
    the case with missing facts and items, with a zero divisor and a date off the calendar."""
    scope = Scope(FIELDS, {"a": Type.MONEY, "n": Type.INTEGER, "z": Type.MONEY})
    params = {"a": Decimal("100.00"), "n": days, "z": Decimal("0")}
    for text in CALLS_AND_LISTS:
        node = parse_expression(text)
        check(node, scope)
        generated = _generated(node)
        for facts in _variants(CaseSnapshot.parse(case).facts()):
            context = Context(facts, params, {})
            expected = _outcome(lambda n=node, c=context: compile_expression(n)(c))
            found = _outcome(lambda g=generated, c=context: g(c, c.facts, c.params, c.derive))
            assert found == expected, text
