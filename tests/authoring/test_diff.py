"""`cspolicy diff`: the known differences between the two toy versions, in words and as JSON."""

from __future__ import annotations

import json

import pytest

from cspolicy import load_policy
from cspolicy.authoring.diff import diff_policies
from cspolicy.cli import main

from helpers import FIXTURES, ROOT

VERSIONED = FIXTURES / "authoring" / "versioned"


def test_known_differences_between_the_toy_versions() -> None:
    diff = diff_policies(load_policy(VERSIONED / "v1"), load_policy(VERSIONED / "v2"))
    assert diff.names("rule", "added") == ["et-hold"]
    assert diff.names("rule", "removed") == ["license"]
    assert diff.names("rule", "changed") == ["passport"]
    assert diff.names("parameter", "changed") == ["notice_threshold", "credit_multiple"]
    assert diff.names("parameter", "added") == diff.names("parameter", "removed") == []
    assert diff.names("source", "added") == ["et-rule"]
    assert diff.names("source", "removed") == ["old-law"]
    assert diff.names("source", "changed") == []
    (passport,) = diff.of("rule", "changed")
    assert passport.details == [
        "title: Certify for passport denial → Certify for passport denial (over $2,500)",
        "new unless condition: paying_parent.military_active_duty  (the paying parent is on active military duty)",
    ]
    threshold, multiple = diff.of("parameter", "changed")
    assert threshold.details == [
        "from 2025-07-01: $500 → $300",
        "was: $500 from 2020-01-01",
        "now: $500 from 2020-01-01 until 2025-07-01; $300 from 2025-07-01",
        "read by rule notice",
    ]
    assert multiple.details[0] == "from 2020-01-01: 2 → 3"
    (hold,) = diff.of("rule", "added")
    assert hold.details == ["a hold on passport", "when the employment and training status is enrolled"]
    (header,) = diff.of("policy")
    assert header.details == [
        "version: '1' → '2'",
        "in force: from 2024-01-01 until 2025-01-01 → from 2025-01-01",
    ]


def test_a_version_against_itself_has_no_differences() -> None:
    policy = load_policy(VERSIONED / "v2")
    diff = diff_policies(policy, policy)
    assert diff.empty
    assert diff.lines()[-1].startswith("No differences")


def test_cli_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", f"{VERSIONED}@2024-06-01", f"{VERSIONED}@2025-06-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("toy 1 (in force [2024-01-01, 2025-01-01)) → toy 2 (in force [2025-01-01, …))")
    for line in (
        "Rules (1 added, 1 removed, 1 changed)",
        "  + et-hold: Parent is enrolled in E&T [toy]",
        "  - license: Start license suspension [toy]",
        "  ~ passport: Certify for passport denial (over $2,500) [toy]",
        "Parameters (2 changed)",
        "      from 2025-07-01: $500 → $300",
        "Sources (1 added, 1 removed)",
        "  - old-law: Toy Stat. § 9 — license suspension (repealed) [toy]",
    ):
        assert line + "\n" in out


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(VERSIONED / "v1"), str(VERSIONED / "v2"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["old"]["version"] == "1" and data["new"]["version"] == "2"
    assert data["new"]["effective"] == {"from": "2025-01-01", "to": None}
    assert data["summary"]["rule"] == {"added": 1, "removed": 1, "changed": 1}
    assert data["summary"]["parameter"] == {"added": 0, "removed": 0, "changed": 2}
    assert data["summary"]["source"] == {"added": 1, "removed": 1, "changed": 0}
    changes = {(c["what"], c["name"]): c["change"] for c in data["changes"]}
    assert changes[("rule", "license")] == "removed"


def test_cli_bad_spec_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", f"{VERSIONED}@2023-01-01", str(VERSIONED)]) == 1
    assert "no version in force on 2023-01-01" in capsys.readouterr().err


def test_shipped_wisconsin_versions_differ_by_the_et_rules() -> None:
    wisconsin = ROOT / "policies" / "wisconsin"
    diff = diff_policies(load_policy(wisconsin, "2025-01-12"), load_policy(wisconsin, "2025-01-13"))
    assert {"employment-training-engagement-hold", "employment-training-warm-handoff"} <= set(
        diff.names("rule", "added")
    )
    assert diff.names("rule", "removed") == []
