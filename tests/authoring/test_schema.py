"""JSON Schemas: committed files match the models, shipped files validate and carry modelines."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cspolicy.authoring.jsonschema import KINDS, json_schema, schema_file_name, schema_text
from cspolicy.cli import main
from cspolicy.source.yamlsource import load_yaml_file

from helpers import ROOT

SCHEMA_DIR = ROOT / "schema"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)\s*$")
SHIPPED = sorted((ROOT / "policies").rglob("*.yaml"))


def kind_of(path: Path) -> str:
    if path.name.endswith(".es.yaml"):
        return "translation"
    return "test" if path.name.endswith(".test.yaml") else "policy"


def plain(value: Any) -> Any:
    """YAML-loaded data as the JSON an editor validates (dates as text, numbers as numbers)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


@pytest.mark.parametrize("kind", list(KINDS))
def test_committed_schema_is_in_sync_with_the_models(kind: str) -> None:
    committed = SCHEMA_DIR / schema_file_name(kind)
    assert committed.read_text(encoding="utf-8") == schema_text(kind), (
        f"{committed} is out of date: run `make schema` (cspolicy schema all -o schema) and commit it"
    )


def test_schema_command_writes_and_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "all", "-o", str(tmp_path)]) == 0
    for kind in KINDS:
        assert (tmp_path / schema_file_name(kind)).read_text(encoding="utf-8") == schema_text(kind)
    capsys.readouterr()
    assert main(["schema", "snapshot"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "cspolicy case snapshot (v1)"
    assert "case_id" in printed["required"]
    assert main(["schema", "policy", "-o", str(tmp_path / "p.json")]) == 0
    assert json.loads((tmp_path / "p.json").read_text())["$id"] == "policy.schema.json"
    assert main(["schema", "all"]) == 2


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_file_has_a_modeline_to_its_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{path}: first line must be `# yaml-language-server: $schema=...`"
    target = (path.parent / match.group(1)).resolve()
    assert target.exists(), f"{path}: modeline points at missing {target}"
    assert target == (SCHEMA_DIR / schema_file_name(kind_of(path))).resolve()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_file_validates_against_its_schema(path: Path) -> None:
    data, _, _ = load_yaml_file(path)
    validator = jsonschema.Draft202012Validator(json_schema(kind_of(path)))
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(plain(data))]
    assert problems == []


def test_schema_accepts_the_shorthands_and_rejects_unknown_keys() -> None:
    validator = jsonschema.Draft202012Validator(json_schema("policy"))
    rule = {
        "id": "r",
        "kind": "threshold",
        "title": "T",
        "summary": "S",
        "when": "arrears.total > 0",
        "action": "send_delinquency_notice",
        "cite": ["law", {"source": "law", "pinpoint": "(a)"}],
    }
    assert validator.is_valid({"id": "x", "version": 2025.1, "rules": [rule]})
    errors = list(validator.iter_errors({"rules": [{**rule, "wehn": "x"}]}))
    assert [e.message for e in errors] == ["Additional properties are not allowed ('wehn' was unexpected)"]
    test_validator = jsonschema.Draft202012Validator(json_schema("test"))
    bad_snapshot = {
        "cases": [{"name": "n", "snapshot": {"case_id": "1", "as_of": "2025-01-01"}, "expect": {}}]
    }
    assert not test_validator.is_valid(bad_snapshot)  # an inline snapshot is checked as a snapshot
    assert test_validator.is_valid({"cases": [{"name": "n", "snapshot": "cases/one.yaml", "expect": {}}]})


def test_example_snapshots_and_caseload_validate_against_the_snapshot_schema() -> None:
    validator = jsonschema.Draft202012Validator(json_schema("snapshot"))
    for path in sorted((ROOT / "examples" / "cases").glob("*.yaml")):
        data, _, _ = load_yaml_file(path)
        assert [e.message for e in validator.iter_errors(plain(data))] == [], path
    caseload, _, _ = load_yaml_file(ROOT / "examples" / "caseload.yaml")
    assert len(caseload) >= 30
    for entry in caseload:
        assert [e.message for e in validator.iter_errors(plain(entry))] == [], entry["case_id"]
