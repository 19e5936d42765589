"""How fast can JSON Lines of nested snapshots be parsed at all, here? The floor under `cspolicy batch x.jsonl`.

    .venv/bin/python benchmarks/jsonl_floor.py benchmarks/data/caseload-1000000.jsonl --lines 200000

Reads the first `--lines` lines of a JSON Lines caseload into memory, then times, each in a fresh
child process (so one parser's memory and threads do not disturb the next):

* `pyarrow`: `pyarrow.json.read_json` of the bytes, all threads — the parser cspolicy's columnar
  JSON Lines reader uses (cspolicy.caseload.arrowjson);
* `pyarrow-1`: the same on one thread;
* `polars`: `polars.read_ndjson` of the bytes (schema inferred);
* `json`: the standard library's `json.loads` line by line (results kept, as a reader must);
* `cspolicy`: `PolicySet.evaluate_batches` of the same lines under the Wisconsin policy, decisions
  to Parquet (wide layout) — parse, validation, flattening, deciding and writing.

For each: wall seconds, CPU seconds, µs of CPU per line and the cases/s the parse alone would allow
on every core of the machine (lines ÷ CPU seconds × cores) — an upper bound for the whole job.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARSERS = ("pyarrow", "pyarrow-1", "polars", "json", "cspolicy")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="a JSON Lines caseload (one snapshot per line)")
    parser.add_argument("--lines", type=int, default=200_000, help="lines read from the start of the file")
    parser.add_argument("--child", nargs=2, metavar=("PARSER", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], Path(args.child[1]))))
        return
    with tempfile.TemporaryDirectory() as scratch:
        sample = Path(scratch) / "sample.jsonl"
        with args.source.open("rb") as source, sample.open("wb") as out:
            for count, line in enumerate(source):
                if count == args.lines:
                    break
                out.write(line)
        lines = sum(1 for _ in sample.open("rb"))
        size = sample.stat().st_size
        cores = os.cpu_count() or 1
        print(
            f"{lines:,} lines, {size / lines:,.0f} bytes per line, {cores} cores, load {os.getloadavg()[0]:.2f}"
        )
        print("| parser | wall s | CPU s | µs CPU per line | parse-only bound, cases/s on all cores |")
        print("|---|---:|---:|---:|---:|")
        for name in PARSERS:
            child = [sys.executable, __file__, str(sample), "--child", name, str(sample)]
            result = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
            per_line = result["cpu"] / lines * 1e6
            bound = lines / result["cpu"] * cores  # every core busy with no overhead: an upper bound
            print(f"| {name} | {result['wall']:.2f} | {result['cpu']:.2f} | {per_line:.1f} | {bound:,.0f} |")
        print(f"load after: {os.getloadavg()[0]:.2f}")


def cpu_seconds() -> float:
    """CPU seconds of this process, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, sample: Path) -> dict[str, float]:
    """Time one parser over the sample (imports and file reading are not timed)."""
    data = sample.read_bytes()
    if name.startswith("pyarrow"):
        import io

        import pyarrow as pa
        import pyarrow.json as pj

        if name == "pyarrow-1":
            pa.set_cpu_count(1)
        options = pj.ReadOptions(use_threads=name == "pyarrow", block_size=1 << 22)
        start, cpu = time.perf_counter(), cpu_seconds()
        pj.read_json(io.BytesIO(data), read_options=options)
    elif name == "polars":
        import io

        import polars as pl

        start, cpu = time.perf_counter(), cpu_seconds()
        pl.read_ndjson(io.BytesIO(data))
    elif name == "json":
        start, cpu = time.perf_counter(), cpu_seconds()
        kept = [json.loads(line) for line in data.splitlines()]
        del kept
    else:
        sys.path.insert(0, str(ROOT / "src"))
        from cspolicy import load_policy
        from cspolicy.caseload.streaming import evaluate_batches

        policy = load_policy(ROOT / "policies" / "wisconsin")
        with tempfile.TemporaryDirectory() as scratch:
            start, cpu = time.perf_counter(), cpu_seconds()
            summary = evaluate_batches(policy, sample, Path(scratch) / "out.parquet", layout="wide")
            if summary.errors:
                raise SystemExit(f"{summary.errors} error rows: the sample does not fit the policy's schema")
    return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu}


if __name__ == "__main__":
    main()
