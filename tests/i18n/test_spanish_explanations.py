"""Every example case explained in Spanish: decisions and why-not, with no English left."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from cspolicy.cli import main
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.caseschema import default_case_schema
from cspolicy.engine.decision import Decision
from cspolicy.engine.versions import PolicyVersions
from cspolicy.source.actions import ACTION_MEANINGS

from helpers import ROOT

SETS = [
    "federal",
    "wisconsin",
    "milwaukee-back-on-track",
    "california",
    "san-bernardino",
    "reforms/ca-full-pass-through",
    "reforms/ca-good-cause-flex",
    "reforms/ca-in-kind-credit",
]
CASES = sorted((ROOT / "examples" / "cases-v2").glob("[0-9]*.yaml")) + sorted(
    (ROOT / "examples" / "cases-ca").glob("[0-9]*.yaml")
)

# The words of the English sentence templates (render.py, explain.py, the CLI's decision text):
# none may appear in a Spanish explanation. Law titles ("ley: …") are the sources' own names.
ENGLISH = re.compile(
    r"\b(the|is|are|and|or|not|of|to|it|because|than|whose|among|where|whichever|otherwise|"
    r"days?|months?|known|set|has|have|been|does|done|applies|apply|held|waits?|recommended|below|"
    r"above|due|by|law|case|policy|nothing|always|never|plus|minus|times|divided|means|true|"
    r"action|exactly|least|most|more|less|after|before|later|earlier)\b"
)
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
CODE = re.compile(r"\[[a-z_]+\]")


@dataclass
class Explained:
    """One example case decided under one shipped set, explained in Spanish."""

    set_name: str
    case: Path
    decision: Decision
    text: str
    why_not: dict[str, str]


def _explain_all() -> list[Explained]:
    found = []
    for set_name in SETS:
        versions = PolicyVersions(ROOT / "policies" / set_name)
        for case in CASES:
            try:
                decision = versions.evaluate(case)
            except CSPolicyError:  # a case of another state, or dated before the set applies
                continue
            rules = decision.outcome.policy.rules
            why_not = {rule: decision.why_not(rule, lang="es").text for rule in rules}
            found.append(Explained(set_name, case, decision, decision.to_text("es"), why_not))
    return found


@pytest.fixture(scope="module")
def explained() -> list[Explained]:
    return _explain_all()


def _lines(item: Explained) -> list[str]:
    lines = [*item.text.splitlines(), *item.why_not.values()]
    return [line for line in lines if not line.strip().startswith("ley: ")]


def _english_texts(item: Explained) -> set[str]:
    """Every English label, title and meaning the case's policy and schema could print."""
    policy = item.decision.outcome.policy
    texts = {rule.rule.title for rule in policy.rules.values()}
    texts |= {p.label for p in policy.parameters.values() if p.label}
    texts |= {d.label for d in policy.derived.values()}
    schema = policy.case_schema or default_case_schema()
    for spec in schema.fields.values():
        texts.add(spec.label)
        texts |= {item.label for item in spec.items.values()}
        if spec.absent:
            texts.add(spec.absent)
    texts |= set(ACTION_MEANINGS.values())
    texts = {t.removeprefix("the ") for t in texts}
    return {t for t in texts if len(t.split()) >= 2}


def test_every_example_case_is_explained_in_spanish(explained: list[Explained]) -> None:
    assert {item.case for item in explained} == set(CASES)  # each case under at least one set
    assert len(explained) >= len(CASES) * 2
    assert {item.set_name for item in explained} >= {"federal", "wisconsin", "california"}


def test_no_english_sentence_template_is_left(explained: list[Explained]) -> None:
    left = []
    for item in explained:
        english = _english_texts(item)
        for line in _lines(item):
            words = ENGLISH.findall(line)
            said = CODE.sub("", line)  # an action code in brackets is an identifier, not English
            labels = [text for text in english if text in said]
            if words or labels or ISO_DATE.search(line):
                left.append(f"{item.set_name} {item.case.name}: {line!r} ({words or labels})")
    assert left == []


