"""The Spanish words of one policy, as the Spanish renderer reads them, and values said in Spanish.

`SpanishTexts` is a view of the translation catalogues (`cspolicy.engine.translations` builds
it): labels of parameters, derived values, fields and list items, choice words, and the action
codes. `format_value_es` writes a value for a Spanish reader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cspolicy.expressions.formatting import format_money
from cspolicy.expressions.locales import long_date, number
from cspolicy.expressions.messages_es import MESSAGES, message
from cspolicy.expressions.nodes import Name, Node
from cspolicy.expressions.types import FieldSpec, Type
from cspolicy.source.translations import ActionText, FieldText, TermText


def format_value_es(value: Any, type_: Type) -> str:
    """A value as a Spanish reader sees it: $3,120.00, 3 de marzo de 2025, sí/no, 'sin dato'."""
    if value is None:
        return MESSAGES["value.none"]
    if isinstance(value, bool):
        return MESSAGES["value.yes"] if value else MESSAGES["value.no"]
    if isinstance(value, dt.date):
        return long_date(value, "es")
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {format_value_es(entry, type_)}" for key, entry in value.items())
    if isinstance(value, list | tuple):
        return message("value.items", count=number(len(value), "es"), s="s" if len(value) != 1 else "")
    if isinstance(value, int | Decimal) and type_ is Type.MONEY:
        return format_money(Decimal(value))
    if isinstance(value, int | Decimal):
        return number(value, "es")
    return str(value)


@dataclass
class SpanishTexts:
    """The Spanish words of one policy: labels of parameters, derived values, fields and list
    items (by the item's FieldSpec), and the action codes."""

    params: Mapping[str, TermText] = field(default_factory=dict)
    derived: Mapping[str, TermText] = field(default_factory=dict)
    fields: Mapping[str, FieldText] = field(default_factory=dict)
    facts: Mapping[str, TermText] = field(default_factory=dict)  # the case schema's derived facts
    items: Mapping[int, FieldText] = field(default_factory=dict)  # id(item FieldSpec) → its texts
    actions: Mapping[str, ActionText] = field(default_factory=dict)

    def text(self, node: Name) -> FieldText | TermText | None:
        if node.kind == "param":
            return self.params.get(node.key)
        if node.kind == "derived":
            return self.derived.get(node.key)
        if node.kind == "item":
            return self.items.get(id(node.spec)) if node.spec is not None else None
        return self.fields.get(node.path) or self.facts.get(node.path)

    def label(self, node: Name) -> str:
        found = self.text(node)
        if found is not None and found.label:
            return found.label
        return message("missing.label", name=node.path)  # only when `check --lang es` was not clean

    def negative(self, node: Name) -> str:
        found = self.text(node)
        if found is not None and found.negative:
            return found.negative
        return message("sentence.not_true", sentence=self.label(node))

    def absent(self, node: Node) -> str | None:
        if not isinstance(node, Name):
            return None
        found = self.text(node)
        spec = node.spec
        if found is not None and found.absent and spec is not None and spec.absent:
            return found.absent
        return None

    def choice(self, node: Node, value: str) -> str:
        """A choice value in words: 'sin empleo' (quoted in sentences by the caller)."""
        found = self.text(node) if isinstance(node, Name) else None
        if isinstance(found, FieldText) and value in found.choices:
            return found.choices[value]
        if value in self.actions:  # an action code compared with the enforcement history
            return self.actions[value].label
        return value.replace("_", " ")

    def action(self, code: str) -> str:
        found = self.actions.get(code)
        return found.label if found is not None else code


def item_texts(fields: Mapping[str, FieldSpec], texts: Mapping[str, FieldText]) -> dict[int, FieldText]:
    """id(item FieldSpec) → its Spanish texts, for every list field of a case schema."""
    found: dict[int, FieldText] = {}
    for path, spec in fields.items():
        list_text = texts.get(path)
        if list_text is None:
            continue
        for name, item in spec.items.items():
            if name in list_text.items:
                found[id(item)] = list_text.items[name]
    return found
