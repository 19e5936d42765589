"""SQL helpers of the decision store: URLs, action rows, the current-decision flag, batching."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, bindparam, select, update
from sqlalchemy.engine import Connection

from cspolicy.engine.decision import Decision
from cspolicy.store.results import StoredAction
from cspolicy.store.schema import decision_actions, decisions

BATCH = 500


def store_url(location: str | Path) -> str:
    """A SQLAlchemy URL for a store location: a file path means SQLite; postgresql:// uses psycopg."""
    text = str(location)
    if "://" not in text:
        return "sqlite:///" + str(Path(text).expanduser().resolve())
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix) :]
    return text


def action_rows(decision: Decision) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for action in decision.actions:
        rows.append(
            {
                "status": "recommended",
                "action": action.action,
                "rule": action.rule,
                "due_by": action.due_by,
                "overdue": action.overdue,
            }
        )
    for held in decision.held:
        rows.append(
            {"status": "held", "action": held.action, "rule": held.rule, "due_by": None, "overdue": None}
        )
    for waiting in decision.waiting:
        rows.append(
            {
                "status": "waiting",
                "action": waiting.action,
                "rule": waiting.rule,
                "due_by": None,
                "overdue": None,
            }
        )
    return [{**row, "position": index} for index, row in enumerate(rows)]


def records_query(
    *,
    case_id: str | None,
    action: str | None,
    rule: str | None,
    status: str | None,
    since: dt.date | None,
    until: dt.date | None,
    policy_id: str | None,
    policy_version: str | None,
    overdue: bool | None,
    current_only: bool,
    limit: int | None,
) -> Select[Any]:
    """The query of `DecisionStore.records`: record ids, record JSON and current flags, newest first."""
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
    return query if limit is None else query.limit(limit)


def insert_new(
    connection: Connection, table: Any, key: str, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Insert the rows whose key is not stored yet (saving twice is harmless); returns them."""
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


def actions_of(connection: Connection, record_ids: list[str]) -> dict[str, list[StoredAction]]:
    """The stored actions of each record, in their decision's order."""
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


def mark_current(connection: Connection, case_ids: list[str]) -> None:
    """Make each case's most recently evaluated decision its current one."""
    for chunk in batches(case_ids, BATCH):
        inner = decisions.alias("newest")
        latest = (
            select(inner.c.record_id)
            .where(inner.c.case_id == decisions.c.case_id)
            .order_by(inner.c.evaluated_at.desc(), inner.c.record_id.desc())
            .limit(1)
            .scalar_subquery()
        )
        connection.execute(
            update(decisions)
            .where(decisions.c.case_id.in_(bindparam("cases", expanding=True)))
            .values(is_current=decisions.c.record_id == latest),
            {"cases": chunk},
        )
        flags = decisions.alias("flags")
        connection.execute(
            update(decision_actions)
            .where(decision_actions.c.case_id.in_(bindparam("cases", expanding=True)))
            .values(
                is_current=select(flags.c.is_current)
                .where(flags.c.record_id == decision_actions.c.record_id)
                .scalar_subquery()
            ),
            {"cases": chunk},
        )


def sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """UTC without tzinfo: stored the same way on SQLite (no time zones) and PostgreSQL."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
