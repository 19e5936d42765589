"""Stored decisions re-evaluated under another policy: which cases' recommendations would change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cspolicy.diagnostics import CSPolicyError
from cspolicy.engine.decision import Decision
from cspolicy.engine.versions import PolicyVersions
from cspolicy.store.store import DecisionStore


@dataclass(frozen=True)
class Recommendation:
    """One action of a decision as a reader compares it: status, code, why, outputs, clock."""

    status: str
    action: str
    rule: str
    why: list[str]
    outputs: dict[str, Any]
    due_by: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What must be equal for two recommendations to be the same."""
        return (self.status, self.action, json.dumps(self.outputs, sort_keys=True), self.due_by or "")

    def line(self) -> str:
        """The recommendation in one line, then its reasons."""
        extra = "".join(f", {k} = {v}" for k, v in self.outputs.items())
        due = f", due by {self.due_by}" if self.due_by else ""
        head = f"{self.status}: {self.action} (rule {self.rule}{extra}{due})"
        return "\n".join([head, *(f"  because {why}" for why in self.why)])


@dataclass(frozen=True)
class RecommendationChange:
    """A case whose recommendations differ between its stored decision and the new policy."""

    record_id: str
    case_id: str
    before_policy: str
    after_policy: str
    before: list[Recommendation]
    after: list[Recommendation]
    error: str | None = None

    @property
    def gained(self) -> list[Recommendation]:
        old = {r.key for r in self.before}
        return [r for r in self.after if r.key not in old]

    @property
    def lost(self) -> list[Recommendation]:
        new = {r.key for r in self.after}
        return [r for r in self.before if r.key not in new]


def recommendations(data: dict[str, Any]) -> list[Recommendation]:
    """The actions of a decision (as JSON data): recommended, held and waiting."""
    found: list[Recommendation] = []
    for status, part in (("recommended", "actions"), ("held", "held"), ("waiting", "waiting")):
        for item in data.get(part, []):
            why = [t["text"] for t in item.get("because", []) if t.get("part", "when") == "when"]
            if status == "held":
                why = [f"held by {item['held_by']}: {item['reason']}"]
            if status == "waiting":
                why = [f"waits for {', '.join(item['waiting_for'])}"]
            found.append(
                Recommendation(
                    status=status,
                    action=item["action"],
                    rule=item["rule"],
                    why=why,
                    outputs=item.get("outputs", {}),
                    due_by=item.get("due_by"),
                )
            )
    return found


def changes_under(
    store: DecisionStore, policy_path: str, *, current_only: bool = True
) -> Iterator[RecommendationChange]:
    """Re-evaluate stored decisions (each case's current one by default) under the policy at
    `policy_path` (the version in force on each snapshot's date) and yield those that change."""
    versions = PolicyVersions(policy_path)
    for summary in store.records(current_only=current_only, status=None):
        record = summary.record
        before_data = json.loads(store.stored_json(record.record_id))
        before = recommendations(before_data)
        label = f"{record.policy.id} {record.policy.version}"
        try:
            decision: Decision = versions.evaluate(store.snapshot(record.record_id))
        except CSPolicyError as exc:
            yield RecommendationChange(record.record_id, record.case_id, label, "?", before, [], str(exc))
            continue
        after = recommendations(decision.to_dict())
        if sorted(r.key for r in before) != sorted(r.key for r in after):
            yield RecommendationChange(
                record.record_id,
                record.case_id,
                label,
                f"{decision.policy.id} {decision.policy.version}",
                before,
                after,
            )
