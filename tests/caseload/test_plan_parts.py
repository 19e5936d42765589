"""The faster pieces of the vectorized plan give what the plain computations give: taken dates
from one pass over the action history, cents rounded half away from zero, plans compiled once
per policy, and JSON Lines blocks read whole by pyarrow split into lines as before."""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest

from cspolicy import load_policy
from cspolicy.caseload.batch import cached_plan, round_cents
from cspolicy.caseload.planparts import last_taken
from cspolicy.caseload.readers import iter_tables
from cspolicy.caseload.streaming import evaluate_frame
from cspolicy.caseload.synthetic import generate
from cspolicy.source.vocabulary import TAKEN_STATUSES

ROOT = Path(__file__).resolve().parents[2]
HISTORY = pl.List(pl.Struct({"action": pl.String, "date": pl.Date, "status": pl.String}))


def _plain_last_taken(rows: list[list[dict[str, object]] | None], code: str) -> list[dt.date | None]:
    out: list[dt.date | None] = []
    for entries in rows:
        dates = [
            e["date"]
            for e in entries or []
            if e["action"] == code and e["status"] in TAKEN_STATUSES and e["date"] is not None
        ]
        out.append(max(dates) if dates else None)  # type: ignore[type-var]
    return out


def test_last_taken_matches_a_plain_scan() -> None:
    rng = random.Random(7)
    actions = ["docket_lien", "send_delinquency_notice", "refer_for_contempt", "other"]
    statuses = ["sent", "completed", "pending", "cancelled"]
    rows: list[list[dict[str, object]] | None] = []
    for _ in range(400):
        if rng.random() < 0.1:
            rows.append(None)
            continue
        rows.append(
            [
                {
                    "action": rng.choice(actions),
                    "date": None
                    if rng.random() < 0.05
                    else dt.date(2024, 1, 1) + dt.timedelta(rng.randrange(500)),
                    "status": rng.choice(statuses),
                }
                for _ in range(rng.randrange(6))
            ]
        )
    codes = ["docket_lien", "refer_for_contempt", "send_delinquency_notice"]
    columns = last_taken(pl.Series("enforcement", rows, dtype=HISTORY), codes)
    assert [c.name for c in columns] == [f"taken.{code}" for code in codes]
    for code, column in zip(codes, columns, strict=True):
        assert column.dtype == pl.Date
        assert column.to_list() == _plain_last_taken(rows, code)
    assert any(v is not None for c in columns for v in c.to_list())  # the data exercises the scan


def test_last_taken_of_an_empty_table() -> None:
    columns = last_taken(pl.Series("enforcement", [], dtype=HISTORY), ["docket_lien"])
    assert [(c.name, c.len()) for c in columns] == [("taken.docket_lien", 0)]


@pytest.mark.parametrize("scale", [0, 2, 3, 6])
def test_round_cents_is_half_away_from_zero(scale: int) -> None:
    rng = random.Random(scale)
    step = Decimal(1).scaleb(-scale)
    values = [Decimal(rng.randrange(-(10**9), 10**9)) * step for _ in range(300)]
    values += [Decimal("0.005"), Decimal("-0.005"), Decimal("2.345"), Decimal("-2.675"), Decimal("0.004999")]
    values = [v.quantize(step) if scale else v.quantize(Decimal(1)) for v in values]
    frame = pl.DataFrame({"a": values}, schema={"a": pl.Decimal(38, scale)})
    got = frame.select(round_cents(pl.col("a"))).to_series().to_list()
    assert got == [v.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for v in values]


def test_a_plan_is_compiled_once_per_policy_and_decides_alike() -> None:
    policy = load_policy(ROOT / "policies" / "wisconsin")
    assert cached_plan(policy) is cached_plan(policy)
    other = load_policy(ROOT / "policies" / "wisconsin")
    assert cached_plan(other) is not cached_plan(policy)
    frame = generate(300, seed=11, start=dt.date(2025, 1, 13), days=200)
    first = evaluate_frame(policy, frame, layout="wide")
    again = evaluate_frame(policy, frame, layout="wide")
    fresh = evaluate_frame(other, frame, layout="wide")
    assert first.decisions.equals(again.decisions) and first.decisions.equals(fresh.decisions)
    assert first.decisions.height + first.errors.height == 300


def test_json_lines_split_on_the_same_newlines_as_before(tmp_path: Path) -> None:
    """A block pyarrow takes whole is read as is; one it rejects is split into lines as text
    mode splits them (a lone carriage return ends a line too)."""
    good = '{"case_id": "A1", "as_of": "2025-03-01"}\n{"case_id": "A2", "as_of": "2025-03-01"}\n\n'
    path = tmp_path / "good.jsonl"
    path.write_bytes(good.encode())
    assert [t.get_column("case_id").to_list() for t in iter_tables(path, 10)] == [["A1", "A2"]]
    odd = tmp_path / "odd.jsonl"
    odd.write_bytes(
        b'{"case_id": "B1", "as_of": "2025-03-01"}\r{"case_id": "B2", "as_of": "2025-03-01"}\n[1]\n'
    )
    rows = pl.concat([t for t in iter_tables(odd, 10)], how="diagonal_relaxed")
    assert rows.height == 3
    assert rows.get_column("case_id").to_list()[:2] == ["B1", "B2"]
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes(b"\n   \n\n")
    assert list(iter_tables(blank, 10)) == []  # blank lines hold no rows, as before
