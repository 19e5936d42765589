"""Caseload benchmark: per-case evaluate, batch throughput, peak memory, streaming, Rete — one run.

    .venv/bin/python benchmarks/caseload_bench.py            # what `make bench` runs
    .venv/bin/python benchmarks/caseload_bench.py --cases 100000 --streamed 0   # a quick look

All figures come from the same seeded synthetic caseload (cspolicy.caseload.synthetic.generate, all cases
in Wisconsin and dated inside the 2025.1 version) under the full Wisconsin policy:

1. per-case `PolicySet.evaluate` (full explanations: traces, sentences, citations), median and
   95th-percentile µs over the first `--per-case` cases;
2. batch: `PolicySet.evaluate_batches` on the `--cases` Parquet file (decisions Parquet out), in
   a child process, so its wall time, cases/s and peak RSS are its own;
3. streamed: the same on a `--streamed`-case Parquet file written chunk by chunk (memory must
   stay flat: peak RSS is compared with the 1M run);
4. the durable-rules back end (benchmarks/rete_bench.py `measure_rete`) on the per-case sample,
   when it is importable.

Results are printed as Markdown and written to benchmarks/data/results.md (data/ is gitignored);
docs/performance.md records the figures with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POLICY = ROOT / "policies" / "wisconsin"
CHUNK = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases in the batch run")
    parser.add_argument(
        "--streamed", type=int, default=13_000_000, help="cases in the streamed run (0: skip)"
    )
    parser.add_argument("--per-case", type=int, default=2_000, help="cases timed one by one")
    parser.add_argument("--batch-size", type=int, default=100_000, help="rows per chunk")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--layout", choices=["long", "wide"], default="wide", help="decisions layout")
    parser.add_argument("--jsonl", type=int, default=1_000_000, help="cases in the JSON Lines run (0: skip)")
    parser.add_argument(
        "--frames", type=int, default=20_000, help="cases of the in-memory peers runs (0: skip)"
    )
    parser.add_argument("--skip-rete", action="store_true", help="no durable-rules pass")
    parser.add_argument(
        "--child", nargs=4, metavar=("INPUT", "OUTPUT", "BATCH", "LAYOUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]), args.child[3])
        return
    args.data.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    batch_input = args.data / f"caseload-{args.cases}.parquet"
    report["generate_seconds"] = write_caseload(batch_input, args.cases, seed=1)
    report["per_case"] = per_case(batch_input, args.per_case)
    report["batch"] = run_child(batch_input, args.data / "decisions.parquet", args.batch_size, args.layout)
    if args.jsonl:
        jsonl_input = args.data / f"caseload-{args.jsonl}.jsonl"
        report["generate_jsonl_seconds"] = write_jsonl(batch_input, jsonl_input, args.jsonl)
        report["jsonl"] = run_child(
            jsonl_input, args.data / "decisions-jsonl.parquet", args.batch_size, args.layout
        )
    if args.frames:
        report["frames"] = frames(args.frames)
    if args.streamed:
        streamed_input = args.data / f"caseload-{args.streamed}.parquet"
        report["generate_streamed_seconds"] = write_caseload(streamed_input, args.streamed, seed=2)
        report["streamed"] = run_child(
            streamed_input, args.data / "decisions-streamed.parquet", args.batch_size, args.layout
        )
    if not args.skip_rete:
        report["rete"] = rete(batch_input, args.per_case)
    report["load_average_at_end"] = os.getloadavg()  # the machine is shared: say how busy it was
    text = markdown(report)
    print(text)
    (args.data / "results.md").write_text(text)
    (args.data / "results.json").write_text(json.dumps(report, indent=2, default=str))


def machine() -> dict[str, Any]:
    """nproc, CPU model, memory, OS, Python and library versions."""
    import polars as pl
    import pyarrow as pa

    cpu = "unknown"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "pyarrow": pa.__version__,
        "load_average_at_start": os.getloadavg(),
    }


def write_caseload(path: Path, cases: int, seed: int) -> float:
    """Write a seeded synthetic Wisconsin caseload to Parquet, one chunk at a time."""
    import datetime as dt

    import pyarrow.parquet as pq

    from cspolicy.caseload.synthetic import generate

    started = time.perf_counter()
    writer = None
    try:
        for index, start in enumerate(range(0, cases, CHUNK)):
            rows = min(CHUNK, cases - start)
            chunk = generate(rows, seed=seed * 1000 + index, start=dt.date(2025, 1, 13), days=500)
            chunk = chunk.with_columns(chunk.get_column("case_id").str.replace(r"^C\d+-", f"C{index:03d}-"))
            table = chunk.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=100_000)
    finally:
        if writer is not None:
            writer.close()
    return round(time.perf_counter() - started, 1)


def per_case(source: Path, count: int) -> dict[str, Any]:
    """Median and p95 µs of `PolicySet.evaluate` (with explanations) on the first `count` cases."""
    import polars as pl

    from cspolicy import load_policy
    from cspolicy.caseload.tables import frame_to_snapshots

    policy = load_policy(POLICY)
    cases = [c for c in frame_to_snapshots(pl.read_parquet(source, n_rows=count))]
    for case in cases[:50]:
        policy.evaluate(case)  # warm caches: first-call costs are not per-case costs
    times = []
    traces = 0
    for case in cases:
        started = time.perf_counter()
        decision = policy.evaluate(case)
        times.append(time.perf_counter() - started)
        traces += sum(len(a.because) for a in decision.actions)
    times.sort()
    return {
        "cases": len(times),
        "median_us": round(statistics.median(times) * 1e6, 1),
        "p95_us": round(times[int(len(times) * 0.95)] * 1e6, 1),
        "traces_per_case": round(traces / len(times), 1),
    }


def write_jsonl(parquet: Path, path: Path, count: int) -> float:
    """The first `count` cases of the Parquet caseload as JSON Lines of nested snapshots
    (`{"case_id": …, "order": {"monthly_amount": …}, "payments": [{…}], …}`), written by polars."""
    from cspolicy.caseload.tables import SCHEMA

    started = time.perf_counter()
    table = pl.read_parquet(parquet, n_rows=count)
    tree: dict[str, Any] = {}
    for name in SCHEMA:
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = name

    def nested(node: dict[str, Any]) -> list[pl.Expr]:
        return [
            pl.struct(nested(value)).alias(key) if isinstance(value, dict) else pl.col(value).alias(key)
            for key, value in node.items()
        ]

    money = [name for name, dtype in SCHEMA.items() if isinstance(dtype, pl.Decimal)]
    table.with_columns(pl.col(money).cast(pl.String)).select(nested(tree)).write_ndjson(path)
    return round(time.perf_counter() - started, 1)


def frames(count: int) -> dict[str, Any]:
    """In-memory caseload (`PolicySet.evaluate_frame`), one thread, on the peers harness's
    policies and cases (../shared/bench/peers): µs per case, best of 3, long and wide."""
    peers = ROOT.parent / "shared" / "bench" / "peers"
    if not peers.is_dir():
        return {"skipped": f"{peers} not found"}
    code = f"""
