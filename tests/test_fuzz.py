"""Fuzzing: random policies, expressions and snapshots never crash, always locate their errors,
decide deterministically, and every back end present agrees with the reference evaluator.

`make test` runs 10,000+ examples in all (see EXAMPLES); `make fuzz` sets CSPOLICY_FUZZ_FACTOR
to run 20 times as many and prints the examples tried and the failures.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cspolicy import CaseSnapshot, Code, EvaluationError, PolicyError, PolicySet, SnapshotError, load_policy
from cspolicy.diagnostics import Problem
from cspolicy.engine.snapshot import FIELDS
from cspolicy.expressions import (
    CheckError,
    Context,
    ExpressionSyntaxError,
    Scope,
    Type,
    check,
    compile_expression,
)
from cspolicy.expressions.closures import DivisionByZero
from cspolicy.expressions.parser import parse_expression

from helpers import FIXTURES, ROOT
from strategies import (
    TYPES,
    ExpressionScope,
    broken_expression,
    broken_snapshot,
    policy_document,
    policy_yaml,
    schema_snapshots,
    snapshot,
    typed_expression,
)

FACTOR = float(os.environ.get("CSPOLICY_FUZZ_FACTOR", "1"))
HOSTILE_FIXTURES = FIXTURES / "hostile"
# Examples per property in `make test` (sum 10,100; the back-end ones decide up to 5 cases each).
# `make fuzz` multiplies them by FACTOR.
EXAMPLES = {
    "well_typed_expressions": 3650,
    "broken_expressions": 2500,
    "valid_policies": 600,
    "broken_policies": 600,
    "snapshots": 2500,
    "fixed_policies": 100,
    "random_policy_batch": 100,
    "random_policy_rete": 50,
}
assert sum(EXAMPLES.values()) >= 10_000
TRIED: Counter[str] = Counter()
# How random policies decide a caseload (issue 16: all of them vectorized): mode -> count.
MODES: Counter[str] = Counter()
PARAM_VALUES = {
    "money": Decimal("500.00"),
    "int": 30,
    "number": Decimal("0.015"),
    "date": dt.date(2024, 1, 1),
    "bool": True,
}


def fuzz_settings(name: str, **more: Any) -> Any:
    return settings(
        max_examples=max(1, int(EXAMPLES[name] * FACTOR)),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        **more,
    )


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print the examples tried and the failures when the module is done."""
    failed_before = request.session.testsfailed
    yield
    failures = request.session.testsfailed - failed_before
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    line = f"fuzz: {sum(TRIED.values())} examples tried ({dict(TRIED)}), {failures} failures"
    if MODES:
        share = MODES["vectorized"] / sum(MODES.values())
        line += f"; policies decided as caseloads (random and fixed) vectorized: {MODES['vectorized']}/{sum(MODES.values())} ({share:.0%})"
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # shown even when the tests pass
            reporter.ensure_newline()
            reporter.write_line(line)


def assert_located(problems: list[Problem], file: str) -> None:
    assert problems, "an error without problems"
    for problem in problems:
        assert isinstance(problem.code, Code)
        assert problem.message
        assert problem.location.file.startswith(file), str(problem)
        assert problem.location.line >= 1 and problem.location.column >= 1, str(problem)


def facts_of(data: dict[str, Any]) -> dict[str, Any]:
    return CaseSnapshot.parse(data).facts()


# -- expressions alone -------------------------------------------------------------------------
@st.composite
def expression_case(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    params = draw(
        st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(sorted(TYPES)), max_size=3)
    )
    type_ = draw(st.sampled_from(sorted(TYPES)))
    return draw(typed_expression(type_, ExpressionScope(params), 3)), type_, params


@fuzz_settings("well_typed_expressions")
@given(case=expression_case(), data=snapshot())
def test_well_typed_expressions_check_and_evaluate(
    case: tuple[str, str, dict[str, str]], data: dict[str, Any]
) -> None:
    TRIED["well_typed_expressions"] += 1
    text, type_, params = case
    node = parse_expression(text)
    found = check(node, Scope(FIELDS, {name: TYPES[t] for name, t in params.items()}))
    # Literals are numbers, so money built only from literals checks as a number: any numeric will do.
    assert found is TYPES[type_] or (found.numeric and TYPES[type_].numeric), (text, found)
    context = Context(facts_of(data), {name: PARAM_VALUES[t] for name, t in params.items()}, {})
    try:
        value = compile_expression(node)(context)
    except DivisionByZero:
        return
    expected = {
        Type.MONEY: (Decimal, int),
        Type.INTEGER: (int,),
        Type.NUMBER: (Decimal, int),
        Type.DATE: (dt.date,),
        Type.BOOL: (bool,),
    }[found]
    assert value is None or isinstance(value, expected), (text, value)


