"""YAML policy tests: readable failure reports, exit codes, numeric outputs and bad test files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cspolicy.authoring.testing import compare, load_tests, run_tests, same_value
from cspolicy.cli import main

from helpers import FIXTURES

AUTHORING = FIXTURES / "authoring"
FAILING = AUTHORING / "failing" / "wrong.test.yaml"


def test_a_failing_test_reports_the_difference_and_what_was_got() -> None:
    results = run_tests(FAILING)
    assert [(r.name, r.passed) for r in results] == [
        ("passes - a notice at $600", True),
        ("expects a notice below the threshold", False),
        ("expects license suspension held without a payment plan", False),
    ]
    below = results[1]
    assert str(below.location) == f"{FAILING}:9:5"
    assert below.report() == [
        "expected action send_delinquency_notice but it was not recommended: Send a delinquency notice: "
        "does not apply because past-due support ($200.00) is less than $500 — $300.00 below $500",
        "got (policy cov 1, as of 2025-03-01):",
        "  recommended: none",
    ]
    held = results[2]
    assert held.report() == [
        "expected no initiate_license_suspension but rule 'license' recommended it: "
        "the days since the last payment (120) is at least 90",
        "expected initiate_license_suspension to be held but it was recommended",
        "got (policy cov 1, as of 2025-03-01):",
        "  recommended: initiate_license_suspension",
    ]


def test_cli_exits_non_zero_and_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(FAILING)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {FAILING}:9:5 expects a notice below the threshold" in out
    assert "$300.00 below $500" in out
    assert "expected initiate_license_suspension to be held but it was recommended" in out
    assert "PASS" not in out  # passing cases only with -v
    assert out.rstrip().endswith("1 passed, 2 failed")
    assert main(["test", "-v", str(FAILING)]) == 1
    assert f"PASS {FAILING}:5:5 passes - a notice at $600" in capsys.readouterr().out


def test_passing_tests_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(AUTHORING / "coverage")]) == 0
    assert capsys.readouterr().out.strip() == "2 passed, 0 failed"


def test_outputs_compare_by_value() -> None:
    assert same_value("2.00", "2.00000")
    assert same_value(0, "0.00")
    assert same_value(Decimal("125"), "125.000")
    assert not same_value("2.00", "2.01")
    assert same_value("yes", "yes") and not same_value("yes", "no")


def test_output_mismatch_names_both_values(tmp_path: Path) -> None:
    versioned = AUTHORING / "versioned"
    test_file = tmp_path / "credit.test.yaml"
    test_file.write_text(
        f"policy: {versioned}\n"
        "cases:\n"
        "  - name: credit\n"
        "    snapshot: {case_id: C-1, as_of: 2025-03-10, jurisdiction: {state: WI},"
        " order: {established_on: 2020-01-01, monthly_amount: '0.00'},"
        " arrears: {family_owed: '500.00', state_owed: '900.00', state_owed_pre_1996: '900.00'},"
        " payments: [{date: 2025-03-05, amount: '100.00', applied_to: family_arrears}]}\n"
        "    expect:\n"
        "      outputs: {eligible_back_on_track: {credit: 300}}\n"
        "  - name: credit wrong\n"
        "    snapshot: {case_id: C-2, as_of: 2025-03-10, jurisdiction: {state: WI},"
        " order: {established_on: 2020-01-01, monthly_amount: '0.00'},"
        " arrears: {state_owed: '900.00', state_owed_pre_1996: '900.00'},"
        " payments: [{date: 2025-03-05, amount: '100.00', applied_to: family_arrears}]}\n"
        "    expect:\n"
        "      outputs: {eligible_back_on_track: {credit: '200.00', other: 1}, charge_interest: {x: 1}}\n",
        encoding="utf-8",
    )
    first, second = run_tests(test_file)
    assert first.passed, first.report()
    assert second.failures == [
        "eligible_back_on_track: output credit expected 200.00 but got 300.00",
        "eligible_back_on_track: no output 'other' (outputs: credit)",
        "expected outputs of charge_interest but it was not recommended",
    ]
    assert "  recommended: send_delinquency_notice, eligible_back_on_track (credit=300.00)" in second.report()


def test_waiting_and_only_expectations_are_checked() -> None:
    tests = load_tests(AUTHORING / "coverage" / "policy.test.yaml")
    assert len(tests.model.cases) == 2
    from cspolicy.authoring.testing import Expectation
    from cspolicy.engine.versions import PolicyVersions

    decision = PolicyVersions(AUTHORING / "coverage").evaluate(
        {
            "case_id": "W-1",
            "as_of": "2025-03-01",
            "jurisdiction": {"state": "WI"},
            "order": {"established_on": "2020-01-01", "monthly_amount": "100.00"},
            "arrears": {"family_owed": "700.00"},
            "payments": [{"date": "2024-11-01", "amount": "20.00"}],
        }
    )
    failures = compare(
        Expectation(actions=["send_delinquency_notice"], waiting=["send_delinquency_notice"], only=True),
        decision,
    )
    assert failures == [
        "expected send_delinquency_notice to be waiting but it was recommended",
        "unexpected actions recommended: initiate_license_suspension",
    ]


def test_a_bad_test_file_is_a_located_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.test.yaml"
    bad.write_text("cases:\n  - name: x\n    snapshot: {}\n    expect: {actoins: [a]}\n", encoding="utf-8")
    (result,) = run_tests(bad)
    assert not result.passed
    assert result.error is not None
    assert f"{bad}:4:14: unknown key 'actoins' (did you mean 'actions'?) [CSP104]" in result.error
    assert main(["test", str(bad)]) == 1
    assert "unknown key 'actoins'" in capsys.readouterr().out


def test_a_bad_snapshot_in_a_case_fails_that_case_only(tmp_path: Path) -> None:
    test_file = tmp_path / "snap.test.yaml"
    test_file.write_text(
        f"policy: {AUTHORING / 'coverage'}\n"
        "cases:\n"
        "  - name: no order\n"
        "    snapshot: {case_id: S-1, as_of: 2025-03-01, jurisdiction: {state: WI}}\n"
        "    expect: {}\n"
        "  - name: missing file\n"
        "    snapshot: nowhere.yaml\n"
        "    expect: {}\n",
        encoding="utf-8",
    )
    first, second = run_tests(test_file)
    assert first.error is not None and "order: required field is missing" in first.error
    assert (
        second.error is not None
        and "nowhere.yaml" in second.error
        and "No such file or directory [CSP106]" in second.error
    )


def test_a_directory_without_tests_is_reported(tmp_path: Path) -> None:
    (result,) = run_tests(tmp_path)
    assert result.error is not None and "no *.test.yaml files found" in result.error
