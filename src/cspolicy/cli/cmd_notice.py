"""`cspolicy notice CASE --policy PATH --action CODE [--lang en|es] -o FILE.html|.pdf`: the notice
to the paying parent of one recommended action, as HTML or tagged PDF."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Literal

from cspolicy.cli.output import errors, print_error
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.engine.versions import PolicyVersions

SUFFIXES: dict[str, Literal["html", "pdf"]] = {".html": "html", ".htm": "html", ".pdf": "pdf"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "notice", help="write the notice to the paying parent of an action (HTML or PDF, English or Spanish)"
    )
    parser.add_argument("case", metavar="CASE", help="snapshot file (YAML or JSON)")
    parser.add_argument("--policy", required=True, help="policy directory or file")
    parser.add_argument("--action", required=True, metavar="CODE", help="the action code, e.g. docket_lien")
    parser.add_argument("--lang", default="en", choices=["en", "es"], help="language of the notice")
    parser.add_argument("--date", metavar="YYYY-MM-DD", help="date of the notice (default: the case's as_of)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="FILE.html or FILE.pdf (the suffix picks the format)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    fmt = SUFFIXES.get(output.suffix.lower())
    if fmt is None:
        errors.print(f"[red]{args.output}: the notice file must end in .html or .pdf[/red]")
        return 2
    try:
        issued = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError:
        errors.print(f"[red]--date {args.date!r}: not a date (YYYY-MM-DD)[/red]")
        return 2
    try:
        from cspolicy.notices import render_notice
    except ImportError as exc:  # the `notices` extra (Jinja2, Babel, WeasyPrint) is not installed
        errors.print(f"[red]notices need the `notices` extra: pip install 'cspolicy[notices]' ({exc})[/red]")
        return 1
    try:
        decision = PolicyVersions(args.policy).evaluate(CaseSnapshot.from_file(args.case))
        notice = render_notice(decision, args.action, lang=args.lang, fmt=fmt, issued=issued)
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    try:
        if isinstance(notice, bytes):
            output.write_bytes(notice)
        else:
            output.write_text(notice, encoding="utf-8")
    except OSError as exc:
        errors.print(f"[red]{args.output}: cannot write the notice ({exc.strerror})[/red]")
        return 1
    return 0
