"""The vectorized caseload evaluator agrees exactly with `PolicySet.evaluate` on child-support/v2 snapshots.

Every shipped policy set reads child-support/v2, so this is the differential test of the shipped
rules: seeded synthetic v2 snapshots (`generate(..., schema="child-support/v2")`) with amounts on
the $25/$100/$150/$500/$505/$1,000/$2,500 thresholds and a cent either side, dates on the
30/60/90/120/180-day clocks and a day either side, snapshots dated on the policy's parameter
changes and version starts, household incomes on 70% of a county median, counties the median
table lacks (the missing-key error), null optional facts, and escalation histories. Each set's
table is decided both ways; decisions (action, rule, status, held_by, waiting_for, priority, due
dates, outputs) and error rows (reasons too) must be identical, and every rule must both
recommend (a hold: hold) in some case and not in another, so the test cannot pass on a caseload
that never reaches a rule; the only exceptions are the rules in UNREACHABLE, which must then
never recommend.

Size: ROWS snapshots per set (2,500; 25,000 over the ten sets). The reference evaluator costs
about 1-2 ms a case on the shared 2 cores, so 10,000 a set takes about five minutes; 2,500 a set
runs in 25-40 s and still reaches every rule. CSPOLICY_FUZZ_FACTOR=4 runs 10,000 a set.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal

import polars as pl
import pytest

from cspolicy import load_policy
from cspolicy.caseload.batch import plan_for
from cspolicy.caseload.checks import check_table
from cspolicy.caseload.reference import evaluate_reference
from cspolicy.caseload.synthetic import ACTIONS, CA_MEDIAN_CENTS, COUNTIES_V2, generate
from cspolicy.caseload.tables import layout_for
from cspolicy.engine.caseschema import case_schema
from cspolicy.engine.policy import PolicySet

from helpers import ROOT

POLICIES = ROOT / "policies"
V2 = "child-support/v2"
ROWS = int(2500 * float(os.environ.get("CSPOLICY_FUZZ_FACTOR", "1")))

# (policy path, as_of that picks the version, first day of generated snapshots, days, states)
SHIPPED = [
    ("federal", None, dt.date(2024, 6, 1), 540, ("WI", "CA", "TX")),
    ("wisconsin", "2024-06-01", dt.date(2023, 12, 1), 420, ("WI", "WI", "WI", "CA")),
    ("wisconsin", "2025-06-01", dt.date(2025, 1, 1), 420, ("WI", "WI", "WI", "CA")),
    ("milwaukee-back-on-track", "2024-09-01", dt.date(2024, 7, 15), 200, ("WI",)),
    ("milwaukee-back-on-track", "2025-06-01", dt.date(2025, 1, 1), 420, ("WI",)),
    ("california", None, dt.date(2024, 12, 1), 800, ("CA", "CA", "CA", "WI")),
    ("san-bernardino", None, dt.date(2024, 12, 1), 800, ("CA", "CA", "CA", "WI")),
    ("reforms/ca-full-pass-through", None, dt.date(2026, 12, 1), 420, ("CA", "CA", "CA", "WI")),
    ("reforms/ca-good-cause-flex", None, dt.date(2026, 12, 1), 420, ("CA", "CA", "CA", "WI")),
    ("reforms/ca-in-kind-credit", None, dt.date(2026, 12, 1), 420, ("CA", "CA", "CA", "WI")),
]
IDS = [f"{name}@{as_of}" for name, as_of, *_ in SHIPPED]
# Rules no case decided by that version can reach, and why (each must indeed never recommend).
UNREACHABLE = {
    "wisconsin@2024-06-01": {
        "employment-training-referral": "the federal rule needs params.et_ffp_available, false until"
        " 2025-01-13, the day Wisconsin 2024.1 ends",
    },
}
# The vectorized plan starts a jurisdiction or version error with its code, the reference with the
# policy file (no line: the whole policy); the message after it must match.
WHOLE_POLICY = re.compile(r"^(CSP\d+|\S+\.yaml): ")


def pivots(policy: PolicySet, start: dt.date, days: int) -> list[dt.date]:
    """The policy's version start and end and its parameters' value changes within the window."""
    end = start + dt.timedelta(days=days)
    dates = {policy.effective_from, policy.effective_to}
    dates |= {d for p in policy.compiled.parameters.values() for v in p.values for d in (v.start, v.end)}
    return sorted(d for d in dates if d is not None and start <= d < end)


def reasons(errors: pl.DataFrame) -> list[tuple[int, str]]:
    """Error rows with their reasons, less a whole-policy error's prefix (code or policy file)."""
    return [
        (number, WHOLE_POLICY.sub("", reason))
        for number, reason in errors.select("row_number", "reason").iter_rows()
    ]


