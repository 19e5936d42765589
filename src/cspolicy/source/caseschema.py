"""Case schema documents: the facts a policy may read, as versioned YAML (no expressions here).

A case schema declares the fields of a case snapshot (nested groups of typed, labelled,
classified field specs; lists with item specs), the derived facts (expressions, compiled by
the engine) and the identity fields the engine needs (`case_id`, `as_of`, `jurisdiction`).
A schema may `extends:` another (a relative path); redefining a base field is an error unless
the field says `override: true`. This module reads, validates (located problems) and merges
schemas; `cspolicy.engine.caseschema` compiles them.

Shipped schemas live inside the package (`cspolicy/case_schemas/<name>.yaml`) and are named
`child-support/v1`, `child-support/v2`; a policy names one with `case_schema:`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cspolicy.diagnostics import Code, Location, PolicyError, Problem, Severity, suggest
from cspolicy.source.problems import pydantic_problems
from cspolicy.source.schemadocs import CaseSchemaFile as CaseSchemaFile
from cspolicy.source.schemadocs import Classification as Classification
from cspolicy.source.schemadocs import DerivedDoc as DerivedDoc
from cspolicy.source.schemadocs import FieldDoc as FieldDoc
from cspolicy.source.schemadocs import FieldType as FieldType
from cspolicy.source.schemadocs import Identity as Identity
from cspolicy.source.yamlsource import SourceMap, YamlProblem, load_yaml_file

SHIPPED_DIRECTORY = Path(__file__).resolve().parent.parent / "case_schemas"
DEFAULT_CASE_SCHEMA = "child-support/v1"
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
DOTTED_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
SHIPPED_NAME = re.compile(r"^[a-z][a-z0-9-]*/v[0-9]+$")


@dataclass
class Located:
    """A field spec or derived fact with where it was written and by which schema."""

    path: str
    item: Any
    location: Location
    source_map: SourceMap
    data_path: tuple[str | int, ...]
    origin: str

    def expression_start(self) -> Location:
        """Where the text of a derived fact's expression starts."""
        return self.source_map.content((*self.data_path, "expr"))


@dataclass
class CaseSchemaSource:
    """A case schema after reading and merging its `extends` chain, before compiling."""

    id: str
    version: str
    title: str
    description: str | None
    path: Path
    identity: Identity
    fields: dict[str, Located] = field(default_factory=dict)  # dotted path → FieldDoc, in order
    derived: dict[str, Located] = field(default_factory=dict)  # name → DerivedDoc
    chain: list[tuple[str, str, Path]] = field(default_factory=list)  # base first

    @property
    def name(self) -> str:
        """`id` `version`, as shown to people."""
        return f"{self.id} {self.version}"

    def extends_schema(self, other: CaseSchemaSource) -> bool:
        """Whether this schema is `other` or extends it (directly or not)."""
        return any(path == other.path for _, _, path in self.chain)

    @property
    def digest(self) -> str:
        """sha256 over the normalized, merged schema (locations excluded)."""
        normal = {
            "id": self.id,
            "version": self.version,
            "chain": [[i, v] for i, v, _ in self.chain],
            "identity": self.identity.model_dump(mode="json"),
            "fields": {k: v.item.model_dump(mode="json") for k, v in self.fields.items()},
            "derived": {k: v.item.model_dump(mode="json") for k, v in self.derived.items()},
        }
        text = json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def shipped_schema_path(name: str) -> Path:
    """The file of a shipped schema such as `child-support/v2`."""
    return SHIPPED_DIRECTORY / f"{name}.yaml"


def shipped_schema_names() -> list[str]:
    """Every shipped schema name, e.g. ['child-support/v1', 'child-support/v2']."""
    return sorted(
        str(path.relative_to(SHIPPED_DIRECTORY).with_suffix("")).replace("\\", "/")
        for path in SHIPPED_DIRECTORY.rglob("*.yaml")
    )


def resolve_schema_reference(reference: str, relative_to: Path) -> Path | None:
    """The file named by `case_schema:` / `extends:` — a shipped name or a relative .yaml path."""
    if SHIPPED_NAME.match(reference) and not reference.endswith((".yaml", ".yml")):
        path = shipped_schema_path(reference)
        return path if path.is_file() else None
    if not reference.endswith((".yaml", ".yml")):
        return None
    return relative_to / reference


def reference_problem(reference: str, location: Location) -> Problem:
    """The located problem for a `case_schema:` that names no schema."""
    names = shipped_schema_names()
    if reference.endswith((".yaml", ".yml")):
        message = f"case schema file {reference!r} not found"
    else:
        message = (
            f"unknown case schema {reference!r}{suggest(reference, names)};"
            f" name a shipped schema ({', '.join(names)}) or a relative path ending in .yaml"
        )
    return Problem(Code.FILE_NOT_FOUND, message, location)


def load_case_schema(reference: str | Path, relative_to: Path | None = None) -> CaseSchemaSource:
    """Read the schema named by `reference` (a shipped name or a path) with its base schemas.

    Raises PolicyError listing every located problem.
    """
    if isinstance(reference, str) and not reference.endswith((".yaml", ".yml")):
        found = resolve_schema_reference(reference, relative_to or Path.cwd())
        if found is None:
            raise PolicyError([reference_problem(reference, Location(reference))])
        return _load(found, ())
    path = Path(reference)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    return _load(path, ())


