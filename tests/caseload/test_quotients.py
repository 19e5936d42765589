"""Quotients vectorize exactly (issue 16): derived quotients, divisions inside comparisons and
products of derived values, on amounts exactly on their thresholds, zero divisors (an error row
where the reference reaches the division) and missing values (Kleene logic).

The reference divides with 28-digit Decimals; the vectorized plan keeps each quotient as an
exact rational and cross-multiplies. Rows within the reference's rounding of a comparison (an
exact tie after more arithmetic) are decided by the reference and counted as `rechecked`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cspolicy import CaseSnapshot, EvaluationError, load_policy
from cspolicy.caseload.batch import VectorPlan
from cspolicy.caseload.checks import check_table
from cspolicy.caseload.readers import read_snapshots
from cspolicy.caseload.reference import evaluate_reference
from cspolicy.caseload.streaming import CaseloadEvaluator, evaluate_caseload
from cspolicy.caseload.synthetic import generate
from cspolicy.caseload.tables import SCHEMA

from helpers import HEADER, write_policy

POLICY = (
    HEADER
    + """\
parameters:
  months:
    description: Months of support past due that start enforcement
    unit: rate
    values: [{from: 2020-01-01, to: 2025-06-01, value: 3}, {from: 2025-07-01, value: 2.5}]
    cite: [src]
derived:
  months_past_due: arrears.total / order.monthly_amount
  state_share: arrears.state_owed / arrears.total
  doubled: months_past_due * 2
  weighted: months_past_due * state_share
rules:
  - id: behind
    kind: threshold
    title: Three months behind
    summary: Past-due support of three months or more.
    when: months_past_due >= 3
    action: send_delinquency_notice
    cite: [{source: src}]
  - id: behind-param
    kind: threshold
    title: Behind by the parameter
    summary: A parameter (missing on some dates) as the threshold.
    when: months_past_due >= params.months
    action: report_to_credit_bureau
    cite: [{source: src}]
  - id: state-share
    kind: threshold
    title: Mostly owed to the state
    summary: A quotient inside a comparison, short-circuited by the first condition.
    when:
      - arrears.total > 0
      - arrears.state_owed / arrears.total > 0.5 or doubled > 8
    action: refer_state_delinquency_collection
    cite: [{source: src}]
  - id: product
    kind: threshold
    title: Product of derived values
    summary: Products and sums of quotients, compared.
    when:
      - weighted + months_past_due / 4 >= 1.5 or doubled == 6
      - order.monthly_amount / 2 < arrears.total / 3
    action: refer_employment_training
    outputs:
      monthly: order.monthly_amount * 2
    cite: [{source: src}]
  - id: amounts
    kind: threshold
    title: Amounts from quotients
    summary: Money outputs computed from quotients, rounded half up to the cent.
    when: arrears.total >= 0
    action: offer_payment_plan
    outputs:
      half: arrears.total / 2
      gap_third: (arrears.state_owed - arrears.family_owed) / 3
      weighted_amount: arrears.state_owed * months_past_due
    cite: [{source: src}]
