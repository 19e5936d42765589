"""`cspolicy records --store URL [--case ID] [--action CODE] [--rule ID] [--overdue]`: stored decisions.

`--export` writes each record with its decision and snapshot as JSON, protected values (FTI,
FVI) masked unless `--scope fti` / `--scope fvi` is given (which needs the records key);
`--access-log` shows who read which record; `--new-key` prints a fresh records key.
Every read is written to the store's access log as `cli:<user>`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import TYPE_CHECKING

from rich.markup import escape

from cspolicy.cli.output import console, print_error, write_json
from cspolicy.diagnostics import CSPolicyError

if TYPE_CHECKING:
    from cspolicy.store import DecisionStore


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("records", help="list decisions saved in a decision store")
    parser.add_argument("--store", metavar="URL", help="SQLite file or database URL")
    parser.add_argument("--case", metavar="ID", help="only this case")
    parser.add_argument("--action", metavar="CODE", help="only decisions recommending this action")
    parser.add_argument("--rule", metavar="ID", help="only decisions with an action from this rule")
    parser.add_argument("--overdue", action="store_true", help="only decisions with an overdue action")
    parser.add_argument("--since", type=dt.date.fromisoformat, help="snapshot dated on or after")
    parser.add_argument("--until", type=dt.date.fromisoformat, help="snapshot dated on or before")
    parser.add_argument("--policy-version", help="only decisions made under this policy version")
    parser.add_argument("--current", action="store_true", help="only each case's latest decision")
    parser.add_argument("--by-rule", action="store_true", help="count current overdue actions by rule")
    parser.add_argument("--limit", type=int, default=None, help="at most this many records")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--export", action="store_true", help="JSON of each record with its decision and snapshot"
    )
    parser.add_argument(
        "--scope",
        action="append",
        choices=["fti", "fvi"],
        default=[],
        help="show protected values of this kind in --export (needs the records key; logged)",
    )
    parser.add_argument("--access-log", action="store_true", help="who read which record, and when")
    parser.add_argument("--record", metavar="RECORD_ID", help="with --access-log: only this record")
    parser.add_argument("--new-key", action="store_true", help="print a new records key and exit")
    parser.set_defaults(handler=run)


def reader() -> str:
    """Who reads, as the access log names a command-line user."""
    from cspolicy.store.guard import default_reader

    return f"cli:{default_reader()}"


def run(args: argparse.Namespace) -> int:
    if args.new_key:
        from cspolicy.store.sealing import new_key

        console.print(new_key(), markup=False, highlight=False)
        return 0
    if not args.store:
        console.print("[red]--store URL is required[/red]")
        return 2
    try:
        from cspolicy.store import DecisionStore

        store = DecisionStore(args.store, reader=reader())
        if args.access_log:
            return _access_log(store, args.record, args.limit, args.format)
        if args.by_rule:
            return _by_rule(store.overdue_by_rule(), args.format)
        summaries = store.records(
            case_id=args.case,
            action=args.action,
            rule=args.rule,
            overdue=True if args.overdue else None,
            since=args.since,
            until=args.until,
            policy_version=args.policy_version,
            current_only=args.current,
            limit=args.limit,
        )
        if args.export:
            write_json(json.dumps(store.export(summaries, scopes=args.scope), indent=2, ensure_ascii=False))
            return 0
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    if args.format == "json":
        write_json(json.dumps([s.to_json() for s in summaries], indent=2, ensure_ascii=False))
        return 0
    for summary in summaries:
        record = summary.record
        marker = "" if summary.current else " [dim](superseded)[/dim]"
        console.print(
            f"[bold]{record.record_id}[/bold]  case {escape(record.case_id)} · as of {record.as_of} · "
            f"{escape(record.policy.id)} {escape(record.policy.version)} · "
            f"evaluated {record.evaluated_at.isoformat(timespec='seconds')}{marker}"
        )
        for action in summary.actions:
            clock = ""
            if action.due_by:
                clock = f" · due by {action.due_by}" + (" [red](overdue)[/red]" if action.overdue else "")
            console.print(
                f"    {action.status:<11} {escape(action.action)} [dim]rule {action.rule}[/dim]{clock}"
            )
    overdue = sum(len(s.overdue) for s in summaries)
    console.print(f"{len(summaries)} record{'s' if len(summaries) != 1 else ''}; {overdue} overdue action(s)")
    return 0


def _access_log(store: DecisionStore, record_id: str | None, limit: int | None, output: str) -> int:
    entries = store.access_log(record_id=record_id, limit=limit)
    if output == "json":
        payload = [
            {
                "at": e.at.isoformat(),
                "reader": e.reader,
                "record_id": e.record_id,
                "what": e.what,
                "scopes": list(e.scopes),
            }
            for e in entries
        ]
        write_json(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    for e in entries:
        scopes = f" [dim]scopes {','.join(e.scopes)}[/dim]" if e.scopes else ""
        console.print(
            f"{e.at.isoformat(timespec='seconds')}  {escape(e.reader)}  {e.what:<8} {e.record_id}{scopes}"
        )
    console.print(f"{len(entries)} read(s)")
    return 0


def _by_rule(found: dict[str, list[str]], output: str) -> int:
    if output == "json":
        write_json(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    if not found:
        console.print("No overdue actions.")
    for rule, cases in found.items():
        console.print(f"[bold]{escape(rule)}[/bold]: {len(cases)} case(s) overdue")
        console.print("    " + ", ".join(escape(c) for c in cases[:20]) + (" …" if len(cases) > 20 else ""))
    return 0
