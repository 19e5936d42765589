"""The actions of a decision, explained on demand.

What was decided (the action, its rule, outputs, due date, who holds it, what it waits for) is
set when the case is evaluated; *why* (`because`: every condition with the case's values, in
words), the citations and the parameter values are built by the explainer the first time they
are read, so a caller that reads only action codes and outputs never pays for sentences.
`to_dict()` is the action as it appears in the decision JSON (`RecommendedActionModel` …).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cspolicy.engine.compiled import CompiledRule
    from cspolicy.engine.explain import Explainer
    from cspolicy.engine.outputs import CitationOut, ConditionTrace

_UNSET: Any = object()


class _Action:
    """An action of a decision: its identity now, its explanation when read."""

    __slots__ = ("_because", "_compiled", "_explainer", "action", "kind", "rule", "title")

    def __init__(self, explainer: Explainer, compiled: CompiledRule) -> None:
        self._explainer = explainer
        self._compiled = compiled
        self._because: list[ConditionTrace] = _UNSET
        self.action, self.rule, self.kind, self.title, _ = compiled.identity

    @property
    def because(self) -> list[ConditionTrace]:
        """Every condition of the rule that explains this action, with the case's values, in words."""
        if self._because is _UNSET:
            self._because = self._explainer.because(self._explained_rule)
        return self._because

    @property
    def citations(self) -> list[CitationOut]:
        """The law and policy behind this action."""
        return self._explained_rule.citations

    @property
    def _explained_rule(self) -> CompiledRule:
        return self._compiled

    def _because_json(self) -> list[dict[str, Any]]:
        """`because` as JSON: from the traces when they were read, else built straight as dicts."""
        if self._because is not _UNSET:
            return [trace.model_dump(mode="json") for trace in self._because]
        return self._explainer.because_json(self._explained_rule)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.action} ({self.rule})>"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]


class RecommendedAction(_Action):
    """An action the policy recommends for the case, and why."""

    __slots__ = ("_parameters", "due_by", "outputs", "overdue", "priority")

    def __init__(
        self,
        explainer: Explainer,
        compiled: CompiledRule,
        outputs: dict[str, Any],
        due_by: dt.date | None,
        overdue: bool | None,
    ) -> None:
        # `_Action.__init__` written out: one is made for every action of every case.
        self._explainer = explainer
        self._compiled = compiled
        self._because = _UNSET
        self.action, self.rule, self.kind, self.title, self.priority = compiled.identity
        self.outputs = outputs
        self.due_by = due_by
        self.overdue = overdue
        self._parameters: dict[str, Any] = _UNSET

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameter values in force that the rule read (as JSON values)."""
        if self._parameters is _UNSET:
            self._parameters = self._explainer.parameters(self._compiled)
        return self._parameters

    def to_dict(self) -> dict[str, Any]:
        """The action as it appears in the decision JSON."""
        return {
            "action": self.action,
            "rule": self.rule,
            "kind": self.kind,
            "title": self.title,
            "because": self._because_json(),
            "citations": self._explainer.citations_json(self._compiled),
            "parameters": self.parameters,
            "outputs": self.outputs,
            "priority": self.priority,
            "due_by": None if self.due_by is None else self.due_by.isoformat(),
            "overdue": self.overdue,
        }


class HeldAction(_Action):
    """An action a rule would recommend but a hold suppresses, with the hold's reason and law."""

    __slots__ = ("_hold", "held_by", "reason")

    def __init__(self, explainer: Explainer, compiled: CompiledRule, hold: CompiledRule) -> None:
        super().__init__(explainer, compiled)
        self._hold = hold
        self.held_by = hold.id
        self.reason = hold.rule.title

    @property
    def _explained_rule(self) -> CompiledRule:
        return self._hold  # a held action is explained by its hold: why it is held, and the law

    def to_dict(self) -> dict[str, Any]:
        """The action as it appears in the decision JSON."""
        return {
            "action": self.action,
            "rule": self.rule,
            "kind": self.kind,
            "title": self.title,
            "held_by": self.held_by,
            "reason": self.reason,
            "because": self._because_json(),
            "citations": self._explainer.citations_json(self._hold),
        }


class WaitingAction(_Action):
    """An action whose rule applies but whose prerequisite actions have not been taken yet."""

    __slots__ = ("waiting_for",)

    def __init__(self, explainer: Explainer, compiled: CompiledRule, waiting_for: list[str]) -> None:
        super().__init__(explainer, compiled)
        self.waiting_for = waiting_for

    def to_dict(self) -> dict[str, Any]:
        """The action as it appears in the decision JSON."""
        return {
            "action": self.action,
            "rule": self.rule,
            "kind": self.kind,
            "title": self.title,
            "waiting_for": self.waiting_for,
            "because": self._because_json(),
            "citations": self._explainer.citations_json(self._compiled),
        }
