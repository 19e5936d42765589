"""What the store does with protected data: seal it when saving, open it for a reader with the
scope, and log every read of a record (who, which record, what, when, with which scopes)."""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from cspolicy.engine.compiler import CompiledPolicy
from cspolicy.engine.decision import Decision
from cspolicy.engine.records import canonical_snapshot
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.store.protection import (
    Classifier,
    Mark,
    check_scopes,
    decision_marks,
    marks_from_json,
    marks_to_json,
    masked_decision_json,
    masked_snapshot_json,
    snapshot_marks,
)
from cspolicy.store.schema import access_log
from cspolicy.store.sealing import Sealer, SealError, configured_key, key_beside
from cspolicy.store.sql import naive_utc

READS = ("record", "decision", "snapshot", "replay", "list", "export")


def default_reader() -> str:
    """Who reads when the caller names no one: the operating-system user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class Sealed:
    """A text as the store keeps it: `shown` (protected values masked) and the sealed original."""

    shown: str
    sealed: str | None
    marks: str | None


@dataclass(frozen=True)
class AccessEntry:
    """One read of a record: when, by whom, what was read, with which scopes."""

    at: dt.datetime
    reader: str
    record_id: str
    what: str
    scopes: tuple[str, ...]


class Guard:
    """Seals protected values on save and opens them for readers with the scope."""

    def __init__(self, url: str, key: str | bytes | None) -> None:
        self._explicit = key
        self._database = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
        self._sealer: Sealer | None = None
        self._classifiers: dict[str, Classifier] = {}

    def sealer(self, *, create: bool) -> Sealer:
        """The sealer of the configured key; SealError when there is none."""
        if self._sealer is None:
            found = configured_key(self._explicit)
            key = found[0] if found else None
            if key is None and self._database is not None:
                key = key_beside(self._database, create=create)
            if key is None:
                raise SealError(
                    "this record holds protected data (FTI/FVI) and no records key is configured: "
                    "set CSPOLICY_RECORDS_KEY (make one with `cspolicy records --new-key`) "
                    "or CSPOLICY_RECORDS_KEY_FILE"
                )
            self._sealer = Sealer(key)
        return self._sealer

    def classifier(self, policy: CompiledPolicy) -> Classifier:
        found = self._classifiers.get(policy.digest)
        if found is None:
            found = self._classifiers[policy.digest] = Classifier(policy)
        return found

    # -- saving -------------------------------------------------------------------------------
    def snapshot(self, snapshot: CaseSnapshot, policy: CompiledPolicy, digest: str) -> Sealed:
        text = canonical_snapshot(snapshot)
        marks = snapshot_marks(self.classifier(policy), text)
        if not marks:
            return Sealed(text, None, None)
        return Sealed(
            masked_snapshot_json(text, marks),
            self.sealer(create=True).seal(text, digest),
            marks_to_json(marks),
        )

    def decision(self, decision: Decision, text: str, record_id: str) -> Sealed:
        marks = decision_marks(decision, self.classifier(decision.outcome.policy))
        if not marks:
            return Sealed(text, None, None)
        return Sealed(
            masked_decision_json(text, marks),
            self.sealer(create=True).seal(text, record_id),
            marks_to_json(marks),
        )

    # -- reading ------------------------------------------------------------------------------
    def original(self, shown: str, sealed: str | None, context: str) -> str:
        """The text as it was made (opened with the key when it was sealed)."""
        return shown if sealed is None else self.sealer(create=False).open(sealed, context)

    def view(
        self,
        shown: str,
        sealed: str | None,
        marks: str | None,
        context: str,
        scopes: frozenset[str],
        *,
        snapshot: bool,
    ) -> str:
        """The text as a reader with `scopes` may see it: protected values they lack masked."""
        if sealed is None or not scopes:
            return shown  # stored masked already: no key needed to read it
        loaded: list[Mark] = marks_from_json(marks)
        original = self.original(shown, sealed, context)
        if snapshot:
            return masked_snapshot_json(original, loaded, scopes)
        return masked_decision_json(original, loaded, scopes)


def scopes_of(scopes: Iterable[str]) -> frozenset[str]:
    return check_scopes(scopes)


def log_reads(
    engine: Engine | Connection, reader: str, record_ids: Iterable[str], what: str, scopes: frozenset[str]
) -> None:
    """Write one access-log row per record read (in its own transaction unless given a connection)."""
    now = naive_utc(dt.datetime.now(dt.UTC))
    rows: list[dict[str, Any]] = [
        {
            "at": now,
            "reader": reader[:200],
            "record_id": rid,
            "what": what,
            "scopes": ",".join(sorted(scopes)),
        }
        for rid in record_ids
    ]
    if not rows:
        return
    if isinstance(engine, Connection):
        engine.execute(access_log.insert(), rows)
        return
    with engine.begin() as connection:
        connection.execute(access_log.insert(), rows)


def read_log(
    connection: Connection, record_id: str | None, reader: str | None, limit: int | None
) -> list[AccessEntry]:
    query = select(access_log)
    if record_id is not None:
        query = query.where(access_log.c.record_id == record_id)
    if reader is not None:
        query = query.where(access_log.c.reader == reader)
    query = query.order_by(access_log.c.at, access_log.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [
        AccessEntry(
            at=row.at.replace(tzinfo=dt.UTC),
            reader=row.reader,
            record_id=row.record_id,
            what=row.what,
            scopes=tuple(s for s in row.scopes.split(",") if s),
        )
        for row in connection.execute(query)
    ]
