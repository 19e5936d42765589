"""Caseloads as tables: the flat column layout of a case schema, converters and row errors.

Layout (documented in docs/guides/caseloads.md), read from the policy's case schema
(`cspolicy.engine.caseschema.CaseSchema`; child-support/v1 when none is named):
- every scalar field of the schema is one column named by its dotted path, in schema order;
- money is `Decimal(38, 2)` (whole cents), a number `Decimal(38, 6)`, a whole number `Int64`,
  dates are `Date`, yes/no are `Boolean`, text and choices are text;
- every list field is a list-of-struct column whose struct fields are the item fields; in CSV a
  list cell holds the JSON array of the items;
- a null cell means the field was left out: the schema's default applies (an error for a
  required field).

A validated table also carries `case_id` and `as_of` (the schema's identity fields under those
names) when the schema calls them something else, so results and the vectorized plan read them
the same way for every schema.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from cspolicy.diagnostics import SnapshotError
from cspolicy.engine.caseschema import CaseSchema, default_case_schema
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.source.caseschema import FieldDoc, FieldType

MONEY_SCALE = 2
MONEY = pl.Decimal(38, MONEY_SCALE)
NUMBER_SCALE = 6  # a `number` field of a caseload: at most 6 decimals, kept exactly
NUMBER = pl.Decimal(38, NUMBER_SCALE)
IDENTITY_COLUMNS = ("case_id", "as_of")  # what results and the vectorized plan read


@dataclass(frozen=True)
class Column:
    """One field of the flat layout: its kind (text|choice|money|number|integer|bool|date) and constraints."""

    name: str
    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    max_length: int | None = None
    min_length: int | None = None

    @property
    def dtype(self) -> pl.DataType:
        return _DTYPES[self.kind]

    @property
    def scale(self) -> int | None:
        """Digits after the point of a money or number column."""
        return MONEY_SCALE if self.kind == "money" else NUMBER_SCALE if self.kind == "number" else None


_DTYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "choice": pl.String(),
    "money": MONEY,
    "number": NUMBER,
    "integer": pl.Int64(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
}


def column_of(name: str, doc: FieldDoc) -> Column:
    """The column of one scalar field spec (a field of the case or of a list item)."""
    return Column(
        name,
        doc.type.value,
        required=doc.required,
        default=None if doc.optional or doc.required else _default(doc),
        choices=tuple(doc.choices or ()),
        pattern=doc.pattern,
        max_length=doc.max_length,
        min_length=doc.min_length,
    )


def _default(doc: FieldDoc) -> Any:
    value = doc.default
    if doc.type in (FieldType.MONEY, FieldType.NUMBER) and value is not None:
        return Decimal(str(value))
    if doc.type is FieldType.DATE and isinstance(value, dt.datetime):
        return value.date()
    return value


@dataclass(frozen=True)
class RowError:
    """A caseload row that could not be decided: its 1-based row number, case id (if readable) and why."""

    row_number: int
    case_id: str | None
    reason: str


@dataclass
class Layout:
    """The flat layout of one case schema: scalar columns, list tables, identity columns."""

    schema: CaseSchema
    scalars: dict[str, Column]
    lists: dict[str, dict[str, Column]]
    required_lists: frozenset[str] = frozenset()
    aliases: dict[str, str] = field(default_factory=dict)  # `case_id` / `as_of` → the schema's path

    @property
    def case_id(self) -> str:
        """The column of the case number in a raw table."""
        return self.schema.identity["case_id"] or "case_id"

    @property
    def as_of(self) -> str:
        """The column of the snapshot date in a raw table."""
        return self.schema.identity["as_of"] or "as_of"

    @property
    def jurisdiction(self) -> str | None:
        """The column checked against a policy's jurisdiction (None: the schema has none)."""
        return self.schema.identity.get("jurisdiction")

    @property
    def dtypes(self) -> dict[str, pl.DataType]:
        """The canonical caseload schema, column by column, in schema order."""
        return {
            **{name: column.dtype for name, column in self.scalars.items()},
            **{name: self.list_dtype(name) for name in self.lists},
        }

    def list_dtype(self, name: str) -> pl.DataType:
        """The list-of-struct type of list column `name`."""
        return pl.List(pl.Struct({f: c.dtype for f, c in self.lists[name].items()}))

    def identity_columns(self) -> list[pl.Expr]:
        """`case_id` / `as_of` copied from the schema's identity fields when named otherwise."""
        return [pl.col(path).alias(alias) for alias, path in self.aliases.items()]

    # -- snapshots ⇄ table ------------------------------------------------------------------
    def snapshot_row(self, snapshot: CaseSnapshot) -> dict[str, Any]:
        """One snapshot as a row of the flat layout."""
        data = snapshot.model_dump()
        row: dict[str, Any] = {}
        for name in (*self.scalars, *self.lists):
            value: Any = data
            for part in name.split("."):
                value = value[part]
            row[name] = value
        return row

    def empty_frame(self) -> pl.DataFrame:
        """A caseload table with no rows."""
        return pl.DataFrame(schema=self.dtypes)

    def check_cents(self, row: dict[str, Any]) -> None:
        """ValueError when an amount has more digits than its column keeps."""
        case = row[self.case_id]
        for name, column in self.scalars.items():
            if column.scale is not None and not _exact(row[name], column.scale):
                raise ValueError(f"case {case}: {name} has {_too_fine(column)} ({row[name]})")
        for name, items in self.lists.items():
            for item in row[name]:
                for field_name, column in items.items():
                    if column.scale is not None and not _exact(item[field_name], column.scale):
                        raise ValueError(
                            f"case {case}: {name}[].{field_name} has {_too_fine(column)} ({item[field_name]})"
                        )

    def row_to_dict(self, row: dict[str, Any]) -> dict[str, Any]:
        """A flat row (dotted keys) as the nested mapping the snapshot model validates; null
        cells are left out."""
        nested: dict[str, Any] = {}
        for name, value in row.items():
            if value is None:
                continue
            if name in self.lists and isinstance(value, list):
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

    def frame_to_snapshots(
        self, frame: pl.DataFrame, first_row: int = 1
    ) -> Iterator[CaseSnapshot | RowError]:
        """Each row of a caseload table as a validated snapshot, or a RowError saying why not."""
        extra = [name for name in self.aliases if name in frame.columns]
        for offset, row in enumerate(frame.drop(extra).iter_rows(named=True)):
            number = first_row + offset
            reason = row.pop("__reason", None)
            if reason is not None:
                yield RowError(number, None, reason)
                continue
            decoded = self._decode_lists(row)
            if isinstance(decoded, str):
                yield RowError(number, self._case_id(row), decoded)
                continue
            yield self._validate(self.row_to_dict(decoded), number)

    def _validate(self, data: Any, number: int) -> CaseSnapshot | RowError:
        try:
            return CaseSnapshot.parse(data, source=f"row {number}", schema=self.schema)
        except SnapshotError as exc:
            reason = "; ".join(problem.message for problem in exc.problems)
            return RowError(number, self._case_id(data) if isinstance(data, dict) else None, reason)

    def _case_id(self, row: dict[str, Any]) -> str | None:
        value: Any = row.get(self.case_id)
        if value is None and "." in self.case_id:  # a nested mapping
            value = row
            for part in self.case_id.split("."):
                value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) and value else None

    def _decode_lists(self, row: dict[str, Any]) -> dict[str, Any] | str:
        """CSV list cells hold JSON arrays: decode them (a reason string when one is not valid JSON)."""
        decoded = dict(row)
        for name in self.lists:
            value = row.get(name)
            if isinstance(value, str):
                try:
                    decoded[name] = json.loads(value, parse_float=Decimal) if value.strip() else None
                except json.JSONDecodeError as exc:
                    return f"{name}: not a JSON list of items ({exc.msg} at character {exc.pos})"
        return decoded


