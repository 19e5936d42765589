"""The caseload layout: snapshots to table and back, every reader, and rows that are not snapshots."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from cspolicy.caseload.readers import read_snapshots, read_table, write_csv
from cspolicy.caseload.tables import SCHEMA, RowError, frame_to_snapshots, snapshots_to_frame
from cspolicy.engine.snapshot import CaseSnapshot

from helpers import ROOT

EXAMPLES = sorted((ROOT / "examples" / "cases").glob("*.yaml"))


@pytest.fixture(scope="module")
def snapshots() -> list[CaseSnapshot]:
    return [CaseSnapshot.from_file(path) for path in EXAMPLES]


def test_table_has_the_documented_layout(snapshots: list[CaseSnapshot]) -> None:
    frame = snapshots_to_frame(snapshots)
    assert frame.schema == pl.Schema(SCHEMA)
    assert frame.height == len(snapshots)
    assert frame.schema["arrears.family_owed"] == pl.Decimal(38, 2)
    assert frame.schema["payments"] == pl.List(
        pl.Struct(
            {"date": pl.Date, "amount": pl.Decimal(38, 2), "applied_to": pl.String, "source": pl.String}
        )
    )


def test_round_trip_gives_back_the_same_snapshots(snapshots: list[CaseSnapshot]) -> None:
    back = list(frame_to_snapshots(snapshots_to_frame(snapshots)))
    assert back == snapshots


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".arrow", ".jsonl"])
def test_every_file_format_reads_back_the_same_snapshots(
    snapshots: list[CaseSnapshot], tmp_path: Path, suffix: str
) -> None:
    frame = snapshots_to_frame(snapshots)
    path = tmp_path / f"caseload{suffix}"
    if suffix == ".parquet":
        frame.write_parquet(path)
    elif suffix == ".csv":
        write_csv(frame, path)
    elif suffix == ".arrow":
        frame.write_ipc(path)
    else:
        path.write_text("".join(s.model_dump_json() + "\n" for s in snapshots))
    assert list(read_snapshots(path, batch_size=7)) == snapshots


def test_pandas_and_polars_frames_are_caseloads(snapshots: list[CaseSnapshot]) -> None:
    frame = snapshots_to_frame(snapshots)
    assert list(read_snapshots(frame)) == snapshots
    assert list(read_snapshots(frame.to_pandas())) == snapshots


def test_bad_rows_become_row_errors_in_place(tmp_path: Path, snapshots: list[CaseSnapshot]) -> None:
    good = snapshots[0].model_dump(mode="json")
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "case_id": "BAD-1", "arrears": {"family_owed": "-5"}}),
        json.dumps([1, 2]),
        json.dumps({**good, "case_id": "BAD-2", "surprise": 1}),
        json.dumps(good),
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n")
    results = list(read_snapshots(path))
    assert len(results) == 6, "nothing is dropped"
    assert isinstance(results[0], CaseSnapshot) and isinstance(results[5], CaseSnapshot)
    errors = {r.row_number: r for r in results if isinstance(r, RowError)}
    assert sorted(errors) == [2, 3, 4, 5]
    assert "not valid JSON" in errors[2].reason
    assert errors[3].case_id == "BAD-1" and "arrears.family_owed" in errors[3].reason
    assert "negative" in errors[3].reason
    assert "one snapshot" in errors[4].reason
    assert "surprise: unknown field" in errors[5].reason


def test_amounts_in_a_table_are_whole_cents(snapshots: list[CaseSnapshot]) -> None:
    odd = snapshots[0].model_copy(
        update={"arrears": snapshots[0].arrears.model_copy(update={"family_owed": Decimal("10.005")})}
    )
    with pytest.raises(ValueError, match="fractions of a cent"):
        snapshots_to_frame([odd])


def test_csv_cells_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(
        "case_id,as_of,jurisdiction.state,order.established_on,order.monthly_amount,payments\n"
        '007,2025-03-01,WI,2020-01-01,350.10,"[{""date"": ""2025-02-01"", ""amount"": ""100.00""}]"\n'
    )
    (case,) = list(read_snapshots(path))
    assert isinstance(case, CaseSnapshot)
    assert case.case_id == "007", "a case number keeps its leading zeros"
    assert case.payments[0].amount == Decimal("100.00")
    assert read_table(path).schema["order.monthly_amount"] == pl.String


def test_csv_lines_with_the_wrong_number_of_fields_are_error_rows_in_place(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "case_id,as_of,jurisdiction.state,order.established_on,order.monthly_amount\n"
        "A,2025-03-01,WI,2020-01-01,10\n"
        "B,2025-03-01,WI\n"
        "C,2025-03-01,WI,2020-01-01,10\n"
        "D,2025-03-01,WI,2020-01-01,10,extra\n"
        "E,2025-03-01,WI,2020-01-01,10\n"
    )
    results = list(read_snapshots(path, batch_size=2))
    assert [getattr(r, "case_id", None) for r in results] == ["A", None, "C", None, "E"]
    errors = [r for r in results if isinstance(r, RowError)]
    assert [e.row_number for e in errors] == [2, 4]
    assert errors[0].reason == "line 3: 5 fields expected, 3 found"
    assert errors[1].reason == "line 5: 5 fields expected, 6 found"