"""
)


@pytest.fixture(scope="module")
def policy_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_policy(tmp_path_factory.mktemp("quotients"), POLICY)


def _row(case_id: str, monthly: str, family: str, state: str, as_of: dt.date) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "as_of": as_of,
        "jurisdiction.state": "WI",
        "order.established_on": dt.date(2020, 1, 1),
        "order.monthly_amount": Decimal(monthly),
        "arrears.family_owed": Decimal(family),
        "arrears.state_owed": Decimal(state),
    }


def edge_table() -> pl.DataFrame:
    """Amounts exactly on the thresholds, zero divisors, a date with no parameter value."""
    on, gap = dt.date(2025, 3, 1), dt.date(2025, 6, 15)  # no `months` value in June 2025
    rows = [
        _row("on-3", "350.10", "1050.30", "0", on),  # 1050.30 / 350.10 == 3 exactly
        _row("below-3", "350.10", "1050.29", "0", on),
        _row("above-3", "350.10", "1050.31", "0", on),
        _row("third", "3.00", "6.00", "3.01", on),  # 9.01 / 3 = 3.00333…
        _row("thirds", "0.03", "0.06", "0.03", on),  # 0.09 / 0.03 = 3
        _row("zero-order", "0", "100.00", "0", on),  # division by zero: an error row
        _row("zero-both", "0", "0", "0", on),  # 0 / 0: the first rule divides by zero too
        _row("no-param", "100.00", "300.00", "0", gap),  # params.months is missing: an error
        _row("half-state", "100.00", "300.00", "300.00", on),  # state share exactly 0.5
        _row("ties", "100.00", "150.00", "150.00", on),  # doubled == 6, weighted + mpd/4 = 1.5+0.75
        _row("big", "0.01", "999999999999.99", "0", on),
        _row("tiny", "999999999999.99", "0.01", "0", on),
        _row("half-cent", "100.00", "0.05", "0", on),  # 0.05 / 2 = 0.025: a tie, rounded up
        _row("negative-zero", "100.00", "0.01", "0", on),  # -0.01 / 3: the reference says -0.00
        _row("negative-tie", "100.00", "0.03", "0", on),  # -0.03 / 3 = -0.01; 0.03 / 2 = 0.015
    ]
    frame = pl.DataFrame(rows, schema={k: SCHEMA[k] for k in rows[0]})
    return frame.with_columns(
        pl.lit([] if isinstance(dtype, pl.List) else None, dtype=dtype).alias(name)
        for name, dtype in SCHEMA.items()
        if name not in frame.columns
    ).select(list(SCHEMA))


def assert_same(policy_path: Path, table: pl.DataFrame) -> tuple[int, int, int]:
    policy = load_policy(policy_path)
    plan = VectorPlan(policy)  # raises NotVectorizable if it is not
    valid = check_table(table).valid
    fast, reference = plan.evaluate(valid), evaluate_reference(policy, valid)
    assert fast.errors.rows() == reference.errors.rows()  # same rows, same words
    columns = [c for c in fast.decisions.columns if c in reference.decisions.columns]
    fast_rows = fast.decisions.select(columns).to_dicts()
    reference_rows = reference.decisions.select(columns).to_dicts()
    assert fast_rows == reference_rows
    return len(fast_rows), fast.errors.height, fast.rechecked


def test_a_derived_quotient_policy_runs_vectorized(policy_path: Path) -> None:
    evaluator = CaseloadEvaluator(load_policy(policy_path))
    assert evaluator.mode == "vectorized", evaluator.why_reference


def test_edges_agree_with_the_reference(policy_path: Path) -> None:
    decisions, errors, rechecked = assert_same(policy_path, edge_table())
    assert decisions >= 8 and errors == 3
    result = evaluate_caseload(load_policy(policy_path), edge_table())
    by_case = {(r["case_id"], r["rule"]) for r in result.decisions.to_dicts()}
    assert ("on-3", "behind") in by_case and ("thirds", "behind") in by_case
    assert ("below-3", "behind") not in by_case and ("above-3", "behind") in by_case
    reasons = dict(result.errors.select("case_id", "reason").rows())
    assert (
        "division by zero in `months_past_due >= 3` (the monthly support amount is 0)"
        in reasons["zero-order"]
    )
    assert "'months' has no value in force on 2025-06-15" in reasons["no-param"]
    assert rechecked >= 2  # `doubled == 6` on "ties": an exact tie after a product; a -0.00
    outputs = {r["case_id"]: r for r in result.decisions.to_dicts() if r["rule"] == "amounts"}
    assert str(outputs["half-cent"]["outputs.half"]) == "0.03"
    assert str(outputs["negative-tie"]["outputs.half"]) == "0.02"
    assert str(outputs["half-cent"]["outputs.gap_third"]) == "-0.02"


def test_money_outputs_from_quotients_are_vectorized_exactly(policy_path: Path, tmp_path: Path) -> None:
    """Half cents, negative values and big amounts: the vectorized cents equal the reference's,
    and only the two rows whose cents are a negative zero (-0.00) go to the reference."""
    table = edge_table()
    decisions, _, rechecked = assert_same(policy_path, table)
    assert decisions >= 10
    without = write_policy(tmp_path, POLICY.split("  - id: amounts")[0])
    baseline = VectorPlan(load_policy(without)).evaluate(check_table(table).valid).rechecked
    assert rechecked == baseline + 2  # "negative-zero" and "tiny": -0.01 / 3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_caseloads_agree_with_the_reference(policy_path: Path, seed: int) -> None:
    table = generate(3000, seed=seed, start=dt.date(2025, 3, 1), days=200)
    decisions, errors, _ = assert_same(policy_path, table)
    assert decisions > 1000 and errors > 0


def test_a_number_output_computed_from_a_quotient(tmp_path: Path) -> None:
    """The policy stays vectorized; only the rows where the rule is recommended are decided by
    the reference (its 28-digit value written as the reference writes it), so every row agrees."""
    text = POLICY.replace("monthly: order.monthly_amount * 2", "monthly: months_past_due")
    path = write_policy(tmp_path, text)
    assert CaseloadEvaluator(load_policy(path)).mode == "vectorized"
    for table in (edge_table(), generate(2000, seed=4, start=dt.date(2025, 3, 1), days=200)):
        _, _, rechecked = assert_same(path, table)
        result = evaluate_caseload(load_policy(path), table)
        recommended = result.decisions.filter(pl.col("rule") == "product")
        assert recommended.height > 0 and recommended.get_column("outputs.monthly").null_count() == 0
        assert rechecked >= recommended.height
    outputs = dict(
        evaluate_caseload(load_policy(path), edge_table())
        .decisions.filter(pl.col("rule") == "product")
        .select("case_id", "outputs.monthly")
        .rows()
    )
    assert outputs["third"] == "3.003333333333333333333333333" and outputs["on-3"] == "3"


CHOICES = (
    HEADER
    + """\
