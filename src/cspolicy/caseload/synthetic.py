"""Seeded synthetic caseloads in the flat layout, for the differential test and the benchmark.

Values are drawn to exercise policy edges: amounts exactly on the shipped thresholds and on
whole multiples of the monthly order, zero monthly orders, missing optional dates, empty and
non-empty lists, payments in the snapshot's month and after its date, enforcement history with
every status. Generated column by column with numpy, so millions of rows take seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from cspolicy.caseload.tables import LIST_COLUMNS, SCHEMA, Column, Layout, layout_for
from cspolicy.engine.caseschema import case_schema
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
    schema: str = "child-support/v1",
    pivots: Sequence[dt.date] = (),
    actions: Sequence[str] = ACTIONS,
) -> pl.DataFrame:
    """A caseload table of `rows` cases (canonical layout of `schema`, child-support/v1 or v2)
    dated in [start, start + days), each in one of `states` (equally likely).

    v2 only: a fifth of the cases are dated on a date of `pivots` (parameter changes, version
    starts) or a day either side of one; enforcement histories name `actions` and escalation steps."""
    if schema == "child-support/v2":
        return _generate_v2(rows, seed, start, days, states, tuple(pivots), tuple(actions))
    if schema != "child-support/v1" or pivots or actions != ACTIONS:
        raise ValueError(
            f"synthetic caseloads are child-support/v1 or v2 (pivots, actions: v2), not {schema}"
        )
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


# ── child-support/v2 ─────────────────────────────────────────────────────────────────────────────
# Every field of the schema gets values by its type (choices equally likely, yes in a third of
# cases, dates on the clocks, amounts on the thresholds, absent where the schema allows); the
# facts below are drawn their own way, and the arrears, clocks and lists are built to fit.
_CONTEMPT = ("send_delinquency_notice", "screen_ability_to_pay", "refer_for_contempt", "docket_lien")
_LICENSE = ("docket_lien", "send_delinquency_notice", "invite_license_release_meeting", "review_order")
LADDERS = np.array([_CONTEMPT, _LICENSE])
"""Escalation ladders: half the v2 histories climb one, so that steps that require earlier ones
(contempt after the screen after the letter) are reached."""
CA_MEDIAN_CENTS = {"Alameda": 15_570_000, "Alpine": 11_930_000, "Los Angeles": 10_660_000}
CA_MEDIAN_CENTS |= {"Orange": 13_660_000, "San Bernardino": 10_390_000}
"""County median incomes (HCD) that v2 household incomes are drawn around 70% of."""
# Fresno and Kern are in no median-income table: the low-income test has no value for them
_CA = ("Los Angeles", "San Bernardino", "San Bernardino", "Alameda", "Alpine", "Orange", "Fresno", "Kern")
COUNTIES_V2: dict[str, tuple[str, ...]] = {"WI": ("Milwaukee", "Milwaukee", "Dane", "Brown"), "CA": _CA}
V2_THRESHOLD_CENTS = np.array([0, 1, 2499, 2500, 2501, 9999, 10000, 10001, 14999, 15000, 15001, 49999])
V2_THRESHOLD_CENTS = np.append(V2_THRESHOLD_CENTS, [50000, 50001, 99999, 100000, 100001, 250000, 250001])
"""v2 amounts on a threshold ($25, $100, $150, $500, $1,000, $2,500) or a cent either side."""
AGO = (-3, 0, 1, 29, 30, 31, 59, 60, 61, 89, 90, 91, 119, 120, 121, 179, 180, 181, 365, 366, 900)
"""Days before the snapshot date of v2 dates: on a 30/60/90/120/180/365-day clock or a day either side."""
_BEHIND = (-31, -1, 0, 1, 29, 30, 31, 32, 33, 60, 90, 400)  # paid through: over 30 days behind from 32
_DAYS: dict[str, tuple[Sequence[int], float]] = {  # date fact: (days before the snapshot date, share absent)
    "ivd.closure_requested_in_writing_on": (range(60), 0.85),
    "order.current_support_paid_in_full_through": (_BEHIND, 0.3),
    "order.periodic_arrears_paid_in_full_through": (_BEHIND, 0.4),
    "paying_parent.new_hire_reported_on": ((-1, 0, 1, 2, 3, 4, 5, 6, 30), 0.7),  # 2 business days
    "paying_parent.employer_since": ((0, 1, 2, 30, 200, 1000), 0.5),
    "paying_parent.hearing_requested_on": ((-1, 0, 1, 10, 60), 0.8),
    "paying_parent.payment_plan_requested_on": ((-1, 0, 1, 30), 0.8),
    "paying_parent.programs.back_on_track_enrolled_on": ((0, 3, 10, 25, 40, 200), 0.7),
}
_YES = {
    "paying_parent.deceased": 0.02,
    "paying_parent.ssn_missing": 0.08,
    "paying_parent.employer_known": 0.5,
}
_YES |= {"order.court_prohibits_license_action": 0.05, "receiving_parent.family_violence_indicator": 0.05}
_PICKS: dict[str, tuple[Any, ...]] = {  # fact: values drawn equally likely (None: absent)
    "paying_parent.programs.payment_plan": ("none", "none", "active", "defaulted", None),
    "receiving_parent.good_cause": ("none", "none", "none", "none", "claimed", "granted", None),
}
_CENTS = {"paying_parent.accounts_total_balance": ((0, 50499, 50500, 50501, 50502, 2500000), 0.6)}  # $505
_CENTS["arrears.back_on_track_credited"] = ((0, 0, 0, 1000, 5000, 100000), 0.1)  # (amounts, share absent)
_INCOME = ["wages", "wages", "unemployment", "unemployment", "ssi", "ssdi", "workers_comp", "insurance_claim"]
_INCOME += ["military_pay", "pension", "social_security_retirement", "self_employment", "other"]
_NAT = np.datetime64("NaT", "D")


class _Draw:
    """Random v2 values of one table: dates are numpy days (NaT: absent), amounts whole cents."""

    def __init__(self, rng: np.random.Generator, as_of: np.ndarray, layout: Layout) -> None:
        self.rng, self.as_of, self.rows, self.layout = rng, as_of, len(as_of), layout

    def share(self, p: float, size: int | None = None) -> np.ndarray:
        return self.rng.random(self.rows if size is None else size) < p

    def pick(self, values: Sequence[Any] | np.ndarray, size: int | None = None) -> np.ndarray:
        array = np.array(
            values, dtype=None if isinstance(values, np.ndarray) or None not in values else object
        )
        return array[self.rng.integers(0, len(array), self.rows if size is None else size)]

    def days(self, days: Sequence[int], size: int | None = None) -> np.ndarray:
        return self.pick(days, size).astype("timedelta64[D]")

    def ago(self, days: Sequence[int], absent: float, base: np.ndarray | None = None) -> np.ndarray:
        """Dates some `days` before `base` (the snapshot date), absent in a share `absent` of rows."""
        dates = (self.as_of if base is None else base) - self.days(days, None if base is None else len(base))
        return _blank(dates, self.share(absent, len(dates)))

    def money(self, cents: np.ndarray, absent: float | np.ndarray = 0.0) -> pl.Series:
        gone = absent if isinstance(absent, np.ndarray) else self.share(absent, len(cents))
        return _money(np.where(gone, 0, cents).astype(np.int64)).set(pl.Series(gone), None)

    def field(self, column: Column, size: int | None = None) -> Any:
        """Values of a field by its type alone, absent in some cases when the schema allows."""
        n = self.rows if size is None else size
        absent = self.share(0.0 if column.required else 0.05 if column.default is not None else 0.4, n)
        if column.kind == "money":
            return self.money(self.pick(V2_THRESHOLD_CENTS, n), absent)
        if column.kind == "date":
            return _blank(self.as_of - self.days(AGO), absent)  # scalars only: items give their dates
        values = {"bool": (True, False, False), "integer": range(7)}.get(column.kind, column.choices)
        return _blank(self.pick(values or ("Travis",), n), absent)

    def items(self, name: str, most: int, fields: Callable[[np.ndarray, int], dict[str, Any]]) -> pl.Series:
        """List column `name`: up to `most` items a case, its fields in the layout's order."""
        offsets, owner = _offsets(self.rng, self.rows, most)
        values = fields(owner, len(owner))
        columns = self.layout.lists[name]
        arrays = {
            f: _arrow(values[f] if f in values else self.field(c, len(owner))) for f, c in columns.items()
        }
        return pl.Series(name, _list(offsets, arrays)).cast(self.layout.list_dtype(name))


