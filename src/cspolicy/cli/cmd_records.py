"""`cspolicy records --store URL [--case ID] [--action CODE] [--rule ID] [--overdue]`: stored decisions."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from rich.markup import escape

from cspolicy.cli.output import console, print_error, write_json
from cspolicy.diagnostics import CSPolicyError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("records", help="list decisions saved in a decision store")
    parser.add_argument("--store", required=True, metavar="URL", help="SQLite file or database URL")
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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from cspolicy.store import DecisionStore

        store = DecisionStore(args.store)
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
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    if args.format == "json":
        payload = [
            {
                **summary.record.model_dump(mode="json"),
                "current": summary.current,
                "actions": [
                    {
                        "status": a.status,
                        "action": a.action,
                        "rule": a.rule,
                        "due_by": a.due_by.isoformat() if a.due_by else None,
                        "overdue": a.overdue,
                    }
                    for a in summary.actions
                ],
            }
            for summary in summaries
        ]
        write_json(json.dumps(payload, indent=2, ensure_ascii=False))
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
