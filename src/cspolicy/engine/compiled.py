"""The compiled form of a policy: what evaluation reads, computed once per policy version."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from cspolicy.diagnostics import Location, Problem
from cspolicy.engine.caseschema import CaseSchema
from cspolicy.engine.outputs import CitationOut, PolicyRef
from cspolicy.expressions import Labels, Node
from cspolicy.expressions.closures import Fn
from cspolicy.expressions.nodes import Name
from cspolicy.expressions.templates import Template
from cspolicy.expressions.types import Type
from cspolicy.source.documents import Rule, RuleKind
from cspolicy.source.loading import Entity, PolicySource


@dataclass
class CompiledExpression:
    """One checked expression: its text, AST, closure, the names it reads, and where it was written."""

    text: str
    node: Node
    fn: Fn
    location: Location
    names: list[Name]

    def paths(self) -> list[str]:
        """The distinct names read, in first-use order."""
        seen: dict[str, None] = {}
        for name in self.names:
            seen.setdefault(name.path, None)
        return list(seen)


@dataclass
class CompiledCondition(CompiledExpression):
    """A `when` or `unless` condition of a rule."""

    part: Literal["when", "unless"] = "when"


@dataclass
class DatedParameterValue:
    """A parameter value with its resolved half-open interval [start, end)."""

    start: dt.date
    end: dt.date | None
    value: Any


@dataclass
class CompiledParameter:
    """A parameter with its type, label and resolved dated values."""

    name: str
    type: Type
    label: str
    entity: Entity[Any]
    values: list[DatedParameterValue]
    keyed: bool = False  # each dated value is a table key → value, read as params.NAME[key]

    def value_on(self, day: dt.date) -> Any:
        """The value in force on `day`; KeyError when none is."""
        for dated in self.values:
            if dated.start <= day and (dated.end is None or day < dated.end):
                return dated.value
        raise KeyError(self.name)


@dataclass
class CompiledDerived:
    """A derived value: name, label and its compiled expression."""

    name: str
    label: str
    expression: CompiledExpression
    entity: Entity[Any]


@dataclass
class CompiledRule:
    """A rule ready to run: its conditions, outputs and citations compiled and resolved."""

    rule: Rule
    entity: Entity[Rule]
    index: int
    when: list[CompiledCondition]
    unless: list[CompiledCondition]
    outputs: dict[str, CompiledExpression]
    citations: list[CitationOut]
    due_after: CompiledExpression | None = None
    due_extended_when: CompiledExpression | None = None
    due_citations: list[CitationOut] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.rule.id

    @cached_property
    def is_hold(self) -> bool:
        return self.rule.kind is RuleKind.HOLD

    @cached_property
    def identity(self) -> tuple[str, str, str, str, int]:
        """(action, rule id, kind, title, priority): what every action of this rule starts from."""
        rule = self.rule
        return rule.action or "", rule.id, rule.kind.value, rule.title, rule.priority


@dataclass
class CompiledPolicy:
    """Everything evaluation needs, computed once per policy version."""

    source: PolicySource
    parameters: dict[str, CompiledParameter]
    derived: dict[str, CompiledDerived]
    rules: dict[str, CompiledRule]
    labels: Labels
    digest: str
    warnings: list[Problem]
    # Explanation sentence templates, keyed by id() of this policy's own expressions (which live
    # as long as the policy does) with how the sentence is said (true/false/unknown, and which
    # parts hold); filled by the explainer on first use.
    templates: dict[tuple[int, bool | None, tuple[Any, ...]], Template] = field(
        default_factory=dict, repr=False, compare=False
    )
    # What the explainer works out once per expression (names read, sentence parts, derived
    # values), keyed by what and id() of this policy's own expressions; filled on first use.
    explain_cache: dict[tuple[str, int], Any] = field(default_factory=dict, repr=False, compare=False)
    # Each rule's citations as JSON, built on first use by the explainer.
    citations_json: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False, compare=False)
    # The parameter values each rule reads, as JSON, by (id() of the rule, day): the same for
    # every case of that day; filled by the explainer on first use.
    parameters_json: dict[tuple[int, dt.date], dict[str, Any]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # The case schema the policy reads (child-support/v1 unless the policy names one).
    case_schema: CaseSchema | None = field(default=None, repr=False, compare=False)
    # Parameter values in force, by day: most caseloads span a few hundred days at most.
    _in_force: dict[dt.date, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def reference(self) -> PolicyRef:
        """Which policy decided: id, version, digest (one object, shared by its decisions)."""
        return PolicyRef(id=self.source.id, version=self.source.version, digest=self.digest)

    @cached_property
    def action_order(self) -> tuple[CompiledRule, ...]:
        """The rules that lead to actions, in the order actions are listed: priority, then policy order."""
        rules = [rule for rule in self.rules.values() if not rule.is_hold]
        rules.sort(key=lambda rule: -rule.rule.priority)  # stable: ties keep policy order
        return tuple(rules)

    @cached_property
    def action_steps(self) -> tuple[tuple[str, CompiledRule], ...]:
        """`action_order` with each rule's id: what deciding a case walks."""
        return tuple((rule.rule.id, rule) for rule in self.action_order)

    @cached_property
    def positions(self) -> dict[str, int]:
        """Rule id → its place in policy order (the order held and waiting actions are listed)."""
        return {rule_id: position for position, rule_id in enumerate(self.rules)}

    @cached_property
    def derived_fns(self) -> dict[str, Fn]:
        """Derived name → closure; built once, read by every evaluation."""
        return {name: d.expression.fn for name, d in self.derived.items()}

    def parameters_on(self, day: dt.date) -> dict[str, Any]:
        """Every parameter value in force on `day` (parameters with none are left out)."""
        values = {}
        for name, parameter in self.parameters.items():
            try:
                values[name] = parameter.value_on(day)
            except KeyError:
                continue
        return values

    def parameters_in_force(self, day: dt.date) -> dict[str, Any]:
        """`parameters_on(day)`, computed once per day (at most 4,096 days kept)."""
        values = self._in_force.get(day)
        if values is None:
            if len(self._in_force) >= 4096:
                self._in_force.clear()
            values = self._in_force[day] = self.parameters_on(day)
        return values
