"""Policies and rules described as the docs site describes them (summary, conditions in words,
citations, parameters in force), from the compiled policy the service evaluates with."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cspolicy import PolicySet
from cspolicy.service._library import Renderer, format_value, shown_date
from cspolicy.service.models import (
    CitationOut,
    ConditionOut,
    DatedValueOut,
    DateSpan,
    JurisdictionOut,
    ParameterOut,
    PolicyDetail,
    PolicySummary,
    RuleBrief,
    RuleDetail,
    VersionOut,
)
from cspolicy.service.registry import PolicyEntry


def summary(entry: PolicyEntry) -> PolicySummary:
    """A set in brief: id, title, jurisdiction, latest digest and rule count, every version."""
    latest = entry.latest
    place = latest.compiled.source.jurisdiction
    versions = [
        VersionOut(
            version=policy.version,
            digest=policy.digest,
            effective_from=policy.effective_from,
            effective_to=policy.effective_to,
            in_force=[DateSpan(from_=start, to=end) for start, end in entry.in_force(policy)],
            rule_count=len(policy.rule_ids),
        )
        for policy in entry.versions
    ]
    return PolicySummary(
        id=entry.id,
        title=entry.title,
        jurisdiction=JurisdictionOut(state=place.state, county=place.county),
        digest=latest.digest,
        rule_count=len(latest.rule_ids),
        versions=versions,
    )


def shown_version(entry: PolicyEntry, as_of: dt.date | None) -> tuple[PolicySet, dt.date]:
    """The version to describe and the day whose parameter values to show: the version in force
    on `as_of` (today when not given), or the latest when none is in force that day."""
    day = as_of or dt.date.today()
    policy = entry.for_date(day) or entry.latest
    return policy, (day if as_of is not None and entry.for_date(day) is policy else shown_date(policy, day))


def detail(entry: PolicyEntry, as_of: dt.date | None) -> PolicyDetail:
    policy, day = shown_version(entry, as_of)
    rules = [
        RuleBrief(
            id=r.id, title=r.rule.title, kind=r.rule.kind.value, action=r.rule.action, holds=r.rule.holds
        )
        for r in policy.compiled.rules.values()
    ]
    return PolicyDetail(**summary(entry).model_dump(), as_of=day, version=policy.version, rules=rules)


def rule_detail(entry: PolicyEntry, policy: PolicySet, day: dt.date, rule_id: str) -> RuleDetail:
    """One rule of `policy` in plain language, with the parameter values in force on `day`."""
    compiled = policy.compiled
    rule = compiled.rules[rule_id]
    params = compiled.parameters_on(day)
    renderer = Renderer(compiled.labels, params=params)
    item = rule.rule

    def condition(expression: Any) -> ConditionOut:
        return ConditionOut(expr=expression.text, text=renderer.render(expression.node))

    parameters = []
    for name in rule.parameters:
        parameter = compiled.parameters[name]
        value = params.get(name)
        parameters.append(
            ParameterOut(
                name=name,
                label=parameter.label,
                unit=parameter.entity.item.unit.value,
                description=parameter.entity.item.description,
                value=value,
                text=format_value(value, parameter.type) if value is not None else "none in force",
                values=[DatedValueOut(from_=v.start, to=v.end, value=v.value) for v in parameter.values],
                cite=[c.source for c in parameter.entity.item.cite],
            )
        )
    location = rule.entity.location
    return RuleDetail(
        policy_id=entry.id,
        version=policy.version,
        digest=policy.digest,
        as_of=day,
        id=rule.id,
        title=item.title,
        kind=item.kind.value,
        action=item.action,
        summary=" ".join(item.summary.split()),
        when=[condition(c) for c in rule.when],
        unless=[condition(c) for c in rule.unless],
        requires=item.requires,
        holds=item.holds,
        priority=item.priority,
        outputs={name: condition(expression) for name, expression in rule.outputs.items()},
        citations=[CitationOut(**c.model_dump()) for c in rule.citations],
        parameters=parameters,
        origin=rule.entity.origin,
        written_at=f"{_relative(location.file, entry)}:{location.line}",
    )


def _relative(file: str, entry: PolicyEntry) -> str:
    """A policy file's path relative to the served directory's parent (no absolute paths leak)."""
    from pathlib import Path

    path = Path(file)
    base = entry.directory.parent
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.name
