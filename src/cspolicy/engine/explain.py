"""The explainer: turn a case's outcome into an explained, cited Decision, and answer why-not.

Every back end produces a `CaseOutcome` (which rules apply, are held, wait); this module is the
one place that builds the traces (each condition with the case's values, in words), the
citations, the why-not explanations with their distance to a threshold, and near misses.
"""

from __future__ import annotations

import weakref
from decimal import Decimal
from typing import Any

from cspolicy.diagnostics import EvaluationError, Location
from cspolicy.engine.actions import HeldAction, RecommendedAction, WaitingAction
from cspolicy.engine.compiler import CompiledCondition, CompiledExpression, CompiledRule
from cspolicy.engine.decision import Decision
from cspolicy.engine.nearmiss import DEFAULT_THRESHOLD, near_misses
from cspolicy.engine.outcomes import CaseOutcome
from cspolicy.engine.outputs import ConditionTrace, NearMiss, PolicyRef, WhyNot, json_value
from cspolicy.expressions import DivisionByZero, Renderer, Type, compile_expression
from cspolicy.expressions.closures import Fn
from cspolicy.expressions.nodes import Call, Compare, Literal, Name, Node
from cspolicy.expressions.render import (
    format_money,
    format_value,
    negate_label,
    sentence_parts,
    words,
)
from cspolicy.expressions.templates import template

_UNKNOWN: Any = object()  # a condition's result not yet computed
_KEPT_DAYS = 50_000  # (rule, day) parameter values kept before they are dropped

# A part of a condition compiled on its own (to say which part of an `and`/`or` holds), by node.
_PARTS: weakref.WeakKeyDictionary[Node, CompiledExpression] = weakref.WeakKeyDictionary()


def explain(outcome: CaseOutcome) -> Decision:
    """The explained Decision of one case's outcome."""
    return Explainer(outcome).decision()


