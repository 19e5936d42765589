"""Policy test coverage: which rules the YAML tests made fire, and which comparison boundaries they crossed.

The unit is a rule as written in a file: a federal rule inherited unchanged by Wisconsin is one
rule, covered when any test (of any set that includes it) made it fire. A rule *fires* when its
action is recommended; a hold fires when it applies. For every numeric or date comparison in a
rule's conditions (and in derived values) coverage records whether the test snapshots put it on
both sides of its boundary: seen true and seen false. A comparison inside `any_of`/`count_of` is
tried on every item of the list. Comparisons are evaluated on their own, so a comparison behind
an `and` that stopped early still counts: the question is whether the test data sits on both
sides, not which branch the evaluator took.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cspolicy.diagnostics import Location
from cspolicy.engine.compiler import CompiledExpression, CompiledPolicy, CompiledRule
from cspolicy.engine.decision import Decision
from cspolicy.expressions import Context, DivisionByZero, Type, compile_expression
from cspolicy.expressions.closures import Fn
from cspolicy.expressions.nodes import (
    Aggregate,
    Binary,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Literal,
    Lookup,
    Membership,
    Missing,
    Name,
    Node,
    Quantifier,
    Unary,
)

RuleKey = tuple[str, int, int, str]


@dataclass
class RuleTally:
    """How one rule fared across the tests: fired, held, waiting or not applicable, case by case."""

    rule: str
    kind: str
    title: str
    location: Location
    fired: int = 0
    held: int = 0
    waiting: int = 0
    not_applicable: int = 0
    suppressed: int = 0  # for a hold: actions it held

    @property
    def is_hold(self) -> bool:
        return self.kind == "hold"

    @property
    def covered(self) -> bool:
        return self.fired > 0

    @property
    def cases(self) -> int:
        return self.fired + self.held + self.waiting + self.not_applicable

    def summary(self) -> str:
        """The tally in words, e.g. 'fired in 3, held in 1, did not apply in 9'."""
        verb = "applied" if self.is_hold else "fired"
        parts = [f"{verb} in {self.fired}"]
        if self.is_hold and self.suppressed:
            parts.append(f"held {self.suppressed} action{'s' if self.suppressed != 1 else ''}")
        if self.held:
            parts.append(f"held in {self.held}")
        if self.waiting:
            parts.append(f"waiting in {self.waiting}")
        parts.append(f"did not apply in {self.not_applicable}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "location": str(self.location),
            "fired": self.fired,
            "held": self.held,
            "waiting": self.waiting,
            "not_applicable": self.not_applicable,
            "covered": self.covered,
        }


@dataclass
class ComparisonTally:
    """One numeric or date comparison and the outcomes the test snapshots gave it."""

    owner: str  # "rule passport-denial when" or "derived months_past_due"
    text: str
    location: Location
    true: int = 0
    false: int = 0
    on_boundary: int = 0  # both sides equal: the case sits exactly on the threshold

    @property
    def covered(self) -> bool:
        return self.true > 0 and self.false > 0

    def missing(self) -> str:
        if self.true == 0 and self.false == 0:
            return "never evaluated to true or false"
        return "only seen true" if self.false == 0 else "only seen false"

    def to_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "comparison": self.text,
            "location": str(self.location),
            "true": self.true,
            "false": self.false,
            "on_boundary": self.on_boundary,
            "covered": self.covered,
        }


@dataclass
class _Site:
    """Where a comparison sits and how to evaluate it on its own."""

    tally: ComparisonTally
    node: Compare
    left: Fn
    right: Fn
    fn: Fn
    quantifiers: list[Quantifier | Aggregate]


@dataclass
class FileCoverage:
    """The rules and comparisons written in one policy file."""

    file: str
    policy: str
    rules: dict[RuleKey, RuleTally] = field(default_factory=dict)
    comparisons: dict[tuple[Any, ...], ComparisonTally] = field(default_factory=dict)

    @property
    def rules_covered(self) -> int:
        return sum(1 for r in self.rules.values() if r.covered)

    @property
    def comparisons_covered(self) -> int:
        return sum(1 for c in self.comparisons.values() if c.covered)


def percent(part: int, whole: int) -> float:
    """part/whole as a percentage; nothing to cover counts as fully covered."""
    return 100.0 if whole == 0 else 100.0 * part / whole


class Coverage:
    """Collects rule and comparison coverage from decisions of the YAML tests."""

    def __init__(self) -> None:
        self.files: dict[str, FileCoverage] = {}
        self._sites: dict[str, list[_Site]] = {}  # by policy digest
        self._rule_keys: dict[str, dict[str, RuleKey]] = {}  # digest → rule id → key

    # -- registering policies -----------------------------------------------------------------
    def include(self, policy: CompiledPolicy) -> None:
        """Count every rule and comparison of `policy` (so untested ones show as gaps)."""
        if policy.digest in self._sites:
            return
        sites: list[_Site] = []
        keys: dict[str, RuleKey] = {}
        for rule in policy.rules.values():
            key = _rule_key(rule)
            keys[rule.id] = key
            file = self._file(rule.entity.location.file, rule.entity.origin)
            file.rules.setdefault(
                key,
                RuleTally(rule.id, rule.rule.kind.value, rule.rule.title, _located(rule.entity.location)),
            )
            for part, conditions in (("when", rule.when), ("unless", rule.unless)):
                for index, condition in enumerate(conditions):
                    owner = f"rule {rule.id} {part}"
                    sites.extend(self._sites_in(file, (key, part, index), owner, condition))
        for name, derived in policy.derived.items():
            entity = derived.entity
            file = self._file(entity.location.file, entity.origin)
            identity = (file_name(entity.location.file), entity.location.line, entity.location.column, name)
            sites.extend(self._sites_in(file, identity, f"derived {name}", derived.expression))
        self._sites[policy.digest] = sites
        self._rule_keys[policy.digest] = keys

    def _file(self, name: str, origin: str) -> FileCoverage:
        name = file_name(name)
        return self.files.setdefault(name, FileCoverage(name, origin))

    def _sites_in(
        self, file: FileCoverage, owner_key: Any, owner: str, expression: CompiledExpression
    ) -> Iterator[_Site]:
        for ordinal, (node, quantifiers) in enumerate(_comparisons(expression.node, [])):
            identity = (owner_key, ordinal)
            tally = file.comparisons.setdefault(
                identity, ComparisonTally(owner, source_text(node), _located(expression.location))
            )
            yield _Site(
                tally,
                node,
                compile_expression(node.left),
                compile_expression(node.right),
                compile_expression(node),
                quantifiers,
            )

    # -- recording test outcomes --------------------------------------------------------------
    def record(self, decision: Decision) -> None:
        """Tally the outcome of every rule and comparison for one evaluated test case."""
        if not decision.evaluated:
            return
        run = decision.outcome
        policy = run.policy
        self.include(policy)
        keys = self._rule_keys[policy.digest]
        recommended = {a.rule for a in decision.actions}
        suppressed: dict[str, int] = {}
        for hold in run.held_by.values():
            suppressed[hold] = suppressed.get(hold, 0) + 1
        for rule_id, rule in policy.rules.items():
            tally = self.files[keys[rule_id][0]].rules[keys[rule_id]]
            if rule.is_hold:
                if run.applies.get(rule_id) and rule_id not in run.held_by:
                    tally.fired += 1
                    tally.suppressed += suppressed.get(rule_id, 0)
                elif run.applies.get(rule_id):
                    tally.held += 1
                else:
                    tally.not_applicable += 1
            elif rule_id in recommended:
                tally.fired += 1
            elif rule_id in run.held_by:
                tally.held += 1
            elif rule_id in run.waiting_for:
                tally.waiting += 1
            else:
                tally.not_applicable += 1
        for site in self._sites[policy.digest]:
            _observe(site, run.context)

    # -- results ------------------------------------------------------------------------------
    @property
    def rule_totals(self) -> tuple[int, int]:
        """(rules covered, rules) over every file."""
        covered = sum(f.rules_covered for f in self.files.values())
        return covered, sum(len(f.rules) for f in self.files.values())

    @property
    def comparison_totals(self) -> tuple[int, int]:
        """(comparisons seen both true and false, comparisons) over every file."""
        covered = sum(f.comparisons_covered for f in self.files.values())
        return covered, sum(len(f.comparisons) for f in self.files.values())

    @property
    def rule_percent(self) -> float:
        return percent(*self.rule_totals)

    @property
    def comparison_percent(self) -> float:
        return percent(*self.comparison_totals)

    def to_dict(self) -> dict[str, Any]:
        """The coverage as JSON-ready data, files in name order."""
        return {
            "rules": {"covered": self.rule_totals[0], "total": self.rule_totals[1]},
            "comparisons": {"covered": self.comparison_totals[0], "total": self.comparison_totals[1]},
            "files": [
                {
                    "file": f.file,
                    "policy": f.policy,
                    "rules": [t.to_dict() for t in f.rules.values()],
                    "comparisons": [c.to_dict() for c in f.comparisons.values()],
                }
                for f in sorted(self.files.values(), key=lambda f: f.file)
            ],
        }


def _rule_key(rule: CompiledRule) -> RuleKey:
    location = rule.entity.location
    return (file_name(location.file), location.line, location.column, rule.id)


def _located(location: Location) -> Location:
    return Location(file_name(location.file), location.line, location.column)


def file_name(file: str) -> str:
    """One name per file however it was reached (`wisconsin/../federal` is `federal`)."""
    path = Path(file).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _comparisons(
    node: Node, quantifiers: list[Quantifier | Aggregate]
) -> Iterator[tuple[Compare, list[Quantifier | Aggregate]]]:
    """Every numeric or date comparison under `node`, with the quantifiers around it."""
    if isinstance(node, Compare) and (
        node.left.type.numeric or node.right.type.numeric or Type.DATE in (node.left.type, node.right.type)
    ):
        yield node, quantifiers
    if isinstance(node, Quantifier):
        yield from _comparisons(node.predicate, [*quantifiers, node])
        return
    if isinstance(node, Aggregate):  # its condition is judged on every item, as any_of's
        if node.predicate is not None:
            yield from _comparisons(node.predicate, [*quantifiers, node])
        return
    for child in node.children():
        yield from _comparisons(child, quantifiers)


def _observe(site: _Site, context: Context) -> None:
    for outcome, boundary in _outcomes(site, context, site.quantifiers):
        if outcome is True:
            site.tally.true += 1
        elif outcome is False:
            site.tally.false += 1
        if boundary:
            site.tally.on_boundary += 1


def _outcomes(
    site: _Site, context: Context, quantifiers: list[Quantifier | Aggregate]
) -> Iterator[tuple[Any, bool]]:
    if quantifiers:
        collection = quantifiers[0].collection
        if collection.kind == "item":
            return
        saved = context.item
        try:
            for item in context.facts.get(collection.key) or []:
                context.item = item
                yield from _outcomes(site, context, quantifiers[1:])
        finally:
            context.item = saved
        return
    try:
        outcome = site.fn(context)
        boundary = (
            outcome is not None
            and site.node.op not in ("==", "!=")
            and (site.left(context) == site.right(context))
        )
    except (DivisionByZero, KeyError):
        return  # a parameter without a value, or a division by zero: no outcome either way
    yield outcome, boundary


def source_text(node: Node) -> str:
    """An expression written back as policy source text (for naming comparisons in reports)."""
    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, str):
            return f'"{value}"'
        if value is None:
            return "None"
        if hasattr(value, "isoformat"):
            return f'date("{value.isoformat()}")'
        return str(value)
    if isinstance(node, Name):
        return node.path
    if isinstance(node, Unary):
        inner = _operand(node.operand, _precedence(node))
        return f"not {inner}" if node.op == "not" else f"-{inner}"
    if isinstance(node, Binary | Compare):
        level = _precedence(node)
        # the right side of - and / (and of any comparison) binds tighter: a - (b - c)
        return f"{_operand(node.left, level)} {node.op} {_operand(node.right, level + 1)}"
    if isinstance(node, Membership):
        values = ", ".join(source_text(Literal(v)) for v in node.values)
        operand = _operand(node.operand, _precedence(node) + 1)
        return f"{operand} {'not in' if node.negated else 'in'} [{values}]"
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(_operand(o, _precedence(node) + 1) for o in node.operands)
    if isinstance(node, Quantifier):
        return f"{node.function}({node.collection.path}, {source_text(node.predicate)})"
    if isinstance(node, Call):
        return f"{node.function}({', '.join(source_text(a) for a in node.args)})"
    if isinstance(node, Aggregate):
        condition = "" if node.predicate is None else f", {source_text(node.predicate)}"
        return f"{node.function}({node.collection.path}, {node.field.path}{condition})"
    if isinstance(node, Conditional):
        parts = (_operand(node.then, 1), source_text(node.test), _operand(node.otherwise, 1))
        return "{} if {} else {}".format(*parts)
    if isinstance(node, Missing):
        return f"{_operand(node.operand, 5)} {'!=' if node.negated else '=='} None"
    if isinstance(node, Lookup):
        return f"{node.param.path}[{source_text(node.key)}]"
    return type(node).__name__


def _precedence(node: Node) -> int:
    """Python's binding strength of a node (higher binds tighter)."""
    if isinstance(node, Conditional):
        return 0
    if isinstance(node, BoolOp):
        return 1 if node.op == "or" else 2
    if isinstance(node, Unary):
        return 3 if node.op == "not" else 7
    if isinstance(node, Compare | Membership | Missing):
        return 4
    if isinstance(node, Binary):
        return 5 if node.op in ("+", "-") else 6
    return 8


def _operand(node: Node, level: int) -> str:
    text = source_text(node)
    return f"({text})" if _precedence(node) < level else text
