"""`cspolicy replay RECORD_ID --store URL` and `cspolicy replay --store URL --policy NEW`."""

from __future__ import annotations

import argparse
import difflib
import json
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from cspolicy.cli.output import console, print_error, write_json
from cspolicy.diagnostics import CSPolicyError

if TYPE_CHECKING:
    from cspolicy.store import DecisionStore


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "replay",
        help="re-evaluate a stored decision (is it identical?) or all of them under a new policy",
    )
    parser.add_argument("record", nargs="?", metavar="RECORD_ID", help="the record to replay")
    parser.add_argument("--store", required=True, metavar="URL", help="SQLite file or database URL")
    parser.add_argument("--policy", metavar="PATH", help="re-evaluate stored decisions under this policy")
    parser.add_argument("--all", action="store_true", help="with --policy: every record, not only current")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--scope",
        action="append",
        choices=["fti", "fvi"],
        default=[],
        help="show protected values of this kind",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if (args.record is None) == (args.policy is None):
        console.print("[red]give either a RECORD_ID or --policy PATH[/red]")
        return 2
    try:
        from cspolicy.cli.cmd_records import reader
        from cspolicy.store import DecisionStore

        store = DecisionStore(args.store, reader=reader())
        if args.record is not None:
            return _replay_one(store, args.record, args.format, args.scope)
        return _replay_under(store, args.policy, args.all, args.format, args.scope)
    except CSPolicyError as exc:
        print_error(exc)
        return 1


def _replay_one(store: DecisionStore, record_id: str, output: str, scopes: list[str]) -> int:
    result = store.replay(record_id, scopes=scopes)  # protected values masked unless in scopes
    record = result.record
    if output == "json":
        write_json(
            json.dumps(
                {
                    "record_id": record.record_id,
                    "identical": result.identical,
                    "stored": json.loads(result.stored_json),
                    "replayed": json.loads(result.replayed_json),
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0 if result.identical else 1
    console.print(
        f"[bold]{record.record_id}[/bold]  case {escape(record.case_id)} · as of {record.as_of} · "
        f"{escape(record.policy.id)} {escape(record.policy.version)} ({record.policy.digest[:19]}…)"
    )
    if result.identical:
        console.print("[green]identical[/green]: the replay reproduces the stored decision byte for byte")
        return 0
    console.print("[red]different[/red]: the replay does not reproduce the stored decision")
    diff = difflib.unified_diff(
        result.stored_json.splitlines(),
        result.replayed_json.splitlines(),
        "stored",
        "replayed",
        lineterm="",
    )
    for line in diff:
        console.print(escape(line))
    return 1


def _replay_under(store: DecisionStore, policy: str, every: bool, output: str, scopes: list[str]) -> int:
    from cspolicy.store.whatif import changes_under

    changes = list(changes_under(store, policy, current_only=not every, scopes=scopes))
    if output == "json":
        payload = [
            {
                "record_id": c.record_id,
                "case_id": c.case_id,
                "before_policy": c.before_policy,
                "after_policy": c.after_policy,
                "error": c.error,
                "lost": [r.line() for r in c.lost],
                "gained": [r.line() for r in c.gained],
            }
            for c in changes
        ]
        write_json(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    if not changes:
        console.print("No stored case's recommendations would change.")
        return 0
    for change in changes:
        table = Table(title=f"case {change.case_id} ({change.record_id})", show_lines=True, expand=True)
        table.add_column(f"before · {change.before_policy}")
        table.add_column(f"after · {change.after_policy}")
        if change.error:
            table.add_row("", f"[red]{escape(change.error)}[/red]")
        lost, gained = change.lost, change.gained
        for index in range(max(len(lost), len(gained))):
            left = escape(lost[index].line()) if index < len(lost) else ""
            right = escape(gained[index].line()) if index < len(gained) else ""
            table.add_row(left, right)
        console.print(table)
    console.print(f"{len(changes)} case(s) would change")
    return 0
