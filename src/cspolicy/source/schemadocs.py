"""The models of a case schema document (pydantic, unknown keys refused): field specs, derived
facts, identity, and the file itself; `cspolicy.source.caseschema` reads and merges them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
DOTTED_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class FieldType(StrEnum):
    """The types a case field can have."""

    TEXT = "text"
    MONEY = "money"
    INTEGER = "integer"
    NUMBER = "number"
    BOOL = "bool"
    DATE = "date"
    CHOICE = "choice"
    LIST = "list"


class Classification(StrEnum):
    """How sensitive a field is: public, personally identifying, federal tax information,
    family-violence protected (used for masking)."""

    PUBLIC = "public"
    PII = "pii"
    FTI = "fti"
    FVI = "fvi"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldDoc(_Strict):
    """One field of a case: its type, words, whether it must be present, and its constraints."""

    type: FieldType
    label: str = Field(min_length=1, description="The words used in explanations and docs")
    description: str | None = Field(None, description="What the field means, and the law that needs it")
    required: bool = Field(False, description="A snapshot must give a value")
    default: Any = Field(None, description="The value when a snapshot gives none")
    optional: bool = Field(False, description="The value may be absent (null); it reads as unknown")
    absent: str | None = Field(
        None, description="What an absent value means, in words (e.g. 'no payment has ever been received')"
    )
    choices: list[str] | None = Field(None, description="The allowed values of a `choice` field")
    pattern: str | None = Field(None, description="A regular expression a `text` value must match")
    min_length: int | None = Field(None, ge=0, description="Fewest characters of a `text` value")
    max_length: int | None = Field(None, ge=1, description="Most characters of a `text` value")
    unit: str | None = Field(None, description="What a number measures, e.g. days")
    classification: Classification = Field(Classification.PUBLIC, description="How sensitive the value is")
    items: dict[str, FieldDoc] | None = Field(None, description="The fields of each item of a `list`")
    item_name: str | None = Field(
        None,
        pattern=r"^[A-Z][A-Za-z0-9]*$",
        description="What one item of a `list` is called in messages and the JSON Schema, e.g. Payment",
    )
    override: bool = Field(False, description="Deliberately replaces the base schema's field of this name")

    @model_validator(mode="after")
    def _shape(self) -> FieldDoc:
        kind = self.type
        given = [name for name in ("required", "optional") if getattr(self, name)]
        if "default" in self.model_fields_set:
            if self.default is None:
                raise ValueError("`default: null` is not a default; mark the field `optional: true`")
            given.append("default")
        if len(given) > 1:
            raise ValueError(f"a field is either required, defaulted or optional, not {' and '.join(given)}")
        if not given and kind is not FieldType.LIST:
            raise ValueError("say `required: true`, give a `default`, or mark the field `optional: true`")
        if (kind is FieldType.LIST) != (self.items is not None):
            raise ValueError(
                "a list field needs `items:`" if kind is FieldType.LIST else "only a list has `items`"
            )
        if self.item_name is not None and kind is not FieldType.LIST:
            raise ValueError("only a list has `item_name`")
        if kind is FieldType.LIST:
            if not self.items:
                raise ValueError("a list needs at least one item field")
            for name, item in self.items.items():
                if not FIELD_NAME.match(name):
                    raise ValueError(f"item field name {name!r} must be snake_case")
                if item.type is FieldType.LIST:
                    raise ValueError(f"item field {name!r}: a list item cannot hold a list")
            if "default" in self.model_fields_set and self.default != []:
                raise ValueError("a list's default can only be [] (the empty list)")
        if (kind is FieldType.CHOICE) != (self.choices is not None):
            raise ValueError(
                "a choice field needs `choices:`"
                if kind is FieldType.CHOICE
                else "only a choice has `choices`"
            )
        if self.choices is not None and (not self.choices or len(set(self.choices)) != len(self.choices)):
            raise ValueError("`choices` must list distinct values")
        if kind is not FieldType.TEXT and (
            self.pattern is not None or self.min_length is not None or self.max_length is not None
        ):
            raise ValueError("only a text field has `pattern`, `min_length` or `max_length`")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"`pattern` is not a valid regular expression: {exc}") from None
        if self.unit is not None and kind not in (FieldType.MONEY, FieldType.INTEGER, FieldType.NUMBER):
            raise ValueError("only a number has a `unit`")
        if self.absent is not None and not self.optional:
            raise ValueError("`absent` describes a missing value: only an optional field has one")
        if "default" in self.model_fields_set and kind is not FieldType.LIST:
            _check_default(self)
        return self


def _check_default(spec: FieldDoc) -> None:
    value, kind = spec.default, spec.type
    numeric = isinstance(value, int | Decimal) and not isinstance(value, bool)
    ok = {
        FieldType.TEXT: isinstance(value, str),
        FieldType.CHOICE: isinstance(value, str) and value in (spec.choices or []),
        FieldType.BOOL: isinstance(value, bool),
        FieldType.DATE: isinstance(value, dt.date) and not isinstance(value, dt.datetime),
        FieldType.INTEGER: isinstance(value, int) and not isinstance(value, bool),
        FieldType.NUMBER: numeric,
        FieldType.MONEY: numeric and Decimal(value) >= 0,
    }[kind]
    if not ok:
        extra = f"; the choices are: {', '.join(spec.choices or [])}" if kind is FieldType.CHOICE else ""
        raise ValueError(f"default {value!r} is not a valid {kind.value} value{extra}")


class DerivedDoc(_Strict):
    """A fact computed from the case's fields with an expression (no sentinels: null when none)."""

    expr: str = Field(
        min_length=1, description="An expression over the case's fields and earlier derived facts"
    )
    label: str = Field(min_length=1)
    description: str | None = None
    optional: bool = Field(False, description="The value may be absent (null), e.g. no payment was ever made")
    absent: str | None = Field(None, description="What an absent value means, in words")
    unit: str | None = None
    classification: Classification = Classification.PUBLIC
    override: bool = False


class Identity(_Strict):
    """The fields the engine needs, by dotted path: no domain path is written in Python."""

    case_id: str = Field(pattern=DOTTED_NAME.pattern, description="The case number (text)")
    as_of: str = Field(pattern=DOTTED_NAME.pattern, description="The date the snapshot describes")
    jurisdiction: str | None = Field(
        None,
        pattern=DOTTED_NAME.pattern,
        description="The state code checked against a policy's jurisdiction",
    )


class CaseSchemaFile(_Strict):
    """One case schema YAML document."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*$")
    version: str
    title: str = Field(min_length=1)
    description: str | None = None
    extends: str | None = Field(None, description="The base schema: a relative path or a shipped name")
    identity: Identity | None = Field(None, description="Required unless inherited through `extends`")
    fields: dict[str, Any] = Field(default_factory=dict, description="Field specs, nested in groups")
    derived: dict[str, DerivedDoc] = Field(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return str(value)
        return value
