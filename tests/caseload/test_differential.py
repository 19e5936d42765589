"""The vectorized caseload evaluator agrees exactly with `PolicySet.evaluate` on random snapshots.

10,000 seeded synthetic snapshots spread over every shipped policy set (both Wisconsin versions,
and Milwaukee over both of its parent versions) — amounts exactly on thresholds and on whole
multiples of the order, zero monthly orders, missing optional dates, empty and full lists, cases
from the wrong state and dated before the version — plus a fixture policy with quotients,
parameter gaps, holds of holds, prerequisites, quantifiers and business-day clocks. Each table
is decided by both evaluators; decisions (action, rule, status, held_by, waiting_for, priority,
due dates, outputs) and error rows must be identical.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from cspolicy import load_policy
from cspolicy.caseload.batch import VectorPlan, plan_for
from cspolicy.caseload.checks import check_table
from cspolicy.caseload.reference import evaluate_reference
from cspolicy.caseload.synthetic import THRESHOLD_CENTS, generate

from helpers import FIXTURES, ROOT

POLICIES = ROOT / "policies"
BATCH_FIXTURES = FIXTURES / "batch"

# (policy path, as_of that picks the version, first day of generated snapshots, states)
SHIPPED = [
    ("federal", None, dt.date(2024, 6, 1), ("WI", "CA", "TX")),
    ("wisconsin", "2024-06-01", dt.date(2023, 12, 1), ("WI", "WI", "CA")),
    ("wisconsin", "2025-06-01", dt.date(2025, 1, 1), ("WI", "WI", "CA")),
    ("milwaukee-back-on-track", "2024-09-01", dt.date(2024, 7, 15), ("WI",)),
    ("milwaukee-back-on-track", "2025-06-01", dt.date(2025, 1, 1), ("WI",)),
    ("california", None, dt.date(2024, 12, 1), ("CA", "CA", "WI")),
    ("san-bernardino", None, dt.date(2024, 12, 1), ("CA", "CA", "WI")),
]
TOTAL = 10_000
PER_POLICY = -(-TOTAL // len(SHIPPED))


def assert_same(policy_path: Path, as_of: str | None, table: pl.DataFrame) -> tuple[int, int]:
    """Decide `table` both ways and require identical decisions and error rows."""
    policy = load_policy(policy_path, as_of)
    plan = plan_for(policy)
    assert plan is not None, f"{policy.id} should run vectorized"
    valid = check_table(table).valid
    assert valid.height == table.height, "generated rows are all valid snapshots"
    fast = plan.evaluate(valid)
    reference = evaluate_reference(policy, valid)
    assert (
        fast.errors.get_column("row_number").to_list() == reference.errors.get_column("row_number").to_list()
    )
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
    return len(fast_rows), fast.errors.height


@pytest.mark.parametrize(
    ("name", "as_of", "start", "states"), SHIPPED, ids=[f"{s[0]}@{s[1]}" for s in SHIPPED]
)
def test_shipped_policy_agrees_with_reference(
    name: str, as_of: str | None, start: dt.date, states: tuple[str, ...]
) -> None:
    seed = SHIPPED.index((name, as_of, start, states))
    table = generate(PER_POLICY, seed=seed, start=start, days=420, states=states)
    decisions, errors = assert_same(POLICIES / name, as_of, table)
    assert decisions > PER_POLICY, "most cases lead to at least one action"
    assert errors < PER_POLICY // 2, "error rows (wrong state, before the version) stay a minority"


def test_generated_snapshots_cover_the_edges() -> None:
    table = generate(PER_POLICY, seed=0)
    monthly = table.get_column("order.monthly_amount")
    total = table.get_column("arrears.family_owed") + table.get_column("arrears.state_owed")
    thresholds = {Decimal(int(c)) / 100 for c in THRESHOLD_CENTS}
    assert (monthly == 0).sum() > 100
    assert total.is_in(list(thresholds)).sum() > 100
    assert ((total == monthly * 3) & (monthly > 0)).sum() > 20
    assert table.get_column("paying_parent.expected_release").is_null().sum() > 100
    assert (table.get_column("payments").list.len() == 0).sum() > 100
    assert (table.get_column("enforcement").list.len() == 0).sum() > 100


def test_fixture_policy_with_quotients_gaps_and_clocks_agrees() -> None:
    table = generate(3000, seed=99, start=dt.date(2024, 6, 1), days=500, states=("WI", "WI", "CA"))
    decisions, errors = assert_same(BATCH_FIXTURES / "edges", None, table)
    assert decisions > 1000 and errors > 100
    policy = load_policy(BATCH_FIXTURES / "edges")
    result = VectorPlan(policy).evaluate(check_table(table).valid)
    reasons = result.errors.get_column("reason")
    assert reasons.str.contains("division by zero").sum() > 0, "unguarded quotient reached with a zero order"
    assert reasons.str.contains("has no value in force").sum() > 0, "January 2025 has no limit"
    statuses = set(result.decisions.get_column("status"))
    assert statuses == {"recommended", "held", "waiting"}
    assert result.decisions.get_column("due_by").drop_nulls().len() > 0
