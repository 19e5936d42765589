"""Case schema pages: one per case schema (the shipped ones and any a shipped policy names), listing
every field and derived fact with its label, type, whether it must be given, its classification,
and which rules of which shipped policies read it (directly, through a policy's derived values or
through the schema's own derived facts)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from cspolicy.docs.catalogue import CATALOGUE, PolicySetDocs, PolicyVersion
from cspolicy.docs.text import code, table, text, titled
from cspolicy.engine.caseschema import CaseSchema, case_schema
from cspolicy.engine.graph import build_graph
from cspolicy.expressions.nodes import Name
from cspolicy.source.caseschema import FieldDoc, FieldType, shipped_schema_names

FOLDER = "reference/case-schemas"
CLASSIFICATION_WORDS = {
    "public": "Public",
    "pii": "Personally identifying (PII)",
    "fti": "Federal tax information (FTI)",
    "fvi": "Family-violence protected (FVI)",
}


@dataclass
class SchemaDocs:
    """A case schema and the shipped policy versions that read it."""

    schema: CaseSchema
    versions: list[PolicyVersion] = field(default_factory=list)

    @property
    def page(self) -> str:
        return f"{FOLDER}/{page_name(self.schema)}"


def page_name(schema: CaseSchema) -> str:
    """The file of a schema's page: `child-support-v1.md`."""
    return f"{schema.id.replace('/', '-')}-v{schema.version}.md"


def collect(sets: list[PolicySetDocs]) -> list[SchemaDocs]:
    """Every shipped case schema, and every other schema a shipped policy names, with the policy
    versions that read it (shipped schemas first, in name order)."""
    found: dict[tuple[object, str], SchemaDocs] = {}
    for name in shipped_schema_names():
        schema = case_schema(name)
        found.setdefault((schema.path, schema.digest), SchemaDocs(schema))
    for docs in sets:
        for version in docs.versions:
            schema = version.policy.case_schema
            found.setdefault((schema.path, schema.digest), SchemaDocs(schema)).versions.append(version)
    return list(found.values())


def readers(
    schema: CaseSchema, versions: Iterable[PolicyVersion]
) -> dict[str, list[tuple[PolicyVersion, str]]]:
    """Fact path → (policy version, rule id) of every rule that reads it, in policy order."""
    # What each schema derived fact reads, so a rule reading `arrears.total` reads its parts too.
    inputs = {
        name: {n.path for n in derived.node.walk() if isinstance(n, Name) and n.kind == "field"}
        for name, derived in schema.derived.items()
    }
    read: dict[str, list[tuple[PolicyVersion, str]]] = {}
    for version in versions:
        graph = build_graph(version.policy.compiled)
        for rule_id in version.policy.compiled.rules:
            reached = _fields_read(graph, f"rule:{rule_id}")
            pending = list(reached)
            while pending:
                for part in inputs.get(pending.pop(), ()):
                    if part not in reached:
                        reached.add(part)
                        pending.append(part)
            for path in sorted(reached):
                read.setdefault(path, []).append((version, rule_id))
    return read


def _fields_read(graph: nx.DiGraph, start: str) -> set[str]:
    """The fields a rule reads, directly or through the policy's derived values."""
    seen: set[str] = set()
    fields: set[str] = set()
    pending = [start]
    while pending:
        node = pending.pop()
        for _, target, kind in graph.out_edges(node, data="kind"):
            if kind != "reads" or target in seen:
                continue
            seen.add(target)
            data = graph.nodes[target]
            if data.get("kind") == "field":
                fields.add(str(data["name"]))
            elif data.get("kind") == "derived":
                pending.append(target)
    return fields


# -- pages ----------------------------------------------------------------------------------------
def schema_pages(sets: list[PolicySetDocs]) -> dict[str, str]:
    """The index of case schemas, a page per schema, and their nav (SUMMARY.md)."""
    schemas = collect(sets)
    pages = {f"{FOLDER}/index.md": index_page(schemas)}
    summary = ["* [All case schemas](index.md)"]
    for docs in schemas:
        pages[docs.page] = schema_page(docs)
        summary.append(f"* [{text(docs.schema.name)}]({page_name(docs.schema)})")
    pages[f"{FOLDER}/SUMMARY.md"] = "\n".join(summary) + "\n"
    return pages


