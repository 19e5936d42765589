"""`cspolicy batch INPUT --policy PATH -o OUTPUT.parquet`: decide a whole caseload, streaming."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cspolicy.caseload.results import BatchSummary
from cspolicy.caseload.streaming import (
    DEFAULT_BATCH_SIZE,
    count_rows,
    errors_path_for,
    evaluate_batches,
    stream,
)
from cspolicy.caseload.versions import VersionedEvaluator, as_of_days
from cspolicy.cli.output import console, errors, print_error
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.policy import load_policy


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "batch",
        help="evaluate a caseload (Parquet, CSV, Arrow, JSON Lines) into a decisions Parquet file",
    )
    parser.add_argument("input", metavar="INPUT", help="caseload file: .parquet, .csv, .arrow/.ipc, .jsonl")
    parser.add_argument("--policy", required=True, help="policy directory or file")
    parser.add_argument(
        "--as-of",
        help="decide every row under the version in force on this date"
        " (default: each row under the version in force on its own as_of)",
    )
    parser.add_argument("-o", "--output", required=True, help="decisions Parquet file to write")
    parser.add_argument("--errors", help="error rows Parquet file (default: OUTPUT.errors.parquet)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per chunk")
    parser.add_argument(
        "--layout",
        choices=["long", "wide"],
        default="long",
        help="decisions table: long (a row per case and action, the default) or wide (a row per"
        " case, a status column per rule and its outputs)",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="chunks decided at once (default: one per core, at most 4); the output is the same",
    )
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {text!r})")
    return value


def run(args: argparse.Namespace) -> int:
    source = Path(args.input)
    if not source.is_file():
        errors.print(f"[red]{source}: no such caseload file[/red]")
        return 1
    try:
        policy = load_policy(args.policy, args.as_of)
        versioned = None if args.as_of else VersionedEvaluator(args.policy, as_of_days(source), args.layout)
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    output = Path(args.output)
    errors_path = Path(args.errors) if args.errors else errors_path_for(output)
    try:
        total = count_rows(source)
    except Exception:  # an unreadable file is reported below, by the reader, with its reason
        total = None
    with Progress(
        TextColumn("[bold]deciding[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as progress:
        task = progress.add_task("cases", total=total, rate="")

        def advance(summary: BatchSummary) -> None:
            progress.update(task, completed=summary.rows, rate=f"{summary.cases_per_second:,.0f} cases/s")

        try:
            if versioned is not None:
                summary = stream(
                    versioned,
                    source,
                    output,
                    errors_path,
                    batch_size=args.batch_size,
                    on_batch=advance,
                    workers=args.workers,
                )
            else:
                summary = evaluate_batches(
                    policy,
                    source,
                    output,
                    errors_path,
                    batch_size=args.batch_size,
                    on_batch=advance,
                    layout=args.layout,
                    workers=args.workers,
                )
        except (ValueError, OSError) as exc:
            errors.print(f"[red]{source}: {exc}[/red]")
            return 1
    if versioned is not None:
        used = sorted({e.policy.version for e in versioned.by_digest.values()})
        version = f"(by date: {', '.join(used)})"
    else:
        version = policy.version
    print_summary(summary, policy.id, version, output, errors_path)
    return 0


def print_summary(
    summary: BatchSummary, policy_id: str, version: str, output: Path, errors_path: Path
) -> None:
    """The closing summary: rows, decided, error rows, actions by count, time and speed."""
    table = Table(title=f"{policy_id} {version}: recommended actions", show_edge=False)
    table.add_column("action")
    table.add_column("cases", justify="right")
    for action, count in sorted(summary.actions.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(action, f"{count:,}")
    console.print(table)
    check = "" if summary.reconciles else "  [red](counts do not reconcile)[/red]"
    console.print(
        f"rows {summary.rows:,} = decided {summary.decided:,} + error rows {summary.errors:,}{check}\n"
        f"{summary.seconds:.2f} s, {summary.cases_per_second:,.0f} cases/s ({summary.mode})\n"
        f"decisions: {output}\nerror rows: {errors_path}"
    )
