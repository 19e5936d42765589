"""Pydantic models of the YAML documents a policy author writes: policy sets and their parts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
RULE_ID = re.compile(r"^[a-z][a-z0-9-]*$")
SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
ACTION_CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleKind(StrEnum):
    """The five kinds of rule a policy set holds."""

    AUTOMATIC = "automatic"
    THRESHOLD = "threshold"
    DISCRETIONARY = "discretionary"
    INCENTIVE = "incentive"
    HOLD = "hold"


class Basis(StrEnum):
    """What the law says about a rule: it requires it, allows it (a state or agency option the
    law provides), or the rule is the agency's own choice (a screen, a program, a practice)."""

    MANDATED = "mandated"
    ALLOWED = "allowed"
    AGENCY_CHOICE = "agency-choice"


class Unit(StrEnum):
    """What a parameter's values measure; fixes their type in expressions."""

    USD = "USD"
    DAYS = "days"
    MONTHS = "months"
    COUNT = "count"
    RATE = "rate"
    PERCENT = "percent"
    DATE = "date"
    BOOLEAN = "boolean"


class Source(_Strict):
    """A legal or agency source that rules and parameters cite."""

    title: str = Field(min_length=1, description="Full title, e.g. '42 U.S.C. § 652(k) — ...'")
    url: str = Field(pattern=r"^https?://", description="Where a reader finds the text")
    note: str | None = Field(None, description="Anything a reader should know about the source")


class Citation(_Strict):
    """A reference to a source, optionally to one part of it."""

    source: str = Field(description="Id of a source in `sources`")
    pinpoint: str | None = Field(None, description="The part cited, e.g. '(k)(1)'")


def _citation_list(value: Any) -> Any:
    if isinstance(value, list):
        return [{"source": item} if isinstance(item, str) else item for item in value]
    return value


CitationList = Annotated[list[Citation], Field(description="Sources: ids or {source, pinpoint}")]


class DatedValue(_Strict):
    """One value of a parameter and the half-open interval [from, to) in which it is in force."""

    from_: dt.date = Field(alias="from", description="First day the value is in force")
    to: dt.date | None = Field(None, description="First day it is no longer in force")
    value: Decimal | int | bool | dt.date | dict[str, Decimal | int | bool | dt.date] = Field(
        description="The value; a table (key → value, e.g. by county) makes the parameter keyed,"
        " read as params.NAME[key]"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _interval(self) -> DatedValue:
        if self.to is not None and self.to <= self.from_:
            raise ValueError("'to' must be after 'from'")
        return self


class Parameter(_Strict):
    """A named, dated, cited threshold or rate."""

    description: str = Field(min_length=1)
    unit: Unit
    label: str | None = Field(None, description="Short name used in plain-language text")
    values: list[DatedValue] = Field(min_length=1)
    cite: CitationList = Field(default_factory=list)

    _normalize_cite = field_validator("cite", mode="before")(_citation_list)


class Derived(_Strict):
    """A named intermediate fact computed from the snapshot, shown in traces."""

    expr: str = Field(min_length=1)
    description: str | None = None
    label: str | None = None


class DueExtension(_Strict):
    """A longer clock that replaces `days` when a condition holds (e.g. service of process needed)."""

    days: int = Field(gt=0, le=3650, description="Days allowed when `when` holds")
    when: str = Field(min_length=1, description="Condition under which the longer clock applies")
    cite: CitationList = Field(default_factory=list)

    _normalize_cite = field_validator("cite", mode="before")(_citation_list)


class Due(_Strict):
    """A statutory clock: the action is due `days` after the date given by `after`."""

    days: int = Field(gt=0, le=3650)
    after: str = Field(min_length=1, description="Expression giving the trigger date")
    business_days: bool = Field(
        False, description="Count Monday to Friday only (public holidays are not skipped)"
    )
    extended: DueExtension | None = Field(
        None, description="A longer clock when a condition holds, e.g. 60 days when papers must be served"
    )
    cite: CitationList = Field(default_factory=list)

    _normalize_cite = field_validator("cite", mode="before")(_citation_list)

    @model_validator(mode="after")
    def _longer_extension(self) -> Due:
        if self.extended is not None and self.extended.days <= self.days:
            raise ValueError("'extended.days' must be longer than 'days'")
        return self


Conditions = Annotated[list[str], Field(description="Expressions; all must hold")]


def _condition_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


class Rule(_Strict):
    """One rule: when it applies, what it recommends or holds, and the law behind it."""

    id: str = Field(pattern=RULE_ID.pattern, description="Unique id, kebab-case")
    kind: RuleKind
    basis: Basis | None = Field(
        None,
        description="Whether the law mandates the rule, allows it, or it is an agency choice (agency-choice)",
    )
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1, description="Plain language for staff")
    when: Conditions = Field(default_factory=list)
    unless: Conditions = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list, description="Rules whose action comes first")
    holds: list[str] = Field(default_factory=list, description="Rules a hold suppresses")
    action: str | None = Field(None, pattern=ACTION_CODE.pattern)
    outputs: dict[str, str] = Field(default_factory=dict)
    priority: int = 0
    cite: CitationList = Field(default_factory=list)
    override: bool = Field(False, description="Deliberately replaces a parent rule of this id")
    due: Due | None = None

    _normalize_when = field_validator("when", "unless", mode="before")(_condition_list)
    _normalize_cite = field_validator("cite", mode="before")(_citation_list)

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if self.kind is RuleKind.HOLD:
            if self.action is not None:
                raise ValueError("a hold rule has no 'action'; it names the rules it holds")
            if not self.holds:
                raise ValueError("a hold rule must name the rules it holds in 'holds'")
        else:
            if self.action is None:
                raise ValueError(f"a {self.kind.value} rule needs an 'action'")
            if self.holds:
                raise ValueError("only hold rules may have 'holds'")
        if not self.when:
            raise ValueError("a rule needs at least one condition in 'when'")
        for name in self.outputs:
            if not IDENTIFIER.match(name):
                raise ValueError(f"output name {name!r} must be snake_case")
        return self


class Jurisdiction(_Strict):
    """Where a policy set applies."""

    state: str = Field(pattern=r"^[A-Z]{2}$|^US$")
    county: str | None = None


class Effective(_Strict):
    """The half-open interval [from, to) in which a policy version is in force."""

    from_: dt.date = Field(alias="from")
    to: dt.date | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PolicyFile(_Strict):
    """One YAML file of a policy set. The header fields appear in exactly one file of a set."""

    id: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]*$")
    version: str | None = None
    title: str | None = None
    description: str | None = None
    jurisdiction: Jurisdiction | None = None
    extends: str | None = None
    case_schema: str | None = Field(
        None,
        description="The case schema the policy reads: a shipped name (child-support/v2) or a relative"
        " path ending in .yaml; inherited through `extends`; child-support/v1 when none is named",
    )
    effective: Effective | None = None
    sources: dict[str, Source] = Field(default_factory=dict)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    derived: dict[str, str | Derived] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, int | Decimal):
            return str(value)
        return value


HEADER_FIELDS = (
    "id",
    "version",
    "title",
    "description",
    "jurisdiction",
    "extends",
    "case_schema",
    "effective",
)