def _blank(values: np.ndarray, absent: np.ndarray) -> np.ndarray:
    """`values` with the `absent` ones left out (NaT for dates, None otherwise)."""
    if values.dtype.kind == "M":
        return np.where(absent, _NAT, values)
    out = values.astype(object)
    out[absent] = None
    return out


def _arrow(values: pl.Series | np.ndarray) -> pa.Array:
    if isinstance(values, pl.Series):
        return values.to_arrow()
    return pa.array(values.tolist() if values.dtype == object else values)


def _generate_v2(
    rows: int,
    seed: int,
    start: dt.date,
    days: int,
    states: tuple[str, ...],
    pivots: tuple[dt.date, ...],
    actions: tuple[str, ...],
) -> pl.DataFrame:
    """The child-support/v2 table of `generate`: every v2 fact, drawn to reach the v2 rules' edges."""
    layout = layout_for(case_schema("child-support/v2"))
    rng = np.random.default_rng([seed, 2])
    as_of = np.datetime64(start) + rng.integers(0, days, rows).astype("timedelta64[D]")
    if pivots:
        near = np.array(pivots, dtype="datetime64[D]")[rng.integers(0, len(pivots), rows)]
        as_of = np.where(rng.random(rows) < 0.2, near + rng.integers(-1, 2, rows), as_of)
    d = _Draw(rng, as_of, layout)
    c: dict[str, Any] = {name: d.field(column) for name, column in layout.scalars.items()}
    c |= {"case_id": np.array([f"V{seed:03d}-{i:09d}" for i in range(rows)]), "as_of": as_of}
    c |= {name: d.ago(ago, absent) for name, (ago, absent) in _DAYS.items()}
    c |= {name: d.share(p) for name, p in _YES.items()}
    c |= {name: d.pick(values) for name, values in _PICKS.items()}
    c |= {name: d.money(d.pick(cents), absent) for name, (cents, absent) in _CENTS.items()}
    c["jurisdiction.state"] = state = d.pick(states)
    c["jurisdiction.county"] = county = np.full(rows, None, dtype=object)
    for code in set(states):
        here = state == code
        county[here] = d.pick((*COUNTIES_V2.get(code, ("Travis",)), None), int(here.sum()))
    c["paying_parent.residence_county"] = _blank(d.pick((*COUNTIES_V2["CA"], "Milwaukee")), d.share(0.7))
    # household income on 70% of the median of the county the low-income test reads, or a cent off
    obligor = pl.Series(_arrow(c["paying_parent.residence_county"])).fill_null(pl.Series(_arrow(county)))
    median = obligor.replace_strict(CA_MEDIAN_CENTS, default=0, return_dtype=pl.Int64).fill_null(0).to_numpy()
    limit = median * 70 // 100 + d.pick([-100_000, -1, 0, 1, 100_000])
    income = np.where((median > 0) & d.share(0.7), limit, rng.integers(0, 20_000_000, rows))
    c["paying_parent.household_income_annual"] = d.money(income, 0.25)

    # Support on a threshold, on whole months or anywhere; birth costs and interest sometimes chosen
    # so that a Wisconsin sum (intercept balance, lien or license amount) lands on its threshold.
    monthly = d.pick(MONTHLY_CENTS)
    anywhere = rng.integers(0, 800_000, (2, rows))
    on_month = d.pick(range(5)) * monthly
    family = np.select([d.share(0.3), d.share(0.5)], [on_month, d.pick(V2_THRESHOLD_CENTS)], anywhere[0])
    owed_state = np.where(d.share(0.55), 0, np.where(d.share(0.5), d.pick(V2_THRESHOLD_CENTS), anywhere[1]))
    support = family + owed_state
    sums = d.pick([14999, 15000, 15001, 49999, 50000, 50001, 99999, 100000, 100001])
    births = np.where(d.share(0.5), d.pick([0, 1, 5000, 100000]), np.maximum(sums + monthly - support, 0))
    lien = np.where(d.share(0.5), sums, 3 * monthly + d.pick([-1, 0, 1]))
    interest = np.where(d.share(0.5), d.pick([0, 1, 2500, 40000]), np.maximum(lien - support, 0))
    has = {"births": d.share(0.4), "interest": d.share(0.5), "fees": d.share(0.3)}
    has |= {"births_state": has["births"] & d.share(0.7), "interest_state": has["interest"] & d.share(0.7)}
    births, interest, fees = (
        births * has["births"],
        interest * has["interest"],
        d.pick([0, 2500]) * has["fees"],
    )
    births_state = np.minimum(births, d.pick([0, 1000, births.max()])) * has["births_state"]
    interest_state = np.minimum(interest, d.pick([0, 500, interest.max()])) * has["interest_state"]
    owed_family = family + births - births_state + fees + interest - interest_state
    owed_state_all = owed_state + births_state + interest_state
    ages = [support]
    for _ in range(3):  # more than 30, 60, 90 days past due: each at most the one before
        ages.append(np.minimum(np.where(d.share(0.4), ages[-1], d.pick(V2_THRESHOLD_CENTS)), ages[-1]))
    c |= {
        "order.monthly_amount": d.money(monthly),
        "arrears.family_owed": d.money(owed_family),
        "arrears.state_owed": d.money(owed_state_all),
        "arrears.state_owed_pre_1996": d.money(np.minimum(owed_state_all, d.pick([0, 0, 5000, 100000]))),
        "arrears.support_family_owed": d.money(family, 0.25),
        "arrears.support_state_owed": d.money(owed_state, 0.25),
        "arrears.birth_costs": d.money(births, ~has["births"]),
        "arrears.birth_costs_state_owed": d.money(births_state, ~has["births_state"]),
        "arrears.fees": d.money(fees, ~has["fees"]),
        "arrears.interest": d.money(interest, ~has["interest"]),
        "arrears.interest_state_owed": d.money(interest_state, ~has["interest_state"]),
        "arrears.past_due_over_30_days": d.money(ages[1], 0.2),
        "arrears.past_due_over_60_days": d.money(ages[2], 0.2),
        "arrears.past_due_over_90_days": d.money(ages[3], 0.2),
    }
    services = _blank(d.pick(("open", "open", "open", "open", "open", "closed", "never")), d.share(0.03))
    closed, military = services == "closed", d.share(0.05)
    opened = _blank(d.ago([0, 10, 29, 30, 31, 59, 60, 61, 100, 400, 2000], 0.15), services == "never")
    established = np.where(d.share(0.1), d.ago([119, 120, 121], 0), d.ago(range(4000), 0))
    jailed = c["paying_parent.incarcerated"] = d.share(0.08)
    balance = c["paying_parent.accounts_total_balance"]
    decided = np.maximum(c["paying_parent.hearing_requested_on"], d.ago([-1, 0, 1, 5], 0))
    c |= {
        "ivd.services": services,
        "ivd.opened_on": opened,
        "ivd.closed_on": _blank(d.ago(range(300), 0), ~closed),
        "ivd.closure_reason": _blank(c["ivd.closure_reason"], ~closed),
        "order.established_on": established,
        # California's "delinquent when opened": more than 60 days from the oldest unpaid to opening
        "arrears.oldest_unpaid_due_on": np.where(
            d.share(0.5), d.ago([59, 60, 61, 62, 200], 0.3, opened), d.ago(range(1500), 0.3)
        ),
        "paying_parent.incarcerated_since": _blank(d.ago(range(2000), 0), ~jailed),
        "paying_parent.expected_release": _blank(d.ago([30, 0, -179, -180, -181, -365, -1500], 0), ~jailed),
        "paying_parent.military_active_duty": military,
        "paying_parent.scra_stay_requested_on": _blank(d.ago(range(120), 0), ~military | d.share(0.6)),
        "paying_parent.hearing_decided_on": (decided := _blank(decided, d.share(0.5))),
        "paying_parent.hearing_outcome": _blank(c["paying_parent.hearing_outcome"], np.isnat(decided)),
        "paying_parent.fidm_match_on": _blank(d.ago(range(90), 0), balance.is_null().to_numpy()),
    }
    unemployment = np.full(rows, _NAT)  # when a case's unemployment income started (an anchor)

    def income_sources(owner: np.ndarray, n: int) -> dict[str, Any]:
        kind, started = d.pick(_INCOME, n), d.ago([0, 1, 2, 30, 100, 400], 0.3, as_of[owner])
        unemployment[owner[kind == "unemployment"]] = started[kind == "unemployment"]
        return {"type": kind, "started_on": started}

    lists = {"paying_parent.income_sources": d.items("paying_parent.income_sources", 3, income_sources)}
    # Enforcement entries dated on, or a day either side of, a date a rule compares them with
    # (delinquency, new hire, employer, incarceration, unemployment, California's noncompliance,
    # lien life, review window, warm-handoff lookback); the rest at random.
    delinquency = c["arrears.delinquency_identified_on"]
    anchors = [delinquency, c["paying_parent.new_hire_reported_on"], c["paying_parent.employer_since"]]
    anchors += [c["paying_parent.incarcerated_since"], unemployment, as_of - 1826, as_of - 180, as_of - 365]
    anchors += [
        c["order.current_support_paid_in_full_through"] + 1,
        np.where(np.isnat(delinquency), established, delinquency),
    ]
    ladders = np.where(d.share(0.5), rng.integers(0, len(LADDERS), rows), -1)  # half the cases climb one

    def enforcement(owner: np.ndarray, n: int) -> dict[str, Any]:
        anchored = np.stack(anchors, axis=1)[owner, rng.integers(0, len(anchors), n)] + rng.integers(-1, 2, n)
        step = np.minimum(np.arange(n) - np.searchsorted(owner, owner), LADDERS.shape[1] - 1)
        loose = as_of[owner] - d.days(range(-5, 900), n)
        climbing, status = ladders[owner] >= 0, d.field(d.layout.lists["enforcement"]["status"], n)
        return {
            "action": np.where(climbing, LADDERS[ladders[owner], step], d.pick(actions, n)),
            "status": np.where(climbing, d.pick(("sent", "completed", "sent", "pending"), n), status),
            "date": np.where(np.isnat(anchored) | d.share(0.4, n), loose, anchored),
            "expires_on": _blank(as_of[owner] + d.days([-1, 0, 1, 365], n), d.share(0.7, n)),
        }

    def payments(owner: np.ndarray, n: int) -> dict[str, Any]:
        back = (-5, 0, 0, 1, 3, 10, 25, 29, 30, 31, 40, 89, 90, 91, 119, 120, 121, 200, 400)
        amount = np.where(d.share(0.5, n), monthly[owner], rng.integers(1, 60_000, n))
        source = d.pick((*d.layout.lists["payments"]["source"].choices, "in_kind", "voluntary"), n)
        return {"date": as_of[owner] - d.days(back, n), "amount": d.money(amount), "source": source}

    lists |= {
        "enforcement": d.items("enforcement", 6, enforcement),
        "payments": d.items("payments", 4, payments),
        "paying_parent.licenses": d.items("paying_parent.licenses", 3, lambda owner, n: {}),
        "paying_parent.warrants": d.items(
            "paying_parent.warrants", 2, lambda owner, n: {"issued_on": d.ago(range(800), 0, as_of[owner])}
        ),
    }
    scalars = [pl.Series(name, _arrow(c[name])).cast(column.dtype) for name, column in layout.scalars.items()]
    return pl.DataFrame(scalars).with_columns(*lists.values()).select(list(layout.dtypes))
