"""A decision as plain text for a caseworker or a parent, in English or Spanish (`Decision.to_text`).

The layout is the same in every language: the case, then each recommended action with why,
its outputs, its due date and the law; then held actions with the hold's reason; then actions
that wait for an earlier step. Spanish text comes from `cspolicy.engine.spanish` and the message
catalogue; law titles are the sources' own (proper names of statutes and rules, not translated).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from cspolicy.engine.outputs import CitationOut, ConditionTrace, WhyNot
from cspolicy.engine.spanish import SpanishExplainer
from cspolicy.expressions.formatting import format_value
from cspolicy.expressions.locales import LOCALES
from cspolicy.expressions.messages_es import message
from cspolicy.expressions.spanish import format_value_es
from cspolicy.expressions.types import Type

if TYPE_CHECKING:
    from cspolicy.engine.compiled import CompiledRule
    from cspolicy.engine.decision import Decision

LANGUAGES = tuple(LOCALES)

ENGLISH: dict[str, str] = {
    "text.header": "Case {case} · as of {as_of} · policy {policy} {version}",
    "text.nothing": "No action recommended: no rule applies to this case.",
    "text.action": "✔ {title} [{code}]",
    "text.because": "because {text}",
    "text.output": "{name}: {value}",
    "text.due": "due by {date}",
    "text.overdue": "due by {date} (overdue)",
    "text.law": "law: {title}{pinpoint} — {url}",
    "text.held": "⏸ {title} [{code}]",
    "text.held_by": "held: {reason}",
    "text.waiting": "… {title} [{code}]",
    "text.waits_for": "waits for {actions} to be taken first",
}


class _Words:
    """The words of one language: message templates, titles, values, action names, traces."""

    def __init__(self, decision: Decision, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"no language {lang!r}; choose one of {', '.join(LANGUAGES)}")
        self.decision = decision
        self.lang = lang
        self.rules = decision.outcome.policy.rules
        self.spanish = SpanishExplainer(decision.outcome) if lang == "es" else None

    def say(self, key: str, **slots: Any) -> str:
        return message(key, **slots) if self.spanish is not None else ENGLISH[key].format(**slots)

    def title(self, rule_id: str, english: str) -> str:
        return self.spanish.title(rule_id) if self.spanish is not None else english

    def date(self, value: Any) -> str:
        return format_value_es(value, Type.DATE) if self.spanish is not None else str(value)

    def because(self, rule: CompiledRule, english: list[ConditionTrace]) -> list[ConditionTrace]:
        return self.spanish.because(rule) if self.spanish is not None else english

    def actions(self, codes: list[str]) -> str:
        if self.spanish is not None:
            return self.spanish.actions_said(codes)
        return ", ".join(codes)

    def output(self, rule: CompiledRule, name: str, value: Any) -> tuple[str, str]:
        expression = rule.outputs.get(name)
        type_ = expression.node.type if expression is not None else Type.STRING
        if isinstance(value, str) and type_ in (Type.MONEY, Type.NUMBER, Type.INTEGER):
            with contextlib.suppress(InvalidOperation):
                value = Decimal(value)
        elif isinstance(value, str) and type_ is Type.DATE:  # outputs hold JSON values: ISO dates
            with contextlib.suppress(ValueError):
                value = dt.date.fromisoformat(value)
        if self.spanish is None:
            return name, format_value(value, type_)
        said = self.spanish.translation.rules[rule.id].outputs.get(name, name)
        return said, format_value_es(value, type_)


def decision_text(decision: Decision, lang: str = "en") -> str:
    """The decision as plain text in `lang` ('en' or 'es'); Spanish needs the policy's Spanish
    texts (PolicyError names any that are missing)."""
    words = _Words(decision, lang)
    policy = decision.policy
    lines = [
        words.say(
            "text.header",
            case=decision.case_id,
            as_of=words.date(decision.as_of),
            policy=policy.id,
            version=policy.version,
        )
    ]
    if not decision.actions and not decision.held and not decision.waiting:
        lines.append("  " + words.say("text.nothing"))
    for action in decision.actions:
        rule = words.rules[action.rule]
        lines.append(
            "  " + words.say("text.action", title=words.title(rule.id, action.title), code=action.action)
        )
        lines += _because(words, words.because(rule, action.because))
        for name, value in action.outputs.items():
            said, shown = words.output(rule, name, value)
            lines.append("      " + words.say("text.output", name=said, value=shown))
        if action.due_by is not None:
            key = "text.overdue" if action.overdue else "text.due"
            lines.append("      " + words.say(key, date=words.date(action.due_by)))
        lines += _law(words, action.citations)
    for held in decision.held:
        hold = words.rules[held.held_by]
        lines.append(
            "  " + words.say("text.held", title=words.title(held.rule, held.title), code=held.action)
        )
        lines.append("      " + words.say("text.held_by", reason=words.title(hold.id, held.reason)))
        lines += _because(words, words.because(hold, held.because))
        lines += _law(words, held.citations)
    for waiting in decision.waiting:
        rule = words.rules[waiting.rule]
        title = words.title(rule.id, waiting.title)
        lines.append("  " + words.say("text.waiting", title=title, code=waiting.action))
        lines.append("      " + words.say("text.waits_for", actions=words.actions(waiting.waiting_for)))
        lines += _because(words, words.because(rule, waiting.because))
    return "\n".join(lines) + "\n"


def _because(words: _Words, traces: list[ConditionTrace]) -> list[str]:
    return ["      " + words.say("text.because", text=t.text) for t in traces if t.part != "unless"]


def _law(words: _Words, citations: list[CitationOut]) -> list[str]:
    return [
        "      "
        + words.say("text.law", title=c.title, pinpoint=f" {c.pinpoint}" if c.pinpoint else "", url=c.url)
        for c in citations
    ]


def why_not_text(decision: Decision, rule_id: str, lang: str = "en") -> WhyNot:
    """`decision.why_not(rule_id)` said in `lang` (a WhyNot whose texts are in that language)."""
    spanish = _Words(decision, lang).spanish
    return spanish.why_not(rule_id) if spanish is not None else decision.why_not(rule_id)
