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

A case's state is a snapshot of the schema its policy reads (child-support/v1 or v2), kept with
the current support paid by month and the unpaid installments by due date. Every transition
works on the snapshot's plain data and validates the result against that same schema, so a
bad state is never kept.

Accrual (simple and deterministic; see docs/rete.md):
- the support for a calendar month is the order's `monthly_amount` in force at the month's
  end, and it is due for every month from the month the order was established;
- when a case's date moves past the end of a month, whatever part of that month's support was
  not paid by payments applied to `current` and dated in that month becomes past-due support,
  due on the month's last day: `arrears.state_owed` while the case receives public assistance
  (`current`), else `arrears.family_owed`;
- a payment applied to `current` beyond the month's support reduces `family_owed`; one applied
  to `family_arrears` / `state_arrears` reduces that balance; balances never go below zero
  (`state_owed_pre_1996` never exceeds `state_owed`); what a payment takes off past-due support
  pays the oldest installments first.
Where the schema has them (child-support/v2), the monitor also keeps the facts these events
tell: the ageing of past-due support (`arrears.past_due_over_30_days` / 60 / 90, by due date;
opening balances are aged from the day the case opened, their true age not being in the event),
the due date of the oldest unpaid installment, the date the delinquency was identified (when
past-due support first reaches one month's support; cleared when it is paid off), the date
the parent was located (address or employer first known) and the IV-D opening date (the first
order). Every event moves its case's date to the event's date first (accruing on the way);
events for one case must come in date order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_serializer

from cspolicy.diagnostics import Code, CSPolicyError, Location, Problem
from cspolicy.engine.caseschema import CaseSchema
from cspolicy.engine.decision import Decision, HeldAction, PolicyRef, RecommendedAction
from cspolicy.engine.policy import PolicySet
from cspolicy.engine.snapshot import CaseSnapshot
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
            network = self.network(event.date)
            schema = network.policy.case_schema  # the case is kept in the schema of the version in force
            if state is None:
                new = open_case(event, payload, schema)
            else:
                if type(state.snapshot).case_schema() is not schema:
                    state = restate(state, schema)
                new = apply_event(state, event, payload)
            decision = network.evaluate(new.snapshot)
        except (ValueError, CSPolicyError) as exc:  # ValueError includes pydantic's errors
            raise MonitorError(
                Problem(Code.EVENT_INVALID, f"event refused: {exc}", location), event.case_id
            ) from None
        self.cases[event.case_id] = dataclasses.replace(new, decision=decision)
        return changes(state.decision if state else None, decision)


def _dispatch(c: Any) -> None:
    """The durable-rules action for every event type: apply the pending event, keep the outcome."""
    monitor, event, payload, location = _PENDING[-1]
    try:
        _OUTCOME.append(monitor.apply(event, payload, location))
    except CSPolicyError as exc:  # returned, not raised: an exception here would stall the engine
        _OUTCOME.append(exc)


# -- state transitions (what each event does to a case) -------------------------------------
ZERO = Decimal("0")
AGES = (30, 60, 90)  # arrears.past_due_over_<N>_days
Installment = tuple[dt.date, Decimal]  # an unpaid installment: due date, amount still owed


@dataclass(frozen=True)
class CaseState:
    """A case as the monitor knows it: its snapshot, current support paid by month, the unpaid
    installments (oldest first), and its last decision."""

    snapshot: CaseSnapshot
    paid_current: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    decision: Any = None  # the Decision of `snapshot`
    unpaid: tuple[Installment, ...] = ()


def open_case(event: CaseEvent, order: EventPayload, schema: CaseSchema) -> CaseState:
    """A new case from its first order, as a snapshot of `schema`."""
    assert isinstance(order, OrderIssued)
    if order.jurisdiction is None:
        raise ValueError("the first order_issued event of a case needs payload.jurisdiction")
    arrears = order.arrears.model_dump() if order.arrears is not None else {}
    data: dict[str, Any] = {
        "case_id": event.case_id,
        "as_of": event.date,
        "jurisdiction": order.jurisdiction.model_dump(),
        "order": {
            "established_on": event.date,
            "monthly_amount": order.monthly_amount,
            "income_withholding_active": bool(order.income_withholding_active),
        },
        "arrears": arrears,
        "public_assistance": order.public_assistance or "never",
    }
    opening = sum((Decimal(arrears.get(k) or 0) for k in ("family_owed", "state_owed")), ZERO)
    unpaid = ((event.date, opening),) if opening else ()
    if "ivd.opened_on" in schema.leaves:
        data["ivd"] = {"opened_on": event.date}
    return _state(data, schema, {}, None, unpaid, f"case {event.case_id}")


def apply_event(state: CaseState, event: CaseEvent, payload: EventPayload) -> CaseState:
    """The case after `event` (the old state is left untouched)."""
    schema = type(state.snapshot).case_schema()
    state = advance(state, event.date)
    data = state.snapshot.model_dump()
    parent, order = data["paying_parent"], data["order"]
    paid = dict(state.paid_current)
    unpaid = state.unpaid
    if isinstance(payload, OrderIssued):
        if payload.arrears is not None:
            raise ValueError("payload.arrears (opening balances) is only allowed on a new case")
        order["established_on"] = event.date
        order["monthly_amount"] = payload.monthly_amount
        order["income_withholding_active"] = _keep(
            payload.income_withholding_active, order["income_withholding_active"]
        )
        if payload.jurisdiction is not None:
            data["jurisdiction"] = payload.jurisdiction.model_dump()
        data["public_assistance"] = payload.public_assistance or data["public_assistance"]
    elif isinstance(payload, PaymentPosted):
        unpaid = post_payment(data, paid, unpaid, event.date, payload)
    elif isinstance(payload, EnforcementRecorded):
        entry = {"action": payload.action, "date": event.date, "status": payload.status}
        data["enforcement"] = [*data["enforcement"], entry]
    elif isinstance(payload, EmploymentChanged):
        parent["employment"] = payload.employment
        parent["employer_known"] = _keep(payload.employer_known, parent["employer_known"])
        order["income_withholding_active"] = _keep(
            payload.income_withholding_active, order["income_withholding_active"]
        )
    elif isinstance(payload, ProgramChanged):
        parent["programs"][payload.program] = payload.status
    elif isinstance(payload, ParentStatusChanged):
        for name in sorted(payload.model_fields_set):
            value = getattr(payload, name)
            parent[name] = [v.model_dump() for v in value] if name == "licenses" and value else value
    located = parent["address_known"] or parent["employer_known"]
    if located and "paying_parent.located_on" in schema.leaves and parent.get("located_on") is None:
        parent["located_on"] = event.date  # whereabouts or employer first known
    return _state(data, schema, paid, state.decision, unpaid, f"case {event.case_id} after {event.type}")


def restate(state: CaseState, schema: CaseSchema) -> CaseState:
    """The case as a snapshot of `schema` (the policy version in force reads another schema;
    child-support/v2 extends v1, so every v1 value is kept and the v2 facts are added)."""
    data = state.snapshot.model_dump()
    source = f"case {state.snapshot.case_id} in {schema.name}"
    return _state(data, schema, state.paid_current, state.decision, state.unpaid, source)


def _keep(new: bool | None, old: bool) -> bool:
    return old if new is None else new


def advance(state: CaseState, day: dt.date) -> CaseState:
    """Move a case to `day`, turning the unpaid support of every month that ended into arrears."""
    case = state.snapshot
    data = case.model_dump()
    arrears = data["arrears"]
    unpaid = list(state.unpaid)
    established = (case.order.established_on.year, case.order.established_on.month)
    month = (case.as_of.year, case.as_of.month)
    while _next_month(month) <= (day.year, day.month):
        if month >= established:
            short = max(case.order.monthly_amount - state.paid_current.get(month, ZERO), ZERO)
            if short:
                owed = "state_owed" if case.public_assistance == "current" else "family_owed"
                arrears[owed] += short
                unpaid.append((_next_month_start(month) - dt.timedelta(days=1), short))
        month = _next_month(month)
    data["as_of"] = day
    source = f"case {case.case_id} on {day}"
    return _state(data, type(case).case_schema(), state.paid_current, state.decision, tuple(unpaid), source)


def _next_month(month: tuple[int, int]) -> tuple[int, int]:
    year, number = month
    return (year + 1, 1) if number == 12 else (year, number + 1)


def _next_month_start(month: tuple[int, int]) -> dt.date:
    year, number = _next_month(month)
    return dt.date(year, number, 1)


def post_payment(
    data: dict[str, Any],
    paid: dict[tuple[int, int], Decimal],
    unpaid: tuple[Installment, ...],
    day: dt.date,
    payment: PaymentPosted,
) -> tuple[Installment, ...]:
    """Apply a payment to the case data and `paid` (in place); the installments still unpaid."""
    arrears = data["arrears"]
    before = arrears["family_owed"] + arrears["state_owed"]
    amount = payment.amount
    if payment.applied_to == "current":
        month = (day.year, day.month)
        room = max(data["order"]["monthly_amount"] - paid.get(month, ZERO), ZERO)
        paid[month] = paid.get(month, ZERO) + min(amount, room)
        excess = amount - min(amount, room)
        arrears["family_owed"] = max(arrears["family_owed"] - excess, ZERO)
    elif payment.applied_to == "family_arrears":
        arrears["family_owed"] = max(arrears["family_owed"] - amount, ZERO)
    else:
        arrears["state_owed"] = max(arrears["state_owed"] - amount, ZERO)
        arrears["state_owed_pre_1996"] = min(arrears["state_owed_pre_1996"], arrears["state_owed"])
    record = {"date": day, "amount": amount, "applied_to": payment.applied_to, "source": payment.source}
    data["payments"] = [*data["payments"], record]
    return _pay_oldest(unpaid, before - arrears["family_owed"] - arrears["state_owed"])


def _pay_oldest(unpaid: tuple[Installment, ...], amount: Decimal) -> tuple[Installment, ...]:
    left: list[Installment] = []
    for due, owed in unpaid:
        taken = min(owed, amount)
        amount -= taken
        if owed - taken:
            left.append((due, owed - taken))
    return tuple(left)


def _state(
    data: dict[str, Any],
    schema: CaseSchema,
    paid: dict[tuple[int, int], Decimal],
    decision: Any,
    unpaid: tuple[Installment, ...],
    source: str,
) -> CaseState:
    """Validate the new case data (with the facts the schema keeps about arrears) as a state."""
    arrears = data["arrears"]
    total = arrears.get("family_owed", ZERO) + arrears.get("state_owed", ZERO)  # a new case may give none
    surplus = sum((owed for _, owed in unpaid), ZERO) - total
    if surplus > 0:  # never more installments than past-due support
        unpaid = _pay_oldest(unpaid, surplus)
    as_of: dt.date = data["as_of"]
    leaves = schema.leaves
    for days in AGES:
        if f"arrears.past_due_over_{days}_days" in leaves:
            arrears[f"past_due_over_{days}_days"] = sum(
                (owed for due, owed in unpaid if (as_of - due).days > days), ZERO
            )
    if "arrears.oldest_unpaid_due_on" in leaves:
        arrears["oldest_unpaid_due_on"] = unpaid[0][0] if unpaid else None
    if "arrears.delinquency_identified_on" in leaves:
        monthly = data["order"]["monthly_amount"]
        if not total:
            arrears["delinquency_identified_on"] = None  # paid off: a new delinquency starts anew
        elif arrears.get("delinquency_identified_on") is None and monthly and total >= monthly:
            arrears["delinquency_identified_on"] = as_of
    snapshot = CaseSnapshot.parse(data, source=source, schema=schema)
    return CaseState(snapshot, paid, decision, unpaid)


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
