"""`cspolicy evaluate CASE... --policy PATH`: explained decisions as text or JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from cspolicy.cli.output import print_decision, print_error, write_json
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.engine.versions import PolicyVersions


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("evaluate", help="evaluate case snapshots and explain the decisions")
    parser.add_argument("cases", nargs="+", metavar="CASE", help="snapshot files (YAML or JSON)")
    parser.add_argument("--policy", required=True, help="policy directory or file")
    parser.add_argument("--as-of", help="evaluate as of this date instead of each snapshot's own")
    parser.add_argument("--format", choices=["text", "json"], default="text")
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
            snapshot = CaseSnapshot.from_file(path)
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
        else:
            print_decision(decision)
    if args.format == "json":
        payload = outputs[0] if len(args.cases) == 1 and outputs else outputs
        write_json(json.dumps(payload, indent=2, ensure_ascii=False))
    return status
