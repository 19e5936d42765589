"""The plain-language renderer in Spanish: the same expression AST said in short Spanish sentences.

Every fixed word comes from the message catalogue `cspolicy.expressions.messages_es` (one
named template per sentence shape, filled with `str.format`); every label, choice and action
name comes from the translation catalogues (`policy.es.yaml`, `v2.es.yaml`,
`vocabulary.es.yaml`), passed in as `SpanishTexts`. Dates are written out ("3 de diciembre de
2026") and amounts the United States way ("$1,234.56"), see `cspolicy.expressions.locales`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from cspolicy.expressions.formatting import format_money
from cspolicy.expressions.locales import number
from cspolicy.expressions.messages_es import MESSAGES, contract, message
from cspolicy.expressions.nodes import (
    Aggregate,
    Binary,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Literal,
    Lookup,
    Membership,
    Missing,
    Name,
    Node,
    Quantifier,
    Unary,
)
from cspolicy.expressions.render import Renderer
from cspolicy.expressions.spanishtexts import SpanishTexts as SpanishTexts
from cspolicy.expressions.spanishtexts import format_value_es as format_value_es
from cspolicy.expressions.spanishtexts import item_texts as item_texts
from cspolicy.expressions.types import Type
from cspolicy.source.translations import FieldText


class SpanishRenderer(Renderer):
    """`Renderer` in Spanish. `part_value` (node → its value for the case) adds the values of
    computed parts, such as '3 veces el monto mensual ($1,050.00)'."""

    def __init__(
        self,
        texts: SpanishTexts,
        values: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        truths: Mapping[int, Any] | None = None,
        part_value: Callable[[Node], Any] | None = None,
    ) -> None:
        super().__init__(None, values, params, truths)
        self.texts = texts
        self.part_value = part_value

    def render(self, node: Node, truth: bool | None = True) -> str:
        if truth is None:
            truths, self.truths = self.truths, {}
            try:
                return contract(message("sentence.unknown", sentence=self._sentence(node, False)))
            finally:
                self.truths = truths
        return contract(self._sentence(node, not truth))

    def show(self, path: str, value: Any, type_: Type, absent: str | None = None) -> str:
        if value is None and absent is not None:
            return absent
        return format_value_es(value, type_)

    def computed(self, node: Node) -> str:
        if self.part_value is None:
            return ""
        return f" ({format_value_es(self.part_value(node), node.type)})"

    def _inner(self) -> SpanishRenderer:
        return SpanishRenderer(self.texts, None, self.params)

    # -- sentences ----------------------------------------------------------------------------
    def _flag(self, node: Name, negated: bool) -> str:
        return self.texts.negative(node) if negated else self.texts.label(node)

    def _constant(self, never: bool) -> str:
        return MESSAGES["bool.never"] if never else MESSAGES["bool.always"]

    def _taken(self, node: Call, negated: bool) -> str:
        return message("taken.no" if negated else "taken.yes", action=self._action(node.args[0]))

    def _same_month(self, node: Call, negated: bool) -> str:
        a, b = (self._render(arg) for arg in node.args)
        return message("same_month.no" if negated else "same_month.yes", a=a, b=b)

    def _not_true(self, positive: str) -> str:
        return message("sentence.not_true", sentence=positive)

    def _action(self, node: Node) -> str:
        if isinstance(node, Literal) and isinstance(node.value, str):
            return self.texts.action(node.value)
        return self._render(node)

    def _boolean(self, node: BoolOp, negated: bool) -> str:
        truths = [self.truths.get(id(operand), _UNSET) for operand in node.operands]
        known = all(t is not _UNSET for t in truths)
        conjunction = node.op == "and"
        if known and conjunction != negated:
            chosen = list(node.operands)
        elif known:
            want = not negated
            chosen = [o for o, t in zip(node.operands, truths, strict=True) if t is want] or list(
                node.operands
            )
        else:
            chosen = list(node.operands)
        parts = [self._sentence(o, negated) for o in chosen]
        if len(parts) > 1:
            parts = [f"({p})" if isinstance(o, BoolOp) else p for o, p in zip(chosen, parts, strict=True)]
        if known:
            return MESSAGES["join.and"].join(parts)
        joiner = node.op if not negated else ("or" if conjunction else "and")
        return MESSAGES[f"join.{joiner}"].join(parts)

    def _compare(self, node: Compare, negated: bool) -> str:
        left, right = node.left, node.right
        dated = left.type is Type.DATE and node.op not in ("==", "!=")
        key = f"{'date' if dated else 'compare'}.{'not.' if negated else ''}{node.op}"
        subject = self._side(left, right)
        if node.op == "==" and not negated and isinstance(left, Name) and _is_choice(left, right):
            subject = self.texts.label(left)  # "… es «abierto»" already says the case's value
        return message(_number_of(subject, key), left=subject, right=self._side(right, left))

    def _membership(self, node: Membership, negated: bool) -> str:
        subject = self._render(node.operand)
        values = [self._quoted_choice(node.operand, str(v)) for v in node.values]
        if node.negated != negated:
            key = f"in.not.{len(values)}" if len(values) <= 2 else "in.not.many"
            said: Any = values if len(values) <= 2 else _listed(values, "y")
        else:
            key = "in.one" if len(values) <= 2 else "in.many"
            said = MESSAGES["join.or"].join(values) if len(values) <= 2 else _listed(values, "o")
        return message(_number_of(subject, key), subject=subject, values=said)

    def _quoted_choice(self, subject: Node, value: str) -> str:
        return f"«{self.texts.choice(subject, value)}»"

    def _missing(self, node: Missing, negated: bool) -> str:
        operand = node.operand
        is_missing = (not node.negated) != negated
        if is_missing:
            absent = self.texts.absent(operand)
            return absent if absent is not None else message("known.no", subject=self._bare(operand))
        if (
            isinstance(operand, Name)
            and self.values is not None
            and self.values.get(operand.path) is not None
        ):
            shown = self._value_of(operand, self.values[operand.path])
            subject = self.texts.label(operand)
            return message(_number_of(subject, "is"), subject=subject, value=shown)
        return message("known.yes", subject=self._bare(operand))

    def _bare(self, node: Node) -> str:
        return self.texts.label(node) if isinstance(node, Name) else self._render(node)

    def _noun(self, node: Quantifier | Aggregate) -> tuple[str | None, FieldText | None]:
        text = self.texts.text(node.collection)
        item = text.item if isinstance(text, FieldText) else None
        return (item.owner if item is not None else None), (text if isinstance(text, FieldText) else None)

    def _described(self, predicate: Node, items: FieldText | None, plural: bool) -> list[str] | None:
        """An item predicate of choices as words after the noun: 'de conducir activa'."""
        parts = predicate.operands if isinstance(predicate, BoolOp) and predicate.op == "and" else [predicate]
        kinds: list[str] = []
        qualities: list[str] = []
        for part in parts:
            if (
                isinstance(part, Compare)
                and part.op == "=="
                and isinstance(part.left, Name)
                and part.left.kind == "item"
                and isinstance(part.right, Literal)
                and isinstance(part.right.value, str)
            ):
                name, values = part.left, [part.right.value]
            elif (
                isinstance(part, Membership)
                and not part.negated
                and isinstance(part.operand, Name)
                and part.operand.kind == "item"
                and all(isinstance(v, str) for v in part.values)
            ):
                name, values = part.operand, [str(v) for v in part.values]
            else:
                return None
            if any(v in ("none", "no", "yes") for v in values):
                return None
            if name.spec is None or not name.spec.choices:  # a code (an action) is said by its name
                said = _listed([f"«{self.texts.action(v)}»" for v in values], "o")
            else:
                said = _listed([_plural(self.texts.choice(name, v), plural) for v in values], "o")
            (kinds if name.path in ("type", "kind", "action") else qualities).append(said)
        return kinds + qualities

    def _any(self, node: Quantifier, negated: bool) -> str:
        owner, text = self._noun(node)
        noun = text.item if text is not None else None
        singular = noun.singular if noun is not None else self.texts.label(node.collection)
        feminine = noun is not None and noun.gender == "f"
        described = self._described(node.predicate, text, plural=False)
        whose = ""
        if described is None:
            inner = self._inner()._sentence(node.predicate, False)
            whose = message("whose.f" if feminine else "whose.m", sentence=inner)
            described = []
        phrase = " ".join([singular, *described]) + whose
        gender = "f" if feminine else "m"
        key = f"any.{'owner' if owner else 'there'}.{'no' if negated else 'yes'}.{gender}"
        return message(key, owner=owner or "", noun=phrase)

    def _count(self, node: Quantifier) -> str:
        owner, text = self._noun(node)
        noun = text.item if text is not None else None
        plural = noun.plural if noun is not None else self.texts.label(node.collection)
        described = self._described(node.predicate, text, plural=True)
        whose = ""
        if described is None:
            inner = self._inner()._sentence(node.predicate, False)
            feminine = noun is not None and noun.gender == "f"
            whose = message("whose.f.plural" if feminine else "whose.m.plural", sentence=inner)
            described = []
        of = message("of.owner", owner=owner) if owner else ""
        return message("count", items=" ".join([plural, *described]) + of + whose) + self.computed(node)

    def _aggregate(self, node: Aggregate) -> str:
        field_ = self.texts.label(node.field)
        collection = self.texts.label(node.collection)
        dated = node.field.type is Type.DATE
        kind = {"sum_of": "sum", "max_of": "latest" if dated else "largest"}.get(
            node.function, "earliest" if dated else "smallest"
        )
        text = message(f"aggregate.{kind}", field=field_, collection=collection)
        if node.predicate is not None:
            inner = self._inner()._sentence(node.predicate, False)
            text += message("aggregate.where", sentence=inner)
        return text

    # -- values -------------------------------------------------------------------------------
    def _render(self, node: Node) -> str:
        if isinstance(node, Literal):
            if isinstance(node.value, str):
                return f"«{node.value}»"
            return format_value_es(node.value, node.type)
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Unary):
            if node.op == "not":
                return self._sentence(node.operand, True)
            return message("arith.neg", value=self._wrap(node.operand))
        if isinstance(node, Binary):
            if node.op == "*":
                times = self._times(node)
                if times is not None:
                    return times
            op = {"+": "add", "-": "sub", "*": "mul", "/": "div"}[node.op]
            return message(f"arith.{op}", left=self._wrap(node.left), right=self._wrap(node.right))
        if isinstance(node, Compare | Membership | BoolOp | Missing):
            return self._sentence(node, False)
        if isinstance(node, Quantifier):
            return self._any(node, False) if node.function == "any_of" else self._count(node)
        if isinstance(node, Aggregate):
            return self._aggregate(node)
        if isinstance(node, Conditional):
            test = self._render(node.test)
            then, otherwise = (
                MESSAGES["value.nothing"]
                if isinstance(part, Literal) and part.value is None
                else self._wrap(part)
                for part in (node.then, node.otherwise)
            )
            return message("conditional", then=then, test=test, otherwise=otherwise)
        if isinstance(node, Lookup):
            return message("lookup", label=self.texts.label(node.param), key=self._render(node.key))
        if isinstance(node, Call):
            return self._call(node)
        return "?"

    def _times(self, node: Binary) -> str | None:
        """`3 × the monthly amount` → '3 veces el monto mensual de la manutención ($1,050.00)'."""
        for count, amount in ((node.left, node.right), (node.right, node.left)):
            if count.type not in (Type.NUMBER, Type.INTEGER) or not isinstance(amount, Name):
                continue
            shown = self._count_value(count)
            if shown is None or amount.type is not Type.MONEY:
                continue
            key = "times.one" if shown == "1" else "times.many"
            return message(key, count=shown, label=self.texts.label(amount)) + self.computed(node)
        return None

    def _count_value(self, node: Node) -> str | None:
        if (
            isinstance(node, Literal)
            and isinstance(node.value, int | Decimal)
            and not isinstance(node.value, bool)
        ):
            return format_value_es(node.value, node.type)
        if isinstance(node, Name) and node.kind == "param":
            if self.values is not None and node.path in self.values:
                return self.show(node.path, self.values[node.path], node.type)
            if node.key in self.params and not isinstance(self.params[node.key], Mapping):
                return format_value_es(self.params[node.key], node.type)
        return None

    def _wrap(self, node: Node) -> str:
        text = self._render(node)
        if isinstance(node, BoolOp | Conditional) or (isinstance(node, Binary) and " veces " not in text):
            return f"({text})"
        return text

    def _value_of(self, node: Name, value: Any) -> str:
        if isinstance(value, str) and node.spec is not None and node.spec.choices:
            return self.texts.choice(node, value)
        return self.show(node.path, value, node.type, self.texts.absent(node))

    def _name(self, node: Name) -> str:
        label = self.texts.label(node)
        if node.kind == "item" or node.type is Type.LIST:
            return label
        if node.type is Type.BOOL:
            if self.values is not None and node.path in self.values:
                return f"{label}: {self.show(node.path, self.values[node.path], Type.BOOL)}"
            return label
        if self.values is not None and node.path in self.values:
            return f"{label} ({self._value_of(node, self.values[node.path])})"
        if node.kind == "param" and node.key in self.params:
            return f"{label} ({format_value_es(self.params[node.key], node.type)})"
        return label

    def _side(self, node: Node, other: Node) -> str:
        if isinstance(node, Literal) and isinstance(node.value, str):
            return self._quoted_choice(other, node.value)
        if (
            isinstance(node, Literal)
            and other.type is Type.MONEY
            and isinstance(node.value, int | Decimal)
            and not isinstance(node.value, bool)
            and node.value != 0
        ):
            return format_money(Decimal(node.value))
        return self._render(node)

    def _call(self, node: Call) -> str:
        function = node.function
        if function in ("taken", "same_month"):
            return self._sentence(node, False)
        if function in ("min", "max"):
            return self._extreme(node)
        if function in ("date_taken", "days_since_taken"):
            return message(f"call.{function}", action=self._action(node.args[0]))
        args = [self._render(a) for a in node.args]
        if function == "add_days":
            count = node.args[1]
            if isinstance(count, Literal) and isinstance(count.value, int) and count.value < 0:
                days = -count.value
                return message(
                    "call.days_before", days=number(days, "es"), s="s" if days != 1 else "", date=args[0]
                )
            if isinstance(count, Literal) and count.value == 1:
                return message("call.day_after", date=args[0])
            return message("call.days_after", days=args[1], date=args[0])
        if function == "coalesce":
            if len(args) == 2:
                return message("call.coalesce.2", first=args[0], second=args[1])
            return message("call.coalesce.many", values=_listed(args, "y"))
        key = f"call.{function}"
        if key in MESSAGES:
            return message(key, a=args[0], b=args[1] if len(args) > 1 else "")
        return message("call.other", function=function, values=_listed(args, "y"))

    def _extreme(self, node: Call) -> str:
        args = [self._side(a, node) for a in node.args]
        dated = node.type is Type.DATE
        which = ("later" if node.function == "max" else "earlier") if dated else node.function
        if len(args) == 2:
            return message(f"extreme.2.{which}", a=args[0], b=args[1])
        return message(f"extreme.many.{which}", values=_listed(args, "y"))


_UNSET = object()


def _is_choice(left: Name, right: Node) -> bool:
    """Whether `left == right` compares a choice field with one of its words."""
    spec = left.spec
    return (
        spec is not None
        and bool(spec.choices)
        and isinstance(right, Literal)
        and isinstance(right.value, str)
    )


def _number_of(subject: str, key: str) -> str:
    """`key`, or its plural form for a plural subject ('los días … son mayores que')."""
    return f"{key}.pl" if subject.startswith(("los ", "las ")) else key


def _listed(items: list[str], joiner: str) -> str:
    """'a, b y c'."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {joiner} {items[-1]}"


def _plural(word: str, plural: bool) -> str:
    """A one-word Spanish adjective in the plural ('activa' → 'activas'); phrases stay as they are."""
    if not plural or " " in word:
        return word
    return word + ("s" if word[-1:] in "aeiouáéó" else "es")
