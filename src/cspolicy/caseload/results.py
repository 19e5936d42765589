"""What a caseload run produces: the long decisions table and the run's counts.

Decisions columns: `row_number` (1-based row of the input), `case_id`, `as_of`, `action`,
`rule`, `kind`, `status` (recommended | held | waiting), `held_by`, `waiting_for`, `priority`,
`due_by`, `overdue`, and `outputs.NAME` for each output the policy computes (null unless
recommended). Rows are ordered like `Decision`: per case, recommended actions by priority, then
held, then waiting, each in policy order. `long_table` assembles it from the wide frame that the
vectorized plan (`cspolicy.caseload.batch`) computes: per rule `status.RULE`, `held_by.RULE`,
`due.RULE`, `out.RULE.NAME`, and `taken.CODE` per action a rule requires.
"""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from cspolicy.caseload.checks import ROW

if TYPE_CHECKING:
    from cspolicy.engine.compiler import CompiledPolicy

STATUSES = ("recommended", "held", "waiting")
BASE_SCHEMA: dict[str, pl.DataType] = {
    "row_number": pl.Int64(),
    "case_id": pl.String(),
    "as_of": pl.Date(),
    "action": pl.String(),
    "rule": pl.String(),
    "kind": pl.String(),
    "status": pl.String(),
    "held_by": pl.String(),
    "waiting_for": pl.List(pl.String()),
    "priority": pl.Int64(),
    "due_by": pl.Date(),
    "overdue": pl.Boolean(),
}


@dataclass
class BatchResult:
    """Decisions and error rows of one evaluated table."""

    decisions: pl.DataFrame
    errors: pl.DataFrame
    rows: int
    rechecked: int = 0  # rows the reference decided in a vectorized run (mode `mixed`)

    @property
    def decided(self) -> int:
        return self.rows - self.errors.height


@dataclass
class BatchSummary:
    """What a caseload run did: rows read, cases decided, error rows, actions by code, time."""

    rows: int = 0
    decided: int = 0
    errors: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    mode: str = "vectorized"  # vectorized | reference | mixed (some rows decided by the reference)
    rule_actions: dict[str, str] = field(default_factory=dict)  # to count actions of a wide table

    @property
    def reconciles(self) -> bool:
        """rows in = cases decided + error rows."""
        return self.rows == self.decided + self.errors

    @property
    def cases_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def add(self, result: BatchResult) -> None:
        self.rows += result.rows
        self.decided += result.decided
        self.errors += result.errors.height
        if result.rechecked and self.mode == "vectorized":
            self.mode = "mixed"
        self.actions.update(recommended_counts(result.decisions, self.rule_actions))


def recommended_counts(decisions: pl.DataFrame, rule_actions: dict[str, str]) -> Counter[str]:
    """Recommended actions by code, from a long or a wide decisions table (a wide table's
    status columns name rules: `rule_actions` maps them to their action codes)."""
    counts: Counter[str] = Counter()
    if "status" in decisions.columns:
        recommended = decisions.filter(pl.col("status") == "recommended")
        for action, count in recommended.group_by("action").len().iter_rows():
            counts[action] += count
        return counts
    columns = [name for name in decisions.columns if name.startswith("status.")]
    if not columns or not decisions.height:
        return counts
    totals = decisions.select((pl.col(name) == "recommended").sum() for name in columns).row(0)
    for name, count in zip(columns, totals, strict=True):
        if count:
            rule = name.removeprefix("status.")
            counts[rule_actions.get(rule, rule)] += count
    return counts


def decision_enums(compiled: CompiledPolicy) -> dict[str, pl.DataType]:
    """The text columns of the decisions table as Enums of a policy's values: cheap to
    sort and write (dictionary-encoded in Parquet), and they read back as text."""
    rules = compiled.rules.values()
    return {
        "action": pl.Enum(sorted({r.rule.action or "" for r in rules})),
        "rule": pl.Enum(sorted(r.id for r in rules)),
        "kind": pl.Enum(sorted({r.rule.kind.value for r in rules})),
        "status": pl.Enum(list(STATUSES)),
        "held_by": pl.Enum(sorted(r.id for r in rules if r.is_hold)),
    }


