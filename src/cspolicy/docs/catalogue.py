"""The rule catalogue: one overview per policy set and version, and one page per rule, from `policies/`."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cspolicy.analysis import diagrams
from cspolicy.diagnostics import PolicyError
from cspolicy.docs.text import code, fenced, link, paragraphs, slug, table, text, titled
from cspolicy.engine.compiler import CompiledDerived, CompiledParameter, CompiledPolicy, CompiledRule
from cspolicy.engine.decision import CitationOut
from cspolicy.engine.policy import PolicySet, load_policy
from cspolicy.engine.versions import shown_date
from cspolicy.expressions import Renderer
from cspolicy.expressions.render import format_value
from cspolicy.source.documents import RuleKind
from cspolicy.source.loading import version_directories

KIND_ORDER = [
    RuleKind.AUTOMATIC,
    RuleKind.THRESHOLD,
    RuleKind.DISCRETIONARY,
    RuleKind.INCENTIVE,
    RuleKind.HOLD,
]
KIND_MEANING = {
    RuleKind.AUTOMATIC: "The action is taken on every case that meets the conditions, with no amount or time threshold.",
    RuleKind.THRESHOLD: "The action is taken automatically once past-due support (or time) reaches a set level.",
    RuleKind.DISCRETIONARY: "The action is recommended to a caseworker, who decides case by case.",
    RuleKind.INCENTIVE: "The parent is eligible for a program benefit.",
    RuleKind.HOLD: "While it applies, it stops the actions of the rules it names, and says why.",
}
CATALOGUE = "catalogue"
DIAGRAM_WORDS = "The diagram in words"
DIAGRAM_DESCRIPTION = (
    "The same graph is written out in words below the diagram, under “The diagram in words”."
)
# What the law says about a rule (its `basis`), as the rule page says it.
BASIS_SENTENCE = {
    "mandated": "mandated by law",
    "allowed": "allowed by law (not required)",
    "agency-choice": "an agency choice (no law requires it)",
}
LADDER_TEXT = (
    "Each step's actions wait for an action of the step before (`requires`): an arrow leads from "
    "an action to the one it unlocks."
)


@dataclass
class PolicyVersion:
    """One compiled version of a shipped policy set and where its pages go."""

    policy: PolicySet
    directory: Path
    slug: str
    shown_on: dt.date
    # rule id → what it did for each shipped example case (filled by `docs.outcomes.attach`)
    examples: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return f"{CATALOGUE}/{self.policy.id}/{self.slug}"

    def rule_page(self, rule_id: str) -> str:
        return f"{self.folder}/{rule_id}.md"

    @property
    def parameters(self) -> dict[str, Any]:
        return self.policy.compiled.parameters_on(self.shown_on)


@dataclass
class PolicySetDocs:
    """A shipped policy set: its directory and its versions, oldest first."""

    id: str
    directory: Path
    versions: list[PolicyVersion]

    @property
    def latest(self) -> PolicyVersion:
        return self.versions[-1]

    def on(self, day: dt.date) -> PolicyVersion | None:
        """The version in force on `day`, if any."""
        for version in reversed(self.versions):
            policy = version.policy
            if policy.effective_from <= day and (policy.effective_to is None or day < policy.effective_to):
                return version
        return None


def discover(policies: Path, today: dt.date) -> list[PolicySetDocs]:
    """Every policy set under `policies/` (one per directory) with each dated version compiled."""
    sets: list[PolicySetDocs] = []
    for directory in sorted(p for p in policies.iterdir() if p.is_dir()):
        version_dirs = version_directories(directory) or [directory]
        if len({load_policy(d).id for d in version_dirs}) > 1:
            # A folder of sets (policies/reforms/…), not dated versions of one set: each its own.
            sets.extend(discover(directory, today))
            continue
        versions = []
        for version_dir in version_dirs:
            policy = load_policy(version_dir)
            if len(version_dirs) > 1 or version_dirs[0] != directory:
                # Parents of a dated version are chosen by the date it starts, as evaluation would.
                with contextlib.suppress(PolicyError):
                    policy = load_policy(version_dir, policy.effective_from)
            versions.append(
                PolicyVersion(policy, version_dir, slug(policy.version), shown_date(policy, today))
            )
        versions.sort(key=lambda v: v.policy.effective_from)
        sets.append(PolicySetDocs(versions[-1].policy.id, directory, versions))
    return sets


def span(start: dt.date, end: dt.date | None) -> str:
    """A half-open interval as text: [2025-01-13, …) means from that day on, with no end yet."""
    return f"[{start}, {end or '…'})"


# -- pages --------------------------------------------------------------------------------------
def catalogue_index(sets: list[PolicySetDocs]) -> str:
    """The catalogue's front page: every shipped policy set."""
    rows = []
    for docs in sets:
        latest = docs.latest.policy
        rows.append(
            [
                f"[{text(latest.title)}]({docs.id}/index.md)",
                text(_jurisdiction(latest)),
                ", ".join(text(v.policy.version) for v in docs.versions),
                str(len(latest.rule_ids)),
            ]
        )
    return "\n\n".join(
        [
            "# Rule catalogue",
            "Every rule of every shipped policy set, generated from the YAML in `policies/` each time "
            "the site is built, so it always says what the engine does. Each rule page gives the rule "
            "in plain language, the conditions in words, what can stop it, the amounts it uses with "
            "their dates, and the law behind it.",
            "Dates are half-open intervals: **[from, to)** includes *from* and excludes *to*; "
            "**…** means no end date yet.",
            table(["Policy set", "Jurisdiction", "Versions", "Rules (latest)"], rows),
        ]
    )


