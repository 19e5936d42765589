"""Compiled case schemas: the scope expressions are checked against, the snapshot model, the facts.

`compile_case_schema(source)` turns a merged case schema document (cspolicy.source.caseschema)
into a `CaseSchema`, once per schema (cached by resolved path and digest):
- `fields`: the FieldSpec of every fact a policy may read (leaf fields, lists with their item
  specs, derived facts), which is the expression checker's scope;
- `model`: a pydantic model built with `create_model` (a subclass of `CaseSnapshot`, so snapshots
  of any schema are CaseSnapshots): money is Decimal with the money validator, dates are
  plausible dates, a choice is a Literal, text may have a pattern and lengths; unknown keys
  are errors. For `child-support/v1` it validates exactly as the former static model did;
- `facts(snapshot)`: the snapshot flattened to dotted paths, then the derived facts computed
  from their expressions (null when a value does not exist — never a sentinel);
- `leaves` / `lists`: the ordered leaf fields with their types and the list item specs, for the
  flat caseload layout.

No child-support field name appears here: everything is read from the schema.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from cspolicy.diagnostics import Code, PolicyError, Problem
from cspolicy.engine.ordering import derived_order
from cspolicy.engine.snapshotreader import compile_derived_facts, compile_reader
from cspolicy.expressions import CheckError, ExpressionSyntaxError, Scope, check, compile_expression
from cspolicy.expressions import parse_expression as parse
from cspolicy.expressions.closures import Fn
from cspolicy.expressions.nodes import Node
from cspolicy.expressions.types import FieldSpec, Type
from cspolicy.source.caseschema import (
    DEFAULT_CASE_SCHEMA,
    CaseSchemaSource,
    Classification,
    FieldDoc,
    FieldType,
    Located,
    load_case_schema,
)

TYPES = {
    FieldType.TEXT: Type.STRING,
    FieldType.CHOICE: Type.STRING,
    FieldType.MONEY: Type.MONEY,
    FieldType.INTEGER: Type.INTEGER,
    FieldType.NUMBER: Type.NUMBER,
    FieldType.BOOL: Type.BOOL,
    FieldType.DATE: Type.DATE,
    FieldType.LIST: Type.LIST,
}
MAX_CACHED = 32


@dataclass(frozen=True)
class Leaf:
    """One field of the schema that holds a value (a list is one leaf with item fields)."""

    path: str
    doc: FieldDoc
    spec: FieldSpec

    @property
    def type(self) -> FieldType:
        return self.doc.type

    @property
    def classification(self) -> Classification:
        return self.doc.classification

    @property
    def required(self) -> bool:
        return self.doc.required

    @property
    def items(self) -> dict[str, FieldDoc]:
        """The item fields of a list (empty for other types)."""
        return dict(self.doc.items or {})


@dataclass
class SchemaDerived:
    """A derived fact of the schema: its checked expression, closure and words."""

    name: str
    label: str
    description: str
    node: Node
    fn: Fn
    text: str
    optional: bool
    absent: str | None
    classification: Classification


@dataclass
class CaseSchema:
    """A case schema compiled once: field specs, snapshot model, flattening and derived facts."""

    source: CaseSchemaSource
    leaves: dict[str, Leaf]
    derived: dict[str, SchemaDerived]
    fields: dict[str, FieldSpec]
    model: type[BaseModel]
    absent: dict[str, str] = field(default_factory=dict)
    models: dict[str, type[BaseModel]] = field(default_factory=dict)  # every generated model, by name
    _getters: list[tuple[str, Callable[[Any], Any], bool]] = field(default_factory=list, repr=False)

    # -- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.source.id

    @property
    def version(self) -> str:
        return self.source.version

    @property
    def name(self) -> str:
        """e.g. `child-support v1`."""
        return self.source.name

    @property
    def title(self) -> str:
        return self.source.title

    @property
    def digest(self) -> str:
        return self.source.digest

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def identity(self) -> dict[str, str | None]:
        """Role → dotted path: `case_id`, `as_of`, `jurisdiction`."""
        return self.source.identity.model_dump()

    @property
    def lists(self) -> dict[str, dict[str, FieldDoc]]:
        """List field → its item field specs, in order."""
        return {path: leaf.items for path, leaf in self.leaves.items() if leaf.type is FieldType.LIST}

    def extends_schema(self, other: CaseSchema) -> bool:
        return self.source.extends_schema(other.source)

    def __repr__(self) -> str:
        return f"<CaseSchema {self.name} ({len(self.leaves)} fields, {len(self.derived)} derived)>"

    # -- snapshots --------------------------------------------------------------------------
    def parse(self, data: Any, *, source: str = "<snapshot>") -> Any:
        """Validate a snapshot dict against this schema (a CaseSnapshot); SnapshotError per field."""
        from cspolicy.engine.snapshot import CaseSnapshot

        return CaseSnapshot.parse(data, source=source, schema=self)

    def facts(self, snapshot: BaseModel) -> dict[str, Any]:
        """Every fact a policy may read, by dotted path: the fields, then the derived facts."""
        facts: dict[str, Any] = {}
        for path, getter, is_list in self._getters:
            value = getter(snapshot)
            facts[path] = [item.model_dump() for item in value] if is_list else value
        if self.derived:
            self._derive_facts(facts)
        return facts

    def read(self, data: Any) -> dict[str, Any] | None:
        """The facts of a snapshot given as plain data, without building the model, when the fast
        reader can vouch for it (cspolicy.engine.snapshotreader); None: validate with `parse`."""
        facts = self._reader(data)
        if facts is not None and self.derived:
            self._derive_facts(facts)
        return facts

    @functools.cached_property
    def _derive_facts(self) -> Callable[[dict[str, Any]], None]:
        """Add the derived facts to a case's facts, in dependency order: one generated function
        (cspolicy.expressions.codegen) computing what each derived fact's closure computes."""
        return compile_derived_facts({name: derived.node for name, derived in self.derived.items()})

    def snapshot_from_facts(self, facts: dict[str, Any]) -> Any:
        """The snapshot model of facts read by `read` (built when a caller asks for the snapshot)."""
        data: dict[str, Any] = {}
        for path in self.leaves:
            node = data
            *groups, last = path.split(".")
            for group in groups:
                node = node.setdefault(group, {})
            node[last] = facts[path]
        return self.model.model_validate(data)

    @functools.cached_property
    def identity_paths(self) -> tuple[str, str, str | None]:
        """The dotted paths of the case id, the snapshot date and the jurisdiction."""
        identity = self.identity
        return identity["case_id"] or "case_id", identity["as_of"] or "as_of", identity.get("jurisdiction")

    @functools.cached_property
    def _reader(self) -> Callable[[Any], dict[str, Any] | None]:
        return compile_reader(self.source)

    def value(self, snapshot: BaseModel, role: str) -> Any:
        """The value of an identity field (`case_id`, `as_of`, `jurisdiction`), or None."""
        path = self.identity.get(role)
        if path is None:
            return None
        getter = operator.attrgetter(path)
        return getter(snapshot)

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of this schema's snapshots (the pydantic model's, with labels)."""
        return self.model.model_json_schema(by_alias=True, mode="validation")


# -- compiling ------------------------------------------------------------------------------
_CACHE: OrderedDict[tuple[Path, str], CaseSchema] = OrderedDict()


def case_schema(reference: str | Path | None = None, relative_to: Path | None = None) -> CaseSchema:
    """The compiled schema named by `reference` (a shipped name such as `child-support/v2` or a
    path); `child-support/v1` when None. Raises PolicyError with located problems."""
    return compile_case_schema(load_case_schema(reference or DEFAULT_CASE_SCHEMA, relative_to))


@functools.cache
def default_case_schema() -> CaseSchema:
    """`child-support/v1`: the schema of policies that name none (read once: it ships inside
    the package and every `CaseSnapshot.parse` without a schema reads it)."""
    return case_schema(DEFAULT_CASE_SCHEMA)


def compile_case_schema(source: CaseSchemaSource) -> CaseSchema:
    """Compile a loaded schema (cached by resolved path and digest, at most 32 kept)."""
    key = (source.path, source.digest)
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    compiled = _compile(source)
    _CACHE[key] = compiled
    while len(_CACHE) > MAX_CACHED:
        _CACHE.popitem(last=False)
    return compiled


def field_spec(path: str, doc: FieldDoc) -> FieldSpec:
    """The expression checker's view of one field (list items included)."""
    items = {name: field_spec(name, item) for name, item in (doc.items or {}).items()}
    return FieldSpec(
        path=path,
        type=TYPES[doc.type],
        label=doc.label,
        description=doc.description or "",
        choices=tuple(doc.choices or ()),
        items=items,
        optional=doc.optional,
        unit=doc.unit,
        absent=doc.absent,
    )


