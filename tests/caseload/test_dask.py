"""Dask: a caseload decided on a two-process local cluster equals the single-process result."""

from __future__ import annotations

import polars as pl
import pytest

from cspolicy import load_policy
from cspolicy.caseload.streaming import evaluate_caseload
from cspolicy.caseload.synthetic import generate

from helpers import ROOT

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

KEY = ["row_number", "rule"]


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Enum columns (the decisions' codes) as plain text: pandas carries them as dictionaries."""
    return frame.with_columns(
        pl.col(name).cast(pl.String)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Enum | pl.Categorical)
    )


def test_local_cluster_matches_single_process() -> None:
    from cspolicy.caseload.distributed import evaluate

    table = generate(3000, seed=21, states=("WI", "WI", "CA"))
    policy = load_policy(ROOT / "policies" / "wisconsin")
    partitions = 3
    size = -(-table.height // partitions)
    ddf = dd.from_pandas(
        table.to_pandas(use_pyarrow_extension_array=True), npartitions=partitions, sort=False
    )
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        result = evaluate(ddf, policy)
        assert list(result._meta.columns)[:4] == ["partition", "row_number", "case_id", "as_of"]
        distributed_rows = pl.from_pandas(result.compute())
    assert distributed_rows.get_column("partition").n_unique() == partitions
    # row numbers restart in each partition: make them global to compare with one process
    distributed_rows = distributed_rows.with_columns(
        (pl.col("row_number") + pl.col("partition") * size).alias("row_number")
    ).drop("partition")
    single = evaluate_caseload(policy, table)
    decided = as_text(distributed_rows.filter(pl.col("status") != "error").drop("reason")).sort(KEY)
    assert decided.equals(as_text(single.decisions).sort(KEY))
    errors = distributed_rows.filter(pl.col("status") == "error").sort("row_number")
    assert errors.get_column("row_number").to_list() == single.errors.get_column("row_number").to_list()
    assert errors.get_column("reason").to_list() == single.errors.get_column("reason").to_list()
    assert single.errors.height > 0 and single.decisions.height > table.height
