"""What changed between two policy versions, in words a policy author reads (and as JSON).

Both sides are compared merged, parents included: a parameter a state inherits from the federal
set and the federal set changes shows up as changed. Rule order is not compared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cspolicy.engine.compiler import CompiledParameter, CompiledPolicy, CompiledRule
from cspolicy.engine.policy import PolicySet
from cspolicy.expressions import Renderer
from cspolicy.expressions.render import format_value
from cspolicy.source.documents import Citation, Rule

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
SECTIONS = ("policy", "rule", "parameter", "derived", "source")


@dataclass
class Change:
    """One thing added, removed or changed, with its details in words."""

    what: str  # policy | rule | parameter | derived | source
    name: str
    change: str  # added | removed | changed
    title: str = ""
    details: list[str] = field(default_factory=list)
    origin: str = ""  # the set that defines it (on the new side when it exists there)

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "name": self.name,
            "change": self.change,
            "title": self.title,
            "origin": self.origin,
            "details": self.details,
        }


@dataclass
class PolicyDiff:
    """The changes from one policy version to another."""

    old: dict[str, Any]
    new: dict[str, Any]
    changes: list[Change]

    def of(self, what: str, change: str | None = None) -> list[Change]:
        """The changes to one kind of thing (optionally only added/removed/changed)."""
        return [c for c in self.changes if c.what == what and (change is None or c.change == change)]

    def names(self, what: str, change: str) -> list[str]:
        return [c.name for c in self.of(what, change)]

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        counts = {
            what: {kind: len(self.of(what, kind)) for kind in (ADDED, REMOVED, CHANGED)}
            for what in SECTIONS[1:]
        }
        return {
            "old": self.old,
            "new": self.new,
            "summary": counts,
            "changes": [c.to_dict() for c in self.changes],
        }

    def lines(self) -> list[str]:
        """The diff as plain text lines, section by section."""
        old, new = self.old, self.new
        lines = [f"{_describe(old)} → {_describe(new)}"]
        if self.empty:
            lines.append("No differences: the two versions have the same rules, parameters and sources.")
            return lines
        nouns = {"rule": "Rules", "parameter": "Parameters", "derived": "Derived values", "source": "Sources"}
        for change in self.of("policy"):
            lines.extend(f"  {detail}" for detail in change.details)
        for what, heading in nouns.items():
            changes = self.of(what)
            if not changes:
                continue
            counts = ", ".join(
                f"{len(self.of(what, kind))} {kind}"
                for kind in (ADDED, REMOVED, CHANGED)
                if self.of(what, kind)
            )
            lines.append("")
            lines.append(f"{heading} ({counts})")
            for change in changes:
                mark = {ADDED: "+", REMOVED: "-", CHANGED: "~"}[change.change]
                title = f": {change.title}" if change.title else ""
                origin = f" [{change.origin}]" if change.origin else ""
                lines.append(f"  {mark} {change.name}{title}{origin}")
                lines.extend(f"      {detail}" for detail in change.details)
        return lines


def _describe(side: dict[str, Any]) -> str:
    end = side["effective"]["to"] or "…"
    return f"{side['id']} {side['version']} (in force [{side['effective']['from']}, {end}))"


def _side(policy: PolicySet) -> dict[str, Any]:
    return {
        "id": policy.id,
        "version": policy.version,
        "path": str(policy.compiled.source.root),
        "digest": policy.digest,
        "effective": {
            "from": policy.effective_from.isoformat(),
            "to": policy.effective_to.isoformat() if policy.effective_to else None,
        },
    }


def diff_policies(old: PolicySet, new: PolicySet) -> PolicyDiff:
    """Every rule, parameter, derived value and source added, removed or changed from `old` to `new`."""
    changes: list[Change] = []
    header = _header(old, new)
    if header:
        changes.append(Change("policy", new.id, CHANGED, details=header))
    changes.extend(_rules(old.compiled, new.compiled))
    changes.extend(_parameters(old.compiled, new.compiled))
    changes.extend(_derived(old.compiled, new.compiled))
    changes.extend(_sources(old.compiled, new.compiled))
    return PolicyDiff(_side(old), _side(new), changes)


def _header(old: PolicySet, new: PolicySet) -> list[str]:
    details = []
    a, b = old.compiled.source, new.compiled.source
    for name in ("id", "version", "title"):
        if getattr(a, name) != getattr(b, name):
            details.append(f"{name}: {getattr(a, name)!r} → {getattr(b, name)!r}")
    if a.effective != b.effective:
        details.append(
            f"in force: {_span(a.effective.from_, a.effective.to)} → {_span(b.effective.from_, b.effective.to)}"
        )
    old_chain = [f"{i} {v}" for i, v, _ in a.chain[:-1]]
    new_chain = [f"{i} {v}" for i, v, _ in b.chain[:-1]]
    if old_chain != new_chain:
        details.append(f"extends: {', '.join(old_chain) or 'nothing'} → {', '.join(new_chain) or 'nothing'}")
    return details


def _span(start: dt.date, end: dt.date | None) -> str:
    return f"from {start}" + (f" until {end}" if end else "")


def _added_removed(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    added = [k for k in new if k not in old]
    removed = [k for k in old if k not in new]
    common = [k for k in new if k in old]
    return added, removed, common


# -- rules --------------------------------------------------------------------------------------
def _rules(old: CompiledPolicy, new: CompiledPolicy) -> list[Change]:
    added, removed, common = _added_removed(old.rules, new.rules)
    changes = []
    for rule_id in added:
        rule = new.rules[rule_id]
        changes.append(
            Change("rule", rule_id, ADDED, rule.rule.title, _rule_outline(rule, new), rule.entity.origin)
        )
    for rule_id in removed:
        rule = old.rules[rule_id]
        changes.append(
            Change("rule", rule_id, REMOVED, rule.rule.title, _rule_outline(rule, old), rule.entity.origin)
        )
    for rule_id in common:
        details = _rule_changes(old.rules[rule_id], new.rules[rule_id], old, new)
        if details:
            rule = new.rules[rule_id]
            changes.append(Change("rule", rule_id, CHANGED, rule.rule.title, details, rule.entity.origin))
    return changes


def _rule_outline(rule: CompiledRule, policy: CompiledPolicy) -> list[str]:
    """A new or removed rule in brief: kind, what it does, when it applies."""
    renderer = Renderer(policy.labels)
    body = rule.rule
    what = (
        f"a hold on {', '.join(body.holds)}"
        if rule.is_hold
        else f"{_article(body.kind.value)} {body.kind.value} rule recommending {body.action}"
    )
    lines = [what]
    lines.extend(f"when {renderer.render(c.node)}" for c in rule.when)
    lines.extend(f"unless {renderer.render(c.node)}" for c in rule.unless)
    if body.requires:
        lines.append(f"after {', '.join(body.requires)}")
    return lines


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _rule_changes(a: CompiledRule, b: CompiledRule, old: CompiledPolicy, new: CompiledPolicy) -> list[str]:
    x, y = a.rule, b.rule
    details: list[str] = []
    if a.entity.origin != b.entity.origin:
        details.append(f"now defined by {b.entity.origin} (was {a.entity.origin})")
    for name in ("kind", "action", "title", "priority"):
        before, after = getattr(x, name), getattr(y, name)
        if before != after:
            details.append(f"{name}: {_plain(before)} → {_plain(after)}")
    if x.summary.split() != y.summary.split():
        details.append("summary reworded")
    for part in ("when", "unless"):
        details.extend(_conditions(part, a, b, old, new))
    for part, verb in (("requires", "requires"), ("holds", "holds")):
        details.extend(_listed(verb, getattr(x, part), getattr(y, part)))
    for name in sorted({*x.outputs, *y.outputs}):
        before, after = x.outputs.get(name), y.outputs.get(name)
        if before == after:
            continue
        if before is None:
            details.append(f"new output {name} = {after}")
        elif after is None:
            details.append(f"output {name} removed (was {before})")
        else:
            details.append(f"output {name}: {before} → {after}")
    details.extend(_listed("cites", _cites(x.cite), _cites(y.cite)))
    if x.due != y.due:
        details.append(f"due: {_due(x)} → {_due(y)}")
    return details


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _conditions(
    part: str, a: CompiledRule, b: CompiledRule, old: CompiledPolicy, new: CompiledPolicy
) -> list[str]:
    before = {c.text: c for c in getattr(a, part)}
    after = {c.text: c for c in getattr(b, part)}
    lines = []
    for text, condition in after.items():
        if text not in before:
            lines.append(f"new {part} condition: {text}  ({Renderer(new.labels).render(condition.node)})")
    for text, condition in before.items():
        if text not in after:
            lines.append(f"{part} condition removed: {text}  ({Renderer(old.labels).render(condition.node)})")
    return lines


def _listed(verb: str, before: list[str], after: list[str]) -> list[str]:
    lines = []
    gained = [v for v in after if v not in before]
    lost = [v for v in before if v not in after]
    if gained:
        lines.append(f"now {verb} {', '.join(gained)}")
    if lost:
        lines.append(f"no longer {verb} {', '.join(lost)}")
    return lines


def _cites(cites: list[Citation]) -> list[str]:
    return [c.source + (f" {c.pinpoint}" if c.pinpoint else "") for c in cites]


def _due(rule: Rule) -> str:
    return "none" if rule.due is None else f"{rule.due.days} days after {rule.due.after}"


# -- parameters ---------------------------------------------------------------------------------
def _parameters(old: CompiledPolicy, new: CompiledPolicy) -> list[Change]:
    added, removed, common = _added_removed(old.parameters, new.parameters)
    changes = []
    for name in added:
        parameter = new.parameters[name]
        changes.append(
            Change("parameter", name, ADDED, parameter.label, [_values(parameter)], parameter.entity.origin)
        )
    for name in removed:
        parameter = old.parameters[name]
        changes.append(
            Change("parameter", name, REMOVED, parameter.label, [_values(parameter)], parameter.entity.origin)
        )
    for name in common:
        a, b = old.parameters[name], new.parameters[name]
        details = _parameter_changes(a, b)
        readers = [rule.id for rule in new.rules.values() if name in rule.parameters]
        if details and readers:
            details.append(f"read by rule{'s' if len(readers) > 1 else ''} {', '.join(readers)}")
        if details:
            changes.append(Change("parameter", name, CHANGED, b.label, details, b.entity.origin))
    return changes


def _parameter_changes(a: CompiledParameter, b: CompiledParameter) -> list[str]:
    details = []
    x, y = a.entity.item, b.entity.item
    if x.unit != y.unit:
        details.append(f"unit: {x.unit.value} → {y.unit.value}")
    steps = _value_steps(a, b)
    if steps:
        details.extend(steps)
        details.append(f"was: {_values(a)}")
        details.append(f"now: {_values(b)}")
    if x.description.split() != y.description.split():
        details.append("description reworded")
    details.extend(_listed("cites", _cites(x.cite), _cites(y.cite)))
    return details


def _value_on(parameter: CompiledParameter, day: dt.date) -> tuple[bool, Any]:
    try:
        return True, parameter.value_on(day)
    except KeyError:
        return False, None


def _value_steps(a: CompiledParameter, b: CompiledParameter) -> list[str]:
    """Each date from which the value in force differs: 'from 2025-01-01: $2,500 → $2,000'."""
    days = sorted(
        {v.start for v in (*a.values, *b.values)} | {v.end for v in (*a.values, *b.values) if v.end}
    )
    steps = []
    previous: tuple[bool, Any, bool, Any] | None = None
    for day in days:
        (had, before), (has, after) = _value_on(a, day), _value_on(b, day)
        current = (had, before, has, after)
        if current == previous:
            continue
        previous = current
        if had != has or before != after:  # by value: 2500 and 2500.00 are the same amount
            shown_before = format_value(before, a.type) if had else "no value"
            shown_after = format_value(after, b.type) if has else "no value"
            steps.append(f"from {day}: {shown_before} → {shown_after}")
    return steps


def _values(parameter: CompiledParameter) -> str:
    """Every dated value, e.g. '$5,000 from 1998-10-01 until 2006-10-01; $2,500 from 2006-10-01'."""
    return "; ".join(
        f"{format_value(v.value, parameter.type)} {_span(v.start, v.end)}" for v in parameter.values
    )


# -- derived values and sources -----------------------------------------------------------------
def _derived(old: CompiledPolicy, new: CompiledPolicy) -> list[Change]:
    added, removed, common = _added_removed(old.derived, new.derived)
    changes = [
        Change(
            "derived",
            n,
            ADDED,
            new.derived[n].label,
            [new.derived[n].expression.text],
            new.derived[n].entity.origin,
        )
        for n in added
    ]
    changes += [
        Change(
            "derived",
            n,
            REMOVED,
            old.derived[n].label,
            [old.derived[n].expression.text],
            old.derived[n].entity.origin,
        )
        for n in removed
    ]
    for name in common:
        a, b = old.derived[name].expression.text, new.derived[name].expression.text
        if a != b:
            changes.append(
                Change(
                    "derived",
                    name,
                    CHANGED,
                    new.derived[name].label,
                    [f"{a} → {b}"],
                    new.derived[name].entity.origin,
                )
            )
    return changes


def _sources(old: CompiledPolicy, new: CompiledPolicy) -> list[Change]:
    a_sources, b_sources = old.source.sources, new.source.sources
    added, removed, common = _added_removed(a_sources, b_sources)
    changes = [
        Change("source", k, ADDED, b_sources[k].item.title, [b_sources[k].item.url], b_sources[k].origin)
        for k in added
    ]
    changes += [
        Change("source", k, REMOVED, a_sources[k].item.title, [a_sources[k].item.url], a_sources[k].origin)
        for k in removed
    ]
    for key in common:
        x, y = a_sources[key].item, b_sources[key].item
        details = [
            f"{name}: {getattr(x, name)} → {getattr(y, name)}"
            for name in ("title", "url", "note")
            if getattr(x, name) != getattr(y, name)
        ]
        if details:
            changes.append(Change("source", key, CHANGED, y.title, details, b_sources[key].origin))
    return changes
