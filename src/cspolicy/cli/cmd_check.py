"""`cspolicy check PATH...`: load each policy set and run the static analyser; print every finding."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from cspolicy.analysis.checks import check_policy
from cspolicy.cli.output import console, print_problems, write_json
from cspolicy.diagnostics import Code, Location, PolicyError, Problem, Severity
from cspolicy.engine.policy import PolicySet, load_policy
from cspolicy.source.loading import policy_files


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "check",
        help="static analysis: load errors, rules that never apply, holds, unused parameters and sources",
        description=(
            "Load each policy set (every dated version, unless --as-of picks one) and report load "
            "errors and analyser warnings (CSP401-CSP407). Exit 1 on errors, or on warnings with --strict."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="policy directory or file")
    parser.add_argument(
        "--as-of", type=iso_date, help="check only the version in force on this date (YYYY-MM-DD)"
    )
    parser.add_argument("--strict", action="store_true", help="warnings fail the check too")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.set_defaults(handler=run)


def iso_date(text: str) -> dt.date:
    """An argparse type: a YYYY-MM-DD date, or a usage error saying so."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date (YYYY-MM-DD), not {text!r}") from None


def targets(path: str, as_of: dt.date | None) -> list[tuple[str, dt.date | None]]:
    """What to check for one PATH: the set itself, or each dated version of it, or each set in a
    directory of sets (such as `policies/`)."""
    if as_of is not None:
        return [(path, as_of)]
    return [(str(found), None) for found in _policy_directories(Path(path))] or [(path, None)]


def _policy_directories(path: Path) -> list[Path]:
    if not path.is_dir() or policy_files(path):
        return [path]
    return [found for sub in sorted(path.iterdir()) if sub.is_dir() for found in _policy_directories(sub)]


def check_one(path: str, as_of: dt.date | None) -> tuple[str, list[Problem]]:
    """The policy's name (`id version`, or '' when it does not load) and every problem found."""
    try:
        policy = load_policy(path, as_of)
    except PolicyError as exc:
        return "", exc.problems
    return f"{policy.id} {policy.version}", check_policy(policy) + caseload_mode(policy, path)


def caseload_mode(policy: PolicySet, path: str) -> list[Problem]:
    """CSP409 when a caseload would be decided case by case (not vectorized): which rule, why."""
    from cspolicy.caseload.batch import Refused, VectorPlan
    from cspolicy.expressions.vectorized import NotVectorizable

    try:
        VectorPlan(policy)
    except NotVectorizable as exc:
        location = exc.location if isinstance(exc, Refused) else Location(path)
        message = f"a caseload is decided case by case, not vectorized: {exc}"
        return [Problem(Code.NOT_VECTORIZED, message, location, Severity.WARNING)]
    return []


def run(args: argparse.Namespace) -> int:
    checks = [target for path in args.paths for target in targets(path, args.as_of)]
    status = 0
    reports: list[dict[str, Any]] = []
    for path, as_of in checks:
        name, problems = check_one(path, as_of)
        errors = [p for p in problems if p.severity is Severity.ERROR]
        warnings = [p for p in problems if p.severity is Severity.WARNING]
        if errors or (args.strict and warnings):
            status = 1
        if args.format == "json":
            reports.append(_report(path, name, errors, warnings, problems))
            continue
        print_problems(problems)
        console.print(_summary(path, name, errors, warnings))
    if args.format == "json":
        write_json(json.dumps(reports, indent=2, ensure_ascii=False))
    return status


def _summary(path: str, name: str, errors: list[Problem], warnings: list[Problem]) -> str:
    counts = []
    if errors:
        counts.append(f"[red]{len(errors)} error{'s' if len(errors) != 1 else ''}[/red]")
    if warnings:
        counts.append(f"[yellow]{len(warnings)} warning{'s' if len(warnings) != 1 else ''}[/yellow]")
    verdict = ", ".join(counts) if counts else "[green]no problems[/green]"
    what = f" — {name}" if name else " — does not load"
    return f"{path}{what}: {verdict}"


def _report(
    path: str, name: str, errors: list[Problem], warnings: list[Problem], problems: list[Problem]
) -> dict[str, Any]:
    return {
        "path": path,
        "policy": name or None,
        "errors": len(errors),
        "warnings": len(warnings),
        "problems": [
            {
                "code": p.code.value,
                "severity": p.severity.value,
                "message": p.message,
                "file": p.location.file,
                "line": p.location.line,
                "column": p.location.column,
            }
            for p in problems
        ],
    }
