"""Reading and writing caseload files: Parquet, Arrow/IPC, CSV and JSON Lines, in chunks.

Files are read as raw tables in the flat layout of `cspolicy.caseload.tables` (not yet validated);
`read_snapshots` validates them row by row. A CSV list cell holds the JSON array of the items.
Parquet, Arrow and CSV files are read as they are; JSON Lines of nested snapshots are unnested
with the layout of the case schema (child-support/v1 unless a layout is given).
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from cspolicy.caseload.arrowjson import Nested, arrow_decode, arrow_flat, nested_layout
from cspolicy.caseload.listcells import text_cell
from cspolicy.caseload.tables import Layout, RowError, layout_for
from cspolicy.engine.snapshot import CaseSnapshot

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


def iter_tables(
    source: CaseloadSource, batch_size: int = 250_000, layout: Layout | None = None
) -> Iterator[pl.DataFrame]:
    """The caseload in chunks of at most `batch_size` rows, as raw tables (not yet validated).

    Parquet, Arrow/IPC and CSV files are read incrementally; JSON Lines of nested snapshots are
    parsed columnar and unnested to the layout (`_jsonl_frames`; a line that is not a JSON object
    becomes a row whose reason is kept in the `__reason` column). pandas and polars frames are
    sliced.
    """
    if isinstance(source, pl.DataFrame):  # one chunk: polars 2.1 can panic filtering a multi-chunk frame
        yield from source.rechunk().iter_slices(batch_size)
        return
    if not isinstance(source, str | Path):
        yield from pl.from_pandas(source).iter_slices(batch_size)
        return
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such caseload file")
    kind = source_format(path)
    if kind == "parquet":
        yield from _parquet_tables(path, batch_size)
    elif kind == "ipc":
        yield from _ipc_batches(path, batch_size)
    elif kind == "csv":
        yield from _csv_tables(path, batch_size)
    else:
        yield from _jsonl_tables(path, batch_size, layout or layout_for())


def _parquet_tables(path: Path, batch_size: int) -> Iterator[pl.DataFrame]:
    """A Parquet file in chunks, read by polars' own streaming reader (about a third of the CPU
    of pyarrow's batches converted to polars frames; memory stays bounded); by pyarrow when
    polars cannot open the file."""
    try:
        scan = pl.scan_parquet(path, glob=False, hive_partitioning=False)
        batches = iter(scan.collect_batches(chunk_size=batch_size))
        first = next(batches, None)
    except Exception:  # a file polars' reader rejects: pyarrow's decides
        yield from _pyarrow_parquet(path, batch_size)
        return
    for frame in itertools.chain([] if first is None else [first], batches):
        if frame.height:
            yield frame


def _pyarrow_parquet(path: Path, batch_size: int) -> Iterator[pl.DataFrame]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as handle:
        for batch in handle.iter_batches(batch_size=batch_size):
            yield _from_arrow(batch)


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


def _jsonl_tables(path: Path, batch_size: int, layout: Layout) -> Iterator[pl.DataFrame]:
    """JSON Lines of nested snapshots, parsed columnar: each block of lines by pyarrow's strict
    reader at once, which rejects every line the line checks guard against (an unknown or
    twice-given key, an object or a number where text belongs, a line that is not one JSON
    object), so a block it takes reads exactly as line by line. A block it rejects goes through
    `_jsonl_frames`: polars' decoder, and the lines it could get wrong (numbers of 16+ digits
    or with an exponent, a count of keys differing from what it kept) line by line."""
    nested = nested_layout(layout)
    with path.open("rb") as handle:
        while block := list(itertools.islice(handle, batch_size)):
            whole = arrow_flat(b"".join(block) + b"\n", sum(1 for line in block if line.strip()), nested)
            if whole is not None:
                if whole.height:  # a block of blank lines holds no row
                    yield whole
                continue
            text = io.TextIOWrapper(io.BytesIO(b"".join(block)), encoding="utf-8")  # newlines as before
            lines = [line for line in text if line.strip()]
            yield from _jsonl_frames(lines, layout)


# a key whose value is not null ("key": followed by anything but `null`)
_KEY_WITH_VALUE = r'"(?:[^"\\]|\\.)*"\s*:\s*[^n\s]'
# a number the float-based decoder may not keep exactly: 16+ digits, or an exponent
_LONG_NUMBER = r"[0-9.]{16,}|[0-9.][eE][+-]?[0-9]"


def _instance(dtype: Any) -> pl.DataType:
    return dtype() if isinstance(dtype, type) else dtype  # type: ignore[no-any-return]


def _kept(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """How many keys with a value the decoded `expr` holds (a struct counts itself and its keys)."""
    if isinstance(dtype, pl.Struct):
        inner = [_kept(expr.struct.field(f.name), _instance(f.dtype)) for f in dtype.fields]
        return expr.is_not_null().cast(pl.Int64) + pl.sum_horizontal(inner).fill_null(0)
    if isinstance(dtype, pl.List):
        item = dtype.inner
        assert isinstance(item, pl.Struct)
        per_item = pl.sum_horizontal(
            [pl.element().struct.field(f.name).is_not_null().cast(pl.Int64) for f in item.fields]
        )
        return expr.is_not_null().cast(pl.Int64) + expr.list.eval(per_item).list.sum().fill_null(0)
    return expr.is_not_null().cast(pl.Int64)


def _decode(lines: pl.Series, nested: Nested) -> pl.DataFrame | None:
    """The lines decoded to the nested layout (a struct column `s`) with the keys kept per
    line (`kept`), or None when the decoder rejects one of them."""
    frame = arrow_decode(lines, nested)
    if frame is None:
        try:
            frame = lines.str.json_decode(nested.dtype).alias("s").to_frame()
        except pl.exceptions.PolarsError:
            return None
    return frame.with_columns(
        (_kept(pl.col("s"), nested.dtype) - 1).alias("kept").fill_null(0)
    )  # not the line


def _columnar(lines: pl.Series, nested: Nested) -> list[tuple[pl.DataFrame | None, list[int]]]:
    """Decode `lines`: parts of (decoded frame or None, positions), halving a part the decoder
    rejects until the rejected lines are single (read line by line)."""
    positions = list(range(lines.len()))
    pending = [(lines, positions)]
    done: list[tuple[pl.DataFrame | None, list[int]]] = []
    while pending:
        part, where = pending.pop()
        decoded = _decode(part, nested)
        if decoded is not None:
            done.append((decoded, where))
        elif part.len() == 1:
            done.append((None, where))
        else:
            half = part.len() // 2
            pending += [(part.slice(0, half), where[:half]), (part.slice(half), where[half:])]
    return done


def _flat(frame: pl.DataFrame, nested: pl.Struct) -> pl.DataFrame:
    """A decoded nested frame unnested to the flat layout's dotted names (lists stay lists)."""
    columns: list[pl.Expr] = []

    def walk(expr: pl.Expr, dtype: pl.DataType, name: str) -> None:
        if isinstance(dtype, pl.Struct):
            for f in dtype.fields:
                walk(expr.struct.field(f.name), _instance(f.dtype), f"{name}.{f.name}" if name else f.name)
        else:
            columns.append(expr.alias(name))

    walk(pl.col("s"), nested, "")
    return frame.select(columns)


