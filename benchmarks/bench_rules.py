"""Per-case cost against policy size: `PolicySet.evaluate` on synthetic sets of 20 to 2,000 rules.

    .venv/bin/python benchmarks/bench_rules.py [--rules 20,200,2000] [--cases 500] [--repeat 3]

Each set comes from `bench_check.policy_text` (threshold rules over dated parameters, two derived
values, a `requires` ladder, one hold per ten rules naming three rules each). The cases are
seeded plain snapshot dicts (as JSON gives them) with amounts spread across the thresholds, so
a share of the rules apply, some are held and some wait. For each size it prints the CPU time
per case (best of `--repeat` runs) of `evaluate` with the action codes read, of `evaluate` +
`to_json()` (every explanation built), and how many actions a case gets on average.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_check import policy_text

import cspolicy.source.yamlsource as yamlsource
from cspolicy import load_policy

# A 2,000-rule set written as one file is about 55,000 YAML nodes, over the loader's limit for one
# document (a guard against hostile files); this benchmark's own generated file may exceed it.
yamlsource.MAX_NODES = 500_000


def snapshots(count: int, rules: int, seed: int = 16) -> list[dict[str, Any]]:
    """Seeded snapshots whose amounts straddle the thresholds of a set of `rules` rules."""
    rng = random.Random(seed)
    top = 300 + rules // 5  # the highest parameter value in force
    cases = []
    for index in range(count):
        family = rng.randint(0, top * 3)
        state = rng.randint(0, top * 2)
        taken = [
            {"action": f"action_{rng.randrange(rules)}", "date": "2024-06-01", "status": "sent"}
            for _ in range(rng.randint(0, 3))
        ]
        cases.append(
            {
                "case_id": f"B-{index}",
                "as_of": "2025-03-03",
                "jurisdiction": {"state": "WI", "county": "Dane"},
                "order": {"established_on": "2020-01-01", "monthly_amount": f"{rng.randint(50, 900)}.00"},
                "arrears": {"family_owed": f"{family}.00", "state_owed": f"{state}.{rng.randint(0, 99):02d}"},
                "payments": [{"date": "2025-01-15", "amount": "100.00"}],
                "paying_parent": {
                    "incarcerated": rng.random() < 0.1,
                    "programs": {"payment_plan": rng.choice(["none", "active"])},
                },
                "enforcement": taken,
            }
        )
    return cases


def best(work: Callable[[], object], count: int, repeat: int) -> float:
    """CPU µs per case, best of `repeat` runs (after one warm-up run)."""
    work()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default="20,200,2000")
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'rules':>6} {'evaluate µs':>12} {'+ to_json µs':>13} {'actions/case':>13} {'load s':>7}")
    for rules in (int(n) for n in args.rules.split(",")):
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "policy.yaml"
            path.write_text(policy_text(rules), encoding="utf-8")
            start = time.perf_counter()
            policy = load_policy(path)
            loaded = time.perf_counter() - start
        cases = snapshots(args.cases, rules)
        evaluate = policy.evaluate
        decided = [evaluate(case) for case in cases]
        actions = sum(len(d.actions) for d in decided) / len(decided)
        lean = best(lambda e=evaluate, c=cases: [e(case).action_codes for case in c], len(cases), args.repeat)
        full = best(lambda e=evaluate, c=cases: [e(case).to_json() for case in c], len(cases), args.repeat)
        print(f"{rules:>6} {lean:>12.1f} {full:>13.1f} {actions:>13.1f} {loaded:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
