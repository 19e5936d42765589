"""Parts of the vectorized plan that read no compiled rule: the dates actions were taken, clock
arithmetic, and the errors of a case outside the policy's state or dates."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from cspolicy.caseload.tables import Layout
from cspolicy.diagnostics import Code
from cspolicy.source.vocabulary import TAKEN_STATUSES

if TYPE_CHECKING:
    from cspolicy.engine.policy import PolicySet

# The action history `taken()` / `requires` read: a list of (action, date, status) entries, the
# same list the reference evaluator reads (cspolicy.expressions.closures).
HISTORY = "enforcement"


def last_taken(history: pl.Series, codes: list[str]) -> list[pl.Series]:
    """Per code, the latest date of a sent or completed entry of the action history (null
    when none), as `taken.CODE` Date columns: one pass over the flat items, grouped by
    (code, row) cell, scattered into one column that each code's column is a slice of."""
    height = len(history)
    cells = (
        pl.DataFrame({"__position": pl.int_range(height, dtype=pl.Int64, eager=True), HISTORY: history})
        .lazy()
        .explode(HISTORY, empty_as_null=False, keep_nulls=False)
        .select(pl.col("__position"), pl.col(HISTORY).struct.field("action", "date", "status"))
        .filter(pl.col("status").is_in(TAKEN_STATUSES) & pl.col("date").is_not_null())
        .select(
            (
                pl.col("action").cast(pl.Enum(codes), strict=False).to_physical().cast(pl.Int64) * height
                + pl.col("__position")
            ).alias("cell"),
            pl.col("date"),
        )
        .drop_nulls("cell")
        .group_by("cell")
        .agg(pl.col("date").max())
        .collect(engine="in-memory")
    )
    latest = pl.repeat(None, len(codes) * height, dtype=pl.Date, eager=True)
    if cells.height:
        latest = latest.scatter(cells.get_column("cell"), cells.get_column("date"))
    return [latest.slice(i * height, height).alias(f"taken.{code}") for i, code in enumerate(codes)]


def add_days(start: pl.Expr, days: int, business: bool) -> pl.Expr:
    """`start` plus `days` calendar days, or plus `days` Monday-to-Friday days as
    `evaluate.add_business_days` counts them (whole weeks first; a weekend landing moves back)."""
    if not business:
        return start + dt.timedelta(days=days)
    weeks, rest = divmod(days, 5)
    return (start + dt.timedelta(weeks=weeks)).dt.add_business_days(rest, roll="backward")


def jurisdiction_error(policy: PolicySet, layout: Layout) -> list[tuple[pl.Expr, pl.Expr]]:
    """A state policy decides only that state's cases (a `US` policy takes any state); the
    schema's identity names the field that says where a case is (none: no check)."""
    state = policy.compiled.source.jurisdiction.state
    where = layout.jurisdiction
    if state == "US" or where is None:
        return []
    message = pl.format(
        "{}: case is in {} but {} {} applies to {} cases",
        pl.lit(Code.WRONG_JURISDICTION.value),
        pl.col(where),
        pl.lit(policy.id),
        pl.lit(policy.version),
        pl.lit(state),
    )
    return [((pl.col(where) != state).fill_null(False), message)]


def version_error(policy: PolicySet) -> tuple[pl.Expr, pl.Expr]:
    start, end = policy.effective_from, policy.effective_to
    outside = pl.col("as_of") < start
    if end is not None:
        outside = outside | (pl.col("as_of") >= end)
    span = f"[{start}, {end or '…'})"
    message = pl.format(
        "{}: snapshot dated {} is outside {} {}'s effective dates {}",
        pl.lit(Code.NO_VERSION.value),
        pl.col("as_of"),
        pl.lit(policy.id),
        pl.lit(policy.version),
        pl.lit(span),
    )
    return outside, message
