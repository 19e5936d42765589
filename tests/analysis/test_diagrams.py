"""Mermaid and DOT diagrams: valid, stable syntax with escaped labels, for fixtures and every shipped set."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import networkx as nx
import pytest

from cspolicy import load_policy
from cspolicy.analysis import diagrams
from cspolicy.analysis.diagrams import (
    describe_ladder,
    describe_neighbourhood,
    dot_graph,
    dot_ladder,
    dot_neighbourhood,
    mermaid_graph,
    mermaid_ladder,
    mermaid_neighbourhood,
)
from cspolicy.cli import main
from cspolicy.engine.policy import PolicySet

from helpers import FIXTURES, ROOT

GRAPH = FIXTURES / "graph"
SHIPPED = ROOT / "policies"

_OPEN = r"(?:\[\(|\[/|\[\[|\{\{|\(|\[|>)"
_CLOSE = r"(?:\)\]|/\]|\]\]|\}\}|\)|\])"
NODE = re.compile(rf'^ *(?P<id>[A-Za-z][A-Za-z0-9_]*){_OPEN}"(?P<label>[^"]*)"{_CLOSE}$')
EDGE = re.compile(
    r"^ *(?P<start>[A-Za-z][A-Za-z0-9_]*) (?:-->|==>|-\.->)(?:\|[a-z]+\|)? (?P<end>[A-Za-z][A-Za-z0-9_]*)$"
)
SUBGRAPH = re.compile(r'^ *subgraph (?P<id>[A-Za-z][A-Za-z0-9_]*)\["(?P<label>[^"]*)"\]$')
CLASS_DEF = re.compile(r"^ *classDef [a-z]+ [a-z-]+:[#0-9a-z]+(,[a-z-]+:[#0-9a-z]+)*$")
CLASS = re.compile(r"^ *class (?P<ids>[A-Za-z0-9_,]+) [a-z]+$")
STYLE = re.compile(r"^ *style (?P<id>[A-Za-z0-9_]+) stroke-width:3px$")
SAFE_LABEL = re.compile(r"^(?:[^\"<>`#&]|#(?:[0-9]+|[a-z]+);)*$")


def mermaid_nodes(text: str) -> dict[str, str]:
    """Check a Mermaid flowchart line by line; return node id → label."""
    lines = text.splitlines()
    assert lines[0] in ("flowchart LR", "flowchart TD")
    assert text.endswith("\n")
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    depth = 0
    for line in lines[1:]:
        if match := NODE.match(line):
            assert match["id"] not in nodes, f"node defined twice: {line}"
            assert SAFE_LABEL.match(match["label"]), f"unescaped label: {line}"
            nodes[match["id"]] = match["label"]
        elif match := EDGE.match(line):
            edges.append((match["start"], match["end"]))
        elif match := SUBGRAPH.match(line):
            depth += 1
        elif line.strip() == "end":
            depth -= 1
        elif match := STYLE.match(line):
            assert match["id"] in nodes
        elif match := CLASS.match(line):
            assert set(match["ids"].split(",")) <= set(nodes)
        else:
            assert CLASS_DEF.match(line), f"not Mermaid flowchart syntax: {line!r}"
    assert depth == 0
    for start, end in edges:
        assert start in nodes and end in nodes, f"edge to an undefined node: {start} {end}"
    return nodes


DOT_NODE = re.compile(r'^ +"(?:[^"\\]|\\.)*" \[label="(?:[^"\\]|\\.)*", shape=[a-z]+\];$')
DOT_EDGE = re.compile(r'^ +"(?:[^"\\]|\\.)*" -> "(?:[^"\\]|\\.)*"(?: \[[^\]]*\])?;$')


def check_dot(text: str) -> None:
    lines = text.splitlines()
    assert re.match(r'^digraph "(?:[^"\\]|\\.)*" \{$', lines[0])
    assert lines[-1] == "}"
    depth = 0
    for line in lines[1:-1]:
        if line.strip().startswith("subgraph cluster_"):
            depth += 1
        elif line.strip() == "}":
            depth -= 1
        else:
            assert (
                DOT_NODE.match(line)
                or DOT_EDGE.match(line)
                or re.match(r'^ +(rankdir=[A-Z]+|node \[fontname="Helvetica"\]|label="[^"]*");$', line)
            ), f"not DOT syntax: {line!r}"
    assert depth == 0


@pytest.fixture(scope="module")
def queries() -> PolicySet:
    return load_policy(GRAPH / "queries")


def test_whole_set_mermaid(queries: PolicySet) -> None:
    text = mermaid_graph(queries)
    nodes = mermaid_nodes(text)
    assert nodes["rule_lien"] == "Docket a lien (lien)"
    assert nodes["parameter_threshold"] == "params.threshold"
    assert "source_law" not in nodes  # sources only on request
    assert "source_law" in mermaid_nodes(mermaid_graph(queries, sources=True))
    lines = text.splitlines()
    assert '  rule_small_debt_hold{{"Debt under the threshold (small-debt-hold)"}}' in lines
    assert "  rule_small_debt_hold -.->|holds| rule_license" in lines
    assert "  rule_notice ==>|then| rule_lien" in lines  # the requirement comes first
    assert "  parameter_threshold --> derived_serious" in lines  # facts flow into readers
    assert "  rule_lien --> action_docket_lien" in lines
    assert "  class rule_small_debt_hold hold" in lines


def test_neighbourhood_mermaid(queries: PolicySet) -> None:
    text = mermaid_neighbourhood(queries, "contempt")
    assert text.endswith("  style rule_contempt stroke-width:3px\n")  # the rule drawn is marked
    nodes = mermaid_nodes(text)
    assert set(nodes) == {
        "rule_contempt",
        "rule_lien",
        "derived_very_serious",
        "derived_serious",
        "field_arrears_total",
        "field_payments_days_since_last",
        "field_enforcement",
        "parameter_threshold",
        "parameter_grace_days",
        "action_refer_for_contempt",
        "source_court",
    }


def test_ladder_mermaid_is_drawn_in_steps(queries: PolicySet) -> None:
    text = mermaid_ladder(queries)
    mermaid_nodes(text)
    assert text == (
        "flowchart TD\n"
        '  subgraph step1["Step 1"]\n'
        '    rule_notice["Send a notice (notice) → send_delinquency_notice"]\n'
        "  end\n"
        '  subgraph step2["Step 2"]\n'
        '    rule_lien["Docket a lien (lien) → docket_lien"]\n'
        "  end\n"
        '  subgraph step3["Step 3"]\n'
        '    rule_contempt["Refer for contempt (contempt) → refer_for_contempt"]\n'
        "  end\n"
        "  rule_notice ==>|then| rule_lien\n"
        "  rule_lien ==>|then| rule_contempt\n"
        "  classDef rule fill:#e9f7ef,stroke:#2e8b57\n"
    )
    flat = load_policy(GRAPH / "clean")
    assert mermaid_ladder(flat).count("subgraph") == 2
    lone = load_policy(GRAPH / "action-kinds")
    assert mermaid_ladder(lone) == 'flowchart TD\n  none["No escalation ladder: no rule requires another"]\n'


def test_neighbourhood_in_words_has_a_sentence_for_every_arrow(queries: PolicySet) -> None:
    """The text alternative the docs show under a rule's diagram: the same arrows, same labels."""
    text = mermaid_neighbourhood(queries, "contempt")
    nodes = mermaid_nodes(text)
    arrows = [line for line in text.splitlines() if EDGE.match(line)]
    words = describe_neighbourhood(queries, "contempt")
    assert len(words) == len(arrows) > 5
    assert all(label in " ".join(words) for label in nodes.values())
    assert "The rule Refer for contempt (contempt) requires the rule Docket a lien (lien) first." in words
    assert "The rule Refer for contempt (contempt) reads the derived value very_serious." in words
    assert "The derived value serious reads the parameter params.threshold." in words
    assert "The rule Refer for contempt (contempt) recommends the action refer_for_contempt." in words
    assert "The rule Refer for contempt (contempt) cites the source court." in words
    held = describe_neighbourhood(queries, "license")
    assert (
        "The hold Debt under the threshold (small-debt-hold) holds the rule "
        "Start license suspension (license)." in held
    ), held


