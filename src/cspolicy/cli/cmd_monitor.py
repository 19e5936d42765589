"""`cspolicy monitor EVENTS.jsonl --policy PATH`: replay case events and print what changes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from rich.markup import escape

from cspolicy.cli.output import console, print_error, write_json
from cspolicy.diagnostics import Code, CSPolicyError, Location, Problem

STYLES = {"recommended": "green", "no longer recommended": "dim", "held": "yellow", "released": "cyan"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "monitor",
        help="replay case events (JSON Lines) through durable-rules and print changes in recommendations",
    )
    parser.add_argument("events", metavar="EVENTS.jsonl", help="one event per line; - reads standard input")
    parser.add_argument(
        "--policy", required=True, help="policy directory or file (dated versions are followed)"
    )
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cspolicy.rete.events import MonitorError
    from cspolicy.rete.monitor import CaseMonitor

    refused = 0
    try:
        monitor = CaseMonitor(args.policy)
        for location, data in _lines(args.events):
            try:
                if isinstance(data, _NotJson):
                    raise MonitorError(Problem(Code.EVENT_INVALID, str(data), location))
                changes = monitor.process(data, location)
            except MonitorError as exc:
                refused += 1
                print_error(exc)
                continue
            for change in changes:
                if args.format == "json":
                    write_json(change.model_dump_json())
                else:
                    style = STYLES[change.change]
                    console.print(f"[{style}]{escape(change.text)}[/{style}]")
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    return 1 if refused else 0


def _lines(name: str) -> Iterator[tuple[Location, Any]]:
    """(location, parsed event or _NotJson) for every non-blank line."""
    source = "<stdin>" if name == "-" else name
    stream: IO[str] = sys.stdin if name == "-" else _open(Path(name))
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            location = Location(source, number, 1)
            try:
                yield location, json.loads(line, parse_float=Decimal)
            except json.JSONDecodeError as exc:
                yield location.shifted(0, exc.colno - 1), _NotJson(f"not valid JSON: {exc.msg}")


class _NotJson(str):
    """A line that is not JSON: the monitor refuses it as an invalid event with this message."""


def _open(path: Path) -> IO[str]:
    try:
        return path.open(encoding="utf-8")
    except OSError as exc:
        problem = Problem(Code.FILE_NOT_FOUND, f"cannot read events: {exc.strerror}", Location(str(path)))
        raise CSPolicyError(str(problem)) from None
