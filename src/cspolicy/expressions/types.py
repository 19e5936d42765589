"""The types of the expression language and the catalogue entries that give names their types."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Type(StrEnum):
    """The value types an expression can have."""

    MONEY = "money"
    NUMBER = "number"
    INTEGER = "integer"
    BOOL = "bool"
    DATE = "date"
    STRING = "string"
    LIST = "list"
    NULL = "null"

    @property
    def numeric(self) -> bool:
        return self in (Type.MONEY, Type.NUMBER, Type.INTEGER)

    @property
    def article(self) -> str:
        """The type as a reader says it: 'a date', 'money', 'a number'."""
        return {
            Type.MONEY: "money",
            Type.NUMBER: "a number",
            Type.INTEGER: "a whole number",
            Type.BOOL: "a yes/no value",
            Type.DATE: "a date",
            Type.STRING: "text",
            Type.LIST: "a list",
            Type.NULL: "nothing",
        }[self]


@dataclass(frozen=True)
class FieldSpec:
    """What a name means: its type, a plain-language label, allowed values, item fields."""

    path: str
    type: Type
    label: str
    description: str = ""
    choices: tuple[str, ...] = ()
    items: dict[str, FieldSpec] = field(default_factory=dict)
    optional: bool = False
    unit: str | None = None
    # What a missing (null) value means, in words: "no payment has ever been received".
    absent: str | None = None