def _compile(source: CaseSchemaSource) -> CaseSchema:
    leaves = {
        path: Leaf(path, located.item, field_spec(path, located.item))
        for path, located in source.fields.items()
    }
    fields = {path: leaf.spec for path, leaf in leaves.items()}
    absent = {path: leaf.doc.absent for path, leaf in leaves.items() if leaf.doc.absent}
    derived = _derived(source, fields)
    for name, item in derived.items():
        if item.absent:
            absent[name] = item.absent
    from cspolicy.engine.snapshot import CaseSnapshot

    builder = _ModelBuilder(source)
    model = builder.build(CaseSnapshot)
    getters: list[tuple[str, Callable[[Any], Any], bool]] = [
        (path, operator.attrgetter(path), leaf.type is FieldType.LIST) for path, leaf in leaves.items()
    ]
    schema = CaseSchema(source, leaves, derived, fields, model, absent, builder.models, getters)
    model.__case_schema__ = schema  # type: ignore[attr-defined]
    return schema


def _derived(source: CaseSchemaSource, fields: dict[str, FieldSpec]) -> dict[str, SchemaDerived]:
    """Check and compile the derived facts in dependency order; problems are located errors."""
    problems: list[Problem] = []
    texts = {name: located.item.expr for name, located in source.derived.items()}
    order, cycle = derived_order(texts)
    if cycle:
        located = source.derived[cycle[0]]
        raise PolicyError(
            [
                Problem(
                    Code.DEPENDENCY_CYCLE,
                    f"derived facts depend on each other in a cycle: {' → '.join(cycle)}",
                    located.location,
                )
            ]
        )
    compiled: dict[str, SchemaDerived] = {}
    for name in order:
        located = source.derived[name]
        result = _derived_one(name, located, fields, problems)
        if result is not None:
            compiled[name] = result
            fields[name] = FieldSpec(
                path=name,
                type=result.node.type,
                label=result.label,
                description=result.description,
                optional=result.optional,
                unit=located.item.unit,
                absent=result.absent,
            )
    if problems:
        raise PolicyError(problems)
    # Evaluation follows dependency order; the scope keeps the schema's own order.
    return compiled


