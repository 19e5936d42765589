"""Case monitor: consume a stream of case events through durable-rules and report what changes.

    monitor = CaseMonitor("policies/wisconsin")
    for change in monitor.process({"type": "payment_posted", "case_id": "WI-1",
                                   "date": "2025-03-04", "payload": {"amount": "200"}}):
        print(change.text)

Each event is validated (`cspolicy.rete.events`), then posted to a durable-rules ruleset with one rule per event type;
the rule's action applies the event to a *copy* of the case's state (a CaseSnapshot), the copy
is evaluated on the Rete back end, and only if both succeed does it replace the case's state.
A malformed event, an event for an unknown case, or one that cannot be evaluated raises
MonitorError and leaves every case as it was. The monitor reports only *changes* in the
decision: newly recommended, no longer recommended, newly held, released from hold — each
carrying the same explanation and citations as `PolicySet.evaluate`.

Accrual (simple and deterministic; see docs/rete.md):
- the support for a calendar month is the order's `monthly_amount` in force at the month's
  end, and it is due for every month from the month the order was established;
- when a case's date moves past the end of a month, whatever part of that month's support was
  not paid by payments applied to `current` and dated in that month becomes past-due support:
  `arrears.state_owed` while the case receives public assistance (`current`), else
  `arrears.family_owed`;
- a payment applied to `current` beyond the month's support reduces `family_owed`; one applied
  to `family_arrears` / `state_arrears` reduces that balance; balances never go below zero
  (`state_owed_pre_1996` never exceeds `state_owed`).
Every event moves its case's date to the event's date first (accruing on the way); events for
one case must come in date order.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_serializer

from cspolicy.diagnostics import Code, CSPolicyError, Location, Problem
from cspolicy.engine.decision import Decision, HeldAction, PolicyRef, RecommendedAction
from cspolicy.engine.policy import PolicySet
from cspolicy.engine.snapshot import Arrears, CaseSnapshot, EnforcementEntry, Payment
from cspolicy.engine.versions import PolicyVersions
from cspolicy.rete.backend import ENGINE_LOCK, RetePolicy, durable_host
from cspolicy.rete.events import (
    PAYLOADS,
    CaseEvent,
    EmploymentChanged,
    EnforcementRecorded,
    EventPayload,
    MonitorError,
    OrderIssued,
    ParentStatusChanged,
    PaymentPosted,
    ProgramChanged,
    parse_event,
)

ChangeKind = Literal["recommended", "no longer recommended", "held", "released"]
ZERO = Decimal("0")
_REGISTERED: list[str] = []  # the event ruleset, once registered in this process
# The event being processed and its outcome, handed to and from the durable-rules action.
_PENDING: list[tuple[CaseMonitor, CaseEvent, EventPayload, Location]] = []
_OUTCOME: list[Any] = []
_SEQUENCE = itertools.count(1)  # makes every posted event distinct


class Change(BaseModel):
    """One change in a case's recommendations, explained and cited like `evaluate`."""

    # the actions are the decision's own (explained when read), written as in the decision JSON
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    case_id: str
    date: dt.date
    change: ChangeKind
    rule: str
    action: str
    title: str
    text: str
    policy: PolicyRef
    recommended: RecommendedAction | None = None  # the recommendation (recommended / no longer)
    held: HeldAction | None = None  # the hold (held)

    @field_serializer("recommended", "held")
    def _action_json(self, action: RecommendedAction | HeldAction | None) -> dict[str, Any] | None:
        return None if action is None else action.to_dict()


@dataclass(frozen=True)
class CaseState:
    """A case as the monitor knows it: its snapshot, current-support paid by month, decision."""

    snapshot: CaseSnapshot
    paid_current: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    decision: Decision | None = None