def test_spanish_why_not_agrees_with_english(explained: list[Explained]) -> None:
    for item in explained:
        for rule in item.why_not:
            english = item.decision.why_not(rule)
            spanish = item.decision.why_not(rule, lang="es")
            assert (spanish.status, spanish.held_by, spanish.waiting_for) == (
                english.status,
                english.held_by,
                english.waiting_for,
            )
            assert [t.result for t in spanish.failed] == [t.result for t in english.failed]
            assert [t.expr for t in spanish.failed] == [t.expr for t in english.failed]


def _one(explained: list[Explained], set_name: str, case: str) -> Explained:
    return next(i for i in explained if i.set_name == set_name and i.case.name == case)


def test_a_threshold_reads_with_its_values_and_distance(explained: list[Explained]) -> None:
    item = _one(explained, "wisconsin", "03-tax-offset-level.yaml")
    facts = item.decision.outcome.snapshot.facts()
    owed = facts["arrears.support"]
    threshold = Decimal(2500)
    assert owed <= threshold  # the case is below the passport threshold
    assert item.why_not["passport-denial"].endswith(
        f"la manutención atrasada sin intereses (${owed:,.2f}) no es mayor que el límite para negar el"
        f" pasaporte ($2,500) — ${threshold - owed:,.2f} por debajo del límite para negar el pasaporte"
    )
    assert item.why_not["passport-denial"].startswith("Negar el pasaporte: no corresponde porque ")


def test_dates_and_amounts_are_formatted_for_spanish(explained: list[Explained]) -> None:
    dated = [i for i in explained if any(a.due_by for a in i.decision.actions)]
    assert dated
    for item in dated:
        for action in item.decision.actions:
            if action.due_by is None:
                continue
            months = (
                "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
            )
            day = action.due_by
            said = f"{day.day} de {months.split()[day.month - 1]} de {day.year}"
            assert f"fecha límite: {said}" in item.text
    header = explained[0].text.splitlines()[0]
    assert re.search(r"fecha del caso: \d{1,2} de [a-z]+ de \d{4}", header)
    assert re.search(r"\(\$\d{1,3}(,\d{3})*\.\d{2}\)", "\n".join(i.text for i in explained))


def test_a_held_action_gives_the_hold_in_spanish(explained: list[Explained]) -> None:
    held = [(i, h) for i in explained for h in i.decision.held]
    assert held
    for item, action in held:
        policy = item.decision.outcome.policy
        from cspolicy.engine.translations import translation

        spanish_title = translation(policy, "es").rules[action.held_by].title
        assert f"en pausa: {spanish_title}" in item.text
        assert action.reason not in item.text  # the English title is not shown


def test_english_text_is_unchanged_by_spanish(explained: list[Explained]) -> None:
    item = _one(explained, "wisconsin", "05-license-suspension.yaml")
    english = item.decision.to_text()
    assert english.startswith(f"Case {item.decision.case_id} · as of ")
    assert "because " in english and "porque" not in english
    assert (
        item.decision.to_json()
        == PolicyVersions(ROOT / "policies" / "wisconsin").evaluate(item.case).to_json()
    )


def test_evaluate_and_explain_commands_speak_spanish(capsys: pytest.CaptureFixture[str]) -> None:
    case = str(ROOT / "examples" / "cases-v2" / "04-passport-level.yaml")
    policy = str(ROOT / "policies" / "wisconsin")
    assert main(["evaluate", case, "--policy", policy, "--lang", "es"]) == 0
    out = capsys.readouterr().out
    assert "Caso WI-" in out and "✔ Negar el pasaporte [certify_passport_denial]" in out
    assert main(["explain", case, "--policy", policy, "--rule", "passport-denial", "--lang", "es"]) == 0
    assert capsys.readouterr().out.strip() == "Negar el pasaporte: se recomienda"


def test_a_missing_translation_is_an_error_not_english(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    target = tmp_path / "federal"
    shutil.copytree(ROOT / "policies" / "federal", target, ignore=shutil.ignore_patterns("*.test.yaml"))
    (target / "policy.es.yaml").unlink()
    case = str(ROOT / "examples" / "cases-v2" / "04-passport-level.yaml")
    assert main(["evaluate", case, "--policy", str(target), "--lang", "es"]) == 1
    err = capsys.readouterr().err
    assert "has no Spanish title and summary" in err and "[CSP210]" in err
    assert "Traceback" not in err
