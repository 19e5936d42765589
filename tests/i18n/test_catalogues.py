"""Translation catalogues: read, validated with located problems, checked for missing and unknown ids."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cspolicy.cli import main
from cspolicy.diagnostics import Code, PolicyError
from cspolicy.engine.policy import load_policy
from cspolicy.engine.translations import translation, translation_problems
from cspolicy.source.actions import ACTION_MEANINGS
from cspolicy.source.caseschema import SHIPPED_DIRECTORY, shipped_schema_names
from cspolicy.source.loading import policy_files
from cspolicy.source.translations import VocabularyCatalogue, read_catalogue, vocabulary_path

from helpers import ROOT

POLICIES = ROOT / "policies"
SHIPPED_SETS = [
    "federal",
    "wisconsin/2024.1",
    "wisconsin/2025.1",
    "milwaukee-back-on-track",
    "california",
    "san-bernardino",
    "reforms/ca-full-pass-through",
    "reforms/ca-good-cause-flex",
    "reforms/ca-in-kind-credit",
]


@pytest.mark.parametrize("name", SHIPPED_SETS)
def test_every_shipped_set_has_every_spanish_text(name: str) -> None:
    policy = load_policy(POLICIES / name)
    assert translation_problems(policy.compiled, "es") == []
    found = translation(policy.compiled, "es")
    # Every rule, parameter, derived value and action of the set has its text.
    assert set(found.rules) >= set(policy.compiled.rules)
    assert set(found.parameters) >= set(policy.compiled.parameters)
    assert set(found.derived) >= set(policy.compiled.derived)
    actions = {rule.rule.action for rule in policy.compiled.rules.values() if rule.rule.action}
    assert actions <= set(found.actions)


def test_check_lang_es_is_clean_on_every_shipped_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(POLICIES), "--lang", "es", "--format", "json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert len(reports) == len(SHIPPED_SETS)
    assert all(r["errors"] == 0 for r in reports)
    assert not [p for r in reports for p in r["problems"] if p["code"] in ("CSP210", "CSP211")]


def test_the_shared_vocabulary_is_translated_whole() -> None:
    vocabulary = read_catalogue(vocabulary_path("es"), VocabularyCatalogue, "es").model
    assert set(vocabulary.actions) == set(ACTION_MEANINGS)


def test_catalogues_are_not_policy_files_or_schemas() -> None:
    assert [p.name for p in policy_files(POLICIES / "federal")] == ["policy.yaml"]
    assert (SHIPPED_DIRECTORY / "child-support" / "v2.es.yaml").is_file()
    assert shipped_schema_names() == ["child-support/v1", "child-support/v2"]


# -- problems, located -------------------------------------------------------------------------
@pytest.fixture
def federal(tmp_path: Path) -> Path:
    """A copy of the shipped federal set (policy and catalogue) to break."""
    target = tmp_path / "federal"
    shutil.copytree(POLICIES / "federal", target, ignore=shutil.ignore_patterns("*.test.yaml"))
    return target


def _problems(path: Path) -> list[str]:
    return [str(p) for p in translation_problems(load_policy(path).compiled, "es")]


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_missing_rule_translation_is_located_at_the_english_title(federal: Path) -> None:
    catalogue = federal / "policy.es.yaml"
    text = catalogue.read_text()
    start = text.index("  passport-denial:\n")
    end = text.index("  state-tax-offset:\n")
    catalogue.write_text(text[:start] + text[end:])
    problems = _problems(federal)
    assert len(problems) == 1
    line = _line_of(federal / "policy.yaml", "title: Certify for passport denial")
    assert problems[0].startswith(f"{federal / 'policy.yaml'}:{line}:")
    assert "rule 'passport-denial' has no Spanish title and summary" in problems[0]
    assert str(catalogue) in problems[0] and problems[0].endswith("[CSP210]")
    with pytest.raises(PolicyError) as raised:  # and no Spanish explanation is written meanwhile
        translation(load_policy(federal).compiled, "es")
    assert [p.code for p in raised.value.problems] == [Code.MISSING_TRANSLATION]


def test_a_missing_negative_of_a_yes_no_value_is_reported(federal: Path) -> None:
    catalogue = federal / "policy.es.yaml"
    text = catalogue.read_text()
    negative = "    negative: el estado no participa en la retención de pagos federales\n"
    assert negative in text
    catalogue.write_text(text.replace(negative, ""))
    (problem,) = _problems(federal)
    assert "parameter 'state_participates_admin_offset' has no Spanish `negative`" in problem


def test_an_unknown_id_is_an_error_with_a_suggestion(federal: Path) -> None:
    catalogue = federal / "policy.es.yaml"
    text = catalogue.read_text().replace("  passport-denial:\n", "  passport-denail:\n")
    catalogue.write_text(text)
    problems = _problems(federal)
    line = _line_of(catalogue, "passport-denail:")
    unknown = [p for p in problems if p.endswith("[CSP211]")]
    assert unknown == [
        f"{catalogue}:{line}:3: rule 'passport-denail' is not in policy set 'federal'"
        " (did you mean 'passport-denial'?) [CSP211]"
    ]
    assert any("rule 'passport-denial' has no Spanish" in p for p in problems)  # and it is missing


def test_an_unknown_key_in_an_entry_is_a_located_error(federal: Path) -> None:
    catalogue = federal / "policy.es.yaml"
    text = catalogue.read_text().replace("    title: Negar el pasaporte\n", "    titel: Negar el pasaporte\n")
    catalogue.write_text(text)
    problems = _problems(federal)
    line = _line_of(catalogue, "titel:")
    assert f"{catalogue}:{line}:5: unknown key 'titel' (did you mean 'title'?) [CSP104]" in problems


def test_a_catalogue_in_another_language_is_refused(federal: Path) -> None:
    catalogue = federal / "policy.es.yaml"
    catalogue.write_text(catalogue.read_text().replace("lang: es\n", "lang: fr\n"))
    problems = _problems(federal)
    line = _line_of(catalogue, "lang: fr")
    assert f"{catalogue}:{line}:7: catalogue must say `lang: es` (its file name does) [CSP110]" in problems


def test_check_command_reports_translations_only_with_lang(
    federal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (federal / "policy.es.yaml").unlink()
    assert main(["check", str(federal)]) == 0
    capsys.readouterr()
    assert main(["check", str(federal), "--lang", "es"]) == 1
    err = capsys.readouterr().err
    assert err.count("[CSP210]") > 30  # every rule, parameter and derived value of the set
    assert "rule 'income-withholding' has no Spanish title and summary" in err


# -- case schema catalogues ------------------------------------------------------------------
SCHEMA_POLICY = """\
id: schema-test
version: "1"
title: Schema test
jurisdiction: {state: WI}
effective: {from: 2020-01-01}
case_schema: ../schema/v1.yaml
sources:
  law: {title: A law, url: "https://example.org/law"}
