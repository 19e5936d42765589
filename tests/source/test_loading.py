"""Loading policy sets: files and directories, locations, extends, and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cspolicy import Code, PolicyError, load_policy

from helpers import HEADER, write_policy


def problems_of(path: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    return [str(p) for p in caught.value.problems]


def test_directory_of_several_files_loads_as_one_set(basic_policy_path: Path) -> None:
    policy = load_policy(basic_policy_path)
    assert policy.id == "basic"
    assert policy.version == "1.0"
    assert list(policy.compiled.rules)[:2] == ["delinquency-notice", "tax-offset"]
    rule = policy.compiled.rules["tax-offset"]
    assert rule.entity.location.file.endswith("rules.yaml")
    assert rule.entity.location.line == 12


def test_single_file_loads(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: r
    kind: automatic
    title: R
    summary: S
    when: order.income_withholding_active == False
    action: initiate_income_withholding
    cite: [src]
""",
    )
    assert load_policy(path).compiled.rules["r"].rule.action == "initiate_income_withholding"


def test_extends_inherits_and_overrides_by_id(basic_policy_path: Path) -> None:
    child = load_policy(basic_policy_path.parent / "child")
    assert child.id == "child"
    assert set(child.compiled.rules) == set(load_policy(basic_policy_path).compiled.rules)
    assert child.compiled.rules["passport-denial"].rule.title == "Certify for passport denial (child)"
    assert child.compiled.rules["passport-denial"].entity.origin == "child"
    assert child.compiled.rules["tax-offset"].entity.origin == "basic"
    assert child.compiled.parameters["tax_offset_threshold"].values[0].value == 750
    assert [c[0] for c in child.compiled.source.chain] == ["basic", "child"]


def test_unknown_key_is_located_with_did_you_mean(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: r
    kind: automatic
    title: R
    summary: S
    wen: order.monthly_amount > 0
    when: order.monthly_amount > 0
    action: send_delinquency_notice
    cite: [src]
""",
    )
    assert problems_of(path) == [f"{path}:13:5: unknown key 'wen' (did you mean 'when'?) [CSP104]"]


def test_all_problems_reported_in_one_pass(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
parameters:
  limit:
    description: A limit
    unit: USD
    values: [{from: 2020-01-01, value: 100}]
rules:
  - id: a
    kind: threshold
    title: A
    summary: S
    when: arrears.totl > params.limit
    action: certify_passport_denial
    cite: [src]
  - id: b
    kind: threshold
    title: B
    summary: S
    when: arrears.total > params.limt
    action: docket_lien
    cite: [scr]
""",
    )
    assert problems_of(path) == [
        f"{path}:9:3: parameter has no citation: add `cite:` with a source id [CSP204]",
        f"{path}:18:11: rule 'a' when: unknown name 'arrears.totl' (did you mean 'arrears.total'?) [CSP303]",
        f"{path}:25:27: rule 'b' when: unknown parameter 'params.limt' (did you mean 'params.limit'?) [CSP208]",
        f"{path}:27:12: unknown source 'scr' (did you mean 'src'?) [CSP203]",
    ]


def test_rule_without_citation_does_not_load(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: r
    kind: automatic
    title: R
    summary: S
    when: order.monthly_amount > 0
    action: send_delinquency_notice
""",
    )
    assert problems_of(path) == [f"{path}:9:5: rule has no citation: add `cite:` with a source id [CSP204]"]


def test_duplicate_rule_ids_across_files(tmp_path: Path) -> None:
    rule = """\
rules:
  - id: r
    kind: automatic
    title: R
    summary: S
    when: order.monthly_amount > 0
    action: send_delinquency_notice
    cite: [src]
"""
    write_policy(tmp_path, HEADER + rule, "a.yaml")
    second = write_policy(tmp_path, rule, "b.yaml")
    messages = problems_of(tmp_path)
    assert messages == [f"{second}:2:9: duplicate rule 'r' (first at {tmp_path / 'a.yaml'}:9:9) [CSP201]"]


def test_hold_naming_a_missing_rule(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: passport
    kind: threshold
    title: P
    summary: S
    when: arrears.total > 2500
    action: certify_passport_denial
    cite: [src]
  - id: hold
    kind: hold
    title: H
    summary: S
    when: paying_parent.military_active_duty
    holds: [pasport]
    cite: [src]
""",
    )
    assert problems_of(path) == [
        f"{path}:21:13: rule 'hold' holds unknown rule 'pasport' (did you mean 'passport'?) [CSP202]"
    ]


def test_malformed_yaml_is_located(tmp_path: Path) -> None:
    path = write_policy(tmp_path, HEADER + "rules:\n  - id: r\n    title: [unclosed\n")
    (message,) = problems_of(path)
    assert message.startswith(f"{path}:")
    assert "[CSP101]" in message


def test_wrong_type_is_located(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: r
    kind: automatic
    title: R
    summary: S
    when: order.monthly_amount > 0
    action: send_delinquency_notice
    priority: high
    cite: [src]
""",
    )
    assert problems_of(path) == [
        f"{path}:15:15: rules.0.priority: Input should be a valid integer, unable to parse string as an integer (got 'high') [CSP103]"
    ]


def test_wrong_rule_kind_lists_allowed_values(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
rules:
  - id: r
    kind: automatc
    title: R
    summary: S
    when: order.monthly_amount > 0
    action: send_delinquency_notice
    cite: [src]
""",
    )
    (message,) = problems_of(path)
    assert message.startswith(f"{path}:10:11: rules.0.kind: Input should be 'automatic', 'threshold'")


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    path = write_policy(tmp_path, HEADER + "title: Again\n")
    assert problems_of(path) == [f"{path}:8:1: duplicate key 'title' (first at line 3) [CSP102]"]


def test_missing_header_and_missing_path(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "rules: []\n")
    assert problems_of(path) == [f"{path}: no file of this policy set declares `id` [CSP105]"]
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "nope")
    assert caught.value.problems[0].code is Code.FILE_NOT_FOUND


def test_extends_cycle_is_rejected(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_policy(a, HEADER.replace("id: t", "id: a") + "extends: ../b\n")
    write_policy(b, HEADER.replace("id: t", "id: b") + "extends: ../a\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(a)
    assert any(p.code is Code.EXTENDS_CYCLE for p in caught.value.problems)


def test_policy_error_message_lists_every_problem(tmp_path: Path) -> None:
    path = write_policy(tmp_path, HEADER + "rules: 5\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    text = str(caught.value)
    assert text.startswith("1 problem in policy:")
    assert f"{path}:8:8" in text


def test_derived_cycle_is_one_error_not_a_cascade(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        HEADER
        + """\
derived:
  first: second + 1
  second: first + 1
rules:
  - id: r
    kind: automatic
    title: R
    summary: S
    when: first > 0
    action: send_delinquency_notice
    cite: [src]
""",
    )
    messages = problems_of(path)
    assert len(messages) == 1
    assert "derived values depend on each other in a cycle: first → second → first" in messages[0]
