"""Whole caseloads: flat tables, row checks, the vectorized plan, streaming, versions, Dask.

`tables` is the flat column layout of a snapshot and its readers and writers; `checks` validates
rows column by column; `batch` runs the vectorized (polars) plan; `reference` the per-case
fallback; `streaming` reads and writes in chunks; `versions` decides each row under the version
in force; `distributed` maps it over a Dask DataFrame; `synthetic` makes test caseloads.
"""

from cspolicy.caseload.batch import BatchResult, BatchSummary
from cspolicy.caseload.streaming import evaluate_batches, evaluate_caseload
from cspolicy.caseload.tables import (
    SCHEMA,
    RowError,
    frame_to_snapshots,
    read_snapshots,
    read_table,
    snapshots_to_frame,
    write_csv,
)

__all__ = [
    "SCHEMA",
    "BatchResult",
    "BatchSummary",
    "RowError",
    "evaluate_batches",
    "evaluate_caseload",
    "frame_to_snapshots",
    "read_snapshots",
    "read_table",
    "snapshots_to_frame",
    "write_csv",
]
