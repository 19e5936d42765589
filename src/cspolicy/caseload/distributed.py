"""Evaluate a Dask DataFrame caseload partition by partition, on any number of machines.

A compiled policy holds closures and cannot be pickled, so workers load it themselves from its
path (and `as_of`, which picks dated versions) once per process, and check its digest against
the one the client loaded: a worker never decides with a different policy than the caller's.

The result has one row per decision and one per error row (`status == "error"`, with
`reason`). `partition` and `row_number` (1-based within the partition) locate every input row.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from cspolicy.caseload.streaming import CaseloadEvaluator
from cspolicy.engine.policy import PolicySet, load_policy

ERROR_STATUS = "error"


def evaluate(ddf: Any, policy: PolicySet | str | Path, as_of: dt.date | str | None = None) -> Any:
    """A lazy Dask DataFrame of decisions and error rows for `ddf` (caseload layout columns)."""
    path, day, digest = _reference(policy, as_of)
    meta = _partition(_empty_pandas(path, day, digest), path, day, digest)
    return ddf.map_partitions(_partition, path, day, digest, meta=meta)


def _reference(policy: PolicySet | str | Path, as_of: dt.date | str | None) -> tuple[str, str | None, str]:
    """(path, as_of, digest) from which a worker reloads exactly this policy."""
    day = as_of.isoformat() if isinstance(as_of, dt.date) else as_of
    if not isinstance(policy, PolicySet):
        return str(policy), day, load_policy(policy, day).digest
    root = policy.compiled.source.root
    for candidate in (day, None, policy.effective_from.isoformat()):
        if load_policy(root, candidate).digest == policy.digest:
            return str(root), candidate, policy.digest
    raise ValueError(
        f"cannot reload {policy.id} {policy.version} from {root} on the workers: "
        "pass the policy path and the as_of date it was loaded with"
    )


@lru_cache(maxsize=8)
def _evaluator(path: str, as_of: str | None, digest: str) -> CaseloadEvaluator:
    policy = load_policy(path, as_of)
    if policy.digest != digest:
        raise RuntimeError(f"policy at {path} changed since the job started ({policy.digest} != {digest})")
    return CaseloadEvaluator(policy)


def _empty_pandas(path: str, as_of: str | None, digest: str) -> Any:
    from cspolicy.caseload.tables import empty_frame

    return empty_frame().to_pandas(use_pyarrow_extension_array=True)


def _partition(
    frame: Any, path: str, as_of: str | None, digest: str, partition_info: dict[str, Any] | None = None
) -> Any:
    """One partition (pandas) → its decisions and error rows (pandas, the same columns every time)."""
    import pyarrow as pa

    evaluator = _evaluator(path, as_of, digest)
    table = pl.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    assert isinstance(table, pl.DataFrame)
    result = evaluator.evaluate(table)
    number = partition_info["number"] if partition_info else 0
    errors = result.errors.select(
        pl.col("row_number"), pl.col("case_id"), pl.lit(ERROR_STATUS).alias("status"), pl.col("reason")
    )
    combined = pl.concat(
        [result.decisions.with_columns(pl.lit(None, dtype=pl.String).alias("reason")), errors],
        how="diagonal_relaxed",
    ).with_columns(pl.lit(number, dtype=pl.Int64).alias("partition"))
    columns = ["partition", *evaluator.schema, "reason"]
    return combined.select(columns).to_pandas(use_pyarrow_extension_array=True)
