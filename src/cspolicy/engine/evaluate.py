"""The reference evaluator: run a compiled policy on one case and build the explained Decision.

Rule outcome semantics (every back end follows them):
- a rule *applies* when each `when` condition is true (checked left to right, stopping at the
  first that is not) and no `unless` condition is true;
- a hold that applies suppresses the rules it names that apply; a hold that is itself held
  suppresses nothing; holds are settled in graph order;
- an applying, unheld rule whose `requires` actions are not yet in the enforcement history
  (status sent or completed) is *waiting* and reported in `decision.waiting`, not recommended;
- outputs are computed only for recommended actions.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cspolicy.diagnostics import Code, EvaluationError, Problem
from cspolicy.engine.compiler import CompiledCondition, CompiledExpression, CompiledPolicy, CompiledRule
from cspolicy.engine.decision import (
    ConditionTrace,
    Decision,
    HeldAction,
    PolicyRef,
    RecommendedAction,
    WaitingAction,
    WhyNot,
)
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import Context, DivisionByZero, Renderer, Type
from cspolicy.expressions.nodes import Compare, Literal, Name, Node
from cspolicy.expressions.render import Template, format_money, format_value, template

# Per-process caches keyed by object id; each entry keeps its key object alive so ids stay valid.
_TEMPLATES: dict[int, tuple[CompiledExpression, Template]] = {}
_PARAMETERS: dict[int, tuple[CompiledPolicy, dict[dt.date, dict[str, Any]]]] = {}


def _parameters_on(policy: CompiledPolicy, day: dt.date) -> dict[str, Any]:
    """Parameter values in force on `day`, computed once per policy and date."""
    entry = _PARAMETERS.get(id(policy))
    if entry is None:
        entry = _PARAMETERS[id(policy)] = (policy, {})
    by_day = entry[1]
    values = by_day.get(day)
    if values is None:
        if len(by_day) > 4096:
            by_day.clear()
        values = by_day[day] = policy.parameters_on(day)
    return values


CENT = Decimal("0.01")


def round_money(amount: Decimal | int) -> Decimal:
    """An amount rounded half up to whole cents (money outputs are always shown in cents)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def json_value(value: Any) -> Any:
    """A fact as stable JSON: Decimal as text, dates ISO, lists item by item."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


class CaseRun:
    """One evaluation of one case: rule outcomes, and the explanations built from them."""

    def __init__(self, policy: CompiledPolicy, order: list[str], snapshot: CaseSnapshot) -> None:
        self.policy = policy
        self.snapshot = snapshot
        self.params = _parameters_on(policy, snapshot.as_of)
        self.context = Context(snapshot.facts(), self.params, policy.derived_fns)
        self.applies: dict[str, bool] = {}
        self.held_by: dict[str, str] = {}
        self.waiting_for: dict[str, list[str]] = {}
        for rule_id in order:
            rule = policy.rules[rule_id]
            self.applies[rule_id] = self.rule_applies(rule)
        for rule_id in order:
            rule = policy.rules[rule_id]
            if rule.is_hold and self.applies[rule_id] and rule_id not in self.held_by:
                for target in rule.rule.holds:
                    if self.applies.get(target) and target not in self.held_by:
                        self.held_by[target] = rule_id
        for rule_id in order:
            rule = policy.rules[rule_id]
            if rule.is_hold or not self.applies[rule_id] or rule_id in self.held_by:
                continue
            missing = [
                r
                for r in rule.rule.requires
                if self.context.last_taken(policy.rules[r].rule.action or "") is None
            ]
            if missing:
                self.waiting_for[rule_id] = missing

    # -- conditions -------------------------------------------------------------------------
    def run(self, expression: CompiledExpression, rule: CompiledRule | None = None) -> Any:
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
                self.snapshot.case_id,
            ) from None
        except KeyError as exc:
            name = exc.args[0] if exc.args else "?"
            raise EvaluationError(
                Problem(
                    Code.NO_PARAMETER_VALUE,
                    f"parameter {name!r} has no value in force on {self.snapshot.as_of}",
                    expression.location,
                ),
                self.snapshot.case_id,
            ) from None

    def rule_applies(self, rule: CompiledRule) -> bool:
        for condition in rule.when:
            if self.run(condition, rule) is not True:
                return False
        return all(self.run(condition, rule) is not True for condition in rule.unless)

    # -- explanations -----------------------------------------------------------------------
    def values(self, expression: CompiledExpression) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in expression.names:
            if name.path in values:
                continue
            if name.kind == "param":
                values[name.path] = self.params.get(name.key)
            elif name.kind == "derived":
                try:
                    values[name.path] = self.context.derive(name.key)
                except (DivisionByZero, KeyError):
                    values[name.path] = None
            else:
                values[name.path] = self.context.facts.get(name.path)
        return values

    def trace(self, condition: CompiledCondition, rule: CompiledRule) -> ConditionTrace:
        result = self.run(condition, rule)
        values = self.values(condition)
        text = self.explain_text(condition, values)
        # Built from already-checked parts: skip pydantic validation on this hot path.
        return ConditionTrace.model_construct(
            expr=condition.text,
            part=condition.part,
            values={k: json_value(v) for k, v in values.items() if not isinstance(v, list)},
            result=result,
            text=text,
        )

    def explain_text(self, expression: CompiledExpression, values: dict[str, Any]) -> str:
        """The plain-language sentence for `expression` with this case's values."""
        cached = _TEMPLATES.get(id(expression))
        if cached is None:
            cached = (expression, template(expression.node, self.policy.labels, list(values)))
            _TEMPLATES[id(expression)] = cached
        return cached[1].fill(values) + self.derived_meaning(expression)

    def derived_meaning(self, expression: CompiledExpression) -> str:
        """' — where X: ...' for each derived value read, so a trace never hides the facts behind it."""
        parts = []
        seen: set[str] = set()
        for name in expression.names:
            if name.kind != "derived" or name.key in seen or name.key not in self.policy.derived:
                continue
            seen.add(name.key)
            derived = self.policy.derived[name.key]
            inner = self.explain_text(derived.expression, self.values(derived.expression))
            parts.append(f" — where {derived.label} means: {inner}")
        return "".join(parts)

    def because(self, rule: CompiledRule) -> list[ConditionTrace]:
        traces = [self.trace(c, rule) for c in rule.when]
        # For an applying rule every `unless` was false: show them, they are part of "why".
        traces += [self.trace(c, rule) for c in rule.unless]
        return traces

    def parameters(self, rule: CompiledRule) -> dict[str, Any]:
        return {name: json_value(self.params.get(name)) for name in rule.parameters}

    def decision(self) -> Decision:
        policy = self.policy
        actions: list[RecommendedAction] = []
        held: list[HeldAction] = []
        waiting: list[WaitingAction] = []
        for rule in policy.rules.values():
            if rule.is_hold or not self.applies[rule.id]:
                continue
            action = rule.rule.action or ""
            if rule.id in self.held_by:
                hold = policy.rules[self.held_by[rule.id]]
                held.append(
                    HeldAction(
                        action=action,
                        rule=rule.id,
                        kind=rule.rule.kind.value,
                        title=rule.rule.title,
                        held_by=hold.id,
                        reason=hold.rule.title,
                        because=self.because(hold),
                        citations=hold.citations,
                    )
                )
            elif rule.id in self.waiting_for:
                waiting.append(
                    WaitingAction(
                        action=action,
                        rule=rule.id,
                        kind=rule.rule.kind.value,
                        title=rule.rule.title,
                        waiting_for=[policy.rules[r].rule.action or r for r in self.waiting_for[rule.id]],
                        because=self.because(rule),
                        citations=rule.citations,
                    )
                )
            else:
                outputs = {name: json_value(self.output(expr, rule)) for name, expr in rule.outputs.items()}
                due_by, overdue = self.clock(rule)
                actions.append(
                    RecommendedAction(
                        action=action,
                        rule=rule.id,
                        kind=rule.rule.kind.value,
                        title=rule.rule.title,
                        because=self.because(rule),
                        citations=rule.citations,
                        parameters=self.parameters(rule),
                        outputs=outputs,
                        priority=rule.rule.priority,
                        due_by=due_by,
                        overdue=overdue,
                    )
                )
        actions.sort(key=lambda a: -a.priority)  # stable: ties keep policy order
        decision = Decision(
            case_id=self.snapshot.case_id,
            as_of=self.snapshot.as_of,
            policy=PolicyRef(id=policy.source.id, version=policy.source.version, digest=policy.digest),
            actions=actions,
            held=held,
            waiting=waiting,
        )
        decision._run = self
        return decision

    def output(self, expression: CompiledExpression, rule: CompiledRule) -> Any:
        """An output's value; money is rounded half up to the cent, as a person is charged or credited."""
        value = self.run(expression, rule)
        if expression.node.type is Type.MONEY and value is not None:
            return round_money(value)
        return value

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
        return due_by, self.snapshot.as_of > due_by

    def why_not(self, rule_id: str) -> WhyNot:
        rule = self.policy.rules.get(rule_id)
        if rule is None:
            raise KeyError(f"no rule {rule_id!r} in policy {self.policy.source.id!r}")
        title = rule.rule.title
        failed: list[ConditionTrace] = []
        for condition in rule.when:
            try:
                trace = self.trace(condition, rule)
            except EvaluationError as exc:
                failed.append(ConditionTrace(expr=condition.text, result=None, text=exc.problem.message))
                continue
            if trace.result is not True:
                failed.append(self.with_distance(trace, condition))
        for condition in rule.unless:
            trace = self.trace(condition, rule)
            if trace.result is True:
                failed.append(trace.model_copy(update={"text": "unless " + trace.text}))
        if rule.is_hold:
            status = "hold applies" if self.applies[rule_id] else "hold does not apply"
            text = f"{title}: " + (
                "applies"
                if self.applies[rule_id]
                else "does not apply. Not met: " + "; ".join(t.text for t in failed)
            )
            return WhyNot(rule=rule_id, title=title, status=status, failed=failed, text=text)
        if rule_id in self.held_by:
            hold = self.policy.rules[self.held_by[rule_id]]
            text = f"{title}: applies but is held by {hold.id!r} — {hold.rule.title}"
            return WhyNot(rule=rule_id, title=title, status="held", failed=[], held_by=hold.id, text=text)
        if rule_id in self.waiting_for:
            needed = [self.policy.rules[r].rule.action or r for r in self.waiting_for[rule_id]]
            text = f"{title}: applies but waits for {', '.join(needed)} to be taken first"
            return WhyNot(
                rule=rule_id,
                title=title,
                status="waiting",
                failed=[],
                waiting_for=needed,
                text=text,
            )
        if self.applies[rule_id]:
            return WhyNot(
                rule=rule_id,
                title=title,
                status="recommended",
                failed=[],
                text=f"{title}: recommended",
            )
        text = f"{title}: does not apply. Not met: " + "; ".join(t.text for t in failed)
        return WhyNot(rule=rule_id, title=title, status="not applicable", failed=failed, text=text)

    def with_distance(self, trace: ConditionTrace, condition: CompiledCondition) -> ConditionTrace:
        distance = self.distance(condition.node)
        if distance:
            return trace.model_copy(update={"text": f"{trace.text} — {distance}"})
        return trace

    def distance(self, node: Node) -> str | None:
        """How far a failed numeric or date comparison is from holding, in words."""
        if not isinstance(node, Compare) or node.op in ("==", "!="):
            return None
        try:
            left = self.run(_bare(node.left))
            right = self.run(_bare(node.right))
        except EvaluationError:
            return None
        if left is None or right is None:
            return None
        target = Renderer(self.policy.labels).render(node.right)
        if isinstance(node.right, Literal):
            target = format_value(node.right.value, node.left.type)
        if node.left.type is Type.DATE:
            days = abs((right - left).days)
            return f"{days} day{'s' if days != 1 else ''} from {target}"
        gap = (right - left) if node.op in (">", ">=") else (left - right)
        if node.left.type is Type.MONEY or node.right.type is Type.MONEY:
            shown = format_money(Decimal(gap))
        else:
            shown = format_value(gap, Type.NUMBER)
        if gap == 0:
            return f"exactly at {target}; it must be {'more' if node.op == '>' else 'less'} than that"
        direction = "below" if node.op in (">", ">=") else "above"
        return f"{shown} {direction} {target}"


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


def _bare(node: Node) -> CompiledExpression:
    from cspolicy.diagnostics import Location
    from cspolicy.expressions import compile_expression

    names = [n for n in node.walk() if isinstance(n, Name)]
    return CompiledExpression("", node, compile_expression(node), Location("<distance>"), names)
