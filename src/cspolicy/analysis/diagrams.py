"""Diagrams of the rule graph as Mermaid `flowchart` and Graphviz DOT text, for the docs and the CLI.

Three views: the whole policy set, one rule's neighbourhood, and the escalation ladder (the
`requires` chain, in steps). Arrows follow the flow of a decision rather than the graph's edge
direction: facts and parameters point into what reads them, a requirement points to the rule
it comes before, a hold points to what it holds, a rule points to the action it produces and to
the sources it cites. Output is stable: same policy, same text.

`describe_neighbourhood` and `describe_ladder` give the same graphs in sentences, one per box
or arrow, with the diagrams' labels: the text alternative the docs show with each diagram.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

from cspolicy.engine.graph import KIND_ORDER, ladder, neighbourhood

if TYPE_CHECKING:
    from cspolicy.engine.policy import PolicySet

# Mermaid node shapes by kind (and for holds), as (opening, closing) around the quoted label.
_SHAPES = {
    "field": ("[(", ")]"),
    "parameter": ("[/", "/]"),
    "derived": ("(", ")"),
    "rule": ("[", "]"),
    "hold": ("{{", "}}"),
    "action": (">", "]"),
    "source": ("[[", "]]"),
}
_DOT_SHAPES = {
    "field": "cylinder",
    "parameter": "parallelogram",
    "derived": "ellipse",
    "rule": "box",
    "hold": "hexagon",
    "action": "cds",
    "source": "note",
}
_STYLES = {
    "field": "fill:#eef6ff,stroke:#4a7ab5",
    "parameter": "fill:#fff6e0,stroke:#b58a2a",
    "derived": "fill:#f0f0f0,stroke:#777777",
    "rule": "fill:#e9f7ef,stroke:#2e8b57",
    "hold": "fill:#fdecea,stroke:#c0392b",
    "action": "fill:#f3e8fd,stroke:#7d3c98",
    "source": "fill:#ffffff,stroke:#999",
}
# Mermaid arrow and word for each edge kind; arrows drawn in decision-flow order (see above).
_ARROWS = {"reads": "-->", "requires": "==>", "holds": "-.->", "produces": "-->", "cites": "-.->"}
_WORDS = {"reads": "", "requires": "then", "holds": "holds", "produces": "", "cites": "cites"}


@dataclass(frozen=True)
class _Edge:
    start: str
    end: str
    kind: str


def mermaid_graph(policy: PolicySet, sources: bool = False) -> str:
    """The whole policy set as a Mermaid flowchart (`sources`: include the cited sources)."""
    return _mermaid(_view(policy.graph, sources))


def mermaid_neighbourhood(policy: PolicySet, rule_id: str) -> str:
    """One rule, what it reads (through derived values), cites and produces, and the rules
    linked to it by holds and requirements, as a Mermaid flowchart."""
    graph = neighbourhood(policy.graph, rule_id)
    centre = _mermaid_ids(_ordered_nodes(graph))[graph.graph["centre"]]
    return _mermaid(graph) + f"  style {centre} stroke-width:3px\n"


def mermaid_ladder(policy: PolicySet) -> str:
    """The escalation ladder (the `requires` chain) as a Mermaid flowchart, one box per step."""
    graph = policy.graph
    steps = ladder(graph)
    lines = ["flowchart TD"]
    if not steps:
        lines.append('  none["No escalation ladder: no rule requires another"]')
        return "\n".join(lines) + "\n"
    ids = _mermaid_ids([f"rule:{name}" for step in steps for name in step])
    for number, step in enumerate(steps, start=1):
        lines.append(f'  subgraph step{number}["{_mermaid_text(f"Step {number}")}"]')
        for name in step:
            key = f"rule:{name}"
            lines.append("    " + _mermaid_node(ids[key], _ladder_label(graph, key), "rule"))
        lines.append("  end")
    for step in steps[1:]:
        for name in step:
            key = f"rule:{name}"
            for _, target, data in graph.out_edges(key, data=True):
                if data["kind"] == "requires":
                    lines.append(f"  {ids[target]} ==>|then| {ids[key]}")
    lines.append(f"  classDef rule {_STYLES['rule']}")
    return "\n".join(lines) + "\n"


def dot_graph(policy: PolicySet, sources: bool = False) -> str:
    """The whole policy set as a Graphviz digraph."""
    return _dot(_view(policy.graph, sources), policy.id)


def dot_neighbourhood(policy: PolicySet, rule_id: str) -> str:
    """One rule's neighbourhood (see `mermaid_neighbourhood`) as a Graphviz digraph."""
    return _dot(neighbourhood(policy.graph, rule_id), f"{policy.id}: {rule_id}")


