"""The case monitor: a year of events in, exactly the expected changes out."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cspolicy import load_policy
from cspolicy.cli import main
from cspolicy.diagnostics import Code, Location

pytest.importorskip("durable.engine")

from cspolicy.rete.events import MonitorError
from cspolicy.rete.monitor import CaseMonitor, Change

from helpers import FIXTURES, ROOT

MONITOR = FIXTURES / "rete" / "monitor"
EVENTS = MONITOR / "events.jsonl"


def located(path: Path) -> list[tuple[Location, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(Location(str(path), n, 1), json.loads(line)) for n, line in enumerate(lines, start=1) if line]


def summary(item: Change | MonitorError) -> tuple[str, ...]:
    if isinstance(item, MonitorError):
        return ("refused", str(item.problem.location.line), item.problem.code.value)
    return (item.date.isoformat(), item.case_id, item.change, item.rule)


# The year of tests/fixtures/rete/monitor/events.jsonl: WI-A pays twice then stops, gets the
# notice after 31+ days without payment, crosses $500 (offset), loses the job, enrols in E&T
# (license suspension held), leaves E&T (released) and goes back to work; WI-B pays by
# withholding every month and never changes; WI-C opens with arrears, clears them, falls behind
# on public-assistance support (state-owed arrears). Three events are refused along the way.
EXPECTED = [
    ("2024-02-01", "WI-C", "recommended", "delinquency-notice"),
    ("2024-02-10", "WI-C", "no longer recommended", "delinquency-notice"),
    ("refused", "15", "CSP507"),  # payment for a case that was never opened
    ("2024-04-01", "WI-A", "recommended", "delinquency-notice"),  # 47 days since the last payment
    ("2024-04-03", "WI-A", "no longer recommended", "delinquency-notice"),  # the notice went out
    ("refused", "27", "CSP506"),  # a negative payment
    ("2024-06-01", "WI-A", "recommended", "offset-referral"),  # $600 past due > $500
    ("2024-06-01", "WI-A", "recommended", "license-suspension"),  # three months behind
    ("2024-06-01", "WI-C", "recommended", "delinquency-notice"),
    ("2024-06-03", "WI-C", "no longer recommended", "delinquency-notice"),
    ("2024-06-05", "WI-A", "recommended", "employment-referral"),
    ("2024-06-10", "WI-A", "held", "license-suspension"),  # enrolled in E&T
    ("2024-06-10", "WI-A", "no longer recommended", "employment-referral"),
    ("2024-06-20", "WI-A", "no longer recommended", "offset-referral"),
    ("2024-07-01", "WI-C", "recommended", "offset-referral"),
    ("refused", "40", "CSP506"),  # a payment plan status that does not exist
    ("2024-08-01", "WI-C", "recommended", "license-suspension"),
    ("2024-09-15", "WI-A", "released", "license-suspension"),  # left E&T
    ("2024-09-15", "WI-A", "recommended", "license-suspension"),
    ("2024-09-15", "WI-A", "recommended", "employment-referral"),
    ("2024-10-01", "WI-A", "no longer recommended", "employment-referral"),
    ("2024-10-02", "WI-A", "no longer recommended", "license-suspension"),
    ("refused", "69", "CSP506"),  # dated before the case's last event
]


def test_a_year_of_events_gives_exactly_the_expected_changes() -> None:
    monitor = CaseMonitor(load_policy(MONITOR))
    assert [summary(item) for item in monitor.replay(located(EVENTS))] == EXPECTED
    # Accrual: WI-A missed March–November at $200 (December is not over on the 31st); WI-C
    # missed May–November at $400 on public assistance (state-owed), after paying off its
    # opening $450 family arrears.
    assert monitor.snapshot("WI-A").arrears.family_owed == Decimal("1800.00")
    assert monitor.snapshot("WI-C").arrears.state_owed == Decimal("2800.00")
    assert monitor.snapshot("WI-C").arrears.family_owed == Decimal("0")
    assert monitor.snapshot("WI-B").arrears.family_owed == 0
    assert monitor.snapshot("WI-B").as_of == dt.date(2024, 12, 31)


def test_changes_carry_the_same_explanation_and_citations_as_evaluate() -> None:
    policy = load_policy(MONITOR)
    monitor = CaseMonitor(policy)
    checked = 0
    for location, event in located(EVENTS):
        try:
            changes = monitor.process(event, location)
        except MonitorError:
            continue
        for change in changes:
            decision = policy.evaluate(monitor.snapshot(change.case_id))
            if change.change == "recommended":
                expected = next(a for a in decision.actions if a.rule == change.rule)
                assert change.recommended == expected
                assert change.recommended.citations and change.recommended.because
                checked += 1
            elif change.change == "held":
                assert change.held == next(h for h in decision.held if h.rule == change.rule)
                checked += 1
    assert checked == 11  # ten recommendations and one hold


def test_refused_events_change_nothing() -> None:
    monitor = CaseMonitor(load_policy(MONITOR))
    events = located(EVENTS)
    for location, event in events[:20]:
        with contextlib.suppress(MonitorError):
            monitor.process(event, location)
    before = {case: (state.snapshot, state.decision) for case, state in monitor.cases.items()}
    bad = [
        {"type": "payment_posted", "case_id": "WI-A", "date": "2024-03-20", "payload": {"amount": "x"}},
        {"type": "payment_posted", "case_id": "WI-A", "date": "2024-03-20", "payload": {"amout": "5"}},
        {"type": "teleported", "case_id": "WI-A", "date": "2024-03-20"},
        {"type": "date_advanced", "case_id": "WI-A", "date": "2024-01-01"},  # goes back in time
        {"type": "order_issued", "case_id": "WI-Q", "date": "2024-03-20", "payload": {"monthly_amount": "5"}},
        {
            "type": "order_issued",
            "case_id": "TX-1",
            "date": "2024-03-20",
            "payload": {"monthly_amount": "5", "jurisdiction": {"state": "TX"}},
        },
        {"type": "date_advanced", "case_id": "", "date": "2024-03-20"},
        ["not", "an", "object"],
    ]
    messages = []
    for event in bad:
        with pytest.raises(MonitorError) as refused:
            monitor.process(event, Location("bad.jsonl", 7, 1))  # type: ignore[arg-type]
        assert str(refused.value.problem.location) == "bad.jsonl:7:1"
        messages.append(refused.value.problem.message)
    assert "payload.amount" in messages[0] and "payload.amout: unknown field" in messages[1]
    assert "type" in messages[2] and "date order" in messages[3]
    assert "needs payload.jurisdiction" in messages[4] and "applies to WI cases" in messages[5]
    assert {case: (s.snapshot, s.decision) for case, s in monitor.cases.items()} == before
    assert "WI-Q" not in monitor.cases and "TX-1" not in monitor.cases


def test_accrual_and_payment_rules() -> None:
    monitor = CaseMonitor(load_policy(MONITOR))

    def event(kind: str, day: str, **payload: Any) -> list[Change]:
        return monitor.process({"type": kind, "case_id": "A-1", "date": day, "payload": payload})

    event("order_issued", "2024-01-31", monthly_amount="100", jurisdiction={"state": "WI"})
    event("payment_posted", "2024-02-05", amount="30")  # January was due: $100 unpaid
    assert monitor.snapshot("A-1").arrears.family_owed == Decimal("100")
    event("payment_posted", "2024-02-06", amount="120")  # $70 completes February, $50 pays arrears
    assert monitor.snapshot("A-1").arrears.family_owed == Decimal("50")
    event("date_advanced", "2024-04-15")  # February paid in full; March missed
    assert monitor.snapshot("A-1").arrears.family_owed == Decimal("150")
    event("order_issued", "2024-04-20", monthly_amount="40", public_assistance="current")
    event("payment_posted", "2024-04-21", amount="500", applied_to="family_arrears")
    assert monitor.snapshot("A-1").arrears.family_owed == Decimal("0")  # never below zero
    event("date_advanced", "2024-06-01")  # April and May at the new $40, owed to the state
    arrears = monitor.snapshot("A-1").arrears
    assert (arrears.family_owed, arrears.state_owed) == (Decimal("0"), Decimal("80"))
    assert len(monitor.snapshot("A-1").payments) == 3


def test_a_year_against_the_shipped_wisconsin_policy() -> None:
    # The shipped Wisconsin set reads child-support/v2: the monitor keeps each case in that
    # schema, with the facts the events tell (e.g. the support more than 30 days past due).
    monitor = CaseMonitor(ROOT / "policies" / "wisconsin")
    items = list(monitor.replay(located(ROOT / "examples" / "events.jsonl")))
    assert not [item for item in items if isinstance(item, MonitorError)]
    changes = [item for item in items if isinstance(item, Change)]
    seen = {(c.case_id, c.change, c.action) for c in changes}
    assert ("WI-EX-1", "recommended", "send_delinquency_notice") in seen
    # Offsets read the support more than 30 days past due, which only the monitor's ageing of
    # the missed months gives: $300 on 2024-09-01 (July's installment, due July 31).
    assert ("WI-EX-1", "recommended", "refer_administrative_offset") in seen
    assert ("WI-EX-1", "recommended", "refer_state_tax_offset") in seen
    # Federal offset: DCF certifies arrears minus one month's support, $300 < $500 on 2024-09-01;
    # the caseworker referred on 2024-09-05 anyway, so it is never recommended in this delinquency.
    assert ("WI-EX-1", "recommended", "refer_federal_tax_offset") not in seen
    assert "has been done" in monitor.cases["WI-EX-1"].decision.why_not("federal-tax-offset").text
    case = monitor.snapshot("WI-EX-1")
    assert case.arrears.past_due_over_30_days == Decimal("3000.00")  # June 2025 is not over
    assert case.arrears.delinquency_identified_on == dt.date(2024, 8, 1)  # July's support missed
    assert case.paying_parent.located_on == dt.date(2024, 6, 3)  # the address, known from the start
    assert ("WI-EX-1", "held", "initiate_license_suspension") in seen
    assert ("WI-EX-1", "released", "initiate_license_suspension") in seen
    held = next(c for c in changes if c.change == "held")
    assert held.held is not None and held.held.held_by == "employment-training-engagement-hold"
    # The version in force follows the events' dates across the 2025-01-13 change.
    assert {c.policy.version for c in changes} == {"2024.1", "2025.1"}
    assert not [c for c in changes if c.case_id == "WI-EX-2"]


def test_child_support_v2_facts_are_kept_from_the_events() -> None:
    """Under a child-support/v2 policy the case is a v2 snapshot: arrears aged by due date and
    paid oldest first, the delinquency dated (and cleared when paid off), the parent located."""
    monitor = CaseMonitor(ROOT / "policies" / "wisconsin")

    def event(kind: str, day: str, **payload: Any) -> Any:
        monitor.process({"type": kind, "case_id": "V-1", "date": day, "payload": payload})
        return monitor.snapshot("V-1")

    opening = {"family_owed": "50"}
    case = event(
        "order_issued", "2025-01-10", monthly_amount="100", jurisdiction={"state": "WI"}, arrears=opening
    )
    assert type(case).case_schema().version == "2" and case.ivd.opened_on == dt.date(2025, 1, 10)
    assert case.arrears.oldest_unpaid_due_on == dt.date(2025, 1, 10)  # opening balance: aged from opening
    assert case.arrears.delinquency_identified_on is None and case.paying_parent.located_on is None
    case = event("date_advanced", "2025-04-15")  # January, February, March missed: $300 more
    assert case.arrears.family_owed == Decimal("350")
    assert case.arrears.delinquency_identified_on == dt.date(2025, 4, 15)
    # due 01-10 ($50), 01-31, 02-28 ($100 each) are more than 30 days past due; 03-31 is not
    assert case.arrears.past_due_over_30_days == Decimal("250")
    assert case.arrears.past_due_over_60_days == Decimal("150")  # 01-10 and 01-31
    case = event("payment_posted", "2025-04-16", amount="120", applied_to="family_arrears")
    assert case.arrears.oldest_unpaid_due_on == dt.date(2025, 1, 31)  # $50, then $70 of January's
    assert case.arrears.past_due_over_30_days == Decimal("130")  # $30 of January + February
    case = event("employment_changed", "2025-04-20", employment="employed", employer_known=True)
    assert case.paying_parent.located_on == dt.date(2025, 4, 20)
    case = event("payment_posted", "2025-04-21", amount="1000", applied_to="family_arrears")
    assert case.arrears.family_owed == 0 and case.arrears.delinquency_identified_on is None
    assert case.arrears.oldest_unpaid_due_on is None and case.arrears.past_due_over_30_days == 0


def test_a_case_moves_to_the_schema_of_the_version_in_force() -> None:
    """A case kept under a child-support/v1 policy, re-read when a v2 version takes over: every
    v1 value kept, the v2 facts added from what the monitor knows."""
    from cspolicy.engine.caseschema import case_schema
    from cspolicy.rete.monitor import restate

    monitor = CaseMonitor(load_policy(MONITOR))  # child-support/v1
    order = {"monthly_amount": "100", "jurisdiction": {"state": "WI"}}
    monitor.process({"type": "order_issued", "case_id": "M-1", "date": "2024-01-05", "payload": order})
    monitor.process({"type": "date_advanced", "case_id": "M-1", "date": "2024-04-02"})
    old = monitor.cases["M-1"]
    assert type(old.snapshot).case_schema().version == "1" and len(old.unpaid) == 3
    new = restate(old, case_schema("child-support/v2"))
    before, after = old.snapshot.facts(), new.snapshot.facts()
    assert all(after[path] == before[path] for path in type(old.snapshot).case_schema().leaves)
    assert new.snapshot.arrears.past_due_over_30_days == Decimal("200")  # January and February
    assert new.snapshot.arrears.oldest_unpaid_due_on == dt.date(2024, 1, 31)


def test_cli_prints_changes_and_reports_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    lines = EVENTS.read_text(encoding="utf-8").splitlines()
    events.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n", encoding="utf-8")
    assert main(["monitor", str(events), "--policy", str(MONITOR), "--format", "json"]) == 1
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [(r["date"], r["case_id"], r["change"], r["rule"]) for r in records] == [
        e for e in EXPECTED if e[0] != "refused"
    ]
    assert records[0]["recommended"]["citations"][0]["source"] == "test-law"
    assert f"{events}:2:2: not valid JSON" in captured.err
    assert f"{events}:16:1: no case 'WI-Z'" in captured.err
    assert main(["monitor", str(EVENTS), "--policy", str(MONITOR)]) == 1
    text = capsys.readouterr().out
    assert "2024-06-10 WI-A: held: Start license suspension [initiate_license_suspension]" in text
    assert main(["monitor", str(tmp_path / "missing.jsonl"), "--policy", str(MONITOR)]) == 1
    assert Code.FILE_NOT_FOUND.value in capsys.readouterr().err


def test_the_notice_comes_on_day_31_without_payment() -> None:
    monitor = CaseMonitor(load_policy(MONITOR))
    opening = {"family_owed": "250.00"}
    order = {"monthly_amount": "100", "jurisdiction": {"state": "WI"}, "arrears": opening}
    assert monitor.process({"type": "order_issued", "case_id": "N-1", "date": "2024-03-02", "payload": order})
    monitor.process({"type": "enforcement_recorded", "case_id": "N-1", "date": "2024-03-02",
                     "payload": {"action": "send_delinquency_notice", "status": "cancelled"}})  # fmt: skip
    paid = {"type": "payment_posted", "case_id": "N-1", "date": "2024-03-05", "payload": {"amount": "100"}}
    changes = monitor.process(paid)
    assert [(c.change, c.rule) for c in changes] == [("no longer recommended", "delinquency-notice")]
    day_30 = {"type": "date_advanced", "case_id": "N-1", "date": "2024-04-04"}
    assert monitor.process(day_30) == []
    day_31 = {"type": "date_advanced", "case_id": "N-1", "date": "2024-04-05"}
    notice = monitor.process(day_31)
    assert [(c.change, c.rule) for c in notice] == [("recommended", "delinquency-notice")]
    assert "the days since the last payment (31)" in notice[0].text
