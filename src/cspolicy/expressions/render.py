"""Render an expression AST as plain language, with or without a case's values.

The same renderer writes the docs' "when it applies" and the explanations in decisions.
A condition can be rendered as true (the positive sentence), as false (a negative sentence that
is true as written: "past-due support ($600.00) is not more than $2,500") or as unknown
("it is not known whether …"). Lists are never printed: a list condition reads as a quantified
sentence ("the paying parent has no active license").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cspolicy.expressions.formatting import format_decimal as format_decimal
from cspolicy.expressions.formatting import format_money as format_money
from cspolicy.expressions.formatting import format_value as format_value
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
from cspolicy.expressions.phrases import article, describe, is_months, listed
from cspolicy.expressions.phrases import singular as singular_of
from cspolicy.expressions.phrases import words as words
from cspolicy.expressions.types import Type

_COMPARE_WORDS = {
    ">": "is more than",
    ">=": "is at least",
    "<": "is less than",
    "<=": "is at most",
    "==": "is",
    "!=": "is not",
}
# The negation of each comparison, said so that it is exactly true ("is not more than" includes equal).
_NEGATED_COMPARE_WORDS = {
    ">": "is not more than",
    ">=": "is less than",
    "<": "is not less than",
    "<=": "is more than",
    "==": "is not",
    "!=": "is",
}
_DATE_WORDS = {">": "is after", ">=": "is on or after", "<": "is before", "<=": "is on or before"}
_NEGATED_DATE_WORDS = {">": "is not after", ">=": "is before", "<": "is not before", "<=": "is after"}
_ARITHMETIC_WORDS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}
# Labels that start with a verb ("holds an active license"): how each is negated.
_LEADING_VERBS = {
    "has": "does not have",
    "have": "do not have",
    "holds": "does not hold",
    "owes": "does not owe",
    "receives": "does not receive",
    "pays": "does not pay",
    "lives": "does not live",
    "works": "does not work",
    "needs": "does not need",
    "can": "cannot",
}
_MONTHLY = re.compile(r"^(?:the )?monthly (.+?)(?: amount)?$")
_POSSESSIVE = re.compile(r"^(.+?)'s (.+)$")


@functools.lru_cache(maxsize=4096)  # said for every case that reads a yes/no derived value
def negate_label(label: str) -> str:
    """The negative of a yes/no label: 'the employer is known' → 'the employer is not known',
    'holds an active license' → 'does not hold an active license', otherwise 'not …'."""
    first, _, rest = label.partition(" ")
    if first in _LEADING_VERBS and rest:
        return f"{_LEADING_VERBS[first]} {rest}"
    for verb in (" is ", " are ", " was ", " were "):
        if verb in label:
            head, tail = label.split(verb, 1)
            if tail.startswith("not "):
                return f"{head}{verb}{tail[4:]}"
            return f"{head}{verb}not {tail}"
    for verb, negated in ((" has ", " does not have "), (" have ", " do not have ")):
        if verb in label:
            return label.replace(verb, negated, 1)
    return "not " + label


@dataclass
class Labels:
    """Plain-language names for parameters and derived values (fields carry their own)."""

    params: Mapping[str, str] = field(default_factory=dict)
    derived: Mapping[str, str] = field(default_factory=dict)

    def of(self, node: Name) -> str:
        if node.kind == "param":
            return "the " + self.params.get(node.key, words(node.key))
        if node.kind == "derived":
            return self.derived.get(node.key, words(node.key))
        if node.spec is not None:
            return node.spec.label
        return words(node.path)


def sentence_parts(node: Node) -> Iterator[Node]:
    """The parts of a condition whose own truth decides how it is said (the operands of its
    `and`/`or`, through `not`): an explainer evaluates them and passes them as `truths`."""
    if isinstance(node, Unary) and node.op == "not":
        yield from sentence_parts(node.operand)
    elif isinstance(node, BoolOp):
        for operand in node.operands:
            yield operand
            yield from sentence_parts(operand)


class Renderer:
    """Turns an expression into a sentence; `values` (by path) adds the case's values in brackets.

    `params` (values in force) lets the docs show a threshold's amount without a case.
    `truths` (id of a part → its value for the case, see `sentence_parts`) lets a true `or` name the
    part that holds and a false `and` name the parts that fail.
    """

    def __init__(
        self,
        labels: Labels | None = None,
        values: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        truths: Mapping[int, Any] | None = None,
    ) -> None:
        self.labels = labels or Labels()
        self.values = values
        self.params = params or {}
        self.truths: Mapping[int, Any] = truths or {}

    def render(self, node: Node, truth: bool | None = True) -> str:
        """`node` said as true (the default), as false (`truth=False`) or as unknown (`None`)."""
        if truth is None:
            truths, self.truths = self.truths, {}
            try:
                return "it is not known whether " + self._sentence(node, False)
            finally:
                self.truths = truths
        return self._sentence(node, not truth)

    def show(self, path: str, value: Any, type_: Type, absent: str | None = None) -> str:
        """How a case's value appears in the text (a template renderer leaves a slot instead);
        `absent` is what a missing value means, when the schema says."""
        if value is None and absent is not None:
            return absent
        return format_value(value, type_)

    def computed(self, node: Node) -> str:
        """' ($1,050.00)': the case's value of a computed part (a template leaves a slot); none here."""
        return ""

    # -- sentences (yes/no parts, said as true or as false) ------------------------------------
    def _sentence(self, node: Node, negated: bool) -> str:
        if isinstance(node, Name) and node.type is Type.BOOL:
            return self._flag(node, negated)
        if isinstance(node, Literal) and isinstance(node.value, bool):
            return self._constant(node.value == negated)
        if isinstance(node, Unary) and node.op == "not":
            return self._sentence(node.operand, not negated)
        if isinstance(node, Compare):
            left, right = node.left, node.right
            if isinstance(right, Literal) and isinstance(right.value, bool) and node.op in ("==", "!="):
                affirms = (right.value is True) == (node.op == "==")
                return self._sentence(left, negated == affirms)
            return self._compare(node, negated)
        if isinstance(node, Membership):
            return self._membership(node, negated)
        if isinstance(node, BoolOp):
            return self._boolean(node, negated)
        if isinstance(node, Quantifier) and node.function == "any_of":
            return self._any(node, negated)
        if isinstance(node, Missing):
            return self._missing(node, negated)
        if isinstance(node, Call) and node.function == "taken":
            return self._taken(node, negated)
        if isinstance(node, Call) and node.function == "same_month":
            return self._same_month(node, negated)
        positive = self._render(node)
        return self._not_true(positive) if negated else positive

    # The words of the sentences above; a renderer in another language replaces these.
    def _flag(self, node: Name, negated: bool) -> str:
        label = self.labels.of(node)
        return negate_label(label) if negated else label

    def _constant(self, never: bool) -> str:
        return "never" if never else "always"

    def _taken(self, node: Call, negated: bool) -> str:
        done = "has not been done" if negated else "has been done"
        return f"{words(self._render(node.args[0]))} {done}"

    def _same_month(self, node: Call, negated: bool) -> str:
        args = [self._render(a) for a in node.args]
        return f"{args[0]} is {'not ' if negated else ''}in the same month as {args[1]}"

    def _not_true(self, positive: str) -> str:
        return f"it is not true that {positive}"

    def _boolean(self, node: BoolOp, negated: bool) -> str:
        truths = [self.truths.get(id(operand), _UNSET) for operand in node.operands]
        known = all(t is not _UNSET for t in truths)
        conjunction = node.op == "and"
        if known and conjunction != negated:
            # a true `and` (all parts hold) or a false `or` (no part holds): say every part
            chosen = list(node.operands)
        elif known:
            # a true `or`: the parts that hold; a false `and`: the parts that fail
            want = not negated
            chosen = [o for o, t in zip(node.operands, truths, strict=True) if t is want] or list(
                node.operands
            )
        else:
            chosen = list(node.operands)
        parts = [self._sentence(o, negated) for o in chosen]
        if len(parts) > 1:
            parts = [f"({p})" if isinstance(o, BoolOp) else p for o, p in zip(chosen, parts, strict=True)]
        if known:  # every part said is true as written
            return " and ".join(parts)
        # a definition (no case): De Morgan when said as false
        joiner = node.op if not negated else ("or" if conjunction else "and")
        return f" {joiner} ".join(parts)

    def _compare(self, node: Compare, negated: bool) -> str:
        left, right = node.left, node.right
        if left.type is Type.DATE and node.op in _DATE_WORDS:
            words_ = (_NEGATED_DATE_WORDS if negated else _DATE_WORDS)[node.op]
        else:
            words_ = (_NEGATED_COMPARE_WORDS if negated else _COMPARE_WORDS)[node.op]
        return f"{self._side(left, right)} {words_} {self._side(right, left)}"

    def _membership(self, node: Membership, negated: bool) -> str:
        subject = self._render(node.operand)
        values = [words(str(v)) for v in node.values]
        if node.negated != negated:
            if len(values) == 1:
                return f"{subject} is not {values[0]}"
            if len(values) == 2:
                return f"{subject} is neither {values[0]} nor {values[1]}"
            return f"{subject} is none of {listed(values, 'and')}"
        if len(values) <= 2:
            return f"{subject} is {' or '.join(values)}"
        return f"{subject} is one of {listed(values, 'or')}"

    def _missing(self, node: Missing, negated: bool) -> str:
        """`x == None` said as true ('no payment has ever been received') or as false."""
        operand = node.operand
        is_missing = (not node.negated) != negated
        if is_missing:
            absent = _absent(operand)
            return absent if absent is not None else f"{self._bare(operand)} is not known"
        if isinstance(operand, Name) and self.values is not None and operand.path in self.values:
            return f"{self.labels.of(operand)} is {self.show(operand.path, self.values[operand.path], operand.type)}"
        return f"{self._bare(operand)} is known"

    def _bare(self, node: Node) -> str:
        return self.labels.of(node) if isinstance(node, Name) else self._render(node)

    def _any(self, node: Quantifier, negated: bool) -> str:
        """'the paying parent has an active license' / 'the paying parent has no active license'."""
        owner, plural = self._owner_and_items(node.collection)
        singular = singular_of(plural)
        described = describe(node.predicate)
        if described is not None:
            noun = " ".join([*described, singular])
            whose = ""
        else:
            noun = singular
            inner = Renderer(self.labels, None, self.params)._sentence(node.predicate, False)
            whose = f" whose {inner}"
        if owner is None:
            return f"there is {'no' if negated else article(noun)} {noun}{whose}"
        return f"{owner} has {'no' if negated else article(noun)} {noun}{whose}"

    def _owner_and_items(self, collection: Name) -> tuple[str | None, str]:
        label = self.labels.of(collection)
        match = _POSSESSIVE.match(label)
        if match:
            return match.group(1), match.group(2)
        parent, _, _ = collection.path.rpartition(".")
        owner = f"the {words(parent.rpartition('.')[2])}" if parent else None
        return owner, label.removeprefix("the ")

    # -- values (amounts, dates, names) ---------------------------------------------------------
    def _render(self, node: Node) -> str:
        if isinstance(node, Literal):
            if isinstance(node.value, str):
                return node.value
            return format_value(node.value, node.type)
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Unary):
            if node.op == "not":
                return self._sentence(node.operand, True)
            return "minus " + self._wrap(node.operand)
        if isinstance(node, Binary):
            if node.op == "*":
                months = self._months(node)
                if months is not None:
                    return months
            return f"{self._wrap(node.left)} {_ARITHMETIC_WORDS[node.op]} {self._wrap(node.right)}"
        if isinstance(node, Compare | Membership | BoolOp | Missing):
            return self._sentence(node, False)
        if isinstance(node, Quantifier):
            if node.function == "any_of":
                return self._any(node, False)
            return self._count(node)
        if isinstance(node, Aggregate):
            return self._aggregate(node)
        if isinstance(node, Conditional):
            # Rendered in reading order (then, test, otherwise): a template fills its slots so.
            then = (
                "nothing"
                if isinstance(node.then, Literal) and node.then.value is None
                else self._wrap(node.then)
            )
            test = self._render(node.test)
            otherwise = (
                "nothing"
                if isinstance(node.otherwise, Literal) and node.otherwise.value is None
                else self._wrap(node.otherwise)
            )
            return f"{then} if {test}, otherwise {otherwise}"
        if isinstance(node, Lookup):
            # The table itself is never shown; the key's value is (with the case's values).
            return f"{self.labels.of(node.param)} for {self._render(node.key)}"
        if isinstance(node, Call):
            return self._call(node)
        return "?"

    def _months(self, node: Binary) -> str | None:
        """`3 × the monthly support amount` → '3 months of support ($1,050.00)'."""
        for count, amount in ((node.left, node.right), (node.right, node.left)):
            if count.type not in (Type.NUMBER, Type.INTEGER) or not isinstance(amount, Name):
                continue
            match = _MONTHLY.match(self.labels.of(amount))
            number = self._number(count)
            if match is None or number is None:
                continue
            unit = "month" if number == "1" else "months"
            return f"{number} {unit} of {match.group(1)}{self.computed(node)}"
        return None

    def _number(self, node: Node) -> str | None:
        """A count as a number: a literal, or a parameter's value (the case's or the one in force)."""
        if (
            isinstance(node, Literal)
            and isinstance(node.value, int | Decimal)
            and not isinstance(node.value, bool)
        ):
            return format_value(node.value, node.type)
        if isinstance(node, Name) and node.kind == "param":
            if self.values is not None and node.path in self.values:
                return self.show(node.path, self.values[node.path], node.type)
            if node.key in self.params and not isinstance(self.params[node.key], Mapping):
                return format_value(self.params[node.key], node.type)
        return None

    def _count(self, node: Quantifier) -> str:
        owner, plural = self._owner_and_items(node.collection)
        described = describe(node.predicate)
        whose = ""
        if described is None:
            inner = Renderer(self.labels, None, self.params)._sentence(node.predicate, False)
            whose = f" whose {inner}"
            described = []
        items = " ".join([*described, plural])
        of = f"{owner}'s " if owner is not None else ""
        return f"the number of {of}{items}{whose}{self.computed(node)}"

    def _aggregate(self, node: Aggregate) -> str:
        """'the latest payment date among payments where …', 'the total payment amount of …'."""
        field_ = self.labels.of(node.field)
        collection = self.labels.of(node.collection)
        dated = node.field.type is Type.DATE
        if node.function == "sum_of":
            text = f"the total {field_} of {collection}"
        elif node.function == "max_of":
            text = f"the {'latest' if dated else 'largest'} {field_} among {collection}"
        else:
            text = f"the {'earliest' if dated else 'smallest'} {field_} among {collection}"
        if node.predicate is not None:
            inner = Renderer(self.labels, None, self.params)._sentence(node.predicate, False)
            text += f" where {inner}"
        return text

    def _wrap(self, node: Node) -> str:
        text = self._render(node)
        if isinstance(node, BoolOp | Conditional) or (isinstance(node, Binary) and not is_months(text)):
            return f"({text})"
        return text

    def _name(self, node: Name) -> str:
        label = self.labels.of(node)
        if node.kind == "item" or node.type is Type.LIST:
            return label  # a list is described by the sentence about it, never printed
        if node.type is Type.BOOL:
            if self.values is not None and node.path in self.values:
                return f"{label}: {self.show(node.path, self.values[node.path], Type.BOOL)}"
            return label
        if self.values is not None and node.path in self.values:
            return f"{label} ({self.show(node.path, self.values[node.path], node.type, _absent(node))})"
        if node.kind == "param" and node.key in self.params:
            return f"{label} ({format_value(self.params[node.key], node.type)})"
        return label

    def _side(self, node: Node, other: Node) -> str:
        """One side of a comparison; a bare number compared with money reads as money ($500)."""
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
        args = [self._render(a) for a in node.args]
        if function == "date_taken":
            return f"the date of the last {words(args[0])} action"
        if function == "days_since_taken":
            return f"the days since the last {words(args[0])} action"
        if function == "abs":
            return f"the size of {args[0]}"
        if function == "days_between":
            return f"the days from {args[0]} to {args[1]}"
        if function == "days_since":
            return f"the days since {args[0]}"
        if function == "add_days":
            count = node.args[1]
            if isinstance(count, Literal) and isinstance(count.value, int) and count.value < 0:
                days = -count.value
                return f"{days:,} day{'s' if days != 1 else ''} before {args[0]}"
            if isinstance(count, Literal) and count.value == 1:
                return f"the day after {args[0]}"
            return f"{args[1]} days after {args[0]}"
        if function == "coalesce":
            if len(args) == 2:
                return f"{args[0]}, or {args[1]} when that is not known"
            return f"the first known of {listed(args, 'and')}"
        return f"the {words(function)} of {listed(args, 'and')}"

    def _extreme(self, node: Call) -> str:
        """`max(a, b)` → 'a or b, whichever is more'; three or more → 'the largest of a, b and c'."""
        args = [self._side(a, node) for a in node.args]
        dated = node.type is Type.DATE
        larger = node.function == "max"
        if len(args) == 2:
            which = ("later" if larger else "earlier") if dated else ("more" if larger else "less")
            return f"{args[0]} or {args[1]}, whichever is {which}"
        which = ("latest" if larger else "earliest") if dated else ("largest" if larger else "smallest")
        return f"the {which} of {listed(args, 'and')}"


_UNSET = object()


def _absent(node: Node) -> str | None:
    """What a missing value of `node` means in words, when its field spec says (else None)."""
    spec = node.spec if isinstance(node, Name) else None
    return spec.absent if spec is not None else None
