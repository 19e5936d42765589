"""Migrating snapshots from child-support/v1 to v2: no value lost, the result valid under v2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cspolicy import CaseSnapshot, SnapshotError, load_policy
from cspolicy.cli import main
from cspolicy.engine.caseschema import case_schema
from cspolicy.engine.migrations import migrate_snapshot, read_snapshot_data

from helpers import ROOT

EXAMPLES = sorted((ROOT / "examples" / "cases").glob("*.yaml"))


def leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    """Every value of a dumped snapshot by path (list items by index)."""
    if isinstance(data, dict):
        found: dict[str, Any] = {}
        for key, value in data.items():
            found.update(leaves(value, f"{prefix}{key}."))
        return found
    if isinstance(data, list):
        found = {prefix.rstrip("."): len(data)}
        for index, value in enumerate(data):
            found.update(leaves(value, f"{prefix}{index}."))
        return found
    return {prefix.rstrip("."): data}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_migrates_without_losing_a_value(path: Path) -> None:
    data = read_snapshot_data(path)
    old = CaseSnapshot.from_file(path)
    migrated = migrate_snapshot(data, "child-support/v2", str(path))
    assert migrated.snapshot.case_schema() is case_schema("child-support/v2")
    before = leaves(old.model_dump(mode="json"))
    after = leaves(migrated.snapshot.model_dump(mode="json"))
    assert {key: after.get(key, "<lost>") for key in before} == before
    # v1 facts (derived ones included) read the same under v2
    old_facts, new_facts = old.facts(), migrated.snapshot.facts()
    for key, value in old_facts.items():
        if isinstance(value, list):  # v2 items have more fields; the v1 ones are unchanged
            assert [{k: item[k] for k in v1} for item, v1 in zip(new_facts[key], value, strict=True)] == value
        else:
            assert new_facts[key] == value, key
    assert new_facts["ivd.services"] == "open"
    assert new_facts["arrears.support_family_owed"] == old_facts["arrears.family_owed"]


def test_migrated_examples_decide_the_same_under_the_v2_schema(tmp_path: Path) -> None:
    """The federal rules, read against child-support/v2, decide each migrated example as v1 did."""
    federal = load_policy(ROOT / "policies" / "federal")
    child = tmp_path / "policy.yaml"
    child.write_text(
        f"id: federal-v2\nversion: '1'\ntitle: Federal on v2\njurisdiction: {{state: US}}\n"
        f"extends: {ROOT / 'policies' / 'federal'}\ncase_schema: child-support/v2\n"
        f"effective: {{from: {federal.effective_from}}}\n",
        encoding="utf-8",
    )
    on_v2 = load_policy(child)
    compared = 0
    for path in EXAMPLES:
        old = CaseSnapshot.from_file(path)
        if old.as_of < federal.effective_from:
            continue
        migrated = migrate_snapshot(read_snapshot_data(path), "child-support/v2", str(path))
        before, after = federal.evaluate(old), on_v2.evaluate(migrated.snapshot)
        assert [(a.rule, a.outputs) for a in after.actions] == [(a.rule, a.outputs) for a in before.actions]
        assert [h.rule for h in after.held] == [h.rule for h in before.held]
        compared += 1
    assert compared >= 5


def test_notes_say_what_cannot_be_known() -> None:
    data = read_snapshot_data(EXAMPLES[0])
    data.setdefault("paying_parent", {})["address_known"] = True
    notes = migrate_snapshot(data, "child-support/v2").notes
    assert any("may have mixed" in note for note in notes)
    assert any("located_on" in note and "303.6(c)(2)" in note for note in notes)


def test_an_invalid_v1_snapshot_is_reported() -> None:
    with pytest.raises(SnapshotError):
        migrate_snapshot({"case_id": "x"}, "child-support/v2")
    with pytest.raises(ValueError, match="no migration"):
        migrate_snapshot({}, "child-support/v1", from_="child-support/v2")


def test_migrate_command_writes_valid_v2_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    json_case = tmp_path / "in" / "case.json"
    json_case.parent.mkdir()
    json_case.write_text(json.dumps(read_snapshot_data(EXAMPLES[0]), default=str), encoding="utf-8")
    out = tmp_path / "out"
    assert (
        main(
            ["migrate-snapshot", "--to", "child-support/v2", str(EXAMPLES[0]), str(json_case), "-o", str(out)]
        )
        == 0
    )
    v2 = case_schema("child-support/v2")
    for written in (out / EXAMPLES[0].name, out / "case.json"):
        snapshot = CaseSnapshot.from_file(written, schema=v2)
        assert snapshot.case_id == CaseSnapshot.from_file(EXAMPLES[0]).case_id
    assert main(["migrate-snapshot", "--to", "child-support/v2", str(EXAMPLES[0])]) == 0
    assert "support_family_owed" in capsys.readouterr().out
    assert main(["migrate-snapshot", "--to", "child-support/v2", str(EXAMPLES[0]), str(EXAMPLES[1])]) == 2
