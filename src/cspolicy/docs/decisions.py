"""Generated parts of the "Reading a decision" guide: a real example case, evaluated at build time."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

from cspolicy.cli.output import print_decision
from cspolicy.diagnostics import CSPolicyError
from cspolicy.docs.catalogue import PolicySetDocs, PolicyVersion
from cspolicy.docs.text import code, fenced, link, table, text
from cspolicy.engine.decision import ConditionTrace, Decision
from cspolicy.engine.policy import PolicySet
from cspolicy.engine.snapshot import CaseSnapshot

# Which shipped set a case is read under, by state (a county program is shown on its own pages).
STATE_POLICY = {"WI": "wisconsin", "CA": "california", "US": "federal"}


@dataclass
class Example:
    """An example case file, the policy set directory it was evaluated under, and the decision."""

    path: Path
    policy_dir: Path
    policy: PolicySet
    decision: Decision


def find_examples(examples: Path, sets: list[PolicySetDocs]) -> list[Example]:
    """Every example case that evaluates cleanly under its state's shipped policy set, in name order."""
    by_id = {docs.id: docs for docs in sets}
    found = []
    for path in sorted(examples.glob("*.yaml")):
        try:
            case = CaseSnapshot.from_file(path)
            docs = by_id.get(STATE_POLICY.get(case.jurisdiction.state, ""))
            version = docs.on(case.as_of) if docs else None
            if docs is None or version is None:
                continue
            decision = version.policy.evaluate(case)
        except CSPolicyError:
            continue
        found.append(Example(path, docs.directory, version.policy, decision))
    return found


def choose(examples: list[Example]) -> tuple[Example | None, Example | None]:
    """The richest example (actions, holds and outputs) to walk through, and one with a waiting action."""

    def richness(example: Example) -> tuple[int, int, int]:
        d = example.decision
        return (bool(d.held), any(a.outputs for a in d.actions), bool(d.actions))

    main = max(examples, key=richness, default=None)
    waiting = next((e for e in examples if e.decision.waiting), None)
    return main, waiting


