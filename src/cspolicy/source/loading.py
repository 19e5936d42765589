"""Policy files on disk → one located, merged policy source: files, versions and `extends`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from cspolicy.diagnostics import Code, Location, PolicyError, Problem, Severity
from cspolicy.source.caseschema import (
    DEFAULT_CASE_SCHEMA,
    CaseSchemaSource,
    load_case_schema,
    reference_problem,
    resolve_schema_reference,
)
from cspolicy.source.documents import (
    HEADER_FIELDS,
    Derived,
    Effective,
    Jurisdiction,
    Parameter,
    PolicyFile,
    Rule,
    Source,
)
from cspolicy.source.problems import pydantic_problems as pydantic_problems
from cspolicy.source.yamlsource import SourceMap, YamlProblem, load_yaml_file

T = TypeVar("T")
TEST_SUFFIX = ".test.yaml"


@dataclass
class Entity(Generic[T]):
    """A source, parameter, derived value or rule, with where it was written and by which set."""

    item: T
    location: Location
    source_map: SourceMap
    path: tuple[str | int, ...]
    origin: str

    def at(self, *parts: str | int) -> Location:
        return self.source_map.at((*self.path, *parts))


@dataclass
class PolicySource:
    """A policy set after reading and merging its files and its parents, before compiling."""

    id: str
    version: str
    title: str
    description: str | None
    jurisdiction: Jurisdiction
    effective: Effective
    root: Path
    header: Location
    chain: list[tuple[str, str, Path]] = field(default_factory=list)
    sources: dict[str, Entity[Source]] = field(default_factory=dict)
    parameters: dict[str, Entity[Parameter]] = field(default_factory=dict)
    derived: dict[str, Entity[Derived]] = field(default_factory=dict)
    rules: dict[str, Entity[Rule]] = field(default_factory=dict)
    overrides: list[tuple[Entity[Rule], Entity[Rule]]] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # The case schema named by `case_schema:` here or in a parent; None: child-support/v1.
    case_schema: CaseSchemaSource | None = None


def policy_files(directory: Path) -> list[Path]:
    """The policy YAML files of a directory (test files excluded), in name order."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.suffix in (".yaml", ".yml") and not p.name.endswith(TEST_SUFFIX)
    )


def version_directories(directory: Path) -> list[Path]:
    """Subdirectories holding dated versions of a set (only when the set has no files of its own)."""
    if not directory.is_dir() or policy_files(directory):
        return []
    return sorted(p for p in directory.iterdir() if p.is_dir() and policy_files(p))


def select_version(path: Path, as_of: dt.date | None) -> Path:
    """The directory or file of the version of `path` in force on `as_of` (latest when None)."""
    versions = version_directories(path)
    if not versions:
        return path
    dated: list[tuple[dt.date, dt.date | None, Path]] = []
    for directory in versions:
        effective = _read_effective(directory)
        if effective is not None:
            dated.append((effective.from_, effective.to, directory))
    if not dated:
        raise PolicyError([Problem(Code.NO_VERSION, "no version declares `effective`", Location(str(path)))])
    dated.sort(key=lambda item: item[0])
    if as_of is None:
        return dated[-1][2]
    for start, end, directory in reversed(dated):
        if start <= as_of and (end is None or as_of < end):
            return directory
    spans = ", ".join(f"{d.name} [{s}, {e or '…'})" for s, e, d in dated)
    raise PolicyError(
        [
            Problem(
                Code.NO_VERSION,
                f"no version in force on {as_of}; versions: {spans}",
                Location(str(path)),
            )
        ]
    )


def _read_effective(directory: Path) -> Effective | None:
    for file in policy_files(directory):
        try:
            data, _, _ = load_yaml_file(file)
        except YamlProblem:
            continue
        if isinstance(data, dict) and isinstance(data.get("effective"), dict):
            try:
                return Effective.model_validate(data["effective"])
            except ValidationError:
                return None
    return None


def load_source(path: str | Path, as_of: dt.date | None = None) -> PolicySource:
    """Read the policy set at `path` (a directory, a version directory, or one file) and its parents."""
    return _Loader(as_of).load(Path(path), ())


