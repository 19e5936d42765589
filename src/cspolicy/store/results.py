"""What the decision store's queries return: stored actions, record summaries, replays."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cspolicy.engine.decision import Decision
from cspolicy.engine.records import DecisionRecord
from cspolicy.store.protection import decision_marks, masked_decision_json


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

    def to_json(self) -> dict[str, Any]:
        """The record, whether it is current, and its actions, as JSON data."""
        return {
            **self.record.model_dump(mode="json"),
            "current": self.current,
            "actions": [
                {
                    "status": a.status,
                    "action": a.action,
                    "rule": a.rule,
                    "due_by": a.due_by.isoformat() if a.due_by else None,
                    "overdue": a.overdue,
                }
                for a in self.actions
            ],
        }


@dataclass(frozen=True)
class ReplayResult:
    """A stored decision next to its replay: identical when the JSON as made matches byte for
    byte. `stored_json` and `replayed_json` are what the reader may see (protected values
    masked unless the replay was asked for with their scopes)."""

    record: DecisionRecord
    original_json: str = field(repr=False)
    replayed: Decision
    scopes: frozenset[str] = frozenset()

    @property
    def stored_json(self) -> str:
        return masked_decision_json(self.original_json, decision_marks(self.replayed), self.scopes)

    @property
    def replayed_json(self) -> str:
        return masked_decision_json(self.replayed.to_json(), decision_marks(self.replayed), self.scopes)

    @property
    def identical(self) -> bool:
        return self.original_json == self.replayed.to_json()
