"""Near misses in Spanish (`Decision.near_misses(lang="es")`): the same near misses as in English,
said with the policy's Spanish texts and the catalogues' near-miss phrases, no English left."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from cspolicy.diagnostics import Code, CSPolicyError, PolicyError
from cspolicy.engine.decision import Decision
from cspolicy.engine.translations import translation
from cspolicy.engine.versions import PolicyVersions

from helpers import ROOT

CASES = ROOT / "examples" / "cases"
SETS = ["federal", "wisconsin", "milwaukee-back-on-track", "california", "san-bernardino"]

# As tests/i18n/test_spanish_explanations.py: the words of the English sentence templates.
ENGLISH = re.compile(
    r"\b(the|is|are|and|or|not|of|to|it|because|than|whose|among|where|whichever|otherwise|"
    r"days?|months?|known|set|has|have|been|does|done|applies|apply|held|waits?|recommended|below|"
    r"above|due|by|law|case|policy|nothing|always|never|plus|minus|times|divided|means|true|"
    r"action|exactly|least|most|more|less|after|before|later|earlier|once|would|if|rose|fell|"
    r"past|moved|changes|else|were)\b"
)
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def decide(policy: str, case: str, **arrears: str) -> Decision:
    data: dict[str, Any] = yaml.safe_load((CASES / case).read_text(encoding="utf-8"))
    data["arrears"].update(arrears)
    return PolicyVersions(ROOT / "policies" / policy).evaluate(data)


def all_decisions() -> list[tuple[str, Decision]]:
    """Every example case under every set that decides it, and variants close to thresholds."""
    found = []
    cases = sorted(
        p
        for folder in ("cases", "cases-v2", "cases-ca")
        for p in (ROOT / "examples" / folder).glob("[0-9]*.yaml")
    )
    for policy in SETS:
        versions = PolicyVersions(ROOT / "policies" / policy)
        for case in cases:
            try:
                found.append((f"{policy} {case.name}", versions.evaluate(case)))
            except CSPolicyError:  # a case of another state, or dated before the set applies
                continue
        if policy in ("california", "san-bernardino"):  # the variants are of a Wisconsin case
            continue
        for family, state in (("480.00", "0"), ("2400.00", "0"), ("2500.00", "0"), ("1740.00", "700.00")):
            made = decide(policy, "04-passport-level.yaml", family_owed=family, state_owed=state)
            found.append((f"{policy} 04 {family}/{state}", made))
    return found


@pytest.fixture(scope="module")
def decisions() -> list[tuple[str, Decision]]:
    return all_decisions()


def test_the_same_near_misses_in_both_languages_with_no_english_left(
    decisions: list[tuple[str, Decision]],
) -> None:
    said = 0
    left = []
    for name, made in decisions:
        english, spanish = made.near_misses(), made.near_misses(lang="es")
        same = ("rule", "kind", "action", "condition")
        assert [[getattr(m, k) for k in same] for m in spanish] == [
            [getattr(m, k) for k in same] for m in english
        ]
        titles = translation(made.outcome.policy, "es").rules
        for en, es in zip(english, spanish, strict=True):
            said += 1
            assert es.title == titles[es.rule].title
            assert es.text.startswith(es.title)
            assert es.text != en.text
            for text in (es.text, es.distance):
                if ENGLISH.findall(text) or ISO_DATE.search(text) or en.title in text:
                    left.append(f"{name}: {text!r} ({ENGLISH.findall(text)})")
    assert left == []
    assert said >= 10  # amounts, dates and an incentive are all exercised


def test_an_amount_near_miss_says_the_gap_and_the_limit() -> None:
    made = decide("wisconsin", "04-passport-level.yaml", family_owed="2400.00", state_owed="0")
    spanish = {m.rule: m for m in made.near_misses(lang="es")}
    english = {m.rule: m for m in made.near_misses()}
    miss = spanish["passport-denial"]
    assert miss.distance == english["passport-denial"].distance == "$100.00"
    assert "($2,400.00) sube más de $100.00, por encima del" in miss.text  # "de el" contracted
    assert "($2,500)" in miss.text
    assert miss.text.startswith("Negar el pasaporte: se aplica si ")


def test_exactly_at_a_strict_limit() -> None:
    made = decide("wisconsin", "04-passport-level.yaml", family_owed="2500.00", state_owed="0")
    english = {m.rule: m for m in made.near_misses()}
    spanish = {m.rule: m for m in made.near_misses(lang="es")}
    assert "it is exactly at it" in english["passport-denial"].text
    assert "ahora está justo en ese valor" in spanish["passport-denial"].text
    assert "pasa del límite" in spanish["passport-denial"].text


def test_a_wait_is_said_with_a_spanish_date() -> None:
    made = PolicyVersions(ROOT / "policies" / "wisconsin").evaluate(
        ROOT / "examples" / "cases-v2" / "11-active-duty-parent.yaml"
    )
    english = {m.rule: m for m in made.near_misses()}
    spanish = {m.rule: m for m in made.near_misses(lang="es")}
    rule = next(r for r, m in english.items() if "nothing else changes" in m.text)
    on = re.search(r"\(on (\d{4})-(\d{2})-(\d{2})\)", english[rule].text)
    assert on is not None
    months = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto"]
    months += ["septiembre", "octubre", "noviembre", "diciembre"]
    day = f"{int(on.group(3))} de {months[int(on.group(2)) - 1]} de {on.group(1)}"
    days = english[rule].distance.split()[0]
    assert spanish[rule].distance == f"{days} días"
    assert f"no cambia nada más durante {days} días (hasta el {day})" in spanish[rule].text


def test_an_incentive_is_the_catalogues_phrase() -> None:
    made = PolicyVersions(ROOT / "policies" / "san-bernardino").evaluate(
        CASES / "15-license-release-invite.yaml"
    )
    english = [m for m in made.near_misses() if m.kind == "incentive"]
    spanish = [m for m in made.near_misses(lang="es") if m.kind == "incentive"]
    assert english and len(spanish) == len(english)
    texts = translation(made.outcome.policy, "es")
    phrases = {p for f in texts.fields.values() for p in f.near_miss.values()}
    phrases |= {p for f in texts.schema_derived.values() for p in f.near_miss.values()}
    for miss in spanish:
        assert miss.text.startswith(f"{texts.rules[miss.rule].title}: es posible si ")
        assert miss.text.removeprefix(f"{texts.rules[miss.rule].title}: es posible si ") in phrases
    assert spanish[0].distance != english[0].distance  # the choice's Spanish word


def test_english_is_unchanged_by_asking_for_spanish() -> None:
    made = decide("federal", "04-passport-level.yaml", family_owed="480.00", state_owed="0")
    before = [m.model_dump() for m in made.near_misses()]
    made.near_misses(lang="es")
    assert [m.model_dump() for m in made.near_misses(lang="en")] == before
    assert "would apply if" in before[0]["text"]


def test_an_unknown_language_and_a_missing_translation(tmp_path: Path) -> None:
    made = decide("federal", "04-passport-level.yaml", family_owed="480.00", state_owed="0")
    with pytest.raises(ValueError, match="no language 'fr'"):
        made.near_misses(lang="fr")
    target = tmp_path / "federal"
    shutil.copytree(ROOT / "policies" / "federal", target, ignore=shutil.ignore_patterns("*.test.yaml"))
    (target / "policy.es.yaml").unlink()
    data: dict[str, Any] = yaml.safe_load((CASES / "04-passport-level.yaml").read_text(encoding="utf-8"))
    data["arrears"].update(family_owed="480.00", state_owed="0")
    untranslated = PolicyVersions(target).evaluate(data)
    assert untranslated.near_misses()  # English still works
    with pytest.raises(PolicyError) as exc:
        untranslated.near_misses(lang="es")
    assert Code.MISSING_TRANSLATION in {p.code for p in exc.value.problems}
