"""Decide fast, explain on demand: a decision's explanations are built only when read, and its
JSON is the same bytes either way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cspolicy import CSPolicyError, DecisionModel, load_policy
from cspolicy.engine.explain import Explainer
from cspolicy.engine.outputs import json_text

from helpers import ROOT

CASES = sorted((ROOT / "examples" / "cases").glob("*.yaml"))

json_data = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_data, st.sampled_from([None, 2, 4]))
def test_json_text_writes_what_the_standard_library_writes(data: Any, indent: int | None) -> None:
    assert json_text(data, indent) == json.dumps(data, indent=indent, ensure_ascii=False)


def decisions() -> list[Any]:
    policy = load_policy(ROOT / "policies" / "wisconsin")
    made = []
    for case in CASES:
        try:
            made.append(policy.evaluate(case))
        except CSPolicyError:
            continue  # another state's case or a case outside the version
    assert len(made) >= 10
    return made


def test_decision_json_is_the_standard_librarys_indented_json_and_fits_its_model() -> None:
    for decision in decisions():
        text = decision.to_json()
        assert text == json.dumps(decision.to_dict(), indent=2, ensure_ascii=False)
        model = DecisionModel.model_validate_json(text)
        assert model.model_dump(mode="json") == json.loads(text)


def test_reading_codes_and_outputs_builds_no_explanation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = Explainer.because

    def counting(self: Explainer, rule: Any) -> Any:
        calls.append(rule.id)
        return original(self, rule)

    monkeypatch.setattr(Explainer, "because", counting)
    made = decisions()
    recommended = [action for decision in made for action in decision.actions]
    assert recommended, "the examples recommend actions"
    codes = [decision.action_codes for decision in made]
    outputs = [action.outputs for action in recommended]
    assert calls == [], "reading codes and outputs built explanations"
    assert any(codes) and len(outputs) == len(recommended)
    first = recommended[0]
    assert first.because and calls == [first.rule]
    assert first.because is first.because  # built once, then kept
    assert calls == [first.rule]


def test_held_action_is_explained_by_its_hold() -> None:
    held = [item for decision in decisions() for item in decision.held]
    assert held, "an example case has a held action"
    item = held[0]
    policy = load_policy(ROOT / "policies" / "wisconsin")
    hold = policy.compiled.rules[item.held_by]
    assert [trace.expr for trace in item.because] == [c.text for c in hold.when + hold.unless]
    assert item.citations == hold.citations


def test_actions_compare_by_content(tmp_path: Path) -> None:
    first, again = decisions()[0], decisions()[0]
    assert first.actions == again.actions
    assert first.to_json() == again.to_json()
