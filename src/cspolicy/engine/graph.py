"""The rule graph (networkx): typed nodes and edges, evaluation order and graph queries.

Nodes are keyed `kind:name` — field, parameter, derived, rule, action, source.
Edges point from the thing that acts to what it acts on, typed by `kind`:
  rule/derived --reads--> field/parameter/derived
  rule --requires--> rule        hold --holds--> rule
  rule/parameter --cites--> source   rule --produces--> action
A rule or derived value that calls `taken(...)`/`days_since_taken(...)`, and a rule with
`requires`, reads the field `enforcement` (the history those look up).

Queries (`depends_on`, `inputs_of`), one rule's `neighbourhood` and the escalation `ladder`
are what `cspolicy graph`, the analyser and the docs diagrams read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx

from cspolicy.diagnostics import CSPolicyError, suggest
from cspolicy.engine.ordering import settling_edges
from cspolicy.expressions.nodes import Call, Name, Node

if TYPE_CHECKING:
    from cspolicy.engine.compiler import CompiledPolicy


HISTORY_FUNCTIONS = ("taken", "days_since_taken")


def node_id(kind: str, name: str) -> str:
    """The graph key of a node: `rule:passport-denial`, `parameter:passport_denial_threshold`."""
    return f"{kind}:{name}"


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
        if _reads_history(derived.expression.node):
            graph.add_edge(node_id("derived", name), _history(graph), kind="reads")
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
        if rule.due_extended_when is not None:
            expressions.append(rule.due_extended_when)
        for expression in expressions:
            for read in expression.names:
                graph.add_edge(rule_node, _read_target(graph, read), kind="reads")
            if _reads_history(expression.node):
                graph.add_edge(rule_node, _history(graph), kind="reads")
        if rule.rule.requires:
            # A requirement is met by the enforcement history: the rule reads it.
            graph.add_edge(rule_node, _history(graph), kind="reads")
        for target in rule.rule.requires:
            graph.add_edge(rule_node, node_id("rule", target), kind="requires")
        for target in rule.rule.holds:
            graph.add_edge(rule_node, node_id("rule", target), kind="holds")
        due_cites = rule.rule.due.cite if rule.rule.due is not None else []
        for citation in [*rule.rule.cite, *due_cites]:
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


def _reads_history(node: Node) -> bool:
    """Whether an expression reads the enforcement history (`taken(...)`, `days_since_taken(...)`)."""
    return any(isinstance(n, Call) and n.function in HISTORY_FUNCTIONS for n in node.walk())


def _history(graph: nx.DiGraph) -> str:
    key = node_id("field", "enforcement")
    if key not in graph:
        graph.add_node(key, kind="field", name="enforcement")
    return key


def evaluation_order(graph: nx.DiGraph) -> list[str]:
    """Rule ids in the order their outcomes can be settled: holds before what they hold,
    requirements before what requires them; ties keep the order of the policy files."""
    order_graph: nx.DiGraph = nx.DiGraph()
    rules = [n for n, data in graph.nodes(data=True) if data["kind"] == "rule"]
    order_graph.add_nodes_from(rules)
    order_graph.add_edges_from(
        settling_edges(
            (s, t, d["kind"]) for s, t, d in graph.edges(data=True) if d["kind"] in ("holds", "requires")
        )
    )
    position = {name: index for index, name in enumerate(rules)}
    ordered = nx.lexicographical_topological_sort(order_graph, key=position.__getitem__)
    return [name.removeprefix("rule:") for name in ordered]


# -- queries --------------------------------------------------------------------------------

KIND_ORDER = ("field", "parameter", "derived", "rule", "action", "source")
# How a change travels downstream: to whatever reads, cites or requires the changed node (its
# predecessors over these edges), and to what it holds or produces (its successors over these).
_CHANGE_REACHES_PREDECESSOR = ("reads", "cites", "requires")
_CHANGE_REACHES_SUCCESSOR = ("holds", "produces")


class UnknownNode(CSPolicyError):
    """A graph query named something the policy does not have."""


def resolve(graph: nx.DiGraph, name: str, prefer: str = "") -> str:
    """The node key for a name as a person writes it.

    Accepts a key (`parameter:x`, `rule:r`), `params.x`, or a bare rule id, derived name, field
    path, action code or source id (`prefer` is tried first). Raises UnknownNode with a
    suggestion when nothing matches.
    """
    if name in graph:
        return name
    if name.startswith("params."):
        candidates = [node_id("parameter", name.removeprefix("params."))]
    else:
        kinds = [
            prefer,
            *(k for k in ("rule", "derived", "field", "parameter", "action", "source") if k != prefer),
        ]
        candidates = [node_id(kind, name) for kind in kinds if kind]
    for candidate in candidates:
        if candidate in graph:
            return candidate
    spelled = [spelling(graph, key) for key in graph]
    raise UnknownNode(
        f"{name!r} is not a rule, parameter, derived value, field, action or source of this policy"
        + suggest(name, spelled)
    )


def spelling(graph: nx.DiGraph, key: str) -> str:
    """How a person writes a node's name: `params.x` for a parameter, else its bare name."""
    data = graph.nodes[key]
    return f"params.{data['name']}" if data["kind"] == "parameter" else str(data["name"])


