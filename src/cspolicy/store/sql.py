"""SQL helpers of the decision store: URLs, action rows, the current-decision flag, batching."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from cspolicy.engine.decision import Decision
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
