"""The durable-rules (Rete) back end agrees exactly with the reference evaluator."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cspolicy import CaseSnapshot, EvaluationError, load_policy
from cspolicy.engine.compiler import CompiledPolicy
from cspolicy.engine.policy import PolicySet
from cspolicy.expressions.types import Type

pytest.importorskip("durable.engine")

from cspolicy.rete import backend as rete

from helpers import FIXTURES, ROOT

EDGE = FIXTURES / "rete" / "edge"

# Every shipped policy version, with the dates on which it is in force.
SHIPPED = [
    ("policies/federal", None),
    ("policies/wisconsin", "2024-06-01"),
    ("policies/wisconsin", "2025-06-01"),
    ("policies/milwaukee-back-on-track", None),
    ("policies/california", None),
    ("policies/san-bernardino", None),
]
EXAMPLES_PER_POLICY = 2000

_POLICIES: dict[tuple[str, str | None], tuple[PolicySet, rete.RetePolicy]] = {}


def policies(path: str, as_of: str | None) -> tuple[PolicySet, rete.RetePolicy]:
    key = (path, as_of)
    if key not in _POLICIES:
        policy = load_policy(ROOT / path if not Path(path).is_absolute() else path, as_of)
        _POLICIES[key] = (policy, policy.to_rete())
    return _POLICIES[key]


# -- random snapshots that sit on and around every threshold of the policy ----------------------
def amount_marks(compiled: CompiledPolicy) -> list[Decimal]:
    """Money exactly on the policy's thresholds and a cent either side (plus common amounts)."""
    marks = {Decimal("0"), Decimal("100"), Decimal("350.10"), Decimal("1050.30"), Decimal("500")}
    for parameter in compiled.parameters.values():
        if parameter.type is Type.MONEY:
            marks |= {Decimal(v.value) for v in parameter.values}
    near = {m + d for m in marks for d in (Decimal("-0.01"), Decimal("0"), Decimal("0.01"))}
    return sorted(m for m in near if m >= 0)


# Text the engine must compare exactly: non-ASCII, quotes, an embedded NUL (C strings end there).
COUNTIES = [None, "Milwaukee", "San Bernardino", "Dane", "Doña Ana", 'Mil"waukee', "Milwaukee\x00x"]
# 7+ decimal places or a billion dollars and more: precomputed mode; just under: still native.
ODD_AMOUNTS = [
    Decimal("100.0000001"),
    Decimal("2500.00000049"),
    Decimal("999999999999.99"),
    Decimal("999999999.999999"),
]


class SnapshotDraws:
    """Random snapshots for one policy from any source of choices (hypothesis or a seeded RNG)."""

    def __init__(self, policy: PolicySet, pick: Any, number: Any) -> None:
        self.policy = policy
        self.pick = pick  # pick(list) -> one element
        self.number = number  # number(lo, hi) -> int in [lo, hi]
        self.marks = amount_marks(policy.compiled)
        codes = {r.rule.action for r in policy.compiled.rules.values() if r.rule.action}
        self.actions = sorted(codes | {"review_order"})

    def money(self) -> Decimal:
        kind = self.number(0, 19)
        if kind < 10:
            return Decimal(self.pick(self.marks))
        if kind < 19:
            return Decimal(self.number(0, 1_000_000)) / 100
        return Decimal(self.pick(ODD_AMOUNTS))

    def day(self, around: dt.date, before: int, after: int) -> dt.date:
        return around + dt.timedelta(days=self.number(-before, after))

    def maybe_day(self, around: dt.date) -> str | None:
        return None if self.number(0, 2) == 0 else self.day(around, 400, 400).isoformat()

    def many(self, most: int) -> range:
        return range(self.number(0, most))

    def snapshot(self) -> dict[str, Any]:
        policy, pick = self.policy, self.pick
        start = policy.effective_from
        end = policy.effective_to or max(start + dt.timedelta(days=900), dt.date(2026, 12, 31))
        as_of = self.day(start, 0, (end - start).days - 1)
        monthly = pick([Decimal("0"), Decimal("350.10"), Decimal("500"), self.money()])
        family = min(pick([self.money(), monthly * 3, monthly]), Decimal("999999999999.99"))
        home = policy.compiled.source.jurisdiction.state
        # Mostly the policy's own state; now and then another (both back ends must refuse it).
        state = pick(["WI", "CA"] if home == "US" else [home] * 9 + ["TX"])
        return {
            "case_id": "R-1",
            "as_of": as_of.isoformat(),
            "jurisdiction": {"state": state, "county": pick(COUNTIES)},
            "order": {
                "established_on": "2015-01-01",
                "monthly_amount": str(monthly),
                "income_withholding_active": pick([True, False]),
            },
            "arrears": {
                "family_owed": str(family),
                "state_owed": str(pick([Decimal("0"), self.money()])),
                "state_owed_pre_1996": str(pick([Decimal("0"), self.money()])),
            },
            "payments": [
                {
                    "date": self.day(as_of, 400, 0).isoformat(),
                    "amount": str(self.money()),
                    "applied_to": pick(["current", "family_arrears", "state_arrears"]),
                    "source": pick(["withholding", "voluntary", "intercept"]),
                }
                for _ in self.many(3)
            ],
            "public_assistance": pick(["current", "former", "never"]),
            "paying_parent": {
                "employment": pick(["employed", "unemployed", "underemployed", "unknown"]),
                "employer_known": pick([True, False]),
                "address_known": pick([True, False]),
                "incarcerated": pick([True, False]),
                "incarcerated_since": self.maybe_day(as_of),
                "expected_release": self.maybe_day(as_of),
                "military_active_duty": pick([True, False]),
                "licenses": [
                    {
                        "type": pick(["driver", "professional", "recreational"]),
                        "status": pick(["active", "suspended", "none"]),
                    }
                    for _ in self.many(3)
                ],
                "programs": {
                    "employment_training": pick(["none", "referred", "enrolled"]),
                    "payment_plan": pick(["none", "active", "defaulted"]),
                },
                "warrants": [
                    {"issued_on": self.day(as_of, 400, 0).isoformat(), "status": pick(["active", "cleared"])}
                    for _ in self.many(2)
                ],
            },
            "receiving_parent": {"family_violence_indicator": pick([True, False])},
            "enforcement": [
                {
                    "action": pick(self.actions),
                    "date": self.day(as_of, 400, 0).isoformat(),
                    "status": pick(["pending", "sent", "completed", "cancelled"]),
                }
                for _ in self.many(5)
            ],
        }


