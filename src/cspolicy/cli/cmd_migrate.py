"""`cspolicy migrate-snapshot --to child-support/v2 FILE… [-o DIR]`: move snapshots to a newer case schema."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from cspolicy.cli.output import console, errors, print_error
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.migrations import MIGRATIONS, migrate_snapshot, read_snapshot_data, snapshot_text


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "migrate-snapshot",
        help="migrate case snapshots to a newer case schema without losing a value",
    )
    parser.add_argument("files", metavar="FILE", nargs="+", help="snapshot files (YAML or JSON)")
    parser.add_argument(
        "--to", required=True, choices=sorted({to for _, to in MIGRATIONS}), help="the target case schema"
    )
    parser.add_argument(
        "--from",
        dest="from_",
        default="child-support/v1",
        choices=sorted({old for old, _ in MIGRATIONS}),
        help="the schema the snapshots are written for (default: child-support/v1)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write each migrated file into DIR (same name); one file may be printed",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.output and len(args.files) > 1:
        errors.print("[red]several files: give a directory with -o to write them into[/red]")
        return 2
    if (args.from_, args.to) not in MIGRATIONS:
        errors.print(f"[red]no migration from {escape(args.from_)} to {escape(args.to)}[/red]")
        return 2
    target = Path(args.output) if args.output else None
    if target is not None:
        target.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.files:
        path = Path(name)
        try:
            migrated = migrate_snapshot(read_snapshot_data(path), args.to, str(path), from_=args.from_)
        except CSPolicyError as exc:
            print_error(exc)
            failed += 1
            continue
        text = snapshot_text(migrated.data, path.suffix, args.to)
        for note in migrated.notes:
            errors.print(f"[yellow]{escape(str(path))}: note: {escape(note)}[/yellow]")
        if target is None:
            console.file.write(text)
        else:
            out = target / path.name
            if out.resolve() == path.resolve():
                errors.print(
                    f"[red]{escape(str(out))}: will not overwrite the input; choose another -o[/red]"
                )
                failed += 1
                continue
            out.write_text(text, encoding="utf-8")
            console.print(f"wrote {escape(str(out))}")
    return 1 if failed else 0
