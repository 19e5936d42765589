"""How fast can a Parquet caseload be read, and its decisions written, at all, here? The floor
under `cspolicy batch x.parquet --layout wide` (and `PolicySet.evaluate_batches`).

    .venv/bin/python benchmarks/parquet_floor.py benchmarks/data/caseload-1000000.parquet
    .venv/bin/python benchmarks/parquet_floor.py benchmarks/data/caseload-13000000.parquet --jobs read+write

Each job runs in a fresh child process, chunks of `--batch-size` rows, with the reader and the
writer cspolicy's streaming uses (polars' streaming Parquet reader; pyarrow's ParquetWriter with
the same compression and statistics); nothing is decided:

* `read`: every chunk of the caseload read (cspolicy.caseload.readers.iter_tables);
* `write`: the Wisconsin policy's real wide decisions of the first chunk, written again and again
  until as many rows as the caseload has are written;
* `read+write`: both, overlapped as `evaluate_batches` overlaps them (writing on a second thread);
* `cspolicy`: `evaluate_batches` itself (read, validate, decide, write), for comparison.

Printed: wall and CPU seconds and the cases/s each job allows — `read+write` is an upper bound
for the whole run, however fast deciding were.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jsonl_floor import cpu_seconds  # the same CPU clock (benchmarks/ is this script's folder)

ROOT = Path(__file__).resolve().parent.parent
JOBS = ("read", "write", "read+write", "cspolicy")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="a Parquet caseload of the Wisconsin policy's schema")
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"comma-separated, of: {', '.join(JOBS)}")
    parser.add_argument("--child", metavar="JOB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.source, args.batch_size)))
        return
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(args.source).metadata.num_rows
    print(
        f"{args.source.name}: {rows:,} rows, chunks of {args.batch_size:,}, {os.cpu_count()} cores,"
        f" load {os.getloadavg()[0]:.2f}"
    )
    print("| job | wall s | CPU s | cases/s |")
    print("|---|---:|---:|---:|")
    for job in args.jobs.split(","):
        child = [
            sys.executable,
            __file__,
            str(args.source),
            "--batch-size",
            str(args.batch_size),
            "--child",
            job,
        ]
        result = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
        print(f"| {job} | {result['wall']:.2f} | {result['cpu']:.2f} | {rows / result['wall']:,.0f} |")
    print(f"load after: {os.getloadavg()[0]:.2f}")


def measure(job: str, source: Path, batch_size: int) -> dict[str, float]:
    """Time one job (imports, loading the policy and deciding the sample chunk are not timed)."""
    sys.path.insert(0, str(ROOT / "src"))
    from concurrent.futures import Future, ThreadPoolExecutor

    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cspolicy import load_policy
    from cspolicy.caseload.readers import iter_tables
    from cspolicy.caseload.streaming import CaseloadEvaluator, evaluate_batches

    policy = load_policy(ROOT / "policies" / "wisconsin")
    rows = pq.ParquetFile(source).metadata.num_rows
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "out.parquet"
        if job == "cspolicy":
            start, cpu = time.perf_counter(), cpu_seconds()
            evaluate_batches(policy, source, output, layout="wide", batch_size=batch_size)
            return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu}
        evaluator = CaseloadEvaluator(policy, "wide")
        sample = evaluator.evaluate(pl.read_parquet(source, n_rows=batch_size)).decisions
        schema = pl.DataFrame(schema=evaluator.schema).to_arrow().schema
        statistics = [f.name for f in schema if not pa.types.is_dictionary(f.type)]
        dictionaries = [f.name for f in schema if pa.types.is_dictionary(f.type)]
        start, cpu = time.perf_counter(), cpu_seconds()
        with (
            pq.ParquetWriter(
                output, schema, compression="zstd", write_statistics=statistics, use_dictionary=dictionaries
            ) as out,
            ThreadPoolExecutor(max_workers=1) as pool,
        ):

            def write(height: int) -> None:
                out.write_table(sample.head(height).to_arrow().cast(schema))

            writing: Future[None] | None = None
            if job == "write":
                for first in range(0, rows, batch_size):
                    write(min(batch_size, rows - first))
            else:
                for chunk in iter_tables(source, batch_size):
                    if job == "read+write":
                        if writing is not None:
                            writing.result()
                        writing = pool.submit(write, min(chunk.height, sample.height))
                if writing is not None:
                    writing.result()
        return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu}


if __name__ == "__main__":
    main()
