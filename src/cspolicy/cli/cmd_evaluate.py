"""`cspolicy evaluate CASE... --policy PATH`: explained decisions as text or JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from rich.markup import escape

from cspolicy.cli.output import console, print_decision, print_error, write_json
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.versions import PolicyVersions


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("evaluate", help="evaluate case snapshots and explain the decisions")
    parser.add_argument("cases", nargs="+", metavar="CASE", help="snapshot files (YAML or JSON)")
    parser.add_argument("--policy", required=True, help="policy directory or file")
    parser.add_argument("--as-of", help="evaluate as of this date instead of each snapshot's own")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--lang",
        choices=["en", "es"],
        default="en",
        help="language of the text explanation (es: from the policy's Spanish catalogues; JSON stays English)",
    )
    parser.add_argument("--store", metavar="URL", help="save each decision to this decision store")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    versions = PolicyVersions(args.policy)
    store = None
    if args.store:
        from cspolicy.store import DecisionStore

        try:
            store = DecisionStore(args.store)
        except CSPolicyError as exc:
            print_error(exc)
            return 1
    status = 0
    outputs = []
    for path in args.cases:
        try:
            snapshot = versions.read(path)  # under the case schema of the version in force
            if args.as_of:
                snapshot = snapshot.model_copy(update={"as_of": dt.date.fromisoformat(args.as_of)})
            decision = versions.evaluate(snapshot)
            if store is not None:
                store.save(decision, snapshot)
        except CSPolicyError as exc:
            print_error(exc)
            status = 1
            continue
        if args.format == "json":
            outputs.append(json.loads(decision.to_json()))
        elif args.lang != "en":
            try:
                console.print(escape(decision.to_text(args.lang)))
            except CSPolicyError as exc:  # a missing translation: located, never a traceback
                print_error(exc)
                status = 1
        else:
            print_decision(decision)
    if args.format == "json":
        payload = outputs[0] if len(args.cases) == 1 and outputs else outputs
        write_json(json.dumps(payload, indent=2, ensure_ascii=False))
    return status
