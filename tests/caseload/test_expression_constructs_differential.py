"""The vectorized plan agrees with the reference on the newer expression constructs.

A small policy uses each one — list aggregates with conditions that read the case (`date <=
as_of`), `x if c else y` with a None branch, `== None`, `coalesce`, `add_days`, `same_month`,
`any_of`/`count_of` reading the case, and a keyed parameter whose table lacks some counties (a
per-row error) and is read with a missing county (unknown) — and random caseloads are decided
both ways: decisions and error rows must be identical.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from cspolicy import load_policy
from cspolicy.caseload.batch import plan_for
from cspolicy.caseload.checks import check_table
from cspolicy.caseload.reference import evaluate_reference
from cspolicy.caseload.synthetic import generate

from helpers import HEADER, write_policy

POLICY = (
    HEADER
    + """\
parameters:
  county_limit:
    description: Past-due support above which the county refers the case
    unit: USD
    values:
      - {from: 2020-01-01, to: 2025-01-01, value: {Dane: 500, Milwaukee: 2500.50, Los Angeles: 0}}
      - {from: 2025-01-01, value: {Dane: 600, Milwaukee: 1000, San Bernardino: 99.99}}
    cite: [src]
  grace_days:
    description: Days after the last payment before the case counts as delinquent
    unit: days
    values: [{from: 2020-01-01, value: 30}]
    cite: [src]
derived:
  last_paid: max_of(payments, date, date <= as_of)
  first_paid: min_of(payments, date)
  largest_payment: max_of(payments, amount, date <= as_of)
  smallest_withheld: min_of(payments, amount, source == "withholding")
  paid_this_month: >-
    sum_of(payments, amount, applied_to == "family_arrears" and date <= as_of and same_month(date, as_of))
  paid_ever: sum_of(payments, amount)
  paid_later: sum_of(payments, amount, date > as_of or not (amount > 100))
  delinquent_since: >-
    None if arrears.family_owed + arrears.state_owed <= 0
    else max(coalesce(add_days(last_paid, params.grace_days), order.established_on), order.established_on)
  limit: params.county_limit[jurisdiction.county]
rules:
  - id: never-paid
    kind: automatic
    title: Never paid
    summary: No payment on or before the snapshot date.
    when:
      - last_paid == None
      - arrears.family_owed > 0
    action: send_delinquency_notice
    cite: [{source: src}]
  - id: behind
    kind: threshold
    title: Behind since the grace period ended
    summary: Delinquent for more than 60 days.
    when: delinquent_since != None and days_between(delinquent_since, as_of) > 60
    action: report_to_credit_bureau
    outputs:
      owed_or_paid: arrears.family_owed if paid_this_month == 0 else paid_this_month
      first: coalesce(first_paid, order.established_on)
      recent_large: count_of(payments, amount >= 100 and date <= as_of and days_between(date, as_of) <= 90)
    cite: [{source: src}]
  - id: county-referral
    kind: threshold
    title: County referral
    summary: Past-due support above the county's limit.
    when: arrears.family_owed + arrears.state_owed > limit
    action: refer_state_delinquency_collection
    outputs:
      limit: limit
      largest: largest_payment
      smallest_withheld: smallest_withheld
    cite: [{source: src}]
  - id: paid-after
    kind: discretionary
    title: Paid after the snapshot, or small amounts
    summary: Reads payments after as_of.
    when:
      - any_of(payments, date > as_of) or paid_later > 1000
      - same_month(order.established_on, as_of) or add_days(order.established_on, 365) < as_of
    action: review_order
    outputs:
      paid_ever: paid_ever
      future: count_of(payments, date > as_of)
    cite: [{source: src}]
  - id: release
    kind: discretionary
    title: Payments around a release date that may be unknown
    summary: Kleene logic per item, with a case value that may be missing.
    when:
      - >-
        any_of(payments, date <= paying_parent.expected_release or paying_parent.incarcerated)
        or count_of(payments, not (date <= paying_parent.expected_release) and amount > 50) > 1
      - (paid_this_month if paying_parent.incarcerated else paid_ever) >= 0
    action: refer_employment_training
    outputs:
      unknown: count_of(payments, not (date > paying_parent.expected_release or amount < 0))
      released: max_of(payments, date, date >= paying_parent.expected_release)
    cite: [{source: src}]
