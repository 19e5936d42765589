"""The expression language: parsing without eval, type checking, closures and rendering."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from cspolicy import Code, PolicyError, load_policy
from cspolicy.engine.snapshot import FIELDS
from cspolicy.expressions import (
    CheckError,
    Context,
    ExpressionSyntaxError,
    Renderer,
    Scope,
    Type,
    check,
    compile_expression,
    parse_expression,
)

from helpers import HEADER, write_policy


def compiled(text: str, params: dict[str, Type] | None = None) -> object:
    node = parse_expression(text)
    check(node, Scope(FIELDS, params or {}))
    return compile_expression(node)


def run(text: str, facts: dict[str, object], params: dict[str, object] | None = None) -> object:
    fn = compiled(text, {k: Type.MONEY for k in (params or {})})
    return fn(Context(facts, params or {}, {}))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", "function '__import__' is not allowed"),
        ("arrears.__class__", "names starting with '_' are not allowed ('__class__')"),
        ("(lambda: 1)()", "only the listed functions may be called (no methods)"),
        ("lambda: 1", "lambda functions are not allowed"),
        ("[x for x in payments]", "comprehensions are not allowed; use any_of() or count_of()"),
        ("open('/etc/passwd')", "function 'open' is not allowed"),
        ("getattr(arrears, 'total')", "function 'getattr' is not allowed"),
        ("(x := 1)", "assignment (:=) is not allowed"),
        ("f'{arrears}'", "f-strings are not allowed"),
        ("payments[0]", "subscripts ([...]) are only allowed on a keyed parameter"),
        ("params[0]", "subscripts ([...]) are only allowed on a keyed parameter"),
        ("params.a.b[0]", "subscripts ([...]) are only allowed on a keyed parameter"),
        ("params.a[0:1]", "a keyed parameter takes one key"),
        ("params.a[1, 2]", "a keyed parameter takes one key"),
        ("arrears.total is None", "x == None tests for a missing value"),
        ("10 ** 10 ** 10", "operator ** is not allowed; use + - * /"),
        ("'a'.join(['b'])", "only the listed functions may be called (no methods)"),
    ],
)
def test_forbidden_syntax_is_rejected_before_anything_runs(text: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression(text)
    assert message in caught.value.message


def test_syntax_error_reports_column() -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression("arrears.total >")
    assert caught.value.code is Code.EXPRESSION_SYNTAX
    assert caught.value.column == 15


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            "order.established_on > arrears.total",
            Code.TYPE_MISMATCH,
            "cannot compare a date (order.established_on) with money (arrears.total)",
        ),
        (
            "arrears.totl > 5",
            Code.UNKNOWN_NAME,
            "unknown name 'arrears.totl' (did you mean 'arrears.total'?)",
        ),
        (
            'paying_parent.programs.employment_training == "enroled"',
            Code.UNKNOWN_ENUM_VALUE,
            "'enroled' is not a value of paying_parent.programs.employment_training (did you mean 'enrolled'?);"
            " the values are: none, referred, enrolled",
        ),
        ("arrears.total * arrears.total > 1", Code.TYPE_MISMATCH, "cannot multiply money by money"),
        ('"ab" * 3 == "x"', Code.TYPE_MISMATCH, "cannot use * on text ('ab') and a whole number (3)"),
        (
            "arrears.total and True",
            Code.TYPE_MISMATCH,
            "`and` needs yes/no conditions, not money (arrears.total)",
        ),
        ("days_since(arrears.total) > 3", Code.BAD_ARGUMENTS, "days_since() takes one date"),
        ("any_of(arrears.total, x == 1)", Code.BAD_ARGUMENTS, "any_of() needs a list"),
        (
            'any_of(paying_parent.licenses, kind == "driver")',
            Code.UNKNOWN_NAME,
            "unknown name 'kind'",
        ),
    ],
)
def test_type_checker_rejects_with_clear_messages(text: str, code: Code, message: str) -> None:
    node = parse_expression(text)
    with pytest.raises(CheckError) as caught:
        check(node, Scope(FIELDS, {}))
    assert caught.value.code is code
    assert message in caught.value.message


def test_exact_decimal_arithmetic_on_three_months_behind() -> None:
    facts = {"arrears.total": Decimal("1050.30"), "order.monthly_amount": Decimal("350.10")}
    assert run("arrears.total / order.monthly_amount >= 3", facts) is True
    assert run("arrears.total >= 3 * order.monthly_amount", facts) is True
    assert 1050.30 / 350.10 < 3  # the float trap the Decimal path avoids


def test_decimal_literal_is_exact() -> None:
    assert run("arrears.total * 0.1 == 0.3", {"arrears.total": Decimal("3")}) is True


def test_missing_values_follow_three_valued_logic() -> None:
    facts = {
        "paying_parent.expected_release": None,
        "as_of": dt.date(2025, 1, 1),
        "paying_parent.incarcerated": True,
    }
    assert run("paying_parent.expected_release > as_of", facts) is None
    assert run("paying_parent.expected_release > as_of or paying_parent.incarcerated", facts) is True
    assert run("paying_parent.expected_release > as_of and paying_parent.incarcerated", facts) is None
    assert run("not (paying_parent.expected_release > as_of)", facts) is None


def test_short_circuit_guards_division() -> None:
    facts = {"order.monthly_amount": Decimal("0"), "arrears.total": Decimal("100")}
    assert run("order.monthly_amount > 0 and arrears.total / order.monthly_amount > 1", facts) is False


def test_functions_and_quantifiers() -> None:
    facts = {
        "paying_parent.licenses": [
            {"type": "driver", "status": "suspended"},
            {"type": "recreational", "status": "active"},
        ],
        "as_of": dt.date(2025, 3, 1),
        "order.established_on": dt.date(2025, 1, 30),
        "enforcement": [
            {"action": "send_delinquency_notice", "date": dt.date(2025, 2, 1), "status": "sent"},
            {"action": "docket_lien", "date": dt.date(2025, 2, 10), "status": "cancelled"},
        ],
        "arrears.total": Decimal("10"),
        "order.monthly_amount": Decimal("25"),
    }
    assert run('any_of(paying_parent.licenses, type == "driver" and status == "suspended")', facts) is True
    assert run('count_of(paying_parent.licenses, status == "active") == 1', facts) is True
    assert run("days_since(order.established_on) == 30", facts) is True
    assert run('days_between(order.established_on, date("2025-03-01")) == 30', facts) is True
    assert run('taken("send_delinquency_notice")', facts) is True
    assert run('taken("docket_lien")', facts) is False  # cancelled entries do not count
    assert run('days_since_taken("send_delinquency_notice") == 28', facts) is True
    assert run("max(arrears.total, order.monthly_amount) == 25", facts) is True
    assert run("min(arrears.total, order.monthly_amount) == 10", facts) is True
    assert run("abs(arrears.total - order.monthly_amount) == 15", facts) is True
    assert run('public_assistance in ["current", "former"]', {"public_assistance": "former"}) is True
    assert run('public_assistance not in ["current", "former"]', {"public_assistance": "never"}) is True


def test_renderer_writes_plain_language_with_values() -> None:
    node = parse_expression("arrears.total > params.passport_denial_threshold")
    check(node, Scope(FIELDS, {"passport_denial_threshold": Type.MONEY}))
    values = {"arrears.total": Decimal("3120.00"), "params.passport_denial_threshold": Decimal("2500")}
    assert (
        Renderer(values=values).render(node)
        == "past-due support ($3,120.00) is more than the passport denial threshold ($2,500)"
    )
    assert Renderer().render(node) == "past-due support is more than the passport denial threshold"
    assert (
        Renderer(params={"passport_denial_threshold": Decimal("2500")}).render(node)
        == "past-due support is more than the passport denial threshold ($2,500)"
    )


def test_expression_errors_in_policies_point_into_the_expression(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: r
    kind: automatic
    title: R
    summary: S
    when:
      - order.monthly_amount > 0
      - order.monthly_amount > 0 and __import__("os")
    action: send_delinquency_notice
    cite: [src]
""",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    (problem,) = caught.value.problems
    assert str(problem).startswith(
        f"{path}:15:38: rule 'r' when: function '__import__' is not allowed; the functions are: abs, add_days, any_of,"
    )
    assert str(problem).endswith("[CSP305]")


