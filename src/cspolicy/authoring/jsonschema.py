"""JSON Schemas of the YAML documents (policy, snapshot, test, case schema), generated from the pydantic models.

Editors (through the `yaml-language-server` modeline) validate and autocomplete with them as an
author types. The models accept a few shorthands through "before" validators (`when: one
expression` for a list of one, `cite: [source-id]` for `{source: source-id}`, a numeric
`version`); pydantic does not see those, so they are added to the generated schema here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cspolicy.authoring.testing import TestFile
from cspolicy.engine.caseschema import CaseSchema
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.source.caseschema import CaseSchemaFile, FieldDoc
from cspolicy.source.documents import PolicyFile
from cspolicy.source.translations import PolicyCatalogue, SchemaCatalogue

DRAFT = "https://json-schema.org/draft/2020-12/schema"
KINDS: dict[str, type[BaseModel]] = {
    "policy": PolicyFile,
    "snapshot": CaseSnapshot,  # the default case schema's model, child-support/v1
    "test": TestFile,
    "case-schema": CaseSchemaFile,
    "translation": PolicyCatalogue,
    "schema-translation": SchemaCatalogue,
}
TITLES = {
    "policy": "cspolicy policy file",
    "snapshot": "cspolicy case snapshot (v1)",
    "test": "cspolicy YAML policy test file (*.test.yaml)",
    "case-schema": "cspolicy case schema (the fields and derived facts of a case)",
    "translation": "cspolicy translation catalogue of a policy set (policy.es.yaml)",
    "schema-translation": "cspolicy translation catalogue of a case schema (v2.es.yaml)",
}


def schema_file_name(kind: str) -> str:
    """The committed file name of a schema kind, e.g. `policy.schema.json`."""
    return f"{kind}.schema.json"


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one document kind (`policy`, `snapshot` or `test`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown schema {kind!r}; choose one of {', '.join(KINDS)}")
    schema = KINDS[kind].model_json_schema(by_alias=True, mode="validation")
    schema = _with_shorthands(schema)
    if kind == "test":
        _embed_snapshot(schema)
    if kind == "case-schema":
        _field_tree(schema)
    return {"$schema": DRAFT, "$id": schema_file_name(kind), **schema, "title": TITLES[kind]}


def snapshot_schema(case_schema: CaseSchema) -> dict[str, Any]:
    """The JSON Schema of the snapshots of one case schema (what `schema snapshot --policy` writes)."""
    schema = case_schema.json_schema()
    title = f"cspolicy case snapshot ({case_schema.id} v{case_schema.version})"
    return {
        "$schema": DRAFT,
        "$id": f"{case_schema.id.replace('/', '-')}-v{case_schema.version}.snapshot.schema.json",
        **schema,
        "title": title,
    }


def _field_tree(schema: dict[str, Any]) -> None:
    """`fields:` nests groups of field specs: a mapping whose `type` is text is a field spec."""
    field_doc = FieldDoc.model_json_schema(by_alias=True, mode="validation")
    defs = schema.setdefault("$defs", {})
    for name, definition in field_doc.pop("$defs", {}).items():
        defs.setdefault(name, definition)
    if "$ref" not in field_doc:  # a self-referencing model is all in $defs already
        defs["FieldDoc"] = field_doc
    entry = {
        "if": {"type": "object", "properties": {"type": {"type": "string"}}, "required": ["type"]},
        "then": {"$ref": "#/$defs/FieldDoc"},
        "else": {"$ref": "#/$defs/FieldGroup"},
    }
    defs["FieldEntry"] = entry
    defs["FieldGroup"] = {
        "type": "object",
        "description": "A group of fields (a mapping whose `type` is not text)",
        "additionalProperties": {"$ref": "#/$defs/FieldEntry"},
    }
    described = _described(schema["properties"]["fields"])
    schema["properties"]["fields"] = {"$ref": "#/$defs/FieldGroup", **described}


def schema_text(kind: str) -> str:
    """The schema as the deterministic text committed under `schema/`."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_schemas(directory: str | Path) -> list[Path]:
    """Write every schema into `directory`; returns the files written."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = target / schema_file_name(kind)
        path.write_text(schema_text(kind), encoding="utf-8")
        written.append(path)
    return written


def _string_or_list(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "string"}, schema], **_described(schema)}


def _described(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: schema[k] for k in ("description", "title", "default") if k in schema}


def _citations(schema: dict[str, Any]) -> dict[str, Any]:
    patched = copy.deepcopy(schema)
    patched["items"] = {"anyOf": [{"type": "string", "description": "A source id"}, schema["items"]]}
    return patched


def _with_shorthands(schema: dict[str, Any]) -> dict[str, Any]:
    """Allow in the schema what the models' "before" validators accept."""
    defs = schema.get("$defs", {})
    rule = defs.get("Rule")
    if rule is not None:
        for part in ("when", "unless"):
            rule["properties"][part] = _string_or_list(rule["properties"][part])
    for name in ("Rule", "Parameter", "Due", "Notice"):
        model = defs.get(name)
        if model is not None and "cite" in model["properties"]:
            model["properties"]["cite"] = _citations(model["properties"]["cite"])
    version = schema.get("properties", {}).get("version")
    if version is not None and "anyOf" in version:
        version["anyOf"].insert(0, {"type": "number"})
    return schema


def _embed_snapshot(schema: dict[str, Any]) -> None:
    """A test case's inline snapshot is a full snapshot: validate it as one (child-support/v2, which
    the shipped sets read; every v1 snapshot is also a valid v2 snapshot)."""
    from cspolicy.engine.caseschema import case_schema

    snapshot = case_schema("child-support/v2").model.model_json_schema(by_alias=True, mode="validation")
    defs = schema.setdefault("$defs", {})
    for name, definition in snapshot.pop("$defs", {}).items():
        defs.setdefault(name, definition)
    defs["CaseSnapshot"] = snapshot
    case = defs["TestCase"]["properties"]["snapshot"]
    case["anyOf"] = [
        {"$ref": "#/$defs/CaseSnapshot"},
        {"type": "string", "description": "Path of a snapshot file, relative to the test file"},
    ]
