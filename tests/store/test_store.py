"""The decision store on SQLite: save, query, replay byte for byte, and the CLI around it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from cspolicy import load_policy
from cspolicy.cli import main
from cspolicy.store import DecisionStore, StoreError, store_url
from cspolicy.store.schema import metadata

from helpers import FIXTURES, ROOT

RECORDS = FIXTURES / "records"


def case(case_id: str = "S-1", as_of: str = "2025-03-04", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case_id": case_id,
        "as_of": as_of,
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2019-01-01", "monthly_amount": "350.00"},
        "arrears": {"family_owed": "350.00"},
        "payments": [{"date": "2025-01-31", "amount": "350.00"}],
        "paying_parent": {"address_known": True},
    }
    data.update(changes)
    return data


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with DecisionStore(tmp_path / "decisions.db") as opened:
        yield opened


@pytest.fixture(scope="module")
def state() -> Any:
    return load_policy(RECORDS / "state")


def test_save_load_replay_is_byte_identical(store: Any, state: Any) -> None:
    decision = state.evaluate(case(arrears={"family_owed": "2650.10"}))
    record = store.save(decision)
    assert store.record(record.record_id) == record
    assert store.stored_json(record.record_id) == decision.to_json()
    result = store.replay(record.record_id)
    assert result.identical
    assert result.replayed_json == decision.to_json()


def test_saving_twice_keeps_one_record(store: Any, state: Any) -> None:
    decision = state.evaluate(case())
    assert store.save(decision) == store.save(decision)
    assert len(store.records()) == 1


def test_queries_by_case_action_rule_date_version_and_overdue(store: Any, state: Any) -> None:
    store.save(state.evaluate(case("S-1", "2025-03-03")))  # day 30: on time
    store.save(state.evaluate(case("S-2", "2025-03-04")))  # day 31: overdue
    store.save(state.evaluate(case("S-3", "2025-03-04", arrears={"family_owed": "3000.00"})))
    ids = lambda found: sorted(s.record.case_id for s in found)  # noqa: E731
    assert ids(store.records(case_id="S-2")) == ["S-2"]
    assert ids(store.records(action="certify_passport_denial")) == ["S-3"]
    assert ids(store.records(rule="delinquency-enforcement")) == ["S-1", "S-2", "S-3"]
    assert ids(store.records(since=dt.date(2025, 3, 4))) == ["S-2", "S-3"]
    assert ids(store.records(until=dt.date(2025, 3, 3))) == ["S-1"]
    assert ids(store.records(policy_id="records-state", policy_version="2025.1")) == ["S-1", "S-2", "S-3"]
    assert ids(store.records(policy_version="1999.1")) == []
    assert ids(store.records(overdue=True)) == ["S-2", "S-3"]
    assert store.overdue_by_rule() == {"delinquency-enforcement": ["S-2", "S-3"]}
    assert store.overdue_count() == 2
    summary = store.records(case_id="S-2")[0]
    assert [(a.action, a.due_by, a.overdue) for a in summary.overdue] == [
        ("send_delinquency_notice", dt.date(2025, 3, 3), True)
    ]


def test_a_newer_decision_supersedes_the_old_one(store: Any, state: Any) -> None:
    old = store.save(state.evaluate(case("S-1", "2025-03-04")))
    assert store.overdue_by_rule() == {"delinquency-enforcement": ["S-1"]}
    notice = [{"action": "send_delinquency_notice", "date": "2025-03-05"}]
    new = store.save(state.evaluate(case("S-1", "2025-03-06", enforcement=notice)))
    current = {s.record.record_id: s.current for s in store.records(case_id="S-1")}
    assert current == {old.record_id: False, new.record_id: True}
    assert store.overdue_by_rule() == {}
    assert store.overdue_by_rule(current_only=False) == {"delinquency-enforcement": ["S-1"]}


def test_policy_edited_after_the_fact_does_not_change_the_replay(tmp_path: Path, store: Any) -> None:
    shutil.copytree(RECORDS, tmp_path / "records")
    policy = load_policy(tmp_path / "records" / "state")
    decision = policy.evaluate(case(arrears={"family_owed": "2650.10"}))
    record = store.save(decision)
    federal = tmp_path / "records" / "federal" / "policy.yaml"
    federal.write_text(
        federal.read_text(encoding="utf-8").replace("value: 2500", "value: 5000"), encoding="utf-8"
    )
    shutil.rmtree(tmp_path / "records" / "state")  # even the evaluated set is gone
    result = store.replay(record.record_id)
    assert result.identical
    assert "certify_passport_denial" in result.replayed.action_codes


def test_policy_texts_are_stored_once_per_digest(store: Any, state: Any) -> None:
    first = store.save(state.evaluate(case("S-1")))
    store.save(state.evaluate(case("S-2")))
    texts = store.policy_texts(first.policy.digest)
    assert sorted(texts.files) == ["federal/policy.yaml", "state/policy.yaml"]
    assert texts.root == "state"


def test_unknown_record_is_a_clear_error(store: Any) -> None:
    with pytest.raises(StoreError, match="no record 'rec-missing'"):
        store.replay("rec-missing")


def test_store_urls() -> None:
    assert store_url("/data/d.db") == "sqlite:////data/d.db"
    assert store_url("sqlite:///d.db") == "sqlite:///d.db"
    assert store_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"


def test_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open decision store"):
        DecisionStore(f"sqlite:///{tmp_path}/missing-dir/d.db")


def test_migrations_create_exactly_the_schema_the_queries_use(store: Any) -> None:
    inspector = inspect(store.engine)
    tables = set(inspector.get_table_names())
    assert set(metadata.tables) <= tables
    assert "cspolicy_schema_version" in tables
    for name, table in metadata.tables.items():
        assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys()), name
        assert {i["name"] for i in inspector.get_indexes(name)} == {i.name for i in table.indexes}, name


def test_reopening_a_store_keeps_its_records(tmp_path: Path, state: Any) -> None:
    with DecisionStore(tmp_path / "d.db") as first:
        record = first.save(state.evaluate(case()))
    with DecisionStore(f"sqlite:///{tmp_path / 'd.db'}") as again:
        assert again.replay(record.record_id).identical


def write_case(tmp_path: Path, name: str, data: dict[str, Any]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_cli_evaluate_store_records_and_replay(tmp_path: Path, capsys: Any) -> None:
    db = str(tmp_path / "cli.db")
    late = write_case(tmp_path, "late", case("C-1", "2025-03-04"))
    rich = write_case(tmp_path, "rich", case("C-2", "2025-03-04", arrears={"family_owed": "3000.00"}))
    assert main(["evaluate", late, rich, "--policy", str(RECORDS / "state"), "--store", db]) == 0
    capsys.readouterr()
    assert main(["records", "--store", db, "--action", "certify_passport_denial", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["case_id"] for r in listed] == ["C-2"]
    assert main(["records", "--store", db, "--overdue", "--by-rule", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"delinquency-enforcement": ["C-1", "C-2"]}
    assert main(["records", "--store", db, "--case", "C-1"]) == 0
    assert "due by 2025-03-03 (overdue)" in capsys.readouterr().out
    assert main(["replay", listed[0]["record_id"], "--store", db]) == 0
    assert "identical" in capsys.readouterr().out


def test_cli_replay_under_a_new_policy_lists_changed_cases(tmp_path: Path, capsys: Any) -> None:
    db = str(tmp_path / "cli.db")
    cases = [
        write_case(tmp_path, "a", case("C-1", arrears={"family_owed": "2650.10"})),
        write_case(tmp_path, "b", case("C-2")),
    ]
    assert main(["evaluate", *cases, "--policy", str(RECORDS / "state"), "--store", db]) == 0
    shutil.copytree(RECORDS, tmp_path / "new")
    federal = tmp_path / "new" / "federal" / "policy.yaml"
    federal.write_text(
        federal.read_text(encoding="utf-8").replace("value: 2500", "value: 5000"), encoding="utf-8"
    )
    capsys.readouterr()
    assert (
        main(["replay", "--store", db, "--policy", str(tmp_path / "new" / "state"), "--format", "json"]) == 0
    )
    changes = json.loads(capsys.readouterr().out)
    assert [c["case_id"] for c in changes] == ["C-1"]
    assert changes[0]["gained"] == []
    assert changes[0]["lost"][0].startswith("recommended: certify_passport_denial (rule passport-denial)")
    assert "because past-due support ($2,650.10) is more than" in changes[0]["lost"][0]
    assert main(["replay", "--store", db, "--policy", str(tmp_path / "new" / "state")]) == 0
    out = capsys.readouterr().out
    assert "before · records-state 2025.1" in out and "1 case(s) would change" in out


def test_cli_replay_needs_a_record_or_a_policy(tmp_path: Path) -> None:
    assert main(["replay", "--store", str(tmp_path / "x.db")]) == 2


@pytest.mark.parametrize("policy_set", ["wisconsin", "milwaukee-back-on-track", "san-bernardino"])
def test_shipped_sets_replay_identically_from_the_store(tmp_path: Path, policy_set: str) -> None:
    """Every example case the set accepts, under the version in force on its date (parents
    chosen by date too), saved and replayed from the stored texts alone."""
    from cspolicy import CaseSnapshot, CSPolicyError
    from cspolicy.engine.versions import PolicyVersions

    root = ROOT
    versions = PolicyVersions(root / "policies" / policy_set)
    with DecisionStore(tmp_path / "shipped.db") as store:
        saved = []
        for path in sorted((root / "examples" / "cases").glob("*.yaml")):
            try:
                decision = versions.evaluate(CaseSnapshot.from_file(path))
            except CSPolicyError:
                continue  # a case from another state or before the set's first version
            saved.append(store.save(decision))
        assert saved
        for record in saved:
            assert store.replay(record.record_id).identical, record.case_id
        digests = {record.policy.digest for record in saved}
        assert all(store.policy_texts(digest).files for digest in digests)


def test_cli_records_by_rule_in_words(tmp_path: Path, capsys: Any) -> None:
    db = str(tmp_path / "words.db")
    assert main(["records", "--store", db, "--by-rule"]) == 0
    assert "No overdue actions." in capsys.readouterr().out
    late = write_case(tmp_path, "late", case("W-1", "2025-03-04"))
    assert main(["evaluate", late, "--policy", str(RECORDS / "state"), "--store", db]) == 0
    capsys.readouterr()
    assert main(["records", "--store", db, "--by-rule"]) == 0
    assert "delinquency-enforcement: 1 case(s) overdue" in capsys.readouterr().out


def test_cli_store_errors_are_one_clear_line(tmp_path: Path, capsys: Any) -> None:
    assert main(["replay", "rec-nothing", "--store", str(tmp_path / "empty.db")]) == 1
    assert "no record 'rec-nothing'" in capsys.readouterr().err
    assert main(["records", "--store", f"sqlite:///{tmp_path}/no/such/dir.db"]) == 1
    assert "cannot open decision store" in capsys.readouterr().err