def test_date_compared_with_money_in_a_policy_is_a_located_error(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: r
    kind: automatic
    title: R
    summary: S
    when: "order.established_on > arrears.total"
    action: send_delinquency_notice
    cite: [src]
""",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:13:12: rule 'r' when: cannot compare a date (order.established_on) with money (arrears.total) [CSP304]"
    ]


def test_yes_no_conditions_read_as_state_with_values_and_as_words_without() -> None:
    node = parse_expression("not order.income_withholding_active and paying_parent.employer_known")
    check(node, Scope(FIELDS, {}))
    values = {"order.income_withholding_active": False, "paying_parent.employer_known": True}
    # A yes/no fact reads as the state it is in (no "label: no", no "it is not true that").
    assert (
        Renderer(values=values).render(node)
        == "income withholding is not in effect and the employer is known"
    )
    assert Renderer().render(node) == "income withholding is not in effect and the employer is known"
    # Said as false (a condition that failed): each part in the negative, De Morgan without a case.
    assert Renderer().render(node, False) == "income withholding is in effect or the employer is not known"
    assert Renderer().render(node, None).startswith("it is not known whether ")


def test_a_number_compared_with_money_reads_as_money() -> None:
    node = parse_expression("arrears.total >= 500 and arrears.total > 0")
    check(node, Scope(FIELDS, {}))
    assert Renderer().render(node) == "past-due support is at least $500 and past-due support is more than 0"
