"""The decision store: saved decisions with their snapshots and exact policy texts, queryable.

SQLite by default (a file path or `sqlite:///…` URL, no server), PostgreSQL for agencies
(`postgresql://…`, driven by psycopg 3). Opening a store brings its schema up to date with the
Alembic migrations shipped in `cspolicy/store/migrations`.

A case's *current* decision is its most recently evaluated one; caseload questions ("which
cases have an overdue action?") look at current decisions unless told otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, and_, create_engine, event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.compiler import CompiledPolicy
from cspolicy.engine.decision import Decision
from cspolicy.engine.records import (
    DecisionRecord,
    PolicyTexts,
    ReplayMismatch,
    build_record,
    canonical_snapshot,
    compile_policy_texts,
    policy_texts,
    replay,
    snapshot_from_canonical,
)
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.store.schema import decision_actions, decisions, policies, policy_files, snapshots
from cspolicy.store.sql import (
    BATCH,
    action_rows,
    batches,
    first_line,
    mark_current,
    naive_utc,
    safe,
    sqlite_pragmas,
    store_url,
)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "cspolicy_schema_version"


class StoreError(CSPolicyError):
    """The decision store cannot be opened or read, or a record is not in it."""


@dataclass(frozen=True)
class StoredAction:
    """One action of a stored decision, as the store indexes it."""

    status: str
    action: str
    rule: str
    due_by: dt.date | None
    overdue: bool | None


@dataclass(frozen=True)
class RecordSummary:
    """A stored decision in brief: its record and its actions."""

    record: DecisionRecord
    current: bool
    actions: list[StoredAction] = field(default_factory=list)

    @property
    def overdue(self) -> list[StoredAction]:
        return [a for a in self.actions if a.overdue]


@dataclass(frozen=True)
class ReplayResult:
    """A stored decision next to its replay: identical when the JSON matches byte for byte."""

    record: DecisionRecord
    stored_json: str
    replayed: Decision

    @property
    def replayed_json(self) -> str:
        return self.replayed.to_json()

    @property
    def identical(self) -> bool:
        return self.stored_json == self.replayed_json


class DecisionStore:
    """Saved decisions (SQLite or PostgreSQL): save, query, and replay them."""

    def __init__(self, url: str | Path, *, upgrade: bool = True) -> None:
        self.url = store_url(url)
        try:
            self.engine: Engine = create_engine(self.url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open decision store {safe(self.url)}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", sqlite_pragmas)
        self._known_policies: set[str] = set()
        if upgrade:
            self.upgrade()

    def close(self) -> None:
        """Release the store's connections."""
        self.engine.dispose()

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upgrade(self) -> None:
        """Bring the schema up to the newest migration (creates it in an empty database)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["version_table"] = VERSION_TABLE
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open decision store {safe(self.url)}: {first_line(exc)}") from None

    # -- saving -----------------------------------------------------------------------------
    def save(self, decision: Decision, snapshot: CaseSnapshot | None = None) -> DecisionRecord:
        """Save one evaluated decision with its snapshot and policy texts; returns its record."""
        return self.save_many([(decision, snapshot)])[0]

    def save_many(self, items: Iterable[tuple[Decision, CaseSnapshot | None]]) -> list[DecisionRecord]:
        """Save many evaluated decisions in one transaction per batch of 500."""
        saved: list[DecisionRecord] = []
        for batch in batches(list(items), BATCH):
            saved.extend(self._save_batch(batch))
        return saved

    def _save_batch(self, batch: Sequence[tuple[Decision, CaseSnapshot | None]]) -> list[DecisionRecord]:
        rows: list[dict[str, Any]] = []
        all_actions: list[dict[str, Any]] = []
        snapshot_rows: dict[str, dict[str, Any]] = {}
        compiled: dict[str, CompiledPolicy] = {}
        records: list[DecisionRecord] = []
        for decision, given in batch:
            if not decision.evaluated:
                raise StoreError("only a decision produced by an evaluation can be saved")
            run = decision.outcome
            snapshot = given or run.snapshot
            decision_json = decision.to_json()
            record = build_record(decision, decision_json)
            if given is not None and canonical_snapshot(given) != canonical_snapshot(run.snapshot):
                raise StoreError(f"case {decision.case_id}: the snapshot given is not the one evaluated")
            records.append(record)
            compiled.setdefault(record.policy.digest, run.policy)
            snapshot_rows.setdefault(
                record.snapshot_digest,
                {
                    "digest": record.snapshot_digest,
                    "case_id": snapshot.case_id,
                    "as_of": snapshot.as_of,
                    "body": canonical_snapshot(snapshot),
                },
            )
            actions = action_rows(decision)
            rows.append(
                {
                    "record_id": record.record_id,
                    "case_id": record.case_id,
                    "as_of": record.as_of,
                    "policy_id": record.policy.id,
                    "policy_version": record.policy.version,
                    "policy_digest": record.policy.digest,
                    "snapshot_digest": record.snapshot_digest,
                    "cspolicy_version": record.cspolicy_version,
                    "evaluated_at": naive_utc(record.evaluated_at),
                    "is_current": False,
                    "overdue_count": sum(1 for a in actions if a["overdue"]),
                    "record_json": record.model_dump_json(),
                    "decision_json": decision_json,
                }
            )
            all_actions.extend(
                {**a, "record_id": record.record_id, "case_id": record.case_id} for a in actions
            )
        try:
            with self.engine.begin() as connection:
                for digest, policy in compiled.items():
                    self._save_policy(connection, digest, policy)
                self._insert_new(connection, snapshots, "digest", list(snapshot_rows.values()))
                fresh = self._insert_new(connection, decisions, "record_id", rows)
                fresh_ids = {row["record_id"] for row in fresh}
                new_actions = [a for a in all_actions if a["record_id"] in fresh_ids]
                if new_actions:
                    connection.execute(
                        decision_actions.insert(), [{**a, "is_current": False} for a in new_actions]
                    )
                mark_current(connection, sorted({row["case_id"] for row in fresh}))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot save to {safe(self.url)}: {first_line(exc)}") from None
        return records

    def _save_policy(self, connection: Connection, digest: str, policy: CompiledPolicy) -> None:
        if digest in self._known_policies:
            return
        present = connection.execute(select(policies.c.digest).where(policies.c.digest == digest)).first()
        if present is None:
            texts = policy_texts(policy)
            compile_policy_texts(texts)  # proves the texts on disk still give the evaluated policy
            connection.execute(
                policies.insert(),
                {
                    "digest": digest,
                    "policy_id": texts.policy_id,
                    "version": texts.version,
                    "root": texts.root,
                    "stored_at": naive_utc(dt.datetime.now(dt.UTC)),
                },
            )
            connection.execute(
                policy_files.insert(),
                [{"policy_digest": digest, "path": path, "text": text} for path, text in texts.files.items()],
            )
        self._known_policies.add(digest)

    @staticmethod
    def _insert_new(
        connection: Connection, table: Any, key: str, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Insert the rows whose key is not stored yet (saving twice is harmless)."""
        if not rows:
            return []
        column = table.c[key]
        present: set[str] = set()
        keys = [row[key] for row in rows]
        for chunk in batches(keys, BATCH):
            present.update(connection.execute(select(column).where(column.in_(chunk))).scalars())
        fresh = [row for row in rows if row[key] not in present]
        if fresh:
            connection.execute(table.insert(), fresh)
        return fresh

    # -- reading ----------------------------------------------------------------------------
    def record(self, record_id: str) -> DecisionRecord:
        """The record with this id; StoreError when there is none."""
        row = self._one(select(decisions.c.record_json).where(decisions.c.record_id == record_id), record_id)
        return DecisionRecord.model_validate_json(row[0])

    def stored_json(self, record_id: str) -> str:
        """The decision JSON exactly as it was saved."""
        row = self._one(
            select(decisions.c.decision_json).where(decisions.c.record_id == record_id), record_id
        )
        return str(row[0])

    def snapshot(self, record_id: str) -> CaseSnapshot:
        """The snapshot a record was evaluated on."""
        query = (
            select(snapshots.c.body)
            .select_from(decisions.join(snapshots, decisions.c.snapshot_digest == snapshots.c.digest))
            .where(decisions.c.record_id == record_id)
        )
        return snapshot_from_canonical(self._one(query, record_id)[0])

    def policy_texts(self, digest: str) -> PolicyTexts:
        """The stored YAML texts of the policy with this digest."""
        with self._connect() as connection:
            head = connection.execute(select(policies).where(policies.c.digest == digest)).first()
            if head is None:
                raise StoreError(f"no policy with digest {digest} in the store")
            files = connection.execute(
                select(policy_files.c.path, policy_files.c.text)
                .where(policy_files.c.policy_digest == digest)
                .order_by(policy_files.c.path)
            ).all()
        return PolicyTexts(
            digest=digest,
            policy_id=head.policy_id,
            version=head.version,
            root=head.root,
            files={path: text for path, text in files},
        )

    def replay(self, record_id: str) -> ReplayResult:
        """Re-evaluate a record from its stored snapshot and stored policy texts."""
        record = self.record(record_id)
        snapshot = self.snapshot(record_id)
        texts = self.policy_texts(record.policy.digest)
        try:
            decision = replay(record, snapshot, texts)
        except ReplayMismatch as exc:
            raise StoreError(exc.message) from None
        return ReplayResult(record, self.stored_json(record_id), decision)

    def records(
        self,
        *,
        case_id: str | None = None,
        action: str | None = None,
        rule: str | None = None,
        status: str | None = "recommended",
        since: dt.date | None = None,
        until: dt.date | None = None,
        policy_id: str | None = None,
        policy_version: str | None = None,
        overdue: bool | None = None,
        current_only: bool = False,
        limit: int | None = None,
    ) -> list[RecordSummary]:
        """Stored decisions matching every filter given, newest first.

        `action`/`rule`/`overdue` match the decision's actions of `status` (recommended by
        default; None for any); `since`/`until` bound the snapshot date, both inclusive.
        """
        query = select(decisions.c.record_id, decisions.c.record_json, decisions.c.is_current)
        conditions: list[Any] = []
        if case_id is not None:
            conditions.append(decisions.c.case_id == case_id)
        if since is not None:
            conditions.append(decisions.c.as_of >= since)
        if until is not None:
            conditions.append(decisions.c.as_of <= until)
        if policy_id is not None:
            conditions.append(decisions.c.policy_id == policy_id)
        if policy_version is not None:
            conditions.append(decisions.c.policy_version == policy_version)
        if current_only:
            conditions.append(decisions.c.is_current.is_(True))
        action_conditions: list[Any] = []
        if action is not None:
            action_conditions.append(decision_actions.c.action == action)
        if rule is not None:
            action_conditions.append(decision_actions.c.rule == rule)
        if overdue is not None:
            action_conditions.append(decision_actions.c.overdue.is_(overdue))
        if action_conditions:
            if status is not None:
                action_conditions.append(decision_actions.c.status == status)
            # IN rather than a correlated EXISTS: SQLite then drives the query from the index.
            matching = select(decision_actions.c.record_id).where(*action_conditions)
            conditions.append(decisions.c.record_id.in_(matching))
        query = query.where(and_(True, *conditions)).order_by(
            decisions.c.evaluated_at.desc(), decisions.c.record_id.desc()
        )
        if limit is not None:
            query = query.limit(limit)
        with self._connect() as connection:
            rows = connection.execute(query).all()
            actions = self._actions(connection, [row.record_id for row in rows])
        return [
            RecordSummary(
                record=DecisionRecord.model_validate_json(row.record_json),
                current=bool(row.is_current),
                actions=actions.get(row.record_id, []),
            )
            for row in rows
        ]

    def overdue_by_rule(self, *, current_only: bool = True) -> dict[str, list[str]]:
        """Cases with an overdue recommended action, by rule (case ids sorted)."""
        query = (
            select(decision_actions.c.rule, decision_actions.c.case_id)
            .where(
                decision_actions.c.overdue.is_(True),
                decision_actions.c.status == "recommended",
            )
            .distinct()
            .order_by(decision_actions.c.rule, decision_actions.c.case_id)
        )
        if current_only:
            query = query.where(decision_actions.c.is_current.is_(True))
        result: dict[str, list[str]] = {}
        with self._connect() as connection:
            for rule, case in connection.execute(query):
                result.setdefault(rule, []).append(case)
        return result

    def overdue_count(self, *, current_only: bool = True) -> int:
        """How many overdue recommended actions the (current) decisions hold."""
        query = select(func.count()).where(
            decision_actions.c.overdue.is_(True), decision_actions.c.status == "recommended"
        )
        if current_only:
            query = query.where(decision_actions.c.is_current.is_(True))
        with self._connect() as connection:
            return int(connection.execute(query).scalar_one())

    def current_records(self) -> Iterator[str]:
        """The record ids of every case's current decision."""
        query = (
            select(decisions.c.record_id)
            .where(decisions.c.is_current.is_(True))
            .order_by(decisions.c.case_id)
        )
        with self._connect() as connection:
            yield from connection.execute(query).scalars().all()

    def _actions(self, connection: Connection, record_ids: list[str]) -> dict[str, list[StoredAction]]:
        found: dict[str, list[StoredAction]] = {}
        for chunk in batches(record_ids, BATCH):
            rows = connection.execute(
                select(decision_actions)
                .where(decision_actions.c.record_id.in_(chunk))
                .order_by(decision_actions.c.record_id, decision_actions.c.position)
            )
            for row in rows:
                found.setdefault(row.record_id, []).append(
                    StoredAction(row.status, row.action, row.rule, row.due_by, row.overdue)
                )
        return found

    def _one(self, query: Any, record_id: str) -> Any:
        with self._connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            raise StoreError(f"no record {record_id!r} in {safe(self.url)}")
        return row

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read {safe(self.url)}: {first_line(exc)}") from None
