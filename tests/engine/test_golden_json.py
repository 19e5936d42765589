"""Golden decisions: every example case under every shipped policy set gives the same text as recorded.

The issue 16 contract for a faster evaluator is "byte-identical JSON to before, for every example".
This test holds it: for each shipped set (and the frozen v1 sets) and each example folder, the
Decision JSON, the English and Spanish text, and the why-not of every rule (Wisconsin and
California) — or the located error when the case does not fit — equal the goldens in
tests/fixtures/golden/. Each case is decided twice, from the validated snapshot and from the plain
data (the fast reader's path), and both must match.

After an intended change of output, regenerate with
`CSPOLICY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/engine/test_golden_json.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.versions import PolicyVersions
from cspolicy.source.yamlsource import load_yaml_file

from helpers import FIXTURES, ROOT

GOLDEN = FIXTURES / "golden"
UPDATE = os.environ.get("CSPOLICY_UPDATE_GOLDEN") == "1"

# (golden name, policy set, example folder, why-not of every rule too)
PAIRS = [
    ("wisconsin-v2", ROOT / "policies" / "wisconsin", "cases-v2", True),
    ("milwaukee-v2", ROOT / "policies" / "milwaukee-back-on-track", "cases-v2", False),
    ("federal-v2", ROOT / "policies" / "federal", "cases-v2", False),
    ("california-v2", ROOT / "policies" / "california", "cases-ca", True),
    ("san-bernardino-v2", ROOT / "policies" / "san-bernardino", "cases-ca", False),
    ("ca-full-pass-through", ROOT / "policies" / "reforms" / "ca-full-pass-through", "cases-ca", False),
    ("wisconsin-v1", FIXTURES / "policies-v1" / "wisconsin", "cases", False),
    ("milwaukee-v1", FIXTURES / "policies-v1" / "milwaukee-back-on-track", "cases", False),
]


def _cases(folder: str) -> list[Path]:
    return sorted((ROOT / "examples" / folder).glob("[0-9]*.yaml"))


def _outcome(versions: PolicyVersions, data: Any, why_not: bool) -> dict[str, Any]:
    """What a reader sees of one case: the JSON, the texts, the why-nots — or the error."""
    try:
        decision = versions.evaluate(data)
    except CSPolicyError as error:  # the checkout's own path made portable
        return {"error": str(error).replace(str(ROOT), "<root>")}
    out: dict[str, Any] = {"json": decision.to_json(), "text": decision.to_text()}
    try:
        out["text_es"] = decision.to_text("es")
    except CSPolicyError as error:
        out["text_es"] = "error: " + str(error).replace(str(ROOT), "<root>")
    if why_not:
        policy = versions.for_date(decision.as_of)
        out["why_not"] = {rule: str(decision.why_not(rule)) for rule in policy.rule_ids}
    return out


def _decide(policy: Path, folder: str, why_not: bool) -> dict[str, Any]:
    versions = PolicyVersions(policy)
    results: dict[str, Any] = {}
    for case in _cases(folder):
        data, _, problems = load_yaml_file(case)  # the values the CLI reads (money as Decimal)
        assert not problems
        from_model = _outcome(versions, case, why_not)
        from_data = _outcome(versions, data, why_not)
        assert from_data == from_model, f"{case.name}: plain data and the validated snapshot disagree"
        results[case.name] = from_model
    return results


@pytest.mark.parametrize(("name", "policy", "folder", "why_not"), PAIRS, ids=[p[0] for p in PAIRS])
def test_decisions_equal_the_goldens(name: str, policy: Path, folder: str, why_not: bool) -> None:
    results = _decide(policy, folder, why_not)
    golden = GOLDEN / f"{name}.json"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(results, indent=1, ensure_ascii=False, sort_keys=True) + "\n", "utf-8")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert sorted(results) == sorted(expected), "the example cases changed: regenerate the goldens"
    decided = [case for case, outcome in expected.items() if "json" in outcome]
    assert decided, f"{name}: no example case was decided (all errors) — the pairing is wrong"
    for case, outcome in expected.items():
        for part, text in outcome.items():
            assert results[case][part] == text, f"{name} {case}: {part} differs from the golden"
