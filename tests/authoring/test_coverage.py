"""Coverage of the YAML tests: rules fired / held / not applicable, comparison boundaries, --fail-under."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cspolicy.authoring.coverage import Coverage, source_text
from cspolicy.authoring.testing import run_tests
from cspolicy.cli import main
from cspolicy.expressions import parse_expression

from helpers import FIXTURES, ROOT

AUTHORING = FIXTURES / "authoring"
COVERAGE = AUTHORING / "coverage"


@pytest.fixture(scope="module")
def coverage() -> Coverage:
    collected = Coverage()
    results = run_tests(COVERAGE, collected)
    assert all(r.passed for r in results)
    return collected


def test_rule_tallies(coverage: Coverage) -> None:
    (file,) = coverage.files.values()
    assert file.file.endswith("tests/fixtures/authoring/coverage/policy.yaml")
    tallies = {t.rule: (t.fired, t.held, t.waiting, t.not_applicable, t.covered) for t in file.rules.values()}
    assert tallies == {
        "notice": (1, 0, 0, 1, True),
        "never": (0, 0, 0, 2, False),
        "license": (0, 1, 0, 1, False),  # applied once, but only ever held
        "plan-hold": (1, 0, 0, 1, True),
        "steady": (0, 0, 0, 2, False),
    }
    hold = next(t for t in file.rules.values() if t.rule == "plan-hold")
    assert hold.suppressed == 1
    assert hold.summary() == "applied in 1, held 1 action, did not apply in 1"
    assert coverage.rule_totals == (2, 5)
    assert coverage.rule_percent == 40.0


def test_comparison_boundaries(coverage: Coverage) -> None:
    (file,) = coverage.files.values()
    seen = {c.text: (c.true, c.false, c.on_boundary, c.covered) for c in file.comparisons.values()}
    assert seen == {
        "arrears.total >= 500": (1, 1, 1, True),  # COV-1 sits exactly on $500
        "arrears.total > 1000000": (0, 2, 0, False),
        "payments.days_since_last >= 90": (1, 1, 0, True),
        "count_of(payments, amount >= 100) >= 2": (0, 2, 0, False),
        "amount >= 100": (1, 2, 0, True),  # tried on each payment of COV-2 and on COV-1's one
    }
    assert coverage.comparison_totals == (3, 5)
    assert coverage.comparison_percent == 60.0
    never = next(c for c in file.comparisons.values() if c.text == "arrears.total > 1000000")
    assert never.missing() == "only seen false"
    assert never.owner == "rule never when"
    assert str(never.location).endswith("coverage/policy.yaml:28:11")


def test_cli_coverage_report_and_fail_under(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--coverage", str(COVERAGE)]) == 0
    out = capsys.readouterr().out
    assert "rules 2/5 (40%), comparisons 3/5 (60%)" in out
    assert "✘ rule steady never fired: fired in 0, did not apply in 2" in out
    assert "✘ rule license never fired: fired in 0, held in 1, did not apply in 1" in out
    assert "◐ arrears.total > 1000000 (rule never when): only seen false" in out
    assert "✔ rule notice" not in out  # covered rules only with -v
    assert "Rules: 2 of 5 fired (40.0%); comparisons: 3 of 5 seen both true and false (60.0%)" in out
    assert main(["test", "--fail-under", "40", str(COVERAGE)]) == 0
    capsys.readouterr()
    report = tmp_path / "coverage.json"
    assert main(["test", "--fail-under", "41", "--coverage-json", str(report), str(COVERAGE)]) == 1
    assert "rule coverage 40.0% is below --fail-under 41%" in capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["rules"] == {"covered": 2, "total": 5}
    assert data["comparisons"] == {"covered": 3, "total": 5}


def test_an_inherited_rule_is_one_rule_however_many_sets_include_it() -> None:
    collected = Coverage()
    results = run_tests(ROOT / "policies" / "wisconsin", collected)
    assert results and all(r.passed for r in results)
    federal = [f for f in collected.files if f.endswith("policies/federal/policy.yaml")]
    assert len(federal) == 1  # reached through both Wisconsin versions, counted once


def test_shipped_policies_reach_full_rule_coverage() -> None:
    collected = Coverage()
    results = run_tests(ROOT / "policies", collected)
    assert all(r.passed for r in results)
    gaps = [
        f"{f.file}: {t.rule}" for f in collected.files.values() for t in f.rules.values() if not t.covered
    ]
    assert gaps == []


@pytest.mark.parametrize(
    "text",
    [
        "arrears.total >= params.passport_denial_threshold",
        "min(2 * payments.to_family_arrears_in_period, arrears.state_owed_pre_1996)",
        "(arrears.total - 1) / order.monthly_amount > 3",
        'any_of(paying_parent.licenses, status == "active")',
        'not paying_parent.incarcerated and public_assistance in ["current", "former"]',
    ],
)
def test_comparisons_are_named_in_policy_syntax(text: str) -> None:
    assert source_text(parse_expression(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "arrears.total - (arrears.family_owed - 1)",
        "(arrears.total + 1) * 2 <= -order.monthly_amount",
        "not (arrears.total > 0 or paying_parent.incarcerated)",
        '(arrears.total > 0 or paying_parent.incarcerated) and public_assistance == "never"',
    ],
)
def test_source_text_keeps_needed_parentheses_only(text: str) -> None:
    assert source_text(parse_expression(text)) == text
