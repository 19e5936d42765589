"""`cspolicy diff OLD NEW [--format json]`: what changed between two policy versions, in words."""

from __future__ import annotations

import argparse
import json

from rich.markup import escape

from cspolicy.authoring.diff import diff_policies
from cspolicy.cli.output import console, print_error, write_json
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.versions import load_spec

SPEC_HELP = "a policy set (its latest version), a version directory, or PATH@YYYY-MM-DD (the version in force that day)"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "diff", help="list rules, parameters and sources added, removed or changed between two versions"
    )
    parser.add_argument("old", metavar="OLD", help=SPEC_HELP)
    parser.add_argument("new", metavar="NEW", help=SPEC_HELP)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        old, new = load_spec(args.old), load_spec(args.new)
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    diff = diff_policies(old, new)
    if args.format == "json":
        write_json(json.dumps(diff.to_dict(), indent=2, ensure_ascii=False))
        return 0
    for line in diff.lines():
        console.print(escape(line))
    return 0
