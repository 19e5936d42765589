"""Hostile YAML: every attack is rejected with a located error, within 1 s and 200 MiB.

Each limit of `cspolicy.source.yamlsource` is checked at the limit (accepted) and one past it
(rejected). Attacks go through the public entry points (`load_policy`, `CaseSnapshot.from_file`)
so the error a policy author sees is the one asserted. Time is measured without tracing and
memory in a second, traced run (tracemalloc slows PyYAML several times over).
"""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cspolicy import CaseSnapshot, Code, PolicyError, SnapshotError, load_policy
from cspolicy.diagnostics import Problem
from cspolicy.source.yamlsource import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_NODES,
    MAX_SCALAR_CHARS,
    YamlProblem,
    parse_yaml,
)

from helpers import FIXTURES, ROOT

BASE = FIXTURES / "hostile" / "base" / "policy.yaml"
SECONDS = 1.0
MEBIBYTES = 200


def bounded(action: Callable[[], Any]) -> BaseException:
    """Run `action`, which must raise; assert it did so within the time and memory bounds."""
    started = time.perf_counter()
    try:
        action()
    except Exception as exc:
        caught: BaseException = exc
    else:
        raise AssertionError("hostile input was accepted")
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS, f"took {elapsed:.2f} s"
    tracemalloc.start()
    try:
        with contextlib.suppress(Exception):
            action()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEBIBYTES * 2**20, f"peak {peak / 2**20:.0f} MiB"
    return caught


def rejected_policy(tmp_path: Path, text: str | bytes) -> Problem:
    """Load a one-file policy made of `text`; return its single located problem."""
    path = tmp_path / "policy.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    error = bounded(lambda: load_policy(tmp_path))
    assert isinstance(error, PolicyError), repr(error)
    assert error.problems, "no problems reported"
    problem = error.problems[0]
    assert problem.location.file == str(path)
    assert problem.location.line >= 1 and problem.location.column >= 1
    return problem


def base_with(extra: str) -> str:
    """The valid fixture policy with `extra` appended as more top-level keys."""
    return BASE.read_text(encoding="utf-8") + extra


def yaml_problem(text: str) -> Problem:
    error = bounded(lambda: parse_yaml(text, "doc.yaml"))
    assert isinstance(error, YamlProblem), repr(error)
    return error.problem


def accepted(text: str) -> Any:
    data, _, problems = parse_yaml(text, "doc.yaml")
    assert problems == []
    return data


# -- the fixture itself is fine --------------------------------------------------------------
def test_base_fixture_loads() -> None:
    policy = load_policy(BASE.parent)
    assert policy.rule_ids == ["notice", "lien", "safety-hold"]


# -- alias expansion bombs ---------------------------------------------------------------------
def billion_laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_stopped_before_expansion(tmp_path: Path) -> None:
    # 72 aliases (under the alias limit) that would expand to 9**9 nodes.
    problem = rejected_policy(tmp_path, base_with(billion_laughs()))
    assert problem.code is Code.YAML_LIMIT
    assert f"more than {MAX_NODES} nodes" in problem.message
    laugh_line = len(BASE.read_text().splitlines()) + 5  # l4 (66,430 nodes expanded) passes it
    assert problem.location.line == laugh_line


def test_alias_count_at_and_beyond_the_limit() -> None:
    at_limit = "a: &a x\nb: [" + ",".join(["*a"] * MAX_ALIASES) + "]\n"
    assert accepted(at_limit)["b"] == ["x"] * MAX_ALIASES
    problem = yaml_problem("a: &a x\nb: [" + ",".join(["*a"] * (MAX_ALIASES + 1)) + "]\n")
    assert problem.code is Code.YAML_LIMIT
    assert "aliases" in problem.message
    assert (problem.location.line, problem.location.column) == (2, 5 + 3 * MAX_ALIASES)


def test_aliases_of_large_nodes_count_their_whole_size() -> None:
    # Each alias repeats a 2,001-node list: 25 aliases are 50,027 nodes, past the limit.
    big = "big: &big [" + ",".join(["1"] * 2000) + "]\n"
    problem = yaml_problem(big + "copies: [" + ",".join(["*big"] * 25) + "]\n")
    assert problem.code is Code.YAML_LIMIT and "nodes" in problem.message
    assert accepted(big + "copies: [" + ",".join(["*big"] * 10) + "]\n")["copies"][9][1999] == 1