class CaseMonitor:
    """Keeps every case's state from its events and reports changes in recommended actions."""

    RULESET = "cspolicy_monitor_events"

    def __init__(self, policy: PolicySet | str | Path) -> None:
        self.fixed = policy if isinstance(policy, PolicySet) else None
        self.versions = None if isinstance(policy, PolicySet) else PolicyVersions(policy)
        self.networks: dict[str, RetePolicy] = {}
        self.cases: dict[str, CaseState] = {}
        with ENGINE_LOCK:
            if not _REGISTERED:
                rules = {
                    f"on_{name}": {"all": [{"m": {"type": name}}], "run": _dispatch} for name in PAYLOADS
                }
                durable_host().register_rulesets({self.RULESET: rules})
                _REGISTERED.append(self.RULESET)

    def snapshot(self, case_id: str) -> CaseSnapshot:
        """The current state of a case (KeyError for a case the monitor has not seen)."""
        return self.cases[case_id].snapshot

    def network(self, day: dt.date) -> RetePolicy:
        """The Rete network of the policy version in force on `day` (compiled once per version)."""
        if self.fixed is not None:
            policy = self.fixed
        else:
            assert self.versions is not None
            policy = self.versions.for_date(day)
        if policy.digest not in self.networks:
            self.networks[policy.digest] = policy.to_rete()
        return self.networks[policy.digest]

    # -- events ----------------------------------------------------------------------------------
    def process(self, data: CaseEvent | dict[str, Any], where: Location | None = None) -> list[Change]:
        """Apply one event; the changes it causes. MonitorError (and no state change) if refused."""
        location = where or Location("<event>")
        event, payload = parse_event(data, location)
        with ENGINE_LOCK:
            _PENDING.append((self, event, payload, location))
            _OUTCOME.clear()
            try:
                message = {"sid": "monitor", "seq": next(_SEQUENCE), "type": event.type}
                durable_host().post(self.RULESET, message)
            finally:
                _PENDING.clear()
            result = _OUTCOME.pop() if _OUTCOME else None
        if isinstance(result, CSPolicyError):
            raise result
        if not isinstance(result, list):  # no rule took the event: a bug, never a silent skip
            raise RuntimeError(f"durable-rules dispatched no action for a {event.type} event")
        return result

    def replay(self, events: Iterable[tuple[Location, Any]]) -> Iterator[Change | MonitorError]:
        """Process located events in order, yielding changes and (not raising) refusals."""
        for location, data in events:
            try:
                yield from self.process(data, location)
            except MonitorError as exc:
                yield exc

    def apply(self, event: CaseEvent, payload: EventPayload, location: Location) -> list[Change]:
        """Run by the durable-rules action for the event's type: new state, decision, changes."""
        state = self.cases.get(event.case_id)
        if state is None and not isinstance(payload, OrderIssued):
            raise MonitorError(
                Problem(
                    Code.UNKNOWN_CASE,
                    f"no case {event.case_id!r}: a case starts with an order_issued event",
                    location,
                ),
                event.case_id,
            )
        if state is not None and event.date < state.snapshot.as_of:
            raise MonitorError(
                Problem(
                    Code.EVENT_INVALID,
                    f"event dated {event.date} is before the case's date {state.snapshot.as_of}; "
                    "events for a case must come in date order",
                    location,
                ),
                event.case_id,
            )
        try:
            new = open_case(event, payload) if state is None else apply_event(state, event, payload)
            decision = self.network(event.date).evaluate(new.snapshot)
        except (ValueError, CSPolicyError) as exc:  # ValueError includes pydantic's errors
            raise MonitorError(
                Problem(Code.EVENT_INVALID, f"event refused: {exc}", location), event.case_id
            ) from None
        self.cases[event.case_id] = CaseState(new.snapshot, new.paid_current, decision)
        return changes(state.decision if state else None, decision)


def _dispatch(c: Any) -> None:
    """The durable-rules action for every event type: apply the pending event, keep the outcome."""
    monitor, event, payload, location = _PENDING[-1]
    try:
        _OUTCOME.append(monitor.apply(event, payload, location))
    except CSPolicyError as exc:  # returned, not raised: an exception here would stall the engine
        _OUTCOME.append(exc)


# -- state transitions ------------------------------------------------------------------------------
def open_case(event: CaseEvent, order: EventPayload) -> CaseState:
    """A new case from its first order."""
    assert isinstance(order, OrderIssued)
    if order.jurisdiction is None:
        raise ValueError("the first order_issued event of a case needs payload.jurisdiction")
    data = {
        "case_id": event.case_id,
        "as_of": event.date,
        "jurisdiction": order.jurisdiction,
        "order": {
            "established_on": event.date,
            "monthly_amount": order.monthly_amount,
            "income_withholding_active": bool(order.income_withholding_active),
        },
        "arrears": order.arrears or Arrears(),
        "public_assistance": order.public_assistance or "never",
    }
    return CaseState(CaseSnapshot.model_validate(data))


def apply_event(state: CaseState, event: CaseEvent, payload: EventPayload) -> CaseState:
    """The case after `event` (the old state is left untouched)."""
    state = advance(state, event.date)
    case = state.snapshot
    parent = case.paying_parent
    paid = dict(state.paid_current)
    if isinstance(payload, OrderIssued):
        if payload.arrears is not None:
            raise ValueError("payload.arrears (opening balances) is only allowed on a new case")
        order = case.order.model_copy(
            update={
                "established_on": event.date,
                "monthly_amount": payload.monthly_amount,
                "income_withholding_active": _keep(
                    payload.income_withholding_active, case.order.income_withholding_active
                ),
            }
        )
        case = case.model_copy(
            update={
                "order": order,
                "jurisdiction": payload.jurisdiction or case.jurisdiction,
                "public_assistance": payload.public_assistance or case.public_assistance,
            }
        )
    elif isinstance(payload, PaymentPosted):
        case, paid = post_payment(case, paid, event.date, payload)
    elif isinstance(payload, EnforcementRecorded):
        entry = EnforcementEntry(action=payload.action, date=event.date, status=payload.status)
        case = case.model_copy(update={"enforcement": [*case.enforcement, entry]})
    elif isinstance(payload, EmploymentChanged):
        parent = parent.model_copy(
            update={
                "employment": payload.employment,
                "employer_known": _keep(payload.employer_known, parent.employer_known),
            }
        )
        order = case.order.model_copy(
            update={
                "income_withholding_active": _keep(
                    payload.income_withholding_active, case.order.income_withholding_active
                )
            }
        )
        case = case.model_copy(update={"paying_parent": parent, "order": order})
    elif isinstance(payload, ProgramChanged):
        programs = parent.programs.model_copy(update={payload.program: payload.status})
        case = case.model_copy(update={"paying_parent": parent.model_copy(update={"programs": programs})})
    elif isinstance(payload, ParentStatusChanged):
        updates = {name: getattr(payload, name) for name in sorted(payload.model_fields_set)}
        case = case.model_copy(update={"paying_parent": parent.model_copy(update=updates)})
    # Re-validate: model_copy does not, and a bad state must never be kept.
    snapshot = CaseSnapshot.parse(case.model_dump(), source=f"case {event.case_id} after {event.type}")
    return CaseState(snapshot, paid, state.decision)


