"""Caseloads as tables: the flat column layout of snapshot v1, converters, readers and row errors.

Layout (documented in docs/guides/caseloads.md):
- every scalar snapshot field is one column named by its dotted path (`arrears.family_owed`);
- money is `Decimal(38, 2)` (whole cents), dates are `Date`, yes/no are `Boolean`, the rest text;
- the four list fields (`payments`, `paying_parent.licenses`, `paying_parent.warrants`,
  `enforcement`) are list-of-struct columns whose struct fields are the item fields; in CSV a
  list cell holds the JSON array of the items;
- a null cell means the field was left out: the snapshot default applies (an error for the
  required fields `case_id`, `as_of`, `jurisdiction.state`, `order.established_on`,
  `order.monthly_amount`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from cspolicy.diagnostics import SnapshotError
from cspolicy.engine.snapshot import CaseSnapshot

MONEY_SCALE = 2
MONEY = pl.Decimal(38, MONEY_SCALE)


@dataclass(frozen=True)
class Column:
    """One field of the flat layout: its kind (text|money|bool|date|choice) and constraints."""

    name: str
    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    max_length: int | None = None

    @property
    def dtype(self) -> pl.DataType:
        return _DTYPES[self.kind]


_DTYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "choice": pl.String(),
    "money": MONEY,
    "bool": pl.Boolean(),
    "date": pl.Date(),
}

SCALAR_COLUMNS: dict[str, Column] = {
    c.name: c
    for c in [
        Column("case_id", "text", required=True, max_length=64),
        Column("as_of", "date", required=True),
        Column("jurisdiction.state", "text", required=True, pattern=r"^[A-Z]{2}$"),
        Column("jurisdiction.county", "text"),
        Column("order.established_on", "date", required=True),
        Column("order.monthly_amount", "money", required=True),
        Column("order.income_withholding_active", "bool", default=False),
        Column("arrears.family_owed", "money", default=Decimal("0")),
        Column("arrears.state_owed", "money", default=Decimal("0")),
        Column("arrears.state_owed_pre_1996", "money", default=Decimal("0")),
        Column("public_assistance", "choice", default="never", choices=("current", "former", "never")),
        Column(
            "paying_parent.employment",
            "choice",
            default="unknown",
            choices=("employed", "unemployed", "underemployed", "unknown"),
        ),
        Column("paying_parent.employer_known", "bool", default=False),
        Column("paying_parent.address_known", "bool", default=False),
        Column("paying_parent.incarcerated", "bool", default=False),
        Column("paying_parent.incarcerated_since", "date"),
        Column("paying_parent.expected_release", "date"),
        Column("paying_parent.military_active_duty", "bool", default=False),
        Column(
            "paying_parent.programs.employment_training",
            "choice",
            default="none",
            choices=("none", "referred", "enrolled"),
        ),
        Column(
            "paying_parent.programs.payment_plan",
            "choice",
            default="none",
            choices=("none", "active", "defaulted"),
        ),
        Column("receiving_parent.family_violence_indicator", "bool", default=False),
    ]
}

LIST_COLUMNS: dict[str, dict[str, Column]] = {
    "payments": {
        c.name: c
        for c in [
            Column("date", "date", required=True),
            Column("amount", "money", required=True),
            Column(
                "applied_to",
                "choice",
                default="current",
                choices=("current", "family_arrears", "state_arrears"),
            ),
            Column(
                "source", "choice", default="voluntary", choices=("withholding", "voluntary", "intercept")
            ),
        ]
    },
    "paying_parent.licenses": {
        c.name: c
        for c in [
            Column("type", "choice", required=True, choices=("driver", "professional", "recreational")),
            Column("status", "choice", required=True, choices=("active", "suspended", "none")),
        ]
    },
    "paying_parent.warrants": {
        c.name: c
        for c in [
            Column("issued_on", "date", required=True),
            Column("status", "choice", required=True, choices=("active", "cleared")),
        ]
    },
    "enforcement": {
        c.name: c
        for c in [
            Column("action", "text", required=True, pattern=r"^[a-z][a-z0-9_]*$"),
            Column("date", "date", required=True),
            Column(
                "status",
                "choice",
                default="sent",
                choices=("pending", "sent", "completed", "cancelled"),
            ),
        ]
    },
}


def list_dtype(name: str) -> pl.DataType:
    """The list-of-struct type of list column `name`."""
    return pl.List(pl.Struct({f: c.dtype for f, c in LIST_COLUMNS[name].items()}))


SCHEMA: dict[str, pl.DataType] = {
    **{name: column.dtype for name, column in SCALAR_COLUMNS.items()},
    **{name: list_dtype(name) for name in LIST_COLUMNS},
}
"""The canonical caseload schema, column by column, in snapshot order."""


@dataclass(frozen=True)
class RowError:
    """A caseload row that could not be decided: its 1-based row number, case id (if readable) and why."""

    row_number: int
    case_id: str | None
    reason: str


# -- snapshots ⇄ table --------------------------------------------------------------------------
def snapshot_row(snapshot: CaseSnapshot) -> dict[str, Any]:
    """One snapshot as a row of the flat layout."""
    data = snapshot.model_dump()
    row: dict[str, Any] = {}
    for name in SCALAR_COLUMNS:
        value: Any = data
        for part in name.split("."):
            value = value[part]
        row[name] = value
    for name in LIST_COLUMNS:
        value = data
        for part in name.split("."):
            value = value[part]
        row[name] = value
    return row


def snapshots_to_frame(snapshots: Iterable[CaseSnapshot]) -> pl.DataFrame:
    """A caseload table (canonical schema) from snapshots. Sub-cent amounts raise ValueError."""
    rows = [snapshot_row(s) for s in snapshots]
    for row in rows:
        _check_cents(row)
    return pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else empty_frame()


def empty_frame() -> pl.DataFrame:
    """A caseload table with no rows."""
    return pl.DataFrame(schema=SCHEMA)


def _check_cents(row: dict[str, Any]) -> None:
    for name, column in SCALAR_COLUMNS.items():
        if column.kind == "money" and not _whole_cents(row[name]):
            raise ValueError(f"case {row['case_id']}: {name} has fractions of a cent ({row[name]})")
    for item in row["payments"]:
        if not _whole_cents(item["amount"]):
            raise ValueError(f"case {row['case_id']}: a payment has fractions of a cent ({item['amount']})")


def _whole_cents(value: Decimal) -> bool:
    return value == value.quantize(Decimal(1).scaleb(-MONEY_SCALE))


def row_to_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A flat row (dotted keys) as the nested mapping CaseSnapshot validates; null cells are left out."""
    nested: dict[str, Any] = {}
    for name, value in row.items():
        if value is None:
            continue
        if name in LIST_COLUMNS and isinstance(value, list):
            value = [
                {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item
                for item in value
            ]
        target = nested
        *parents, leaf = name.split(".")
        for part in parents:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                child = target[part] = {}
            target = child
        target[leaf] = value
    return nested


def frame_to_snapshots(frame: pl.DataFrame, first_row: int = 1) -> Iterator[CaseSnapshot | RowError]:
    """Each row of a caseload table as a validated CaseSnapshot, or a RowError saying why not."""
    for offset, row in enumerate(frame.iter_rows(named=True)):
        number = first_row + offset
        reason = row.pop("__reason", None)
        if reason is not None:
            yield RowError(number, None, reason)
            continue
        decoded = _decode_lists(row)
        if isinstance(decoded, str):
            yield RowError(number, _case_id(row), decoded)
            continue
        yield _validate(row_to_dict(decoded), number)


def _validate(data: Any, number: int) -> CaseSnapshot | RowError:
    try:
        return CaseSnapshot.parse(data, source=f"row {number}")
    except SnapshotError as exc:
        reason = "; ".join(problem.message for problem in exc.problems)
        return RowError(number, _case_id(data) if isinstance(data, dict) else None, reason)


def _case_id(row: dict[str, Any]) -> str | None:
    value = row.get("case_id")
    return value if isinstance(value, str) and value else None


def _decode_lists(row: dict[str, Any]) -> dict[str, Any] | str:
    """CSV list cells hold JSON arrays: decode them (a reason string when one is not valid JSON)."""
    decoded = dict(row)
    for name in LIST_COLUMNS:
        value = row.get(name)
        if isinstance(value, str):
            try:
                decoded[name] = json.loads(value, parse_float=Decimal) if value.strip() else None
            except json.JSONDecodeError as exc:
                return f"{name}: not a JSON list of items ({exc.msg} at character {exc.pos})"
    return decoded


# -- readers ------------------------------------------------------------------------------------
TABLE_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".arrow": "ipc",
    ".ipc": "ipc",
    ".feather": "ipc",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

CaseloadSource = str | Path | pl.DataFrame | Any  # Any: a pandas DataFrame (pandas is optional)


def source_format(path: Path) -> str:
    """The caseload format of a file, from its suffix; ValueError for an unknown suffix."""
    try:
        return TABLE_SUFFIXES[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(TABLE_SUFFIXES))
        raise ValueError(f"{path}: unknown caseload format {path.suffix!r} (use one of {known})") from None


def iter_tables(source: CaseloadSource, batch_size: int = 250_000) -> Iterator[pl.DataFrame]:
    """The caseload in chunks of at most `batch_size` rows, as raw tables (not yet validated).

    Parquet, Arrow/IPC and CSV files are read incrementally; JSON Lines of nested snapshots are
    flattened to the layout line by line (a line that is not a JSON object becomes a row whose
    reason is kept in the `__reason` column). pandas and polars frames are sliced.
    """
    if isinstance(source, pl.DataFrame):
        yield from source.iter_slices(batch_size)
        return
    if not isinstance(source, str | Path):
        yield from pl.from_pandas(source).iter_slices(batch_size)
        return
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such caseload file")
    kind = source_format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as handle:
            for batch in handle.iter_batches(batch_size=batch_size):
                yield _from_arrow(batch)
    elif kind == "ipc":
        yield from _ipc_batches(path, batch_size)
    elif kind == "csv":
        yield from _csv_tables(path, batch_size)
    else:
        yield from _jsonl_tables(path, batch_size)


def _from_arrow(batch: Any) -> pl.DataFrame:
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _csv_tables(path: Path, batch_size: int) -> Iterator[pl.DataFrame]:
    """CSV read incrementally with every cell as text (an empty cell is null), so the
    validation sees exactly what was written."""
    import csv

    import pyarrow.csv as pacsv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa_string()),
        strings_can_be_null=True,
        null_values=[""],  # only an empty cell is missing: "NaN" or "NULL" are values to check
        quoted_strings_can_be_null=False,
    )
    invalid: list[tuple[int, str]] = []

    def keep_as_error(row: Any) -> str:
        number = row.number if row.number is not None else -1
        invalid.append(
            (number, f"line {row.number}: {row.expected_columns} fields expected, {row.actual_columns} found")
        )
        return "skip"

    reader = pacsv.open_csv(
        path,
        convert_options=convert,
        parse_options=pacsv.ParseOptions(invalid_row_handler=keep_as_error),
        read_options=pacsv.ReadOptions(block_size=1 << 24, use_threads=False),
    )
    yield from _rebatch(_with_invalid_lines((_from_arrow(b) for b in reader), invalid), batch_size)


