"""The rule graph: typed nodes and edges for every shipped set, evaluation order from the graph,
cycles as located errors, and the impact queries (API and `cspolicy graph`)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest

from cspolicy import PolicyError, load_policy
from cspolicy.cli import main
from cspolicy.engine.graph import UnknownNode, ladder, neighbourhood
from cspolicy.engine.ordering import derived_order
from cspolicy.engine.policy import PolicySet
from cspolicy.expressions.nodes import Call, Name

from helpers import FIXTURES, ROOT

GRAPH = FIXTURES / "graph"
SHIPPED = ROOT / "policies"


def shipped(name: str, as_of: str | None = None) -> PolicySet:
    path = SHIPPED / name
    if not path.exists():
        pytest.skip(f"shipped policy set {name} is not there yet")
    return load_policy(path, as_of)


def edges(policy: PolicySet, kind: str) -> set[tuple[str, str]]:
    return {(s, t) for s, t, d in policy.graph.edges(data=True) if d["kind"] == kind}


def expected_counts(policy: PolicySet) -> tuple[Counter[str], Counter[str]]:
    """Node and edge counts worked out from the compiled policy, independently of build_graph."""
    compiled = policy.compiled
    rules = compiled.rules.values()
    fields: set[str] = set()
    reads: set[tuple[str, str]] = set()
    expressions = [(f"derived:{n}", d.expression) for n, d in compiled.derived.items()]
    for rule in rules:
        parts = [*rule.when, *rule.unless, *rule.outputs.values()]
        parts += [rule.due_after] if rule.due_after is not None else []
        expressions += [(f"rule:{rule.id}", e) for e in parts]
        if rule.rule.requires:
            fields.add("enforcement")
            reads.add((f"rule:{rule.id}", "field:enforcement"))
    for reader, expression in expressions:
        for node in expression.node.walk():
            if isinstance(node, Name) and node.kind in ("field", "param", "derived"):
                kind = {"field": "field", "param": "parameter", "derived": "derived"}[node.kind]
                reads.add((reader, f"{kind}:{node.key}"))
                if kind == "field":
                    fields.add(node.path)
            if isinstance(node, Call) and node.function in ("taken", "days_since_taken"):
                fields.add("enforcement")
                reads.add((reader, "field:enforcement"))
    cites = {(f"rule:{r.id}", c.source) for r in rules for c in r.rule.cite}
    cites |= {(f"rule:{r.id}", c.source) for r in rules if r.rule.due for c in r.rule.due.cite}
    cites |= {
        (f"parameter:{n}", c.source) for n, p in compiled.parameters.items() for c in p.entity.item.cite
    }
    nodes = Counter(
        field=len(fields),
        parameter=len(compiled.parameters),
        derived=len(compiled.derived),
        rule=len(compiled.rules),
        action=len({r.rule.action for r in rules if r.rule.action}),
        source=len(compiled.source.sources),
    )
    links = Counter(
        reads=len(reads),
        requires=len({(r.id, t) for r in rules for t in r.rule.requires}),
        holds=len({(r.id, t) for r in rules for t in r.rule.holds}),
        cites=len(cites),
        produces=len([r for r in rules if r.rule.action]),
    )
    return +nodes, +links


SHIPPED_VERSIONS = [
    ("federal", None),
    ("wisconsin", "2024-06-01"),
    ("wisconsin", None),
    ("milwaukee-back-on-track", None),
    ("california", None),
    ("san-bernardino", None),
]


@pytest.mark.parametrize(("name", "as_of"), SHIPPED_VERSIONS)
def test_shipped_graph_has_every_node_and_edge(name: str, as_of: str | None) -> None:
    policy = shipped(name, as_of)
    nodes = Counter(data["kind"] for _, data in policy.graph.nodes(data=True))
    links = Counter(data["kind"] for _, _, data in policy.graph.edges(data=True))
    assert (nodes, links) == expected_counts(policy)
    assert nx.is_directed_acyclic_graph(policy.graph)
    assert sorted(policy.order) == sorted(policy.compiled.rules)


def test_federal_graph_edges() -> None:
    policy = shipped("federal")
    assert ("rule:passport-denial", "parameter:passport_denial_threshold") in edges(policy, "reads")
    assert ("rule:passport-denial", "field:arrears.total") in edges(policy, "reads")
    assert ("rule:passport-denial", "field:enforcement") in edges(policy, "reads")  # taken(...)
    assert ("derived:delinquent", "field:order.monthly_amount") in edges(policy, "reads")
    assert ("rule:credit-bureau-reporting", "rule:delinquency-notice") in edges(policy, "requires")
    assert ("rule:passport-denial", "action:certify_passport_denial") in edges(policy, "produces")
    assert ("rule:passport-denial", "source:usc-652") in edges(policy, "cites")
    assert ("parameter:passport_denial_threshold", "source:usc-652") in edges(policy, "cites")


def test_wisconsin_graph_edges_and_order() -> None:
    policy = shipped("wisconsin")
    holds = edges(policy, "holds")
    assert ("rule:scra-hold", "rule:license-suspension") in holds
    assert ("rule:payment-plan-hold", "rule:contempt-referral") in holds
    assert ("rule:credit-bureau-reporting", "rule:lien") in edges(policy, "requires")
    # Holds are settled before what they hold; requirements before what requires them.
    for hold, target in holds:
        assert policy.order.index(hold.removeprefix("rule:")) < policy.order.index(
            target.removeprefix("rule:")
        )
    for rule, requirement in edges(policy, "requires"):
        assert policy.order.index(requirement.removeprefix("rule:")) < policy.order.index(
            rule.removeprefix("rule:")
        )
    older = shipped("wisconsin", "2024-06-01")
    assert "rule:employment-training-engagement-hold" in policy.graph
    assert "rule:employment-training-engagement-hold" not in older.graph


def test_county_sets_inherit_the_state_graph() -> None:
    milwaukee = shipped("milwaukee-back-on-track")
    assert ("rule:back-on-track-match", "action:eligible_back_on_track") in edges(milwaukee, "produces")
    assert ("rule:scra-hold", "rule:license-suspension") in edges(milwaukee, "holds")
    california = shipped("california")
    assert ("rule:license-suspension", "action:initiate_license_suspension") in edges(california, "produces")
    bernardino = shipped("san-bernardino")
    assert ("rule:license-release-employment-referral", "rule:license-release-meeting") in edges(
        bernardino, "requires"
    )
    assert "license-release-meeting" in ladder(bernardino.graph)[0]


def test_fixture_graph_exact_counts() -> None:
    policy = load_policy(GRAPH / "queries")
    nodes = Counter(data["kind"] for _, data in policy.graph.nodes(data=True))
    links = Counter(data["kind"] for _, _, data in policy.graph.edges(data=True))
    # fields: arrears.total, payments.days_since_last, paying_parent.licenses, enforcement
    assert nodes == Counter(field=4, parameter=2, derived=2, rule=5, action=4, source=2)
    assert links == Counter(reads=14, cites=7, produces=4, requires=2, holds=1)
    assert ladder(policy.graph) == [["notice"], ["lien"], ["contempt"]]


# -- evaluation order and cycles -------------------------------------------------------------


def test_derived_value_defined_after_its_user_works(make_snapshot: object) -> None:
    policy = load_policy(GRAPH / "order")
    assert list(policy.compiled.derived) == ["owed", "months_behind"]  # compiled in dependency order
    assert ("derived:months_behind", "derived:owed") in edges(policy, "reads")
    snapshot = make_snapshot(  # type: ignore[operator]
        arrears__family_owed="1000.00", arrears__state_owed="200.00", order__monthly_amount="400.00"
    )
    decision = policy.evaluate(snapshot)
    assert [a.rule for a in decision.actions] == ["three-months"]
    short = make_snapshot(arrears__family_owed="1199.99", order__monthly_amount="400.00")  # type: ignore[operator]
    assert policy.evaluate(short).actions == []


def test_derived_order_reports_the_cycle_path() -> None:
    order, cycle = derived_order({"a": "b + 1", "b": "c * 2", "c": "a - 1", "d": "arrears.total"})
    assert (order, cycle) == ([], ["a", "b", "c", "a"])
    assert derived_order({"a": "a + 1"}) == ([], ["a", "a"])
    assert derived_order({"x": "y + 1", "y": "arrears.total"}) == (["y", "x"], [])


def test_cycles_are_located_load_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(GRAPH / "derived-cycle")
    first = caught.value.problems[0]
    assert str(first) == (
        f"{GRAPH / 'derived-cycle' / 'policy.yaml'}:10:3: derived values depend on each other in a cycle: "
        "first → second → third → first [CSP206]"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(GRAPH / "rule-cycle")
    assert [str(p) for p in caught.value.problems] == [
        f"{GRAPH / 'rule-cycle' / 'policy.yaml'}:18:5: rules depend on each other in a cycle: lien → notice → lien [CSP206]"
    ]
    holds = (GRAPH / "clean" / "policy.yaml").read_text() + (
        "  - id: other-hold\n    kind: hold\n    title: Other\n    summary: Holds the first hold.\n"
        "    when: paying_parent.military_active_duty\n    holds: [incarceration-hold]\n    cite: [law]\n"
    )
    holds = holds.replace("holds: [contempt]", "holds: [contempt, other-hold]")
    (tmp_path / "policy.yaml").write_text(holds)
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path)
    assert [p.message for p in caught.value.problems] == [
        "rules depend on each other in a cycle: incarceration-hold → other-hold → incarceration-hold"
    ]


def test_cycle_mixing_holds_and_requires_is_a_located_error_not_a_crash() -> None:
    # first-hold holds notice; second-hold requires notice and holds first-hold: first-hold must
    # be settled before notice, notice before second-hold, second-hold before first-hold.
    with pytest.raises(PolicyError) as caught:
        load_policy(GRAPH / "mixed-cycle")
    assert [str(p) for p in caught.value.problems] == [
        f"{GRAPH / 'mixed-cycle' / 'policy.yaml'}:10:5: rules depend on each other in a cycle: "
        "first-hold → notice → second-hold → first-hold [CSP206]"
    ]


# -- impact queries --------------------------------------------------------------------------


def test_depends_on_follows_reads_holds_and_requires() -> None:
    policy = load_policy(GRAPH / "queries")
    result = policy.depends_on("params.threshold")
    assert result.of == "parameter:threshold"
    assert result.names("derived") == ["serious", "very_serious"]
    # notice and contempt read it through derived values; the hold reads it and holds license;
    # lien requires notice; the actions of all of those.
    assert result.names("rule") == ["notice", "lien", "contempt", "license", "small-debt-hold"]
    assert result.names("action") == [
        "send_delinquency_notice",
        "docket_lien",
        "refer_for_contempt",
        "initiate_license_suspension",
    ]
    steps = {r.name: (r.how, r.via) for r in result.reached}
    assert steps["license"] == ("holds", "rule:small-debt-hold")
    assert steps["lien"] == ("requires", "rule:notice")
    assert steps["very_serious"] == ("reads", "derived:serious")
    grace = policy.depends_on("grace_days")
    assert grace.names("rule") == ["contempt"]
    assert policy.depends_on("rule:lien").names("rule") == ["contempt"]


def test_inputs_of_reads_through_derived_values() -> None:
    policy = load_policy(GRAPH / "queries")
    result = policy.inputs_of("contempt")
    assert result.names("field") == ["arrears.total", "payments.days_since_last", "enforcement"]
    assert result.names("parameter") == ["threshold", "grace_days"]
    assert result.names("derived") == ["serious", "very_serious"]
    assert policy.inputs_of("license").names("field") == ["paying_parent.licenses"]
    assert result.to_dict()["parameters"] == ["threshold", "grace_days"]


def test_unknown_names_suggest_the_closest() -> None:
    policy = load_policy(GRAPH / "queries")
    with pytest.raises(
        UnknownNode, match=r"'params.treshold' is not .* \(did you mean 'params.threshold'\?\)"
    ):
        policy.depends_on("params.treshold")
    with pytest.raises(UnknownNode, match=r"did you mean 'contempt'"):
        policy.inputs_of("contemt")
    with pytest.raises(UnknownNode, match="is not a rule"):
        neighbourhood(policy.graph, "params.threshold")


def test_neighbourhood_holds_only_what_touches_the_rule() -> None:
    policy = load_policy(GRAPH / "queries")
    around = neighbourhood(policy.graph, "lien")
    assert set(around) == {
        "rule:lien",
        "rule:notice",
        "rule:contempt",
        "field:arrears.total",
        "field:enforcement",
        "action:docket_lien",
        "source:law",
    }
    license = neighbourhood(policy.graph, "license")
    assert ("rule:small-debt-hold", "rule:license") in license.edges
    assert "parameter:threshold" not in license  # what the hold reads is the hold's business


# -- the command -----------------------------------------------------------------------------


def test_graph_command_queries_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(GRAPH / "queries")
    assert main(["graph", path, "--depends-on", "params.threshold"]) == 0
    out = capsys.readouterr().out
    assert "queries 1: what depends on params.threshold" in out
    assert "license  (held by small-debt-hold)" in out
    assert "lien  (requires notice)" in out
    assert main(["graph", path, "--inputs-of", "contempt", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["fields"] == ["arrears.total", "payments.days_since_last", "enforcement"]
    assert printed["policy"]["id"] == "queries"
    assert main(["graph", path, "--inputs-of", "nope"]) == 1
    assert "'nope' is not a rule" in capsys.readouterr().err
    assert main(["graph", path, "--depends-on", "params.threshold", "--format", "mermaid"]) == 2
    with pytest.raises(SystemExit) as exited:
        main(["graph", path, "--as-of", "2024-13-01"])
    assert exited.value.code == 2
    assert "must be a date (YYYY-MM-DD), not '2024-13-01'" in capsys.readouterr().err


def test_graph_command_summary_ladder_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(GRAPH / "queries")
    assert main(["graph", path]) == 0
    out = capsys.readouterr().out
    assert "queries 1: 19 nodes, 28 edges" in out
    assert "evaluation order: notice, lien, contempt, small-debt-hold, license" in out
    assert main(["graph", path, "--ladder"]) == 0
    assert capsys.readouterr().out == "Step 1: notice\nStep 2: lien\nStep 3: contempt\n"
    assert main(["graph", path, "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {"source": "rule:lien", "target": "rule:notice", "kind": "requires"} in printed["edges"]
    assert len(printed["nodes"]) == 19
    assert main(["graph", str(GRAPH / "derived-cycle")]) == 1
    assert "cycle: first → second → third → first" in capsys.readouterr().err