derived:
  months_past_due: arrears.total / order.monthly_amount
  state_share: arrears.state_owed / arrears.total
  capped: min(months_past_due, 12)
  larger: max(months_past_due, state_share * 10, 2)
  off_half: abs(state_share - 0.5)
  picked: months_past_due if arrears.state_owed > 0 else state_share
  maybe_share: state_share if arrears.state_owed > 0 else None
rules:
  - id: capped
    kind: threshold
    title: Capped months
    summary: min() of a quotient and a number.
    when: capped >= 3
    action: send_delinquency_notice
    outputs:
      third: min(arrears.total / 3, order.monthly_amount)
    cite: [{source: src}]
  - id: larger
    kind: threshold
    title: The larger of three
    summary: max() of quotients and a number; ties keep the first.
    when: larger > 5 or larger == 2
    action: report_to_credit_bureau
    cite: [{source: src}]
  - id: off-half
    kind: threshold
    title: Far from half
    summary: abs() of a difference of a quotient.
    when: arrears.total > 0 and off_half >= 0.25
    action: refer_state_delinquency_collection
    outputs:
      months: picked
    cite: [{source: src}]
  - id: either
    kind: threshold
    title: Share or months
    summary: coalesce() and a conditional choosing between quotients.
    when: arrears.total > 0 and coalesce(maybe_share, months_past_due) >= 0.5
    action: refer_employment_training
    cite: [{source: src}]