def output_types(
    compiled: CompiledPolicy, output_names: list[str], frame: pl.LazyFrame
) -> dict[str, pl.DataType]:
    """One type per output name over every rule computing it (Decimal at the widest scale);
    text when the rules disagree (an amount in one, a date or a quotient's text in another):
    each value is then written as exact text, and no digit is lost to a narrower type."""
    found: dict[str, list[pl.DataType]] = {}
    schema = frame.collect_schema()
    for rule_id, rule in compiled.rules.items():
        for name in rule.outputs:
            dtype = schema.get(f"out.{rule_id}.{name}")
            if dtype is not None:
                found.setdefault(name, [])
                if dtype != pl.Null:
                    found[name].append(dtype)
    mixed = mixed_outputs(compiled)
    types: dict[str, pl.DataType] = {}
    for name in output_names:
        dtypes = found.get(name)
        if name in mixed or dtypes is None:
            types[name] = pl.String()
        elif not dtypes:  # only ever null (`None`)
            types[name] = pl.Null()
        elif all(isinstance(dtype, pl.Decimal) for dtype in dtypes):
            types[name] = pl.Decimal(38, max(dtype.scale or 0 for dtype in dtypes))  # type: ignore[attr-defined]
        elif all(dtype == dtypes[0] for dtype in dtypes):
            types[name] = dtypes[0]
        else:  # e.g. a number as a decimal in one rule, a quotient's text in another
            types[name] = pl.String()
    return types


def mixed_outputs(compiled: CompiledPolicy) -> frozenset[str]:
    """Output names whose rules compute them as different types (money in one rule, a number
    in another): a caseload table writes them as text. Found once per compiled policy (the
    reference path asks for every decision)."""
    cached = _MIXED.get(id(compiled))
    if cached is not None and cached[0]() is compiled:
        return cached[1]
    kinds: dict[str, set[object]] = {}
    for rule in compiled.rules.values():
        for name, expression in rule.outputs.items():
            kinds.setdefault(name, set()).add(expression.node.type)
    known = frozenset(name for name, found in kinds.items() if len(found) > 1)
    if len(_MIXED) >= 64:
        _MIXED.clear()
    _MIXED[id(compiled)] = (weakref.ref(compiled), known)
    return known


# by id (a compiled policy is an unhashable dataclass), with a weak reference to check it is the same
_MIXED: dict[int, tuple[weakref.ref[CompiledPolicy], frozenset[str]]] = {}


def _position(compiled: CompiledPolicy, rule_id: str, status: pl.Expr) -> pl.Expr:
    """Where a rule's row goes within its case, as in Decision: recommended actions by
    priority (ties in policy order), then held, then waiting, each in policy order."""
    by_priority = sorted(compiled.rules.values(), key=lambda r: (-r.rule.priority, r.index))
    count = len(compiled.rules)
    recommended = [r.id for r in by_priority].index(rule_id)
    index = compiled.rules[rule_id].index
    return (
        pl.when(status == "recommended")
        .then(pl.lit(recommended))
        .when(status == "held")
        .then(pl.lit(count + index))
        .otherwise(pl.lit(2 * count + index))
        .cast(pl.Int64)
    )


def long_table(
    compiled: CompiledPolicy,
    output_names: list[str],
    frame: pl.LazyFrame,
    types: dict[str, pl.DataType] | None = None,
) -> pl.LazyFrame:
    """The decisions table of the decided rows: one row per (case, rule whose action is
    recommended, held or waiting), ordered like `Decision`; `types`: the outputs' types, when known."""
    parts: list[pl.LazyFrame] = []
    types = types if types is not None else output_types(compiled, output_names, frame)
    names = frame.collect_schema().names()
    enums = decision_enums(compiled)
    for rule_id, rule in compiled.rules.items():
        if rule.is_hold:
            continue
        status = pl.col(f"status.{rule_id}")
        requires = [
            pl.when(pl.col(f"taken.{compiled.rules[r].rule.action or ''}").is_null()).then(
                pl.lit(compiled.rules[r].rule.action or r)
            )
            for r in rule.rule.requires
        ]
        waiting_for = (
            pl.when(status == "waiting").then(pl.concat_list(requires).list.drop_nulls())
            if requires
            else pl.lit(None, dtype=pl.List(pl.String))
        )
        recommended = status == "recommended"
        due_by = pl.when(recommended).then(pl.col(f"due.{rule_id}")) if rule.due_after else None
        columns = [
            pl.col(ROW).alias("row_number"),
            pl.col("case_id"),
            pl.col("as_of"),
            pl.lit(rule.rule.action or "", dtype=enums["action"]).alias("action"),
            pl.lit(rule_id, dtype=enums["rule"]).alias("rule"),
            pl.lit(rule.rule.kind.value, dtype=enums["kind"]).alias("kind"),
            status.cast(enums["status"]).alias("status"),
            (pl.col(f"held_by.{rule_id}") if f"held_by.{rule_id}" in names else pl.lit(None))
            .cast(enums["held_by"])
            .alias("held_by"),
            waiting_for.cast(pl.List(pl.String)).alias("waiting_for"),
            pl.lit(rule.rule.priority, dtype=pl.Int64).alias("priority"),
            (due_by if due_by is not None else pl.lit(None, dtype=pl.Date)).alias("due_by"),
            (pl.col("as_of") > due_by if due_by is not None else pl.lit(None, dtype=pl.Boolean)).alias(
                "overdue"
            ),
            (pl.col(ROW) * (3 * len(compiled.rules)) + _position(compiled, rule_id, status)).alias("__order"),
            *(
                (
                    pl.when(recommended).then(pl.col(f"out.{rule_id}.{name}")).cast(dtype)
                    if name in rule.outputs
                    else pl.lit(None, dtype=dtype)
                ).alias(f"outputs.{name}")
                for name, dtype in types.items()
            ),
        ]
        parts.append(frame.filter(status.is_not_null()).select(columns))
    empty = {**BASE_SCHEMA, **enums, **{f"outputs.{name}": dtype for name, dtype in types.items()}}
    if not parts:
        return pl.LazyFrame(schema=empty)
    table = pl.concat(parts, how="vertical").sort("__order").drop("__order")
    outputs = [f"outputs.{name}" for name in output_names]
    return table.select(*BASE_SCHEMA, *outputs)