"""
)


def assert_same(policy_path: Path, as_of: str | None, table: pl.DataFrame) -> tuple[int, int]:
    """Decide `table` both ways; decisions and error rows must be identical (as test_differential)."""
    policy = load_policy(policy_path, as_of)
    plan = plan_for(policy)
    assert plan is not None
    valid = check_table(table).valid
    fast, reference = plan.evaluate(valid), evaluate_reference(policy, valid)
    assert (
        fast.errors.get_column("row_number").to_list() == reference.errors.get_column("row_number").to_list()
    )
    fast_rows, reference_rows = fast.decisions.to_dicts(), reference.decisions.to_dicts()
    assert len(fast_rows) == len(reference_rows)
    for fast_row, reference_row in zip(fast_rows, reference_rows, strict=True):
        differences = {
            key: (fast_row.get(key), reference_row.get(key))
            for key in fast_row.keys() | reference_row.keys()
            if fast_row.get(key) != reference_row.get(key)
        }
        assert not differences, f"row {fast_row['row_number']} rule {fast_row['rule']}: {differences}"
    return len(fast_rows), fast.errors.height


@pytest.fixture(scope="module")
def policy_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_policy(tmp_path_factory.mktemp("constructs"), POLICY)


def test_the_policy_runs_vectorized(policy_path: Path) -> None:
    assert plan_for(load_policy(policy_path)) is not None


@pytest.mark.parametrize(
    ("seed", "start"),
    [(1, dt.date(2024, 6, 1)), (2, dt.date(2024, 12, 20)), (3, dt.date(2025, 2, 1))],
)
def test_vectorized_agrees_with_reference(policy_path: Path, seed: int, start: dt.date) -> None:
    table = generate(1500, seed=seed, start=start, days=120)
    decisions, errors = assert_same(policy_path, None, table)
    assert decisions > 500
    assert errors > 10  # counties without an entry in the table in force


def test_missing_keys_are_error_rows_naming_the_parameter_and_the_key(policy_path: Path) -> None:
    policy = load_policy(policy_path)
    plan = plan_for(policy)
    assert plan is not None
    table = generate(600, seed=5, start=dt.date(2025, 3, 1), days=30)
    result = plan.evaluate(check_table(table).valid)
    reasons = result.errors.get_column("reason")
    assert reasons.str.contains("parameter 'county_limit' has no entry for 'Los Angeles'").sum() > 0
    reference = evaluate_reference(policy, check_table(table).valid)
    assert reasons.to_list() == reference.errors.get_column("reason").to_list()  # word for word
    actions = set(result.decisions.get_column("action"))
    assert {
        "send_delinquency_notice",
        "report_to_credit_bureau",
        "refer_state_delinquency_collection",
    } <= actions


CONSTANT_ON_THE_LEFT = (
    HEADER
    + """\
rules:
  - id: date-first
    kind: threshold
    title: A date constant before the snapshot date
    summary: The constant is written first (the compiler moves it to the right, mirrored).
    when: date("2025-02-01") <= as_of
    action: send_delinquency_notice
    cite: [{source: src}]
  - id: amount-first
    kind: threshold
    title: An amount constant above the family's arrears
    summary: The constant is written first.
    when: 1000 > arrears.family_owed
    action: report_to_credit_bureau
    cite: [{source: src}]
  - id: text-first
    kind: threshold
    title: A text constant unlike the county
    summary: The constant is written first.
    when: '"Dane" != jurisdiction.county'
    action: offer_payment_plan
    cite: [{source: src}]
  - id: choice-first
    kind: threshold
    title: A date constant compared with a choice that is never a date here
    summary: The constant is written first.
    when: date("2015-01-01") < (None if order.monthly_amount >= 0 else as_of)
    action: refer_state_delinquency_collection
    cite: [{source: src}]
"""
)

# What the fuzz corpus found: polars 2.1's in-memory engine returned one row for `constant <
# when(...).then(None).otherwise(column)` when every row took the `None` branch (for dates,
# decimals and text, not integers) and failed the query — in this plan, not in every plan.
FOUND_BY_FUZZING = (
    HEADER
    + """\
rules:
  - id: withholding
    kind: automatic
    title: Withholding
    summary: Every case with withholding active; a number output computed from a quotient.
    when: order.income_withholding_active
    action: initiate_income_withholding
    outputs:
      amount: order.monthly_amount
      ratio: order.monthly_amount / order.monthly_amount
    cite: [{source: src}]
  - id: withholding-hold
    kind: hold
    title: Holds withholding on the same condition
    summary: A second hold.
    when: order.income_withholding_active
    holds: [withholding]
    cite: [{source: src}]
  - id: earliest
    kind: hold
    title: A date constant before the earlier of two dates, one missing on every case
    summary: The constant is written first.
    when: date("2015-01-01") < min(as_of, paying_parent.incarcerated_since)
    holds: [withholding]
    cite: [{source: src}]
"""
)


@pytest.mark.parametrize("policy", [CONSTANT_ON_THE_LEFT, FOUND_BY_FUZZING], ids=["mirrored", "fuzz"])
def test_a_constant_on_the_left_of_a_comparison(tmp_path: Path, policy: str) -> None:
    """The compiler puts a constant on the right of a comparison (mirrored): the same decisions
    as the reference, and no failed query when every row's right side is unknown."""
    path = write_policy(tmp_path, policy)
    table = generate(300, seed=7, start=dt.date(2025, 1, 1), days=60).with_columns(
        pl.lit(None, dtype=pl.Date).alias("paying_parent.incarcerated_since")
    )
    decisions, _ = assert_same(path, None, table)
    assert decisions > 100
