"""`cspolicy explain CASE --policy PATH --rule ID`: why a rule did or did not fire."""

from __future__ import annotations

import argparse

from cspolicy.cli.output import console, print_error
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.versions import PolicyVersions


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("explain", help="explain why a rule did or did not apply to a case")
    parser.add_argument("case", metavar="CASE", help="snapshot file (YAML or JSON)")
    parser.add_argument("--policy", required=True, help="policy directory or file")
    parser.add_argument("--rule", required=True, help="rule id")
    parser.add_argument("--lang", choices=["en", "es"], default="en", help="language of the explanation")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        decision = PolicyVersions(args.policy).evaluate(args.case)
        answer = decision.why_not(args.rule, lang=args.lang)
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
