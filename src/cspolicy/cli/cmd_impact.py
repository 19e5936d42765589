"""`cspolicy impact --caseload FILE --from OLD --to NEW`: which cases gain or lose each action."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from decimal import Decimal

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cspolicy.caseload.impact import ImpactReport, count_rows, measure_impact, read_caseload
from cspolicy.cli.cmd_diff import SPEC_HELP
from cspolicy.cli.output import console, errors, print_error, write_json
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.versions import load_spec
from cspolicy.expressions import Type
from cspolicy.expressions.render import format_money, format_value

SHOWN_ERRORS = 20


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "impact", help="evaluate a caseload under two versions and count the cases each change moves"
    )
    parser.add_argument(
        "--caseload",
        required=True,
        metavar="FILE",
        help="YAML/JSON list of snapshots, JSON Lines, CSV, Parquet or Arrow",
    )
    parser.add_argument("--from", dest="old", required=True, metavar="OLD", help=SPEC_HELP)
    parser.add_argument("--to", dest="new", required=True, metavar="NEW", help=SPEC_HELP)
    parser.add_argument("--as-of", help="evaluate every case as of this date instead of its own")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        errors.print(f"[red]--as-of {escape(args.as_of)}: not a date (YYYY-MM-DD)[/red]")
        return 2
    try:
        old, new = load_spec(args.old), load_spec(args.new)
        total = count_rows(args.caseload)
        with Progress(
            TextColumn("evaluating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=errors,
            transient=True,
            disable=not errors.is_terminal,
        ) as progress:
            task = progress.add_task("cases", total=total)
            report = measure_impact(
                old,
                new,
                read_caseload(args.caseload),
                as_of=as_of,
                progress=lambda n: progress.advance(task, n),
            )
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    if args.format == "json":
        write_json(json.dumps({"caseload": args.caseload, **report.to_dict()}, indent=2, ensure_ascii=False))
    else:
        print_report(report, args.caseload)
    return 1 if report.errors else 0


def print_report(report: ImpactReport, caseload: str) -> None:
    """The impact as a policy author reads it: actions gained and lost (with example cases),
    holds, the actions that did not move, and totals of computed outputs."""
    old, new = report.old, report.new
    console.print(
        f"[bold]Impact of {escape(old['id'])} {escape(old['version'])} → "
        f"{escape(new['id'])} {escape(new['version'])}[/bold] on {escape(caseload)}"
    )
    console.print(
        f"{report.rows} cases: {report.evaluated} evaluated, {len(report.errors)} with errors; "
        f"{report.changed_cases} decided differently"
    )
    ordered = report.sorted_actions()
    changed = [a for a in ordered if a.changed]
    console.print()
    console.print("[bold]Actions that change[/bold]" if changed else "No action changes for any case.")
    for impact in changed:
        moves = [f"gained {impact.gained}"] if impact.gained else []
        moves += [f"lost {impact.lost}"] if impact.lost else []
        line = f"  {impact.action}: recommended for {impact.before} → {impact.after} cases"
        if moves:
            line += f" ({', '.join(moves)})"
        if impact.held_before or impact.held_after:
            line += f"; held for {impact.held_before} → {impact.held_after}"
        console.print(escape(line))
        if impact.gained_examples:
            console.print(
                f"      [green]gained:[/green] {escape(_examples(impact.gained_examples, impact.gained))}"
            )
        if impact.lost_examples:
            console.print(f"      [red]lost:[/red] {escape(_examples(impact.lost_examples, impact.lost))}")
    same = [a for a in ordered if not a.changed]
    if same:
        console.print()
        console.print("[bold]Unchanged[/bold] (cases recommended each action under both)")
        console.print("  " + escape(", ".join(f"{a.action} {a.after}" for a in same)))
    if report.outputs:
        console.print()
        console.print("[bold]Totals of computed outputs[/bold]")
        for total in report.outputs.values():
            shown = format_money if total.money else format_number
            change = total.after - total.before
            delta = "no change" if change == 0 else f"{'+' if change > 0 else '-'}{shown(abs(change))}"
            console.print(
                f"  {escape(total.action)}.{escape(total.output)}: {shown(total.before)} → "
                f"{shown(total.after)} ({delta}; {total.cases_before} → {total.cases_after} cases)"
            )
    for error in report.errors[:SHOWN_ERRORS]:
        errors.print(f"[red]{escape(str(error))}[/red]")
    if len(report.errors) > SHOWN_ERRORS:
        errors.print(f"[red]… and {len(report.errors) - SHOWN_ERRORS} more rows with errors[/red]")


def _examples(cases: list[str], count: int) -> str:
    more = count - len(cases)
    return ", ".join(cases) + (f" and {more} more" if more > 0 else "")


def format_number(value: Decimal) -> str:
    return format_value(value, Type.NUMBER)
