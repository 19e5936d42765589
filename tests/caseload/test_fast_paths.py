"""The caseload's fast paths give what the plain ones give: Parquet read by polars' streaming
reader (pyarrow's when polars rejects the file), the validation expressions cached per input
schema, absent list columns materialized, exact products with a whole-number side, and
aggregates over the items that count."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cspolicy import load_policy
from cspolicy.caseload import readers
from cspolicy.caseload.checks import check_table
from cspolicy.caseload.readers import iter_tables
from cspolicy.caseload.streaming import evaluate_frame
from cspolicy.caseload.synthetic import generate
from cspolicy.caseload.tables import layout_for

ROOT = Path(__file__).resolve().parents[2]


def _typed_parquet(path: Path, rows: int) -> pa.Table:
    rng = random.Random(3)
    table = pa.table(
        {
            "case_id": [f"C{i:05d}" for i in range(rows)],
            "amount": pa.array(
                [None if i % 7 == 0 else Decimal(rng.randrange(10**6)) / 100 for i in range(rows)],
                type=pa.decimal128(12, 2),
            ),
            "day": [dt.date(2024, 1, 1) + dt.timedelta(days=i % 300) for i in range(rows)],
            "items": [
                [{"code": f"a{j}", "on": dt.date(2024, 2, j + 1)} for j in range(i % 4)] for i in range(rows)
            ],
        }
    )
    pq.write_table(table, path, row_group_size=37)
    return table


def test_parquet_chunks_match_pyarrow_in_order(tmp_path: Path) -> None:
    path = tmp_path / "cases.parquet"
    table = _typed_parquet(path, 500)
    chunks = list(iter_tables(path, 64))
    assert all(0 < chunk.height <= 64 for chunk in chunks)
    assert pl.concat(chunks).equals(pl.from_arrow(table))  # type: ignore[arg-type]


def test_parquet_polars_cannot_open_is_read_by_pyarrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cases.parquet"
    table = _typed_parquet(path, 120)

    def rejects(*args: object, **kwargs: object) -> None:
        raise pl.exceptions.ComputeError("unsupported")

    monkeypatch.setattr(readers.pl, "scan_parquet", rejects)
    chunks = list(iter_tables(path, 50))
    assert [chunk.height for chunk in chunks] == [50, 50, 20]
    assert pl.concat(chunks).equals(pl.from_arrow(table))  # type: ignore[arg-type]


def test_cached_validation_follows_the_input_schema() -> None:
    """The same columns typed differently are validated each by their own expressions."""
    layout = layout_for()
    frame = generate(30, seed=11)
    typed = check_table(frame, 1, layout)
    assert typed.errors.height == 0
    as_text = frame.with_columns(pl.col("order.monthly_amount").cast(pl.String))
    as_text = as_text.with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(pl.lit("ten"))
        .otherwise(pl.col("order.monthly_amount"))
        .alias("order.monthly_amount")
    )
    checked = check_table(as_text, 1, layout)
    assert checked.errors.get_column("row_number").to_list() == [5]
    assert "order.monthly_amount: not an amount (got ten)" in checked.errors.get_column("reason")[0]
    again = check_table(frame, 1, layout)  # the typed schema's expressions, from the cache
    assert again.valid.equals(typed.valid)


def test_absent_list_column_is_empty_lists_and_decides_the_same() -> None:
    policy = load_policy(ROOT / "policies" / "wisconsin")
    layout = layout_for(policy.case_schema)
    frame = generate(200, seed=5)
    absent = [name for name in layout.lists if name not in frame.columns]
    assert absent, "the synthetic caseload should lack a list column of the schema"
    valid = check_table(frame, 1, layout).valid
    for name in absent:
        column = valid.get_column(name)
        assert column.dtype == layout.list_dtype(name)
        assert column.list.len().to_list() == [0] * frame.height
    explicit = frame.with_columns(
        pl.Series(name, [[] for _ in range(frame.height)], dtype=layout.list_dtype(name)) for name in absent
    )
    assert evaluate_frame(policy, frame, layout="wide").decisions.equals(
        evaluate_frame(policy, explicit, layout="wide").decisions
    )
