"""Shared terminal output for the CLI: a rich console and the printing of problems and decisions."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

from cspolicy.diagnostics import (
    CSPolicyError,
    EvaluationError,
    PolicyError,
    Problem,
    Severity,
    SnapshotError,
)
from cspolicy.engine.decision import ConditionTrace, Decision

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def print_problems(problems: list[Problem]) -> None:
    """Every problem on its own line, file:line:col first."""
    for problem in problems:
        style = "red" if problem.severity is Severity.ERROR else "yellow"
        errors.print(f"[{style}]{escape(str(problem))}[/{style}]")


def print_error(exc: CSPolicyError) -> None:
    """A cspolicy error as located lines (never a traceback)."""
    if isinstance(exc, PolicyError | SnapshotError):
        print_problems(exc.problems)
    elif isinstance(exc, EvaluationError):
        prefix = f"case {exc.case_id}: " if exc.case_id else ""
        errors.print(f"[red]{escape(prefix + str(exc.problem))}[/red]")
    else:
        errors.print(f"[red]{escape(str(exc))}[/red]")


def _conditions(traces: list[ConditionTrace], indent: str) -> None:
    for trace in traces:
        if trace.part == "unless":
            continue
        console.print(f"{indent}because {escape(trace.text)}")


def print_decision(decision: Decision) -> None:
    """A decision as a caseworker reads it: each action, why, and the law behind it."""
    policy = decision.policy
    console.print(
        f"[bold]Case {escape(decision.case_id)}[/bold] · as of {decision.as_of} · "
        f"policy {escape(policy.id)} {escape(policy.version)}"
    )
    if not decision.actions and not decision.held and not decision.waiting:
        console.print("  No action recommended: no rule applies to this case.")
    for action in decision.actions:
        console.print(
            f"  [green]✔ {escape(action.title)}[/green]  [dim]{action.action} · {action.kind} · rule {action.rule}[/dim]"
        )
        _conditions(action.because, "      ")
        for name, value in action.outputs.items():
            console.print(f"      {escape(name)} = {escape(str(value))}")
        if action.due_by:
            late = " (overdue)" if action.overdue else ""
            console.print(f"      due by {action.due_by}{late}")
        for citation in action.citations:
            pin = f" {citation.pinpoint}" if citation.pinpoint else ""
            console.print(
                f"      [dim]law: {escape(citation.title)}{escape(pin)} — {escape(citation.url)}[/dim]"
            )
    for held in decision.held:
        console.print(
            f"  [yellow]⏸ {escape(held.title)}[/yellow]  [dim]{held.action} held by rule {held.held_by}[/dim]"
        )
        console.print(f"      held: {escape(held.reason)}")
        _conditions(held.because, "      ")
        for citation in held.citations:
            pin = f" {citation.pinpoint}" if citation.pinpoint else ""
            console.print(
                f"      [dim]law: {escape(citation.title)}{escape(pin)} — {escape(citation.url)}[/dim]"
            )
    for waiting in decision.waiting:
        console.print(
            f"  [cyan]… {escape(waiting.title)}[/cyan]  [dim]{waiting.action} waits for "
            f"{', '.join(waiting.waiting_for)}[/dim]"
        )
        _conditions(waiting.because, "      ")
    console.print()


def write_json(text: str) -> None:
    sys.stdout.write(text + "\n")