def decision_text(decision: Decision) -> str:
    """What `cspolicy evaluate` prints for the decision (the CLI's own printer, captured)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_decision(decision)
    return buffer.getvalue()


def command(example: Example, root: Path) -> str:
    """The command a reader runs to reproduce the example."""
    case = example.path.relative_to(root) if example.path.is_relative_to(root) else example.path
    policy = (
        example.policy_dir.relative_to(root)
        if example.policy_dir.is_relative_to(root)
        else example.policy_dir
    )
    return f"cspolicy evaluate {case} --policy {policy}"


def walkthrough(example: Example, sets: list[PolicySetDocs]) -> str:
    """Each part of the decision as a table: what was recommended, why, what was held, the law."""
    decision = example.decision
    version = _version(sets, decision.policy.id, decision.policy.version)
    parts = [
        table(
            ["Field", "In this decision"],
            [
                [code("case_id"), text(decision.case_id)],
                [code("as_of"), str(decision.as_of)],
                [code("policy.id"), text(decision.policy.id)],
                [code("policy.version"), text(decision.policy.version)],
                [code("policy.digest"), code(decision.policy.digest)],
            ],
        )
    ]
    rows = []
    for action in decision.actions:
        outputs = ", ".join(f"{code(k)} = {text(v)}" for k, v in action.outputs.items())
        rows.append(
            [
                _rule_link(version, action.rule, action.title),
                code(action.action),
                text(action.kind),
                _because(action.because),
                outputs,
            ]
        )
    parts += ["#### Recommended actions", table(["Rule", "Action", "Kind", "Because", "Outputs"], rows)]
    if decision.held:
        held_rows = [
            [
                _rule_link(version, held.rule, held.title),
                code(held.action),
                _rule_link(version, held.held_by, _title(version, held.held_by)),
                text(held.reason),
            ]
            for held in decision.held
        ]
        parts += ["#### Held actions", table(["Rule", "Action", "Held by", "Reason"], held_rows)]
    citations = {(c.title, c.url, c.pinpoint or "") for a in decision.actions for c in a.citations}
    parts += [
        "#### The law cited",
        "\n".join(
            f"- {link(title, url)}{', ' + text(pin) if pin else ''}" for title, url, pin in sorted(citations)
        ),
    ]
    return "\n\n".join(parts)


def waiting_section(example: Example, sets: list[PolicySetDocs], root: Path) -> str:
    """A second example with an action waiting for an earlier step of the escalation ladder."""
    decision = example.decision
    version = _version(sets, decision.policy.id, decision.policy.version)
    rows = [
        [
            _rule_link(version, waiting.rule, waiting.title),
            code(waiting.action),
            ", ".join(code(w) for w in waiting.waiting_for),
        ]
        for waiting in decision.waiting
    ]
    return "\n\n".join(
        [
            f"Case {code(decision.case_id)} ({code(command(example, root))}):",
            table(["Rule", "Action", "Waiting for"], rows),
        ]
    )


def why_not_section(example: Example, root: Path) -> str:
    """`cspolicy explain` for a threshold rule the example case fell short of: one whose unmet
    condition is a `when` (so the answer can say how far the case is from it), else any."""
    decision = example.decision
    candidates: list[tuple[bool, int, str, str]] = []
    for rule_id, rule in example.policy.compiled.rules.items():
        if rule.rule.kind.value != "threshold":
            continue
        answer = decision.why_not(rule_id)
        if answer.status == "not applicable":
            short_of = any(trace.part == "when" for trace in answer.failed)
            candidates.append((not short_of, len(candidates), rule_id, answer.text))
    if not candidates:
        return "*Every threshold rule applied to the example case.*"
    _, _, rule_id, explanation = min(candidates)
    case = example.path.relative_to(root) if example.path.is_relative_to(root) else example.path
    policy = (
        example.policy_dir.relative_to(root)
        if example.policy_dir.is_relative_to(root)
        else example.policy_dir
    )
    shell = f"cspolicy explain {case} --policy {policy} --rule {rule_id}"
    return "\n\n".join([fenced(shell, "console"), fenced(explanation, "text")])


def replacements(examples: Path, root: Path, sets: list[PolicySetDocs]) -> dict[str, str]:
    """Marker name → generated Markdown for the guide (`<!-- cspolicy:NAME -->` in the page)."""
    main, waiting = choose(find_examples(examples, sets))
    if main is None:
        missing = "*No example case evaluates under the shipped policies; see `examples/cases/`.*"
        names = (
            "example-command",
            "snapshot",
            "decision-text",
            "decision-json",
            "walkthrough",
            "waiting",
            "why-not",
        )
        return dict.fromkeys(names, missing)
    return {
        "example-command": fenced(command(main, root), "console"),
        "snapshot": fenced(main.path.read_text(encoding="utf-8"), "yaml"),
        "decision-text": fenced(decision_text(main.decision), "text"),
        "decision-json": fenced(main.decision.to_json(), "json"),
        "walkthrough": walkthrough(main, sets),
        "waiting": waiting_section(waiting, sets, root)
        if waiting
        else "*No example case has a waiting action.*",
        "why-not": why_not_section(main, root),
    }


def _version(sets: list[PolicySetDocs], set_id: str, version: str) -> PolicyVersion | None:
    for docs in sets:
        for candidate in docs.versions:
            if candidate.policy.id == set_id and candidate.policy.version == version:
                return candidate
    return None


def _rule_link(version: PolicyVersion | None, rule_id: str, title: str) -> str:
    if version is None or rule_id not in version.policy.compiled.rules:
        return text(title)
    return f"[{text(title)}](../{version.rule_page(rule_id)})"


def _title(version: PolicyVersion | None, rule_id: str) -> str:
    if version is None or rule_id not in version.policy.compiled.rules:
        return rule_id
    return version.policy.compiled.rules[rule_id].rule.title


def _because(traces: list[ConditionTrace]) -> str:
    return "<br>".join(text(t.text) for t in traces if t.part == "when")
