"""Protected data in decision records: FTI and FVI values are sealed in the store, masked in
exports and listings unless the reader holds the scope, replay stays byte for byte, reads are logged."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from cspolicy import load_policy
from cspolicy.cli import main
from cspolicy.store import DecisionStore, StoreError
from cspolicy.store.guard import Guard, default_reader
from cspolicy.store.protection import Classifier, decision_marks
from cspolicy.store.schema import decisions
from cspolicy.store.sealing import ENV_KEY, ENV_KEY_FILE, SealError, new_key

from helpers import FIXTURES, ROOT

PROTECTED_POLICY = FIXTURES / "case_schema" / "protected-policy"
ACME = FIXTURES / "case_schema"
FTI_AMOUNT = "4321.98"
SHELTER = "Quillbrook Refuge"
# Every form the protected values take in a decision: the amount, in words, the derived value
# computed from it (4321.98 - 100), in words, and the FVI text.
NEEDLES = [FTI_AMOUNT, "4,321.98", "4221.98", "4,221.98", SHELTER, "Quillbrook"]


def protected_case(case_id: str = "P-1", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case_id": case_id,
        "as_of": "2025-03-01",
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2020-01-01", "monthly_amount": "350.00"},
        "tax_offset": {"federal_amount_offset": FTI_AMOUNT},
        "receiving_parent": {"good_cause": "granted", "shelter_name": SHELTER},
    }
    data.update(changes)
    return data


@pytest.fixture(autouse=True)
def no_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in the developer's environment must not change what these tests see."""
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)


@pytest.fixture(scope="module")
def policy() -> Any:
    return load_policy(PROTECTED_POLICY)