def assert_same(policy: PolicySet, table: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Decide `table` both ways; require identical decisions and error rows. Returns the
    reference decisions and errors."""
    plan = plan_for(policy)
    assert plan is not None, f"{policy.id} should run vectorized"
    valid = check_table(table, layout=layout_for(policy.case_schema)).valid
    assert valid.height == table.height, "generated rows are all valid v2 snapshots"
    fast = plan.evaluate(valid)
    reference = evaluate_reference(policy, valid)
    assert reasons(fast.errors) == reasons(reference.errors)
    fast_rows = fast.decisions.to_dicts()
    reference_rows = reference.decisions.to_dicts()
    assert len(fast_rows) == len(reference_rows)
    for fast_row, reference_row in zip(fast_rows, reference_rows, strict=True):
        differences = {
            key: (fast_row.get(key), reference_row.get(key))
            for key in fast_row.keys() | reference_row.keys()
            if fast_row.get(key) != reference_row.get(key)
        }
        assert not differences, f"row {fast_row['row_number']} rule {fast_row['rule']}: {differences}"
    return reference.decisions, reference.errors


def coverage_gaps(policy: PolicySet, decisions: pl.DataFrame, decided: int) -> dict[str, str]:
    """Rules that never recommend or recommend in every decided case (holds: never hold, or
    never leave a rule they hold free to recommend)."""
    recommended = decisions.filter(pl.col("status") == "recommended")
    cases = dict(recommended.group_by("rule").agg(pl.col("row_number").n_unique()).iter_rows())
    holding = set(decisions.get_column("held_by").drop_nulls())
    gaps: dict[str, str] = {}
    for rule_id in policy.order:
        rule = policy.compiled.rules[rule_id].rule
        if rule.kind == "hold":
            if rule_id not in holding:
                gaps[rule_id] = "never holds"
            elif not any(cases.get(held) for held in rule.holds):
                gaps[rule_id] = "never leaves a rule it holds free"
        elif not cases.get(rule_id):
            gaps[rule_id] = "never recommends"
        elif cases[rule_id] >= decided:
            gaps[rule_id] = "recommends in every case"
    return gaps


@pytest.mark.parametrize(("name", "as_of", "start", "days", "states"), SHIPPED, ids=IDS)
def test_shipped_policy_agrees_with_reference_on_v2(
    name: str, as_of: str | None, start: dt.date, days: int, states: tuple[str, ...]
) -> None:
    policy = load_policy(POLICIES / name, as_of)
    assert (policy.case_schema.id, policy.case_schema.version) == ("child-support", "2")
    actions = sorted({r.rule.action for r in policy.compiled.rules.values() if r.rule.action} | set(ACTIONS))
    when = pivots(policy, start, days)
    seed = 100 + IDS.index(f"{name}@{as_of}")
    table = generate(ROWS, seed, start, days, states, schema=V2, pivots=when, actions=actions)
    decisions, errors = assert_same(policy, table)
    decided = ROWS - errors.height
    assert decided > ROWS // 2, "error rows (wrong state, before the version) stay a minority"
    expected = {rule: "never recommends" for rule in UNREACHABLE.get(f"{name}@{as_of}", {})}
    assert coverage_gaps(policy, decisions, decided) == expected
    assert set(decisions.get_column("status")) >= {"recommended", "held"}
    if policy.compiled.parameters.get("ca_county_median_income"):
        missing = errors.get_column("reason").str.contains("'ca_county_median_income' has no entry for")
        assert missing.sum() > 0, "a county missing from the median-income table is an error row"


def test_generated_v2_snapshots_cover_the_edges() -> None:
    change = dt.date(2025, 4, 23)
    table = generate(
        5000, seed=7, start=dt.date(2025, 1, 1), days=400, states=("CA", "WI"), schema=V2, pivots=[change]
    )
    layout = layout_for(case_schema(V2))
    assert table.columns == list(layout.dtypes)
    assert check_table(table, layout=layout).valid.height == table.height
    as_of = pl.col("as_of")
    assert (
        table.filter(as_of.is_between(change - dt.timedelta(days=1), change + dt.timedelta(days=1))).height
        > 500
    )
    # every optional fact is sometimes absent (null, never a stand-in value) and sometimes present
    for name, column in layout.scalars.items():
        if not column.required and column.default is None:
            values = table.get_column(name)
            assert 0 < values.null_count() < table.height, name
    dates = [name for name, column in layout.scalars.items() if column.kind == "date"]
    assert table.select(pl.min_horizontal(pl.col(dates).min())).item() > dt.date(2010, 1, 1)
    money = [name for name, column in layout.scalars.items() if column.kind == "money"]
    assert table.select(pl.min_horizontal(pl.col(money).min())).item() >= 0
    # consistent facts: principal within what is owed, older arrears within younger, decisions after
    # requests, closure dates only on closed cases
    col = pl.col
    for inner, outer in [
        ("arrears.support_family_owed", "arrears.family_owed"),
        ("arrears.support_state_owed", "arrears.state_owed"),
        ("arrears.past_due_over_90_days", "arrears.past_due_over_60_days"),
        ("arrears.past_due_over_60_days", "arrears.past_due_over_30_days"),
        ("paying_parent.hearing_requested_on", "paying_parent.hearing_decided_on"),
    ]:
        assert table.filter(col(inner) > col(outer)).height == 0, (inner, outer)
    assert table.filter(col("ivd.closed_on").is_not_null() & (col("ivd.services") != "closed")).height == 0
    # amounts on the thresholds and a cent either side; dates on the clocks and a day either side
    for column, amounts in {
        "arrears.past_due_over_30_days": ("24.99", "25", "25.01", "149.99", "150", "150.01", "500"),
        "arrears.past_due_over_60_days": ("99.99", "100", "100.01"),
        "paying_parent.accounts_total_balance": ("504.99", "505", "505.01"),
    }.items():
        present = set(table.get_column(column).drop_nulls())
        assert {Decimal(a) for a in amounts} <= present, column
    for column in ("arrears.delinquency_identified_on", "paying_parent.located_on"):
        ago = set(table.select((as_of - pl.col(column)).dt.total_days()).to_series().drop_nulls())
        assert {29, 30, 31, 59, 60, 61, 89, 90, 91} <= ago, column
    # household incomes on 70% of the median of the county the low-income test reads
    county = pl.coalesce("paying_parent.residence_county", "jurisdiction.county")
    limit = county.replace_strict(CA_MEDIAN_CENTS, default=None, return_dtype=pl.Int64) * 70 // 100
    cents = (pl.col("paying_parent.household_income_annual") * 100).cast(pl.Int64)
    on_limit = table.filter(cents == limit)
    assert on_limit.height > 50 and table.filter(cents == limit + 1).height > 50
    assert on_limit.select(county.n_unique()).item() >= 4
    lacking = set(COUNTIES_V2["CA"]) - set(CA_MEDIAN_CENTS)
    assert table.filter(county.is_in(list(lacking))).height > 100, "counties the median table lacks"
    # escalation histories: a letter, the ability-to-pay screen and a contempt referral together
    actions = pl.col("enforcement").list.eval(pl.element().struct.field("action"))
    ladder = table.filter(
        actions.list.contains("send_delinquency_notice")
        & actions.list.contains("screen_ability_to_pay")
        & actions.list.contains("refer_for_contempt")
    )
    assert ladder.height > 100


def test_v1_stays_the_default() -> None:
    v1 = generate(300, seed=3)
    assert v1.equals(generate(300, seed=3, schema="child-support/v1"))
    assert "ivd.services" not in v1.columns
    with pytest.raises(ValueError, match="child-support/v1 or v2"):
        generate(10, schema="child-support/v3")
    with pytest.raises(ValueError, match="pivots, actions: v2"):
        generate(10, pivots=[dt.date(2025, 1, 13)])
