"""The decision store: saved decisions with their snapshots and exact policy texts, queryable.

SQLite by default (a file path or `sqlite:///…` URL, no server), PostgreSQL for agencies
(`postgresql://…`, driven by psycopg 3). Opening a store brings its schema up to date with the
Alembic migrations shipped in `cspolicy/store/migrations`.

A case's *current* decision is its most recently evaluated one; caseload questions ("which
cases have an overdue action?") look at current decisions unless told otherwise.

Protected data (fields the case schema classifies `fti` or `fvi`) is sealed when saved and
masked when read unless the reader holds the scope (`scopes={"fti"}` …); every read of a
record is written to the access log (see `cspolicy.store.guard` and docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select
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
from cspolicy.store.guard import AccessEntry, Guard, default_reader, log_reads, read_log, scopes_of
from cspolicy.store.protection import PROTECTED
from cspolicy.store.results import RecordSummary, ReplayResult
from cspolicy.store.schema import decision_actions, decisions, policies, policy_files, snapshots
from cspolicy.store.sealing import SealError
from cspolicy.store.sql import (
    BATCH,
    action_rows,
    actions_of,
    batches,
    first_line,
    insert_new,
    mark_current,
    naive_utc,
    records_query,
    safe,
    sqlite_pragmas,
    store_url,
)

P = ParamSpec("P")
T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "cspolicy_schema_version"


class StoreError(CSPolicyError):
    """The decision store cannot be opened or read, or a record is not in it."""


class DecisionStore:
    """Saved decisions (SQLite or PostgreSQL): save, query, and replay them."""

    def __init__(
        self,
        url: str | Path,
        *,
        upgrade: bool = True,
        key: str | bytes | None = None,
        reader: str | None = None,
    ) -> None:
        """`key`: the records key (else CSPOLICY_RECORDS_KEY …, see `cspolicy.store.sealing`);
        `reader`: who reads, for the access log, unless a read names another (default: the OS user)."""
        self.url = store_url(url)
        self.reader = reader or default_reader()
        self.guard = Guard(self.url, key)
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
            # The snapshot evaluated is stored (its digest is the record's). A snapshot given in
            # another schema (read as v1, evaluated under a v2 policy) was converted: not compared.
            snapshot = run.snapshot
            decision_json = decision.to_json()
            record = build_record(decision, decision_json)
            if (
                given is not None
                and type(given) is type(snapshot)
                and canonical_snapshot(given) != canonical_snapshot(snapshot)
            ):
                raise StoreError(f"case {decision.case_id}: the snapshot given is not the one evaluated")
            records.append(record)
            compiled.setdefault(record.policy.digest, run.policy)
            if record.snapshot_digest not in snapshot_rows:
                snapshot_rows[record.snapshot_digest] = self._snapshot_row(
                    record.snapshot_digest, snapshot, run.policy
                )
            shown = self._sealed(self.guard.decision, decision, decision_json, record.record_id)
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
                    "decision_json": shown.shown,
                    "sealed": shown.sealed,
                    "marks": shown.marks,
                }
            )
            all_actions.extend(
                {**a, "record_id": record.record_id, "case_id": record.case_id} for a in actions
            )
        try:
            with self.engine.begin() as connection:
                for digest, policy in compiled.items():
                    self._save_policy(connection, digest, policy)
                insert_new(connection, snapshots, "digest", list(snapshot_rows.values()))
                fresh = insert_new(connection, decisions, "record_id", rows)
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

    def _snapshot_row(self, digest: str, snapshot: CaseSnapshot, policy: CompiledPolicy) -> dict[str, Any]:
        shown = self._sealed(self.guard.snapshot, snapshot, policy, digest)
        return {
            "digest": digest,
            "case_id": snapshot.case_id,
            "as_of": snapshot.as_of,
            "body": shown.shown,
            "sealed": shown.sealed,
            "marks": shown.marks,
        }

    @staticmethod
    def _sealed(make: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return make(*args, **kwargs)
        except SealError as exc:
            raise StoreError(str(exc)) from None

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

    # -- reading ----------------------------------------------------------------------------
    def record(self, record_id: str, *, reader: str | None = None) -> DecisionRecord:
        """The record with this id (logged as read); StoreError when there is none."""
        row = self._one(select(decisions.c.record_json).where(decisions.c.record_id == record_id), record_id)
        self._log(reader, [record_id], "record", frozenset())
        return DecisionRecord.model_validate_json(row[0])

    def stored_json(self, record_id: str, *, scopes: Iterable[str] = (), reader: str | None = None) -> str:
        """The decision JSON as saved, with the protected values whose scope (`fti`, `fvi`) the
        reader does not hold masked; byte for byte as made when nothing is masked."""
        return self.read_decision(record_id, scopes=scopes, reader=reader)[1]

    def read_decision(
        self, record_id: str, *, scopes: Iterable[str] = (), reader: str | None = None
    ) -> tuple[DecisionRecord, str]:
        """The record and its decision JSON as `reader` may see it (one access-log entry):
        what the service's `/v1/records/{id}` hands to a caller holding `scopes`."""
        granted = self._scopes(scopes)
        record_json, shown = self._decision_view(record_id, granted)
        self._log(reader, [record_id], "decision", granted)
        return DecisionRecord.model_validate_json(record_json), shown

    def snapshot_json(self, record_id: str, *, scopes: Iterable[str] = (), reader: str | None = None) -> str:
        """The canonical snapshot JSON of a record, protected values masked unless in `scopes`."""
        granted = self._scopes(scopes)
        shown = self._snapshot_view(record_id, granted)
        self._log(reader, [record_id], "snapshot", granted)
        return shown

    def _decision_view(self, record_id: str, granted: frozenset[str]) -> tuple[str, str]:
        columns = (decisions.c.record_json, decisions.c.decision_json, decisions.c.sealed, decisions.c.marks)
        row = self._one(select(*columns).where(decisions.c.record_id == record_id), record_id)
        return row[0], self._sealed(
            self.guard.view, row[1], row[2], row[3], record_id, granted, snapshot=False
        )

    def _snapshot_view(self, record_id: str, granted: frozenset[str]) -> str:
        row = self._snapshot_row_of(record_id)
        return self._sealed(
            self.guard.view, row.body, row.sealed, row.marks, row.digest, granted, snapshot=True
        )

    def snapshot(self, record_id: str, *, reader: str | None = None) -> CaseSnapshot:
        """The snapshot a record was evaluated on, protected values included (needs the records
        key when it holds any; logged as read with every scope)."""
        record = DecisionRecord.model_validate_json(
            self._one(select(decisions.c.record_json).where(decisions.c.record_id == record_id), record_id)[0]
        )
        self._log(reader, [record_id], "snapshot", frozenset(PROTECTED))
        return self._full_snapshot(record)

    def _full_snapshot(self, record: DecisionRecord) -> CaseSnapshot:
        row = self._snapshot_row_of(record.record_id)
        text = self._sealed(self.guard.original, row.body, row.sealed, row.digest)
        policy = compile_policy_texts(self.policy_texts(record.policy.digest))
        return snapshot_from_canonical(text, policy.case_schema)

    def _snapshot_row_of(self, record_id: str) -> Any:
        query = (
            select(snapshots.c.digest, snapshots.c.body, snapshots.c.sealed, snapshots.c.marks)
            .select_from(decisions.join(snapshots, decisions.c.snapshot_digest == snapshots.c.digest))
            .where(decisions.c.record_id == record_id)
        )
        return self._one(query, record_id)

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

    def replay(
        self, record_id: str, *, scopes: Iterable[str] = (), reader: str | None = None
    ) -> ReplayResult:
        """Re-evaluate a record from its stored snapshot and stored policy texts (protected values
        opened with the records key); the result shows what `scopes` allow."""
        granted = self._scopes(scopes)
        row = self._one(
            select(decisions.c.record_json, decisions.c.decision_json, decisions.c.sealed).where(
                decisions.c.record_id == record_id
            ),
            record_id,
        )
        record = DecisionRecord.model_validate_json(row[0])
        self._log(reader, [record_id], "replay", granted)
        original = self._sealed(self.guard.original, row[1], row[2], record_id)
        snapshot = self._full_snapshot(record)
        texts = self.policy_texts(record.policy.digest)
        try:
            decision = replay(record, snapshot, texts)
        except ReplayMismatch as exc:
            raise StoreError(exc.message) from None
        return ReplayResult(record, original, decision, granted)

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
        reader: str | None = None,
    ) -> list[RecordSummary]:
        """Stored decisions matching every filter given, newest first (each logged as listed).

        `action`/`rule`/`overdue` match the decision's actions of `status` (recommended by
        default; None for any); `since`/`until` bound the snapshot date, both inclusive.
        """
        query = records_query(
            case_id=case_id,
            action=action,
            rule=rule,
            status=status,
            since=since,
            until=until,
            policy_id=policy_id,
            policy_version=policy_version,
            overdue=overdue,
            current_only=current_only,
            limit=limit,
        )
        with self._connect() as connection:
            rows = connection.execute(query).all()
            actions = actions_of(connection, [row.record_id for row in rows])
        self._log(reader, [row.record_id for row in rows], "list", frozenset())
        return [
            RecordSummary(
                record=DecisionRecord.model_validate_json(row.record_json),
                current=bool(row.is_current),
                actions=actions.get(row.record_id, []),
            )
            for row in rows
        ]

    def export(
        self,
        summaries: Iterable[RecordSummary],
        *,
        scopes: Iterable[str] = (),
        reader: str | None = None,
    ) -> list[dict[str, Any]]:
        """Each record with its actions, decision and snapshot as JSON data, protected values
        masked unless in `scopes` (each record logged as exported)."""
        granted = self._scopes(scopes)
        chosen = list(summaries)
        views = [
            (
                summary,
                self._decision_view(summary.record.record_id, granted)[1],
                self._snapshot_view(summary.record.record_id, granted),
            )
            for summary in chosen
        ]
        self._log(reader, [s.record.record_id for s in chosen], "export", granted)
        return [
            {**summary.to_json(), "decision": json.loads(decision), "snapshot": json.loads(snapshot)}
            for summary, decision, snapshot in views
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

    def access_log(
        self, *, record_id: str | None = None, reader: str | None = None, limit: int | None = None
    ) -> list[AccessEntry]:
        """Who read which record, when, what and with which scopes (oldest first)."""
        try:
            with self._connect() as connection:
                return read_log(connection, record_id, reader, limit)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read {safe(self.url)}: {first_line(exc)}") from None

    def _scopes(self, scopes: Iterable[str]) -> frozenset[str]:
        try:
            return scopes_of(scopes)
        except ValueError as exc:
            raise StoreError(str(exc)) from None

    def _log(self, reader: str | None, record_ids: list[str], what: str, scopes: frozenset[str]) -> None:
        """Write the access log before anything is returned: a read that cannot be logged fails."""
        try:
            log_reads(self.engine, reader or self.reader, record_ids, what, scopes)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write the access log of {safe(self.url)}: {first_line(exc)}") from None

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