def wal(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def leaks(text: str | bytes) -> list[str]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return [needle for needle in NEEDLES if needle.encode("utf-8") in data]


def test_the_decision_itself_carries_the_values(policy: Any) -> None:
    """The premise: without protection these values would reach the store (so the checks below can fail)."""
    made = policy.evaluate(protected_case()).to_json()
    assert leaks(made) == NEEDLES


def test_values_appear_nowhere_in_the_database_file_wal_included(tmp_path: Path, policy: Any) -> None:
    db, key = tmp_path / "d.db", new_key()
    store = DecisionStore(db, key=key)
    event.listen(store.engine, "connect", wal)  # as the service runs it: WAL mode
    store.engine.dispose()
    decision = policy.evaluate(protected_case())
    record = store.save(decision)
    store.stored_json(record.record_id)
    assert store.replay(record.record_id).identical
    files = [p for p in tmp_path.iterdir() if p.name.startswith("d.db")]
    assert {p.name for p in files} >= {"d.db", "d.db-wal"}
    for path in files:
        assert leaks(path.read_bytes()) == [], path.name
    store.close()
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sealed = raw.execute("SELECT sealed FROM cspolicy_decisions").fetchone()[0]
    assert sealed.startswith("aesgcm1:")
    assert leaks(db.read_bytes()) == []
    # What is stored still reads back whole, with the key and both scopes.
    with DecisionStore(db, key=key) as again:
        assert again.stored_json(record.record_id, scopes=["fti", "fvi"]) == decision.to_json()


def test_replay_reproduces_the_decision_byte_for_byte(tmp_path: Path, policy: Any) -> None:
    key = new_key()
    decision = policy.evaluate(protected_case())
    with DecisionStore(tmp_path / "d.db", key=key) as store:
        record = store.save(decision)
    with DecisionStore(tmp_path / "d.db", key=key) as store:
        result = store.replay(record.record_id)
        assert result.identical
        assert result.original_json == decision.to_json()
        assert leaks(result.stored_json) == [] and leaks(result.replayed_json) == []
        full = store.replay(record.record_id, scopes=["fti", "fvi"])
        assert full.stored_json == decision.to_json() == full.replayed_json


def test_masked_unless_the_reader_holds_the_scope(tmp_path: Path, policy: Any) -> None:
    decision = policy.evaluate(protected_case())
    with DecisionStore(tmp_path / "d.db") as store:
        record_id = store.save(decision).record_id
        masked = json.loads(store.stored_json(record_id))
        offset, shelter = masked["actions"]
        assert offset["outputs"] == {"offset_amount": "[withheld: fti]", "monthly_amount": "350.00"}
        assert offset["because"][0]["values"] == {"offset_above_minimum": "[withheld: fti]"}
        assert offset["because"][0]["text"] == "[withheld: fti]"
        assert offset["because"][1]["text"] == "the monthly support amount ($350.00) is more than 0"
        assert shelter["because"][1]["values"] == {"receiving_parent.good_cause": "[withheld: fvi]"}
        assert [a["action"] for a in masked["actions"]] == decision.action_codes

        fti = store.stored_json(record_id, scopes=["fti"])
        assert "$4,321.98" in fti and SHELTER not in fti
        fvi = store.stored_json(record_id, scopes=["fvi"])
        assert SHELTER in fvi and FTI_AMOUNT not in fvi
        assert store.stored_json(record_id, scopes=["fti", "fvi"]) == decision.to_json()

        snapshot = json.loads(store.snapshot_json(record_id))
        assert snapshot["tax_offset"] == {"federal_amount_offset": "[withheld: fti]"}
        assert snapshot["receiving_parent"]["shelter_name"] == "[withheld: fvi]"
        assert snapshot["order"]["monthly_amount"] == "350.00"
        assert (
            store.snapshot(record_id).tax_offset.federal_amount_offset
            == decision.outcome.snapshot.tax_offset.federal_amount_offset
        )
        with pytest.raises(StoreError, match="unknown scope pii"):
            store.stored_json(record_id, scopes=["pii"])


def test_a_value_is_masked_whatever_it_is(tmp_path: Path) -> None:
    """The FVI flag of child-support/v1 is masked when false as when true: the mask says nothing."""
    federal = load_policy(ROOT / "policies" / "federal")
    base = {
        "as_of": "2025-03-01",
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2020-01-01", "monthly_amount": "350.00"},
    }
    with DecisionStore(tmp_path / "d.db") as store:
        views = []
        for flag in (True, False):
            case = {**base, "case_id": "FV-1", "receiving_parent": {"family_violence_indicator": flag}}
            record = store.save(federal.evaluate(case))
            views.append(json.loads(store.snapshot_json(record.record_id)))
        assert views[0] == views[1]
        assert views[0]["receiving_parent"]["family_violence_indicator"] == "[withheld: fvi]"
        flagged = store.records(case_id="FV-1", action="apply_family_violence_safeguards")[0]
        trace = json.loads(store.stored_json(flagged.record.record_id))["actions"][0]["because"][0]
        assert trace["values"] == {"receiving_parent.family_violence_indicator": "[withheld: fvi]"}
        assert trace["result"] == "[withheld: fvi]"


def test_cli_listing_export_and_replay_mask_unless_scoped(tmp_path: Path, capsys: Any, policy: Any) -> None:
    db = str(tmp_path / "cli.db")
    # Saved through the library: `cspolicy evaluate FILE` reads files as child-support/v1.
    with DecisionStore(db) as store:
        store.save(policy.evaluate(protected_case()))
    outputs = {}
    for name, argv in {
        "listing": ["records", "--store", db],
        "json": ["records", "--store", db, "--format", "json"],
        "export": ["records", "--store", db, "--export"],
    }.items():
        assert main(argv) == 0, name
        outputs[name] = capsys.readouterr().out
        assert leaks(outputs[name]) == [], name
    exported = json.loads(outputs["export"])
    record_id = exported[0]["record_id"]
    assert exported[0]["decision"]["actions"][0]["outputs"]["offset_amount"] == "[withheld: fti]"
    assert exported[0]["snapshot"]["receiving_parent"]["shelter_name"] == "[withheld: fvi]"
    assert main(["replay", record_id, "--store", db, "--format", "json"]) == 0
    replayed = capsys.readouterr().out
    assert json.loads(replayed)["identical"] is True and leaks(replayed) == []

    assert main(["records", "--store", db, "--export", "--scope", "fti", "--scope", "fvi"]) == 0
    scoped = capsys.readouterr().out
    assert leaks(scoped) == NEEDLES
    assert main(["replay", record_id, "--store", db, "--format", "json", "--scope", "fti"]) == 0
    assert leaks(capsys.readouterr().out) == [FTI_AMOUNT, "4,321.98", "4221.98", "4,221.98"]

    assert main(["records", "--store", db, "--access-log", "--record", record_id, "--format", "json"]) == 0
    log = json.loads(capsys.readouterr().out)
    reader = f"cli:{default_reader()}"
    assert [(e["reader"], e["what"], e["scopes"]) for e in log] == [
        (reader, "list", []),
        (reader, "list", []),
        (reader, "list", []),
        (reader, "export", []),
        (reader, "replay", []),
        (reader, "list", []),
        (reader, "export", ["fti", "fvi"]),
        (reader, "replay", ["fti"]),
    ]


def test_the_access_log_has_every_read(tmp_path: Path, policy: Any) -> None:
    with DecisionStore(tmp_path / "d.db", reader="library") as store:
        record_id = store.save(policy.evaluate(protected_case())).record_id
        other = store.save(policy.evaluate(protected_case("P-2"))).record_id
        assert store.access_log() == []  # saving is not reading
        store.record(record_id)
        store.stored_json(record_id, reader="caseworker-7")
        store.read_decision(record_id, scopes=["fvi"], reader="service:fvi-key")
        store.snapshot_json(other, scopes=["fti"])
        store.replay(record_id)
        store.records(case_id="P-2")
        log = store.access_log()
        assert [(e.reader, e.record_id, e.what, e.scopes) for e in log] == [
            ("library", record_id, "record", ()),
            ("caseworker-7", record_id, "decision", ()),
            ("service:fvi-key", record_id, "decision", ("fvi",)),
            ("library", other, "snapshot", ("fti",)),
            ("library", record_id, "replay", ()),
            ("library", other, "list", ()),
        ]
        assert all(e.at.tzinfo is not None for e in log)
        assert [e.what for e in store.access_log(record_id=other)] == ["snapshot", "list"]
        assert [e.what for e in store.access_log(reader="caseworker-7")] == ["decision"]


def test_a_missing_or_wrong_key_is_a_clear_error(tmp_path: Path, policy: Any, monkeypatch: Any) -> None:
    with pytest.raises(SealError, match="no records key is configured: set CSPOLICY_RECORDS_KEY"):
        Guard("postgresql+psycopg://nobody@localhost/none", None).sealer(create=True)
    key_file = tmp_path / "records.key"
    key_file.write_text(new_key() + "\n", encoding="utf-8")
    monkeypatch.setenv(ENV_KEY_FILE, str(key_file))
    with DecisionStore(tmp_path / "d.db") as store:
        record_id = store.save(policy.evaluate(protected_case())).record_id
    assert not (tmp_path / "d.db.key").exists()  # the configured key, not a development key file
    monkeypatch.setenv(ENV_KEY, new_key())  # the variable comes first: now another key
    with DecisionStore(tmp_path / "d.db") as store:
        assert leaks(store.stored_json(record_id)) == []  # masked views need no key
        with pytest.raises(StoreError, match=r"was sealed with key [0-9a-f]{16}; the records key given is"):
            store.replay(record_id)
    monkeypatch.setenv(ENV_KEY, "not a key")
    with pytest.raises(StoreError, match="records key from CSPOLICY_RECORDS_KEY is not 32 bytes"):
        DecisionStore(tmp_path / "d.db").stored_json(record_id, scopes=["fti"])


def test_a_sealed_text_moved_to_another_record_does_not_open(tmp_path: Path, policy: Any) -> None:
    with DecisionStore(tmp_path / "d.db") as store:
        first = store.save(policy.evaluate(protected_case("P-1"))).record_id
        second = store.save(policy.evaluate(protected_case("P-2"))).record_id
        with store.engine.begin() as connection:
            sealed = connection.execute(
                decisions.select().with_only_columns(decisions.c.sealed).where(decisions.c.record_id == first)
            ).scalar_one()
            connection.execute(update(decisions).where(decisions.c.record_id == second).values(sealed=sealed))
        with pytest.raises(StoreError, match="damaged or belongs elsewhere"):
            store.stored_json(second, scopes=["fti"])


def test_derived_values_and_outputs_inherit_the_classification(policy: Any) -> None:
    classifier = Classifier(policy.compiled)
    assert classifier.schema.leaves["tax_offset.federal_amount_offset"].classification.value == "fti"
    marks = {m.path: sorted(m.classes) for m in decision_marks(policy.evaluate(protected_case()), classifier)}
    assert marks[("actions", 0, "because", 0, "values", "offset_above_minimum")] == ["fti"]
    assert marks[("actions", 0, "outputs", "offset_amount")] == ["fti"]
    assert ("actions", 0, "outputs", "monthly_amount") not in marks
    assert ("actions", 0, "because", 1, "text") not in marks


def test_cli_new_key_is_a_key(capsys: Any, tmp_path: Path, policy: Any) -> None:
    assert main(["records", "--new-key"]) == 0
    key = capsys.readouterr().out.strip()
    with DecisionStore(tmp_path / "d.db", key=key) as store:
        record_id = store.save(policy.evaluate(protected_case())).record_id
        assert SHELTER in store.stored_json(record_id, scopes=["fvi"])


def test_a_custom_case_schema_replays_from_the_store(tmp_path: Path) -> None:
    import yaml

    acme = load_policy(ACME / "acme-policy")
    decision = acme.evaluate(yaml.safe_load((ACME / "acme" / "case.yaml").read_text(encoding="utf-8")))
    with DecisionStore(tmp_path / "d.db") as store:
        record = store.save(decision)
        assert sorted(store.policy_texts(record.policy.digest).files) == [
            "acme-policy/policy.yaml",
            "acme/schema.yaml",
        ]
        result = store.replay(record.record_id)
        assert result.identical and result.replayed.action_codes == ["send_delinquency_notice"]


def test_the_development_key_file_is_private_and_reused(tmp_path: Path, policy: Any) -> None:
    import stat

    with DecisionStore(tmp_path / "d.db") as store:
        record_id = store.save(policy.evaluate(protected_case())).record_id
    key_file = tmp_path / "d.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("d.db.key")] == ["d.db.key"]
    with DecisionStore(tmp_path / "d.db") as again:  # reopened: the same key opens the record
        assert again.replay(record_id).identical


def test_what_if_under_a_new_policy_compares_whole_and_shows_masked(
    tmp_path: Path, capsys: Any, policy: Any
) -> None:
    import shutil

    for name in ("protected", "protected-policy"):
        shutil.copytree(ACME / name, tmp_path / "new" / name)
    changed = tmp_path / "new" / "protected-policy" / "policy.yaml"
    changed.write_text(
        changed.read_text(encoding="utf-8").replace("value: 100}", "value: 5000}"), encoding="utf-8"
    )
    db = str(tmp_path / "d.db")
    with DecisionStore(db) as store:
        store.save(policy.evaluate(protected_case()))
    new = str(tmp_path / "new" / "protected-policy")
    assert main(["replay", "--store", db, "--policy", new, "--format", "json"]) == 0
    masked = capsys.readouterr().out
    (change,) = json.loads(masked)
    assert change["gained"] == [] and change["lost"][0].startswith("recommended: review_offset_distribution")
    assert "offset_amount = [withheld: fti]" in change["lost"][0]
    assert leaks(masked) == []
    assert main(["replay", "--store", db, "--policy", new, "--format", "json", "--scope", "fti"]) == 0
    assert "offset_amount = 4321.98" in capsys.readouterr().out
