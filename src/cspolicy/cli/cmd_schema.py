"""`cspolicy schema policy|snapshot|test|case-schema [-o FILE]`: print or write a JSON Schema for editors.

`cspolicy schema snapshot --policy PATH` writes the schema of that policy's cases (its `case_schema`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cspolicy.authoring.jsonschema import KINDS, schema_text, snapshot_schema, write_schemas
from cspolicy.cli.output import console, errors, print_error
from cspolicy.diagnostics import CSPolicyError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "schema", help="print or write the JSON Schema of policy, snapshot, test or case schema files"
    )
    parser.add_argument("kind", choices=[*KINDS, "all"], help="which document's schema ('all': every one)")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (for 'all': a directory) instead of printing"
    )
    parser.add_argument(
        "--policy",
        metavar="PATH",
        help="with `snapshot`: the schema of this policy's cases (its `case_schema`, child-support/v1 by default)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.policy and args.kind != "snapshot":
        errors.print("[red]--policy goes with `schema snapshot`[/red]")
        return 2
    if args.kind == "all":
        if not args.output:
            errors.print("[red]`schema all` writes files: give a directory with -o[/red]")
            return 2
        for path in write_schemas(args.output):
            console.print(f"wrote {path}")
        return 0
    if args.policy:
        from cspolicy.engine.policy import load_policy

        try:
            policy = load_policy(args.policy)
        except CSPolicyError as exc:
            print_error(exc)
            return 1
        text = json.dumps(snapshot_schema(policy.case_schema), indent=2, ensure_ascii=False) + "\n"
    else:
        text = schema_text(args.kind)
    if args.output:
        target = Path(args.output)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        console.print(f"wrote {target}")
    else:
        console.file.write(text)
    return 0
