"""Mermaid diagrams of the rule graph for the docs: a rule's neighbourhood and a set's escalation ladder.

Labels come from policy YAML, so they are written with Mermaid's entity codes (#quot; …) and
can neither end a label nor inject markup into the rendered SVG.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import networkx as nx

_LABEL_ENTITIES = {
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "#": "#35;",
    "`": "#96;",
    "|": "#124;",
    "[": "#91;",
    "]": "#93;",
    "{": "#123;",
    "}": "#125;",
    "\\": "#92;",
}
# Node shapes by graph node kind: (open, close).
_SHAPES = {
    "rule": ('["', '"]'),
    "hold": ('{{"', '"}}'),
    "parameter": ('[/"', '"/]'),
    "derived": ('(["', '"])'),
    "field": ('("', '")'),
    "action": ('[["', '"]]'),
}
_EDGE_WORDS = {"reads": "reads", "requires": "requires", "holds": "holds", "produces": "recommends"}
MAX_NEIGHBOURS = 40


def label(value: str, limit: int = 60) -> str:
    """`value` as a Mermaid label: one line, shortened, every meaningful character as an entity."""
    flat = re.sub(r"\s+", " ", value).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return "".join(_LABEL_ENTITIES.get(char, char) for char in flat)


class _Writer:
    """Accumulates Mermaid lines with short, safe node ids (n0, n1, …) for graph keys."""

    def __init__(self, graph: nx.DiGraph, direction: str) -> None:
        self.graph = graph
        self.lines = [f"flowchart {direction}"]
        self.ids: dict[str, str] = {}

    def node(self, key: str) -> str:
        if key in self.ids:
            return self.ids[key]
        ident = f"n{len(self.ids)}"
        self.ids[key] = ident
        data = self.graph.nodes[key]
        kind = data.get("kind", "field")
        if kind == "rule" and data.get("rule_kind") == "hold":
            kind = "hold"
        opening, closing = _SHAPES.get(kind, _SHAPES["field"])
        self.lines.append(f"    {ident}{opening}{label(node_text(data))}{closing}")
        self.lines.append(f"    class {ident} {kind}")
        return ident

    def edge(self, source: str, target: str, kind: str, dotted: bool = False) -> None:
        arrow = "-.->" if dotted else "-->"
        words = _EDGE_WORDS.get(kind, kind)
        self.lines.append(f"    {self.node(source)} {arrow}|{words}| {self.node(target)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def node_text(data: dict[str, object]) -> str:
    """What a graph node is called in a diagram: a rule's title, a parameter's label, a field path."""
    for key in ("title", "label", "name"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return "?"


def neighbourhood(graph: nx.DiGraph, rule_id: str) -> str:
    """A flowchart of one rule: what it reads, requires and recommends, what holds it, what it holds,
    and the rules that require it."""
    centre = f"rule:{rule_id}"
    writer = _Writer(graph, "LR")
    writer.node(centre)
    writer.lines.append(f"    style {writer.ids[centre]} stroke-width:3px")
    outgoing = sorted(graph.out_edges(centre, data="kind"), key=_edge_order)
    incoming = sorted(graph.in_edges(centre, data="kind"), key=_edge_order)
    count = 0
    for source, target, kind in outgoing:
        if kind == "cites" or count >= MAX_NEIGHBOURS:
            continue
        writer.edge(source, target, kind, dotted=kind == "reads")
        count += 1
    for source, target, kind in incoming:
        if kind not in ("requires", "holds") or count >= MAX_NEIGHBOURS:
            continue
        writer.edge(source, target, kind)
        count += 1
    return writer.text()


def ladder(graph: nx.DiGraph, rule_ids: Iterable[str]) -> str:
    """The escalation ladder of a policy set: every `requires` and `holds` link among its rules."""
    writer = _Writer(graph, "TD")
    wanted = {f"rule:{rule_id}" for rule_id in rule_ids}
    edges = sorted(
        (s, t, k)
        for s, t, k in graph.edges(data="kind")
        if k in ("requires", "holds") and s in wanted and t in wanted
    )
    for source, target, kind in edges:
        if kind == "requires":
            # Drawn in the order things happen: the requirement first, then what it unlocks.
            writer.edge(target, source, "then")
        else:
            writer.edge(source, target, kind, dotted=True)
    if not edges:
        for key in sorted(wanted):
            writer.node(key)
    return writer.text()


def _edge_order(edge: tuple[str, str, str]) -> tuple[str, str, str]:
    source, target, kind = edge
    return (kind, source, target)
