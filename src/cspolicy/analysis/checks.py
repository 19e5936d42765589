"""Static analysis of a compiled policy: the warnings `cspolicy check` prints (codes CSP401–CSP407).

Findings, each with an exact message and the location of the text at fault:
- CSP401 a rule can never apply (its conditions contradict each other, or do for every value a
  parameter takes while the policy is in force);
- CSP402 a rule is always held (whenever it applies, a hold naming it applies too);
- CSP403 a hold holds nothing (every rule it names can never apply, or never while it does);
- CSP404 / CSP405 a parameter no rule reads / a source nothing cites (only those the checked set
  defines itself: what a parent set defines and a child no longer uses is the parent's business);
- CSP406 two rules produce the same action as different kinds of rule;
- CSP407 a rule repeats a parent's identical rule without `override: true` (found by the loader);
- CSP408 `taken("x")` / `days_since_taken("x")` names an action no rule of the set produces (a
  misspelt code would silently never be found in the enforcement history).

Reasoning about conditions is in `satisfiability.py`: a finding is reported only when it is proven.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import networkx as nx

from cspolicy.analysis.satisfiability import (
    NT,
    SEARCH_BUDGET,
    Formula,
    T,
    Translator,
    disjunction,
    satisfiable,
)
from cspolicy.diagnostics import Code, Location, Problem, Severity, suggest
from cspolicy.engine.compiler import CompiledCondition, CompiledExpression, CompiledPolicy, CompiledRule
from cspolicy.engine.graph import HISTORY_FUNCTIONS, node_id
from cspolicy.expressions.nodes import Call, Literal, Name, Node
from cspolicy.expressions.render import format_value

if TYPE_CHECKING:
    from cspolicy.engine.policy import PolicySet

MAX_CORE_SEARCH = 60  # conditions in a rule beyond which a contradiction is not narrowed down
CORE_BUDGET = 2_000


def check_policy(policy: PolicySet) -> list[Problem]:
    """Every warning about a loaded policy: the loader's and compiler's, then the analyser's."""
    findings = [*policy.warnings, *analyse(policy.compiled, policy.graph)]
    unique = {(p.code, p.message, p.location): p for p in findings}
    return sorted(unique.values(), key=Problem.sort_key)


def analyse(compiled: CompiledPolicy, graph: nx.DiGraph) -> list[Problem]:
    """The analyser's findings (CSP401–CSP406, CSP408) for one compiled policy, in file order."""
    analyser = _Analyser(compiled, graph)
    findings = [
        *analyser.never_applies(),
        *analyser.always_held(),
        *analyser.holds_nothing(),
        *analyser.unused_parameters(),
        *analyser.unused_sources(),
        *analyser.action_kind_conflicts(),
        *analyser.unknown_actions(),
    ]
    return sorted(findings, key=Problem.sort_key)


@dataclass(frozen=True)
class _Epoch:
    """A stretch of the policy's effective dates over which the parameters in question are fixed."""

    start: dt.date
    params: dict[str, Any]