def test_a_box_without_arrows_is_still_described() -> None:
    graph = nx.DiGraph()
    graph.add_node("rule:alone", kind="rule", name="alone", title="On its own", rule_kind="automatic")
    assert diagrams._sentences(graph) == ["The rule On its own (alone) is not linked to anything else."]


def test_ladder_in_words_names_every_step_and_arrow(queries: PolicySet) -> None:
    assert describe_ladder(queries) == [
        "Step 1: Send a notice (notice), which recommends send_delinquency_notice.",
        "Step 2: Docket a lien (lien), which recommends docket_lien.",
        "Step 3: Refer for contempt (contempt), which recommends refer_for_contempt.",
        "Send a notice (notice), then Docket a lien (lien).",
        "Docket a lien (lien), then Refer for contempt (contempt).",
    ]
    assert describe_ladder(load_policy(GRAPH / "action-kinds")) == [
        "No escalation ladder: no rule requires another."
    ]


def test_labels_are_escaped() -> None:
    policy = load_policy(GRAPH / "escaping")
    nodes = mermaid_nodes(mermaid_graph(policy, sources=True))
    assert nodes["rule_awkward"] == (
        "Say #quot;hi#quot; #lt;b#gt;bold#lt;/b#gt; #amp; #35;1 #96;code#96; [x] {y} (z) | a\\b; end (awkward)"
    )
    assert nodes["rule_end"] == "A rule called end (end)"  # a reserved word never stands alone as an id
    dot = dot_graph(policy, sources=True)
    check_dot(dot)
    assert (
        '[label="Say \\"hi\\" <b>bold</b> & #1 `code` [x] {y} (z) | a\\\\b; end (awkward)", shape=box]' in dot
    )


