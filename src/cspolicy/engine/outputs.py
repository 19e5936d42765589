"""The output models of a decision (a leaf: imports nothing of cspolicy's).

Citations, condition traces, the policy reference, recommended / held / waiting actions, why-not
explanations and near misses, plus the two value conventions every output follows: money rounded
half up to cents, and facts as stable JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

CENT = Decimal("0.01")

# Text as a JSON string, as `json.dumps(ensure_ascii=False)` writes it (the C encoder).
json_string: Any = encode_basestring


def round_money(amount: Decimal | int) -> Decimal:
    """An amount rounded half up to whole cents (money outputs are always shown in cents)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def json_value(value: Any) -> Any:
    """A fact as stable JSON: Decimal as text, dates ISO, lists item by item."""
    cls = value.__class__  # the exact types facts have first (what the checks below say of them)
    if cls is str or cls is bool or cls is int or value is None:
        return value
    if cls is Decimal:
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


def json_text(data: Any, indent: int | None = 2) -> str:
    """JSON text of JSON-ready data (text, integers, booleans, null, lists, mappings; no floats),
    byte for byte what `json.dumps(data, indent=indent, ensure_ascii=False)` writes.

    Indented output comes from pydantic-core's serializer: the standard library's encoder falls
    back to pure Python whenever it indents, and that was half the cost of a decision's JSON.
    """
    if indent is None:
        return json.dumps(data, ensure_ascii=False)
    return to_json(data, indent=indent).decode("utf-8")


class UnwrittenJson(Exception):
    """A value `json_dump` does not write (not JSON-ready data): the caller takes the general path."""


def json_layout(indent: int | None) -> tuple[str, str | None]:
    """The newline-and-indent of the top level and one indent step (`step` None: on one line)."""
    return ("", None) if indent is None else ("\n", " " * indent)


def json_dump(value: Any, nl: str, step: str | None) -> str:
    """JSON-ready `value` as `json.dumps(indent=…, ensure_ascii=False)` writes it at the depth
    whose newline-and-indent is `nl` (`json_layout`); raises UnwrittenJson for anything else.

    Decisions are written piece by piece from parts that are encoded once (see `decision_text`);
    this writes the pieces that vary from case to case."""
    cls = value.__class__
    if cls is str:
        return json_string(value)  # type: ignore[no-any-return]
    if value is None:
        return "null"
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return int.__repr__(value)
    if cls is dict:
        if not value:
            return "{}"
        inner = nl if step is None else nl + step
        items = []
        for key, item in value.items():
            if key.__class__ is not str:
                raise UnwrittenJson(key)
            items.append(f"{json_string(key)}: {json_dump(item, inner, step)}")
        return "{" + inner + ("," + inner if step is not None else ", ").join(items) + nl + "}"
    if cls is list or cls is tuple:
        if not value:
            return "[]"
        inner = nl if step is None else nl + step
        sep = "," + inner if step is not None else ", "
        return "[" + inner + sep.join([json_dump(item, inner, step) for item in value]) + nl + "]"
    raise UnwrittenJson(value)


class OutputModel(BaseModel):
    """Base of every output model: frozen, so a decision cannot be altered after it is made."""

    model_config = ConfigDict(frozen=True)


class CitationOut(OutputModel):
    """A citation resolved against the policy's sources."""

    source: str
    title: str
    pinpoint: str | None = None
    url: str


class ConditionTrace(OutputModel):
    """One condition of a rule: the expression, the case's values, the result, in words."""

    expr: str
    part: Literal["when", "unless"] = "when"
    values: dict[str, Any] = Field(default_factory=dict)
    result: bool | None
    text: str


class PolicyRef(OutputModel):
    """Which policy made a decision: id, version and content digest."""

    id: str
    version: str
    digest: str


class RecommendedActionModel(OutputModel):
    """A recommended action as it appears in the decision JSON (its schema)."""

    action: str
    rule: str
    kind: str
    title: str
    because: list[ConditionTrace]
    citations: list[CitationOut]
    parameters: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    priority: int = 0
    due_by: dt.date | None = None
    overdue: bool | None = None


class HeldActionModel(OutputModel):
    """A held action as it appears in the decision JSON (its schema)."""

    action: str
    rule: str
    kind: str
    title: str
    held_by: str
    reason: str
    because: list[ConditionTrace]
    citations: list[CitationOut]


class WaitingActionModel(OutputModel):
    """A waiting action as it appears in the decision JSON (its schema)."""

    action: str
    rule: str
    kind: str
    title: str
    waiting_for: list[str]
    because: list[ConditionTrace]
    citations: list[CitationOut]


class DecisionModel(OutputModel):
    """The decision JSON (`Decision.to_json()`) as a model: its schema, e.g. for OpenAPI."""

    case_id: str
    as_of: dt.date
    policy: PolicyRef
    actions: list[RecommendedActionModel]
    held: list[HeldActionModel] = Field(default_factory=list)
    waiting: list[WaitingActionModel] = Field(default_factory=list)


class WhyNot(OutputModel):
    """Why a rule did (or did not) lead to its action for this case."""

    rule: str
    title: str
    status: Literal["recommended", "held", "waiting", "not applicable", "hold applies", "hold does not apply"]
    failed: list[ConditionTrace]
    held_by: str | None = None
    waiting_for: list[str] = Field(default_factory=list)
    text: str

    def __str__(self) -> str:
        return self.text


class NearMiss(BaseModel):
    """A rule close to applying: the condition that stops it, how far off it is, and in words."""

    model_config = ConfigDict(frozen=True)

    rule: str
    title: str
    kind: str
    action: str | None
    condition: str
    distance: str
    text: str

    def __str__(self) -> str:
        return self.text
