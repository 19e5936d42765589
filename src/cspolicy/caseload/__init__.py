"""Whole caseloads: flat tables, row checks, the vectorized plan, streaming, versions, impact, Dask.

`tables` is the flat column layout of a snapshot and its converters; `readers` reads and writes
caseload files; `checks` validates rows column by column; `batch` builds the vectorized (polars)
plan and `results` assembles its long-table output; `reference` is the per-case fallback;
`streaming` reads and writes in chunks; `versions` decides each row under the version in force;
`impact` counts what a policy change does to a caseload; `distributed` maps it over a Dask
DataFrame; `synthetic` makes test caseloads.
"""

from cspolicy.caseload.impact import ImpactReport, measure_impact
from cspolicy.caseload.readers import read_snapshots, read_table, write_csv
from cspolicy.caseload.results import BatchResult, BatchSummary
from cspolicy.caseload.streaming import evaluate_batches, evaluate_caseload
from cspolicy.caseload.tables import SCHEMA, RowError, frame_to_snapshots, snapshots_to_frame

__all__ = [
    "SCHEMA",
    "BatchResult",
    "BatchSummary",
    "ImpactReport",
    "RowError",
    "evaluate_batches",
    "evaluate_caseload",
    "frame_to_snapshots",
    "measure_impact",
    "read_snapshots",
    "read_table",
    "snapshots_to_frame",
    "write_csv",
]
