"""JSON Lines read columnar with pyarrow's strict JSON reader, in a case schema's nested layout.

The reader is given the layout's nested snapshot schema (yes/no fields as booleans, every other
scalar as text) and rejects a whole block for anything a line-by-line read would treat
differently: an unknown or twice-given key, a number or an object where text belongs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from cspolicy.caseload.tables import Layout


@dataclass
class Nested:
    """A layout's nested snapshot type (every scalar as text) and its pyarrow reading schema."""

    layout: Layout
    dtype: pl.Struct
    arrow: Any = None


NESTED_BY_LAYOUT: dict[int, Nested] = {}


def nested_layout(layout: Layout) -> Nested:
    """The nested reading schema of `layout`, built once per layout."""
    found = NESTED_BY_LAYOUT.get(id(layout))
    if found is None or found.layout is not layout:
        found = NESTED_BY_LAYOUT[id(layout)] = Nested(layout, _nested_dtype(layout))
    return found


def _nested_dtype(layout: Layout) -> pl.Struct:
    """The flat layout as the nested snapshot it came from, every scalar as text."""
    tree: dict[str, Any] = {}
    for name in layout.scalars:
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = pl.String()
    for name, items in layout.lists.items():
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = pl.List(pl.Struct(dict.fromkeys(items, pl.String())))

    def build(node: dict[str, Any]) -> pl.Struct:
        return pl.Struct({k: build(v) if isinstance(v, dict) else v for k, v in node.items()})

    return build(tree)


def arrow_schema(dtype: pl.DataType, layout: Layout) -> Any:
    """The nested layout for pyarrow's JSON reader: yes/no fields as booleans, all else text."""
    import pyarrow as pa

    def arrow(name: str, inner: Any, path: str) -> Any:
        if isinstance(inner, pl.Struct):
            return pa.struct(
                [pa.field(f.name, arrow(f.name, f.dtype, f"{path}{f.name}.")) for f in inner.fields]
            )
        if isinstance(inner, pl.List):
            items = layout.lists[path.rstrip(".")]
            return pa.list_(pa.struct([pa.field(k, _arrow_leaf(c.kind)) for k, c in items.items()]))
        column = layout.scalars.get(path.rstrip("."))
        return _arrow_leaf(column.kind if column else "text")

    assert isinstance(dtype, pl.Struct)
    return pa.schema([pa.field(f.name, arrow(f.name, f.dtype, f"{f.name}.")) for f in dtype.fields])


def _arrow_leaf(kind: str) -> Any:
    import pyarrow as pa

    return pa.bool_() if kind == "bool" else pa.string()


def arrow_decode(lines: pl.Series, nested: Nested) -> pl.DataFrame | None:
    """pyarrow's JSON reader on the lines (several times faster than polars' decoder), strict:
    any number where text is expected, text where yes/no is, or an unknown field rejects the
    whole part (None), which polars' decoder then reads."""
    table = arrow_table(("\n".join(lines.to_list()) + "\n").encode("utf-8"), lines.len(), nested)
    if table is None:
        return None
    flat = pl.from_arrow(table)
    assert isinstance(flat, pl.DataFrame)
    decoded = flat.select(pl.struct(flat.columns).alias("s"))
    return decoded.cast({"s": nested.dtype})  # yes/no back to the text the layout reads


def arrow_table(data: bytes, rows: int, nested: Nested) -> Any:
    """The strict reader on JSON Lines bytes holding `rows` snapshots: an arrow table, or None."""
    import pyarrow as pa
    import pyarrow.json as pajson

    if nested.arrow is None:
        nested.arrow = arrow_schema(nested.dtype, nested.layout)
    options = pajson.ParseOptions(explicit_schema=nested.arrow, unexpected_field_behavior="error")
    try:
        table = pajson.read_json(pa.BufferReader(data), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if table.num_rows == rows else None


def arrow_flat(data: bytes, rows: int, nested: Nested) -> pl.DataFrame | None:
    """`_arrow_table` flattened by pyarrow to dotted names (yes/no stay booleans: checks take them)."""
    import pyarrow as pa

    table = arrow_table(data, rows, nested)
    if table is None:
        return None
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    flat = pl.from_arrow(table)
    assert isinstance(flat, pl.DataFrame)
    return flat