def set_overview(docs: PolicySetDocs) -> str:
    """A policy set's overview: what it is, where it applies, and its versions."""
    latest = docs.latest.policy
    source = latest.compiled.source
    parts = [f"# {text(latest.title)}", f"Policy set {code(latest.id)} · {text(_jurisdiction(latest))}"]
    if source.description:
        parts.append(paragraphs(source.description))
    parents = [f"{code(i)} {text(v)}" for i, v, _ in source.chain[:-1]]
    if parents:
        parts.append(
            "Builds on " + " → ".join(parents) + ": it inherits their sources, parameters and "
            "rules and replaces rules by id."
        )
    rows = []
    for version in reversed(docs.versions):
        policy = version.policy
        rows.append(
            [
                f"[{text(policy.version)}]({version.slug}/index.md)",
                span(policy.effective_from, policy.effective_to),
                str(len(policy.rule_ids)),
                code(policy.digest[:19] + "…"),
            ]
        )
    parts += ["## Versions", table(["Version", "In force", "Rules", "Digest"], rows)]
    parts += [
        "## Rules of the latest version",
        _rules_by_kind(docs.latest, prefix=f"{docs.latest.slug}/"),
        "## Escalation ladder",
        LADDER_TEXT,
        diagram(diagrams.mermaid_ladder(latest), "The escalation ladder", diagrams.describe_ladder(latest)),
    ]
    return titled(latest.title, "\n\n".join(parts))


def version_overview(version: PolicyVersion, changes: str = "") -> str:
    """One version: its rules grouped by kind, its escalation ladder, parameters and sources, and
    `changes` (Markdown: what changed from the previous version) when there is one."""
    policy = version.policy
    compiled = policy.compiled
    parts = [
        f"# {text(policy.title)} {text(policy.version)}",
        f"In force {span(policy.effective_from, policy.effective_to)} · digest {code(policy.digest)}",
        f"Amounts are those in force on {version.shown_on}.",
        "## Rules by kind",
        _rules_by_kind(version, prefix=""),
        "## Escalation ladder",
        LADDER_TEXT,
        diagram(diagrams.mermaid_ladder(policy), "The escalation ladder", diagrams.describe_ladder(policy)),
        "## Parameters",
        table(
            ["Parameter", "Value in force", "Meaning"],
            [
                [
                    code(name),
                    _value_now(parameter, version.shown_on),
                    paragraphs(parameter.entity.item.description),
                ]
                for name, parameter in sorted(compiled.parameters.items())
            ],
        ),
        "## Sources",
        "\n".join(
            f"- {link(entity.item.title, entity.item.url)} ({code(key)})"
            for key, entity in sorted(compiled.source.sources.items())
        ),
    ]
    if changes:
        parts += ["## Changes from the previous version", changes]
    return titled(f"{policy.title} {policy.version}", "\n\n".join(parts))


