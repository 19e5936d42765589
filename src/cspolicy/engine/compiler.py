"""Compile a merged policy source once: resolve citations, type-check and compile every expression."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from decimal import Decimal
from typing import Any

from cspolicy.diagnostics import Code, Location, PolicyError, Problem, Severity, suggest
from cspolicy.engine.caseschema import CaseSchema, compile_case_schema, default_case_schema
from cspolicy.engine.compiled import (
    CompiledCondition,
    CompiledDerived,
    CompiledExpression,
    CompiledParameter,
    CompiledPolicy,
    CompiledRule,
    DatedParameterValue,
)
from cspolicy.engine.ordering import derived_order, rule_cycles
from cspolicy.engine.outputs import CitationOut
from cspolicy.expressions import (
    CheckError,
    ExpressionSyntaxError,
    Labels,
    Scope,
    Type,
    check,
    compile_expression,
    parse_expression,
)
from cspolicy.expressions.nodes import Name, top_level_names
from cspolicy.source.documents import Citation, Rule, RuleKind, Unit
from cspolicy.source.loading import Entity, PolicySource

__all__ = [
    "UNIT_TYPES",
    "CompiledCondition",
    "CompiledDerived",
    "CompiledExpression",
    "CompiledParameter",
    "CompiledPolicy",
    "CompiledRule",
    "DatedParameterValue",
    "compile_source",
    "policy_digest",
]

UNIT_TYPES = {
    Unit.USD: Type.MONEY,
    Unit.DAYS: Type.INTEGER,
    Unit.MONTHS: Type.INTEGER,
    Unit.COUNT: Type.INTEGER,
    Unit.RATE: Type.NUMBER,
    Unit.PERCENT: Type.NUMBER,
    Unit.DATE: Type.DATE,
    Unit.BOOLEAN: Type.BOOL,
}


class _Compiler:
    def __init__(self, source: PolicySource) -> None:
        self.source = source
        self.case_schema: CaseSchema = (
            default_case_schema() if source.case_schema is None else compile_case_schema(source.case_schema)
        )
        self.fields = self.case_schema.fields
        self.problems: list[Problem] = []
        self.cyclic: set[str] = set()  # derived names not compiled because of a reported cycle

    def error(self, code: Code, message: str, location: Location) -> None:
        self.problems.append(Problem(code, message, location))

    def citations(
        self,
        cites: list[Citation],
        entity: Entity[Any],
        path: tuple[str | int, ...],
        required: bool,
    ) -> list[CitationOut]:
        if required and not cites:
            what = "rule" if entity.path[0] == "rules" else "parameter"
            self.error(
                Code.MISSING_CITATION,
                f"{what} has no citation: add `cite:` with a source id",
                entity.location,
            )
        resolved = []
        for index, citation in enumerate(cites):
            entry = self.source.sources.get(citation.source)
            if entry is None:
                self.error(
                    Code.UNKNOWN_SOURCE,
                    f"unknown source {citation.source!r}{suggest(citation.source, list(self.source.sources))}",
                    entity.at(*path, index),
                )
                continue
            resolved.append(
                CitationOut(
                    source=citation.source,
                    title=entry.item.title,
                    pinpoint=citation.pinpoint,
                    url=entry.item.url,
                )
            )
        return resolved

    def parameter(self, name: str, entity: Entity[Any]) -> CompiledParameter:
        parameter = entity.item
        type_ = UNIT_TYPES[parameter.unit]
        self.citations(parameter.cite, entity, ("cite",), required=True)
        values: list[DatedParameterValue] = []
        keyed = any(isinstance(dated.value, dict) for dated in parameter.values)
        ordered = sorted(enumerate(parameter.values), key=lambda pair: pair[1].from_)
        for position, (index, dated) in enumerate(ordered):
            if keyed != isinstance(dated.value, dict):
                self.error(
                    Code.WRONG_TYPE,
                    f"parameter {name!r} is keyed (a table of values): every dated value must be a table",
                    entity.at("values", index, "value"),
                )
                continue
            if isinstance(dated.value, dict):
                value: Any = {
                    key: self.parameter_value(entry, type_, entity, index, key)
                    for key, entry in dated.value.items()
                }
            else:
                value = self.parameter_value(dated.value, type_, entity, index)
            end = dated.to
            if end is None and position + 1 < len(ordered):
                end = ordered[position + 1][1].from_
            values.append(DatedParameterValue(dated.from_, end, value))
        for previous, current in itertools.pairwise(values):
            if previous.end is not None and previous.end > current.start:
                self.error(
                    Code.PARAMETER_GAP,
                    f"parameter {name!r}: values overlap ({previous.start}–{previous.end} and from {current.start})",
                    entity.location,
                )
            elif previous.end is not None and previous.end < current.start:
                self.source.warnings.append(
                    Problem(
                        Code.PARAMETER_GAP,
                        f"parameter {name!r} has no value from {previous.end} to {current.start}",
                        entity.location,
                        Severity.WARNING,
                    )
                )
        label = parameter.label or name.replace("_", " ")
        return CompiledParameter(name, type_, label, entity, values, keyed)

    def parameter_value(
        self, value: Any, type_: Type, entity: Entity[Any], index: int, key: str | None = None
    ) -> Any:
        path: tuple[str | int, ...] = ("values", index, "value") + (() if key is None else (key,))
        location = entity.at(*path)
        if type_ is Type.BOOL:
            if not isinstance(value, bool):
                self.error(Code.WRONG_TYPE, "value must be true or false for unit boolean", location)
            return value
        if type_ is Type.DATE:
            if not isinstance(value, dt.date):
                self.error(Code.WRONG_TYPE, "value must be a date (YYYY-MM-DD) for unit date", location)
            return value
        if isinstance(value, (bool, dt.date)):
            self.error(
                Code.WRONG_TYPE,
                f"value must be a number for unit {entity.item.unit.value}",
                location,
            )
            return value
        if not Decimal(value).is_finite() or Decimal(value).adjusted() >= 30:
            # Checked before int(): int(Decimal("1e1000000000")) would build a billion digits.
            self.error(Code.INVALID_VALUE, "value must be a finite number below 1e30", location)
            return Decimal(0)
        if type_ is Type.INTEGER:
            if Decimal(value) != Decimal(value).to_integral_value():
                self.error(
                    Code.WRONG_TYPE,
                    f"value must be a whole number for unit {entity.item.unit.value}",
                    location,
                )
            return int(value)
        if not Decimal(value).is_finite():
            self.error(Code.INVALID_VALUE, "value must be a finite number", location)
        return Decimal(value)

    def expression(
        self, text: str, entity: Entity[Any], path: tuple[str | int, ...], scope: Scope, label: str
    ) -> CompiledExpression | None:
        start = entity.source_map.content((*entity.path, *path))
        try:
            node = parse_expression(text)
        except ExpressionSyntaxError as exc:
            self.error(exc.code, f"{label}: {exc.message}", start.shifted(exc.line, exc.column))
            return None
        try:
            check(node, scope)
        except CheckError as exc:
            unresolved = isinstance(exc.node, Name) and exc.node.path in self.cyclic
            if not unresolved:  # a name left out by a reported derived cycle is not a second error
                self.error(exc.code, f"{label}: {exc.message}", start.shifted(exc.node.line, exc.node.column))
            return None
        location = start.shifted(node.line, node.column) if node.line else start
        return CompiledExpression(
            text.strip(), node, compile_expression(node), location, top_level_names(node)
        )

    def compile(self) -> CompiledPolicy:
        source = self.source
        parameters = {name: self.parameter(name, entity) for name, entity in source.parameters.items()}
        scope = Scope(
            self.fields,
            {name: p.type for name, p in parameters.items()},
            keyed=frozenset(name for name, p in parameters.items() if p.keyed),
        )
        derived = self.derived(scope)
        scope.derived = {name: d.expression.node.type for name, d in derived.items()}
        rules: dict[str, CompiledRule] = {}
        for index, (rule_id, entity) in enumerate(source.rules.items()):
            compiled = self.rule(entity, index, scope)
            if compiled is not None:
                rules[rule_id] = compiled
        self.references(rules)
        for rule in rules.values():
            rule.parameters = self.parameters_read(rule, derived)
        if any(p.severity is Severity.ERROR for p in self.problems):
            raise PolicyError(self.problems)
        labels = Labels(
            params={name: p.label for name, p in parameters.items()},
            derived={name: d.label for name, d in derived.items()},
        )
        return CompiledPolicy(
            source=source,
            parameters=parameters,
            derived=derived,
            rules=rules,
            labels=labels,
            digest=policy_digest(source),
            warnings=list(source.warnings),
            case_schema=self.case_schema,
        )

    def derived(self, scope: Scope) -> dict[str, CompiledDerived]:
        """Compile derived values in dependency order; a cycle is a located error."""
        texts = {name: entity.item.expr for name, entity in self.source.derived.items()}
        order, cycle = derived_order(texts)
        if cycle:
            self.cyclic = set(texts)
            entity = self.source.derived[cycle[0]]
            self.error(
                Code.DEPENDENCY_CYCLE,
                f"derived values depend on each other in a cycle: {' → '.join(cycle)}",
                entity.location,
            )
            return {}
        compiled: dict[str, CompiledDerived] = {}
        for name in order:
            entity = self.source.derived[name]
            if name in self.fields or name == "params":
                self.error(
                    Code.DUPLICATE_ID,
                    f"derived name {name!r} hides a snapshot field",
                    entity.location,
                )
                continue
            expression = self.expression(entity.item.expr, entity, (), scope, f"derived {name!r}")
            if expression is None:
                continue
            scope.derived[name] = expression.node.type
            label = entity.item.label or name.replace("_", " ")
            compiled[name] = CompiledDerived(name, label, expression, entity)
        return compiled

    def rule(self, entity: Entity[Rule], index: int, scope: Scope) -> CompiledRule | None:
        rule = entity.item
        citations = self.citations(rule.cite, entity, ("cite",), required=True)
        conditions: dict[str, list[CompiledCondition]] = {"when": [], "unless": []}
        for part in ("when", "unless"):
            texts = getattr(rule, part)
            single = _written_as_text(entity, part)
            for position, text in enumerate(texts):
                path: tuple[str | int, ...] = (part,) if single else (part, position)
                expression = self.expression(text, entity, path, scope, f"rule {rule.id!r} {part}")
                if expression is None:
                    continue
                if expression.node.type is not Type.BOOL:
                    self.error(
                        Code.TYPE_MISMATCH,
                        f"rule {rule.id!r} {part}: a condition must be yes/no, not {expression.node.type.article}",
                        expression.location,
                    )
                    continue
                conditions[part].append(CompiledCondition(**vars(expression), part=part))
        outputs: dict[str, CompiledExpression] = {}
        for name, text in rule.outputs.items():
            expression = self.expression(
                text, entity, ("outputs", name), scope, f"rule {rule.id!r} output {name!r}"
            )
            if expression is not None:
                outputs[name] = expression
        due_after = None
        due_extended_when = None
        due_citations: list[CitationOut] = []
        if rule.due is not None:
            due_after = self.expression(
                rule.due.after, entity, ("due", "after"), scope, f"rule {rule.id!r} due"
            )
            if due_after is not None and due_after.node.type is not Type.DATE:
                self.error(
                    Code.TYPE_MISMATCH,
                    f"rule {rule.id!r} due: `after` must be a date",
                    due_after.location,
                )
            due_citations = self.citations(rule.due.cite, entity, ("due", "cite"), required=False)
            if rule.due.extended is not None:
                due_extended_when = self.expression(
                    rule.due.extended.when,
                    entity,
                    ("due", "extended", "when"),
                    scope,
                    f"rule {rule.id!r} due extended",
                )
                if due_extended_when is not None and due_extended_when.node.type is not Type.BOOL:
                    self.error(
                        Code.TYPE_MISMATCH,
                        f"rule {rule.id!r} due: `extended.when` must be yes/no",
                        due_extended_when.location,
                    )
                due_citations += self.citations(
                    rule.due.extended.cite, entity, ("due", "extended", "cite"), required=False
                )
        return CompiledRule(
            rule=rule,
            entity=entity,
            index=index,
            when=conditions["when"],
            unless=conditions["unless"],
            outputs=outputs,
            citations=citations,
            due_after=due_after,
            due_extended_when=due_extended_when,
            due_citations=due_citations,
        )

    def references(self, rules: dict[str, CompiledRule]) -> None:
        known = list(self.source.rules)
        for rule in rules.values():
            for part in ("holds", "requires"):
                for index, target in enumerate(getattr(rule.rule, part)):
                    if target not in self.source.rules:
                        self.error(
                            Code.UNKNOWN_RULE,
                            f"rule {rule.id!r} {part} unknown rule {target!r}{suggest(target, known)}",
                            rule.entity.at(part, index),
                        )
                    elif part == "requires" and self.source.rules[target].item.kind is RuleKind.HOLD:
                        self.error(
                            Code.UNKNOWN_RULE,
                            f"rule {rule.id!r} requires hold {target!r}; a requirement must be a rule with an action",
                            rule.entity.at(part, index),
                        )
        for cycle in rule_cycles(rules):
            first = rules[cycle[0]]
            self.error(
                Code.DEPENDENCY_CYCLE,
                f"rules depend on each other in a cycle: {' → '.join(cycle)}",
                first.entity.location,
            )

    def parameters_read(self, rule: CompiledRule, derived: dict[str, CompiledDerived]) -> list[str]:
        seen: dict[str, None] = {}
        pending = [e for e in [*rule.when, *rule.unless, *rule.outputs.values()]]
        visited: set[str] = set()
        while pending:
            expression = pending.pop(0)
            for name in expression.names:
                if name.kind == "param":
                    seen.setdefault(name.key, None)
                elif name.kind == "derived" and name.key not in visited and name.key in derived:
                    visited.add(name.key)
                    pending.append(derived[name.key].expression)
        return list(seen)


def _written_as_text(entity: Entity[Any], part: str) -> bool:
    """Whether the author wrote `part` as one string rather than a list (for locating conditions)."""
    return (*entity.path, part) in entity.source_map.content_start


def policy_digest(source: PolicySource) -> str:
    """sha256 over the normalized, merged policy (parents included; locations excluded)."""
    normal = {
        "id": source.id,
        "version": source.version,
        "title": source.title,
        "jurisdiction": source.jurisdiction.model_dump(mode="json"),
        "effective": source.effective.model_dump(mode="json", by_alias=True),
        "chain": [[i, v] for i, v, _ in source.chain],
        "sources": {k: e.item.model_dump(mode="json") for k, e in sorted(source.sources.items())},
        "parameters": {
            k: e.item.model_dump(mode="json", by_alias=True) for k, e in sorted(source.parameters.items())
        },
        "derived": {k: e.item.model_dump(mode="json") for k, e in sorted(source.derived.items())},
        "rules": [e.item.model_dump(mode="json") for e in source.rules.values()],
    }
    if source.case_schema is not None:  # the default (child-support/v1) leaves 0.1 digests unchanged
        normal["case_schema"] = source.case_schema.digest
    text = json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def compile_source(source: PolicySource) -> CompiledPolicy:
    """Compile a loaded policy source; raises PolicyError with every problem found."""
    return _Compiler(source).compile()
