"""`cspolicy validate PATH`: load a policy set and print every located problem."""

from __future__ import annotations

import argparse

from cspolicy.cli.output import console, print_error, print_problems
from cspolicy.diagnostics import PolicyError
from cspolicy.engine.policy import load_policy


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("validate", help="check that a policy set loads; print every problem")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="policy directory or file")
    parser.add_argument("--as-of", help="validate the version in force on this date (YYYY-MM-DD)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    status = 0
    for path in args.paths:
        try:
            policy = load_policy(path, args.as_of)
        except PolicyError as exc:
            print_error(exc)
            console.print(f"{path}: [red]invalid[/red] ({len(exc.problems)} problem(s))")
            status = 1
            continue
        print_problems(policy.warnings)
        console.print(
            f"{path}: [green]valid[/green] — {policy.id} {policy.version}, "
            f"{len(policy.compiled.rules)} rules, {len(policy.compiled.parameters)} parameters"
        )
    return status
