"""Which shipped example cases each rule recommends, holds or keeps waiting, per policy version."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cspolicy.diagnostics import CSPolicyError
from cspolicy.docs.catalogue import PolicySetDocs
from cspolicy.engine.snapshot import CaseSnapshot


@dataclass(frozen=True)
class ExampleOutcome:
    """What one rule did for one example case: `recommended`, `held` (by whom) or `waiting`."""

    file: str
    case_id: str
    status: str
    detail: str = ""


def attach(sets: list[PolicySetDocs], examples: Path) -> None:
    """Evaluate every example case under every version in force on its date (and for its
    jurisdiction) and record, on each version, what each rule did for it."""
    cases: list[tuple[str, CaseSnapshot]] = []
    for path in sorted(examples.glob("*.yaml")) if examples.is_dir() else []:
        try:
            cases.append((path.name, CaseSnapshot.from_file(path)))
        except CSPolicyError:
            continue  # an invalid example is reported by its own tests, not by the docs
    for docs in sets:
        for version in docs.versions:
            for name, case in cases:
                try:
                    decision = version.policy.evaluate(case)
                except CSPolicyError:
                    continue  # another state's case, or a date outside this version
                for action in decision.actions:
                    version.examples.setdefault(action.rule, []).append(
                        ExampleOutcome(name, case.case_id, "recommended")
                    )
                for held in decision.held:
                    version.examples.setdefault(held.rule, []).append(
                        ExampleOutcome(name, case.case_id, "held", held.held_by)
                    )
                for waiting in decision.waiting:
                    version.examples.setdefault(waiting.rule, []).append(
                        ExampleOutcome(name, case.case_id, "waiting", ", ".join(waiting.waiting_for))
                    )
