"""What was decided for one case, before any explanation: the result every back end produces.

A `CaseOutcome` says, rule by rule, whether it applies, which hold suppresses it and which
prerequisite actions it waits for; it also computes the outputs and statutory clocks of the
recommended actions. The reference evaluator (`cspolicy.engine.evaluate`), the Rete back end and
the caseload's per-case path all produce one, through the `Backend` protocol; one explainer
(`cspolicy.engine.explain`) turns any of them into an explained Decision.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Protocol

from cspolicy.diagnostics import Code, EvaluationError, Problem
from cspolicy.engine.caseschema import default_case_schema
from cspolicy.engine.compiler import CompiledExpression, CompiledPolicy, CompiledRule
from cspolicy.engine.outputs import round_money
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import Context, DivisionByZero, ExpressionFailure, Renderer, Type

RuleStatus = Literal[
    "recommended", "held", "waiting", "not applicable", "hold applies", "hold does not apply"
]


class CaseOutcome:
    """One case under one compiled policy: which rules apply, are held, wait; outputs and clocks."""

    __slots__ = (
        "_snapshot",
        "applies",
        "as_of",
        "case_id",
        "context",
        "held_by",
        "params",
        "policy",
        "waiting_for",
    )

    def __init__(
        self,
        policy: CompiledPolicy,
        snapshot: CaseSnapshot | None,
        context: Context,
        applies: dict[str, bool],
        held_by: dict[str, str],
        waiting_for: dict[str, list[str]],
        case_id: str | None = None,
        as_of: dt.date | None = None,
    ) -> None:
        self.policy = policy
        self._snapshot = snapshot
        self.context = context
        self.params: dict[str, Any] = context.params
        self.applies = applies
        self.held_by = held_by
        self.waiting_for = waiting_for
        if snapshot is not None:
            case_id, as_of = snapshot.case_id, snapshot.as_of
        if case_id is None or as_of is None:
            raise ValueError("an outcome needs a snapshot or the case id and date")
        self.case_id: str = case_id
        self.as_of: dt.date = as_of

    @classmethod
    def undecided(cls, policy: CompiledPolicy, snapshot: CaseSnapshot) -> CaseOutcome:
        """An outcome with the case's facts and parameters in force and nothing decided yet:
        a back end fills `applies`, `held_by` and `waiting_for`."""
        context = Context(snapshot.facts(), policy.parameters_in_force(snapshot.as_of), policy.derived_fns)
        return cls(policy, snapshot, context, {}, {}, {})

    @classmethod
    def from_facts(
        cls, policy: CompiledPolicy, facts: dict[str, Any], case_id: str, as_of: dt.date
    ) -> CaseOutcome:
        """`undecided` for facts read straight from snapshot data (`CaseSchema.read`): the
        snapshot model is built only if someone asks for it."""
        context = Context(facts, policy.parameters_in_force(as_of), policy.derived_fns)
        return cls(policy, None, context, {}, {}, {}, case_id, as_of)

    @property
    def snapshot(self) -> CaseSnapshot:
        """The validated snapshot (built from the facts on first use when they were read directly)."""
        if self._snapshot is None:
            schema = self.policy.case_schema or default_case_schema()
            self._snapshot = schema.snapshot_from_facts(self.context.facts)
        return self._snapshot

    # -- rule statuses ------------------------------------------------------------------------
    def status(self, rule_id: str) -> RuleStatus:
        """What became of one rule for this case."""
        rule = self.policy.rules[rule_id]
        if rule.is_hold:
            return "hold applies" if self.applies[rule_id] else "hold does not apply"
        if not self.applies[rule_id]:
            return "not applicable"
        if rule_id in self.held_by:
            return "held"
        if rule_id in self.waiting_for:
            return "waiting"
        return "recommended"

    def recommended(self) -> list[CompiledRule]:
        """The recommended rules in the order their actions are listed (priority, then policy order)."""
        applies, held_by, waiting_for = self.applies, self.held_by, self.waiting_for
        if not held_by and not waiting_for:
            return [rule for rule_id, rule in self.policy.action_steps if applies[rule_id]]
        return [
            rule
            for rule_id, rule in self.policy.action_steps
            if applies[rule_id] and rule_id not in held_by and rule_id not in waiting_for
        ]

    # -- expressions --------------------------------------------------------------------------
    def run(self, expression: CompiledExpression, rule: CompiledRule | None = None) -> Any:
        """The value of one expression for this case; EvaluationError naming the rule and the
        expression for a division by zero, a parameter with no value in force or a keyed
        parameter without the case's key."""
        try:
            return expression.fn(self.context)
        except DivisionByZero as exc:
            divisor = Renderer(self.policy.labels).render(getattr(exc.node, "right", exc.node))
            where = f"rule {rule.id!r}" if rule else "expression"
            raise EvaluationError(
                Problem(
                    Code.DIVISION_BY_ZERO,
                    f"{where}: division by zero in `{expression.text}` ({divisor} is 0)",
                    expression.location,
                ),
                self.case_id,
            ) from None
        except ExpressionFailure as exc:  # e.g. MissingKey: a keyed parameter without the case's key
            where = f"rule {rule.id!r}" if rule else "expression"
            raise EvaluationError(
                Problem(exc.code, f"{where}: {exc.message} in `{expression.text}`", expression.location),
                self.case_id,
            ) from None
        except KeyError as exc:
            name = exc.args[0] if exc.args else "?"
            raise EvaluationError(
                Problem(
                    Code.NO_PARAMETER_VALUE,
                    f"parameter {name!r} has no value in force on {self.as_of}",
                    expression.location,
                ),
                self.case_id,
            ) from None

    def output(self, expression: CompiledExpression, rule: CompiledRule) -> Any:
        """An output's value; money is rounded half up to the cent, as a person is charged or credited."""
        value = self.run(expression, rule)
        if expression.node.type is Type.MONEY and value is not None:
            return round_money(value)
        return value

    def outputs(self, rule: CompiledRule) -> dict[str, Any]:
        """Every output of a recommended rule, by name."""
        return {name: self.output(expression, rule) for name, expression in rule.outputs.items()}

    def clock(self, rule: CompiledRule) -> tuple[dt.date | None, bool | None]:
        """The statutory clock of a recommended action: its due date and whether it has passed.

        The longer `extended` clock applies only when its condition is true (unknown → the
        normal clock). Without a trigger date for this case there is no clock (None, None).
        """
        due = rule.rule.due
        if rule.due_after is None or due is None:
            return None, None
        start = self.run(rule.due_after, rule)
        if start is None:
            return None, None
        days = due.days
        extended = rule.due_extended_when
        if due.extended is not None and extended is not None and self.run(extended, rule) is True:
            days = due.extended.days
        due_by = add_business_days(start, days) if due.business_days else start + dt.timedelta(days=days)
        return due_by, self.as_of > due_by


class Backend(Protocol):
    """A back end that decides cases: the reference evaluator, the Rete network, … ."""

    def outcome(self, snapshot: CaseSnapshot) -> CaseOutcome:
        """Decide one (validated) case: rule outcomes, not yet explained."""
        ...


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The `days`-th Monday-to-Friday day after `start` (public holidays are not skipped)."""
    weeks, rest = divmod(days, 5)
    day = start + dt.timedelta(weeks=weeks)
    while rest:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            rest -= 1
    # A whole number of weeks from a weekend trigger lands on a weekend: move to Friday's count.
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day
