"""An item condition comparing each item with a value that can fail (a parameter with no value in
force on the case's date) is vectorized: the row is an error row exactly where the reference meets
the error — at the first item it compares — and decides as the reference does everywhere else."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cspolicy import load_policy
from cspolicy.caseload.batch import VectorPlan
from cspolicy.caseload.checks import check_table
from cspolicy.caseload.reference import evaluate_reference
from cspolicy.caseload.streaming import CaseloadEvaluator
from cspolicy.caseload.synthetic import generate

from helpers import HEADER, write_policy

POLICY = (
    HEADER
    + """\
parameters:
  big_payment:
    description: A payment this large counts (no value in force in June 2025)
    unit: USD
    values: [{from: 2020-01-01, to: 2025-06-01, value: "250.00"}, {from: 2025-07-01, value: "300.00"}]
    cite: [src]
rules:
  - id: any-big
    kind: threshold
    title: A big payment
    summary: any_of comparing each payment with the parameter.
    when: any_of(payments, amount >= params.big_payment)
    action: send_delinquency_notice
    cite: [{source: src}]
  - id: count-big
    kind: threshold
    title: Two big payments, the parameter on the left
    summary: count_of with the parameter as the left side.
    when: count_of(payments, params.big_payment <= amount) >= 2
    action: report_to_credit_bureau
    cite: [{source: src}]
  - id: sum-big
    kind: threshold
    title: Big payments add up
    summary: sum_of over the payments at least as large as the parameter.
    when: order.monthly_amount > 0
    action: offer_payment_plan
    outputs:
      big_total: sum_of(payments, amount, amount >= params.big_payment)
      latest_big: max_of(payments, date, amount >= params.big_payment)
    cite: [{source: src}]
"""
)


@pytest.fixture(scope="module")
def policy_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_policy(tmp_path_factory.mktemp("items"), POLICY)


def test_it_is_vectorized(policy_path: Path) -> None:
    evaluator = CaseloadEvaluator(load_policy(policy_path))
    assert evaluator.mode == "vectorized", evaluator.why_reference


@pytest.mark.parametrize("seed", [21, 22])
def test_error_rows_and_decisions_agree_with_the_reference(policy_path: Path, seed: int) -> None:
    policy = load_policy(policy_path)
    table = generate(3000, seed=seed, start=dt.date(2025, 4, 1), days=120)  # June 2025: no value
    valid = check_table(table).valid
    fast, reference = VectorPlan(policy).evaluate(valid), evaluate_reference(policy, valid)
    assert fast.errors.rows() == reference.errors.rows()  # same rows, same words
    assert fast.errors.height > 0 and "'big_payment' has no value in force" in fast.errors.row(0)[2]
    columns = [c for c in fast.decisions.columns if c in reference.decisions.columns]
    assert fast.decisions.select(columns).to_dicts() == reference.decisions.select(columns).to_dicts()
    assert fast.decisions.height > 1000
    june = valid.filter(valid.get_column("as_of").dt.month() == 6)
    without_payments = june.filter(june.get_column("payments").list.len() == 0).get_column("__row")
    failed = set(fast.errors.get_column("row_number").to_list())
    assert without_payments.len() > 0 and not failed & set(without_payments.to_list())  # no item, no error
