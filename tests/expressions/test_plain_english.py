"""Every sentence staff read is plain English: no Python repr, no doubled verbs, no "Not met".

Renders every `when`/`unless` condition and every derived value of every rule of every shipped
policy version as the docs do (said as true, and as false and unknown as a trace would), and
every trace and why-not sentence of every example case under examples/cases/ evaluated by each
version it belongs to (every rule, whether it applies or not).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cspolicy.diagnostics import CSPolicyError
from cspolicy.docs import catalogue
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import Renderer
from cspolicy.expressions.render import negate_label

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ["[]", "[", "]", "==", "!=", "()", "None", "params.", "_of(", "Not met", "\x00"]
VERBS = {"is", "are", "has", "have", "was", "were"}
# Words that start a new clause: a second verb after one of them is that clause's own.
CLAUSE = re.compile(
    r"[;,:()—]|\b(?:and|or|nor|neither|so|whose|where|when|if|whether|that|which|whichever|as|because|but)\b"
)


def doubled_verb(sentence: str) -> str | None:
    """The clause of `sentence` with two finite verbs ('has license status is active', 'is is'),
    or None. 'has been' counts once."""
    for clause in CLAUSE.split(sentence):
        tokens = re.findall(r"[a-z']+", clause.lower())
        count = sum(1 for t in tokens if t in VERBS)
        if count > 1:
            return clause.strip()
    return None


def problems(sentence: str) -> list[str]:
    found = [f"contains {token!r}" for token in FORBIDDEN if token in sentence]
    doubled = doubled_verb(sentence)
    if doubled is not None:
        found.append(f"doubled verb in {doubled!r}")
    return found


def test_the_checker_catches_the_old_sentences() -> None:
    old = [
        "any of the paying parent's licenses ([]) has license status is active",
        "Send a letter: does not apply. Not met: past-due support ($200.00) is at least $500",
        "the days since review order was done is at most 30",
        "the status is is active",
        "the date of the last payment is None",
    ]
    assert all(problems(sentence) for sentence in old)
    assert problems("the paying parent has no active license") == []
    assert (
        problems("a payment has been received and past-due support ($600.00) is not more than $2,500") == []
    )


@pytest.mark.parametrize(
    ("label", "negated"),
    [
        ("the employer is known", "the employer is not known"),
        ("holds an active license", "does not hold an active license"),
        ("has an active warrant", "does not have an active warrant"),
        ("behind by at least one month of support", "not behind by at least one month of support"),
        ("the parent is not enrolled", "the parent is enrolled"),
    ],
)
def test_labels_are_negated_as_english(label: str, negated: str) -> None:
    assert negate_label(label) == negated


def _versions() -> list[catalogue.PolicyVersion]:
    sets = catalogue.discover(ROOT / "policies", dt.date.today())
    return [version for docs in sets for version in docs.versions]


def _docs_sentences() -> Iterator[tuple[str, str]]:
    for version in _versions():
        compiled = version.policy.compiled
        renderer = Renderer(compiled.labels, params=version.parameters)
        where = f"{version.policy.id} {version.policy.version}"
        for rule in compiled.rules.values():
            for condition in [*rule.when, *rule.unless]:
                for truth in (True, False, None):
                    yield f"{where} {rule.id}: {condition.text}", renderer.render(condition.node, truth)
        for name, derived in compiled.derived.items():
            yield f"{where} derived {name}", renderer.render(derived.expression.node)
            if derived.expression.node.type.value == "bool":
                yield f"{where} derived {name}", renderer.render(derived.expression.node, False)


def _trace_sentences() -> Iterator[tuple[str, str]]:
    cases = [
        (p.name, CaseSnapshot.from_file(p)) for p in sorted((ROOT / "examples" / "cases").glob("*.yaml"))
    ]
    for version in _versions():
        for name, case in cases:
            try:
                decision = version.policy.evaluate(case)
            except CSPolicyError:
                continue  # another jurisdiction's case, or a date outside this version
            where = f"{version.policy.id} {version.policy.version} {name}"
            for rule_id in version.policy.compiled.rules:
                answer = decision.why_not(rule_id)
                yield f"{where} why-not {rule_id}", answer.text
                for trace in answer.failed:
                    yield f"{where} why-not {rule_id} ({trace.expr})", trace.text
            for item in [*decision.actions, *decision.held, *decision.waiting]:
                for trace in item.because:
                    yield f"{where} {item.rule} ({trace.expr}, {trace.result})", trace.text
            for miss in decision.near_misses():
                yield f"{where} near miss {miss.rule}", miss.text


def test_every_condition_and_derived_value_reads_as_english_in_the_docs() -> None:
    sentences = list(_docs_sentences())
    assert len(sentences) > 100
    bad = [
        f"{where}: {sentence!r}: {', '.join(problems(sentence))}"
        for where, sentence in sentences
        if problems(sentence)
    ]
    assert bad == []


def test_every_trace_and_why_not_of_the_example_cases_reads_as_english() -> None:
    sentences = list(_trace_sentences())
    assert len(sentences) > 500
    bad = [
        f"{where}: {sentence!r}: {', '.join(problems(sentence))}"
        for where, sentence in sentences
        if problems(sentence)
    ]
    assert bad == []
    # Failed conditions are said in the negative, and both kinds of result were read.
    texts = [sentence for _, sentence in sentences]
    assert any(" is not more than " in t for t in texts)
    assert any("does not apply because" in t for t in texts)


def test_a_conditional_shows_each_value_beside_its_own_name() -> None:
    """`x if c else y` reads "x (its value) if c (its value) ...": the sentence template must fill
    its slots in that reading order (it once showed the date as the amount and the amount as
    the date, in the explanation of California's license suspension)."""
    from cspolicy import load_policy

    policy = load_policy(ROOT / "policies" / "california")
    case = ROOT / "examples" / "cases-ca" / "01-partial-payer-listed.yaml"
    snapshot = CaseSnapshot.from_file(case, schema=policy.case_schema)
    paid_through = snapshot.order.current_support_paid_in_full_through
    monthly = snapshot.order.monthly_amount
    text = policy.evaluate(snapshot).why_not("coap-eligibility").text
    assert (
        f"the day after the paid-through date of current support ({paid_through.isoformat()})"
        f" if the monthly support amount (${monthly:,.2f}) is more than 0, otherwise nothing"
    ) in text
