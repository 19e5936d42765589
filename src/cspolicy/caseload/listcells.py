"""List columns as a caseload table brings them: JSON text cells (CSV, JSON Lines) decoded
into lists of items, a list column the input lacks as real empty lists, and the texts of an
item field that break its pattern (tried once per distinct text)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import polars as pl

from cspolicy.caseload.tables import Layout

NOT_A_LIST = "__not_a_list__"


def materialized(checked: pl.DataFrame, raw: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """`checked` with the empty lists of a list column the input lacks as a real column: polars
    keeps a literal as one value broadcast on use, and broadcasting a list of structs again for
    every expression that reads it cost more than deciding the table (10 ms per 200,000 rows)."""
    absent = [
        name
        for name in layout.lists
        if name not in raw.columns or raw.schema[name] == pl.Null or raw.schema[name] == pl.List(pl.Null)
    ]
    if not absent or not checked.height:
        return checked
    return checked.with_columns(
        _empty_lists(name, layout.list_dtype(name), checked.height) for name in absent
    )


def _empty_lists(name: str, dtype: pl.DataType, rows: int) -> pl.Series:
    """`rows` empty lists of `dtype`, built from offsets (all zero) around no items."""
    import pyarrow as pa

    inner = pl.Series(name, [], dtype=dtype.inner).to_arrow()  # type: ignore[attr-defined]
    offsets = pl.zeros(rows + 1, dtype=pl.Int64, eager=True).to_arrow()
    lists = pa.LargeListArray.from_arrays(offsets, inner)
    return pl.Series(name, lists, dtype=dtype)


def pattern_misses(raw: pl.DataFrame, layout: Layout) -> dict[str, dict[str, list[str]]]:
    """Per list and item field with a pattern, the distinct texts that do not match it: the
    pattern is tried once per distinct text rather than once per item (item texts such as
    action codes repeat)."""
    misses: dict[str, dict[str, list[str]]] = {}
    for name, items in layout.lists.items():
        dtype = raw.schema.get(name)
        if not (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)):
            continue
        present = {f.name: instance(f.dtype) for f in dtype.inner.fields}
        flat = None
        for field, column in items.items():
            if not column.pattern or column.kind not in ("text", "choice"):
                continue
            if not (
                present.get(field) == pl.String or isinstance(present.get(field), pl.Categorical | pl.Enum)
            ):
                continue
            if flat is None:
                flat = raw.get_column(name).explode(empty_as_null=False, keep_nulls=False)
            texts = flat.struct.field(field).cast(pl.String).unique().drop_nulls()
            misses.setdefault(name, {})[field] = texts.filter(~texts.str.contains(column.pattern)).to_list()
    return misses


def listable(series: pl.Series) -> pl.Series:
    """A list column as list-of-struct: JSON text cells (CSV, JSON Lines) decoded item by item."""
    if series.dtype != pl.String:
        return series
    items: list[list[dict[str, Any]] | None] = []
    names: dict[str, None] = {}
    for cell in series:
        decoded = _decode(cell)
        items.append(decoded)
        for item in decoded or []:
            names.update(dict.fromkeys(item))
    fields = dict.fromkeys(names or ["_"], pl.String())
    return pl.Series(series.name, items, dtype=pl.List(pl.Struct(fields)), strict=False)


def _decode(cell: str | None) -> list[dict[str, Any]] | None:
    if cell is None or not cell.strip():
        return None
    try:
        data = json.loads(cell, parse_float=Decimal)
    except json.JSONDecodeError:
        return [{NOT_A_LIST: cell[:40]}]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        return [{NOT_A_LIST: cell[:40]}]
    return [{key: text_cell(value) for key, value in item.items()} for item in data]


def text_cell(value: Any) -> str | None:
    """A cell of a text column as the per-line reader gives it: JSON scalars as their text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return json.dumps(value, default=str)


def instance(dtype: Any) -> pl.DataType:
    return dtype() if isinstance(dtype, type) else dtype  # type: ignore[no-any-return]
