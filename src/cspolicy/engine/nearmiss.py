"""Near misses: rules that did not apply to a case but are close, and what would have to change.

A rule is a near miss when exactly one of its `when` conditions is not met, none of its
`unless` conditions holds, and that one condition is close:
- a numeric comparison within `threshold` (a share of the limit, 10% by default);
- a date comparison, or a count of days, within `days` days;
- for an incentive, any condition the parent can meet by doing something (a payment, enrolling,
  agreeing to a plan) — phrased as what the parent can do.
A condition that names a derived value or an `and` is followed inside to the part that fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cspolicy.diagnostics import EvaluationError, Location
from cspolicy.engine.compiler import CompiledCondition, CompiledExpression, CompiledRule
from cspolicy.engine.outputs import NearMiss
from cspolicy.expressions import Renderer, Type, compile_expression
from cspolicy.expressions.nodes import BoolOp, Call, Compare, Literal, Name, Node
from cspolicy.expressions.render import format_money, format_value
from cspolicy.source.documents import RuleKind, Unit

if TYPE_CHECKING:
    from cspolicy.engine.outcomes import CaseOutcome

DEFAULT_THRESHOLD = Decimal("0.10")

# What a parent can do to make a failing condition true, by the fact it reads and the direction
# the fact has to move ("up", "down") or the value it has to take.
PARENT_CAN: dict[tuple[str, str], str] = {
    ("payments.to_family_arrears_in_period", "up"): "a payment toward the other parent's arrears is made",
    ("payments.days_since_last", "down"): "a payment is made",
    ("payments.last_date", "up"): "a payment is made",
    ("arrears.total", "down"): "past-due support is paid down",
    ("arrears.family_owed", "down"): "past-due support owed to the other parent is paid down",
    ("paying_parent.programs.employment_training", "enrolled"): (
        "the parent enrolls in employment and training services"
    ),
    ("paying_parent.programs.payment_plan", "active"): "the parent agrees to a payment plan",
    ("paying_parent.employment", "employed"): "the parent finds work",
}
# Facts that grow by one every day the case waits: "in N days" rather than "N days from".
_GROWS_WITH_TIME = {"as_of", "payments.days_since_last"}


@dataclass
class _Gap:
    """How far one failing comparison is from holding."""

    node: Node
    distance: str
    needed: str


def near_misses(run: CaseOutcome, threshold: Decimal | None = None, days: int = 30) -> list[NearMiss]:
    """The near misses of one evaluated case, in policy order."""
    share = DEFAULT_THRESHOLD if threshold is None else Decimal(threshold)
    finder = _Finder(run, share, days)
    found: list[NearMiss] = []
    for rule in run.policy.rules.values():
        if rule.is_hold or run.applies.get(rule.id):
            continue
        miss = finder.rule(rule)
        if miss is not None:
            found.append(miss)
    return found


class _Finder:
    def __init__(self, run: CaseOutcome, share: Decimal, days: int) -> None:
        self.run = run
        self.share = share
        self.days = days
        self.labels = run.policy.labels

    def value(self, node: Node) -> Any:
        expression = CompiledExpression("", node, compile_expression(node), Location("<near miss>"), [])
        try:
            return self.run.run(expression)
        except EvaluationError:
            return None

    def rule(self, rule: CompiledRule) -> NearMiss | None:
        failing: list[CompiledCondition] = []
        for condition in rule.when:
            if self.value(condition.node) is not True:
                failing.append(condition)
        if len(failing) != 1:
            return None
        if any(self.value(c.node) is True for c in rule.unless):
            return None
        condition = failing[0]
        incentive = rule.rule.kind is RuleKind.INCENTIVE
        gap = self.gap(condition.node, incentive)
        if gap is None:
            return None
        title = rule.rule.title
        text = f"{title} once {gap.needed}" if incentive else f"{title}: would apply if {gap.needed}"
        return NearMiss(
            rule=rule.id,
            title=title,
            kind=rule.rule.kind.value,
            action=rule.rule.action,
            condition=condition.text,
            distance=gap.distance,
            text=text,
        )

    def gap(self, node: Node, incentive: bool) -> _Gap | None:
        """The one failing part of `node` and how far it is from holding, or None if not close."""
        if isinstance(node, Name) and node.kind == "derived":
            derived = self.run.policy.derived.get(node.key)
            return None if derived is None else self.gap(derived.expression.node, incentive)
        if isinstance(node, BoolOp) and node.op == "and":
            failing = [part for part in node.operands if self.value(part) is not True]
            return self.gap(failing[0], incentive) if len(failing) == 1 else None
        if isinstance(node, BoolOp) and node.op == "or":
            # Every part fails; the case is close when one of them is (the first that is, in order),
            # e.g. `payments.last_date == None or payments.days_since_last > 60` for a paying parent.
            for part in node.operands:
                gap = self.gap(part, incentive)
                if gap is not None:
                    return gap
            return None
        if isinstance(node, Compare):
            return self.compare(node, incentive)
        return None

    def compare(self, node: Compare, incentive: bool) -> _Gap | None:
        left, right = self.value(node.left), self.value(node.right)
        if left is None or right is None:
            return None
        if node.op in ("==", "!="):
            return self.choice(node, incentive) if incentive and node.op == "==" else None
        if (
            node.left.type is Type.DATE
            or _is_day_count(node.left, self.run)
            or _is_day_count(node.right, self.run)
        ):
            return self.dates(node, left, right)
        return self.amount(node, Decimal(left), Decimal(right), incentive)

    def amount(self, node: Compare, left: Decimal, right: Decimal, incentive: bool) -> _Gap | None:
        rising = node.op in (">", ">=")
        gap = (right - left) if rising else (left - right)
        money = Type.MONEY in (node.left.type, node.right.type)
        shown = format_money(gap) if money else format_value(gap, Type.NUMBER)
        phrase = _parent_phrase(node.left, "up" if rising else "down")
        if incentive and phrase is not None:
            return _Gap(node, shown, phrase)
        if right == 0 or gap / abs(right) > self.share:
            return None
        subject = Renderer(self.labels, self._values(node.left)).render(node.left)
        target = self.target(node)
        if gap == 0:  # exactly at a strict limit: any change in the right direction will do
            where = "past" if rising else "below"
            return _Gap(node, shown, f"{subject} moved {where} {target} (it is exactly at it)")
        strict = "more than " if node.op in (">", "<") else ""
        verb = "rose" if rising else "fell"
        where = (
            ("past " if strict else "to ") + target if rising else ("below " if strict else "to ") + target
        )
        return _Gap(node, shown, f"{subject} {verb} by {strict}{shown}, {where}")

    def dates(self, node: Compare, left: Any, right: Any) -> _Gap | None:
        if isinstance(left, dt.date) and isinstance(right, dt.date):
            apart = abs((right - left).days)
        else:
            apart = abs(int(right) - int(left))
        if node.op in (">", "<"):
            apart += 1
        if apart > self.days:
            return None
        shown = f"{apart} day{'s' if apart != 1 else ''}"
        waits = (_grows(node.left) and node.op in (">", ">=")) or (
            _grows(node.right) and node.op in ("<", "<=")
        )
        if waits:
            on = self.run.snapshot.as_of + dt.timedelta(days=apart)
            return _Gap(node, shown, f"nothing else changes for {shown} (on {on.isoformat()})")
        subject = Renderer(self.labels, self._values(node.left)).render(node.left)
        return _Gap(node, shown, f"{subject} were {shown} {'later' if node.op in ('>', '>=') else 'earlier'}")

    def choice(self, node: Compare, incentive: bool) -> _Gap | None:
        if not isinstance(node.right, Literal) or not isinstance(node.left, Name):
            return None
        phrase = PARENT_CAN.get((node.left.path, str(node.right.value)))
        return None if phrase is None else _Gap(node, str(node.right.value), phrase)

    def target(self, node: Compare) -> str:
        if isinstance(node.right, Literal):
            return format_value(node.right.value, node.left.type)
        return Renderer(self.labels, self._values(node.right)).render(node.right)

    def _values(self, node: Node) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in node.walk():
            if isinstance(name, Name) and name.kind != "item":
                values[name.path] = self.value(name)
        return values


def _parent_phrase(node: Node, direction: str) -> str | None:
    if isinstance(node, Name):
        return PARENT_CAN.get((node.path, direction))
    return None


def _grows(node: Node) -> bool:
    """Whether the value grows by one each day (the snapshot date, days since something)."""
    if isinstance(node, Name):
        return node.path in _GROWS_WITH_TIME
    return isinstance(node, Call) and node.function in ("days_since", "days_since_taken")


def _is_day_count(node: Node, run: CaseOutcome) -> bool:
    """Whether a number counts days: a `days` field or parameter, or a days_* function."""
    if isinstance(node, Call):
        return node.function in ("days_since", "days_since_taken", "days_between")
    if isinstance(node, Name):
        if node.kind == "param":
            parameter = run.policy.parameters.get(node.key)
            return parameter is not None and parameter.entity.item.unit is Unit.DAYS
        return node.spec is not None and node.spec.unit == "days"
    return False