def _load(path: Path, seen: tuple[Path, ...]) -> CaseSchemaSource:
    resolved = path.resolve()
    if resolved in seen:
        cycle = " → ".join(str(p) for p in (*seen, resolved))
        raise PolicyError([Problem(Code.EXTENDS_CYCLE, f"`extends` cycle: {cycle}", Location(str(path)))])
    try:
        data, source_map, problems = load_yaml_file(path)
    except YamlProblem as exc:
        raise PolicyError([exc.problem]) from None
    if not isinstance(data, dict):
        raise PolicyError(
            [
                *problems,
                Problem(Code.WRONG_TYPE, "a case schema must be a mapping of keys", source_map.at(())),
            ]
        )
    document = _validate(data, source_map, problems)
    if document is None or any(p.severity is Severity.ERROR for p in problems):
        raise PolicyError(problems)
    base: CaseSchemaSource | None = None
    if document.extends:
        target = resolve_schema_reference(document.extends, path.parent)
        location = source_map.at(("extends", "$value"))
        if target is None or not target.exists():
            raise PolicyError([*problems, reference_problem(document.extends, location)])
        try:
            base = _load(target, (*seen, resolved))
        except PolicyError as exc:
            raise PolicyError(
                [
                    *exc.problems,
                    Problem(Code.FILE_NOT_FOUND, f"cannot load `extends: {document.extends}`", location),
                ]
            ) from None
    identity = document.identity or (base.identity if base else None)
    if identity is None:
        problems.append(
            Problem(Code.MISSING_KEY, "missing `identity` (case_id, as_of, jurisdiction)", source_map.at(()))
        )
        raise PolicyError(problems)
    schema = CaseSchemaSource(
        id=document.id,
        version=document.version,
        title=document.title,
        description=document.description,
        path=resolved,
        identity=identity,
        fields=dict(base.fields) if base else {},
        derived=dict(base.derived) if base else {},
        chain=[*base.chain] if base else [],
    )
    schema.chain.append((document.id, document.version, resolved))
    origin = f"{document.id} {document.version}"
    _Merger(schema, source_map, problems, origin).fields(data.get("fields") or {}, ("fields",), "")
    for name, derived in document.derived.items():
        _merge_derived(schema, name, derived, source_map, problems, origin)
    _check_identity(schema, source_map, problems, document.identity is not None)
    if any(p.severity is Severity.ERROR for p in problems):
        raise PolicyError(problems)
    return schema


def _validate(data: dict[str, Any], source_map: SourceMap, problems: list[Problem]) -> CaseSchemaFile | None:
    try:
        return CaseSchemaFile.model_validate(data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, data, source_map, CaseSchemaFile))
        return None


def is_field_spec(value: Any) -> bool:
    """A mapping is a field spec when its `type` is text (a mapping whose `type` is a mapping is a
    group holding a field called `type`)."""
    return isinstance(value, dict) and isinstance(value.get("type"), str)


