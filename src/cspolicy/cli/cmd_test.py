"""`cspolicy test PATH [--coverage] [--fail-under N]`: run the YAML policy tests with a readable report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.markup import escape

from cspolicy.authoring.coverage import Coverage, percent
from cspolicy.authoring.testing import CaseResult, run_tests
from cspolicy.cli.output import console


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("test", help="run YAML policy tests")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="test files or directories")
    parser.add_argument("-v", "--verbose", action="store_true", help="list passing cases (and covered rules)")
    parser.add_argument(
        "--coverage", action="store_true", help="report which rules fired and which boundaries were crossed"
    )
    parser.add_argument(
        "--fail-under",
        type=float,
        metavar="N",
        help="fail when rule coverage is below N percent (implies --coverage)",
    )
    parser.add_argument("--coverage-json", metavar="FILE", help="also write the coverage as JSON to FILE")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    wants_coverage = args.coverage or args.fail_under is not None or args.coverage_json
    coverage = Coverage() if wants_coverage else None
    results = [r for path in args.paths for r in run_tests(path, coverage)]
    failed = [r for r in results if not r.passed]
    for result in results:
        if result.passed and not args.verbose:
            continue
        print_result(result)
    passed = len(results) - len(failed)
    console.print(f"{passed} passed, {len(failed)} failed")
    status = 1 if failed else 0
    if coverage is not None:
        print_coverage(coverage, args.verbose)
        if args.coverage_json:
            Path(args.coverage_json).write_text(json.dumps(coverage.to_dict(), indent=2) + "\n")
        if args.fail_under is not None and coverage.rule_percent < args.fail_under:
            console.print(
                f"[red]rule coverage {coverage.rule_percent:.1f}% is below --fail-under {args.fail_under:g}%[/red]"
            )
            status = 1
    return status


def print_result(result: CaseResult) -> None:
    """One case: PASS/FAIL, where it is written, and for a failure what differed and what was got."""
    mark = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
    console.print(f"{mark} {escape(str(result.location))} {escape(result.name)}")
    for line in result.report():
        console.print(f"     {escape(line)}")


def print_coverage(coverage: Coverage, verbose: bool) -> None:
    """Per file: rules fired and comparisons seen on both sides; every gap by name."""
    console.print()
    console.print("[bold]Coverage[/bold] (a rule is covered when some test made it fire; a comparison")
    console.print("when the tests saw it both true and false)")
    for file in sorted(coverage.files.values(), key=lambda f: f.file):
        rules = percent(file.rules_covered, len(file.rules))
        comparisons = percent(file.comparisons_covered, len(file.comparisons))
        console.print(
            f"  {escape(file.file)}: rules {file.rules_covered}/{len(file.rules)} ({rules:.0f}%), "
            f"comparisons {file.comparisons_covered}/{len(file.comparisons)} ({comparisons:.0f}%)"
        )
        for tally in file.rules.values():
            if tally.covered and not verbose:
                continue
            mark = "[green]✔[/green]" if tally.covered else "[red]✘[/red]"
            never = "" if tally.covered else (" never applied" if tally.is_hold else " never fired")
            console.print(
                f"    {mark} rule {escape(tally.rule)}{never}: {escape(tally.summary())}  "
                f"[dim]{escape(str(tally.location))}[/dim]"
            )
        for comparison in file.comparisons.values():
            if comparison.covered and not verbose:
                continue
            mark = "[green]✔[/green]" if comparison.covered else "[yellow]◐[/yellow]"
            state = (
                f"true {comparison.true}, false {comparison.false}"
                if comparison.covered
                else comparison.missing()
            )
            console.print(
                f"    {mark} {escape(comparison.text)} ({escape(comparison.owner)}): {escape(state)}  "
                f"[dim]{escape(str(comparison.location))}[/dim]"
            )
    rules_covered, rules_total = coverage.rule_totals
    comparisons_covered, comparisons_total = coverage.comparison_totals
    console.print(
        f"[bold]Rules: {rules_covered} of {rules_total} fired ({coverage.rule_percent:.1f}%); "
        f"comparisons: {comparisons_covered} of {comparisons_total} seen both true and false "
        f"({coverage.comparison_percent:.1f}%)[/bold]"
    )
