"""Small phrasing helpers of the renderer: lists joined in words, singular nouns, articles, and
a list item's condition described as adjectives ("an active driver license")."""

from __future__ import annotations

import re

from cspolicy.expressions.nodes import BoolOp, Compare, Literal, Membership, Name, Node


def words(name: str) -> str:
    """`passport_denial_threshold` → 'passport denial threshold'."""
    return name.replace("_", " ")


def listed(items: list[str], joiner: str) -> str:
    """'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {joiner} {items[-1]}"


def is_months(text: str) -> bool:
    return bool(re.match(r"^\S+ months? of ", text))


def singular(plural: str) -> str:
    if plural.endswith("ies"):
        return plural[:-3] + "y"
    if plural.endswith(("sses", "shes", "ches", "xes")):
        return plural[:-2]
    if plural.endswith("s") and not plural.endswith("ss"):
        return plural[:-1]
    return plural


def article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def describe(predicate: Node) -> list[str] | None:
    """An item predicate of choices as words before the noun: `status == "active"` → ['active'];
    `status == "suspended" and type in ["driver", "professional"]` → ['suspended', 'driver or
    professional']. A kind ('type') comes next to the noun. None when it is not that simple."""
    parts = predicate.operands if isinstance(predicate, BoolOp) and predicate.op == "and" else [predicate]
    qualities: list[str] = []
    kinds: list[str] = []
    for part in parts:
        if (
            isinstance(part, Compare)
            and part.op == "=="
            and isinstance(part.left, Name)
            and part.left.kind == "item"
            and isinstance(part.right, Literal)
            and isinstance(part.right.value, str)
        ):
            name, said = part.left, words(part.right.value)
        elif (
            isinstance(part, Membership)
            and not part.negated
            and isinstance(part.operand, Name)
            and part.operand.kind == "item"
            and all(isinstance(v, str) for v in part.values)
        ):
            name, said = part.operand, " or ".join(words(str(v)) for v in part.values)
        else:
            return None
        if said in ("none", "no", "yes"):
            return None
        (kinds if name.path.rpartition(".")[2] in ("type", "kind") else qualities).append(said)
    return qualities + kinds