def wide_table(
    compiled: CompiledPolicy,
    output_names: list[str],
    frame: pl.LazyFrame,
    types: dict[str, pl.DataType] | None = None,
) -> pl.LazyFrame:
    """The wide decisions table of the decided rows: one row per case (in input order) with
    `row_number`, `case_id`, `as_of`, then per rule that leads to an action (policy order)
    `status.RULE` (recommended, held, waiting or null when it does not apply), `due_by.RULE`
    for rules with a clock and `outputs.RULE.NAME` for its outputs (null unless recommended)."""
    types = types if types is not None else output_types(compiled, output_names, frame)
    status_type = pl.Enum(list(STATUSES))
    columns: list[pl.Expr] = [pl.col(ROW).alias("row_number"), pl.col("case_id"), pl.col("as_of")]
    for rule_id, rule in compiled.rules.items():
        if rule.is_hold:
            continue
        status = pl.col(f"status.{rule_id}")
        recommended = status == "recommended"
        columns.append(status.cast(status_type).alias(f"status.{rule_id}"))
        if rule.due_after:
            columns.append(pl.when(recommended).then(pl.col(f"due.{rule_id}")).alias(f"due_by.{rule_id}"))
        for name in rule.outputs:
            columns.append(
                pl.when(recommended)
                .then(pl.col(f"out.{rule_id}.{name}"))
                .cast(types.get(name, pl.String()))
                .alias(f"outputs.{rule_id}.{name}")
            )
    return frame.select(columns)


def wide_schema(compiled: CompiledPolicy, output_types: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """The wide table's schema, given each output's type by name."""
    schema: dict[str, pl.DataType] = {"row_number": pl.Int64(), "case_id": pl.String(), "as_of": pl.Date()}
    for rule_id, rule in compiled.rules.items():
        if rule.is_hold:
            continue
        schema[f"status.{rule_id}"] = pl.Enum(list(STATUSES))
        if rule.due_after:
            schema[f"due_by.{rule_id}"] = pl.Date()
        for name in rule.outputs:
            schema[f"outputs.{rule_id}.{name}"] = output_types.get(name, pl.String())
    return schema


def long_to_wide(
    compiled: CompiledPolicy, decisions: pl.DataFrame, cases: pl.DataFrame, schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """A long decisions table as the wide one. `cases` are the decided rows (`row_number`,
    `case_id`, `as_of`, in order): a case with no decision row has only null statuses."""
    rows: dict[int, dict[str, object]] = {
        number: {"row_number": number, "case_id": case_id, "as_of": as_of}
        for number, case_id, as_of in cases.select("row_number", "case_id", "as_of").iter_rows()
    }
    outputs = [name for name in decisions.columns if name.startswith("outputs.")]
    for row in decisions.iter_rows(named=True):
        wide = rows[row["row_number"]]
        rule = row["rule"]
        wide[f"status.{rule}"] = row["status"]
        if f"due_by.{rule}" in schema:
            wide[f"due_by.{rule}"] = row["due_by"]
        for name in outputs:
            column = f"outputs.{rule}.{name.removeprefix('outputs.')}"
            if column in schema:
                wide[column] = row[name]
    text = {name: pl.String() for name, dtype in schema.items() if isinstance(dtype, pl.Enum)}
    frame = pl.DataFrame(list(rows.values()), schema={**schema, **text}, orient="row", strict=False)
    return frame.cast(schema)  # type: ignore[arg-type]


def conform(decisions: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Decisions with exactly `schema`'s columns and types (a missing output column is null)."""
    if decisions.schema == schema:
        return decisions  # the vectorized plan's usual case: nothing to recast
    decisions = decisions.with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
        if name not in decisions.columns
    )
    decisions = decisions.select(list(schema))
    text = {name: pl.String() for name, dtype in decisions.schema.items() if isinstance(dtype, pl.Enum)}
    return decisions.cast(text).cast(schema)  # type: ignore[arg-type]
