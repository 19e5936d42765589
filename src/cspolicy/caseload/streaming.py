"""Evaluate a caseload of any size: read it in chunks, validate, decide, write results as we go.

Memory stays flat: one chunk (`batch_size` rows) is in memory at a time, and decisions and
error rows are appended to Parquet files with `pyarrow.parquet.ParquetWriter`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from cspolicy.caseload.batch import BASE_SCHEMA, BatchResult, BatchSummary, VectorPlan, plan_for
from cspolicy.caseload.checks import ERROR_SCHEMA, check_table
from cspolicy.caseload.reference import evaluate_reference
from cspolicy.caseload.tables import CaseloadSource, iter_tables
from cspolicy.expressions import Type

if TYPE_CHECKING:
    from cspolicy.engine.policy import PolicySet

DEFAULT_BATCH_SIZE = 100_000


class CaseloadEvaluator:
    """Decides raw caseload chunks with one policy: vectorized when it can be, else the reference."""

    def __init__(self, policy: PolicySet) -> None:
        self.policy = policy
        self.plan: VectorPlan | None = plan_for(policy)
        self.schema: dict[str, pl.DataType] = (
            dict(self.plan.schema) if self.plan else _reference_schema(policy)
        )

    @property
    def mode(self) -> str:
        """`vectorized`, or `reference` when the policy needs the per-case evaluator."""
        return "vectorized" if self.plan else "reference"

    def evaluate(self, raw: pl.DataFrame, first_row: int = 1) -> BatchResult:
        """Validate and decide one chunk whose first row is row number `first_row`."""
        checked = check_table(raw, first_row)
        result = self.decide(checked.valid)
        errors = pl.concat([checked.errors, result.errors]).sort("row_number")
        return BatchResult(result.decisions, errors, raw.height)

    def decide(self, valid: pl.DataFrame) -> BatchResult:
        """Decide validated rows (canonical schema plus `__row`); decisions in `self.schema`."""
        if self.plan is not None:
            result = self.plan.evaluate(valid)
        else:
            result = evaluate_reference(self.policy, valid)
        return BatchResult(conform(result.decisions, self.schema), result.errors, valid.height)


def conform(decisions: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Decisions with exactly `schema`'s columns and types (a missing output column is null)."""
    decisions = decisions.with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
        if name not in decisions.columns
    )
    decisions = decisions.select(list(schema))
    text = {name: pl.String() for name, dtype in decisions.schema.items() if isinstance(dtype, pl.Enum)}
    return decisions.cast(text).cast(schema)  # type: ignore[arg-type]


def _reference_schema(policy: PolicySet) -> dict[str, pl.DataType]:
    """Output columns typed from their expressions when the reference path writes them."""
    types: dict[str, pl.DataType] = {}
    for rule in policy.compiled.rules.values():
        for name, expression in rule.outputs.items():
            types.setdefault(f"outputs.{name}", _output_type(expression.node.type))
    return {**BASE_SCHEMA, **dict(sorted(types.items()))}


def _output_type(type_: Type) -> pl.DataType:
    return {
        Type.MONEY: pl.Decimal(38, 2),
        Type.INTEGER: pl.Int64(),
        Type.BOOL: pl.Boolean(),
        Type.DATE: pl.Date(),
        Type.STRING: pl.String(),
    }.get(type_, pl.String())  # a number (e.g. a quotient) as its exact text


