"""Snapshot migrations between case schemas: child-support/v1 → child-support/v2.

A migration never loses a value: every field of the old snapshot is kept as it was written, and
the new schema's fields that can be known from the old ones are added. What cannot be known
(a date the old schema never recorded) is left absent — null, never a guess — and reported as a
note for the agency to supply. This module knows the child-support domain on purpose.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from cspolicy.diagnostics import Code, Location, Problem, SnapshotError
from cspolicy.engine.caseschema import CaseSchema, case_schema
from cspolicy.engine.snapshot import CaseSnapshot


@dataclass
class Migrated:
    """A migrated snapshot (plain data, as it would be written) and the notes for the agency."""

    data: dict[str, Any]
    snapshot: CaseSnapshot
    notes: list[str] = field(default_factory=list)


def _v1_to_v2(data: dict[str, Any], old: CaseSnapshot) -> tuple[dict[str, Any], list[str]]:
    facts = old.facts()
    out = copy.deepcopy(data)
    notes: list[str] = []
    arrears = out.setdefault("arrears", {})
    arrears.setdefault("support_family_owed", facts["arrears.family_owed"])
    arrears.setdefault("support_state_owed", facts["arrears.state_owed"])
    for name in ("birth_costs", "fees", "interest"):
        arrears.setdefault(name, Decimal("0"))
    notes.append(
        "arrears: v1 amounts are taken as support principal (birth costs, fees and interest 0);"
        " v1 data may have mixed them — correct the breakdown where the source system has it"
    )
    out.setdefault("ivd", {}).setdefault("services", "open")
    if facts["paying_parent.address_known"] or facts["paying_parent.employer_known"]:
        notes.append(
            "paying_parent.located_on: the parent is located (address or employer known) but v1 has"
            " no date; the 45 CFR 303.6(c)(2) clock cannot be computed until the date is supplied"
        )
    since = facts.get("arrears.delinquent_since")
    if since is not None:
        notes.append(
            "arrears.delinquency_identified_on: not set; v1's start of the delinquency"
            f" ({since.isoformat()}) is only an approximation, not the legal date"
        )
    return out, notes


MIGRATIONS: dict[
    tuple[str, str], Callable[[dict[str, Any], CaseSnapshot], tuple[dict[str, Any], list[str]]]
] = {
    ("child-support/v1", "child-support/v2"): _v1_to_v2,
}


def migrate_snapshot(
    data: dict[str, Any],
    to: str = "child-support/v2",
    source: str = "<snapshot>",
    *,
    from_: str = "child-support/v1",
) -> Migrated:
    """Migrate one snapshot (a mapping) from schema `from_` to `to`.

    The input must be valid under `from_` and the output is validated under `to`; either failure
    is a SnapshotError naming the fields. ValueError for a migration that does not exist.
    """
    step = MIGRATIONS.get((from_, to))
    if step is None:
        known = ", ".join(f"{a} → {b}" for a, b in MIGRATIONS)
        raise ValueError(f"no migration from {from_} to {to}; the migrations are: {known}")
    old_schema: CaseSchema = case_schema(from_)
    new_schema: CaseSchema = case_schema(to)
    old = CaseSnapshot.parse(data, source=source, schema=old_schema)
    migrated, notes = step(data, old)
    try:
        new = CaseSnapshot.parse(migrated, source=source, schema=new_schema)
    except SnapshotError as exc:  # a bug in the migration, not in the data: say so
        raise SnapshotError(
            [
                Problem(
                    Code.SNAPSHOT_INVALID, f"migration to {to} produced an invalid snapshot", Location(source)
                ),
                *exc.problems,
            ]
        ) from None
    return Migrated(migrated, new, notes)


def read_snapshot_data(path: Path) -> dict[str, Any]:
    """The plain data of a snapshot file (YAML or JSON), exact decimals; SnapshotError if unreadable."""
    from cspolicy.source.yamlsource import YamlProblem, load_yaml_file

    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except (OSError, ValueError) as exc:
            raise SnapshotError(
                [Problem(Code.SNAPSHOT_INVALID, f"cannot read snapshot: {exc}", Location(str(path)))]
            ) from None
    else:
        try:
            data, _, problems = load_yaml_file(path)
        except YamlProblem as exc:
            raise SnapshotError([exc.problem]) from None
        if problems:
            raise SnapshotError(problems)
    if not isinstance(data, dict):
        raise SnapshotError(
            [Problem(Code.SNAPSHOT_INVALID, "a snapshot must be a mapping", Location(str(path)))]
        )
    return data


class _Dumper(yaml.SafeDumper):
    """YAML with exact decimals: 350.10 is written 350.10, never a binary float."""


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    text = format(value, "f")
    if "." not in text:
        return dumper.represent_scalar("tag:yaml.org,2002:int", text)
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(Decimal, _decimal)


def snapshot_text(data: dict[str, Any], suffix: str, schema: str = "child-support/v2") -> str:
    """A migrated snapshot as file text: JSON for `.json`, YAML otherwise."""
    if suffix == ".json":
        return json.dumps(data, indent=2, ensure_ascii=False, default=_json_value) + "\n"
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    return f"# case snapshot, schema {schema} (migrated by cspolicy migrate-snapshot)\n{body}"


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