def _jsonl_frames(raw: list[str], layout: Layout | None = None) -> Iterator[pl.DataFrame]:
    """One chunk of JSON Lines as raw tables, in line order: runs of lines parsed columnar and
    runs read line by line (their columns differ, so they are separate tables)."""
    lines = pl.Series("line", raw, dtype=pl.String).str.strip_chars()
    layout = layout or layout_for()
    nested = nested_layout(layout)
    plain = (
        lines.str.starts_with("{") & lines.str.ends_with("}") & ~lines.str.contains(_LONG_NUMBER)
    ).to_list()
    wanted = lines.str.count_matches(_KEY_WITH_VALUE)
    fast = [i for i, ok in enumerate(plain) if ok]
    columnar = [False] * len(raw)
    pieces: list[pl.DataFrame] = []
    for decoded, where in _columnar(lines.gather(fast), nested) if fast else []:
        if decoded is None:
            continue
        rows = [fast[i] for i in where]
        agrees = decoded.get_column("kept") == wanted.gather(rows)
        good = [row for row, ok in zip(rows, agrees.to_list(), strict=True) if ok]
        for row in good:
            columnar[row] = True
        if good:
            pieces.append(_flat(decoded.filter(agrees), nested.dtype).with_columns(pl.Series(ROW_LINE, good)))
    table = pl.concat(pieces).sort(ROW_LINE).drop(ROW_LINE) if pieces else None
    start, taken = 0, 0
    while start < len(raw):
        end = start
        while end < len(raw) and columnar[end] == columnar[start]:
            end += 1
        if columnar[start]:
            assert table is not None
            yield table.slice(taken, end - start)
            taken += end - start
        else:
            yield _json_frame([_jsonl_row(raw[i], layout) for i in range(start, end)])
        start = end


ROW_LINE = "__line"


def _jsonl_row(line: str, layout: Layout | None = None) -> dict[str, Any]:
    try:
        data = json.loads(line, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        return {"__reason": f"not valid JSON ({exc.msg} at character {exc.pos})"}
    if not isinstance(data, dict):
        return {"__reason": "a line must hold one snapshot (a JSON object)"}
    return flatten(data, layout=layout)


def flatten(data: dict[str, Any], prefix: str = "", layout: Layout | None = None) -> dict[str, Any]:
    """A nested snapshot mapping as a flat row with dotted keys; list fields stay lists."""
    lists = (layout or layout_for()).lists
    row: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in lists:
            row.update(flatten(value, name + ".", layout))
        else:
            row[name] = value
    return row


def _json_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows from JSON as a table of text cells (lists as JSON text), validated like CSV cells."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {name: [text_cell(row.get(name)) for row in rows] for name in names}
    return pl.DataFrame(columns, schema=dict.fromkeys(names, pl.String()))


def read_table(source: CaseloadSource, layout: Layout | None = None) -> pl.DataFrame:
    """The whole caseload as one raw table (not validated): see `iter_tables`."""
    layout = layout or layout_for()
    frames = list(iter_tables(source, batch_size=1_000_000, layout=layout))
    if not frames:
        return layout.empty_frame()
    return pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]


def read_snapshots(
    source: CaseloadSource, batch_size: int = 50_000, layout: Layout | None = None
) -> Iterator[CaseSnapshot | RowError]:
    """Every case of a caseload, in order: a CaseSnapshot, or a RowError for a row that is not valid.

    Nothing is dropped: the n-th item describes the n-th row (1-based `row_number`).
    """
    layout = layout or layout_for()
    number = 1
    for table in iter_tables(source, batch_size, layout):
        yield from layout.frame_to_snapshots(table, number)
        number += table.height


def write_csv(frame: pl.DataFrame, path: str | Path) -> None:
    """Write a caseload table as CSV, list columns as JSON arrays (what the CSV reader expects)."""
    encoded = frame.with_columns(
        pl.col(name).map_elements(_json_list, return_dtype=pl.String)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.List)
    )
    encoded.write_csv(path)


def _json_list(items: Any) -> str:
    values = items.to_list() if isinstance(items, pl.Series) else items
    return json.dumps(values, default=str)