class _Loader:
    def __init__(self, as_of: dt.date | None) -> None:
        self.as_of = as_of

    def load(self, path: Path, seen: tuple[Path, ...]) -> PolicySource:
        if not path.exists():
            raise PolicyError(
                [Problem(Code.FILE_NOT_FOUND, "no such file or directory", Location(str(path)))]
            )
        chosen = select_version(path, self.as_of)
        resolved = chosen.resolve()
        if resolved in seen:
            cycle = " → ".join(str(p) for p in (*seen, resolved))
            raise PolicyError(
                [Problem(Code.EXTENDS_CYCLE, f"`extends` cycle: {cycle}", Location(str(chosen)))]
            )
        files = policy_files(chosen) if chosen.is_dir() else [chosen]
        if not files:
            raise PolicyError(
                [Problem(Code.FILE_NOT_FOUND, "no policy YAML files here", Location(str(chosen)))]
            )
        problems: list[Problem] = []
        documents: list[tuple[PolicyFile, SourceMap, Any]] = []
        for file in files:
            try:
                data, source_map, yaml_problems = load_yaml_file(file)
            except YamlProblem as exc:
                problems.append(exc.problem)
                continue
            problems.extend(yaml_problems)
            if data is None:
                continue
            document = validate_document(data, source_map, problems)
            if document is not None:
                documents.append((document, source_map, data))
        if any(p.severity is Severity.ERROR for p in problems):
            raise PolicyError(problems)
        header = self.header(documents, chosen, problems)
        if header is None:
            raise PolicyError(problems)
        document, header_map, _ = header
        parent: PolicySource | None = None
        if document.extends:
            base = Path(header_map.file).parent
            try:
                parent = self.load((base / document.extends), (*seen, resolved))
            except PolicyError as exc:
                location = header_map.at(("extends", "$value"))
                problems.extend(exc.problems)
                problems.append(
                    Problem(Code.FILE_NOT_FOUND, f"cannot load `extends: {document.extends}`", location)
                )
                raise PolicyError(problems) from None
        source = self.merge(document, header_map, documents, parent, chosen, problems)
        if any(p.severity is Severity.ERROR for p in problems):
            raise PolicyError(problems)
        return source

    def header(
        self,
        documents: list[tuple[PolicyFile, SourceMap, Any]],
        where: Path,
        problems: list[Problem],
    ) -> tuple[PolicyFile, SourceMap, Any] | None:
        headers = [d for d in documents if d[0].id is not None]
        if not headers:
            problems.append(
                Problem(
                    Code.MISSING_KEY,
                    "no file of this policy set declares `id`",
                    Location(str(where)),
                )
            )
            return None
        if len(headers) > 1:
            for _, source_map, _ in headers[1:]:
                problems.append(
                    Problem(
                        Code.DUPLICATE_ID,
                        f"a second file declares the set's `id` (first: {headers[0][1].file})",
                        source_map.at(("id",)),
                    )
                )
        document, source_map, _ = headers[0]
        for name in ("version", "title", "jurisdiction", "effective"):
            if getattr(document, name) is None:
                problems.append(Problem(Code.MISSING_KEY, f"missing `{name}`", source_map.at(())))
        for other, other_map, _ in documents:
            if other is document:
                continue
            for name in HEADER_FIELDS:
                if getattr(other, name) is not None:
                    problems.append(
                        Problem(
                            Code.INVALID_VALUE,
                            f"`{name}` belongs in the file that declares the set's `id`",
                            other_map.at((name,)),
                        )
                    )
        if any(p.severity is Severity.ERROR for p in problems):
            return None
        return headers[0]

    def merge(
        self,
        document: PolicyFile,
        header_map: SourceMap,
        documents: list[tuple[PolicyFile, SourceMap, Any]],
        parent: PolicySource | None,
        chosen: Path,
        problems: list[Problem],
    ) -> PolicySource:
        assert document.id and document.version and document.title
        assert document.jurisdiction and document.effective
        source = PolicySource(
            id=document.id,
            version=document.version,
            title=document.title,
            description=document.description,
            jurisdiction=document.jurisdiction,
            effective=document.effective,
            root=chosen,
            header=header_map.at(()),
        )
        if parent is not None:
            source.chain = [*parent.chain]
            source.sources = dict(parent.sources)
            source.parameters = dict(parent.parameters)
            source.derived = dict(parent.derived)
            source.rules = dict(parent.rules)
            source.warnings = list(parent.warnings)
        source.chain.append((document.id, document.version, chosen))
        source.case_schema = self.case_schema(document, header_map, parent, problems)
        own: dict[str, dict[str, Location]] = {
            "sources": {},
            "parameters": {},
            "derived": {},
            "rules": {},
        }
        origin = document.id

        def claim(kind: str, key: str, location: Location) -> bool:
            first = own[kind].get(key)
            if first is not None:
                noun = {
                    "sources": "source",
                    "parameters": "parameter",
                    "derived": "derived value",
                    "rules": "rule",
                }
                problems.append(
                    Problem(
                        Code.DUPLICATE_ID,
                        f"duplicate {noun[kind]} {key!r} (first at {first})",
                        location,
                    )
                )
                return False
            own[kind][key] = location
            return True

        for doc, source_map, _ in documents:
            for key, item in doc.sources.items():
                if claim("sources", key, source_map.at(("sources", key))):
                    source.sources[key] = Entity(
                        item, source_map.at(("sources", key)), source_map, ("sources", key), origin
                    )
            for key, parameter in doc.parameters.items():
                if claim("parameters", key, source_map.at(("parameters", key))):
                    source.parameters[key] = Entity(
                        parameter,
                        source_map.at(("parameters", key)),
                        source_map,
                        ("parameters", key),
                        origin,
                    )
            for key, value in doc.derived.items():
                derived = Derived(expr=value) if isinstance(value, str) else value
                path: tuple[str | int, ...] = (
                    ("derived", key) if isinstance(value, str) else ("derived", key, "expr")
                )
                if claim("derived", key, source_map.at(("derived", key))):
                    source.derived[key] = Entity(
                        derived, source_map.at(("derived", key)), source_map, path, origin
                    )
            for index, rule in enumerate(doc.rules):
                location = source_map.at(("rules", index))
                if not claim("rules", rule.id, source_map.at(("rules", index, "id", "$value"))):
                    continue
                entity = Entity(rule, location, source_map, ("rules", index), origin)
                previous = source.rules.get(rule.id)
                if previous is not None and previous.origin != origin:
                    source.overrides.append((entity, previous))
                    if (
                        rule == previous.item.model_copy(update={"override": rule.override})
                        and not rule.override
                    ):
                        source.warnings.append(
                            Problem(
                                Code.SHADOWED_RULE,
                                f"rule {rule.id!r} repeats the identical rule of {previous.origin!r}"
                                f" ({previous.location}); remove it or mark it `override: true`",
                                location,
                                Severity.WARNING,
                            )
                        )
                    # Keep the parent's position so the set reads in escalation order.
                source.rules[rule.id] = entity
        return source

    def case_schema(
        self,
        document: PolicyFile,
        header_map: SourceMap,
        parent: PolicySource | None,
        problems: list[Problem],
    ) -> CaseSchemaSource | None:
        """The set's case schema: its own `case_schema:` (which must be its parent's or extend it)
        or the parent's; None means the default, child-support/v1."""
        inherited = parent.case_schema if parent is not None else None
        if document.case_schema is None:
            return inherited
        location = header_map.at(("case_schema", "$value"))
        path = resolve_schema_reference(document.case_schema, Path(header_map.file).parent)
        if path is None or not path.is_file():
            problems.append(reference_problem(document.case_schema, location))
            return inherited
        try:
            own = load_case_schema(path)
        except PolicyError as exc:
            problems.extend(exc.problems)
            problems.append(
                Problem(Code.FILE_NOT_FOUND, f"cannot load `case_schema: {document.case_schema}`", location)
            )
            return inherited
        if parent is not None:
            base = inherited or load_case_schema(DEFAULT_CASE_SCHEMA)
            if not own.extends_schema(base):
                problems.append(
                    Problem(
                        Code.INVALID_VALUE,
                        f"case schema {own.name} does not extend {base.name}, the case schema of"
                        f" {parent.id!r}; a policy may only name its parent's schema or one that extends it",
                        location,
                    )
                )
        return own


def validate_document(data: Any, source_map: SourceMap, problems: list[Problem]) -> PolicyFile | None:
    """Validate one file's data as a PolicyFile; turn pydantic errors into located problems."""
    if not isinstance(data, dict):
        problems.append(
            Problem(Code.WRONG_TYPE, "a policy file must be a mapping of keys", source_map.at(()))
        )
        return None
    try:
        return PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, data, source_map, PolicyFile))
        return None