@st.composite
def snapshots(draw: st.DrawFn, policy: PolicySet) -> dict[str, Any]:
    """Hypothesis strategy over the same snapshot space (shrinks a failure to a small case)."""
    draws = SnapshotDraws(
        policy,
        lambda options: draw(st.sampled_from(options)),
        lambda lo, hi: draw(st.integers(lo, hi)),
    )
    return draws.snapshot()


def seeded(policy: PolicySet, seed: int) -> SnapshotDraws:
    rng = random.Random(seed)
    return SnapshotDraws(policy, rng.choice, rng.randint)


def outcome(policy: PolicySet | rete.RetePolicy, snapshot: CaseSnapshot | dict[str, Any]) -> str:
    """The decision as JSON, or the evaluation error's message: both back ends must match."""
    try:
        return policy.evaluate(snapshot).to_json()
    except EvaluationError as exc:
        return f"error: {exc}"


def agree(path: str, as_of: str | None, count: int, seed: int = 8) -> None:
    """Both back ends on `count` seeded random snapshots; the first difference fails with the case."""
    reference, network = policies(path, as_of)
    draws = seeded(reference, seed)
    for number in range(count):
        data = draws.snapshot()
        snapshot = CaseSnapshot.parse(data)  # parsed once: the comparison is of the back ends
        expected = outcome(reference, snapshot)
        assert outcome(network, snapshot) == expected, f"snapshot #{number}: {json.dumps(data)}"


@pytest.mark.parametrize(("path", "as_of"), SHIPPED, ids=[f"{p}@{d}" for p, d in SHIPPED])
def test_rete_agrees_with_reference_on_random_snapshots(path: str, as_of: str | None) -> None:
    before = policies(path, as_of)[1].stats["cases"]
    agree(path, as_of, EXAMPLES_PER_POLICY)
    # Most snapshots reach the network (the rest are refused for state or date by both).
    assert policies(path, as_of)[1].stats["cases"] - before > EXAMPLES_PER_POLICY // 2


def test_rete_agrees_on_the_edge_fixture() -> None:
    network = policies(str(EDGE), None)[1]
    before = network.stats["precomputed_mode"]
    agree(str(EDGE), None, EXAMPLES_PER_POLICY)
    # Amounts with 7 decimal places and the missing pre-2024 parameter force precomputed mode.
    assert network.stats["precomputed_mode"] > before


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rete_agrees_under_hypothesis(data: st.DataObject) -> None:
    """Hypothesis explores (and shrinks) the same space across the edge fixture and one state."""
    path, as_of = data.draw(st.sampled_from([(str(EDGE), None), ("policies/wisconsin", "2025-06-01")]))
    reference, network = policies(path, as_of)
    snapshot = data.draw(snapshots(reference))
    assert outcome(network, snapshot) == outcome(reference, snapshot)