@fuzz_settings("broken_expressions")
@given(text=broken_expression(ExpressionScope({"a": "money"})))
def test_broken_expressions_fail_with_a_position(text: str) -> None:
    TRIED["broken_expressions"] += 1
    try:
        node = parse_expression(text)
    except ExpressionSyntaxError as exc:
        assert isinstance(exc.code, Code) and exc.message
        assert exc.line >= 0 and exc.column >= 0
        return
    try:
        check(node, Scope(FIELDS, {"a": Type.MONEY}))
    except CheckError as exc:
        assert isinstance(exc.code, Code) and exc.message and exc.node is not None


# -- whole random policies ---------------------------------------------------------------------
def load_document(directory: Path, document: dict[str, Any]) -> tuple[Path, PolicySet | PolicyError]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "policy.yaml"
    path.write_text(policy_yaml(document), encoding="utf-8")
    try:
        return path, load_policy(directory)
    except PolicyError as error:
        return path, error


def decide(policy: PolicySet, data: Any) -> str:
    """Decision JSON, or the located error as text; anything else is a crash."""
    try:
        return policy.evaluate(data).to_json()
    except SnapshotError as error:
        # A snapshot given as data has no lines: the field path in each message locates it.
        # (Text is a file path to `evaluate`, so junk text may also be a missing file.)
        for problem in error.problems:
            assert isinstance(problem.code, Code) and problem.location.file, str(problem)
        return "snapshot error: " + "; ".join(str(p) for p in error.problems)
    except EvaluationError as error:
        assert error.problem.location.file, str(error)
        assert isinstance(error.problem.code, Code)
        return f"evaluation error: {error}"


@fuzz_settings("valid_policies")
@given(document=policy_document(valid=True), cases=st.lists(snapshot(), min_size=1, max_size=3))
def test_valid_random_policies_load_and_decide_deterministically(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any], cases: list[dict[str, Any]]
) -> None:
    TRIED["valid_policies"] += 1
    directory = tmp_path_factory.mktemp("policy")
    path, policy = load_document(directory, document)
    assert isinstance(policy, PolicySet), f"a well-formed policy did not load:\n{policy}\n{path.read_text()}"
    again = load_policy(directory)
    assert again.digest == policy.digest
    for data in cases:
        first = decide(policy, data)
        assert decide(policy, data) == first
        assert decide(again, data) == first


@fuzz_settings("broken_policies")
@given(document=policy_document(valid=False))
def test_broken_random_policies_fail_with_located_problems(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any]
) -> None:
    TRIED["broken_policies"] += 1
    path, result = load_document(tmp_path_factory.mktemp("policy"), document)
    if isinstance(result, PolicyError):
        assert_located(result.problems, str(path))


# -- snapshots -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_policy() -> PolicySet:
    return load_policy(HOSTILE_FIXTURES / "base")


@fuzz_settings("snapshots")
@given(data=broken_snapshot())
def test_random_snapshots_are_valid_or_name_each_bad_field(base_policy: PolicySet, data: Any) -> None:
    TRIED["snapshots"] += 1
    try:
        CaseSnapshot.parse(data)
    except SnapshotError as error:
        for problem in error.problems:
            assert problem.code is Code.SNAPSHOT_INVALID and problem.location.file == "<snapshot>"
            if isinstance(data, dict):
                field = problem.message.split(":", 1)[0]
                assert field, problem.message  # each problem names its field
    decide(base_policy, data)


# -- back ends against the reference ---------------------------------------------------------------
def _rete_available() -> bool:
    try:
        from cspolicy.rete import backend as rete

        rete.durable_engine()
    except Exception:
        return False
    return True


RETE = _rete_available()
FIXED = [
    (HOSTILE_FIXTURES / "base", "WI"),
    (HOSTILE_FIXTURES / "vectorized", "WI"),
    (ROOT / "policies" / "federal", "WI"),
    (ROOT / "policies" / "wisconsin", "WI"),
    (ROOT / "policies" / "milwaukee-back-on-track", "WI"),
    (ROOT / "policies" / "california", "CA"),
    (ROOT / "policies" / "san-bernardino", "CA"),
]
_LOADED: dict[str, Any] = {}


def loaded(path: Path) -> PolicySet:
    if str(path) not in _LOADED:
        _LOADED[str(path)] = load_policy(path)
    return _LOADED[str(path)]  # type: ignore[no-any-return]


def batch_rows(policy: PolicySet, cases: list[CaseSnapshot]) -> tuple[list[tuple[Any, ...]], set[int]]:
    from cspolicy.caseload.streaming import CaseloadEvaluator
    from cspolicy.caseload.tables import snapshots_to_frame

    evaluator = CaseloadEvaluator(policy)
    MODES[evaluator.mode] += 1
    result = evaluator.evaluate(snapshots_to_frame(cases))
    return _normal(result.decisions.to_dicts()), set(result.errors.get_column("row_number").to_list())


