"""Seeded synthetic caseloads in the flat layout, for the differential test and the benchmark.

Values are drawn to exercise policy edges: amounts exactly on the shipped thresholds and on
whole multiples of the monthly order, zero monthly orders, missing optional dates, empty and
non-empty lists, payments in the snapshot's month and after its date, enforcement history with
every status. Generated column by column with numpy, so millions of rows take seconds.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import polars as pl
import pyarrow as pa

from cspolicy.caseload.tables import LIST_COLUMNS, SCHEMA
from cspolicy.source.vocabulary import (
    APPLIED_TO,
    EMPLOYMENT,
    EMPLOYMENT_TRAINING_STATUSES,
    ENFORCEMENT_STATUSES,
    LICENSE_STATUSES,
    LICENSE_TYPES,
    PAYMENT_PLAN_STATUSES,
    PAYMENT_SOURCES,
    PUBLIC_ASSISTANCE,
    WARRANT_STATUSES,
)

ACTIONS = (
    "send_delinquency_notice",
    "docket_lien",
    "refer_for_contempt",
    "offer_payment_plan",
    "refer_state_tax_offset",
    "refer_federal_tax_offset",
    "certify_passport_denial",
    "initiate_license_suspension",
    "report_to_credit_bureau",
    "review_order",
    "refer_employment_training",
    "initiate_income_withholding",
    "arrange_warm_handoff",
    "request_bench_warrant",
    "increase_income_withholding",
    "initiate_military_pay_withholding",
    "invite_license_release_meeting",
)
MONTHLY_CENTS = np.array([0, 0, 15000, 25000, 35010, 40000, 50000, 83333, 100000, 120050], dtype=np.int64)
THRESHOLD_CENTS = np.array(
    [0, 1, 14999, 15000, 15001, 49999, 50000, 50001, 100000, 120000, 249999, 250000, 250001, 500000, 500001],
    dtype=np.int64,
)
COUNTIES = ("Milwaukee", "San Bernardino", "Dane", "Los Angeles", None)


def generate(
    rows: int,
    seed: int = 0,
    start: dt.date = dt.date(2025, 1, 13),
    days: int = 540,
    states: tuple[str, ...] = ("WI",),
) -> pl.DataFrame:
    """A caseload table of `rows` cases (canonical schema) dated in [start, start + days), each in
    one of `states` (equally likely)."""
    rng = np.random.default_rng(seed)
    as_of = np.datetime64(start) + rng.integers(0, days, rows).astype("timedelta64[D]")
    monthly = rng.choice(MONTHLY_CENTS, rows)
    multiples = rng.integers(0, 5, rows) * monthly
    thresholds = rng.choice(THRESHOLD_CENTS, rows)
    uniform = rng.integers(0, 800_000, rows)
    family = np.select([rng.random(rows) < 0.35, rng.random(rows) < 0.5], [multiples, thresholds], uniform)
    state = np.where(rng.random(rows) < 0.6, 0, rng.choice(THRESHOLD_CENTS, rows))
    pre_1996 = np.minimum(state, rng.choice(np.array([0, 0, 5000, 100000]), rows))
    incarcerated = rng.random(rows) < 0.08
    columns: dict[str, pl.Series | np.ndarray | list[str | None]] = {
        "case_id": pl.select(
            pl.format(
                "C{}-{}",
                pl.lit(f"{seed:03d}"),
                pl.int_range(rows, dtype=pl.Int64).cast(pl.String).str.zfill(9),
            )
        ).to_series(),
        "as_of": as_of,
        "jurisdiction.state": rng.choice(np.array(states), rows),
        "jurisdiction.county": pl.Series(
            np.array(COUNTIES, dtype=object)[rng.integers(0, len(COUNTIES), rows)].tolist(), dtype=pl.String
        ),
        "order.established_on": as_of - rng.integers(0, 4000, rows).astype("timedelta64[D]"),
        "order.monthly_amount": _money(monthly),
        "order.income_withholding_active": rng.random(rows) < 0.4,
        "arrears.family_owed": _money(family),
        "arrears.state_owed": _money(state),
        "arrears.state_owed_pre_1996": _money(pre_1996),
        "public_assistance": rng.choice(np.array(PUBLIC_ASSISTANCE), rows),
        "paying_parent.employment": rng.choice(np.array(EMPLOYMENT), rows),
        "paying_parent.employer_known": rng.random(rows) < 0.5,
        "paying_parent.address_known": rng.random(rows) < 0.7,
        "paying_parent.incarcerated": incarcerated,
        "paying_parent.incarcerated_since": _maybe_dates(rng, as_of, incarcerated, -2000, 0),
        "paying_parent.expected_release": _maybe_dates(
            rng, as_of, incarcerated & (rng.random(rows) < 0.6), -30, 1500
        ),
        "paying_parent.military_active_duty": rng.random(rows) < 0.04,
        "paying_parent.programs.employment_training": rng.choice(
            np.array(EMPLOYMENT_TRAINING_STATUSES), rows
        ),
        "paying_parent.programs.payment_plan": rng.choice(
            np.array([PAYMENT_PLAN_STATUSES[0], *PAYMENT_PLAN_STATUSES])  # "none" twice as likely, rows
        ),
        "receiving_parent.family_violence_indicator": rng.random(rows) < 0.05,
    }
    frame = pl.DataFrame(columns).with_columns(pl.col("as_of", "order.established_on").cast(pl.Date))
    lists = {
        "payments": _payments(rng, as_of, monthly),
        "paying_parent.licenses": _items(
            rng,
            rows,
            3,
            {"type": LICENSE_TYPES, "status": LICENSE_STATUSES},
        ),
        "paying_parent.warrants": _dated_items(rng, as_of, 2, "issued_on", {"status": WARRANT_STATUSES}),
        "enforcement": _dated_items(
            rng,
            as_of,
            5,
            "date",
            {"action": ACTIONS, "status": ENFORCEMENT_STATUSES},
            first="action",
        ),
    }
    frame = frame.with_columns(pl.Series(name, values).cast(SCHEMA[name]) for name, values in lists.items())
    return frame.select(list(SCHEMA))


def _money(cents: np.ndarray) -> pl.Series:
    return pl.Series(cents.astype(np.int64)).cast(pl.Decimal(38, 0)) * Decimal("0.01")


def _maybe_dates(
    rng: np.random.Generator, as_of: np.ndarray, present: np.ndarray, low: int, high: int
) -> pl.Series:
    dates = as_of + rng.integers(low, high, len(as_of)).astype("timedelta64[D]")
    return pl.Series(dates).cast(pl.Date).set(pl.Series(~present), None)


def _offsets(rng: np.random.Generator, rows: int, most: int) -> tuple[np.ndarray, np.ndarray]:
    counts = rng.integers(0, most + 1, rows)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    owner = np.repeat(np.arange(rows), counts)
    return offsets, owner


def _list(offsets: np.ndarray, fields: dict[str, pa.Array]) -> pa.Array:
    arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in fields.values()]
    struct = pa.StructArray.from_arrays(arrays, names=list(fields))
    return pa.ListArray.from_arrays(pa.array(offsets), struct)


def _items(rng: np.random.Generator, rows: int, most: int, choices: dict[str, tuple[str, ...]]) -> pa.Array:
    offsets, owner = _offsets(rng, rows, most)
    total = len(owner)
    return _list(
        offsets,
        {
            name: pa.array(np.array(values)[rng.integers(0, len(values), total)])
            for name, values in choices.items()
        },
    )


def _dated_items(
    rng: np.random.Generator,
    as_of: np.ndarray,
    most: int,
    date_field: str,
    choices: dict[str, tuple[str, ...]],
    first: str | None = None,
) -> pa.Array:
    offsets, owner = _offsets(rng, len(as_of), most)
    total = len(owner)
    dates = as_of[owner] - rng.integers(0, 800, total).astype("timedelta64[D]")
    fields = {
        name: pa.array(np.array(values)[rng.integers(0, len(values), total)])
        for name, values in choices.items()
    }
    ordered = {date_field: pa.array(dates.astype("datetime64[D]"))} | fields
    if first:
        ordered = {first: fields[first]} | {k: v for k, v in ordered.items() if k != first}
    names = list(LIST_COLUMNS["enforcement" if date_field == "date" else "paying_parent.warrants"])
    return _list(offsets, {name: ordered[name] for name in names})


def _payments(rng: np.random.Generator, as_of: np.ndarray, monthly: np.ndarray) -> pa.Array:
    offsets, owner = _offsets(rng, len(as_of), 4)
    total = len(owner)
    back = rng.choice(np.array([-5, 0, 0, 3, 10, 25, 40, 95, 200, 400]), total)
    dates = (as_of[owner] - back.astype("timedelta64[D]")).astype("datetime64[D]")
    amounts = np.where(rng.random(total) < 0.5, monthly[owner], rng.integers(1, 60_000, total))
    applied = np.array(APPLIED_TO)[rng.integers(0, 3, total)]
    source = np.array(PAYMENT_SOURCES)[rng.integers(0, 3, total)]
    amount = _money(amounts).to_arrow()
    return _list(
        offsets,
        {
            "date": pa.array(dates),
            "amount": amount,
            "applied_to": pa.array(applied),
            "source": pa.array(source),
        },
    )
