"""Reference pages generated from the code: actions, diagnostic codes, expressions, schemas, API, modules."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cspolicy.authoring.testing import TestFile
from cspolicy.diagnostics import Code
from cspolicy.docs.catalogue import PolicySetDocs
from cspolicy.docs.codes import describe
from cspolicy.docs.text import code, fenced, prose, slug, table, text
from cspolicy.engine.snapshot import FIELDS, CaseSnapshot
from cspolicy.expressions.parser import FUNCTIONS
from cspolicy.source.documents import PolicyFile

# The shared action vocabulary (DESIGN.md) plus the codes the shipped policies added.
ACTION_MEANINGS = {
    "initiate_income_withholding": "send an income withholding notice to a known employer",
    "increase_income_withholding": "add an amount for past-due support to the income withholding",
    "initiate_military_pay_withholding": "withhold support from military pay",
    "initiate_unemployment_intercept": "intercept unemployment insurance benefits",
    "send_delinquency_notice": "first letter to a parent who has fallen behind",
    "charge_interest": "interest accrues on past-due support (output: the month's interest)",
    "offer_payment_plan": "offer an alternative payment plan for past-due support",
    "refer_federal_tax_offset": "certify past-due support for federal tax refund offset",
    "refer_state_tax_offset": "certify for state tax refund (and lottery/vendor) intercept",
    "refer_state_delinquency_collection": "refer past-due support to the state's delinquent debt collection",
    "refer_financial_institution_data_match": "include the parent in the financial institution data match",
    "certify_passport_denial": "certify for passport denial",
    "docket_lien": "place the case on the (statewide) lien docket / file a lien",
    "report_to_credit_bureau": "report past-due support to consumer credit bureaus",
    "initiate_license_suspension": "start license suspension (notice, then certification)",
    "refer_for_contempt": "refer to the court for contempt",
    "request_bench_warrant": "ask the court for a bench warrant",
    "request_warrant_clearance": "ask the court to clear an outstanding warrant",
    "refer_employment_training": "refer the parent to employment and training services",
    "arrange_warm_handoff": "hand the parent over in person to employment and training services",
    "refer_job_search_assistance": "refer the parent to job search assistance",
    "refer_case_manager": "assign or refer the case to a case manager",
    "refer_legal_assistance": "refer the parent to legal assistance",
    "review_order": "review the order for modification (job loss, incarceration)",
    "apply_family_violence_safeguards": "apply the family violence safeguards (limit disclosure and some actions)",
    "eligible_back_on_track": "eligible for Milwaukee's Back on Track match (output: credit)",
    "eligible_license_release": "eligible for license release",
    "invite_license_release_meeting": "invite the parent to a license release meeting",
}


def actions_page(sets: list[PolicySetDocs]) -> str:
    """Every action code the shipped policies recommend, its meaning, and the rules that recommend it."""
    used: dict[str, list[tuple[str, str, str]]] = {}
    for docs in sets:
        latest_actions = {r.rule.action for r in docs.latest.policy.compiled.rules.values()}
        for version in reversed(docs.versions):
            label = docs.id if version is docs.latest else f"{docs.id} {version.policy.version}"
            for rule in version.policy.compiled.rules.values():
                action = rule.rule.action
                # Older versions only add actions their successors no longer use.
                if action and (version is docs.latest or action not in latest_actions):
                    page = f"../{version.rule_page(rule.id)}"
                    used.setdefault(action, []).append((label, rule.rule.title, page))
    parts = [
        "# Action vocabulary",
        "Case management systems map action codes to work queues, so every shipped policy set uses "
        "one vocabulary. Codes are snake_case and start with a verb. This page lists every code the "
        "shipped policy sets recommend, and the rules (of the latest version of each set) that "
        "recommend it.",
        table(
            ["Code", "Meaning"],
            [[f"[{code(action)}](#{slug(action)})", text(_meaning(action))] for action in sorted(used)],
        ),
    ]
    for action in sorted(used):
        rules = sorted(set(used[action]))
        parts.append(f"## {text(action)} {{#{slug(action)}}}")
        parts.append(text(_meaning(action)).capitalize() + ".")
        parts.append("\n".join(f"- {code(set_id)}: [{text(title)}]({page})" for set_id, title, page in rules))
    return "\n\n".join(parts)


def _meaning(action: str) -> str:
    return ACTION_MEANINGS.get(action, action.replace("_", " "))


def codes_index() -> str:
    """The list of every diagnostic code, linking to one page each."""
    rows = [
        [f"[{code.value}]({code.value}.md)", text(code.name.lower()), prose(describe(code)[0])]
        for code in Code
    ]
    return "\n\n".join(
        [
            "# Diagnostic codes",
            "Every problem cspolicy reports carries a stable code as well as its location "
            "(`file:line:col: message [CSPxxx]`). The hundreds group them: 1xx reading YAML and the "
            "document structure, 2xx references between documents, 3xx expressions, 4xx static "
            "analysis, 5xx snapshots and evaluation.",
            table(["Code", "Name", "Meaning"], rows),
        ]
    )


def code_page(value: Code) -> str:
    """One diagnostic code: what it means and how to fix it."""
    meaning, fix = describe(value)
    return "\n\n".join(
        [
            f"# {value.value} — {text(value.name.lower().replace('_', ' '))}",
            f"Code {code(value.value)} · `Code.{value.name}`",
            "## What it means",
            meaning,
            "## How to fix it",
            fix,
            "[All diagnostic codes](index.md)",
        ]
    )


def functions_table() -> str:
    """The whitelist of functions expressions may call, with what each gives."""
    return table(
        ["Function", "What it gives"], [[code(f"{n}()"), text(d)] for n, d in sorted(FUNCTIONS.items())]
    )


def expressions_page() -> str:
    """The expression language: operators, the function whitelist and every snapshot field."""
    functions = functions_table()
    fields = []
    for path, spec in FIELDS.items():
        kind = spec.type.value
        if spec.choices:
            kind += ": " + " or ".join(spec.choices)
        fields.append([code(path), text(kind), text(spec.label), "optional" if spec.optional else ""])
        for item, sub in spec.items.items():
            sub_kind = sub.type.value + (": " + " or ".join(sub.choices) if sub.choices else "")
            fields.append([code(f"{path}[].{item}"), text(sub_kind), text(sub.label), ""])
    return "\n\n".join(
        [
            "# Expression reference",
            "Conditions (`when`, `unless`), derived values, outputs and deadlines are expressions: a "
            "small, safe subset of Python syntax. They are parsed with Python's `ast` module and "
            "checked when the policy loads — every name must be a snapshot field, a parameter "
            "(`params.NAME`) or a derived value, and types must fit. Nothing is ever `eval`'ed.",
            "## Operators",
            table(
                ["Write", "Means"],
                [
                    [code("+ - * /"), "arithmetic (exact decimals; money stays money)"],
                    [code("> >= < <= == !="), "comparisons (dates compare as before/after)"],
                    [code("and or not"), "logic; `none` (unknown) propagates as in three-valued logic"],
                    [code('x in ["a", "b"]'), "membership in a list of literal values"],
                    [
                        code("x == None  x != None"),
                        "whether a value is missing (always yes or no, never unknown)",
                    ],
                    [
                        code("x if condition else y"),
                        "x when the condition is true, y when it is false, nothing (None) when it is "
                        "unknown; x and y have one type, and either may be `None`",
                    ],
                    [
                        code("params.NAME[key]"),
                        "the entry for `key` (text, e.g. `jurisdiction.county`) in a keyed parameter's "
                        "table in force; a key the table does not have is an evaluation error "
                        "(CSP508), a missing key gives nothing",
                    ],
                    [code('"text" 12 12.50 True False None'), "literals"],
                ],
            ),
            "## Functions",
            "Only these functions can be called:",
            functions,
            "## Snapshot fields",
            "Every field a policy can read. Lists (marked `[]`) are read with `any_of(list, condition)`, "
            "`count_of(list, condition)` and the aggregates `max_of` / `min_of` / `sum_of(list, field, "
            "condition)`, where the field and the condition name the item's fields directly (the "
            "condition may also read the case, as in `date <= as_of`). Items whose field is missing "
            "are skipped; with no item left `max_of` / `min_of` give nothing and `sum_of` gives 0.",
            table(["Path", "Type", "In words", ""], fields),
        ]
    )


SCHEMA_MODELS: dict[str, tuple[str, type[BaseModel]]] = {
    "policy": ("Policy file", PolicyFile),
    "snapshot": ("Case snapshot", CaseSnapshot),
    "test": ("Policy test file (*.test.yaml)", TestFile),
}


def schema_page() -> str:
    """The document formats, rendered from the pydantic models' JSON Schemas (never hand-copied)."""
    parts = [
        "# Schema reference",
        "The YAML formats, generated from the models cspolicy validates with. Editors that speak the "
        "YAML language server validate and complete as you type when a file starts with a "
        "`# yaml-language-server: $schema=...` line pointing at the matching file in `schema/`.",
    ]
    for key, (title, model) in SCHEMA_MODELS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        definitions: dict[str, Any] = schema.get("$defs", {})
        parts.append(f"## {text(title)} {{#{key}}}")
        parts.append(_object_table(schema, definitions, key))
        for name in sorted(definitions):
            definition = definitions[name]
            if definition.get("type") != "object":
                continue
            parts.append(f"### {text(name)} {{#{key}-{slug(name)}}}")
            if definition.get("description"):
                parts.append(prose(definition["description"]))
            parts.append(_object_table(definition, definitions, key))
    return "\n\n".join(parts)


