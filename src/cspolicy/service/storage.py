"""The decision store as the service uses it: opened once, safe for concurrent writers.

SQLite: every connection runs in WAL mode (readers never wait for the writer) with a 30 s busy
timeout, and every transaction starts with ``BEGIN IMMEDIATE`` so a writer takes the write lock
up front and waits its turn instead of failing half-way (pysqlite's deferred BEGIN lets two
writers both read, then one fails to upgrade with "database is locked"). Worker threads and
worker processes may therefore all save at once. ``synchronous=NORMAL`` in WAL mode keeps every
committed transaction through a crash of the process (SIGKILL included); only a power loss may
lose the last few.

PostgreSQL: SQLAlchemy's connection pool (5 connections, 10 more on demand, per process).
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event

from cspolicy import CaseSnapshot, Decision
from cspolicy.service._library import DecisionRecord
from cspolicy.store import DecisionStore, ReplayResult, StoreError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_connect(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN itself
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class ServiceStore:
    """A `DecisionStore` with the service's concurrency settings; thread-safe."""

    def __init__(self, url: str) -> None:
        self.store = DecisionStore(url)  # creates or migrates the schema
        engine = self.store.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
            engine.dispose()  # connections opened by the migration predate the settings
        self._first_save = threading.Lock()
        self._policies_seen: set[str] = set()

    @property
    def dialect(self) -> str:
        return str(self.store.engine.dialect.name)

    def save(self, decision: Decision, snapshot: CaseSnapshot) -> str:
        """Save a decision and its snapshot; returns the record id once it is committed."""
        digest = decision.policy.digest
        if digest in self._policies_seen:
            return self._save(decision, snapshot)
        with self._first_save:  # the first save of a policy stores its texts: once, not racing
            record_id = self._save(decision, snapshot)
            self._policies_seen.add(digest)
            return record_id

    def _save(self, decision: Decision, snapshot: CaseSnapshot) -> str:
        try:
            return self.store.save(decision, snapshot).record_id
        except StoreError:
            # Another process may have stored the same policy texts at the same moment: once more.
            return self.store.save(decision, snapshot).record_id

    def record(self, record_id: str) -> tuple[DecisionRecord, str]:
        """The record and its decision JSON as saved; StoreError when there is none."""
        return self.store.record(record_id), self.store.stored_json(record_id)

    def replay(self, record_id: str) -> ReplayResult:
        return self.store.replay(record_id)

    def close(self) -> None:
        self.store.close()


def is_missing(exc: StoreError) -> bool:
    """Whether a StoreError says the record is not there (rather than that the store failed)."""
    return str(exc).startswith("no record ")