# -- specific behaviour ---------------------------------------------------------------------------
def test_native_and_precomputed_conditions_are_reported() -> None:
    network = load_policy(EDGE).to_rete()
    assert network.native_conditions["county-rule"] == [
        'not (jurisdiction.county == "Dane")',
        "paying_parent.expected_release > as_of",
    ]
    precomputed = network.precomputed_conditions
    assert [text for text, _ in precomputed["ratio-rule"]] == ["ratio >= params.months_behind"]
    assert "division" in precomputed["ratio-rule"][0][1]
    assert "count_of" in precomputed["many-licenses"][0][1]
    assert precomputed["big-debt"] == []  # max() and + are rewritten into native comparisons
    assert "multiplication" in precomputed["nested-product"][0][1]  # the int64 overflow guard
    assert len(network.native_conditions["kleene-mix"]) == 4  # optional values, lists, day counts
    assert precomputed["dated"] == [] and len(network.native_conditions["dated"]) == 1


NEGATED_COMPOUND_ANY_OF = "a negated any_of with a compound condition ($iall with $or/$and)"


def test_every_shipped_condition_runs_natively_but_compound_any_of() -> None:
    """Everything runs in durable-rules except an any_of whose condition combines tests
    (its negation needs $or inside $iall, which durable-rules 2.0.28 mis-decides): that one
    is precomputed by the reference, explicitly, and listed here so a new fallback is noticed."""
    for path, as_of in SHIPPED:
        network = policies(path, as_of)[1]
        fallbacks = {
            (rule, name, reason)
            for rule, pre in network.precomputed_conditions.items()
            for name, reason in pre
        }
        expected: set[tuple[str, str, str]] = set()
        if "san-bernardino" in path:
            expected = {
                (rule, "license_suspended", NEGATED_COMPOUND_ANY_OF)
                for rule in (
                    "license-release-meeting",
                    "license-release-eligible",
                    "license-release-employment-referral",
                    "license-release-legal-referral",
                )
            }
        assert fallbacks == expected, path


def test_division_by_zero_raises_the_reference_error(make_snapshot: Any) -> None:
    reference, network = policies(str(EDGE), None)
    snapshot = make_snapshot(order__monthly_amount="0", arrears__family_owed="10")
    with pytest.raises(EvaluationError) as expected:
        reference.evaluate(snapshot)
    with pytest.raises(EvaluationError) as actual:
        network.evaluate(snapshot)
    assert str(actual.value) == str(expected.value)
    assert "division by zero" in str(actual.value)
    # The guarded rule never divides, and with no past-due support the ratio is not reached.
    quiet = make_snapshot(order__monthly_amount="0")
    assert network.evaluate(quiet).to_json() == reference.evaluate(quiet).to_json()


def test_a_held_hold_holds_nothing(make_snapshot: Any) -> None:
    _, network = policies(str(EDGE), None)
    snapshot = make_snapshot(
        order__monthly_amount="500",
        arrears__family_owed="3000",
        paying_parent__programs={"payment_plan": "active"},
    )
    held = {h.rule: h.held_by for h in network.evaluate(snapshot).held}
    assert held["big-debt"] == "plan-hold"
    snapshot["paying_parent"]["employment"] = "unemployed"
    decision = network.evaluate(snapshot)
    held = {h.rule: h.held_by for h in decision.held}
    assert "big-debt" not in held  # plan-hold is itself held by default-override
    assert held.get("ladder-top") in (None, "default-override")
    assert "certify_passport_denial" in [w.action for w in decision.waiting] + decision.action_codes


def test_repeated_loads_reuse_the_registered_ruleset() -> None:
    first = load_policy(EDGE).to_rete()
    second = load_policy(EDGE).to_rete()
    assert first.name == second.name == "cspolicy_" + first.policy.digest.removeprefix("sha256:")
    assert first.name in rete._REGISTERED


def test_missing_durable_rules_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "durable", None)
    monkeypatch.setitem(sys.modules, "durable.engine", None)
    monkeypatch.setattr(rete, "_STATE", {})
    with pytest.raises(rete.ReteUnavailable, match=r"pip install 'cspolicy\[rete\]'"):
        rete.durable_engine()


def test_the_core_never_imports_durable_rules() -> None:
    code = (
        "import sys, cspolicy\n"
        "from cspolicy import load_policy\n"
        f"p = load_policy({str(ROOT / 'policies/federal')!r})\n"
        f"p.evaluate({str(ROOT / 'examples/cases/03-tax-offset-level.yaml')!r})\n"
        "assert 'durable' not in sys.modules and 'durable_rules_engine' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_concurrent_evaluations_from_threads_agree() -> None:
    """One RetePolicy shared by threads: the engine lock keeps every case's facts apart."""
    reference, network = policies("policies/wisconsin", "2025-06-01")
    draws = seeded(reference, 21)
    cases = [CaseSnapshot.parse(draws.snapshot()) for _ in range(200)]
    expected = [outcome(reference, case) for case in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        actual = list(pool.map(lambda case: outcome(network, case), cases))
    assert actual == expected