# -- nesting ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("opening", "closing"),
    [("[", "]"), ("{a: ", "}")],
    ids=["flow-sequence", "flow-mapping"],
)
def test_ten_thousand_deep_flow_nesting(tmp_path: Path, opening: str, closing: str) -> None:
    # PyYAML and libyaml both scan this quadratically; the bracket pre-scan stops it at once.
    text = base_with("note: " + opening * 10_000 + "1" + closing * 10_000 + "\n")
    problem = rejected_policy(tmp_path, text)
    assert problem.code is Code.YAML_LIMIT
    assert f"deeper than {MAX_DEPTH}" in problem.message
    assert problem.location.line == len(BASE.read_text().splitlines()) + 1
    assert problem.location.column == len("note: ") + MAX_DEPTH * len(opening) + 1


def test_unclosed_brackets_are_stopped_too() -> None:
    problem = yaml_problem("a: " + "[" * 500_000)
    assert problem.code is Code.YAML_LIMIT and (problem.location.line, problem.location.column) == (1, 68)


def test_flow_depth_at_the_limit_is_accepted() -> None:
    # The root mapping is level 1, so MAX_DEPTH - 1 brackets are the deepest a value can go.
    depth = MAX_DEPTH - 1
    data = accepted("a: " + "[" * depth + "1" + "]" * depth)
    for _ in range(depth):
        data = data["a"] if isinstance(data, dict) else data[0]
    assert data == [1]


def block_nesting(levels: int) -> str:
    return "".join("  " * level + f"k{level}:\n" for level in range(levels)) + "  " * levels + "leaf\n"


def test_block_nesting_at_and_beyond_the_limit() -> None:
    # block_nesting(n) is n nested mappings, the root included.
    data = accepted(block_nesting(MAX_DEPTH))
    for level in range(MAX_DEPTH):
        data = data[f"k{level}"]
    assert data == "leaf"
    problem = yaml_problem(block_nesting(MAX_DEPTH + 1))
    assert problem.code is Code.YAML_LIMIT and f"deeper than {MAX_DEPTH}" in problem.message
    assert (problem.location.line, problem.location.column) == (MAX_DEPTH + 1, 2 * MAX_DEPTH + 1)


def test_very_deep_block_nesting(tmp_path: Path) -> None:
    problem = rejected_policy(tmp_path, block_nesting(1_200))
    assert problem.code is Code.YAML_LIMIT and problem.location.line == MAX_DEPTH + 1


def test_deep_compact_sequences() -> None:
    problem = yaml_problem("- " * 100_000 + "x\n")
    assert problem.code is Code.YAML_LIMIT and problem.location.line == 1


# -- long lists, long strings, huge files --------------------------------------------------------
def test_node_count_at_and_beyond_the_limit() -> None:
    # A top-level list of n items is n + 1 nodes.
    assert len(accepted("[" + ",".join(["1"] * (MAX_NODES - 1)) + "]")) == MAX_NODES - 1
    problem = yaml_problem("[" + ",".join(["1"] * MAX_NODES) + "]")
    assert problem.code is Code.YAML_LIMIT and f"more than {MAX_NODES} nodes" in problem.message
    assert problem.location.column == 2 * MAX_NODES


def test_long_block_list_in_a_policy(tmp_path: Path) -> None:
    problem = rejected_policy(tmp_path, base_with("note:\n" + "- x\n" * 150_000))
    assert problem.code is Code.YAML_LIMIT and "nodes" in problem.message


def test_scalar_length_at_and_beyond_the_limit() -> None:
    assert len(accepted("a: " + "x" * MAX_SCALAR_CHARS)["a"]) == MAX_SCALAR_CHARS
    problem = yaml_problem("a: b\nc: " + "x" * (MAX_SCALAR_CHARS + 1))
    assert problem.code is Code.YAML_LIMIT
    assert (problem.location.line, problem.location.column) == (2, 4)


def test_huge_expression_is_a_located_expression_error(tmp_path: Path) -> None:
    long_condition = "arrears.total > 1" + " and arrears.total > 1" * 4000
    text = BASE.read_text().replace("when: arrears.total > params.threshold", f"when: {long_condition}")
    problem = rejected_policy(tmp_path, text)
    assert problem.code is Code.EXPRESSION_LIMIT
    assert (problem.location.line, problem.location.column) == (36, 11)


def test_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    problem = rejected_policy(tmp_path, b"# " + b"x" * MAX_DOCUMENT_BYTES + b"\nid: x\n")
    assert problem.code is Code.YAML_LIMIT
    assert str(MAX_DOCUMENT_BYTES) in problem.message