def rule_page(version: PolicyVersion, rule: CompiledRule) -> str:
    """Everything about one rule, in plain language, with its law and its place in the graph."""
    policy = version.policy
    compiled = policy.compiled
    renderer = Renderer(compiled.labels, params=version.parameters)
    item = rule.rule
    facts = [f"Rule {code(rule.id)}", f"{text(item.kind.value)}"]
    if item.action:
        facts.append(f"recommends [{code(item.action)}](../../../reference/actions.md#{slug(item.action)})")
    facts.append(f"policy set {code(policy.id)} {text(policy.version)}")
    if rule.entity.origin != policy.id:
        facts.append(f"inherited from {code(rule.entity.origin)}")
    for replacing, replaced in compiled.source.overrides:
        if replacing is rule.entity:
            facts.append(f"replaces the {code(replaced.origin)} rule of the same id")
    if item.priority:
        facts.append(f"priority {item.priority}")
    parts = [f"# {text(item.title)}", " · ".join(facts), paragraphs(item.summary)]
    parts.append(f"**{text(item.kind.value.capitalize())} rule.** {text(KIND_MEANING[item.kind])}")

    parts.append("## When it applies")
    lead = "All of these are true" if len(rule.when) > 1 else "When this is true"
    if rule.parameters:
        lead += f" (amounts in brackets are those in force on {version.shown_on})"
    parts.append(lead + ":")
    parts.append(_conditions(rule.when, renderer))
    if rule.unless:
        parts.append("## Unless")
        parts.append("The rule does not apply when any of these is true:")
        parts.append(_conditions(rule.unless, renderer))
    derived = _derived_read(rule, compiled)
    if derived:
        parts.append("## Terms used")
        parts.append(
            "\n".join(
                f"- **{text(d.label)}** ({code(d.name)}): {text(renderer.render(d.expression.node))}  \n"
                f"  {code(d.expression.text)}"
                for d in derived
            )
        )
    parts += _links(version, rule)
    if rule.outputs:
        parts.append("## Outputs")
        parts.append(
            table(
                ["Output", "In words", "Expression"],
                [
                    [code(name), text(renderer.render(expression.node)), code(expression.text)]
                    for name, expression in rule.outputs.items()
                ],
            )
        )
    if item.due is not None and rule.due_after is not None:
        parts.append("## Deadline")
        unit = "business days (Monday to Friday)" if item.due.business_days else "days"
        parts.append(f"Due {item.due.days} {unit} after {text(renderer.render(rule.due_after.node))}.")
        extended, when_extended = item.due.extended, rule.due_extended_when
        if extended is not None and when_extended is not None:
            parts.append(f"{extended.days} {unit} instead when {text(renderer.render(when_extended.node))}.")
        if rule.due_citations:
            parts.append(_citations(rule.due_citations))
    if rule.parameters:
        parts.append("## Parameters")
        for name in rule.parameters:
            parts.append(_parameter(compiled.parameters[name]))
    parts.append("## Law")
    if item.basis is not None:
        parts.append(
            f"**Basis: {text(BASIS_SENTENCE[item.basis.value])}** ([all rules](../../../reference/rules-and-law.md))"
        )
    parts.append(_citations(rule.citations))
    if version.examples.get(rule.id):
        parts.append("## In the example cases")
        parts.append(
            "What this rule did for the example cases shipped in `examples/cases/` (evaluated when "
            "this site was built):"
        )
        parts.append(_examples(version, version.examples[rule.id]))
    parts.append("## In the rule graph")
    parts.append(
        "What the rule reads (facts, parameters, derived values), what it recommends and cites, and "
        "the rules linked to it by holds and requirements."
    )
    parts.append(
        diagram(
            diagrams.mermaid_neighbourhood(policy, rule.id),
            "The rule in the rule graph",
            diagrams.describe_neighbourhood(policy, rule.id),
        )
    )
    parts.append(f"Written in {code(_relative(rule.entity.location.file))} line {rule.entity.location.line}.")
    return titled(item.title, "\n\n".join(parts))


def diagram(mermaid: str, title: str, sentences: list[str]) -> str:
    """A Mermaid diagram with its text alternative: the drawing gets an accessible title and a
    description pointing to the same graph in words (`sentences`, from `cspolicy.analysis.diagrams`),
    shown in a `<details>` right after it. `title` is the code's own text, never policy text."""
    kind, _, body = mermaid.partition("\n")
    described = f"{kind}\n  accTitle: {title}\n  accDescr: {DIAGRAM_DESCRIPTION}\n{body}"
    items = "".join(f"<li>{text(sentence)}</li>" for sentence in sentences)
    words = f"<details><summary>{DIAGRAM_WORDS}</summary><ul>{items}</ul></details>"
    return fenced(described, "mermaid") + "\n\n" + words


# -- pieces -------------------------------------------------------------------------------------
def _jurisdiction(policy: PolicySet) -> str:
    place = policy.compiled.source.jurisdiction
    return f"{place.county}, {place.state}" if place.county else place.state


