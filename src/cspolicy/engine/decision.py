"""What an evaluation returns: recommended actions, holds and waits, each explained and cited."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

if TYPE_CHECKING:
    from cspolicy.engine.evaluate import CaseRun
    from cspolicy.engine.nearmiss import NearMiss
    from cspolicy.engine.policy import PolicySet
    from cspolicy.engine.records import DecisionRecord, PolicyTexts
    from cspolicy.engine.snapshot import CaseSnapshot


NEAR_MISS_THRESHOLD = Decimal("0.10")  # within 10% of a numeric limit


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class CitationOut(_Out):
    """A citation resolved against the policy's sources."""

    source: str
    title: str
    pinpoint: str | None = None
    url: str


class ConditionTrace(_Out):
    """One condition of a rule: the expression, the case's values, the result, in words."""

    expr: str
    part: Literal["when", "unless"] = "when"
    values: dict[str, Any] = Field(default_factory=dict)
    result: bool | None
    text: str


class PolicyRef(_Out):
    """Which policy made a decision: id, version and content digest."""

    id: str
    version: str
    digest: str


class RecommendedAction(_Out):
    """An action the policy recommends for the case, and why."""

    action: str
    rule: str
    kind: str
    title: str
    because: list[ConditionTrace]
    citations: list[CitationOut]
    parameters: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    priority: int = 0
    due_by: dt.date | None = None
    overdue: bool | None = None


class HeldAction(_Out):
    """An action a rule would recommend but a hold suppresses, with the hold's reason and law."""

    action: str
    rule: str
    kind: str
    title: str
    held_by: str
    reason: str
    because: list[ConditionTrace]
    citations: list[CitationOut]


class WaitingAction(_Out):
    """An action whose rule applies but whose prerequisite actions have not been taken yet."""

    action: str
    rule: str
    kind: str
    title: str
    waiting_for: list[str]
    because: list[ConditionTrace]
    citations: list[CitationOut]


class WhyNot(_Out):
    """Why a rule did (or did not) lead to its action for this case."""

    rule: str
    title: str
    status: Literal["recommended", "held", "waiting", "not applicable", "hold applies", "hold does not apply"]
    failed: list[ConditionTrace]
    held_by: str | None = None
    waiting_for: list[str] = Field(default_factory=list)
    text: str

    def __str__(self) -> str:
        return self.text


class Decision(_Out):
    """The result of evaluating one case snapshot against one policy set."""

    case_id: str
    as_of: dt.date
    policy: PolicyRef
    actions: list[RecommendedAction]
    held: list[HeldAction] = Field(default_factory=list)
    waiting: list[WaitingAction] = Field(default_factory=list)

    _run: CaseRun | None = PrivateAttr(default=None)
    # When it was evaluated: part of the record, never of `to_json()` (which must not vary).
    _evaluated_at: dt.datetime = PrivateAttr(default_factory=_now)

    def to_json(self, indent: int | None = 2) -> str:
        """Deterministic JSON: the same case under the same policy gives byte-identical text."""
        data = self.model_dump(mode="json", exclude_none=False)
        return json.dumps(data, indent=indent, ensure_ascii=False, sort_keys=False)

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-ready data."""
        return self.model_dump(mode="json")

    @property
    def action_codes(self) -> list[str]:
        """The codes of the recommended actions, in order."""
        return [a.action for a in self.actions]

    def why_not(self, rule_id: str) -> WhyNot:
        """Explain a rule for this case: which conditions failed and how far the case is from firing."""
        if self._run is None:
            raise RuntimeError("this decision was not produced by an evaluation; re-evaluate it")
        return self._run.why_not(rule_id)

    def explain(self, rule_id: str) -> WhyNot:
        """Alias of `why_not`: explains a rule whether or not it fired."""
        return self.why_not(rule_id)

    def record(self) -> DecisionRecord:
        """The decision record: record id, policy digest, parameter values, snapshot digest,
        cspolicy version and evaluation time (see `cspolicy.engine.records`)."""
        from cspolicy.engine.records import build_record

        return build_record(self)

    @classmethod
    def from_record(
        cls, record: DecisionRecord, snapshot: CaseSnapshot, policy: PolicySet | PolicyTexts
    ) -> Decision:
        """Reproduce a recorded decision from its snapshot and the policy (or its stored texts);
        raises ReplayMismatch when either is not the one the record names."""
        from cspolicy.engine.records import replay

        return replay(record, snapshot, policy)

    def near_misses(self, threshold: Decimal = NEAR_MISS_THRESHOLD, days: int = 30) -> list[NearMiss]:
        """Rules that did not apply but are close: within `threshold` (a share, default 10%) of
        a numeric limit or `days` of a date condition, each with what would have to change."""
        from cspolicy.engine.nearmiss import near_misses

        if self._run is None:
            raise RuntimeError("this decision was not produced by an evaluation; re-evaluate it")
        return near_misses(self._run, threshold=threshold, days=days)
