"""The decision JSON written directly from encoded parts equals the general path, byte for byte.

`Decision.to_json()` writes its text piece by piece (`cspolicy.engine.jsontext`); the general
path is `json_text(decision.to_dict())`. These tests hold the two equal for every example case
under the Wisconsin, federal and California sets (held and waiting actions among them), in both
layouts served (indented by 2 and on one line), after explanations were read as models, after a
caller changed what it was given, and for data the direct writer does not write.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.outputs import UnwrittenJson, json_dump, json_layout, json_text
from cspolicy.engine.versions import PolicyVersions

from helpers import ROOT

SETS = [
    (ROOT / "policies" / "wisconsin", "cases-v2"),
    (ROOT / "policies" / "federal", "cases-v2"),
    (ROOT / "policies" / "california", "cases-ca"),
]


def _decisions(policy: Path, folder: str) -> list[Any]:
    versions = PolicyVersions(policy)
    decisions = []
    for case in sorted((ROOT / "examples" / folder).glob("[0-9]*.yaml")):
        try:
            decisions.append(versions.evaluate(case))
        except CSPolicyError:  # a case that does not fit this set: nothing to write
            continue
    return decisions


@pytest.mark.parametrize(("policy", "folder"), SETS, ids=[s[0].name for s in SETS])
def test_direct_text_equals_the_general_path(policy: Path, folder: str) -> None:
    kinds = {"actions": 0, "held": 0, "waiting": 0}
    for indent in (2, None):
        for decision in _decisions(policy, folder):  # fresh decisions: nothing read before
            text = decision.to_json(indent)
            assert text == json_text(decision.to_dict(), indent)
            assert text == json.dumps(decision.to_dict(), indent=indent, ensure_ascii=False)
            for kind in kinds:
                kinds[kind] += len(getattr(decision, kind))
    assert kinds["actions"], "no action written: the examples do not exercise the writer"
    if policy.name == "wisconsin":
        assert kinds["held"] and kinds["waiting"], "the Wisconsin examples hold and wait actions"


def test_explanations_read_first_and_changed_by_the_caller() -> None:
    decisions = _decisions(ROOT / "policies" / "wisconsin", "cases-v2")
    changed = 0
    for decision in decisions:
        for action in [*decision.actions, *decision.held, *decision.waiting]:
            assert action.because is not None  # read as models: the JSON is said from them
        for action in decision.actions:
            action.parameters["added by the caller"] = "1"  # what was handed out is what is written
            changed += 1
        assert decision.to_json() == json_text(decision.to_dict())
        assert '"added by the caller": "1"' in decision.to_json() or not decision.actions
    assert changed


def test_data_the_writer_does_not_write_takes_the_general_path() -> None:
    decision = next(d for d in _decisions(ROOT / "policies" / "wisconsin", "cases-v2") if d.actions)
    decision.actions[0].outputs["odd"] = Decimal("1.5")  # not JSON-ready: the general path serializes it
    assert decision.to_json() == json_text(decision.to_dict())
    with pytest.raises(UnwrittenJson):
        json_dump({"odd": Decimal("1.5")}, *json_layout(2))


@pytest.mark.parametrize("indent", [None, 0, 2, 4])
def test_json_dump_writes_what_json_dumps_writes(indent: int | None) -> None:
    data = {
        "empty": {},
        "none": [],
        "text": 'é \n " \\ \u2028 \x7f \x01 $1,234.50 — ñ',
        "nested": {"list": [1, -2, True, False, None, {"k": []}, [[]]], "0": "zero"},
        "tuple": (1, "two"),
    }
    assert json_dump(data, *json_layout(indent)) == json.dumps(data, indent=indent, ensure_ascii=False)
    if indent in (None, 2):
        assert json_dump(data, *json_layout(indent)) == json_text(data, indent)
