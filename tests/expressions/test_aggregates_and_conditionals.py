"""List aggregates, conditional expressions, missing-value tests, calendar functions and keyed
parameters: syntax, types, reference semantics, wording, and keyed parameters in policies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cspolicy import Code, PolicyError, load_policy
from cspolicy.diagnostics import EvaluationError
from cspolicy.engine.snapshot import FIELDS
from cspolicy.expressions import (
    FUNCTIONS,
    CheckError,
    Context,
    ExpressionFailure,
    MissingKey,
    Renderer,
    Scope,
    Type,
    check,
    compile_expression,
    parse_expression,
)
from cspolicy.expressions.nodes import Aggregate, Conditional, Lookup, Missing
from cspolicy.expressions.render import format_value

from helpers import HEADER, write_policy

PARAMS = {"limit": Type.MONEY, "grace": Type.INTEGER, "threshold": Type.MONEY}
KEYED = frozenset({"limit"})
DAY = dt.date(2025, 3, 15)


def payment(day: str, amount: str | None, applied_to: str = "family_arrears") -> dict[str, Any]:
    return {
        "date": dt.date.fromisoformat(day),
        "amount": None if amount is None else Decimal(amount),
        "applied_to": applied_to,
        "source": "voluntary",
    }


FACTS: dict[str, Any] = {
    "as_of": DAY,
    "arrears.total": Decimal("1200.50"),
    "order.established_on": dt.date(2020, 1, 1),
    "jurisdiction.county": "Dane",
    "payments.last_date": None,
    "paying_parent.expected_release": None,
    "payments": [
        payment("2025-03-01", "100.25"),
        payment("2025-02-28", "50", "current"),
        payment("2025-04-01", "999"),  # after as_of
        payment("2025-03-10", None),  # no amount: skipped
    ],
    "paying_parent.warrants": [],
}


def typed(text: str) -> tuple[Any, Type]:
    node = parse_expression(text)
    return node, check(node, Scope(FIELDS, PARAMS, keyed=KEYED))


def run(text: str, facts: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> Any:
    node, _ = typed(text)
    values = {"limit": {"Dane": Decimal("500"), "Iron": Decimal("75.5")}, "grace": 30, "threshold": 100}
    return compile_expression(node)(Context(facts or FACTS, params or values, {}))


def render(text: str) -> str:
    return Renderer().render(typed(text)[0])


# -- list aggregates ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_of(payments, date)", dt.date(2025, 4, 1)),
        ("max_of(payments, date, date <= as_of)", dt.date(2025, 3, 10)),
        ("min_of(payments, date)", dt.date(2025, 2, 28)),
        ("max_of(payments, amount)", Decimal("999")),
        ("min_of(payments, amount)", Decimal("50")),
        ("sum_of(payments, amount)", Decimal("1149.25")),
        ("sum_of(payments, amount, date <= as_of)", Decimal("150.25")),
        ('sum_of(payments, amount, applied_to == "family_arrears" and date <= as_of)', Decimal("100.25")),
        ("sum_of(payments, amount, amount > params.threshold)", Decimal("100.25") + Decimal("999")),
        ("max_of(payments, date, amount > 10000)", None),  # nothing matches
        ("sum_of(payments, amount, amount > 10000)", Decimal(0)),  # a sum over nothing is 0
        ("min_of(paying_parent.warrants, issued_on)", None),  # empty list
        ("max_of(payments, amount, paying_parent.expected_release > date)", None),  # unknown: no item
    ],
)
def test_aggregates(text: str, expected: Any) -> None:
    value = run(text)
    assert value == expected
    assert type(value) is type(expected)


def test_aggregate_types() -> None:
    assert typed("max_of(payments, date)")[1] is Type.DATE
    assert typed("min_of(payments, amount)")[1] is Type.MONEY
    assert typed("sum_of(payments, amount, date <= as_of)")[1] is Type.MONEY
    node, _ = typed("sum_of(payments, amount, date <= as_of)")
    assert isinstance(node, Aggregate) and node.field.kind == "item"
    assert [n.path for n in node.walk() if getattr(n, "kind", "") == "field"] == ["payments", "as_of"]


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("max_of(payments, applied_to)", Code.TYPE_MISMATCH, "works on dates, numbers or money"),
        ("sum_of(payments, date)", Code.TYPE_MISMATCH, "works on numbers or money"),
        ("sum_of(payments, amout)", Code.UNKNOWN_NAME, "did you mean 'amount'?"),
        ("sum_of(arrears.total, amount)", Code.BAD_ARGUMENTS, "needs a list"),
        ("sum_of(payments, amount, amount)", Code.TYPE_MISMATCH, "needs yes/no conditions"),
        ("(arrears.total if as_of else 0) > 1", Code.TYPE_MISMATCH, "must be yes/no"),
        ("(arrears.total if True else as_of) > 1", Code.TYPE_MISMATCH, "one type"),
        ("arrears.total > None", Code.TYPE_MISMATCH, "x == None"),
        ("params.limit > 1", Code.TYPE_MISMATCH, "is a table"),
        ("params.grace[jurisdiction.county] > 1", Code.TYPE_MISMATCH, "not a table"),
        ("params.limit[arrears.total] > 1", Code.TYPE_MISMATCH, "must be text"),
        ("params.limt[jurisdiction.county] > 1", Code.UNKNOWN_PARAMETER, "did you mean 'params.limit'?"),
        ("add_days(as_of, 1.5) > as_of", Code.BAD_ARGUMENTS, "whole number of days"),
        ("same_month(as_of, 1)", Code.BAD_ARGUMENTS, "two dates"),
        ("coalesce(as_of, arrears.total) > 1", Code.TYPE_MISMATCH, "one type"),
    ],
)
def test_type_errors_name_the_problem(text: str, code: Code, message: str) -> None:
    with pytest.raises(CheckError) as caught:
        typed(text)
    assert caught.value.code is code
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_of(payments, 1)", "must be the name of an item field"),
        ("max_of(payments, payments.amount)", "must be the name of an item field"),
        ("sum_of(payments)", "takes a list, an item field and optionally a condition"),
        ("sum_of(payments, amount, True, False)", "takes a list, an item field and optionally a condition"),
        ("any_of(payments, sum_of(payments, amount) > 0)", "cannot be used inside"),
    ],
)
def test_aggregate_syntax_errors(text: str, message: str) -> None:
    from cspolicy.expressions import ExpressionSyntaxError

    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression(text)
    assert message in caught.value.message


# -- conditionals, None tests, calendar functions ----------------------------------------------
def test_conditional_is_kleene_and_lazy() -> None:
    assert run("arrears.total if arrears.total > 1000 else 0") == Decimal("1200.50")
    assert run("arrears.total if arrears.total > 5000 else 0") == 0
    assert run("1 if paying_parent.expected_release > as_of else 2") is None  # unknown condition
    assert run("None if arrears.total > 0 else as_of") is None
    node, type_ = typed("None if arrears.total > 0 else as_of")
    assert isinstance(node, Conditional) and type_ is Type.DATE
    # only the chosen branch runs: the other one would divide by zero
    assert run("1 if arrears.total > 0 else arrears.total / 0") == 1


def test_missing_value_tests() -> None:
    node, type_ = typed("payments.last_date == None")
    assert isinstance(node, Missing) and type_ is Type.BOOL
    assert run("payments.last_date == None") is True
    assert run("None == payments.last_date") is True
    assert run("payments.last_date != None") is False
    assert run("arrears.total != None") is True
    assert run("payments.last_date == None and arrears.total > 0") is True


def test_calendar_functions() -> None:
    assert run("add_days(as_of, 1)") == dt.date(2025, 3, 16)
    assert run("add_days(as_of, -15)") == dt.date(2025, 2, 28)
    assert run("add_days(payments.last_date, 1)") is None
    assert run("add_days(as_of, params.grace)") == dt.date(2025, 4, 14)
    assert run('same_month(as_of, date("2025-03-01"))') is True
    assert run('same_month(as_of, date("2025-02-28"))') is False
    assert run('same_month(as_of, date("2024-03-15"))') is False
    assert run("same_month(as_of, payments.last_date)") is None
    assert run("coalesce(payments.last_date, order.established_on)") == dt.date(2020, 1, 1)
    assert run("coalesce(paying_parent.expected_release, payments.last_date)") is None
    assert run("coalesce(as_of, add_days(as_of, 999999999999999))") == DAY  # stops at the first set
    with pytest.raises(ExpressionFailure) as caught:
        run("add_days(as_of, 999999999999999)")
    assert caught.value.code is Code.EVALUATION_FAILED


# -- keyed parameters --------------------------------------------------------------------------
def test_keyed_parameter_lookup() -> None:
    node, type_ = typed("params.limit[jurisdiction.county]")
    assert isinstance(node, Lookup) and type_ is Type.MONEY
    assert run("params.limit[jurisdiction.county]") == Decimal("500")
    assert run('params.limit["Iron"]') == Decimal("75.5")
    assert run("params.limit[jurisdiction.county]", {**FACTS, "jurisdiction.county": None}) is None
    with pytest.raises(MissingKey) as caught:
        run("params.limit[jurisdiction.county]", {**FACTS, "jurisdiction.county": "Milwaukee"})
    assert caught.value.code is Code.MISSING_PARAMETER_KEY
    assert caught.value.message == "parameter 'limit' has no entry for 'Milwaukee'"
    with pytest.raises(KeyError):  # no value in force at all: CSP504, as for any parameter
        run("params.limit[jurisdiction.county]", params={"grace": 1})


# -- words ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "max_of(payments, date, date <= as_of)",
            "the latest payment date among payments where payment date is on or before the snapshot date",
        ),
        ("min_of(payments, amount)", "the smallest payment amount among payments"),
        (
            "min_of(paying_parent.warrants, issued_on)",
            "the earliest date the warrant was issued among warrants",
        ),
        (
            'sum_of(payments, amount, applied_to == "family_arrears")',
            "the total payment amount of payments where what the payment paid is family_arrears",
        ),
        (
            "arrears.total if arrears.total > 100 else 0",
            "past-due support if past-due support is more than $100, otherwise 0",
        ),
        (
            "None if arrears.total <= 0 else as_of",
            "nothing if past-due support is at most 0, otherwise the snapshot date",
        ),
        ("payments.last_date == None", "no payment has ever been received"),  # the schema's `absent` words
        ("payments.last_date != None", "the date of the last payment is known"),
        ("add_days(payments.last_date, 1)", "the day after the date of the last payment"),
        ("add_days(as_of, -30)", "30 days before the snapshot date"),
        ("add_days(as_of, params.grace)", "the grace days after the snapshot date"),
        (
            "same_month(as_of, order.established_on)",
            "the snapshot date is in the same month as the date of the support order",
        ),
        (
            "coalesce(payments.last_date, order.established_on)",
            "the date of the last payment, or the date of the support order when that is not known",
        ),
        ("params.limit[jurisdiction.county]", "the limit for the county"),
    ],
)
def test_plain_language(text: str, words: str) -> None:
    rendered = render(text)
    assert rendered == words
    for code_like in ("[", "]", "==", "!=", "_of", "None", "params."):
        assert code_like not in rendered


def test_keyed_parameter_reads_with_the_case_key() -> None:
    node, _ = typed("params.limit[jurisdiction.county] > arrears.total")
    text = Renderer(values={"jurisdiction.county": "Dane", "arrears.total": Decimal("1200.50")}).render(node)
    assert text == "the limit for the county (Dane) is more than past-due support ($1,200.50)"
    table = {"Dane": Decimal("500"), "Iron": Decimal("75.50")}
    assert format_value(table, Type.MONEY) == "Dane: $500; Iron: $75.50"


def test_every_new_function_is_documented() -> None:
    for name in ("max_of", "min_of", "sum_of", "add_days", "same_month", "coalesce"):
        assert len(FUNCTIONS[name]) > 20
    assert "0 when no item matches" in FUNCTIONS["sum_of"]


# -- keyed parameters in a policy ----------------------------------------------------------------
KEYED_POLICY = (
    HEADER
    + """\