def _with_invalid_lines(
    frames: Iterable[pl.DataFrame], invalid: list[tuple[int, str]]
) -> Iterator[pl.DataFrame]:
    """Put each CSV line that could not be split into fields back in its place, as a row whose
    `__reason` says why, so it becomes an error row with the right row number.

    A data row is on line (row number + 1) below the header; a line whose number the parser does
    not know is placed where it was reported."""
    row = 1  # row number of the next row to emit
    pending: list[tuple[int, str]] = []
    for frame in frames:
        pending = sorted(pending + invalid)
        invalid.clear()
        pieces: list[pl.DataFrame] = []
        position = 0
        later: list[tuple[int, str]] = []
        for line, reason in pending:
            before = line - 1 - row if line > 0 else 0
            if before > frame.height - position:
                later.append((line, reason))
                continue
            before = max(before, 0)
            pieces.append(frame.slice(position, before))
            position += before
            row += before
            pieces.append(pl.DataFrame({"__reason": [reason]}))
            row += 1
        pieces.append(frame.slice(position))
        row += frame.height - position
        pending = later
        yield pl.concat(pieces, how="diagonal") if len(pieces) > 1 else frame
    leftover = sorted(pending + invalid)
    if leftover:
        yield pl.DataFrame({"__reason": [reason for _, reason in leftover]})