def dot_ladder(policy: PolicySet) -> str:
    """The escalation ladder as a Graphviz digraph, one cluster per step, top to bottom."""
    graph = policy.graph
    lines = [
        f"digraph {_dot_text(policy.id + ' ladder')} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica"];',
    ]
    steps = ladder(graph)
    for number, step in enumerate(steps, start=1):
        lines.append(f"  subgraph cluster_step{number} {{")
        lines.append(f"    label={_dot_text(f'Step {number}')};")
        for name in step:
            key = f"rule:{name}"
            lines.append(f"    {_dot_text(key)} [label={_dot_text(_ladder_label(graph, key))}, shape=box];")
        lines.append("  }")
    for step in steps[1:]:
        for name in step:
            key = f"rule:{name}"
            for _, target, data in graph.out_edges(key, data=True):
                if data["kind"] == "requires":
                    lines.append(f'  {_dot_text(target)} -> {_dot_text(key)} [label="then", style=bold];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def describe_neighbourhood(policy: PolicySet, rule_id: str) -> list[str]:
    """`mermaid_neighbourhood`'s diagram in words: one sentence per arrow, in the order drawn,
    and one for any box no arrow touches (plain text, not escaped)."""
    graph = neighbourhood(policy.graph, rule_id)
    return _sentences(graph)


def describe_ladder(policy: PolicySet) -> list[str]:
    """`mermaid_ladder`'s diagram in words: one sentence per step (its rules and their actions),
    then one per arrow between steps (plain text, not escaped)."""
    graph = policy.graph
    steps = ladder(graph)
    if not steps:
        return ["No escalation ladder: no rule requires another."]
    sentences = []
    for number, step in enumerate(steps, start=1):
        rules = "; ".join(_ladder_words(graph, f"rule:{name}") for name in step)
        sentences.append(f"Step {number}: {rules}.")
    for step in steps[1:]:
        for name in step:
            key = f"rule:{name}"
            for _, target, data in graph.out_edges(key, data=True):
                if data["kind"] == "requires":
                    sentences.append(f"{_label(graph, target)}, then {_label(graph, key)}.")
    return sentences


# -- shared ------------------------------------------------------------------------------------


def _view(graph: nx.DiGraph, sources: bool) -> nx.DiGraph:
    if sources:
        return graph
    return graph.subgraph(n for n, data in graph.nodes(data=True) if data["kind"] != "source")


def _ordered_nodes(graph: nx.DiGraph) -> list[str]:
    position = {key: index for index, key in enumerate(graph)}
    return sorted(graph, key=lambda n: (KIND_ORDER.index(graph.nodes[n]["kind"]), position[n]))


def _flow_edges(graph: nx.DiGraph) -> list[_Edge]:
    """Every edge in decision-flow direction, in node order."""
    order = {key: index for index, key in enumerate(_ordered_nodes(graph))}
    edges = []
    for source, target, data in graph.edges(data=True):
        kind = data["kind"]
        if kind in ("reads", "requires"):
            edges.append(_Edge(target, source, kind))
        else:
            edges.append(_Edge(source, target, kind))
    return sorted(edges, key=lambda e: (order[e.end], order[e.start], e.kind))


def _style(graph: nx.DiGraph, key: str) -> str:
    data = graph.nodes[key]
    if data["kind"] == "rule" and data.get("rule_kind") == "hold":
        return "hold"
    return str(data["kind"])


def _label(graph: nx.DiGraph, key: str) -> str:
    data = graph.nodes[key]
    kind = data["kind"]
    if kind == "rule":
        return f"{data['title']} ({data['name']})"
    if kind == "parameter":
        return f"params.{data['name']}"
    return str(data["name"])


def _ladder_label(graph: nx.DiGraph, key: str) -> str:
    data = graph.nodes[key]
    actions = [t for _, t, d in graph.out_edges(key, data=True) if d["kind"] == "produces"]
    action = graph.nodes[actions[0]]["name"] if actions else "hold"
    return f"{data['title']} ({data['name']}) → {action}"


# What each kind of box is called in a sentence, and each arrow as words (start, end).
_NOUNS = {
    "field": "the case fact",
    "parameter": "the parameter",
    "derived": "the derived value",
    "rule": "the rule",
    "hold": "the hold",
    "action": "the action",
    "source": "the source",
}
_SENTENCES = {
    "reads": "{end} reads {start}.",
    "requires": "{end} requires {start} first.",
    "holds": "{start} holds {end}.",
    "produces": "{start} recommends {end}.",
    "cites": "{start} cites {end}.",
}


def _named(graph: nx.DiGraph, key: str) -> str:
    return f"{_NOUNS[_style(graph, key)]} {_label(graph, key)}"


def _sentences(graph: nx.DiGraph) -> list[str]:
    edges = _flow_edges(graph)
    sentences = [
        _SENTENCES[edge.kind].format(start=_named(graph, edge.start), end=_named(graph, edge.end))
        for edge in edges
    ]
    linked = {edge.start for edge in edges} | {edge.end for edge in edges}
    for key in _ordered_nodes(graph):
        if key not in linked:
            sentences.append(f"{_named(graph, key)} is not linked to anything else.")
    return [sentence[0].upper() + sentence[1:] for sentence in sentences]


def _ladder_words(graph: nx.DiGraph, key: str) -> str:
    actions = [t for _, t, d in graph.out_edges(key, data=True) if d["kind"] == "produces"]
    does = f"recommends {graph.nodes[actions[0]]['name']}" if actions else "a hold"
    return f"{_label(graph, key)}, which {does}"


# -- Mermaid -----------------------------------------------------------------------------------


def _mermaid(graph: nx.DiGraph) -> str:
    nodes = _ordered_nodes(graph)
    ids = _mermaid_ids(nodes)
    lines = ["flowchart LR"]
    for key in nodes:
        lines.append("  " + _mermaid_node(ids[key], _label(graph, key), _style(graph, key)))
    for edge in _flow_edges(graph):
        word = _WORDS[edge.kind]
        label = f"|{word}|" if word else ""
        lines.append(f"  {ids[edge.start]} {_ARROWS[edge.kind]}{label} {ids[edge.end]}")
    used: dict[str, list[str]] = {}
    for key in nodes:
        used.setdefault(_style(graph, key), []).append(ids[key])
    for style in _STYLES:
        if style in used:
            lines.append(f"  classDef {style} {_STYLES[style]}")
            lines.append(f"  class {','.join(used[style])} {style}")
    return "\n".join(lines) + "\n"


def _mermaid_ids(keys: list[str]) -> dict[str, str]:
    """Mermaid node ids (letters, digits, `_`) for graph keys, unique and stable."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for key in keys:
        base = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")
        candidate, counter = base, 2
        while candidate in taken:
            candidate, counter = f"{base}_{counter}", counter + 1
        taken.add(candidate)
        ids[key] = candidate
    return ids


def _mermaid_node(node: str, label: str, style: str) -> str:
    opening, closing = _SHAPES[style]
    return f'{node}{opening}"{_mermaid_text(label)}"{closing}'


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: entity codes for the characters Mermaid or
    HTML would read as syntax (`#` first, since the codes themselves start with it)."""
    text = " ".join(text.split())
    for char, code in (
        ("#", "#35;"),
        ("&", "#amp;"),
        ('"', "#quot;"),
        ("<", "#lt;"),
        (">", "#gt;"),
        ("`", "#96;"),
    ):
        text = text.replace(char, code)
    return text


# -- DOT ---------------------------------------------------------------------------------------


def _dot(graph: nx.DiGraph, title: str) -> str:
    lines = [f"digraph {_dot_text(title)} {{", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for key in _ordered_nodes(graph):
        style = _style(graph, key)
        lines.append(
            f"  {_dot_text(key)} [label={_dot_text(_label(graph, key))}, shape={_DOT_SHAPES[style]}];"
        )
    for edge in _flow_edges(graph):
        word = _WORDS[edge.kind]
        attributes = [f"label={_dot_text(word)}"] if word else []
        if edge.kind in ("holds", "cites"):
            attributes.append("style=dashed")
        elif edge.kind == "requires":
            attributes.append("style=bold")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"  {_dot_text(edge.start)} -> {_dot_text(edge.end)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    """A double-quoted DOT string."""
    text = " ".join(text.split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