def _object_table(schema: dict[str, Any], definitions: dict[str, Any], key: str) -> str:
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.get("description", "")
        rows.append(
            [
                code(name),
                _type(prop, definitions, key),
                "yes" if name in required else "",
                prose(description),
            ]
        )
    if not rows:
        return "*(no fields)*"
    return table(["Key", "Type", "Required", "Description"], rows)


def _type(prop: dict[str, Any], definitions: dict[str, Any], key: str) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        definition = definitions.get(name, {})
        if "enum" in definition:
            return " or ".join(code(v) for v in definition["enum"])
        return f"[{text(name)}](#{key}-{slug(name)})"
    if "enum" in prop:
        return " or ".join(code(v) for v in prop["enum"])
    if "anyOf" in prop:
        return " or ".join(_type(option, definitions, key) for option in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return "list of " + _type(prop.get("items", {}), definitions, key)
    if kind == "object" and "additionalProperties" in prop and isinstance(prop["additionalProperties"], dict):
        return "mapping of name → " + _type(prop["additionalProperties"], definitions, key)
    if prop.get("format"):
        return text(f"{kind} ({prop['format']})")
    return text(str(kind))


def example_block(body: str, language: str = "yaml") -> str:
    """A fenced example block (kept here so guides and references quote files the same way)."""
    return fenced(body, language)


def cli_page() -> str:
    """The `cspolicy` command's help, captured from its own argument parser (so it cannot drift)."""
    import argparse

    from cspolicy.cli import build_parser

    def formatter(prog: str) -> argparse.HelpFormatter:
        return argparse.HelpFormatter(prog, width=100)

    parser = build_parser()
    parser.formatter_class = formatter
    parts = [
        "# Command line",
        "Generated from the command's own help. Every subcommand prints problems as "
        "`file:line:col: message [CSPxxx]` and exits 0 when all is well, 1 when it found problems "
        "and 2 on a usage error.",
        fenced(parser.format_help(), "text"),
    ]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in sorted(action.choices.items()):
                sub.formatter_class = formatter
                parts += [f"## cspolicy {text(name)}", fenced(sub.format_help(), "text")]
    return "\n\n".join(parts)


def yaml_excerpt(file: str, line: int, column: int) -> str:
    """The YAML block of one item, cut from its file: the item's line and every line indented under it."""
    lines = Path(file).read_text(encoding="utf-8").splitlines()
    indent = max(column - 1, 0)
    block = [lines[line - 1]]
    for following in lines[line:]:
        stripped = following.strip()
        if stripped and len(following) - len(following.lstrip(" ")) < indent:
            break
        block.append(following)
    while block and not block[-1].strip():
        block.pop()
    return textwrap.dedent("\n".join(block))


def authoring_examples(root: Path) -> dict[str, str]:
    """Marker name → a real parameter and rule quoted from the shipped federal policy, if present."""
    from cspolicy.engine.policy import load_policy

    examples = {"example-parameter": "", "example-rule": ""}
    federal = root / "policies" / "federal"
    if not federal.is_dir():
        return examples
    compiled = load_policy(federal).compiled
    rule = compiled.rules.get("passport-denial") or next(iter(compiled.rules.values()))
    location = rule.entity.location
    examples["example-rule"] = fenced(yaml_excerpt(location.file, location.line, location.column), "yaml")
    for name in rule.parameters[:1]:
        where = compiled.parameters[name].entity.location
        body = yaml_excerpt(where.file, where.line, where.column)
        examples["example-parameter"] = fenced("parameters:\n" + textwrap.indent(body, "  "), "yaml")
    return examples


# The layers from the bottom up (pyproject.toml's import-linter contract); a package not named here
# is listed after them, so a new one cannot be left off the module map.
LAYER_ORDER = (
    "diagnostics",
    "_version",
    "source",
    "expressions",
    "engine",
    "analysis",
    "authoring",
    "caseload",
    "rete",
    "store",
    "cli",
    "docs",
)


def module_map() -> str:
    """Where each concern lives: every module of `cspolicy` with the first line of its docstring,
    package by package from the bottom layer up (read from the source files, nothing imported)."""
    import ast

    import cspolicy

    base = Path(cspolicy.__file__).parent

    def summary(path: Path) -> str:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def rank(name: str) -> tuple[int, str]:
        return (LAYER_ORDER.index(name) if name in LAYER_ORDER else len(LAYER_ORDER), name)

    tops = {path.stem for path in base.glob("*.py") if path.stem != "__init__"}
    tops |= {path.parent.name for path in base.glob("*/__init__.py")}
    parts = []
    loose: list[list[str]] = []
    for top in sorted(tops, key=rank):
        if (base / f"{top}.py").is_file():
            loose.append([code(f"cspolicy.{top}"), prose(summary(base / f"{top}.py"))])
            continue
        if loose:
            parts.append(table(["Module", "What it is for"], loose))
            loose = []
        package = base / top
        rows = [
            [code(f"cspolicy.{top}.{path.stem}"), prose(summary(path))]
            for path in sorted(package.glob("*.py"))
            if path.stem != "__init__"
        ]
        parts.append(f"**{code(f'cspolicy.{top}')}**: {prose(summary(package / '__init__.py'))}")
        parts.append(table(["Module", "What it is for"], rows))
    if loose:
        parts.append(table(["Module", "What it is for"], loose))
    return "\n\n".join(parts)


# The packages whose `__all__` is the public API, in the order the API reference shows them: what
# `import cspolicy` gives, then the concept packages from the engine out (docs/architecture.md).
API_PACKAGES = (
    "cspolicy",
    "cspolicy.engine",
    "cspolicy.source",
    "cspolicy.expressions",
    "cspolicy.analysis",
    "cspolicy.authoring",
    "cspolicy.caseload",
    "cspolicy.rete",
    "cspolicy.store",
)


def api_page() -> str:
    """The API reference, read from the packages' `__all__` so it cannot fall behind: one section
    per package of `API_PACKAGES`, titled by the first line of its docstring, with a mkdocstrings
    directive for each class, function and module it exports. A name exported by an earlier
    package (`cspolicy.PolicySet` is `cspolicy.engine.PolicySet`) is documented once, there; a
    package whose optional dependencies are missing is left out."""
    import importlib
    import inspect

    parts = [
        "# API reference",
        "Everything `import cspolicy` exports, then the public names of each package (its "
        "`__all__`), from their docstrings. Anything not listed here is internal and may change.",
    ]
    documented: dict[int, str] = {}
    for package in API_PACKAGES:
        try:
            loaded = importlib.import_module(package)
        except ImportError:
            continue
        title = (loaded.__doc__ or package).strip().splitlines()[0].strip().rstrip(".")
        directives: list[str] = []
        constants: list[str] = []
        again: list[str] = []
        for name in getattr(loaded, "__all__", []):
            value = getattr(loaded, name)
            if name.startswith("__"):
                continue
            if id(value) in documented:
                again.append(f"[{code(name)}](#{documented[id(value)]})")
            elif callable(value) or inspect.ismodule(value):
                documented[id(value)] = f"{package}.{name}"
                directives.append(f"::: {package}.{name}\n    options:\n      heading_level: 3")
            else:
                constants.append(code(name))
        parts.append(f"## {text(title)}")
        parts.append(f"Import from {code(package)}.")
        if again:
            parts.append("Also exports " + ", ".join(again) + " (documented above).")
        if constants:
            parts.append("Constants: " + ", ".join(constants) + ".")
        parts.extend(directives)
    return "\n\n".join(parts)
