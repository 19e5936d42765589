"""Decision records: what a record holds, and reproducing a decision from it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import cspolicy
from cspolicy import CaseSnapshot, Decision, load_policy
from cspolicy.engine.records import (
    PolicyTexts,
    ReplayMismatch,
    canonical_snapshot,
    compile_policy_texts,
    policy_texts,
    snapshot_digest,
    snapshot_from_canonical,
)

from helpers import FIXTURES

RECORDS = FIXTURES / "records"


def case(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case_id": "REC-1",
        "as_of": "2025-03-04",
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2019-01-01", "monthly_amount": "350.00"},
        "arrears": {"family_owed": "2650.10"},
        "payments": [{"date": "2025-01-31", "amount": "350.00"}],
    }
    data.update(changes)
    return data


@pytest.fixture
def state() -> Any:
    return load_policy(RECORDS / "state")


def test_record_names_policy_parameters_snapshot_version_and_time(state: Any) -> None:
    decision = state.evaluate(case())
    record = decision.record()
    assert record.case_id == "REC-1"
    assert record.policy == decision.policy
    assert record.policy.digest == state.digest
    assert record.parameters == {"contempt_screen_days": 90, "passport_denial_threshold": "2500"}
    assert record.snapshot_digest == snapshot_digest(CaseSnapshot.parse(case()))
    assert record.cspolicy_version == cspolicy.__version__
    assert record.evaluated_at.tzinfo is not None
    assert record.record_id.startswith("rec-") and len(record.record_id) == 36


def test_evaluation_time_stays_out_of_the_decision_json(state: Any) -> None:
    first, second = state.evaluate(case()), state.evaluate(case())
    assert first.to_json() == second.to_json()
    assert first.record().decision_digest == second.record().decision_digest
    assert "evaluated_at" not in first.to_json()
    # Each evaluation is its own record; the same evaluation always gives the same id.
    assert first.record().record_id == first.record().record_id
    if first.record().evaluated_at != second.record().evaluated_at:
        assert first.record().record_id != second.record().record_id


def test_from_record_reproduces_identical_json(state: Any) -> None:
    decision = state.evaluate(case())
    record = decision.record()
    again = Decision.from_record(record, CaseSnapshot.parse(case()), state)
    assert again.to_json() == decision.to_json()


def test_from_record_refuses_another_snapshot(state: Any) -> None:
    record = state.evaluate(case()).record()
    other = CaseSnapshot.parse(case(arrears={"family_owed": "2650.11"}))
    with pytest.raises(ReplayMismatch, match="not the one recorded"):
        Decision.from_record(record, other, state)


def test_from_record_refuses_another_policy(state: Any) -> None:
    record = state.evaluate(case()).record()
    with pytest.raises(ReplayMismatch, match="the record was made under"):
        Decision.from_record(record, CaseSnapshot.parse(case()), load_policy(RECORDS / "county"))


def test_canonical_snapshot_round_trips_exact_amounts() -> None:
    snapshot = CaseSnapshot.parse(case())
    text = canonical_snapshot(snapshot)
    assert '"family_owed":"2650.10"' in text
    assert snapshot_from_canonical(text) == snapshot
    assert canonical_snapshot(snapshot_from_canonical(text)) == text


def test_policy_texts_keep_parents_and_layout(state: Any) -> None:
    texts = policy_texts(state)
    assert texts.root == "state"
    assert sorted(texts.files) == ["federal/policy.yaml", "state/policy.yaml"]
    assert texts.files["state/policy.yaml"] == (RECORDS / "state" / "policy.yaml").read_text(encoding="utf-8")


def test_policy_edited_after_the_fact_does_not_change_the_replay(tmp_path: Path) -> None:
    shutil.copytree(RECORDS, tmp_path / "records")
    policy = load_policy(tmp_path / "records" / "state")
    decision = policy.evaluate(case())
    assert "certify_passport_denial" in decision.action_codes
    record, texts = decision.record(), policy_texts(policy)
    # The parent raises the threshold after the decision was made.
    federal = tmp_path / "records" / "federal" / "policy.yaml"
    federal.write_text(
        federal.read_text(encoding="utf-8").replace("value: 2500", "value: 5000"), encoding="utf-8"
    )
    edited = load_policy(tmp_path / "records" / "state")
    assert "certify_passport_denial" not in edited.evaluate(case()).action_codes
    with pytest.raises(ReplayMismatch):
        Decision.from_record(record, CaseSnapshot.parse(case()), edited)
    replayed = Decision.from_record(record, CaseSnapshot.parse(case()), texts)
    assert replayed.to_json() == decision.to_json()


def test_stored_texts_that_do_not_match_their_digest_are_refused(state: Any) -> None:
    texts = policy_texts(state)
    files = dict(texts.files)
    files["federal/policy.yaml"] = files["federal/policy.yaml"].replace("value: 2500", "value: 2501")
    tampered = PolicyTexts(**{**texts.model_dump(), "files": files, "digest": "sha256:" + "0" * 64})
    with pytest.raises(cspolicy.PolicyError, match="compile to"):
        compile_policy_texts(tampered)


def test_stored_paths_cannot_leave_their_directory(state: Any) -> None:
    texts = policy_texts(state)
    escaping = PolicyTexts(**{**texts.model_dump(), "files": {"../evil.yaml": "x: 1"}, "digest": "sha256:1"})
    with pytest.raises(cspolicy.PolicyError, match="leaves its directory"):
        compile_policy_texts(escaping)


def test_absolute_extends_cannot_be_stored(tmp_path: Path) -> None:
    shutil.copytree(RECORDS, tmp_path / "records")
    state_file = tmp_path / "records" / "state" / "policy.yaml"
    absolute = str(tmp_path / "records" / "federal")
    state_file.write_text(
        state_file.read_text(encoding="utf-8").replace("extends: ../federal", f"extends: {absolute}"),
        encoding="utf-8",
    )
    texts = policy_texts(load_policy(tmp_path / "records" / "state"))
    with pytest.raises(cspolicy.PolicyError, match="reaches outside the stored files"):
        compile_policy_texts(texts)