def test_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    base = BASE.read_bytes()
    padding = MAX_DOCUMENT_BYTES - len(base) - 3
    (tmp_path / "policy.yaml").write_bytes(base + b"# " + b"x" * padding + b"\n")
    assert (tmp_path / "policy.yaml").stat().st_size == MAX_DOCUMENT_BYTES
    assert load_policy(tmp_path).id == "hostile-base"


def test_text_over_the_size_limit_is_rejected() -> None:
    problem = yaml_problem("a: " + "é" * (MAX_DOCUMENT_BYTES // 2))
    assert problem.code is Code.YAML_LIMIT and problem.location.line == 1


# -- encodings -----------------------------------------------------------------------------------
def test_non_utf8_bytes_are_located(tmp_path: Path) -> None:
    text = BASE.read_bytes().replace(b"title: Hardening fixture", b"title: Hardening \xff\xfe fixture")
    problem = rejected_policy(tmp_path, text)
    assert problem.code is Code.BAD_ENCODING
    assert (problem.location.line, problem.location.column) == (4, 18)
    assert "0xff" in problem.message


def test_latin1_file_is_located(tmp_path: Path) -> None:
    problem = rejected_policy(tmp_path, "id: x\ntitle: Señor\n".encode("latin-1"))
    assert problem.code is Code.BAD_ENCODING and (problem.location.line, problem.location.column) == (2, 10)


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\ufffe"])
def test_control_characters_are_located(tmp_path: Path, character: str) -> None:
    problem = rejected_policy(tmp_path, f"id: x\ntitle: a{character}b\n")
    assert problem.code is Code.BAD_ENCODING
    assert (problem.location.line, problem.location.column) == (2, 9)


def test_lone_surrogate_in_text_is_located() -> None:
    problem = yaml_problem("a: 1\nb: x\ud800\n")
    assert problem.code is Code.BAD_ENCODING and (problem.location.line, problem.location.column) == (2, 5)


# -- duplicate keys ------------------------------------------------------------------------------
def test_duplicate_keys_are_errors_not_last_wins(tmp_path: Path) -> None:
    text = BASE.read_text().replace("title: Hardening fixture\n", "title: Hardening fixture\ntitle: Other\n")
    problem = rejected_policy(tmp_path, text)
    assert problem.code is Code.DUPLICATE_KEY
    assert (problem.location.line, problem.location.column) == (5, 1)
    assert "first at line 4" in problem.message


def test_duplicate_keys_inside_a_rule(tmp_path: Path) -> None:
    text = BASE.read_text().replace(
        "    action: send_delinquency_notice\n",
        "    action: send_delinquency_notice\n    action: docket_lien\n",
    )
    problem = rejected_policy(tmp_path, text)
    assert problem.code is Code.DUPLICATE_KEY and problem.location.line == 38


def test_duplicate_keys_in_a_snapshot_file(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(
        "case_id: A\nas_of: 2025-01-01\njurisdiction: {state: WI}\n"
        "order: {established_on: 2020-01-01, monthly_amount: 1, monthly_amount: 2}\n"
    )
    error = bounded(lambda: CaseSnapshot.from_file(path))
    assert isinstance(error, SnapshotError)
    assert [(p.code, p.location.line) for p in error.problems] == [(Code.DUPLICATE_KEY, 4)]


# -- tags that construct objects ---------------------------------------------------------------
SENTINEL = "cspolicy-hostile-sentinel"


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system ['touch {sentinel}']",
        "!!python/object/new:subprocess.Popen [['touch', '{sentinel}']]",
        "!!python/object:builtins.object {{}}",
        "!!python/name:os.system",
        "!!python/module:os",
        "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {sentinel}']",
        "!custom {{a: 1}}",
        "!!binary aGVsbG8=",
        "!!set {{a, b}}",
        "!!omap [a: 1]",
    ],
)
def test_tags_are_rejected_and_nothing_is_constructed(tmp_path: Path, value: str) -> None:
    sentinel = tmp_path / SENTINEL
    text = BASE.read_text().replace("title: Hardening fixture", "title: " + value.format(sentinel=sentinel))
    problem = rejected_policy(tmp_path, text)
    assert problem.code is Code.UNSAFE_YAML
    assert (problem.location.line, problem.location.column) == (4, 8)
    assert not sentinel.exists()


def test_tag_directive_cannot_smuggle_a_tag(tmp_path: Path) -> None:
    sentinel = tmp_path / SENTINEL
    text = "%TAG !py! tag:yaml.org,2002:python/object/apply:\n---\n" + BASE.read_text().replace(
        "title: Hardening fixture", f"title: !py!os.system ['touch {sentinel}']"
    )
    problem = rejected_policy(tmp_path, text)
    assert problem.code is Code.UNSAFE_YAML and problem.location.line == 6
    assert not sentinel.exists()


def test_merge_keys_are_rejected(tmp_path: Path) -> None:
    problem = rejected_policy(tmp_path, base_with("defaults: &d {a: 1}\nother: {<<: *d}\n"))
    assert problem.code is Code.UNSAFE_YAML and "merge" in problem.message


def test_several_documents_are_rejected(tmp_path: Path) -> None:
    problem = rejected_policy(tmp_path, base_with("---\nid: second\n"))
    assert problem.code is Code.YAML_SYNTAX


# -- numbers that would explode later ------------------------------------------------------------
@pytest.mark.parametrize("number", ["9" * 5000, "1.0e+999999999", "-1.5e+40", "0x" + "f" * 100])
def test_absurd_numbers_are_rejected_while_reading(tmp_path: Path, number: str) -> None:
    text = BASE.read_text().replace("value: 30}", f"value: {number}}}")
    problem = rejected_policy(tmp_path, text)
    assert problem.code is Code.YAML_LIMIT and "out of range" in problem.message
    assert problem.location.line == 25


@pytest.mark.parametrize("number", ['"1e999999999"', '"Infinity"', '"NaN"', "1.0e+35"])
def test_absurd_numbers_in_text_are_rejected_when_compiling(tmp_path: Path, number: str) -> None:
    # int(Decimal("1e999999999")) would build a billion-digit integer; the compiler refuses first.
    text = BASE.read_text().replace("value: 30}", f"value: {number}}}")
    problem = rejected_policy(tmp_path, text)
    assert problem.code in (Code.INVALID_VALUE, Code.WRONG_TYPE)
    assert problem.location.line == 25


def test_priority_cannot_be_a_giant_number(tmp_path: Path) -> None:
    text = BASE.read_text().replace(
        "    action: send_delinquency_notice\n",
        "    action: send_delinquency_notice\n    priority: 1.0e+999999999\n",
    )
    assert rejected_policy(tmp_path, text).code is Code.YAML_LIMIT


# -- the same attacks against a snapshot file ------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "code"),
    [
        (billion_laughs(), Code.YAML_LIMIT),
        ("case_id: " + "[" * 10_000, Code.YAML_LIMIT),
        ("case_id: !!python/object/apply:os.getcwd []", Code.UNSAFE_YAML),
    ],
    ids=["laughs", "deep", "tag"],
)
def test_hostile_snapshot_files(tmp_path: Path, body: str, code: Code) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(body)
    error = bounded(lambda: CaseSnapshot.from_file(path))
    assert isinstance(error, SnapshotError)
    assert error.problems[0].code is code
    assert error.problems[0].location.file == str(path) and error.problems[0].location.line >= 1


