"""Rete back end benchmark: cases per second and per-case latency of durable-rules vs. the reference.

    .venv/bin/python benchmarks/rete_bench.py [--cases 5000] [--policy policies/wisconsin]

`measure_rete(policy_path, snapshots)` is the entry point the caseload benchmark calls: it
evaluates every snapshot on the Rete back end (and, for comparison, on the reference closure
evaluator) and returns cases/s, median and 95th-percentile µs per case, and how many cases had
to run in precomputed mode. Snapshots dated outside the policy version, or in another state,
are skipped and counted (both back ends refuse them the same way).

The cases are the examples/cases snapshots re-dated into the policy's effective period and
cycled with fresh case ids (every one a real situation: E&T, license action, payment plans …).
Figures measured on the development container are written down in docs/rete.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cspolicy import EvaluationError, load_policy
from cspolicy.engine.policy import PolicySet
from cspolicy.engine.snapshot import CaseSnapshot

ROOT = Path(__file__).resolve().parent.parent


def _timed(evaluate: Any, cases: list[CaseSnapshot]) -> tuple[list[float], int]:
    times, skipped = [], 0
    for case in cases:
        start = time.perf_counter()
        try:
            evaluate(case)
        except EvaluationError:
            skipped += 1
            continue
        times.append(time.perf_counter() - start)
    return times, skipped


def _figures(times: list[float]) -> dict[str, float]:
    if not times:
        return {"cases_per_second": 0.0, "median_us": 0.0, "p95_us": 0.0}
    ordered = sorted(times)
    return {
        "cases_per_second": round(len(times) / sum(times), 1),
        "median_us": round(statistics.median(ordered) * 1e6, 1),
        "p95_us": round(ordered[int(len(ordered) * 0.95) - 1] * 1e6, 1),
    }


def measure_rete(
    policy_path: str | Path, snapshots: Iterable[CaseSnapshot | dict[str, Any]], as_of: str | None = None
) -> dict[str, Any]:
    """Evaluate `snapshots` on the Rete back end and the reference; cases/s and µs per case."""
    policy: PolicySet = load_policy(policy_path, as_of)
    cases = [s if isinstance(s, CaseSnapshot) else CaseSnapshot.parse(s) for s in snapshots]
    started = time.perf_counter()
    network = policy.to_rete()
    compile_seconds = time.perf_counter() - started
    for case in cases[:1]:
        if _fits(policy, case):
            network.evaluate(case)  # warm up: first-call costs are not per-case costs
    rete_times, skipped = _timed(network.evaluate, cases)
    reference_times, _ = _timed(policy.evaluate, cases)
    rete, reference = _figures(rete_times), _figures(reference_times)
    return {
        "policy": f"{policy.id} {policy.version}",
        "cases": len(rete_times),
        "skipped": skipped,
        "compile_seconds": round(compile_seconds, 3),
        "rules_in_network": len(network.definition()),
        "precomputed_mode_cases": network.stats["precomputed_mode"],
        **rete,
        "reference_cases_per_second": reference["cases_per_second"],
        "reference_median_us": reference["median_us"],
    }


def _fits(policy: PolicySet, case: CaseSnapshot) -> bool:
    try:
        policy.check_jurisdiction(case)
        policy.check_date(case)
    except EvaluationError:
        return False
    return True


def example_cases(count: int, policy: PolicySet) -> list[CaseSnapshot]:
    """`count` example snapshots, re-dated into the policy's period and put in its state."""
    examples = [CaseSnapshot.from_file(p) for p in sorted((ROOT / "examples" / "cases").glob("*.yaml"))]
    day = max(policy.effective_from, dt.date(2025, 3, 1))
    if policy.effective_to is not None and day >= policy.effective_to:
        day = policy.effective_to - dt.timedelta(days=1)
    state = policy.compiled.source.jurisdiction.state
    cases = []
    for index in range(count):
        base = examples[index % len(examples)]
        update: dict[str, Any] = {"case_id": f"B-{index:06d}", "as_of": day}
        if state != "US":
            update["jurisdiction"] = base.jurisdiction.model_copy(update={"state": state})
        cases.append(CaseSnapshot.parse(base.model_copy(update=update).model_dump()))
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--policy", action="append", help="policy path (repeatable); default: all shipped")
    args = parser.parse_args(argv)
    paths = args.policy or [
        "policies/federal",
        "policies/wisconsin",
        "policies/milwaukee-back-on-track",
        "policies/california",
        "policies/san-bernardino",
    ]
    for path in paths:
        policy = load_policy(ROOT / path)
        result = measure_rete(ROOT / path, example_cases(args.cases, policy))
        print(" ".join(f"{key}={value}" for key, value in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
