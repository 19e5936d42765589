"""The decision store on a real PostgreSQL server, started for these tests on a loopback port.

The server comes from Debian's `postgresql` package (`initdb`/`pg_ctl`, found on PATH or under
/usr/lib/postgresql/*/bin), runs from a temporary directory as the `postgres` user when the
tests run as root, and is stopped afterwards. Set CSPOLICY_TEST_PG_URL to use a server of your
own instead. The tests skip, saying why, only when no PostgreSQL binaries are installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from cspolicy import load_policy
from cspolicy.store import DecisionStore
from cspolicy.store.schema import metadata

from helpers import FIXTURES

RECORDS = FIXTURES / "records"


def _binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(directory, "pg_ctl").exists():
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    given = os.environ.get("CSPOLICY_TEST_PG_URL")
    if given:
        yield given
        return
    binaries = _binaries()
    if binaries is None:
        reason = "PostgreSQL is not installed (apt-get install -y postgresql, or set CSPOLICY_TEST_PG_URL)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must run the PostgreSQL tests")
        pytest.skip(reason)
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="cspolicy-pg-"))
    if as_postgres:
        shutil.chown(home, user="postgres")
    data, port = home / "data", _free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, timeout=120)

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", "cspolicy", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(home, ignore_errors=True)
        raise RuntimeError(f"cannot start PostgreSQL: {exc.stderr.decode(errors='replace')}") from exc
    try:
        yield f"postgresql://cspolicy@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def store(postgres_url: str) -> Iterator[Any]:
    """A fresh schema per test, so tests do not see each other's records."""
    schema = "t_" + uuid.uuid4().hex[:12]
    setup = DecisionStore(postgres_url, upgrade=False)
    with setup.engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    setup.close()
    separator = "&" if "?" in postgres_url else "?"
    url = f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    with DecisionStore(url) as opened:
        yield opened
    cleanup = DecisionStore(postgres_url, upgrade=False)
    with cleanup.engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    cleanup.close()


def case(case_id: str, as_of: str, **changes: Any) -> dict[str, Any]:
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


def test_postgres_save_load_replay_is_byte_identical(store: Any) -> None:
    assert store.engine.dialect.name == "postgresql"
    policy = load_policy(RECORDS / "county")
    decision = policy.evaluate(case("PG-1", "2025-03-04", arrears={"family_owed": "2650.10"}))
    record = store.save(decision)
    assert store.record(record.record_id) == record
    assert store.stored_json(record.record_id) == decision.to_json()
    result = store.replay(record.record_id)
    assert result.identical
    assert result.replayed_json == decision.to_json()


def test_postgres_queries_match_sqlite(store: Any, tmp_path: Path) -> None:
    policy = load_policy(RECORDS / "state")
    decisions = [
        policy.evaluate(case("PG-1", "2025-03-03")),
        policy.evaluate(case("PG-2", "2025-03-04")),
        policy.evaluate(case("PG-3", "2025-03-04", arrears={"family_owed": "3000.00"})),
    ]
    with DecisionStore(tmp_path / "same.db") as sqlite:
        for target in (store, sqlite):
            target.save_many([(d, None) for d in decisions])
        for query in ({"overdue": True}, {"action": "certify_passport_denial"}, {"case_id": "PG-1"}):
            assert [s.record for s in store.records(**query)] == [s.record for s in sqlite.records(**query)]
        assert (
            store.overdue_by_rule()
            == sqlite.overdue_by_rule()
            == {"delinquency-enforcement": ["PG-2", "PG-3"]}
        )


def test_postgres_schema_is_the_sqlite_schema(store: Any) -> None:
    inspector = inspect(store.engine)
    for name, table in metadata.tables.items():
        assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys()), name
        assert {i["name"] for i in inspector.get_indexes(name)} == {i.name for i in table.indexes}, name


def test_postgres_replay_ignores_a_policy_edited_after_the_fact(store: Any, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(RECORDS, tmp_path / "records")
    decision = load_policy(tmp_path / "records" / "state").evaluate(
        case("PG-9", "2025-03-04", arrears={"family_owed": "2650.10"})
    )
    record = store.save(decision)
    federal = tmp_path / "records" / "federal" / "policy.yaml"
    federal.write_text(
        federal.read_text(encoding="utf-8").replace("value: 2500", "value: 5000"), encoding="utf-8"
    )
    result = store.replay(record.record_id)
    assert result.identical
    assert "certify_passport_denial" in result.replayed.action_codes
