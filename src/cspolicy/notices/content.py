"""What a notice says, taken from a decision and the policy's notice texts, before any template.

Amounts and dates are formatted for the notice's language here (`cspolicy.expressions.locales`,
the same formatting as the explanations, equal to Babel's en_US and es_US:
"$1,234.56" in both, because the notice goes to a parent in the United States and the decision's
explanation sentences write amounts that way too; dates "December 3, 2026" and
"3 de diciembre de 2026"). The reasons are the explanation's sentences in the notice's language:
the engine's explainer for English, `SpanishExplainer` (the policy's Spanish catalogues) for Spanish.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cspolicy.diagnostics import Code, CSPolicyError, PolicyError, Problem, suggest
from cspolicy.engine.decision import Decision, RecommendedAction
from cspolicy.engine.outcomes import add_business_days
from cspolicy.engine.outputs import CitationOut, ConditionTrace, round_money
from cspolicy.engine.spanish import SpanishExplainer
from cspolicy.expressions import locales
from cspolicy.notices.policy import (
    NoticeEntry,
    check_notices,
    contest_citations,
    missing_translations,
    read_notices,
)

LOCALES = {"en": "en_US", "es": "es_US"}
"""The languages a notice is written in, and the locale its amounts and dates are formatted for."""

AMOUNT_FACTS = ("arrears.total", "arrears.family_owed", "arrears.state_owed", "order.monthly_amount")
"""The case's amounts a notice states (when the case has them), in this order; the templates
give each its label."""


class NoticeError(CSPolicyError):
    """A notice cannot be made: an unknown language, or an action the case has no notice for."""


@dataclass(frozen=True)
class Citation:
    """A citation as a notice prints it."""

    title: str
    pinpoint: str | None
    url: str


@dataclass(frozen=True)
class NoticeContent:
    """Everything a notice template reads: texts in the notice's language, amounts and dates
    already formatted."""

    lang: str
    case_id: str
    action: str
    rule: str
    title: str  # the rule's title (staff language, English)
    policy: str  # "wisconsin 2025.1"
    issued: str
    respond_by: str
    respond_by_iso: str
    respond_from: str  # "notice" (the policy's notice period) or "due" (the action's due date)
    intent: str
    reasons: tuple[str, ...]
    amounts: tuple[tuple[str, str], ...]  # (fact path, formatted amount)
    law: tuple[Citation, ...]
    contest: str
    contest_law: tuple[Citation, ...]
    contact: str
    payment_plan: str | None

    def as_context(self) -> dict[str, Any]:
        """The template context: every field by name."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def money(amount: Decimal, lang: str) -> str:
    """An amount of dollars, to the cent, for the notice's language (shared with explanations)."""
    return locales.money(round_money(amount), lang)


def long_date(day: dt.date, lang: str) -> str:
    """A date written out for the notice's language ("3 de diciembre de 2026"; shared with explanations)."""
    return locales.long_date(day, lang)