rules:
  - id: employer-known
    kind: automatic
    title: Employer known
    summary: The employer is known.
    when: paying_parent.employer_known and paying_parent.employment == "employed"
    action: initiate_income_withholding
    cite: [law]
"""
SCHEMA_CATALOGUE = """\
lang: es
rules:
  employer-known: {title: Se conoce al empleador, summary: Se conoce al empleador.}
"""


@pytest.fixture
def schema_set(tmp_path: Path) -> Path:
    """A one-rule policy (in `set/`) on a copy of child-support/v1 and its Spanish catalogue (in `schema/`)."""
    (tmp_path / "schema").mkdir()
    for name in ("v1.yaml", "v1.es.yaml"):
        shutil.copy(SHIPPED_DIRECTORY / "child-support" / name, tmp_path / "schema" / name)
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "policy.yaml").write_text(SCHEMA_POLICY)
    (tmp_path / "set" / "policy.es.yaml").write_text(SCHEMA_CATALOGUE)
    return tmp_path


def test_a_schema_catalogue_needs_every_choice_and_negative(schema_set: Path) -> None:
    assert _problems(schema_set / "set") == []
    schema = schema_set / "set" / ".." / "schema" / "v1.yaml"  # as `case_schema:` names it
    catalogue = schema.with_name("v1.es.yaml")
    text = catalogue.read_text()
    text = text.replace("      unemployed: sin empleo\n", "")
    text = text.replace("    negative: no se conoce al empleador\n", "")
    catalogue.write_text(text)
    problems = _problems(schema_set / "set")
    schema_line = _line_of(schema, "employment:")
    known_line = _line_of(schema, "employer_known:")
    assert problems == [
        f"{schema}:{schema_line}:5: field 'paying_parent.employment' has no Spanish"
        f" word for choice 'unemployed'; add it under `fields:` in {catalogue} [CSP210]",
        f"{schema}:{known_line}:5: field 'paying_parent.employer_known' has no Spanish"
        f" `negative` (the sentence that says it is false); add it under `fields:` in {catalogue} [CSP210]",
    ]


def test_a_schema_catalogue_may_not_name_unknown_fields_or_choices(schema_set: Path) -> None:
    catalogue = schema_set / "schema" / "v1.es.yaml"
    text = catalogue.read_text()
    text = text.replace("  paying_parent.employer_known:\n", "  paying_parent.employer_knwn:\n")
    text = text.replace("      unemployed: sin empleo\n", "      unemploied: sin empleo\n")
    catalogue.write_text(text)
    unknown = [p for p in _problems(schema_set / "set") if p.endswith("[CSP211]")]
    assert unknown == [
        f"{catalogue}:{_line_of(catalogue, 'unemploied')}:7: choice 'unemploied' is not in case schema"
        " child-support 1 (did you mean 'unemployed'?) [CSP211]",
        f"{catalogue}:{_line_of(catalogue, 'employer_knwn')}:3: field 'paying_parent.employer_knwn' is not"
        " in case schema child-support 1 (did you mean 'paying_parent.employer_known'?) [CSP211]",
    ]


@pytest.mark.parametrize("path", sorted(SHIPPED_DIRECTORY.rglob("*.es.yaml")), ids=lambda p: p.name)
def test_schema_catalogues_validate_against_their_json_schema(path: Path) -> None:
    import jsonschema

    from cspolicy.authoring.jsonschema import json_schema
    from cspolicy.source.yamlsource import load_yaml_file

    first = path.read_text(encoding="utf-8").splitlines()[0]
    target = (path.parent / first.split("=", 1)[1].strip()).resolve()
    assert target == (ROOT / "schema" / "schema-translation.schema.json").resolve()
    data, _, _ = load_yaml_file(path)
    validator = jsonschema.Draft202012Validator(json_schema("schema-translation"))
    assert [e.message for e in validator.iter_errors(data)] == []
    assert not validator.is_valid({**data, "fields": {"case_id": {"lable": "x"}}})