def reference_rows(policy: PolicySet, cases: list[CaseSnapshot]) -> tuple[list[tuple[Any, ...]], set[int]]:
    from cspolicy.caseload.reference import decision_rows

    rows: list[dict[str, Any]] = []
    errors = set()
    for number, case in enumerate(cases, start=1):
        try:
            rows.extend(decision_rows(policy.evaluate(case), number))
        except EvaluationError:
            errors.add(number)
    return _normal(rows), errors


def _normal(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as comparable tuples: outputs as exact Decimals, absent outputs dropped."""
    normal = []
    for row in rows:
        outputs = tuple(
            sorted((k, None if v is None else _exact(v)) for k, v in row.items() if k.startswith("outputs."))
        )
        keys = (
            "row_number",
            "case_id",
            "action",
            "rule",
            "status",
            "held_by",
            "priority",
            "due_by",
            "overdue",
        )
        waiting = tuple(row.get("waiting_for") or ())
        normal.append((*(row.get(k) for k in keys), waiting, tuple(o for o in outputs if o[1] is not None)))
    return normal


def _exact(value: Any) -> Decimal | str:
    """An output as compared: numbers exactly as Decimals (however a back end typed them), dates
    and text as written."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return str(value)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return str(value)


def assert_batch_agrees(policy: PolicySet, datas: list[dict[str, Any]]) -> None:
    cases = [CaseSnapshot.parse(d, schema=policy.case_schema) for d in datas]
    assert batch_rows(policy, cases) == reference_rows(policy, cases)


def assert_rete_agrees(policy: PolicySet, datas: list[dict[str, Any]]) -> None:
    if RETE:
        network = policy.to_rete()
        for data in datas:
            assert decide(network, data) == decide(policy, data)  # type: ignore[arg-type]


@fuzz_settings("fixed_policies")
@given(data=st.data())
def test_fixed_policies_are_deterministic_and_backends_agree(data: st.DataObject) -> None:
    TRIED["fixed_policies"] += 1
    path, state = data.draw(st.sampled_from(FIXED))
    policy = loaded(path)
    start = max(policy.effective_from, dt.date(2018, 1, 1))
    # Snapshots of the policy's own case schema (child-support/v2 for the shipped sets): every field.
    datas = data.draw(st.lists(schema_snapshots(policy.case_schema, state, start), min_size=1, max_size=5))
    if path.name == "wisconsin":  # dated versions: each snapshot under the version of its date
        policy = loaded(path / ("2025.1" if datas[0]["as_of"] >= "2025-01-01" else "2024.1"))
        datas = [d | {"as_of": datas[0]["as_of"]} for d in datas]
    for one in datas:
        assert decide(policy, one) == decide(policy, dict(one))
    assert_batch_agrees(policy, datas)
    assert_rete_agrees(policy, datas)


@fuzz_settings("random_policy_batch")
@given(document=policy_document(valid=True), datas=st.lists(snapshot(), min_size=1, max_size=4))
def test_random_policies_batch_agrees(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any], datas: list[dict[str, Any]]
) -> None:
    TRIED["random_policy_batch"] += 1
    _, policy = load_document(tmp_path_factory.mktemp("policy"), document)
    assert isinstance(policy, PolicySet), str(policy)
    assert_batch_agrees(policy, datas)


@pytest.mark.skipif(not RETE, reason="durable-rules (the `rete` extra) is not installed")
@fuzz_settings("random_policy_rete")
@given(document=policy_document(valid=True), datas=st.lists(snapshot(), min_size=1, max_size=4))
def test_random_policies_rete_agrees(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any], datas: list[dict[str, Any]]
) -> None:
    TRIED["random_policy_rete"] += 1
    _, policy = load_document(tmp_path_factory.mktemp("policy"), document)
    assert isinstance(policy, PolicySet), str(policy)
    assert_rete_agrees(policy, datas)


@pytest.mark.skipif(not RETE, reason="durable-rules (the `rete` extra) is not installed")
def test_rete_not_any_of_with_a_conjunction(tmp_path: Path) -> None:
    rule = {
        "id": "rule-0",
        "kind": "automatic",
        "title": "Rule 0",
        "summary": "No active driver license.",
        "when": ['not (any_of(paying_parent.licenses, status == "active" and type == "driver"))'],
        "action": "initiate_income_withholding",
        "cite": ["src"],
    }
    document = {
        "id": "fuzz",
        "version": "1",
        "title": "Regression",
        "jurisdiction": {"state": "WI"},
        "effective": {"from": dt.date(2000, 1, 1)},
        "sources": {"src": {"title": "A source", "url": "https://example.org/law"}},
        "rules": [rule],
    }
    _, policy = load_document(tmp_path, document)
    assert isinstance(policy, PolicySet)
    case = {
        "case_id": "R-1",
        "as_of": "2025-01-01",
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2020-01-01", "monthly_amount": "100"},
        "paying_parent": {"licenses": [{"type": "recreational", "status": "active"}]},
    }
    assert [a.action for a in policy.evaluate(case).actions] == ["initiate_income_withholding"]
    assert decide(policy.to_rete(), case) == decide(policy, case)  # type: ignore[arg-type]
