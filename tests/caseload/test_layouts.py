"""The in-memory API (`PolicySet.evaluate_frame`) and the wide decisions layout (issue 16):
polars and pandas frames in, decisions and error frames out; the wide table (one row per case)
says what the long one says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from cspolicy import load_policy
from cspolicy.caseload.streaming import CaseloadEvaluator, evaluate_frame
from cspolicy.caseload.synthetic import generate
from cspolicy.cli import main

from helpers import ROOT

WISCONSIN = ROOT / "policies" / "wisconsin" / "2025.1"


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    frame = generate(2500, seed=11, start=dt.date(2025, 2, 1), days=200)
    bad = frame.head(3).with_columns(pl.lit(None, dtype=pl.String).alias("case_id"))  # error rows
    return pl.concat([frame, bad])


def wide_as_long(wide: pl.DataFrame) -> set[tuple[int, str, str]]:
    statuses = [c for c in wide.columns if c.startswith("status.")]
    long = wide.select("row_number", *statuses).unpivot(index="row_number", on=statuses)
    return {
        (row, rule.removeprefix("status."), status)
        for row, rule, status in long.drop_nulls("value").iter_rows()
    }


def test_wide_and_long_agree(table: pl.DataFrame) -> None:
    policy = load_policy(WISCONSIN)
    long = policy.evaluate_frame(table)
    wide = policy.evaluate_frame(table, layout="wide")
    assert long.errors.equals(wide.errors) and long.errors.height == 3
    assert wide.decisions.height == table.height - 3  # one row per decided case
    assert wide.decisions.get_column("row_number").is_sorted()
    from_long = {
        (r, str(rule), str(s))
        for r, rule, s in long.decisions.select("row_number", "rule", "status").iter_rows()
    }
    assert wide_as_long(wide.decisions) == from_long
    # outputs and due dates: per rule in the wide table, per row in the long one
    recommended = long.decisions.filter(pl.col("status") == "recommended")
    outputs = [c for c in long.decisions.columns if c.startswith("outputs.")]
    for row in recommended.iter_rows(named=True):
        case = wide.decisions.row(
            row["row_number"] - 1 - _errors_before(long.errors, row["row_number"]), named=True
        )
        assert case["row_number"] == row["row_number"]
        for name in outputs:
            column = f"outputs.{row['rule']}.{name.removeprefix('outputs.')}"
            if column in case:
                assert case[column] == row[name], (row["row_number"], column)
        if f"due_by.{row['rule']}" in case:
            assert case[f"due_by.{row['rule']}"] == row["due_by"]


def _errors_before(errors: pl.DataFrame, row_number: int) -> int:
    return errors.filter(pl.col("row_number") < row_number).height


def test_reference_mode_builds_the_same_wide_table(table: pl.DataFrame) -> None:
    policy = load_policy(WISCONSIN)
    small = table.head(300)
    fast = evaluate_frame(policy, small, layout="wide")
    evaluator = CaseloadEvaluator(policy, "wide")
    evaluator.plan = None  # force the per-case reference evaluator
    slow = evaluator.evaluate(small)
    assert fast.decisions.columns == slow.decisions.columns
    assert fast.decisions.equals(slow.decisions)
    assert fast.errors.equals(slow.errors)


def test_pandas_frames_are_accepted(table: pl.DataFrame) -> None:
    pytest.importorskip("pandas")
    policy = load_policy(WISCONSIN)
    small = table.head(200)
    from_pandas = policy.evaluate_frame(small.to_pandas(use_pyarrow_extension_array=True))
    assert from_pandas.decisions.equals(policy.evaluate_frame(small).decisions)
    with pytest.raises(TypeError, match="polars or pandas DataFrame"):
        policy.evaluate_frame([1, 2, 3])
    with pytest.raises(ValueError, match="layout must be one of"):
        policy.evaluate_frame(small, layout="tall")


def test_cli_batch_layout_wide(
    tmp_path: Path, table: pl.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "cases.parquet"
    table.head(400).write_parquet(source)
    output = tmp_path / "wide.parquet"
    assert (
        main(
            [
                "batch",
                str(source),
                "--policy",
                str(WISCONSIN),
                "--as-of",
                "2025-06-01",
                "-o",
                str(output),
                "--layout",
                "wide",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "(vectorized)" in printed
    wide = pl.read_parquet(output)
    assert any(c.startswith("status.") for c in wide.columns) and "action" not in wide.columns
    long_output = tmp_path / "long.parquet"
    assert (
        main(["batch", str(source), "--policy", str(ROOT / "policies" / "wisconsin"), "-o", str(long_output)])
        == 0
    )
    assert "status" in pl.read_parquet(long_output).columns
    versioned = tmp_path / "versioned-wide.parquet"
    assert (
        main(
            [
                "batch",
                str(source),
                "--policy",
                str(ROOT / "policies" / "wisconsin"),
                "-o",
                str(versioned),
                "--layout",
                "wide",
            ]
        )
        == 0
    )
    assert (
        pl.read_parquet(versioned).height + pl.read_parquet(tmp_path / "versioned-wide.errors.parquet").height
        == 400
    )
