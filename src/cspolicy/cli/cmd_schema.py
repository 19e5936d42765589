"""`cspolicy schema policy|snapshot|test [-o FILE]`: print or write a JSON Schema for editors."""

from __future__ import annotations

import argparse
from pathlib import Path

from cspolicy.authoring.jsonschema import KINDS, schema_text, write_schemas
from cspolicy.cli.output import console, errors


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "schema", help="print or write the JSON Schema of policy, snapshot or test files"
    )
    parser.add_argument("kind", choices=[*KINDS, "all"], help="which document's schema ('all': every one)")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (for 'all': a directory) instead of printing"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.kind == "all":
        if not args.output:
            errors.print("[red]`schema all` writes files: give a directory with -o[/red]")
            return 2
        for path in write_schemas(args.output):
            console.print(f"wrote {path}")
        return 0
    text = schema_text(args.kind)
    if args.output:
        target = Path(args.output)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        console.print(f"wrote {target}")
    else:
        console.file.write(text)
    return 0