def _too_fine(column: Column) -> str:
    return "fractions of a cent" if column.kind == "money" else f"more than {NUMBER_SCALE} decimal places"


def _exact(value: Decimal | None, scale: int) -> bool:
    return value is None or value == value.quantize(Decimal(1).scaleb(-scale))


_LAYOUTS: OrderedDict[tuple[Any, str], Layout] = OrderedDict()


def layout_for(schema: CaseSchema | None = None) -> Layout:
    """The flat layout of `schema` (child-support/v1 when None), built once per schema."""
    schema = schema or default_case_schema()
    key = (schema.path, schema.digest)
    found = _LAYOUTS.get(key)
    if found is not None:
        return found
    scalars: dict[str, Column] = {}
    lists: dict[str, dict[str, Column]] = {}
    required_lists: set[str] = set()
    for path, leaf in schema.leaves.items():
        if leaf.type is FieldType.LIST:
            lists[path] = {name: column_of(name, item) for name, item in leaf.items.items()}
            if leaf.required:
                required_lists.add(path)
        else:
            scalars[path] = column_of(path, leaf.doc)
    aliases: dict[str, str] = {}
    for alias in IDENTITY_COLUMNS:
        path = schema.identity.get(alias) or alias
        if path == alias:
            continue
        if alias in scalars or alias in lists:
            raise ValueError(
                f"case schema {schema.name}: a field is called {alias!r} but the identity {alias} is"
                f" {path!r}; the caseload layout uses {alias!r} for the identity"
            )
        aliases[alias] = path
    layout = Layout(schema, scalars, lists, frozenset(required_lists), aliases)
    _LAYOUTS[key] = layout
    while len(_LAYOUTS) > 32:
        _LAYOUTS.popitem(last=False)
    return layout