import json, sys, time
sys.path.insert(0, {str(peers)!r})
import gen_cases
from engines import eng_cspolicy
cases = gen_cases.generate({count})
out = {{}}
for policy in ("quotient", "product"):
    engine = eng_cspolicy.build("frame", policy)
    frame = engine.prepare(cases)
    for layout in ("long", "wide"):
        best = None
        for _ in range(3):
            started = time.perf_counter()
            result = engine.policy.evaluate_frame(frame, layout=layout)
            took = time.perf_counter() - started
            best = took if best is None else min(best, took)
        assert result.errors.height == 0
        out[f"{{policy}} {{layout}}"] = {{"us_per_case": round(best / {count} * 1e6, 2), "rechecked": result.rechecked}}
print(json.dumps(out))
"""
    env = {**os.environ, "POLARS_MAX_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_child(source: Path, output: Path, batch_size: int, layout: str = "long") -> dict[str, Any]:
    """Run one batch evaluation in a child process; its own wall time and peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", str(source), str(output), str(batch_size), layout],
        stdout=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stdout = process.stdout.read() if process.stdout else ""
    if status != 0:
        raise SystemExit(f"batch child failed ({status}): {stdout}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["wall_seconds_with_startup"] = round(wall, 2)
    result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    return result


def child(source: Path, output: Path, batch_size: int, layout: str = "long") -> None:
    """The measured run: load the policy, stream the caseload through it, print the summary."""
    from cspolicy import load_policy
    from cspolicy.caseload.streaming import evaluate_batches

    policy = load_policy(POLICY)
    summary = evaluate_batches(policy, source, output, batch_size=batch_size, layout=layout)
    assert summary.reconciles
    decisions = output.stat().st_size
    print(
        json.dumps(
            {
                "rows": summary.rows,
                "decided": summary.decided,
                "errors": summary.errors,
                "recommended": sum(summary.actions.values()),
                "seconds": round(summary.seconds, 2),
                "cases_per_second": round(summary.cases_per_second),
                "mode": summary.mode,
                "layout": layout,
                "decisions_parquet_mib": round(decisions / 2**20, 1),
                "peak_rss_mib": peak_rss_mib(),
            }
        )
    )


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: that one counts
    the parent's memory image this child was forked from, before it exec'd Python afresh."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def rete(source: Path, count: int) -> dict[str, Any]:
    """The durable-rules back end on the per-case sample, when it can be imported."""
    sys.path.insert(0, str(HERE))
    try:
        from rete_bench import measure_rete
    except ImportError as exc:
        return {"available": False, "why": f"benchmarks/rete_bench.py not importable: {exc}"}
    import polars as pl

    from cspolicy.caseload.tables import frame_to_snapshots

    cases = list(frame_to_snapshots(pl.read_parquet(source, n_rows=count)))
    try:
        return {"available": True, **measure_rete(POLICY, cases)}
    except Exception as exc:  # durable-rules missing or failing: say so, do not hide the rest
        return {"available": False, "why": f"{type(exc).__name__}: {exc}"}


def markdown(report: dict[str, Any]) -> str:
    """The figures as the Markdown table docs/performance.md quotes."""
    m = report["machine"]
    lines = [
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']}, {m['os']}, Python {m['python']}, "
        f"polars {m['polars']}, pyarrow {m['pyarrow']}; load average at start {m['load_average_at_start']}"
        f", at end {report.get('load_average_at_end')}",
        f"Command: `{report['command']}`",
        "",
        "| measure | result |",
        "|---|---|",
    ]
    p = report["per_case"]
    lines.append(
        f"| per-case evaluate, Wisconsin, with explanations | median {p['median_us']} µs, p95 {p['p95_us']} µs ({p['cases']} cases) |"
    )
    for key, label in (("batch", "batch"), ("jsonl", "JSON Lines"), ("streamed", "streamed")):
        if key in report:
            b = report[key]
            source = "JSON Lines" if key == "jsonl" else "Parquet"
            lines.append(
                f"| {label}: {b['rows']:,} cases {source} → decisions Parquet ({b['layout']}, {b['mode']}) "
                f"| {b['seconds']} s, {b['cases_per_second']:,} cases/s, peak RSS {b['peak_rss_mib']} MiB, "
                f"CPU {b['cpu_seconds']} s |"
            )
    for name, f in report.get("frames", {}).items():
        if isinstance(f, dict):
            lines.append(
                f"| in-memory frame, peers {name}, 1 thread | {f['us_per_case']} µs/case "
                f"(rechecked rows {f['rechecked']}) |"
            )
    r = report.get("rete", {"why": "skipped"})
    if r.get("available"):
        lines.append(
            f"| durable-rules back end, same cases | median {r.get('median_us')} µs, "
            f"{r.get('cases_per_second')} cases/s |"
        )
    else:
        lines.append(f"| durable-rules back end | not measured: {r.get('why')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