def _rules_by_kind(version: PolicyVersion, prefix: str) -> str:
    compiled = version.policy.compiled
    blocks = []
    for kind in KIND_ORDER:
        rules = [r for r in compiled.rules.values() if r.rule.kind is kind]
        if not rules:
            continue
        rows = [
            [
                f"[{text(r.rule.title)}]({prefix}{r.id}.md)",
                code(r.rule.action) if r.rule.action else ", ".join(code(t) for t in r.rule.holds),
                code(r.entity.origin),
            ]
            for r in rules
        ]
        heading = f"### {text(kind.value.capitalize())}"
        blocks.append(
            "\n\n".join(
                [
                    heading,
                    text(KIND_MEANING[kind]),
                    table(["Rule", "Action or holds", "From"], rows),
                ]
            )
        )
    return "\n\n".join(blocks)


def _conditions(conditions: list[Any], renderer: Renderer) -> str:
    lines = []
    for condition in conditions:
        lines.append(f"- {text(renderer.render(condition.node))}  \n  {code(condition.text)}")
    return "\n".join(lines)


def _links(version: PolicyVersion, rule: CompiledRule) -> list[str]:
    rules = version.policy.compiled.rules
    item = rule.rule
    parts: list[str] = []

    def listed(ids: list[str]) -> str:
        return "\n".join(f"- [{text(rules[i].rule.title)}]({i}.md)" for i in ids if i in rules)

    if item.requires:
        parts += [
            "## What comes first",
            "The rule waits until these actions have been taken:",
            listed(item.requires),
        ]
    held_by = [other.id for other in rules.values() if rule.id in other.rule.holds]
    if held_by:
        parts += ["## What holds it", "Its action is held while any of these holds applies:", listed(held_by)]
    if item.holds:
        parts += [
            "## What it holds",
            "While this hold applies, these rules' actions are held:",
            listed(item.holds),
        ]
    unlocks = [other.id for other in rules.values() if rule.id in other.rule.requires]
    if unlocks:
        parts += ["## What it unlocks", "These rules wait for this rule's action:", listed(unlocks)]
    return parts


def _derived_read(rule: CompiledRule, compiled: CompiledPolicy) -> list[CompiledDerived]:
    """The derived values a rule reads, directly or through other derived values, first use first."""
    found: dict[str, CompiledDerived] = {}
    pending = [*rule.when, *rule.unless, *rule.outputs.values()]
    while pending:
        expression = pending.pop(0)
        for name in expression.names:
            if name.kind == "derived" and name.key in compiled.derived and name.key not in found:
                found[name.key] = compiled.derived[name.key]
                pending.append(found[name.key].expression)
    return list(found.values())


def _parameter(parameter: CompiledParameter) -> str:
    item = parameter.entity.item
    rows = [
        [span(dated.start, dated.end), text(format_value(dated.value, parameter.type))]
        for dated in parameter.values
    ]
    cites = ", ".join(code(c.source) for c in item.cite)
    return "\n\n".join(
        [
            f"### {text(parameter.label)}",
            f"{code('params.' + parameter.name)} · unit {text(item.unit.value)} · cites {cites}",
            paragraphs(item.description),
            table(["In force", "Value"], rows),
        ]
    )


def _value_now(parameter: CompiledParameter, day: dt.date) -> str:
    try:
        return text(format_value(parameter.value_on(day), parameter.type))
    except KeyError:
        return "none in force"


def _citations(citations: list[CitationOut]) -> str:
    lines = []
    for citation in citations:
        pinpoint = f", {text(citation.pinpoint)}" if citation.pinpoint else ""
        lines.append(f"- {link(citation.title, citation.url)}{pinpoint}")
    return "\n".join(lines)


def _examples(version: PolicyVersion, outcomes: list[Any]) -> str:
    rules = version.policy.compiled.rules
    rows = []
    for outcome in outcomes:
        status = text(outcome.status)
        if outcome.status == "held" and outcome.detail in rules:
            status += f" by [{text(rules[outcome.detail].rule.title)}]({outcome.detail}.md)"
        elif outcome.detail:
            status += f" for {code(outcome.detail)}"
        rows.append([code(outcome.file), text(outcome.case_id), status])
    return table(["Example", "Case", "Outcome"], rows)


def _relative(file: str) -> str:
    path = Path(os.path.normpath(file))
    parts = path.parts
    if "policies" in parts:
        return "/".join(parts[parts.index("policies") :])
    return path.name
