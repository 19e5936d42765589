"""`cspolicy test PATH`: run the YAML policy tests (`*.test.yaml`) with a readable report."""

from __future__ import annotations

import argparse

from rich.markup import escape

from cspolicy.cli.output import console
from cspolicy.testing import run_tests


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("test", help="run YAML policy tests")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="test files or directories")
    parser.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    results = [r for path in args.paths for r in run_tests(path)]
    failed = [r for r in results if not r.passed]
    for result in results:
        if result.passed and not args.verbose:
            continue
        mark = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {escape(str(result.location))} {escape(result.name)}")
        if result.error:
            console.print(f"     {escape(result.error)}")
        for failure in result.failures:
            console.print(f"     {escape(failure)}")
    passed = len(results) - len(failed)
    console.print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0
