"""`cspolicy graph PATH`: the rule graph — a summary, impact queries, and Mermaid/DOT diagrams."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from rich.markup import escape

from cspolicy.analysis import diagrams
from cspolicy.cli.cmd_check import iso_date
from cspolicy.cli.output import console, errors, print_error
from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.graph import (
    KIND_ORDER,
    QueryResult,
    Reached,
    UnknownNode,
    ladder,
    neighbourhood,
    spelling,
)
from cspolicy.engine.policy import PolicySet, load_policy

FORMATS = ("text", "json", "mermaid", "dot")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "graph",
        help="the rule graph: summary, --depends-on / --inputs-of queries, Mermaid or DOT diagrams",
        description=(
            "Without a query: a summary (text/json) or a diagram of the whole set (mermaid/dot). "
            "--depends-on NAME lists everything downstream of a parameter, field, derived value or rule; "
            "--inputs-of RULE lists every field and parameter the rule reads; --rule ID draws one rule's "
            "neighbourhood; --ladder draws the escalation ladder (the requires chain) in order."
        ),
    )
    parser.add_argument("path", metavar="PATH", help="policy directory or file")
    parser.add_argument("--as-of", type=iso_date, help="use the version in force on this date (YYYY-MM-DD)")
    parser.add_argument("--format", choices=FORMATS, default="text")
    query = parser.add_mutually_exclusive_group()
    query.add_argument("--depends-on", metavar="NAME", help="e.g. params.passport_denial_threshold")
    query.add_argument("--inputs-of", metavar="RULE", help="a rule id")
    query.add_argument("--rule", metavar="ID", help="draw one rule's neighbourhood")
    query.add_argument("--ladder", action="store_true", help="draw the escalation ladder")
    parser.add_argument("--sources", action="store_true", help="include cited sources in a whole-set diagram")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    query = args.depends_on or args.inputs_of
    if query and args.format in ("mermaid", "dot"):
        errors.print("[red]--depends-on and --inputs-of print text or json; use --rule to draw a rule[/red]")
        return 2
    try:
        policy = load_policy(args.path, args.as_of)
        if args.depends_on:
            return _query(policy.depends_on(args.depends_on), policy, args.format)
        if args.inputs_of:
            return _query(policy.inputs_of(args.inputs_of), policy, args.format)
        sys.stdout.write(_drawing(policy, args))
    except UnknownNode as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]")
        return 1
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    return 0


def _drawing(policy: PolicySet, args: argparse.Namespace) -> str:
    if args.format == "mermaid":
        if args.rule:
            return diagrams.mermaid_neighbourhood(policy, args.rule)
        return (
            diagrams.mermaid_ladder(policy) if args.ladder else diagrams.mermaid_graph(policy, args.sources)
        )
    if args.format == "dot":
        if args.rule:
            return diagrams.dot_neighbourhood(policy, args.rule)
        return diagrams.dot_ladder(policy) if args.ladder else diagrams.dot_graph(policy, args.sources)
    if args.ladder:
        steps = ladder(policy.graph)
        if args.format == "json":
            return json.dumps({"policy": _ref(policy), "ladder": steps}, indent=2) + "\n"
        if not steps:
            return "No escalation ladder: no rule requires another.\n"
        return "".join(f"Step {n}: {', '.join(step)}\n" for n, step in enumerate(steps, start=1))
    graph = neighbourhood(policy.graph, args.rule) if args.rule else policy.graph
    if args.format == "json":
        return (
            json.dumps(_graph_json(policy, graph, whole=not args.rule), indent=2, ensure_ascii=False) + "\n"
        )
    return _summary(policy, graph, whole=not args.rule)


def _ref(policy: PolicySet) -> dict[str, str]:
    return {"id": policy.id, "version": policy.version, "digest": policy.digest}


def _graph_json(policy: PolicySet, graph: Any, whole: bool) -> dict[str, Any]:
    nodes = [
        {"id": key, **{k: v for k, v in data.items() if v is not None}}
        for key, data in graph.nodes(data=True)
    ]
    edges = [{"source": s, "target": t, "kind": d["kind"]} for s, t, d in graph.edges(data=True)]
    result: dict[str, Any] = {"policy": _ref(policy), "nodes": nodes, "edges": edges}
    if whole:
        result["order"] = policy.order
    return result


def _summary(policy: PolicySet, graph: Any, whole: bool) -> str:
    nodes = Counter(data["kind"] for _, data in graph.nodes(data=True))
    edges = Counter(data["kind"] for _, _, data in graph.edges(data=True))
    lines = [
        f"{policy.id} {policy.version}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges"
    ]
    lines.append("  nodes: " + ", ".join(f"{nodes[k]} {k}" for k in KIND_ORDER if nodes[k]))
    lines.append("  edges: " + ", ".join(f"{edges[k]} {k}" for k in sorted(edges)))
    if whole:
        lines.append("  evaluation order: " + ", ".join(policy.order))
    else:
        for source, target, data in sorted(graph.edges(data=True)):
            lines.append(f"  {source} --{data['kind']}--> {target}")
    return "\n".join(lines) + "\n"


_HEADINGS = {
    "depends-on": "what depends on",
    "inputs-of": "what is read by",
}


def _query(result: QueryResult, policy: PolicySet, format: str) -> int:
    if format == "json":
        sys.stdout.write(json.dumps({"policy": _ref(policy), **result.to_dict()}, indent=2) + "\n")
        return 0
    console.print(
        f"{escape(policy.id)} {escape(policy.version)}: {_HEADINGS[result.query]} {escape(spelling(policy.graph, result.of))}"
    )
    if not result.reached:
        console.print("  nothing")
    for kind in KIND_ORDER:
        reached = [r for r in result.reached if r.kind == kind]
        if not reached:
            continue
        console.print(f"  {kind}{'s' if kind != 'derived' else ' values'}:")
        for step in reached:
            console.print(f"    {escape(step.name)}  [dim]({escape(_because(result, step, policy))})[/dim]")
    return 0


def _because(result: QueryResult, step: Reached, policy: PolicySet) -> str:
    """How a query reached a node, in words: 'reads params.x', 'held by scra-hold'."""
    via = spelling(policy.graph, step.via)
    if result.query == "inputs-of":
        return f"read by {via}"
    return {
        "reads": f"reads {via}",
        "cites": f"cites {via}",
        "requires": f"requires {via}",
        "holds": f"held by {via}",
        "produces": f"produced by {via}",
    }[step.how]