def test_diagrams_are_stable() -> None:
    first, second = load_policy(GRAPH / "queries"), load_policy(GRAPH / "queries")
    for draw in (mermaid_graph, mermaid_ladder, dot_graph, dot_ladder):
        assert draw(first) == draw(second)
    assert mermaid_neighbourhood(first, "lien") == mermaid_neighbourhood(second, "lien")


def test_dot_views(queries: PolicySet) -> None:
    check_dot(dot_graph(queries))
    check_dot(dot_ladder(queries))
    around = dot_neighbourhood(queries, "license")
    check_dot(around)
    assert '"rule:small-debt-hold" -> "rule:license" [label="holds", style=dashed];' in around


def test_graph_command_draws(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(GRAPH / "queries")
    assert main(["graph", path, "--format", "mermaid", "--rule", "lien"]) == 0
    assert capsys.readouterr().out == mermaid_neighbourhood(load_policy(path), "lien")
    assert main(["graph", path, "--format", "dot", "--ladder"]) == 0
    check_dot(capsys.readouterr().out)
    assert main(["graph", path, "--format", "mermaid"]) == 0
    mermaid_nodes(capsys.readouterr().out)
    assert main(["graph", path, "--format", "mermaid", "--rule", "nope"]) == 1
    assert "'nope' is not a rule" in capsys.readouterr().err


SHIPPED_SETS = ["federal", "wisconsin", "milwaukee-back-on-track", "california", "san-bernardino"]


@pytest.mark.parametrize("name", SHIPPED_SETS)
def test_every_shipped_diagram_is_valid(name: str) -> None:
    path: Path = SHIPPED / name
    if not path.exists():
        pytest.skip(f"shipped policy set {name} is not there yet")
    policy = load_policy(path)
    nodes = mermaid_nodes(mermaid_graph(policy, sources=True))
    assert len(nodes) == policy.graph.number_of_nodes()
    mermaid_nodes(mermaid_ladder(policy))
    check_dot(dot_graph(policy, sources=True))
    check_dot(dot_ladder(policy))
    for rule_id in policy.rule_ids:
        assert f"rule_{rule_id.replace('-', '_')}" in mermaid_nodes(mermaid_neighbourhood(policy, rule_id))
        check_dot(dot_neighbourhood(policy, rule_id))


MERMAID_JS = ROOT / "docs" / "javascripts" / "mermaid.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--allow-file-access-from-files",
    "--virtual-time-budget=60000",
    "--dump-dom",
)
BROWSER_PAGE = """<html><head><meta charset="utf-8"></head><body><pre id="out">pending</pre>
<script src="%s"></script>
<script>
const diagrams = %s;
mermaid.initialize({startOnLoad: false});
(async () => {
  const results = {};
  for (const [name, text] of Object.entries(diagrams)) {
    try { await mermaid.parse(text); results[name] = "ok"; }
    catch (error) { results[name] = String(error.message || error).slice(0, 300); }
  }
  const { svg } = await mermaid.render("awkward", diagrams["escaping"]);
  const holder = document.createElement("div");
  holder.innerHTML = svg;
  results.labels = Array.from(holder.querySelectorAll(".nodeLabel")).map((n) => n.textContent);
  document.getElementById("out").textContent = JSON.stringify(results);
})();
</script></body></html>"""


@pytest.mark.skipif(
    CHROMIUM is None or not MERMAID_JS.exists(), reason="needs chromium and docs' mermaid.min.js"
)
def test_real_mermaid_parses_every_diagram_and_renders_escaped_labels(tmp_path: Path) -> None:
    diagrams = {"escaping": mermaid_graph(load_policy(GRAPH / "escaping"), sources=True)}
    diagrams["broken"] = 'flowchart LR\n  a["x"] -->\n  b[["y"'  # proves the check can fail
    for path in [SHIPPED / name for name in SHIPPED_SETS if (SHIPPED / name).exists()]:
        policy = load_policy(path)
        diagrams[f"{policy.id}"] = mermaid_graph(policy, sources=True)
        diagrams[f"{policy.id} ladder"] = mermaid_ladder(policy)
        for rule_id in policy.rule_ids:
            diagrams[f"{policy.id} {rule_id}"] = mermaid_neighbourhood(policy, rule_id)
    page = tmp_path / "check.html"
    page.write_text(BROWSER_PAGE % (MERMAID_JS.as_uri(), json.dumps(diagrams)), encoding="utf-8")
    assert CHROMIUM is not None
    dom = subprocess.run(
        [CHROMIUM, *BROWSER_FLAGS, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    ).stdout
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found is not None and found.group(1) != "pending", dom[-2000:]
    results = json.loads(html.unescape(found.group(1)))
    labels = results.pop("labels")
    assert "Parse error" in results.pop("broken")
    assert {name: result for name, result in results.items() if result != "ok"} == {}
    assert len(results) == len(diagrams) - 1
    assert 'Say "hi" <b>bold</b> & #1 `code` [x] {y} (z) | a\\b; end (awkward)' in labels