def pa_string() -> Any:
    """The Arrow text type (imported lazily)."""
    import pyarrow as pa

    return pa.string()


def _rebatch(frames: Iterable[pl.DataFrame], batch_size: int) -> Iterator[pl.DataFrame]:
    pending: list[pl.DataFrame] = []
    size = 0
    for frame in frames:
        pending.append(frame)
        size += frame.height
        if size >= batch_size:
            yield from pl.concat(pending, how="diagonal_relaxed").iter_slices(batch_size)
            pending, size = [], 0
    if pending:
        yield from pl.concat(pending, how="diagonal_relaxed").iter_slices(batch_size)


def _ipc_batches(path: Path, batch_size: int) -> Iterator[pl.DataFrame]:
    import pyarrow as pa

    with pa.memory_map(str(path)) as stream:
        try:
            reader: Any = pa.ipc.open_file(stream)
            batches: Iterable[Any] = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:
            stream.seek(0)
            batches = pa.ipc.open_stream(stream)
        yield from _rebatch((_from_arrow(batch) for batch in batches), batch_size)


def _jsonl_tables(path: Path, batch_size: int) -> Iterator[pl.DataFrame]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            rows.append(_jsonl_row(line))
            if len(rows) >= batch_size:
                yield _json_frame(rows)
                rows = []
    if rows:
        yield _json_frame(rows)


