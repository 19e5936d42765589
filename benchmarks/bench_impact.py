"""Caseload impact benchmark: evaluate N cases under Wisconsin 2024.1 and 2025.1 and count changes.

    .venv/bin/python benchmarks/bench_impact.py [--cases 20000]

Builds N cases by cycling through examples/caseload.yaml with fresh case ids (every case is a
real Wisconsin situation: E&T enrolment, license action, payment plans, incarceration …), runs
`measure_impact` (both versions, per case) and prints the time and cases per second. The figures
go into docs/guides/versions.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from cspolicy import load_policy
from cspolicy.caseload.impact import measure_impact, read_caseload
from cspolicy.engine.snapshot import CaseSnapshot

ROOT = Path(__file__).resolve().parent.parent


def caseload(count: int) -> Iterator[CaseSnapshot]:
    """`count` cases cycling through the example caseload, each with its own id."""
    examples = [c for c in read_caseload(ROOT / "examples" / "caseload.yaml") if isinstance(c, CaseSnapshot)]
    for index in range(count):
        case = examples[index % len(examples)]
        yield case.model_copy(update={"case_id": f"{case.case_id}-{index}"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    args = parser.parse_args(argv)
    wisconsin = ROOT / "policies" / "wisconsin"
    old, new = load_policy(wisconsin / "2024.1"), load_policy(wisconsin / "2025.1")
    start = time.perf_counter()
    report = measure_impact(old, new, caseload(args.cases))
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        f"{report.rows} cases, {report.changed_cases} decided differently: {seconds:.1f} s "
        f"({report.rows / seconds:,.0f} cases/s, both versions), peak RSS {peak_kib / 1024:.0f} MiB"
    )
    return 0 if report.evaluated == args.cases else 1


if __name__ == "__main__":
    sys.exit(main())
