"""Case events: what can happen to a case, each type with its payload, validated before use.

An event is `{"type": ..., "case_id": ..., "date": ..., "payload": {...}}`; `parse_event` checks
the envelope and then the payload against its type's model, and raises MonitorError (naming
every problem) for anything else. What each event does to a case is `cspolicy.rete.monitor`'s.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cspolicy.diagnostics import Code, CSPolicyError, Location, Problem
from cspolicy.engine.snapshot import Arrears, Day, Jurisdiction, License, Money, snapshot_problems
from cspolicy.source.vocabulary import (
    PROGRAM_STATUSES,
    RECORDED_ACTION,
    AppliedTo,
    Employment,
    EnforcementStatus,
    PaymentSource,
    Program,
    PublicAssistance,
)

EventType = Literal[
    "order_issued",
    "payment_posted",
    "enforcement_recorded",
    "employment_changed",
    "program_changed",
    "parent_status_changed",
    "date_advanced",
]


class MonitorError(CSPolicyError):
    """An event the monitor refused (no case state was changed); `problem` says why and where."""

    def __init__(self, problem: Problem, case_id: str | None = None) -> None:
        self.problem = problem
        self.case_id = case_id
        prefix = f"case {case_id}: " if case_id else ""
        super().__init__(prefix + str(problem))


class EventPayload(BaseModel):
    """The details of an event, one model per event type (`PAYLOADS`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderIssued(EventPayload):
    """A new or modified support order; the first one opens the case."""

    monthly_amount: Money
    jurisdiction: Jurisdiction | None = None
    public_assistance: PublicAssistance | None = None
    income_withholding_active: bool | None = None
    arrears: Arrears | None = None  # opening balances (only when the case is opened)


class PaymentPosted(EventPayload):
    """A payment received."""

    amount: Money
    applied_to: AppliedTo = "current"
    source: PaymentSource = "voluntary"


class EnforcementRecorded(EventPayload):
    """A notice sent or an enforcement action taken (or its status)."""

    action: str = Field(pattern=RECORDED_ACTION)
    status: EnforcementStatus = "sent"


class EmploymentChanged(EventPayload):
    """The paying parent's employment changed (and perhaps what is known about the employer)."""

    employment: Employment
    employer_known: bool | None = None
    income_withholding_active: bool | None = None


class ProgramChanged(EventPayload):
    """Enrolment in employment and training services or a payment plan changed."""

    program: Program
    status: str

    @model_validator(mode="after")
    def _status_fits_program(self) -> ProgramChanged:
        allowed = PROGRAM_STATUSES[self.program]
        if self.status not in allowed:
            raise ValueError(f"status of {self.program} must be one of {', '.join(allowed)}")
        return self


class ParentStatusChanged(EventPayload):
    """Incarceration, active duty, a newly known address, or the parent's licenses."""

    incarcerated: bool | None = None
    incarcerated_since: Day | None = None
    expected_release: Day | None = None
    military_active_duty: bool | None = None
    address_known: bool | None = None
    licenses: list[License] | None = None


class DateAdvanced(EventPayload):
    """Time passes: support falls due and day counts grow."""


PAYLOADS: dict[str, type[EventPayload]] = {
    "order_issued": OrderIssued,
    "payment_posted": PaymentPosted,
    "enforcement_recorded": EnforcementRecorded,
    "employment_changed": EmploymentChanged,
    "program_changed": ProgramChanged,
    "parent_status_changed": ParentStatusChanged,
    "date_advanced": DateAdvanced,
}


class CaseEvent(BaseModel):
    """One thing that happened to one case on one date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: EventType
    case_id: str = Field(min_length=1, max_length=64)
    date: Day
    payload: dict[str, Any] = Field(default_factory=dict)

    def details(self) -> EventPayload:
        """The payload validated against this event type's model."""
        return PAYLOADS[self.type].model_validate(self.payload)


def parse_event(data: Any, where: Location | None = None) -> tuple[CaseEvent, EventPayload]:
    """Validate an event and its payload; MonitorError listing every problem otherwise."""
    location = where or Location("<event>")
    case_id = data.get("case_id") if isinstance(data, dict) else None
    if isinstance(data, CaseEvent):
        event = data
    elif not isinstance(data, dict):
        raise MonitorError(Problem(Code.EVENT_INVALID, "an event must be a JSON object", location))
    else:
        try:
            event = CaseEvent.model_validate(data)
        except ValidationError as exc:
            raise _invalid(exc, location, "", case_id) from None
    try:
        return event, event.details()
    except ValidationError as exc:
        raise _invalid(exc, location, "payload.", event.case_id) from None


def _invalid(exc: ValidationError, location: Location, prefix: str, case_id: Any) -> MonitorError:
    problems = snapshot_problems(exc, str(location))
    text = "; ".join((prefix + p.message).replace(".: ", ": ", 1) for p in problems)
    return MonitorError(
        Problem(Code.EVENT_INVALID, f"invalid event: {text}", location),
        case_id if isinstance(case_id, str) else None,
    )
