"""Explanations in Spanish: the explainer's traces, why-not and distances, said by the Spanish
renderer with the policy's Spanish texts (`cspolicy.engine.translations`).

The English explainer (`cspolicy.engine.explain`) fills cached sentence templates, which is
what a caseload needs; a Spanish explanation is read by one person about one case, so it is
rendered directly, from the same AST, values and part truths.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cspolicy.diagnostics import EvaluationError
from cspolicy.engine.compiler import CompiledCondition, CompiledExpression
from cspolicy.engine.explain import Explainer, _bare
from cspolicy.engine.outcomes import CaseOutcome
from cspolicy.engine.outputs import ConditionTrace, WhyNot
from cspolicy.engine.translations import Translation, translation
from cspolicy.expressions import DivisionByZero, Type
from cspolicy.expressions.formatting import format_money
from cspolicy.expressions.messages_es import MESSAGES, message
from cspolicy.expressions.nodes import Call, Compare, Literal, Name, Node
from cspolicy.expressions.spanish import SpanishRenderer, SpanishTexts, format_value_es, item_texts


def spanish_texts(explainer: Explainer) -> tuple[Translation, SpanishTexts]:
    """The policy's Spanish translation and the renderer's view of it (built once per policy)."""
    policy = explainer.policy
    found = translation(policy, "es")
    key = ("spanish-texts", 0)
    texts = policy.explain_cache.get(key)
    if texts is None:
        schema = policy.case_schema
        fields = schema.fields if schema is not None else {}
        texts = policy.explain_cache[key] = SpanishTexts(
            params=found.parameters,
            derived=found.derived,
            fields=found.fields,
            facts=found.schema_derived,
            items=item_texts(fields, found.fields),
            actions=found.actions,
        )
    return found, texts


class SpanishExplainer(Explainer):
    """An `Explainer` whose sentences are Spanish; PolicyError when a text is missing."""

    def __init__(self, outcome: CaseOutcome) -> None:
        super().__init__(outcome)
        self.translation, self.texts = spanish_texts(self)

    def title(self, rule_id: str) -> str:
        """A rule's Spanish title (also the reason a hold gives)."""
        return self.translation.rules[rule_id].title

    def action_label(self, code: str) -> str:
        return self.texts.action(code)

    def explain_text(
        self, expression: CompiledExpression, values: dict[str, Any], truth: bool | None = True
    ) -> str:
        parts = self._parts(expression) if truth is not None else ()
        truths = {part_id: self._value(fn) for part_id, fn in parts}
        renderer = SpanishRenderer(self.texts, values, None, truths, part_value=self.part_value)
        text = renderer.render(expression.node, truth)
        if truth is None:
            text = self.unknown_because(expression, values) + text
        derived = expression.node if isinstance(expression.node, Name) else None
        if derived is not None and derived.kind == "derived" and derived.key in self.policy.derived:
            return self.derived_meaning(expression, bare=True) or text
        return text + self.derived_meaning(expression)

    def unknown_because(self, expression: CompiledExpression, values: dict[str, Any]) -> str:
        reasons: list[str] = []
        for name in expression.names:
            if name.kind == "item" or name.path not in values or values[name.path] is not None:
                continue
            reason = self.texts.absent(name) or message("known.no", subject=self.texts.label(name))
            if reason not in reasons:
                reasons.append(reason)
        for node in expression.node.walk():
            if isinstance(node, Call) and node.function in ("days_since_taken", "date_taken"):
                action = node.args[0]
                if isinstance(action, Literal) and self.part_value(node) is None:
                    reason = message("unknown.never_taken", action=self.action_label(str(action.value)))
                    if reason not in reasons:
                        reasons.append(reason)
        return message("unknown.because", reasons="; ".join(reasons)) if reasons else ""

    def derived_meaning(self, expression: CompiledExpression, bare: bool = False) -> str:
        parts = []
        wanted = (n.key for n in expression.names if n.kind == "derived" and n.key in self.policy.derived)
        for key in dict.fromkeys(wanted):
            derived = self.policy.derived[key]
            text = self.translation.derived[key]
            label = text.label or key
            values = self.values(derived.expression)
            if derived.expression.node.type is Type.BOOL:
                value = self._derive(key)
                truth = value if isinstance(value, bool) else None
                inner = self.explain_text(derived.expression, values, truth)
                said = (
                    label
                    if truth is True
                    else (text.negative or label)
                    if truth is False
                    else message("sentence.unknown", sentence=label)
                )
                if bare:
                    parts.append(inner if said in inner else f"{inner} ({said})")
                else:
                    parts.append(message("derived.holds", label=said, sentence=inner))
            else:
                inner = self.explain_text(derived.expression, values)
                key_ = "derived.means.bare" if bare else "derived.means"
                parts.append(message(key_, label=label, sentence=inner))
        return "".join(parts)

    def _derive(self, key: str) -> Any:
        try:
            return self.context.derive(key)
        except (DivisionByZero, KeyError):  # a value that cannot be computed reads as unknown
            return None

    def why_not(self, rule_id: str) -> WhyNot:
        rule = self.policy.rules.get(rule_id)
        if rule is None:
            raise KeyError(f"no rule {rule_id!r} in policy {self.policy.source.id!r}")
        title = self.title(rule_id)
        failed: list[ConditionTrace] = []
        for condition in rule.when:
            try:
                trace = self.trace(condition, rule)
            except EvaluationError as exc:  # said as unknown, with the code that tells why
                sentence = SpanishRenderer(self.texts).render(condition.node, None)
                text = message("why.failed", sentence=sentence, code=exc.problem.code.value)
                failed.append(ConditionTrace(expr=condition.text, result=None, text=text))
                continue
            if trace.result is not True:
                failed.append(self.with_distance(trace, condition))
        for condition in rule.unless:
            trace = self.trace(condition, rule)
            if trace.result is True:
                failed.append(trace)
        reasons = "; ".join(t.text for t in failed)
        because = message("why.not_apply", title=title, reasons=reasons)
        if rule.is_hold:
            applies = self.applies[rule_id]
            status = "hold applies" if applies else "hold does not apply"
            text = message("why.hold_applies", title=title) if applies else because
            return WhyNot(rule=rule_id, title=title, status=status, failed=failed, text=text)
        if rule_id in self.held_by:
            hold = self.held_by[rule_id]
            text = message("why.held", title=title, hold=self.title(hold))
            return WhyNot(rule=rule_id, title=title, status="held", failed=[], held_by=hold, text=text)
        if rule_id in self.waiting_for:
            needed = [self.policy.rules[r].rule.action or r for r in self.waiting_for[rule_id]]
            text = message("why.waiting", title=title, actions=self.actions_said(needed))
            return WhyNot(
                rule=rule_id, title=title, status="waiting", failed=[], waiting_for=needed, text=text
            )
        if self.applies[rule_id]:
            text = message("why.recommended", title=title)
            return WhyNot(rule=rule_id, title=title, status="recommended", failed=[], text=text)
        return WhyNot(rule=rule_id, title=title, status="not applicable", failed=failed, text=because)

    def actions_said(self, codes: list[str]) -> str:
        """'«enviar el aviso de atraso» y «…»'."""
        return MESSAGES["join.and"].join(f"«{self.action_label(code)}»" for code in codes)

    def with_distance(self, trace: ConditionTrace, condition: CompiledCondition) -> ConditionTrace:
        if trace.result is not False:
            return trace
        distance = self.distance(condition.node)
        if distance:
            text = trace.text + MESSAGES["distance.separator"] + distance
            return trace.model_copy(update={"text": text})
        return trace

    def distance(self, node: Node) -> str | None:
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
            target = format_value_es(node.right.value, node.left.type)
        elif isinstance(node.right, Name):
            target = SpanishRenderer(self.texts).render(node.right)
        else:
            target = format_value_es(right, Type.MONEY if money else node.right.type)
        if node.left.type is Type.DATE:
            days = abs((right - left).days)
            return message("distance.days", days=days, s="s" if days != 1 else "", target=target)
        gap = (right - left) if node.op in (">", ">=") else (left - right)
        shown = format_money(Decimal(gap)) if money else format_value_es(gap, Type.NUMBER)
        if gap == 0:
            return message("distance.exact.>" if node.op == ">" else "distance.exact.<", target=target)
        key = "distance.below" if node.op in (">", ">=") else "distance.above"
        return message(key, amount=shown, target=target)