class _Analyser:
    def __init__(self, compiled: CompiledPolicy, graph: nx.DiGraph) -> None:
        self.compiled = compiled
        self.graph = graph
        self.derived: dict[str, Node] = {name: d.expression.node for name, d in compiled.derived.items()}
        self.rules = compiled.rules

    # -- conditions ------------------------------------------------------------------------
    def params_read(self, conditions: Iterable[CompiledCondition]) -> set[str]:
        """Parameters the conditions read, directly or through derived values."""
        found: set[str] = set()
        pending: list[Node] = [c.node for c in conditions]
        seen: set[str] = set()
        while pending:
            for part in pending.pop().walk():
                if isinstance(part, Name) and part.kind == "param":
                    found.add(part.key)
                elif isinstance(part, Name) and part.kind == "derived" and part.key not in seen:
                    seen.add(part.key)
                    if part.key in self.derived:
                        pending.append(self.derived[part.key])
        return found

    def inherited(self, rules: Iterable[CompiledRule]) -> bool:
        """Whether every rule comes from a parent set (then every date counts, not only this
        version's: a parent's rule switched on by a dated parameter after this version ends is
        the parent's design, not a mistake in this set)."""
        return all(rule.entity.origin != self.compiled.source.id for rule in rules)

    def epochs(self, params: set[str], inherited: bool) -> list[_Epoch]:
        """One epoch per distinct combination of the parameters' values in force (while this
        version is in force, or on any date when `inherited`)."""
        effective = self.compiled.source.effective
        start, end = (dt.date.min, None) if inherited else (effective.from_, effective.to)
        days = {start}
        for name in params:
            for dated in self.compiled.parameters[name].values:
                for day in (dated.start, dated.end):
                    if day is not None and start < day and (end is None or day < end):
                        days.add(day)
        epochs: list[_Epoch] = []
        for day in sorted(days):
            values = {name: v for name, v in self.compiled.parameters_on(day).items() if name in params}
            if not epochs or epochs[-1].params != values:
                epochs.append(_Epoch(day, values))
        return epochs

    def translator(self, epoch: _Epoch) -> Translator:
        return Translator(epoch.params, self.derived)

    def applies(self, translator: Translator, conditions: list[CompiledCondition]) -> list[Formula]:
        """The rule applies: every `when` is true and no `unless` is."""
        return [translator.formula(c.node, T if c.part == "when" else NT) for c in conditions]

    def does_not_apply(self, translator: Translator, rule: CompiledRule) -> Formula:
        """Some `when` is not true, or some `unless` is."""
        parts = [translator.formula(c.node, NT) for c in rule.when]
        parts += [translator.formula(c.node, T) for c in rule.unless]
        return disjunction(parts)

    def possible(
        self,
        conditions: list[CompiledCondition],
        rules: tuple[CompiledRule, ...],
        budget: int = SEARCH_BUDGET,
    ) -> bool:
        """Whether the conditions (which belong to `rules`) can all hold on some date."""
        for epoch in self.epochs(self.params_read(conditions), self.inherited(rules)):
            if satisfiable(self.applies(self.translator(epoch), conditions), budget):
                return True
        return False

    @cached_property
    def never(self) -> set[str]:
        """Rules proven never to apply."""
        return {
            rule_id
            for rule_id, rule in self.rules.items()
            if not self.possible([*rule.when, *rule.unless], (rule,))
        }

    # -- CSP401 ----------------------------------------------------------------------------
    def never_applies(self) -> list[Problem]:
        problems = []
        for rule_id in self.never:
            rule = self.rules[rule_id]
            core = [*rule.when, *rule.unless]
            # Drop every condition the contradiction does not need (a smaller budget per try:
            # an undecided try keeps the condition, which is never wrong, only longer).
            for condition in list(core) if len(core) <= MAX_CORE_SEARCH else []:
                smaller = [c for c in core if c is not condition]
                if not self.possible(smaller, (rule,), CORE_BUDGET):
                    core = smaller
            problems.append(
                Problem(
                    Code.NEVER_FIRES,
                    f"rule {rule_id!r} can never apply: {self.contradiction(core, self.inherited((rule,)))}",
                    core[0].location if core else rule.entity.location,
                    Severity.WARNING,
                )
            )
        return problems

    def contradiction(self, core: list[CompiledCondition], inherited: bool) -> str:
        """Why a set of conditions cannot hold together, in words."""
        when = _shortened([f"`{c.text}`" for c in core if c.part == "when"])
        unless = _shortened([f"`{c.text}`" for c in core if c.part == "unless"])
        if unless and when:
            text = f"whenever {' and '.join(when)} holds, its unless {' or '.join(unless)} holds too"
        elif unless:
            text = f"its unless {' or '.join(unless)} always holds"
        elif len(when) == 1:
            text = f"{when[0]} can never hold"
        else:
            text = f"{' and '.join(when)} cannot all hold together"
        params = sorted(self.params_read(core))
        if params:
            scope = "for every value ever in force" if inherited else "while this version is in force"
            values = "; ".join(self.values_in_force(name, inherited) for name in params)
            text += f" ({scope}: {values})"
        return text

    def values_in_force(self, name: str, inherited: bool) -> str:
        parameter = self.compiled.parameters[name]
        values = [e.params[name] for e in self.epochs({name}, inherited) if name in e.params]
        if not values:
            return f"params.{name} has no value"
        shown = " or ".join(format_value(v, parameter.type) for v in dict.fromkeys(values))
        return f"params.{name} is {shown}"

    # -- CSP402 ----------------------------------------------------------------------------
    def holds(self) -> list[tuple[CompiledRule, int, str]]:
        """(hold, position in its `holds`, target) for every target that is a known rule."""
        return [
            (rule, index, target)
            for rule in self.rules.values()
            if rule.is_hold
            for index, target in enumerate(rule.rule.holds)
            if target in self.rules and target != rule.id
        ]

    def always_held(self) -> list[Problem]:
        held_holds = {target for _, _, target in self.holds()}
        problems = []
        for hold, index, target_id in self.holds():
            target = self.rules[target_id]
            # A hold that is itself held holds nothing, so "always" is proven only for free holds.
            if target_id in self.never or hold.id in held_holds or hold.id in self.never:
                continue
            conditions = [*target.when, *target.unless]
            every = [*conditions, *hold.when, *hold.unless]
            escapes = False
            for epoch in self.epochs(self.params_read(every), self.inherited((hold, target))):
                translator = self.translator(epoch)
                formulas = [*self.applies(translator, conditions), self.does_not_apply(translator, hold)]
                if satisfiable(formulas):
                    escapes = True
                    break
            if not escapes:
                problems.append(
                    Problem(
                        Code.ALWAYS_HELD,
                        f"rule {target_id!r} is always held: whenever it applies, hold {hold.id!r} applies too",
                        hold.entity.at("holds", index),
                        Severity.WARNING,
                    )
                )
        return problems

    # -- CSP403 ----------------------------------------------------------------------------
    def holds_nothing(self) -> list[Problem]:
        problems = []
        for hold in self.rules.values():
            if not hold.is_hold or hold.id in self.never:
                continue
            reasons: list[str | None] = []
            for target_id in hold.rule.holds:
                target = self.rules.get(target_id)
                if target is None or target_id == hold.id:
                    reasons.append(None)
                elif target_id in self.never:
                    reasons.append(f"{target_id!r} can never apply")
                elif not self.possible(
                    [*hold.when, *hold.unless, *target.when, *target.unless], (hold, target)
                ):
                    reasons.append(f"{target_id!r} can never apply while the hold does")
                else:
                    reasons.append(None)
            if reasons and all(reasons):
                problems.append(
                    Problem(
                        Code.HOLD_HOLDS_NOTHING,
                        f"hold {hold.id!r} holds nothing: {'; '.join(str(r) for r in reasons)}",
                        hold.entity.at("holds"),
                        Severity.WARNING,
                    )
                )
        return problems

    # -- CSP404, CSP405 --------------------------------------------------------------------
    def own(self, origin: str) -> bool:
        return origin == self.compiled.source.id

    def unused_parameters(self) -> list[Problem]:
        problems = []
        for name, parameter in self.compiled.parameters.items():
            if not self.own(parameter.entity.origin):
                continue
            readers = nx.ancestors(self.graph, node_id("parameter", name))
            if not any(self.graph.nodes[r]["kind"] == "rule" for r in readers):
                problems.append(
                    Problem(
                        Code.UNUSED_PARAMETER,
                        f"parameter {name!r} is not read by any rule (directly or through a derived value)",
                        parameter.entity.location,
                        Severity.WARNING,
                    )
                )
        return problems

    def unused_sources(self) -> list[Problem]:
        problems = []
        for key, entity in self.compiled.source.sources.items():
            if not self.own(entity.origin):
                continue
            if self.graph.in_degree(node_id("source", key)) == 0:
                problems.append(
                    Problem(
                        Code.UNUSED_SOURCE,
                        f"source {key!r} is not cited by any rule or parameter",
                        entity.location,
                        Severity.WARNING,
                    )
                )
        return problems

    # -- CSP406 ----------------------------------------------------------------------------
    def action_kind_conflicts(self) -> list[Problem]:
        first: dict[str, CompiledRule] = {}
        problems = []
        for rule in self.rules.values():
            action = rule.rule.action
            if action is None:
                continue
            earlier = first.setdefault(action, rule)
            if earlier.rule.kind is not rule.rule.kind:
                problems.append(
                    Problem(
                        Code.ACTION_KIND_CONFLICT,
                        f"rule {rule.id!r} produces {action!r} as {_a(rule.rule.kind.value)} rule, but"
                        f" rule {earlier.id!r} produces it as {_a(earlier.rule.kind.value)} rule",
                        rule.entity.at("kind"),
                        Severity.WARNING,
                    )
                )
        return problems

    # -- CSP408 ----------------------------------------------------------------------------
    def unknown_actions(self) -> list[Problem]:
        produced = sorted({r.rule.action for r in self.rules.values() if r.rule.action})
        expressions: list[tuple[str, CompiledExpression]] = [
            (f"derived {name!r}", d.expression) for name, d in self.compiled.derived.items()
        ]
        for rule in self.rules.values():
            parts: list[tuple[str, CompiledExpression]] = [(c.part, c) for c in [*rule.when, *rule.unless]]
            parts += [(f"output {name!r}", e) for name, e in rule.outputs.items()]
            parts += [("due", rule.due_after)] if rule.due_after is not None else []
            expressions += [(f"rule {rule.id!r} {part}", e) for part, e in parts]
        problems = []
        for where, expression in expressions:
            for node in expression.node.walk():
                if not (isinstance(node, Call) and node.function in HISTORY_FUNCTIONS):
                    continue
                code = node.args[0]
                assert isinstance(code, Literal)
                if code.value in produced:
                    continue
                problems.append(
                    Problem(
                        Code.UNKNOWN_ACTION,
                        f'{where}: {node.function}("{code.value}") looks for action {code.value!r} in the'
                        " enforcement history, but no rule of this set produces it"
                        + suggest(code.value, produced),
                        _inside(expression, code),
                        Severity.WARNING,
                    )
                )
        return problems


def _inside(expression: CompiledExpression, node: Node) -> Location:
    """Where `node` is written, from where its expression is (which points at the root node)."""
    root = expression.node
    if root.line != 0:
        return expression.location
    location = expression.location
    start = Location(location.file, location.line, location.column - root.column)
    return start.shifted(node.line, node.column)


def _shortened(conditions: list[str], shown: int = 5) -> list[str]:
    """At most `shown` conditions, then how many more (a message stays one readable line)."""
    if len(conditions) <= shown + 1:
        return conditions
    return [*conditions[:shown], f"{len(conditions) - shown} more conditions"]


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"
