"""Request and response models of the HTTP API: what `/openapi.json` describes.

Decisions and why-not answers are the library's own models (`Decision`, `WhyNot`), rendered by
the library; the models here describe the policies, rules, records and errors around them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cspolicy.service._library import DecisionRecord


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProblemOut(_Model):
    """One problem the library found, as it reported it."""

    code: str = Field(description="Stable problem code, e.g. CSP501")
    path: str | None = Field(None, description="The snapshot field at fault (dotted), when there is one")
    message: str = Field(description="The library's message, unchanged")
    location: str = Field(description="Where: `<request body>`, a batch line, or file:line:col")


class ErrorDetail(_Model):
    """What went wrong: a code, a message, the located problems and a suggestion when one exists."""

    code: str
    message: str
    problems: list[ProblemOut] = Field(default_factory=list)
    suggestion: str | None = None


class ErrorBody(_Model):
    """Every error response: `{"error": {...}}`, never a traceback."""

    error: ErrorDetail


class DateSpan(_Model):
    """A half-open date range [from, to); `to` null means open-ended."""

    from_: dt.date | None = Field(alias="from")
    to: dt.date | None = None

    model_config = ConfigDict(frozen=True, populate_by_name=True)


class VersionOut(_Model):
    """One compiled version of a set (its parents chosen by date), and when it is evaluated."""

    version: str
    digest: str
    effective_from: dt.date
    effective_to: dt.date | None
    in_force: list[DateSpan] = Field(description="The dates on which this compiled version decides")
    rule_count: int


class JurisdictionOut(_Model):
    state: str
    county: str | None = None


class PolicySummary(_Model):
    """A policy set: id, title, jurisdiction, the latest digest and rule count, every version."""

    id: str
    title: str
    jurisdiction: JurisdictionOut
    digest: str = Field(description="Digest of the latest version")
    rule_count: int = Field(description="Rules in the latest version")
    versions: list[VersionOut]


class PolicyList(_Model):
    policies: list[PolicySummary]


class RuleBrief(_Model):
    id: str
    title: str
    kind: str
    action: str | None
    holds: list[str]


class PolicyDetail(PolicySummary):
    """A policy set with the rules of the version in force on `as_of`."""

    as_of: dt.date
    version: str = Field(description="The version whose rules are listed")
    rules: list[RuleBrief]


class ConditionOut(_Model):
    """A condition as written and in words."""

    expr: str
    text: str


class DatedValueOut(_Model):
    from_: dt.date = Field(alias="from")
    to: dt.date | None = None
    value: Any

    model_config = ConfigDict(frozen=True, populate_by_name=True)


class ParameterOut(_Model):
    """A parameter a rule reads: its value in force on `as_of`, and every dated value."""

    name: str
    label: str
    unit: str
    description: str
    value: Any = Field(description="The value in force on `as_of` (null when none is)")
    text: str = Field(description="That value as people read it")
    values: list[DatedValueOut]
    cite: list[str]


class CitationOut(_Model):
    source: str
    title: str
    pinpoint: str | None = None
    url: str


class RuleDetail(_Model):
    """A rule as the docs describe it: summary, conditions in words, citations, parameters in force."""

    policy_id: str
    version: str
    digest: str
    as_of: dt.date = Field(description="The date whose version and parameter values are shown")
    id: str
    title: str
    kind: str
    action: str | None
    summary: str
    when: list[ConditionOut]
    unless: list[ConditionOut]
    requires: list[str]
    holds: list[str]
    priority: int
    outputs: dict[str, ConditionOut]
    citations: list[CitationOut]
    parameters: list[ParameterOut]
    origin: str = Field(description="The policy set the rule is written in (a parent when inherited)")
    written_at: str = Field(description="file:line where the rule is written")


class RecordOut(_Model):
    """A stored decision record and the decision exactly as it was saved."""

    record: DecisionRecord
    decision: dict[str, Any]


class ReplayOut(_Model):
    """A record replayed from its stored snapshot and policy texts (as `cspolicy replay --format json`)."""

    record_id: str
    identical: bool
    stored: dict[str, Any]
    replayed: dict[str, Any]


class Health(_Model):
    status: str


class Readiness(_Model):
    status: str
    policies: int
    loaded_at: dt.datetime
    reloads: int
    refused_reloads: int