def iter_results(
    policy: PolicySet, source: CaseloadSource, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[BatchResult]:
    """The caseload's results chunk by chunk (decisions and error rows), in input order."""
    evaluator = CaseloadEvaluator(policy)
    first_row = 1
    for raw in iter_tables(source, batch_size):
        yield evaluator.evaluate(raw, first_row)
        first_row += raw.height


def evaluate_caseload(policy: PolicySet, source: CaseloadSource) -> BatchResult:
    """The whole caseload's results in memory (for caseloads that fit; else `evaluate_batches`)."""
    results = list(iter_results(policy, source))
    if not results:
        evaluator = CaseloadEvaluator(policy)
        return BatchResult(pl.DataFrame(schema=evaluator.schema), pl.DataFrame(schema=ERROR_SCHEMA), 0)
    return BatchResult(
        pl.concat([r.decisions for r in results]),
        pl.concat([r.errors for r in results]),
        sum(r.rows for r in results),
    )


def errors_path_for(output: Path) -> Path:
    """Where error rows go when no path is given: next to the decisions, `NAME.errors.parquet`."""
    return output.with_name(output.name.removesuffix(".parquet") + ".errors.parquet")


def evaluate_batches(
    policy: PolicySet,
    source: CaseloadSource,
    output: str | Path,
    errors: str | Path | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[BatchSummary], None] | None = None,
) -> BatchSummary:
    """Stream `source` through the policy into Parquet: decisions to `output`, error rows to
    `errors` (default `OUTPUT.errors.parquet`). Returns the run's summary, whose counts
    reconcile: rows in = cases decided + error rows."""
    return stream(CaseloadEvaluator(policy), source, output, errors, batch_size=batch_size, on_batch=on_batch)


class ChunkEvaluator(Protocol):
    """What `stream` needs: a fixed decisions schema, a mode, and a way to decide a raw chunk."""

    schema: dict[str, pl.DataType]

    @property
    def mode(self) -> str: ...

    def evaluate(self, raw: pl.DataFrame, first_row: int = 1) -> BatchResult: ...


def stream(
    evaluator: ChunkEvaluator,
    source: CaseloadSource,
    output: str | Path,
    errors: str | Path | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[BatchSummary], None] | None = None,
) -> BatchSummary:
    """Stream `source` through `evaluator` into Parquet files; see `evaluate_batches`."""
    import pyarrow.parquet as pq

    output = Path(output)
    errors_path = Path(errors) if errors is not None else errors_path_for(output)
    summary = BatchSummary(mode=evaluator.mode)
    started = time.perf_counter()
    decisions_schema = pl.DataFrame(schema=evaluator.schema).to_arrow().schema
    errors_schema = pl.DataFrame(schema=ERROR_SCHEMA).to_arrow().schema
    # Reading the next chunk and writing the last one overlap with deciding this one (both
    # release the GIL); at most one chunk waits on each side, so memory stays bounded.
    with (
        pq.ParquetWriter(output, decisions_schema, compression="zstd") as decisions_out,
        pq.ParquetWriter(errors_path, errors_schema, compression="zstd") as errors_out,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="cspolicy-io") as pool,
    ):
        chunks = iter_tables(source, batch_size)
        upcoming = pool.submit(next, chunks, None)
        writing: Future[None] | None = None
        first_row = 1
        while (raw := upcoming.result()) is not None:
            upcoming = pool.submit(next, chunks, None)
            result = evaluator.evaluate(raw, first_row)
            first_row += raw.height
            if writing is not None:
                writing.result()
            writing = pool.submit(
                _write_both, decisions_out, errors_out, result, decisions_schema, errors_schema
            )
            summary.add(result)
            summary.seconds = time.perf_counter() - started
            if on_batch is not None:
                on_batch(summary)
        if writing is not None:
            writing.result()
    summary.seconds = time.perf_counter() - started
    return summary


def _write_both(
    decisions_out: Any, errors_out: Any, result: BatchResult, decisions: Any, errors: Any
) -> None:
    _write(decisions_out, result.decisions, decisions)
    _write(errors_out, result.errors, errors)


def _write(writer: Any, frame: pl.DataFrame, schema: Any) -> None:
    if frame.height:
        writer.write_table(frame.to_arrow().cast(schema))


def count_rows(source: CaseloadSource) -> int | None:
    """How many rows a caseload has, when that is cheap to know (Parquet metadata, frames)."""
    if isinstance(source, pl.DataFrame):
        return source.height
    if isinstance(source, str | Path) and Path(source).suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        with pq.ParquetFile(source) as handle:
            return int(handle.metadata.num_rows)
    if hasattr(source, "shape"):
        return int(source.shape[0])
    return None
