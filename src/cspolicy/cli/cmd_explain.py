"""`cspolicy explain CASE --policy PATH --rule ID`: why a rule did or did not fire."""

from __future__ import annotations

import argparse

from cspolicy.cli.output import console, print_error
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.engine.versions import PolicyVersions


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("explain", help="explain why a rule did or did not apply to a case")
    parser.add_argument("case", metavar="CASE", help="snapshot file (YAML or JSON)")
    parser.add_argument("--policy", required=True, help="policy directory or file")
    parser.add_argument("--rule", required=True, help="rule id")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        snapshot = CaseSnapshot.from_file(args.case)
        decision = PolicyVersions(args.policy).evaluate(snapshot)
        answer = decision.why_not(args.rule)
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    except KeyError as exc:
        console.print(f"[red]{exc.args[0]}[/red]")
        return 1
    console.print(answer.text)
    for trace in answer.failed:
        console.print(f"  ✘ {trace.text}")
    return 0
