"""The `cspolicy` command: validate, evaluate, explain and test, with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cspolicy.cli import main

from helpers import FIXTURES, HEADER, write_policy

BASIC = str(FIXTURES / "core" / "basic")
CASES = FIXTURES / "core" / "cases"


def test_validate_ok_and_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", BASIC]) == 0
    assert "valid — basic 1.0, 6 rules" in capsys.readouterr().out
    bad = write_policy(tmp_path, HEADER + "rules:\n  - id: r\n    kind: nope\n")
    assert main(["validate", str(bad)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:10:11: rules.0.kind" in captured.err
    assert "invalid" in captured.out


def test_evaluate_text_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(CASES / "bot.json"), "--policy", BASIC]) == 0
    out = capsys.readouterr().out
    assert "Case T-200" in out
    assert "✔ Eligible for Back on Track" in out
    assert "credit = 150.50" in out
    assert "law: 42 U.S.C. § 652(k)" in out
    assert "waits for send_delinquency_notice" in out


def test_evaluate_json_matches_library(capsys: pytest.CaptureFixture[str]) -> None:
    from cspolicy import load_policy

    assert main(["evaluate", str(CASES / "bot.json"), "--policy", BASIC, "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(load_policy(BASIC).evaluate(CASES / "bot.json").to_json())


def test_evaluate_bad_snapshot_exits_1_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("case_id: X\nas_of: 2025-01-01\n")
    assert main(["evaluate", str(bad), "--policy", BASIC]) == 1
    err = capsys.readouterr().err
    assert "jurisdiction: required field is missing" in err
    assert "Traceback" not in err


def test_explain_why_not(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(CASES / "behind.yaml"), "--policy", BASIC, "--rule", "passport-denial"]) == 0
    out = capsys.readouterr().out
    assert "does not apply" in out
    assert "$1,449.70 below the passport denial threshold" in out
    assert main(["explain", str(CASES / "behind.yaml"), "--policy", BASIC, "--rule", "nope"]) == 1


def test_cli_test_command_reports_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    test_file = tmp_path / "x.test.yaml"
    test_file.write_text(
        f"policy: {BASIC}\n"
        "cases:\n"
        "  - name: wrong expectation\n"
        f"    snapshot: {CASES / 'behind.yaml'}\n"
        "    expect: {actions: [certify_passport_denial]}\n"
        "  - name: right expectation\n"
        f"    snapshot: {CASES / 'behind.yaml'}\n"
        "    expect: {actions: [refer_for_contempt], absent: [certify_passport_denial]}\n"
    )
    assert main(["test", str(test_file)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "expected action certify_passport_denial but it was not recommended" in out
    assert "1 passed, 1 failed" in out
