"""`cspolicy impact`: cases gaining and losing actions between the two toy versions, every format."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from cspolicy import load_policy
from cspolicy.caseload.impact import ImpactReport, count_rows, measure_impact, read_caseload
from cspolicy.caseload.readers import write_csv
from cspolicy.caseload.tables import snapshots_to_frame
from cspolicy.cli import main
from cspolicy.engine.snapshot import CaseSnapshot

from helpers import FIXTURES, ROOT

VERSIONED = FIXTURES / "authoring" / "versioned"


def case(case_id: str, as_of: str, **parts: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case_id": case_id,
        "as_of": as_of,
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2020-01-01", "monthly_amount": "100.00"},
    }
    data.update(parts)
    return data


# What each case does between toy v1 and v2 (see the fixture's header comment):
CASES = [
    # notice, passport, license → notice; passport held by the new E&T hold
    case("I-1", "2025-08-01", arrears={"family_owed": "3000.00"},
         paying_parent={"programs": {"employment_training": "enrolled"}}),
    # notice, passport, license → notice (passport now `unless` active duty)
    case("I-2", "2025-08-01", arrears={"family_owed": "3000.00"}, paying_parent={"military_active_duty": True}),
    # nothing → notice (v2's threshold is $300 from 2025-07-01)
    case("I-3", "2025-08-01", arrears={"family_owed": "400.00"}),
    # notice and credit under both; the credit grows from 2× to 3× the $100 paid
    case("I-4", "2025-03-10", arrears={"state_owed": "1000.00", "state_owed_pre_1996": "1000.00"},
         payments=[{"date": "2025-03-05", "amount": "100.00", "applied_to": "family_arrears"}]),
    # dated in v1's time: still evaluated under v2 (a what-if); loses the repealed license rule
    case("I-5", "2024-06-01", arrears={"family_owed": "2600.00"}),
]  # fmt: skip
BAD = {"case_id": "I-6", "as_of": "2025-08-01", "jurisdiction": {"state": "WI"}}


def write_yaml(path: Path, cases: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump(cases, sort_keys=False), encoding="utf-8")
    return path


def impact(path: Path, **options: Any) -> ImpactReport:
    old, new = load_policy(VERSIONED / "v1"), load_policy(VERSIONED / "v2")
    return measure_impact(old, new, read_caseload(path), **options)


def test_known_impact_of_the_toy_change(tmp_path: Path) -> None:
    report = impact(write_yaml(tmp_path / "caseload.yaml", [*CASES, BAD]))
    assert (report.rows, report.evaluated, report.changed_cases) == (6, 5, 4)
    moved = {
        a.action: (a.before, a.after, a.gained, a.lost, a.held_before, a.held_after)
        for a in report.sorted_actions()
    }
    assert moved == {
        "initiate_license_suspension": (3, 0, 0, 3, 0, 0),
        "certify_passport_denial": (3, 1, 0, 2, 0, 1),
        "send_delinquency_notice": (4, 5, 1, 0, 0, 0),
        "eligible_back_on_track": (1, 1, 0, 0, 0, 0),
    }
    assert report.actions["initiate_license_suspension"].lost_examples == ["I-1", "I-2", "I-5"]
    assert report.actions["certify_passport_denial"].lost_examples == ["I-1", "I-2"]
    assert report.actions["send_delinquency_notice"].gained_examples == ["I-3"]
    (credit,) = report.outputs.values()
    assert (credit.action, credit.output, credit.before, credit.after) == (
        "eligible_back_on_track", "credit", Decimal("200.00"), Decimal("300.00"),
    )  # fmt: skip
    (error,) = report.errors
    assert (error.row, error.case_id) == (6, "I-6")
    assert "order: required field is missing" in error.reason


def test_every_caseload_format_gives_the_same_impact(tmp_path: Path) -> None:
    snapshots = [CaseSnapshot.parse(c) for c in CASES]
    expected = impact(write_yaml(tmp_path / "caseload.yaml", CASES)).to_dict()
    (tmp_path / "caseload.json").write_text(json.dumps(CASES), encoding="utf-8")
    (tmp_path / "caseload.jsonl").write_text("\n".join(json.dumps(c) for c in CASES) + "\n", encoding="utf-8")
    write_csv(snapshots_to_frame(snapshots), tmp_path / "caseload.csv")
    snapshots_to_frame(snapshots).write_parquet(tmp_path / "caseload.parquet")
    (tmp_path / "wrapped.yaml").write_text(yaml.safe_dump({"cases": CASES}), encoding="utf-8")
    for name in ("caseload.json", "caseload.jsonl", "caseload.csv", "caseload.parquet", "wrapped.yaml"):
        assert impact(tmp_path / name).to_dict() == expected, name
    # the progress bar's total, where it is cheap to know
    assert [
        count_rows(tmp_path / f"caseload.{suffix}") for suffix in ("jsonl", "csv", "parquet", "yaml")
    ] == [
        5,
        5,
        5,
        None,
    ]


def test_as_of_redates_every_case(tmp_path: Path) -> None:
    report = impact(write_yaml(tmp_path / "caseload.yaml", CASES), as_of=dt.date(2025, 1, 15))
    notice = report.actions["send_delinquency_notice"]
    assert (notice.gained, notice.lost) == (0, 0)  # v2's $300 threshold starts only on 2025-07-01


def test_cli_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    caseload = write_yaml(tmp_path / "caseload.yaml", [*CASES, BAD])
    args = [
        "impact",
        "--caseload",
        str(caseload),
        "--from",
        str(VERSIONED / "v1"),
        "--to",
        f"{VERSIONED}@2025-01-01",
    ]
    assert main(args) == 1  # a bad row is reported and makes the run fail
    captured = capsys.readouterr()
    for line in (
        "Impact of toy 1 → toy 2 on " + str(caseload),
        "6 cases: 5 evaluated, 1 with errors; 4 decided differently",
        "  initiate_license_suspension: recommended for 3 → 0 cases (lost 3)",
        "      lost: I-1, I-2, I-5",
        "  certify_passport_denial: recommended for 3 → 1 cases (lost 2); held for 0 → 1",
        "  send_delinquency_notice: recommended for 4 → 5 cases (gained 1)",
        "      gained: I-3",
        "  eligible_back_on_track 1",
        "  eligible_back_on_track.credit: $200.00 → $300.00 (+$100.00; 1 → 1 cases)",
    ):
        assert line + "\n" in captured.out
    assert "row 6 (case I-6): order: required field is missing" in captured.err
    assert main([*args, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] == 6 and data["evaluated"] == 5
    assert data["errors"][0]["row"] == 6
    assert data["actions"][0] == {
        "action": "initiate_license_suspension",
        "before": 3,
        "after": 0,
        "gained": 0,
        "lost": 3,
        "held_before": 0,
        "held_after": 0,
        "gained_examples": [],
        "lost_examples": ["I-1", "I-2", "I-5"],
    }
    assert data["outputs"][0]["change"] == "100.00"


def test_cli_unreadable_caseload_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--from", str(VERSIONED / "v1"), "--to", str(VERSIONED / "v2")]
    assert main(["impact", "--caseload", str(tmp_path / "none.yaml"), *args]) == 1
    assert "no such caseload file" in capsys.readouterr().err
    (tmp_path / "map.yaml").write_text("case_id: x\n", encoding="utf-8")
    assert main(["impact", "--caseload", str(tmp_path / "map.yaml"), *args]) == 1
    assert "a caseload file holds a list of snapshots" in capsys.readouterr().err
    assert main(["impact", "--caseload", str(tmp_path / "map.yaml"), "--as-of", "soon", *args]) == 2


def test_example_caseload_shows_the_wisconsin_et_change(capsys: pytest.CaptureFixture[str]) -> None:
    wisconsin = ROOT / "policies" / "wisconsin"
    caseload = ROOT / "examples" / "caseload.yaml"
    report = measure_impact(
        load_policy(wisconsin, "2025-01-12"), load_policy(wisconsin, "2025-01-13"), read_caseload(caseload)
    )
    assert report.rows == report.evaluated >= 30 and not report.errors
    assert report.actions["arrange_warm_handoff"].gained > 0
    assert report.actions["initiate_license_suspension"].lost > 0
    assert (
        report.actions["initiate_license_suspension"].held_after
        > report.actions["initiate_license_suspension"].held_before
    )


def test_fast_outcome_agrees_with_the_explained_decision() -> None:
    from cspolicy.caseload.impact import decide, outcome

    cases = [c for c in read_caseload(ROOT / "examples" / "caseload.yaml") if isinstance(c, CaseSnapshot)]
    cases += [CaseSnapshot.parse(c) for c in CASES]
    policies = [load_policy(ROOT / "policies" / "wisconsin" / v) for v in ("2024.1", "2025.1")]
    policies += [load_policy(VERSIONED / v) for v in ("v1", "v2")]
    for policy in policies:
        for snapshot in cases:
            fast, full = outcome(policy, snapshot), decide(policy, snapshot)
            assert fast.held == {h.action for h in full.held}
            assert {
                code: {k: str(v) for k, v in outputs.items()} for code, outputs in fast.actions.items()
            } == {a.action: {k: str(v) for k, v in a.outputs.items()} for a in full.actions}