def index_page(schemas: list[SchemaDocs]) -> str:
    rows = []
    for docs in schemas:
        schema = docs.schema
        base = " ← ".join(f"{i} {v}" for i, v, _ in reversed(schema.source.chain[:-1]))
        policies = sorted({f"{v.policy.id} {v.policy.version}" for v in docs.versions})
        rows.append(
            [
                f"[{text(schema.name)}]({page_name(schema)})",
                text(schema.title),
                text(base) if base else "none",
                str(len(schema.leaves)),
                str(len(schema.derived)),
                ", ".join(text(p) for p in policies) or "none shipped",
            ]
        )
    return (
        "\n\n".join(
            [
                "# Case schemas",
                "The facts a policy may read about a case, as declared by its case schema (a policy names "
                "one with `case_schema:`; child-support v1 when it names none). Generated from the schema "
                "files every time the site is built; see the case schemas guide for how to write one.",
                table(["Schema", "Title", "Extends", "Fields", "Derived facts", "Read by policies"], rows),
            ]
        )
        + "\n"
    )


def schema_page(docs: SchemaDocs) -> str:
    """A schema's page: what it is, then its fields and its derived facts, each with its readers."""
    schema = docs.schema
    read = readers(schema, docs.versions)
    parts = [f"# {text(schema.name)}: {text(schema.title)}"]
    if schema.source.description:
        parts.append(text(schema.source.description))
    chain = schema.source.chain
    if len(chain) > 1:
        parts.append(
            "Extends " + ", which extends ".join(text(f"{i} {v}") for i, v, _ in reversed(chain[:-1])) + "."
        )
    identity = [f"{role}: {code(path)}" for role, path in schema.identity.items() if path]
    parts.append("Identity fields: " + "; ".join(identity) + ".")
    users = sorted({f"{v.policy.id} {v.policy.version}" for v in docs.versions})
    parts.append(
        "Read by the shipped policies " + ", ".join(text(u) for u in users) + "."
        if users
        else "No shipped policy reads this schema."
    )
    parts.append("## Fields")
    rows: list[list[str]] = []
    for path, leaf in schema.leaves.items():
        rows.append(_field_row(path, leaf.doc, read.get(path, [])))
        for name, item in (leaf.doc.items or {}).items():
            rows.append(_field_row(f"{path}[].{name}", item, None))
    parts.append(table(["Field", "Label", "Type", "Given", "Classification", "Read by"], rows))
    parts.append(
        "A list's item fields are shown as `list[].field`; the rules that read a list read its items."
    )
    if schema.derived:
        parts.append("## Derived facts")
        parts.append(
            "Computed from the fields with the expression shown; a fact that has no value is empty "
            "(what that means is said in words), never a placeholder number."
        )
        derived_rows = []
        for name, derived in schema.derived.items():
            spec = schema.fields[name]
            meaning = text(derived.label)
            if derived.absent:
                meaning += f" (empty when {text(derived.absent)})"
            derived_rows.append(
                [
                    code(name),
                    meaning,
                    code(derived.text),
                    text(spec.type.value),
                    text(CLASSIFICATION_WORDS[derived.classification.value]),
                    _read_by(read.get(name, [])),
                ]
            )
        parts.append(
            table(["Fact", "Label", "Expression", "Type", "Classification", "Read by"], derived_rows)
        )
    return titled(f"{schema.name}: {schema.title}", "\n\n".join(parts) + "\n")


def _field_row(path: str, doc: FieldDoc, read: list[tuple[PolicyVersion, str]] | None) -> list[str]:
    label = text(doc.label)
    if doc.description:
        label += f"<br>{text(doc.description)}"
    return [
        code(path),
        label,
        _type(doc),
        _given(doc),
        text(CLASSIFICATION_WORDS[doc.classification.value]),
        "see the list" if read is None else _read_by(read),
    ]


def _type(doc: FieldDoc) -> str:
    if doc.type is FieldType.CHOICE:
        return "choice: " + ", ".join(code(c) for c in doc.choices or [])
    if doc.type is FieldType.LIST:
        return text(f"list of {doc.item_name or 'items'}")
    words = text(doc.type.value)
    if doc.unit:
        words += f" ({text(doc.unit)})"
    if doc.pattern:
        words += f", matching {code(doc.pattern)}"
    return words


def _given(doc: FieldDoc) -> str:
    if doc.required:
        return "required"
    if doc.optional:
        return "optional" + (f" (empty when {text(doc.absent)})" if doc.absent else "")
    if doc.type is FieldType.LIST:
        return "optional (empty list)"
    default = doc.default
    shown = ("yes" if default else "no") if isinstance(default, bool) else str(default)
    return f"default {code(shown)}"


def _read_by(read: list[tuple[PolicyVersion, str]]) -> str:
    if not read:
        return "no rule"
    links = []
    for version, rule_id in read:
        page = f"../../{CATALOGUE}/{version.policy.id}/{version.slug}/{rule_id}.md"
        links.append(f"[{code(rule_id)}]({page}) ({text(version.policy.id)} {text(version.policy.version)})")
    return "<br>".join(links)