# -- without libyaml the same limits hold (PyYAML's pure-Python parser) --------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (billion_laughs(), "nodes"),
        ("a: &a x\nb: [" + ",".join(["*a"] * (MAX_ALIASES + 1)) + "]", "aliases"),
        (block_nesting(MAX_DEPTH + 1), "deeper"),
        ("a: " + "[" * 10_000, "deeper"),
        ("a: " + "x" * (MAX_SCALAR_CHARS + 1), "longer"),
    ],
    ids=["laughs", "aliases", "block-depth", "flow-depth", "scalar"],
)
def test_limits_hold_without_libyaml(monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    monkeypatch.setattr("cspolicy.source.yamlsource.WITH_LIBYAML", False)
    problem = yaml_problem(text)
    assert problem.code is Code.YAML_LIMIT and message in problem.message


def test_docs_state_the_limits_of_the_code() -> None:
    from cspolicy.expressions import parser
    from cspolicy.source import yamlsource

    security = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    for module, name in [
        (yamlsource, "MAX_DOCUMENT_BYTES"),
        (yamlsource, "MAX_DEPTH"),
        (yamlsource, "MAX_NODES"),
        (yamlsource, "MAX_ALIASES"),
        (yamlsource, "MAX_SCALAR_CHARS"),
        (yamlsource, "MAX_NUMBER_CHARS"),
        (yamlsource, "MAX_NUMBER_EXPONENT"),
        (parser, "MAX_EXPRESSION_CHARS"),
        (parser, "MAX_EXPRESSION_DEPTH"),
    ]:
        assert f"| `{name}` | {getattr(module, name):,} " in security, name
