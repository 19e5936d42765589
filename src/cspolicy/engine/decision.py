"""What an evaluation returns: recommended actions, holds and waits, each explained and cited.

A Decision is made in two steps. What was decided — the actions and their order, holds, waits,
outputs and due dates — is fixed when the case is evaluated. The explanations — every condition
with the case's values in words, citations, why-not, near misses — are built by the decision's
explainer when they are first read (`action.because`, `to_json()`, `why_not()`), so a caller
that only routes action codes never pays for sentences. The JSON is the same either way.
The output models (`ConditionTrace`, `CitationOut`, `WhyNot`, …) live in
`cspolicy.engine.outputs`; `DecisionModel` there is the schema of `to_json()`, whose text is
written from parts encoded once per rule (`cspolicy.engine.jsontext`), equal to `to_dict()`'s.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cspolicy.engine.actions import HeldAction, RecommendedAction, WaitingAction
from cspolicy.engine.jsontext import decision_text
from cspolicy.engine.outputs import (
    CitationOut,
    ConditionTrace,
    NearMiss,
    PolicyRef,
    UnwrittenJson,
    WhyNot,
    json_layout,
    json_text,
)

if TYPE_CHECKING:
    from cspolicy.engine.explain import Explainer
    from cspolicy.engine.outcomes import CaseOutcome
    from cspolicy.engine.policy import PolicySet
    from cspolicy.engine.records import DecisionRecord, PolicyTexts
    from cspolicy.engine.snapshot import CaseSnapshot

__all__ = [
    "NEAR_MISS_THRESHOLD",
    "CitationOut",
    "ConditionTrace",
    "Decision",
    "HeldAction",
    "NearMiss",
    "PolicyRef",
    "RecommendedAction",
    "WaitingAction",
    "WhyNot",
]

NEAR_MISS_THRESHOLD = Decimal("0.10")  # within 10% of a numeric limit


class Decision:
    """The result of evaluating one case snapshot against one policy set."""

    __slots__ = ("_evaluated_at", "_explainer", "actions", "as_of", "case_id", "held", "policy", "waiting")

    def __init__(
        self,
        explainer: Explainer,
        policy: PolicyRef,
        actions: list[RecommendedAction],
        held: list[HeldAction],
        waiting: list[WaitingAction],
    ) -> None:
        outcome = explainer.outcome
        self._explainer = explainer
        self.case_id: str = outcome.case_id
        self.as_of: dt.date = outcome.as_of
        self.policy = policy
        self.actions = actions
        self.held = held
        self.waiting = waiting
        # When it was evaluated: part of the record, never of `to_json()` (which must not vary).
        # The clock is read now; the datetime is made when someone reads it.
        self._evaluated_at: dt.datetime | float = time.time()

    def __repr__(self) -> str:
        return f"<Decision {self.case_id} {self.as_of}: {', '.join(self.action_codes) or 'no action'}>"

    @property
    def explainer(self) -> Explainer:
        """The explainer of this decision's outcome (it answers `why_not` and near misses)."""
        return self._explainer

    @property
    def outcome(self) -> CaseOutcome:
        """The case's outcome behind this decision: rule by rule applies / held / waiting, and
        the facts and parameter values read."""
        return self._explainer.outcome

    @property
    def evaluated(self) -> bool:
        """Whether this decision was made by an evaluation (every Decision is, today)."""
        return True

    @property
    def evaluated_at(self) -> dt.datetime:
        """When the evaluation ran (kept in the decision record, never in `to_json()`)."""
        if type(self._evaluated_at) is float:
            self._evaluated_at = dt.datetime.fromtimestamp(self._evaluated_at, dt.UTC)
        return self._evaluated_at  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-ready data (every explanation built)."""
        return {
            "case_id": self.case_id,
            "as_of": self.as_of.isoformat(),
            "policy": self._explainer.policy_json,
            "actions": [action.to_dict() for action in self.actions],
            "held": [action.to_dict() for action in self.held],
            "waiting": [action.to_dict() for action in self.waiting],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Deterministic JSON: the same case under the same policy gives byte-identical text."""
        if indent is None or indent == 2:  # the layouts served: written directly, from parts
            try:
                return decision_text(self, *json_layout(indent))
            except UnwrittenJson:  # something not JSON-ready was put in: the general path says so
                pass
        return json_text(self.to_dict(), indent)

    @property
    def action_codes(self) -> list[str]:
        """The codes of the recommended actions, in order."""
        return [a.action for a in self.actions]

    def why_not(self, rule_id: str, lang: str = "en") -> WhyNot:
        """Explain a rule for this case: which conditions failed and how far the case is from firing
        (in `lang`: 'en', or 'es' from the policy's Spanish texts)."""
        if lang != "en":
            from cspolicy.engine.text import why_not_text

            return why_not_text(self, rule_id, lang)
        return self._explainer.why_not(rule_id)

    def to_text(self, lang: str = "en") -> str:
        """The decision as plain text in `lang` ('en' or 'es'): each action, why, its due date and law."""
        from cspolicy.engine.text import decision_text

        return decision_text(self, lang)

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

    def near_misses(
        self, threshold: Decimal = NEAR_MISS_THRESHOLD, days: int = 30, lang: str = "en"
    ) -> list[NearMiss]:
        """Rules that did not apply but are close: within `threshold` (a share, default 10%) of
        a numeric limit or `days` of a date condition, each with what would have to change
        (in `lang`: 'en', or 'es' from the policy's Spanish texts)."""
        if lang != "en":
            from cspolicy.engine.nearmiss import near_misses

            return near_misses(self.outcome, threshold=threshold, days=days, lang=lang)
        return self._explainer.near_misses(threshold=threshold, days=days)