class Explainer:
    """Explanations of one case's outcome: traces, citations, why-not, near misses."""

    def __init__(self, outcome: CaseOutcome) -> None:
        self.outcome = outcome
        self.policy = outcome.policy
        self.context = outcome.context
        self.params = outcome.params
        self.applies = outcome.applies
        self.held_by = outcome.held_by
        self.waiting_for = outcome.waiting_for
        self.run = outcome.run
        self.cache = self.policy.explain_cache
        # Sentences said for this case, by (expression, truth): a condition shared by rules and a
        # derived value read by several traces are said once (the values are the case's own).
        self._said: dict[tuple[int, bool | None], str] = {}
        # What this case reads, by expression (the expression kept, so its id cannot be reused):
        # the values, and the same as JSON; and each value as a sentence shows it, by path and type.
        self._read: dict[int, tuple[CompiledExpression, dict[str, Any], dict[str, Any] | None]] = {}
        self._shown: dict[tuple[str, Type], str] = {}

    # -- explanations -----------------------------------------------------------------------
    def _reads(self, expression: CompiledExpression) -> tuple[tuple[str, str, str], ...]:
        """(path, kind, key) of each distinct name an expression reads, in first-use order."""
        key = ("reads", id(expression))
        reads = self.cache.get(key)
        if reads is None:
            seen: dict[str, tuple[str, str, str]] = {}
            for name in expression.names:
                seen.setdefault(name.path, (name.path, name.kind, name.key))
            reads = self.cache[key] = tuple(seen.values())
        return reads

    def values(self, expression: CompiledExpression) -> dict[str, Any]:
        """The case's values of what `expression` reads, by path (worked out once per case)."""
        read = self._read.get(id(expression))
        if read is not None and read[0] is expression:
            return read[1]
        values = self._values(expression)
        self._read[id(expression)] = (expression, values, None)
        return values

    def _values_json(self, expression: CompiledExpression) -> dict[str, Any]:
        """`values(expression)` as a trace's JSON has them (a list is left out), once per case."""
        read = self._read.get(id(expression))
        if read is None or read[0] is not expression:
            self.values(expression)
            read = self._read[id(expression)]
        shown = read[2]
        if shown is None:
            shown = {k: json_value(v) for k, v in read[1].items() if not isinstance(v, list)}
            self._read[id(expression)] = (expression, read[1], shown)
        return dict(shown)

    def _values(self, expression: CompiledExpression) -> dict[str, Any]:
        values: dict[str, Any] = {}
        facts, params = self.context.facts, self.params
        for path, kind, key in self._reads(expression):
            if kind == "param":
                values[path] = params.get(key)
            elif kind == "derived":
                try:
                    values[path] = self.context.derive(key)
                except (DivisionByZero, KeyError):
                    values[path] = None
            else:
                values[path] = facts.get(path)
        return values

    def trace(self, condition: CompiledCondition, rule: CompiledRule) -> ConditionTrace:
        # Built from already-checked parts: skip pydantic validation on this hot path.
        return ConditionTrace.model_construct(**self.trace_json(condition, rule))

    def trace_json(
        self, condition: CompiledCondition, rule: CompiledRule, result: Any = _UNKNOWN
    ) -> dict[str, Any]:
        """A condition's trace as it appears in the decision JSON (`ConditionTrace`'s fields);
        `result`, when the caller knows it (a `when` of a rule that applies is true), is not
        computed again."""
        if result is _UNKNOWN:
            result = self.run(condition, rule)
        values = self.values(condition)
        # Said as it is for this case: a condition that failed reads in the negative.
        text = self.explain_text(condition, values, result if isinstance(result, bool) else None)
        return {
            "expr": condition.text,
            "part": condition.part,
            "values": self._values_json(condition),
            "result": result,
            "text": text,
        }

    def _parts(self, expression: CompiledExpression) -> tuple[tuple[int, Fn], ...]:
        """The sentence parts of an expression (see `sentence_parts`): (id, closure), once each."""
        key = ("parts", id(expression))
        parts = self.cache.get(key)
        if parts is None:
            seen: dict[int, tuple[int, Fn]] = {}
            for part in sentence_parts(expression.node):
                if id(part) not in seen:
                    seen[id(part)] = (id(part), _compiled_part(part).fn)
            parts = self.cache[key] = tuple(seen.values())
        return parts

    def _value(self, fn: Fn) -> Any:
        """A part's value for this case; None when it cannot be computed (as `part_value`)."""
        try:
            return fn(self.context)
        except (DivisionByZero, KeyError):
            return None

    def explain_text(
        self, expression: CompiledExpression, values: dict[str, Any], truth: bool | None = True
    ) -> str:
        """The plain-language sentence for `expression` with this case's values, said as true
        (`truth=True`, also for a value that is not yes/no), as false, or as unknown (None).
        `values` are the case's values of what it reads (`values(expression)`), so the sentence
        is said once per case and truth."""
        said = self._said.get((id(expression), truth))
        if said is None:
            said = self._said[id(expression), truth] = self._explain_text(expression, values, truth)
        return said

    def _explain_text(
        self, expression: CompiledExpression, values: dict[str, Any], truth: bool | None
    ) -> str:
        plan = self.cache.get(("plan", id(expression)))
        if plan is None:
            plan = self.cache["plan", id(expression)] = self._plan(expression)
        fns, bare, derived = plan
        if truth is not None and fns:  # each part's value for this case, as `_value` gives it
            context = self.context
            found_list = []
            for fn in fns:
                try:
                    found_list.append(fn(context))
                except (DivisionByZero, KeyError):
                    found_list.append(None)
            found = tuple(found_list)
        else:
            found = ()
        key = (id(expression), truth, found)
        templates = self.policy.templates
        filled = templates.get(key)
        if filled is None:
            parts = self._parts(expression) if truth is not None else ()
            truths = {part_id: value for (part_id, _), value in zip(parts, found, strict=True)}
            filled = templates[key] = template(
                expression.node, self.policy.labels, list(values), truth, truths
            )
        if filled.computed:
            values = dict(values) | {k: self.part_value(node) for k, node in filled.computed}
        text = filled.fill(values, self._shown)
        if truth is None:
            text = self.unknown_because(expression, values) + text
        if bare:
            return self.derived_meaning(expression, bare=True) or text
        return text + self.derived_meaning(expression) if derived else text

    def _plan(self, expression: CompiledExpression) -> tuple[tuple[Fn, ...], bool, bool]:
        """What saying an expression needs, worked out once: its sentence parts' closures,
        whether it is a derived name alone, and whether it reads any derived value."""
        node, derived = expression.node, self.policy.derived
        bare = isinstance(node, Name) and node.kind == "derived" and node.key in derived
        reads_derived = any(n.kind == "derived" and n.key in derived for n in expression.names)
        return tuple(fn for _, fn in self._parts(expression)), bare, reads_derived

    def unknown_because(self, expression: CompiledExpression, values: dict[str, Any]) -> str:
        """'no payment has ever been received, so ' — the missing facts that leave a condition unknown."""
        reasons: list[str] = []
        for name in expression.names:
            if name.kind == "item" or name.path not in values or values[name.path] is not None:
                continue
            spec = name.spec
            absent = spec.absent if spec is not None else None
            reason = absent or f"{self.policy.labels.of(name)} is not known"
            if reason not in reasons:
                reasons.append(reason)
        for node in expression.node.walk():  # an action never taken has no date and no days since
            if isinstance(node, Call) and node.function in ("days_since_taken", "date_taken"):
                action = node.args[0]
                if isinstance(action, Literal) and self.part_value(node) is None:
                    reason = f"{words(str(action.value))} has never been done"
                    if reason not in reasons:
                        reasons.append(reason)
        return f"{'; '.join(reasons)}, so " if reasons else ""

    def part_value(self, node: Node) -> Any:
        """The value of one part of an expression for this case (None when it cannot be computed)."""
        compiled = _compiled_part(node)
        try:
            return self.run(compiled)
        except EvaluationError:
            return None

    def derived_meaning(self, expression: CompiledExpression, bare: bool = False) -> str:
        """What each derived value read means for this case, so a trace never hides the facts
        behind it: ' — not behind by at least one month of support: past-due support ($0) is not
        more than 0' for a yes/no value, ' — where X means: …' for an amount or a date.
        `bare`: the expression is the derived name itself (its sentence is the meaning alone)."""
        parts = []
        cache_key = ("derived", id(expression))
        keys = self.cache.get(cache_key)
        if keys is None:
            wanted = (n.key for n in expression.names if n.kind == "derived" and n.key in self.policy.derived)
            keys = self.cache[cache_key] = tuple(dict.fromkeys(wanted))
        for derived_key in keys:
            derived = self.policy.derived[derived_key]
            if derived.expression.node.type is Type.BOOL:
                try:
                    value = self.context.derive(derived_key)
                except (DivisionByZero, KeyError):
                    value = None
                truth = value if isinstance(value, bool) else None
                inner = self._said.get((id(derived.expression), truth)) or self.explain_text(
                    derived.expression, self.values(derived.expression), truth
                )
                label = (
                    derived.label
                    if truth is True
                    else negate_label(derived.label)
                    if truth is False
                    else f"it is not known whether {derived.label}"
                )
                if bare:  # the sentence is the meaning; the derived name is added when it says more
                    parts.append(inner if label in inner else f"{inner} ({label})")
                else:
                    parts.append(f" — {label}: {inner}")
            else:
                inner = self._said.get((id(derived.expression), True)) or self.explain_text(
                    derived.expression, self.values(derived.expression)
                )
                parts.append(
                    f"{derived.label} means: {inner}" if bare else f" — where {derived.label} means: {inner}"
                )
        return "".join(parts)

    def because(self, rule: CompiledRule) -> list[ConditionTrace]:
        traces = [self.trace(c, rule) for c in rule.when]
        # For an applying rule every `unless` was false: show them, they are part of "why".
        traces += [self.trace(c, rule) for c in rule.unless]
        return traces

    def because_json(self, rule: CompiledRule) -> list[dict[str, Any]]:
        """`because(rule)` as the decision JSON has it, without building the trace models.
        Every `when` of a rule that applies is true (that is what applying means): not run again."""
        known = True if self.applies.get(rule.id) is True else _UNKNOWN
        return [self.trace_json(c, rule, known) for c in rule.when] + [
            self.trace_json(c, rule) for c in rule.unless
        ]

    def parameters(self, rule: CompiledRule) -> dict[str, Any]:
        """The parameter values in force that `rule` reads, as JSON (the same for every case of
        a day: kept per rule and day, a copy given out)."""
        kept, key = self.policy.parameters_json, (id(rule), self.outcome.as_of)
        cached = kept.get(key)
        if cached is None:
            if len(kept) >= _KEPT_DAYS:  # a caseload spanning very many days
                kept.clear()
            cached = kept[key] = {name: json_value(self.params.get(name)) for name in rule.parameters}
        return dict(cached)

    def decision(self) -> Decision:
        """The Decision: actions (priority order), held and waiting (policy order); outputs and
        clocks computed now (they can fail for a case), explanations when read."""
        outcome = self.outcome
        rules = self.policy.rules
        held: list[HeldAction] = []
        waiting: list[WaitingAction] = []
        if outcome.held_by or outcome.waiting_for:
            pending = sorted({*outcome.held_by, *outcome.waiting_for}, key=self.policy.positions.__getitem__)
            for rule_id in pending:  # in policy order; a held hold is no action
                rule = rules[rule_id]
                if rule.is_hold or not outcome.applies[rule_id]:
                    continue
                if rule_id in outcome.held_by:
                    held.append(HeldAction(self, rule, rules[outcome.held_by[rule_id]]))
                elif rule_id in outcome.waiting_for:
                    needed = [rules[r].rule.action or r for r in outcome.waiting_for[rule_id]]
                    waiting.append(WaitingAction(self, rule, needed))
        actions = []
        for rule in outcome.recommended():
            outputs = (
                {
                    name: json_value(outcome.output(expression, rule))
                    for name, expression in rule.outputs.items()
                }
                if rule.outputs
                else {}
            )
            due_by, overdue = outcome.clock(rule) if rule.due_after is not None else (None, None)
            actions.append(RecommendedAction(self, rule, outputs, due_by, overdue))
        return Decision(self, self.policy_ref, actions, held, waiting)

    @property
    def policy_ref(self) -> PolicyRef:
        """Which policy decided (one object per compiled policy)."""
        return self.policy.reference

    @property
    def policy_json(self) -> dict[str, str]:
        reference = self.policy.reference
        return {"id": reference.id, "version": reference.version, "digest": reference.digest}

    def citations_json(self, rule: CompiledRule) -> list[dict[str, Any]]:
        """A rule's citations as JSON (built once per rule and reused)."""
        cached = self.policy.citations_json.get(rule.id)
        if cached is None:
            cached = self.policy.citations_json[rule.id] = [c.model_dump(mode="json") for c in rule.citations]
        return cached

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
            if trace.result is True:  # said as it is: "send delinquency notice has been done"
                failed.append(trace)
        because = "does not apply because " + "; ".join(t.text for t in failed)
        if rule.is_hold:
            status = "hold applies" if self.applies[rule_id] else "hold does not apply"
            text = f"{title}: " + ("applies" if self.applies[rule_id] else because)
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
        text = f"{title}: {because}"
        return WhyNot(rule=rule_id, title=title, status="not applicable", failed=failed, text=text)

    def with_distance(self, trace: ConditionTrace, condition: CompiledCondition) -> ConditionTrace:
        if trace.result is not False:
            return trace
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
        money = Type.MONEY in (node.left.type, node.right.type)
        if isinstance(node.right, Literal):
            target = format_value(node.right.value, node.left.type)
        elif isinstance(node.right, Name):
            target = Renderer(self.policy.labels).render(node.right)
        else:  # a computed limit reads as its amount: "$700.00 below $1,050.00"
            target = format_value(right, Type.MONEY if money else node.right.type)
        if node.left.type is Type.DATE:
            days = abs((right - left).days)
            return f"{days} day{'s' if days != 1 else ''} from {target}"
        gap = (right - left) if node.op in (">", ">=") else (left - right)
        shown = format_money(Decimal(gap)) if money else format_value(gap, Type.NUMBER)
        if gap == 0:
            return f"exactly at {target}; it must be {'more' if node.op == '>' else 'less'} than that"
        direction = "below" if node.op in (">", ">=") else "above"
        return f"{shown} {direction} {target}"

    def near_misses(self, threshold: Decimal = DEFAULT_THRESHOLD, days: int = 30) -> list[NearMiss]:
        """Rules close to applying (see `cspolicy.engine.nearmiss`)."""
        return near_misses(self.outcome, threshold=threshold, days=days)


def _compiled_part(node: Node) -> CompiledExpression:
    compiled = _PARTS.get(node)
    if compiled is None:
        compiled = _PARTS[node] = _bare(node)
    return compiled


def _bare(node: Node) -> CompiledExpression:
    names = [n for n in node.walk() if isinstance(n, Name)]
    return CompiledExpression("", node, compile_expression(node), Location("<distance>"), names)
