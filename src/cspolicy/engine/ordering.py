"""Rule and derived-value ordering, worked out before compiling: dependency order and cycles.

The compiler reads this (derived values in dependency order; cycles among `requires` and
`holds` as located errors); the rule graph (`cspolicy.engine.graph`) reads the settling order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import networkx as nx

from cspolicy.expressions import ExpressionSyntaxError, parse_expression
from cspolicy.expressions.nodes import Name

if TYPE_CHECKING:
    from cspolicy.engine.compiler import CompiledRule


def derived_order(texts: dict[str, str]) -> tuple[list[str], list[str]]:
    """Derived names in dependency order, and a cycle (as a path) if there is one."""
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(texts)
    for name, text in texts.items():
        try:
            node = parse_expression(text)
        except ExpressionSyntaxError:
            continue  # reported when the expression is compiled
        for used in node.walk():
            if isinstance(used, Name) and used.path in texts and used.path != name:
                graph.add_edge(used.path, name)
            elif isinstance(used, Name) and used.path == name:
                return [], [name, name]
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return list(nx.lexicographical_topological_sort(graph, key=list(texts).index)), []
    # Edges run from a value to its users; the path reads "depends on" the other way round.
    path = [edge[0] for edge in cycle] + [cycle[0][0]]
    path.reverse()
    start = path.index(min(path[:-1], key=list(texts).index))
    return [], [*path[start:-1], *path[:start], path[start]]


def rule_cycles(rules: dict[str, CompiledRule]) -> list[list[str]]:
    """Cycles among `requires` and `holds` links (each as a closed path of rule ids), at most ten.

    A path reads "requires or holds" (`a → b`: a requires or holds b). A cycle that mixes the
    two directions (a hold that requires a rule another hold holds ...) has no such reading; it
    is found in the settling order instead (`a → b`: a is settled before b), so that every
    policy that compiles has an evaluation order.
    """
    links: nx.DiGraph = nx.DiGraph()
    for rule in rules.values():
        links.add_node(rule.id)
        for target in [*rule.rule.requires, *rule.rule.holds]:
            if target in rules:
                links.add_edge(rule.id, target)
    cycles = _closed_paths(links)
    if not cycles:
        settling: nx.DiGraph = nx.DiGraph()
        settling.add_nodes_from(rules)
        settling.add_edges_from(
            settling_edges((r.id, t, "holds") for r in rules.values() for t in r.rule.holds)
        )
        settling.add_edges_from(
            settling_edges((r.id, t, "requires") for r in rules.values() for t in r.rule.requires)
        )
        settling.remove_nodes_from([n for n in list(settling) if n not in rules])
        cycles = _closed_paths(settling)
    return cycles


def _closed_paths(graph: nx.DiGraph) -> list[list[str]]:
    """Up to ten simple cycles, each rotated to start at its smallest id and closed."""
    cycles: list[list[str]] = []
    for cycle in nx.simple_cycles(graph):
        if len(cycles) >= 10:
            break
        start = cycle.index(min(cycle))
        rotated = cycle[start:] + cycle[:start]
        cycles.append([*rotated, rotated[0]])
    return sorted(cycles)


def settling_edges(links: Iterable[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """Order constraints from (rule, target, kind) links: a hold is settled before what it
    holds, a requirement before the rule that requires it."""
    return [(source, target) if kind == "holds" else (target, source) for source, target, kind in links]