def notice_content(
    decision: Decision, action_code: str, lang: str = "en", issued: dt.date | None = None
) -> NoticeContent:
    """The content of the notice of `action_code` for the decision's case, in `lang`.

    `issued` is the notice's date (default: the decision's as-of date, so the same case always
    gives the same notice). Raises NoticeError for an unknown language or an action that is
    not recommended for the case or has no notice, PolicyError (located) for a notice section
    that names no rule or action, cites an unknown source or lacks the language's text.
    """
    if lang not in LOCALES:
        raise NoticeError(f"no notice language {lang!r}; choose one of {', '.join(LOCALES)}")
    policy = decision.outcome.policy
    action = _recommended(decision, action_code)
    notices = read_notices(policy)
    problems = check_notices(policy, notices)
    if problems:
        raise PolicyError(problems)
    entry = notices.get(action.rule) or notices.get(action.action)
    if entry is None:
        raise NoticeError(
            f"policy {policy.source.id!r} has no notice for action {action_code!r} (rule {action.rule!r});"
            f" add `notices: {{{action_code}: ...}}` to the policy"
        )
    missing = missing_translations(entry, lang)
    if missing:
        raise PolicyError(missing)
    day = issued or decision.as_of
    respond_by, respond_from = _respond_by(entry, action, day)
    facts = decision.outcome.snapshot.facts()
    amounts = tuple(
        (path, money(facts[path], lang))
        for path in AMOUNT_FACTS
        if isinstance(facts.get(path), Decimal | int) and not isinstance(facts.get(path), bool)
    )
    notice = entry.notice
    return NoticeContent(
        lang=lang,
        case_id=decision.case_id,
        action=action.action,
        rule=action.rule,
        title=action.title,
        policy=f"{policy.source.id} {policy.source.version}",
        issued=long_date(day, lang),
        respond_by=long_date(respond_by, lang),
        respond_by_iso=respond_by.isoformat(),
        respond_from=respond_from,
        intent=_text(notice.intent, lang),
        reasons=tuple(trace.text for trace in _because(decision, action, lang) if trace.part == "when"),
        amounts=amounts,
        law=_citations(action.citations),
        contest=_text(notice.contest, lang),
        contest_law=_citations(contest_citations(policy, entry)),
        contact=_text(notice.contact, lang),
        payment_plan=None if notice.payment_plan is None else _text(notice.payment_plan, lang),
    )


def _recommended(decision: Decision, action_code: str) -> RecommendedAction:
    """The first recommended action with this code, or a NoticeError saying why there is none."""
    for action in decision.actions:
        if action.action == action_code:
            return action
    policy = decision.outcome.policy
    for held in decision.held:
        if held.action == action_code:
            raise NoticeError(
                f"case {decision.case_id}: {action_code!r} is held by rule {held.held_by!r}"
                f" ({held.reason}); no notice is sent for a held action"
            )
    for waiting in decision.waiting:
        if waiting.action == action_code:
            raise NoticeError(
                f"case {decision.case_id}: {action_code!r} waits for {', '.join(waiting.waiting_for)};"
                " no notice is sent before those actions are taken"
            )
    codes = sorted({rule.rule.action for rule in policy.rules.values() if rule.rule.action})
    if action_code not in codes:
        raise NoticeError(
            f"policy {policy.source.id!r} has no action {action_code!r}" + suggest(action_code, codes)
        )
    recommended = ", ".join(decision.action_codes) or "none"
    raise NoticeError(
        f"case {decision.case_id}: {action_code!r} is not recommended for this case"
        f" (recommended: {recommended})"
    )


def _because(decision: Decision, action: RecommendedAction, lang: str) -> list[ConditionTrace]:
    """Why the action is recommended, in the notice's language (Spanish from the policy's
    catalogues: a PolicyError names any text they lack, never an English fallback)."""
    if lang == "es":
        rule = decision.outcome.policy.rules[action.rule]
        return SpanishExplainer(decision.outcome).because(rule)
    return action.because


def _respond_by(entry: NoticeEntry, action: RecommendedAction, issued: dt.date) -> tuple[dt.date, str]:
    """The date by which the parent must act: the policy's notice period counted from the notice
    date, or else the action's due date; a PolicyError when the policy gives neither."""
    days = entry.notice.respond_within_days
    if days is not None:
        if entry.notice.business_days:
            return add_business_days(issued, days), "notice"
        return issued + dt.timedelta(days=days), "notice"
    if action.due_by is not None:
        return action.due_by, "due"
    raise PolicyError(
        [
            Problem(
                Code.MISSING_KEY,
                f"notice {entry.key!r}: no date by which to act — give `respond_within_days`"
                f" (rule {action.rule!r} has no due date for this case)",
                entry.location,
            )
        ]
    )


def _text(text: Any, lang: str) -> str:
    value: str = getattr(text, lang)
    return value.strip()


def _citations(citations: list[CitationOut]) -> tuple[Citation, ...]:
    return tuple(Citation(c.title, c.pinpoint, c.url) for c in citations)