def _derived_one(
    name: str, located: Located, fields: dict[str, FieldSpec], problems: list[Problem]
) -> SchemaDerived | None:
    doc = located.item
    start = located.expression_start()
    label = f"derived {name!r}"
    try:
        node = parse(doc.expr)
        check(node, Scope(dict(fields)))
    except ExpressionSyntaxError as exc:
        problems.append(Problem(exc.code, f"{label}: {exc.message}", start.shifted(exc.line, exc.column)))
        return None
    except CheckError as exc:
        problems.append(
            Problem(exc.code, f"{label}: {exc.message}", start.shifted(exc.node.line, exc.node.column))
        )
        return None
    if node.type is Type.LIST:
        problems.append(Problem(Code.TYPE_MISMATCH, f"{label}: a derived fact cannot be a list", start))
        return None
    return SchemaDerived(
        name=name,
        label=doc.label,
        description=doc.description or "",
        node=node,
        fn=compile_expression(node),
        text=" ".join(doc.expr.split()),
        optional=doc.optional,
        absent=doc.absent,
        classification=doc.classification,
    )


class _ModelBuilder:
    """Builds the pydantic snapshot model of a schema, group by group."""

    def __init__(self, source: CaseSchemaSource) -> None:
        self.source = source
        self.names: set[str] = set()
        self.models: dict[str, type[BaseModel]] = {}

    def unique(self, short: str, long: str) -> str:
        """A model name: the short one (e.g. Programs) unless taken, then the path's (PayingParentPrograms)."""
        name = short if short not in self.names else long
        while name in self.names:
            name += "_"
        self.names.add(name)
        return name

    def build(self, base: type[BaseModel]) -> type[BaseModel]:
        tree: dict[str, Any] = {}
        for path, located in self.source.fields.items():
            node = tree
            *groups, last = path.split(".")
            for group in groups:
                node = node.setdefault(group, {})
            node[last] = located.item
        title = self.source.title
        self.names.add("CaseSnapshot")
        model = self.group("CaseSnapshot", tree, base, title)
        return model

    def group(
        self, name: str, tree: dict[str, Any], base: type[BaseModel], doc: str | None = None
    ) -> type[BaseModel]:
        definitions: dict[str, Any] = {}
        prefix = "" if base is not _Part else name
        for key, value in tree.items():
            if isinstance(value, FieldDoc):
                definitions[key] = self.field(f"{prefix}{_camel(key)}", value)
            else:
                model = self.group(self.unique(_camel(key), f"{prefix}{_camel(key)}"), value, _Part)
                if _has_required(value):
                    definitions[key] = (model, ...)
                else:
                    definitions[key] = (model, Field(default_factory=model))
        model = create_model(name, __base__=base, __doc__=doc, **definitions)
        self.models[name] = model
        return model

    def field(self, model_name: str, doc: FieldDoc) -> tuple[Any, Any]:
        annotation = self.annotation(model_name, doc)
        info: dict[str, Any] = {"description": doc.description or doc.label}
        if doc.type is FieldType.TEXT:
            info.update(pattern=doc.pattern, min_length=doc.min_length, max_length=doc.max_length)
        if doc.type is FieldType.LIST:
            if doc.required:
                return (annotation, Field(**info))
            return (annotation, Field(default_factory=list, **info))
        if doc.optional:
            return (annotation | None, Field(None, **info))
        if doc.required:
            return (annotation, Field(**info))
        return (annotation, Field(_default(doc), **info))

    def annotation(self, model_name: str, doc: FieldDoc) -> Any:
        from cspolicy.engine.snapshot import Day, Money

        kind = doc.type
        if kind is FieldType.LIST:
            item_name = self.unique(doc.item_name or f"{model_name}Item", f"{model_name}Item")
            item_fields: dict[str, Any] = {
                name: self.field(f"{item_name}{_camel(name)}", item)
                for name, item in (doc.items or {}).items()
            }
            item_model = create_model(item_name, __base__=_Part, **item_fields)
            self.models[item_name] = item_model
            return list[item_model]
        if kind is FieldType.CHOICE:
            return Literal[tuple(doc.choices or ())]
        return {
            FieldType.TEXT: str,
            FieldType.MONEY: Money,
            FieldType.INTEGER: int,
            FieldType.NUMBER: Decimal,
            FieldType.BOOL: bool,
            FieldType.DATE: Day,
        }[kind]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _has_required(tree: dict[str, Any]) -> bool:
    for value in tree.values():
        if isinstance(value, FieldDoc):
            if value.required:
                return True
        elif _has_required(value):
            return True
    return False


def _default(doc: FieldDoc) -> Any:
    value = doc.default
    if doc.type in (FieldType.MONEY, FieldType.NUMBER):
        return Decimal(str(value))
    if doc.type is FieldType.DATE and isinstance(value, dt.datetime):
        return value.date()
    return value


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