"""
)


def test_quotients_inside_min_max_abs_and_choices_are_vectorized(tmp_path: Path) -> None:
    """min / max / abs of a quotient, conditionals and coalesce choosing one: vectorized, and
    every row agrees with the reference (zero divisors included)."""
    path = write_policy(tmp_path, CHOICES)
    evaluator = CaseloadEvaluator(load_policy(path))
    assert evaluator.mode == "vectorized", evaluator.why_reference
    ties = [
        _row("max-tie", "100.00", "200.00", "0", dt.date(2025, 3, 1)),  # larger == 2 exactly
        _row("share-10", "1000.00", "100.00", "100.00", dt.date(2025, 3, 1)),  # 0.5 * 10 == 5
    ]
    table = pl.concat(
        [edge_table(), pl.DataFrame(ties, schema=edge_table().select(list(ties[0])).schema)],
        how="diagonal_relaxed",
    )
    decisions, errors, _ = assert_same(path, table)
    assert decisions >= 10 and errors >= 2
    decided = evaluate_caseload(load_policy(path), table).decisions
    assert ("max-tie", "larger") in {(r["case_id"], r["rule"]) for r in decided.to_dicts()}
    for seed in (7, 8):
        decisions, _, _ = assert_same(path, generate(3000, seed=seed, start=dt.date(2025, 3, 1), days=200))
        assert decisions > 1000


def test_an_output_name_with_different_types_is_written_as_text_without_loss(tmp_path: Path) -> None:
    """`ratio` is an amount in one rule and a quotient in another: the column is text, each
    value written exactly (an amount column would have cut the quotient to cents), the same in
    vectorized and reference mode and equal to each Decision's output."""
    # the amount comes first (rule `product`), the quotient later (rule `amounts`)
    text = POLICY.replace("monthly: order.monthly_amount * 2", "ratio: order.monthly_amount / 3")
    text = text.replace("half: arrears.total / 2", "ratio: arrears.family_owed / arrears.total")
    path = write_policy(tmp_path, text)
    policy = load_policy(path)
    table = edge_table()
    vectorized = evaluate_caseload(policy, table).decisions
    assert vectorized.schema["outputs.ratio"] == pl.String
    reference = evaluate_reference(policy, check_table(table).valid, schema=dict(vectorized.schema)).decisions
    assert vectorized.equals(reference)
    written = {
        (r["case_id"], r["rule"]): r["outputs.ratio"] for r in vectorized.to_dicts() if r["outputs.ratio"]
    }
    assert written[("third", "amounts")] == "0.6659267480577136514983351831"  # 6.00 / 9.01, 28 digits
    assert written[("third", "product")] == "1.00"  # 3.00 / 3: an amount, to the cent
    for snapshot in (s for s in read_snapshots(table) if isinstance(s, CaseSnapshot)):
        try:
            decision = policy.evaluate(snapshot)
        except EvaluationError:
            continue
        for action in decision.actions:
            if "ratio" in action.outputs:
                assert written[(decision.case_id, action.rule)] == str(action.outputs["ratio"])


def test_a_number_output_that_is_a_decimal_in_one_rule_and_a_quotient_in_another(tmp_path: Path) -> None:
    """Both numbers, one a parameter (a decimal column), one a quotient (its reference text):
    the column is text, and the quotient keeps all its digits."""
    text = POLICY.replace(
        "    when: months_past_due >= 3\n    action: send_delinquency_notice\n",
        "    when: months_past_due >= 3\n    action: send_delinquency_notice\n    outputs:\n      ratio: params.months\n",
    ).replace("half: arrears.total / 2", "ratio: arrears.family_owed / arrears.total")
    path = write_policy(tmp_path, text)
    policy = load_policy(path)
    decided = evaluate_caseload(policy, edge_table())
    assert decided.decisions.schema["outputs.ratio"] == pl.String
    written = {(r["case_id"], r["rule"]): r["outputs.ratio"] for r in decided.decisions.to_dicts()}
    assert written[("third", "amounts")] == "0.6659267480577136514983351831"
    assert Decimal(written[("on-3", "behind")]) == 3