def _jsonl_row(line: str) -> dict[str, Any]:
    try:
        data = json.loads(line, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        return {"__reason": f"not valid JSON ({exc.msg} at character {exc.pos})"}
    if not isinstance(data, dict):
        return {"__reason": "a line must hold one snapshot (a JSON object)"}
    return flatten(data)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested snapshot mapping as a flat row with dotted keys; list fields stay lists."""
    row: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in LIST_COLUMNS:
            row.update(flatten(value, name + "."))
        else:
            row[name] = value
    return row


def _json_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows from JSON as a table of text cells (lists as JSON text), validated like CSV cells."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {name: [_json_cell(row.get(name)) for row in rows] for name in names}
    return pl.DataFrame(columns, schema=dict.fromkeys(names, pl.String()))


def _json_cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return json.dumps(value, default=str)


def read_table(source: CaseloadSource) -> pl.DataFrame:
    """The whole caseload as one raw table (not validated): see `iter_tables`."""
    frames = list(iter_tables(source, batch_size=1_000_000))
    if not frames:
        return empty_frame()
    return pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]


def read_snapshots(source: CaseloadSource, batch_size: int = 50_000) -> Iterator[CaseSnapshot | RowError]:
    """Every case of a caseload, in order: a CaseSnapshot, or a RowError for a row that is not valid.

    Nothing is dropped: the n-th item describes the n-th row (1-based `row_number`).
    """
    number = 1
    for table in iter_tables(source, batch_size):
        yield from frame_to_snapshots(table, number)
        number += table.height


def write_csv(frame: pl.DataFrame, path: str | Path) -> None:
    """Write a caseload table as CSV, list columns as JSON arrays (what the CSV reader expects)."""
    encoded = frame.with_columns(
        pl.col(name).map_elements(_json_list, return_dtype=pl.String)
        for name in LIST_COLUMNS
        if name in frame.columns
    )
    encoded.write_csv(path)


def _json_list(items: Any) -> str:
    values = items.to_list() if isinstance(items, pl.Series) else items
    return json.dumps(values, default=str)