@dataclass(frozen=True)
class Reached:
    """A node a query reached, and the step that reached it (`how` from the node `via`)."""

    node: str
    kind: str
    name: str
    how: str
    via: str

    def to_dict(self) -> dict[str, str]:
        return {"node": self.node, "kind": self.kind, "name": self.name, "how": self.how, "via": self.via}


@dataclass(frozen=True)
class QueryResult:
    """What a query found for `of`: the nodes reached, grouped by kind in `names`."""

    query: str
    of: str
    reached: list[Reached]

    def names(self, kind: str) -> list[str]:
        """The names reached of one kind (`rule`, `derived`, `field`, ...), in policy order."""
        return [r.name for r in self.reached if r.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON-ready form: the grouped names, then every step."""
        groups = {f"{kind}s" if kind != "derived" else kind: self.names(kind) for kind in KIND_ORDER}
        return {
            "query": self.query,
            "of": self.of,
            **{key: value for key, value in groups.items() if value},
            "steps": [r.to_dict() for r in self.reached],
        }


def depends_on(graph: nx.DiGraph, name: str) -> QueryResult:
    """Everything downstream of `name`: derived values and rules that read it (transitively),
    rules held by an affected hold or requiring an affected rule, and the actions they produce."""
    start = resolve(graph, name, prefer="parameter" if not name.startswith("params.") else "")

    def step(node: str) -> list[tuple[str, str]]:
        found = [
            (source, data["kind"])
            for source, _, data in graph.in_edges(node, data=True)
            if data["kind"] in _CHANGE_REACHES_PREDECESSOR
        ]
        found += [
            (target, data["kind"])
            for _, target, data in graph.out_edges(node, data=True)
            if data["kind"] in _CHANGE_REACHES_SUCCESSOR
        ]
        return found

    return QueryResult("depends-on", start, _walk(graph, start, step))


def inputs_of(graph: nx.DiGraph, name: str) -> QueryResult:
    """Every field and parameter a rule (or derived value) reads, through derived values."""
    start = resolve(graph, name, prefer="rule")

    def step(node: str) -> list[tuple[str, str]]:
        return [
            (target, "reads")
            for _, target, data in graph.out_edges(node, data=True)
            if data["kind"] == "reads"
        ]

    return QueryResult("inputs-of", start, _walk(graph, start, step))


def _walk(graph: nx.DiGraph, start: str, step: Callable[[str], list[tuple[str, str]]]) -> list[Reached]:
    """Breadth-first from `start`; the result ordered by kind, then by position in the policy."""
    position = {key: index for index, key in enumerate(graph)}
    reached: dict[str, Reached] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for found, how in sorted(step(node), key=lambda pair: position[pair[0]]):
            if found == start or found in reached:
                continue
            data = graph.nodes[found]
            reached[found] = Reached(found, data["kind"], data["name"], how, node)
            queue.append(found)
    return sorted(reached.values(), key=lambda r: (KIND_ORDER.index(r.kind), position[r.node]))


def neighbourhood(graph: nx.DiGraph, rule_id: str) -> nx.DiGraph:
    """One rule with what it reads (through derived values), cites and produces, the holds that
    name it, the rules it holds, and the rules before and after it on the escalation ladder."""
    rule = resolve(graph, rule_id, prefer="rule")
    if graph.nodes[rule]["kind"] != "rule":
        raise UnknownNode(f"{rule_id!r} is not a rule of this policy")
    keep: list[tuple[str, str, str]] = []
    for _, target, data in graph.out_edges(rule, data=True):
        keep.append((rule, target, data["kind"]))
    for source, _, data in graph.in_edges(rule, data=True):
        if data["kind"] in ("holds", "requires"):
            keep.append((source, rule, data["kind"]))
    for reached in inputs_of(graph, rule).reached:
        if reached.via != rule:
            keep.append((reached.via, reached.node, "reads"))
    sub: nx.DiGraph = nx.DiGraph(**graph.graph, centre=rule)
    sub.add_node(rule, **graph.nodes[rule])
    for source, target, kind in keep:
        sub.add_node(source, **graph.nodes[source])
        sub.add_node(target, **graph.nodes[target])
        sub.add_edge(source, target, kind=kind)
    return sub


def ladder(graph: nx.DiGraph) -> list[list[str]]:
    """The escalation ladder: rules linked by `requires`, in steps (a rule's step is one after its
    latest requirement's); rules in a step keep policy order."""
    position = {key: index for index, key in enumerate(graph)}
    linked: nx.DiGraph = nx.DiGraph()
    for source, target, data in graph.edges(data=True):
        if data["kind"] == "requires":
            linked.add_edge(target, source)
    step: dict[str, int] = {}
    for node in nx.lexicographical_topological_sort(linked, key=position.__getitem__):
        step[node] = max((step[p] + 1 for p in linked.predecessors(node)), default=0)
    steps: list[list[str]] = [[] for _ in range(max(step.values(), default=-1) + 1)]
    for node in sorted(step, key=position.__getitem__):
        steps[step[node]].append(graph.nodes[node]["name"])
    return steps