def _keep(new: bool | None, old: bool) -> bool:
    return old if new is None else new


def advance(state: CaseState, day: dt.date) -> CaseState:
    """Move a case to `day`, turning the unpaid support of every month that ended into arrears."""
    case = state.snapshot
    arrears = case.arrears
    established = (case.order.established_on.year, case.order.established_on.month)
    month = (case.as_of.year, case.as_of.month)
    while _next_month(month) <= (day.year, day.month):
        if month >= established:
            unpaid = max(case.order.monthly_amount - state.paid_current.get(month, ZERO), ZERO)
            if unpaid:
                owed = "state_owed" if case.public_assistance == "current" else "family_owed"
                arrears = arrears.model_copy(update={owed: getattr(arrears, owed) + unpaid})
        month = _next_month(month)
    snapshot = case.model_copy(update={"as_of": day, "arrears": arrears})
    return CaseState(snapshot, state.paid_current, state.decision)


def _next_month(month: tuple[int, int]) -> tuple[int, int]:
    year, number = month
    return (year + 1, 1) if number == 12 else (year, number + 1)


def post_payment(
    case: CaseSnapshot, paid: dict[tuple[int, int], Decimal], day: dt.date, payment: PaymentPosted
) -> tuple[CaseSnapshot, dict[tuple[int, int], Decimal]]:
    arrears = case.arrears
    amount = payment.amount
    if payment.applied_to == "current":
        month = (day.year, day.month)
        room = max(case.order.monthly_amount - paid.get(month, ZERO), ZERO)
        paid[month] = paid.get(month, ZERO) + min(amount, room)
        excess = amount - min(amount, room)
        arrears = arrears.model_copy(update={"family_owed": max(arrears.family_owed - excess, ZERO)})
    elif payment.applied_to == "family_arrears":
        arrears = arrears.model_copy(update={"family_owed": max(arrears.family_owed - amount, ZERO)})
    else:
        state_owed = max(arrears.state_owed - amount, ZERO)
        pre_1996 = min(arrears.state_owed_pre_1996, state_owed)
        arrears = arrears.model_copy(update={"state_owed": state_owed, "state_owed_pre_1996": pre_1996})
    record = Payment(date=day, amount=amount, applied_to=payment.applied_to, source=payment.source)
    return case.model_copy(update={"arrears": arrears, "payments": [*case.payments, record]}), paid


# -- what changed -----------------------------------------------------------------------------------
def changes(before: Decision | None, after: Decision) -> list[Change]:
    """Held, released, no longer recommended, then recommended; each in the policy's order."""
    old_actions = {a.rule: a for a in before.actions} if before else {}
    old_held = {h.rule: h for h in before.held} if before else {}
    new_actions = {a.rule: a for a in after.actions}
    new_held = {h.rule: h for h in after.held}
    base = {"case_id": after.case_id, "date": after.as_of, "policy": after.policy}
    found: list[Change] = []
    for rule, hold in new_held.items():
        if rule not in old_held or old_held[rule].held_by != hold.held_by:
            text = f"held: {hold.title} [{hold.action}] by {hold.held_by!r} — {hold.reason}"
            found.append(_change(base, "held", hold, text, held=hold))
    for rule, hold in old_held.items():
        if rule not in new_held:
            status = after.why_not(rule).text
            found.append(_change(base, "released", hold, f"released from hold: {status}"))
    for rule, action in old_actions.items():
        if rule not in new_actions and rule not in new_held:
            reason = after.why_not(rule).text
            found.append(
                _change(base, "no longer recommended", action, f"no longer recommended: {reason}", action)
            )
    for rule, action in new_actions.items():
        if rule not in old_actions:
            because = "; ".join(t.text for t in action.because if t.part == "when")
            text = f"recommend: {action.title} [{action.action}] — because {because}"
            found.append(_change(base, "recommended", action, text, action))
    return found


def _change(
    base: dict[str, Any],
    kind: ChangeKind,
    item: RecommendedAction | HeldAction,
    text: str,
    recommended: RecommendedAction | None = None,
    held: HeldAction | None = None,
) -> Change:
    line = f"{base['date']} {base['case_id']}: {text}"
    return Change(
        **base,
        change=kind,
        rule=item.rule,
        action=item.action,
        title=item.title,
        text=line,
        recommended=recommended,
        held=held,
    )
