"""Near misses: rules that did not apply to a case but are close, and what would have to change.

A rule is a near miss when exactly one of its `when` conditions is not met, none of its
`unless` conditions holds, and that one condition is close:
- a numeric comparison within `threshold` (a share of the limit, 10% by default);
- a date comparison, or a count of days, within `days` days;
- for an incentive, any condition the parent can meet by doing something (a payment, enrolling,
  agreeing to a plan) — phrased as what the parent can do.
A condition that names a derived value or an `and` is followed inside to the part that fails.

What someone can do is the case schema's words, not this module's: a field or derived fact's
`near_miss:` maps `up` / `down` (the value has to rise / fall) or a choice value to a phrase.
Without one, a close amount or date is said neutrally from the field's label ("… rose by $200.00,
past …") and a choice is no incentive near miss. A fact grows with time when it is the schema's
snapshot date or a derived count of days up to it (`days_since(x)`, `days_between(x, as_of)`).

In Spanish (`lang="es"`) the same near misses are found and said with the policy's Spanish
texts: rule titles, labels and the catalogues' `near_miss:` phrases, and the sentence shapes of
`NEAR_MISS_MESSAGES` (no English fallback: a missing text is a PolicyError, as for `to_text`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cspolicy.diagnostics import EvaluationError, Location
from cspolicy.engine.caseschema import CaseSchema, default_case_schema
from cspolicy.engine.compiler import CompiledCondition, CompiledExpression, CompiledRule
from cspolicy.engine.outputs import NearMiss
from cspolicy.expressions import Renderer, Type, compile_expression
from cspolicy.expressions.messages_es import contract, message
from cspolicy.expressions.nodes import BoolOp, Call, Compare, Literal, Name, Node
from cspolicy.expressions.render import format_money, format_value
from cspolicy.expressions.spanish import SpanishRenderer
from cspolicy.expressions.spanishtexts import format_value_es
from cspolicy.source.documents import RuleKind, Unit

if TYPE_CHECKING:
    from cspolicy.engine.outcomes import CaseOutcome
    from cspolicy.engine.spanish import SpanishExplainer

DEFAULT_THRESHOLD = Decimal("0.10")
LANGUAGES = ("en", "es")

# The sentence shapes of a near miss, one per language (`str.format` slots, no gluing).
# Spanish: present tense throughout, so the catalogues' phrases ("se hace un pago") fit the slot.
NEAR_MISS_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "miss.incentive": "{title} once {needed}",
        "miss.rule": "{title}: would apply if {needed}",
        "amount.exact.up": "{subject} moved past {target} (it is exactly at it)",
        "amount.exact.down": "{subject} moved below {target} (it is exactly at it)",
        "amount.up": "{subject} rose by {shown}, to {target}",
        "amount.up.strict": "{subject} rose by more than {shown}, past {target}",
        "amount.down": "{subject} fell by {shown}, to {target}",
        "amount.down.strict": "{subject} fell by more than {shown}, below {target}",
        "days": "{days} day{s}",
        "dates.wait": "nothing else changes for {shown} (on {on})",
        "dates.later": "{subject} were {shown} later",
        "dates.earlier": "{subject} were {shown} earlier",
    },
    "es": {
        "miss.incentive": "{title}: es posible si {needed}",
        "miss.rule": "{title}: se aplica si {needed}",
        "amount.exact.up": "{subject} pasa de {target} (ahora está justo en ese valor)",
        "amount.exact.down": "{subject} baja de {target} (ahora está justo en ese valor)",
        "amount.up": "{subject} sube {shown}, hasta {target}",
        "amount.up.strict": "{subject} sube más de {shown}, por encima de {target}",
        "amount.down": "{subject} baja {shown}, hasta {target}",
        "amount.down.strict": "{subject} baja más de {shown}, por debajo de {target}",
        "days": "{days} día{s}",
        "dates.wait": "no cambia nada más durante {shown} (hasta el {on})",
        "dates.later": "{subject} es {shown} más tarde",
        "dates.earlier": "{subject} es {shown} antes",
    },
}


def parent_can(schema: CaseSchema) -> dict[tuple[str, str], str]:
    """(fact, direction or value) → what someone can do to get there, from the schema's
    `near_miss:` words on fields and derived facts (read once per schema)."""
    key = (schema.path, schema.digest)
    found = _PHRASES.get(key)
    if found is None:
        found = {}
        for path, leaf in schema.leaves.items():
            found.update({(path, k): v for k, v in (leaf.doc.near_miss or {}).items()})
        for name, located in schema.source.derived.items():
            found.update({(name, k): v for k, v in (located.item.near_miss or {}).items()})
        _PHRASES[key] = found
    return found


_PHRASES: dict[tuple[Any, str], dict[tuple[str, str], str]] = {}


@dataclass
class _Gap:
    """How far one failing comparison is from holding."""

    node: Node
    distance: str
    needed: str


def near_misses(
    run: CaseOutcome, threshold: Decimal | None = None, days: int = 30, lang: str = "en"
) -> list[NearMiss]:
    """The near misses of one evaluated case, in policy order, said in `lang` ('en' or 'es')."""
    if lang not in LANGUAGES:
        raise ValueError(f"no language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    share = DEFAULT_THRESHOLD if threshold is None else Decimal(threshold)
    spanish = None
    if lang == "es":
        from cspolicy.engine.spanish import SpanishExplainer  # it imports the explainer, which imports this

        spanish = SpanishExplainer(run)
    finder = _Finder(run, share, days, spanish)
    found: list[NearMiss] = []
    for rule in run.policy.rules.values():
        if rule.is_hold or run.applies.get(rule.id):
            continue
        miss = finder.rule(rule)
        if miss is not None:
            found.append(miss)
    return found


class _Finder:
    def __init__(
        self, run: CaseOutcome, share: Decimal, days: int, spanish: SpanishExplainer | None = None
    ) -> None:
        self.run = run
        self.share = share
        self.days = days
        self.labels = run.policy.labels
        self.schema = run.policy.case_schema or default_case_schema()
        self.phrases = parent_can(self.schema)
        self.spanish = spanish
        self.messages = NEAR_MISS_MESSAGES["es" if spanish is not None else "en"]

    # -- the words of the near miss's language ---------------------------------------------------
    def say(self, key: str, **slots: Any) -> str:
        text = self.messages[key].format(**slots)
        return contract(text) if self.spanish is not None else text

    def render(self, node: Node) -> str:
        """A value in words with the case's values ('the balance ($1,320.00)')."""
        if self.spanish is not None:
            return SpanishRenderer(self.spanish.texts, self._values(node)).render(node)
        return Renderer(self.labels, self._values(node)).render(node)

    def shown(self, value: Any, type_: Type) -> str:
        if self.spanish is not None:
            return format_value_es(value, type_)
        return format_value(value, type_)

    def days_said(self, days: int) -> str:
        return self.say("days", days=days, s="s" if days != 1 else "")

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
        title = rule.rule.title if self.spanish is None else self.spanish.title(rule.id)
        text = self.say("miss.incentive" if incentive else "miss.rule", title=title, needed=gap.needed)
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
            # e.g. `visits.last == None or visits.days_since_last > 60` for a client who visited.
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
        shown = format_money(gap) if money else self.shown(gap, Type.NUMBER)
        phrase = self.phrase(node.left, "up" if rising else "down")
        if incentive and phrase is not None:
            return _Gap(node, shown, phrase)
        if right == 0 or gap / abs(right) > self.share:
            return None
        subject = self.render(node.left)
        target = self.target(node)
        direction = "up" if rising else "down"
        if gap == 0:  # exactly at a strict limit: any change in the right direction will do
            return _Gap(node, shown, self.say(f"amount.exact.{direction}", subject=subject, target=target))
        key = f"amount.{direction}" + (".strict" if node.op in (">", "<") else "")
        return _Gap(node, shown, self.say(key, subject=subject, shown=shown, target=target))

    def dates(self, node: Compare, left: Any, right: Any) -> _Gap | None:
        if isinstance(left, dt.date) and isinstance(right, dt.date):
            apart = abs((right - left).days)
        else:
            apart = abs(int(right) - int(left))
        if node.op in (">", "<"):
            apart += 1
        if apart > self.days:
            return None
        shown = self.days_said(apart)
        waits = (self.grows(node.left) and node.op in (">", ">=")) or (
            self.grows(node.right) and node.op in ("<", "<=")
        )
        if waits:
            on = self.run.snapshot.as_of + dt.timedelta(days=apart)
            said = on.isoformat() if self.spanish is None else format_value_es(on, Type.DATE)
            return _Gap(node, shown, self.say("dates.wait", shown=shown, on=said))
        subject = self.render(node.left)
        key = "dates.later" if node.op in (">", ">=") else "dates.earlier"
        return _Gap(node, shown, self.say(key, subject=subject, shown=shown))

    def choice(self, node: Compare, incentive: bool) -> _Gap | None:
        if not isinstance(node.right, Literal) or not isinstance(node.left, Name):
            return None
        value = str(node.right.value)
        phrase = self.phrase(node.left, value)
        if phrase is None:
            return None
        if self.spanish is not None:
            text = self.spanish.texts.text(node.left)
            value = getattr(text, "choices", {}).get(value, value)
        return _Gap(node, value, phrase)

    def phrase(self, node: Node, key: str) -> str | None:
        """The schema's words for moving the fact `node` reads `up` or `down` (or to a choice),
        if any; in Spanish the catalogue's (it has every one the schema has: `check --lang es`)."""
        if not isinstance(node, Name):
            return None
        english = self.phrases.get((node.path, key))
        if english is None or self.spanish is None:
            return english
        text = self.spanish.texts.text(node)
        spanish = text.near_miss.get(key) if text is not None else None
        return spanish if spanish is not None else message("missing.label", name=f"{node.path}: {key}")

    def grows(self, node: Node) -> bool:
        """Whether the value grows by one each day: the snapshot date, days since something,
        or a derived fact of the schema that counts days up to the snapshot date."""
        as_of = self.schema.identity.get("as_of") or "as_of"
        if isinstance(node, Name):
            if node.path in (as_of, "as_of"):
                return True
            derived = self.schema.derived.get(node.path)
            return derived is not None and _counts_days_to(derived.node, as_of)
        return isinstance(node, Call) and node.function in ("days_since", "days_since_taken")

    def target(self, node: Compare) -> str:
        if isinstance(node.right, Literal):
            return self.shown(node.right.value, node.left.type)
        return self.render(node.right)

    def _values(self, node: Node) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in node.walk():
            if isinstance(name, Name) and name.kind != "item":
                values[name.path] = self.value(name)
        return values


def _counts_days_to(node: Node, as_of: str) -> bool:
    """`days_since(x)` or `days_between(x, <the snapshot date>)`."""
    if not isinstance(node, Call):
        return False
    if node.function == "days_since":
        return True
    last = node.args[-1] if node.args else None
    return node.function == "days_between" and isinstance(last, Name) and last.path in (as_of, "as_of")


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