# -- module-level helpers (the default schema unless a layout is given) ---------------------------
def list_dtype(name: str, layout: Layout | None = None) -> pl.DataType:
    """The list-of-struct type of list column `name`."""
    return (layout or layout_for()).list_dtype(name)


def snapshot_row(snapshot: CaseSnapshot, layout: Layout | None = None) -> dict[str, Any]:
    """One snapshot as a row of the flat layout (of the snapshot's own schema by default)."""
    return (layout or layout_for(type(snapshot).case_schema())).snapshot_row(snapshot)


def snapshots_to_frame(snapshots: Iterable[CaseSnapshot], layout: Layout | None = None) -> pl.DataFrame:
    """A caseload table (canonical schema) from snapshots. Sub-cent amounts raise ValueError.

    The layout is the first snapshot's schema's unless one is given."""
    rows: list[dict[str, Any]] = []
    for snapshot in snapshots:
        if layout is None:
            layout = layout_for(type(snapshot).case_schema())
        row = layout.snapshot_row(snapshot)
        layout.check_cents(row)
        rows.append(row)
    layout = layout or layout_for()
    return pl.DataFrame(rows, schema=layout.dtypes, orient="row") if rows else layout.empty_frame()


def empty_frame(layout: Layout | None = None) -> pl.DataFrame:
    """A caseload table with no rows."""
    return (layout or layout_for()).empty_frame()


def row_to_dict(row: dict[str, Any], layout: Layout | None = None) -> dict[str, Any]:
    """A flat row (dotted keys) as the nested mapping a snapshot validates; null cells are left out."""
    return (layout or layout_for()).row_to_dict(row)


def frame_to_snapshots(
    frame: pl.DataFrame, first_row: int = 1, layout: Layout | None = None
) -> Iterator[CaseSnapshot | RowError]:
    """Each row of a caseload table as a validated CaseSnapshot, or a RowError saying why not."""
    return (layout or layout_for()).frame_to_snapshots(frame, first_row)


def __getattr__(name: str) -> Any:
    """`SCALAR_COLUMNS`, `LIST_COLUMNS` and `SCHEMA` of the default schema (child-support/v1),
    built on first use."""
    if name in ("SCALAR_COLUMNS", "LIST_COLUMNS", "SCHEMA"):
        layout = layout_for()
        return {"SCALAR_COLUMNS": layout.scalars, "LIST_COLUMNS": layout.lists, "SCHEMA": layout.dtypes}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    SCALAR_COLUMNS: dict[str, Column]
    LIST_COLUMNS: dict[str, dict[str, Column]]
    SCHEMA: dict[str, pl.DataType]