parameters:
  county_limit:
    description: Past-due support above which a county refers the case
    unit: USD
    label: county referral limit
    values:
      - {from: 2020-01-01, value: {Dane: 500, Iron: 75.50}}
      - {from: 2025-01-01, value: {Dane: 600, Iron: 80, Milwaukee: 1000}}
    cite: [src]
rules:
  - id: refer
    kind: threshold
    title: Refer
    summary: Refer the case.
    when: arrears.total > params.county_limit[jurisdiction.county]
    action: refer_state_delinquency_collection
    cite: [{source: src}]
"""
)


def snapshot(county: str | None, as_of: str = "2025-03-01", owed: str = "700") -> dict[str, Any]:
    jurisdiction: dict[str, Any] = {"state": "WI"}
    if county is not None:
        jurisdiction["county"] = county
    return {
        "case_id": "K1",
        "as_of": as_of,
        "jurisdiction": jurisdiction,
        "order": {"established_on": "2020-01-01", "monthly_amount": "100"},
        "arrears": {"family_owed": owed},
    }


def test_a_keyed_parameter_in_a_policy(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, KEYED_POLICY))
    parameter = policy.compiled.parameters["county_limit"]
    assert parameter.keyed and parameter.type is Type.MONEY
    assert parameter.value_on(dt.date(2025, 2, 1)) == {"Dane": 600, "Iron": 80, "Milwaukee": 1000}
    assert [a.action for a in policy.evaluate(snapshot("Dane")).actions] == [
        "refer_state_delinquency_collection"
    ]
    assert policy.evaluate(snapshot("Dane", owed="550")).actions == []
    assert [a.action for a in policy.evaluate(snapshot("Dane", "2024-03-01", "550")).actions] == [
        "refer_state_delinquency_collection"
    ]
    assert policy.evaluate(snapshot(None)).actions == []  # no county: unknown, does not apply
    with pytest.raises(EvaluationError) as caught:
        policy.evaluate(snapshot("Milwaukee", "2024-06-01"))
    problem = caught.value.problem
    assert problem.code is Code.MISSING_PARAMETER_KEY
    assert "parameter 'county_limit' has no entry for 'Milwaukee'" in problem.message
    assert "rule 'refer'" in problem.message


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            "[{from: 2020-01-01, value: {Dane: 500}}, {from: 2025-01-01, value: 600}]",
            "every dated value must be a table",
        ),
        ("[{from: 2020-01-01, value: {Dane: true}}]", "value must be a number for unit USD"),
    ],
)
def test_keyed_parameter_values_are_checked(tmp_path: Path, values: str, message: str) -> None:
    text = KEYED_POLICY.replace(
        "      - {from: 2020-01-01, value: {Dane: 500, Iron: 75.50}}\n"
        "      - {from: 2025-01-01, value: {Dane: 600, Iron: 80, Milwaukee: 1000}}\n",
        "",
    ).replace("    values:\n", f"    values: {values}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(write_policy(tmp_path, text))
    assert any(message in p.message for p in caught.value.problems), caught.value


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("412.5", "$412.50"),  # cents always two digits
        ("412.0", "$412.00"),  # what a float 412.0 from a Python caller becomes
        ("412", "$412"),  # a whole amount shows no cents
        ("412.000", "$412.00"),
        ("0.125", "$0.125"),  # precision beyond a cent is never hidden
        ("-3.5", "-$3.50"),
        ("-0.0", "$0.00"),
        ("1234567.1", "$1,234,567.10"),
        ("5E-1", "$0.50"),
        ("1.50E+3", "$1,500"),
    ],
)
def test_money_is_written_with_two_digit_cents(amount: str, shown: str) -> None:
    assert format_value(Decimal(amount), Type.MONEY) == shown
