"""Determinism: the same policy and snapshot give byte-identical Decision JSON, every time.

Within one process (repeated evaluation, fresh loads, snapshot keys in another order) and
across processes with different hash seeds (set and dict iteration order must not leak into
the output); the same holds for the text of policy errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cspolicy import CaseSnapshot, PolicyError, load_policy
from cspolicy.engine.versions import PolicyVersions

from helpers import FIXTURES, ROOT

HOSTILE_FIXTURES = FIXTURES / "hostile"
CASES = [  # the Wisconsin example cases (the others belong to other states' policies)
    case
    for case in sorted((ROOT / "examples" / "cases").glob("*.yaml"))
    if CaseSnapshot.from_file(case).jurisdiction.state == "WI"
]
SNAPSHOT: dict[str, Any] = {
    "case_id": "DET-1",
    "as_of": "2025-03-01",
    "jurisdiction": {"state": "WI"},
    "order": {"established_on": "2020-01-01", "monthly_amount": "350.10"},
    "arrears": {"family_owed": "1050.30", "state_owed": "0.00"},
    "payments": [
        {"date": "2024-11-01", "amount": "20.00", "applied_to": "family_arrears"},
        {"date": "2025-03-01", "amount": "5.00", "applied_to": "family_arrears"},
    ],
    "paying_parent": {"licenses": [{"type": "driver", "status": "active"}], "employer_known": True},
    "receiving_parent": {"family_violence_indicator": True},
    "enforcement": [{"action": "send_delinquency_notice", "date": "2025-01-01", "status": "sent"}],
}

# Run in a fresh interpreter: every decision of the fixture and the example cases, as JSON text.
SCRIPT = """
import json, sys
from pathlib import Path
from cspolicy import CaseSnapshot, PolicyError, load_policy
from cspolicy.engine.versions import PolicyVersions
fixture, broken, snapshot, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:]
out = {"fixture": load_policy(fixture).evaluate(snapshot).to_json()}
wisconsin = PolicyVersions("policies/wisconsin")
out["digest"] = " ".join(p.digest for p in wisconsin.all())
for case in cases:
    snapshot = CaseSnapshot.from_file(case)
    out[Path(case).name] = wisconsin.for_date(snapshot.as_of).evaluate(snapshot).to_json()
try:
    load_policy(broken)
except PolicyError as error:
    out["error"] = str(error)
print(json.dumps(out))
"""


def reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reversed_keys(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


@pytest.fixture(scope="module")
def broken_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture with several independent problems, to check error text order."""
    directory = tmp_path_factory.mktemp("broken")
    text = (HOSTILE_FIXTURES / "base" / "policy.yaml").read_text(encoding="utf-8")
    text = text.replace("arrears.total > params.threshold", "arrears.totl > params.threshod")
    text = text.replace("cite: [src-a]\n  - id: safety-hold", "cite: [src-b]\n  - id: safety-hold")
    text = text.replace("holds: [lien]", "holds: [lein, notice]")
    (directory / "policy.yaml").write_text(text, encoding="utf-8")
    return directory


def in_process(broken: Path) -> dict[str, str]:
    out = {"fixture": load_policy(HOSTILE_FIXTURES / "base").evaluate(SNAPSHOT).to_json()}
    wisconsin = PolicyVersions(ROOT / "policies" / "wisconsin")
    out["digest"] = " ".join(p.digest for p in wisconsin.all())
    for case in CASES:
        snapshot = CaseSnapshot.from_file(case)
        out[case.name] = wisconsin.for_date(snapshot.as_of).evaluate(snapshot).to_json()
    with pytest.raises(PolicyError) as caught:
        load_policy(broken)
    out["error"] = str(caught.value)
    return out


def test_repeated_evaluation_is_byte_identical() -> None:
    policy = load_policy(HOSTILE_FIXTURES / "base")
    first = policy.evaluate(SNAPSHOT).to_json()
    assert all(policy.evaluate(SNAPSHOT).to_json() == first for _ in range(20))
    assert load_policy(HOSTILE_FIXTURES / "base").evaluate(SNAPSHOT).to_json() == first
    assert policy.evaluate(reversed_keys(SNAPSHOT)).to_json() == first
    assert json.loads(first)["actions"], "the fixture case should recommend something"


def test_decision_json_is_stable_text() -> None:
    text = load_policy(HOSTILE_FIXTURES / "base").evaluate(SNAPSHOT).to_json()
    data = json.loads(text)
    # Money is exact text, never a binary float; nothing depends on the clock.
    assert data["actions"][0]["because"][0]["values"]["arrears.total"] == "1050.30"
    assert "0000000" not in text


def test_policy_errors_are_reported_in_a_stable_order(broken_policy: Path) -> None:
    messages = set()
    for _ in range(3):
        with pytest.raises(PolicyError) as caught:
            load_policy(broken_policy)
        messages.add(str(caught.value))
    assert len(messages) == 1
    lines = next(iter(messages)).splitlines()[1:]
    assert lines == sorted(lines, key=lambda line: (int(line.split(":")[1]), int(line.split(":")[2])))
    assert len(lines) == 3  # unknown name, unknown source, unknown rule


@pytest.mark.parametrize("seed", ["0", "12345"])
def test_other_processes_give_the_same_bytes(broken_policy: Path, seed: str) -> None:
    assert CASES, "examples/cases is empty"
    expected = in_process(broken_policy)
    env = {**os.environ, "PYTHONHASHSEED": seed}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(HOSTILE_FIXTURES / "base"),
            str(broken_policy),
            json.dumps(SNAPSHOT),
            *map(str, CASES),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == expected