class _Merger:
    """Walks the nested `fields:` mapping, validating each spec and merging it over the base."""

    def __init__(
        self, schema: CaseSchemaSource, source_map: SourceMap, problems: list[Problem], origin: str
    ) -> None:
        self.schema = schema
        self.source_map = source_map
        self.problems = problems
        self.origin = origin

    def error(self, code: Code, message: str, path: tuple[str | int, ...]) -> None:
        self.problems.append(Problem(code, message, self.source_map.at(path)))

    def fields(self, mapping: Any, data_path: tuple[str | int, ...], prefix: str) -> None:
        if not isinstance(mapping, dict):
            self.error(Code.WRONG_TYPE, "a group of fields must be a mapping of names", data_path)
            return
        for name, value in mapping.items():
            path = f"{prefix}{name}"
            here = (*data_path, name)
            if not FIELD_NAME.match(name):
                self.error(Code.INVALID_VALUE, f"field name {name!r} must be snake_case (a-z, 0-9, _)", here)
                continue
            if is_field_spec(value):
                spec = self.spec(value, here)
                if spec is not None:
                    self.add(path, spec, here)
            elif isinstance(value, dict) and value:
                if path in self.schema.fields:
                    self.error(
                        Code.DUPLICATE_ID, f"{path!r} is a field of the base schema, not a group", here
                    )
                    continue
                self.fields(value, here, f"{path}.")
            else:
                self.error(
                    Code.WRONG_TYPE,
                    f"{path}: a field is a mapping with a `type` ({', '.join(t.value for t in FieldType)});"
                    " a group is a mapping of fields",
                    here,
                )

    def spec(self, value: dict[str, Any], here: tuple[str | int, ...]) -> FieldDoc | None:
        try:
            return FieldDoc.model_validate(value)
        except ValidationError as exc:
            shifted = _shifted(self.source_map, here)
            for problem in pydantic_problems(exc, value, shifted, FieldDoc):
                name = ".".join(str(p) for p in here[1:])
                message = problem.message.removeprefix("document: ")
                self.problems.append(Problem(problem.code, f"field {name}: {message}", problem.location))
            return None

    def add(self, path: str, spec: FieldDoc, here: tuple[str | int, ...]) -> None:
        schema = self.schema
        if any(path.startswith(f"{other}.") for other in schema.fields):
            parent = next(other for other in schema.fields if path.startswith(f"{other}."))
            self.error(
                Code.DUPLICATE_ID, f"{path!r} is inside the field {parent!r}, which is not a group", here
            )
            return
        if any(other.startswith(f"{path}.") for other in schema.fields):
            self.error(Code.DUPLICATE_ID, f"{path!r} is a group of the base schema, not a field", here)
            return
        previous = schema.fields.get(path)
        if previous is not None and previous.origin != self.origin:
            if not spec.override:
                self.error(
                    Code.DUPLICATE_ID,
                    f"field {path!r} is already defined by {previous.origin!r} ({previous.location});"
                    " mark it `override: true` to redefine it",
                    here,
                )
                return
            if previous.item.type is FieldType.LIST and spec.type is FieldType.LIST:
                spec = self.merged_items(path, previous.item, spec, here)
        elif spec.override:
            self.error(
                Code.INVALID_VALUE, f"field {path!r} overrides nothing: no base schema defines it", here
            )
            return
        schema.fields[path] = Located(
            path, spec, self.source_map.at(here), self.source_map, here, self.origin
        )

    def merged_items(
        self, path: str, base: FieldDoc, spec: FieldDoc, here: tuple[str | int, ...]
    ) -> FieldDoc:
        """An overriding list keeps the base's item fields; a redefined item needs `override: true`."""
        items = dict(base.items or {})
        for name, item in (spec.items or {}).items():
            if name in items and not item.override:
                self.error(
                    Code.DUPLICATE_ID,
                    f"item field {path}[].{name} is already defined by the base schema;"
                    " mark it `override: true` to redefine it",
                    (*here, "items", name),
                )
            elif name not in items and item.override:
                self.error(
                    Code.INVALID_VALUE,
                    f"item field {path}[].{name} overrides nothing",
                    (*here, "items", name),
                )
            items[name] = item
        return spec.model_copy(update={"items": items, "item_name": spec.item_name or base.item_name})


def _merge_derived(
    schema: CaseSchemaSource,
    name: str,
    derived: DerivedDoc,
    source_map: SourceMap,
    problems: list[Problem],
    origin: str,
) -> None:
    here: tuple[str | int, ...] = ("derived", name)
    location = source_map.at(here)
    if not DOTTED_NAME.match(name):
        problems.append(
            Problem(Code.INVALID_VALUE, f"derived name {name!r} must be dotted snake_case", location)
        )
        return
    if name in schema.fields:
        problems.append(
            Problem(Code.DUPLICATE_ID, f"derived fact {name!r} hides the field of that name", location)
        )
        return
    previous = schema.derived.get(name)
    if previous is not None and previous.origin != origin and not derived.override:
        problems.append(
            Problem(
                Code.DUPLICATE_ID,
                f"derived fact {name!r} is already defined by {previous.origin!r} ({previous.location});"
                " mark it `override: true` to redefine it",
                location,
            )
        )
        return
    if previous is None and derived.override:
        problems.append(Problem(Code.INVALID_VALUE, f"derived fact {name!r} overrides nothing", location))
        return
    schema.derived[name] = Located(name, derived, location, source_map, here, origin)


def _check_identity(
    schema: CaseSchemaSource, source_map: SourceMap, problems: list[Problem], own: bool
) -> None:
    identity = schema.identity
    expected = {"case_id": FieldType.TEXT, "as_of": FieldType.DATE, "jurisdiction": FieldType.TEXT}
    for role, kind in expected.items():
        path = getattr(identity, role)
        if path is None:
            continue
        located = schema.fields.get(path)
        where = source_map.at(("identity", role, "$value")) if own else source_map.at(())
        if located is None:
            problems.append(
                Problem(
                    Code.UNKNOWN_NAME,
                    f"identity {role}: no field {path!r}{suggest(path, list(schema.fields))}",
                    where,
                )
            )
        elif located.item.type is not kind and not (
            kind is FieldType.TEXT and located.item.type is FieldType.CHOICE
        ):
            problems.append(
                Problem(Code.WRONG_TYPE, f"identity {role}: {path!r} must be a {kind.value} field", where)
            )
        elif not located.item.required:
            problems.append(
                Problem(Code.INVALID_VALUE, f"identity {role}: {path!r} must be `required: true`", where)
            )


def _shifted(source_map: SourceMap, prefix: tuple[str | int, ...]) -> SourceMap:
    """The part of `source_map` under `prefix`, with paths relative to it."""
    size = len(prefix)
    shifted = SourceMap(source_map.file)
    shifted.locations = {k[size:]: v for k, v in source_map.locations.items() if k[:size] == prefix}
    shifted.content_start = {k[size:]: v for k, v in source_map.content_start.items() if k[:size] == prefix}
    return shifted
