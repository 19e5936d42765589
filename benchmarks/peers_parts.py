"""Where a peers case's time goes: CPU µs to read and validate its snapshot (with the schema's
derived facts), to `evaluate` it, and to `evaluate` + `to_json()` it (best of 5 over 5,000 cases).

    PEERS_DATA=/tmp/peers-data .venv/bin/python benchmarks/peers_parts.py

Needs the peers harness beside the project (../shared/bench/peers) and its generated data
(`cases_20000_s14.parquet` in PEERS_DATA, written by its run.py or check.py).
"""

import os
import sys
import time
from pathlib import Path

import polars as pl

PEERS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "peers"
sys.path[:0] = [str(PEERS), str(PEERS / "engines")]
DATA = Path(os.environ.get("PEERS_DATA", PEERS / "data")) / "cases_20000_s14.parquet"
rows = pl.read_parquet(DATA).to_dicts()[:5000]
from eng_cspolicy import POLICIES, load_policy, to_snapshot  # noqa: E402

snaps = [to_snapshot(r) for r in rows]
policy = load_policy(POLICIES["quotient"])
read = policy.case_schema.read
for snapshot in snaps[:1000]:  # warm-up: readers and memos built
    policy.evaluate(snapshot).to_json()


def best(run):
    """CPU µs per case of `run` over every snapshot, best of 5."""
    times = []
    for _ in range(5):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times) / len(snaps) * 1e6


parts = best(lambda: [read(s) for s in snaps])
decided = best(lambda: [policy.evaluate(s).actions for s in snaps])
explained = best(lambda: [policy.evaluate(s).to_json() for s in snaps])
print(
    f"read+validate+schema facts {parts:.1f} us; evaluate {decided:.1f} us; evaluate+to_json {explained:.1f} us"
)
