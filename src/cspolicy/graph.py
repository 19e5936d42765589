"""The rule graph (networkx): typed nodes and edges, evaluation order and cycle detection.

Nodes are keyed `kind:name` — field, parameter, derived, rule, action, source.
Edges point from the thing that acts to what it acts on, typed by `kind`:
  rule/derived --reads--> field/parameter/derived
  rule --requires--> rule        hold --holds--> rule
  rule/parameter --cites--> source   rule --produces--> action
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from cspolicy.expressions import ExpressionSyntaxError, parse_expression
from cspolicy.expressions.nodes import Name

if TYPE_CHECKING:
    from cspolicy.compiler import CompiledPolicy, CompiledRule


def node_id(kind: str, name: str) -> str:
    """The graph key of a node: `rule:passport-denial`, `parameter:passport_denial_threshold`."""
    return f"{kind}:{name}"


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
    path = [edge[0] for edge in cycle] + [cycle[0][0]]
    return [], path


def rule_cycles(rules: dict[str, CompiledRule]) -> list[list[str]]:
    """Cycles among `requires` and `holds` links (each as a closed path of rule ids)."""
    graph: nx.DiGraph = nx.DiGraph()
    for rule in rules.values():
        graph.add_node(rule.id)
        for target in [*rule.rule.requires, *rule.rule.holds]:
            if target in rules:
                graph.add_edge(rule.id, target)
    cycles: list[list[str]] = []
    for cycle in nx.simple_cycles(graph):
        if len(cycles) >= 10:
            break
        ordered = sorted(cycle)
        start = cycle.index(ordered[0])
        rotated = cycle[start:] + cycle[:start]
        cycles.append([*rotated, rotated[0]])
    return sorted(cycles)


def build_graph(policy: CompiledPolicy) -> nx.DiGraph:
    """The typed rule graph of a compiled policy."""
    graph: nx.DiGraph = nx.DiGraph(policy=policy.source.id, version=policy.source.version)
    for key, entity in policy.source.sources.items():
        graph.add_node(
            node_id("source", key),
            kind="source",
            name=key,
            title=entity.item.title,
            url=entity.item.url,
        )
    for name, parameter in policy.parameters.items():
        graph.add_node(node_id("parameter", name), kind="parameter", name=name, label=parameter.label)
        for citation in parameter.entity.item.cite:
            graph.add_edge(node_id("parameter", name), node_id("source", citation.source), kind="cites")
    for name, derived in policy.derived.items():
        graph.add_node(node_id("derived", name), kind="derived", name=name, label=derived.label)
        for read in derived.expression.names:
            graph.add_edge(node_id("derived", name), _read_target(graph, read), kind="reads")
    for rule in policy.rules.values():
        rule_node = node_id("rule", rule.id)
        graph.add_node(
            rule_node,
            kind="rule",
            name=rule.id,
            rule_kind=rule.rule.kind.value,
            title=rule.rule.title,
        )
        expressions = [*rule.when, *rule.unless, *rule.outputs.values()]
        if rule.due_after is not None:
            expressions.append(rule.due_after)
        for expression in expressions:
            for read in expression.names:
                graph.add_edge(rule_node, _read_target(graph, read), kind="reads")
        for target in rule.rule.requires:
            graph.add_edge(rule_node, node_id("rule", target), kind="requires")
        for target in rule.rule.holds:
            graph.add_edge(rule_node, node_id("rule", target), kind="holds")
        for citation in rule.rule.cite:
            graph.add_edge(rule_node, node_id("source", citation.source), kind="cites")
        if rule.rule.action:
            action = node_id("action", rule.rule.action)
            graph.add_node(action, kind="action", name=rule.rule.action)
            graph.add_edge(rule_node, action, kind="produces")
    return graph


def _read_target(graph: nx.DiGraph, name: Name) -> str:
    if name.kind == "param":
        return node_id("parameter", name.key)
    if name.kind == "derived":
        return node_id("derived", name.key)
    key = node_id("field", name.path)
    if key not in graph:
        graph.add_node(key, kind="field", name=name.path)
    return key


def evaluation_order(graph: nx.DiGraph) -> list[str]:
    """Rule ids in the order their outcomes can be settled: holds before what they hold,
    requirements before what requires them; ties keep the order of the policy files."""
    order_graph: nx.DiGraph = nx.DiGraph()
    rules = [n for n, data in graph.nodes(data=True) if data["kind"] == "rule"]
    order_graph.add_nodes_from(rules)
    for source, target, data in graph.edges(data=True):
        if data["kind"] == "holds":
            order_graph.add_edge(source, target)
        elif data["kind"] == "requires":
            order_graph.add_edge(target, source)
    position = {name: index for index, name in enumerate(rules)}
    ordered = nx.lexicographical_topological_sort(order_graph, key=position.__getitem__)
    return [name.removeprefix("rule:") for name in ordered]
