"""The generated per-case code (`ReferenceBackend.settle`, a schema's derived facts) computes what the
closures compute: the same rules apply, the same derived values and facts, the same located errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cspolicy import EvaluationError, PolicySet, load_policy
from cspolicy.engine.caseschema import case_schema
from cspolicy.engine.outcomes import CaseOutcome
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import Context
from cspolicy.expressions.closures import DivisionByZero

from strategies import policy_document, policy_yaml, schema_snapshots, snapshot

CHAIN = """\
id: chain
version: "1"
title: derived values read by derived values, twice and behind guards
jurisdiction: {state: WI}
effective: {from: 2000-01-01}
sources: {src: {title: A source, url: "https://example.org/law"}}
parameters:
  limit: {description: a limit, unit: USD, values: [{from: 2000-01-01, value: "500"}], cite: [src]}
derived:
  months: {label: months behind, expr: arrears.total / order.monthly_amount}
  twice: {label: twice the months, expr: months + months}
  owes: {label: owes, expr: arrears.total > 0}
  big: {label: big, expr: twice >= 4 and owes}
rules:
  - {id: guarded, kind: threshold, title: guarded, summary: s, action: send_delinquency_notice,
     when: order.monthly_amount > 0 and months >= 2, cite: [src]}
  - {id: chained, kind: threshold, title: chained, summary: s, action: docket_lien,
     when: [owes, big], unless: [twice < 1], cite: [src]}
  - {id: param, kind: threshold, title: param, summary: s, action: certify_passport_denial,
     when: arrears.total >= params.limit or months > 10, cite: [src]}
"""


def _case(monthly: str, owed: str) -> dict[str, Any]:
    return {
        "case_id": "WI-1",
        "as_of": "2025-03-01",
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2020-01-01", "monthly_amount": monthly},
        "arrears": {"family_owed": owed},
    }


def _by_closures(policy: PolicySet, case: CaseSnapshot) -> tuple[dict[str, Any], dict[str, Any]] | str:
    """Which rules apply and the derived values kept, by the closures alone (or the error)."""
    outcome = CaseOutcome.undecided(policy.compiled, case)
    try:
        applies = dict(policy.backend.applies_by_closures(outcome))
    except EvaluationError as error:
        return str(error)
    return applies, _derived(outcome)


def _derived(outcome: CaseOutcome) -> dict[str, Any]:
    """The derived values kept (the closures also keep shared conditions, by a tuple key)."""
    return {k: v for k, v in outcome.context.derived.items() if isinstance(k, str)}


def _generated(policy: PolicySet, case: CaseSnapshot) -> tuple[dict[str, Any], dict[str, Any]] | str:
    outcome = CaseOutcome.undecided(policy.compiled, case)
    try:
        policy.backend.decide(outcome)
    except EvaluationError as error:
        return str(error)
    return dict(outcome.applies), _derived(outcome)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    directory = tmp_path_factory.mktemp("chain")
    (directory / "policy.yaml").write_text(CHAIN, encoding="utf-8")
    return load_policy(directory)


@pytest.mark.parametrize(
    ("monthly", "owed"),
    [("100.00", "450.00"), ("100.00", "50.00"), ("0.00", "0.00"), ("0.00", "700.00"), ("300.00", "0.00")],
)
def test_derived_chains_agree_with_the_closures(chain: PolicySet, monthly: str, owed: str) -> None:
    case = CaseSnapshot.parse(_case(monthly, owed))
    generated, closures = _generated(chain, case), _by_closures(chain, case)
    assert generated == closures
    if monthly == "0.00" and owed == "700.00":  # `months` is reached past the guard: located error
        assert isinstance(generated, str) and "division by zero" in generated
    elif not isinstance(generated, str):
        assert generated[0]["guarded"] is (Decimal(owed) / Decimal(monthly) >= 2)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=policy_document(valid=True), cases=st.lists(snapshot(), min_size=1, max_size=3))
def test_random_policies_agree_with_the_closures(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any], cases: list[dict[str, Any]]
) -> None:
    directory: Path = tmp_path_factory.mktemp("policy")
    (directory / "policy.yaml").write_text(policy_yaml(document), encoding="utf-8")
    policy = load_policy(directory)
    for data in cases:
        case = CaseSnapshot.parse(data, schema=policy.case_schema)
        assert _generated(policy, case) == _by_closures(policy, case)


@pytest.mark.parametrize("schema_name", ["child-support/v1", "child-support/v2"])
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_derived_facts_agree_with_their_closures(schema_name: str, data: st.DataObject) -> None:
    schema = case_schema(schema_name)
    snapshot_data = data.draw(schema_snapshots(schema))
    facts = schema.read(snapshot_data)
    assert facts is not None
    fields = {path: facts[path] for path in schema.leaves}
    context = Context(fields, {}, {})
    for name, derived in schema.derived.items():  # in dependency order, each from the ones before
        try:
            expected = derived.fn(context)
        except DivisionByZero:
            pytest.fail(f"{name}: a derived fact failed for a valid snapshot")
        fields[name] = expected
        assert type(facts[name]) is type(expected) and facts[name] == expected, name
