"""No acknowledged decision lost: SIGKILL a loaded `cspolicy serve --store`, restart, read back.

Several clients save decisions (`?store=true`) as fast as two worker processes take them; the
server and its workers are killed with SIGKILL while requests are in flight; a new server on the
same store must return, for every response that was a 200, the record it named, holding the
decision that response carried. Run on SQLite (WAL) and on PostgreSQL (pooled connections).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from pg_server import postgres
from service_helpers import Server, snapshot_json, start_server

from cspolicy.store.sealing import new_key

WI = "/v1/policies/wisconsin"
CASES = [
    "04-passport-level.yaml",
    "05-license-suspension.yaml",
    "09-job-loss-2024.yaml",
    "18-fully-current.yaml",
]
CLIENTS = 6
ACKNOWLEDGED_BEFORE_KILL = 60


class Load:
    """Clients posting `?store=true` until told to stop; what came back with a 200 is kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: list[tuple[str, str]] = []  # (record id, decision text)
        self.failed_after_kill = 0
        self.killed = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, args=(n,)) for n in range(CLIENTS)]
        self.bodies = [snapshot_json(case) for case in CASES]

    def client(self, number: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            index = number
            while not self.done.is_set():
                body = self.bodies[index % len(self.bodies)]
                index += 1
                try:
                    response = http.post(f"{WI}/decisions", params={"store": "true"}, content=body)
                except httpx.HTTPError:
                    if self.killed.is_set():
                        with self.lock:
                            self.failed_after_kill += 1
                    time.sleep(0.05)
                    continue
                if response.status_code == 200:
                    with self.lock:
                        self.acknowledged.append((response.headers["x-record-id"], response.text))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=60)


def kill_mid_load(server: Server) -> Load:
    with Load(server.url) as load:
        deadline = time.monotonic() + 240
        while len(load.acknowledged) < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(load.acknowledged) >= ACKNOWLEDGED_BEFORE_KILL, server.log_text()
        load.killed.set()
        server.kill()
        time.sleep(1.0)  # the clients keep sending into the dead port
    assert load.failed_after_kill > 0  # the kill came while the load was on
    return load


def assert_every_acknowledged_record_readable(server: Server, load: Load) -> None:
    record_ids = [record_id for record_id, _ in load.acknowledged]
    assert len(set(record_ids)) == len(record_ids)
    with server.client(key=None) as client:
        for record_id, text in load.acknowledged:
            response = client.get(f"/v1/records/{record_id}")
            assert response.status_code == 200, (record_id, response.text)
            assert response.json()["decision"] == json.loads(text)


def test_sqlite_store_keeps_every_acknowledged_decision_through_sigkill(
    copied_policies: Path, tmp_path: Path
) -> None:
    store = str(tmp_path / "store.db")
    server = start_server(
        tmp_path, copied_policies, "--store", store, "--workers", "2", "--log-level", "warning"
    )
    try:
        load = kill_mid_load(server)
    finally:
        server.stop()
    restarted = start_server(tmp_path, copied_policies, "--store", store)
    try:
        assert_every_acknowledged_record_readable(restarted, load)
    finally:
        restarted.stop()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres() as url:
        if url is None:
            reason = (
                "PostgreSQL is not installed (apt-get install -y postgresql, or set CSPOLICY_TEST_PG_URL)"
            )
            if os.environ.get("CI"):
                pytest.fail(reason + "; CI must run the PostgreSQL tests")
            pytest.skip(reason)
        yield url


def client_connections(url: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_postgres_store_pooled_and_keeps_every_acknowledged_decision_through_sigkill(
    copied_policies: Path, tmp_path: Path, postgres_url: str
) -> None:
    key = {"CSPOLICY_RECORDS_KEY": new_key()}  # snapshots hold sealed values; no key file beside PostgreSQL
    args = ("--store", postgres_url, "--log-level", "warning")
    server = start_server(tmp_path, copied_policies, *args, "--workers", "2", "--threads", "4", env=key)
    try:
        with Load(server.url) as load:
            while len(load.acknowledged) < 40:
                time.sleep(0.05)
        # Each worker process keeps its pool: connections stay open between requests, at most
        # 5 + 10 overflow per process, far fewer than the requests made.
        assert 1 <= client_connections(postgres_url) <= 2 * 15 < len(load.acknowledged)
        load = kill_mid_load(server)
    finally:
        server.stop()
    restarted = start_server(tmp_path, copied_policies, *args, env=key)
    try:
        assert_every_acknowledged_record_readable(restarted, load)
    finally:
        restarted.stop()
