"""Dated versions of a policy set: pick the version in force for each snapshot's date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cspolicy.diagnostics import Code, Location, PolicyError, Problem
from cspolicy.engine.decision import Decision
from cspolicy.engine.policy import PolicySet, _as_snapshot, load_policy
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.source.loading import select_version, version_directories


class PolicyVersions:
    """Every dated version of a policy set, compiled on first use; evaluates each snapshot under
    the version in force on its `as_of` (and parents chosen by the same date)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._by_chain: dict[tuple[str, ...], PolicySet] = {}
        self._by_date: dict[dt.date, PolicySet] = {}

    @property
    def versioned(self) -> bool:
        """Whether the set holds dated version directories."""
        return bool(version_directories(self.path))

    def for_date(self, day: dt.date) -> PolicySet:
        """The compiled version in force on `day`; raises PolicyError when none is."""
        policy = self._by_date.get(day)
        if policy is None:
            select_version(self.path, day)  # raises a clear error for a date before any version
            policy = load_policy(self.path, day)
            key = tuple(str(path) for _, _, path in policy.compiled.source.chain)
            policy = self._by_chain.setdefault(key, policy)
            self._by_date[day] = policy
        return policy

    def all(self) -> list[PolicySet]:
        """Every version of the set, oldest first (the set itself when it holds no versions)."""
        directories = version_directories(self.path) or [self.path]
        policies = []
        for directory in directories:
            policy = load_policy(directory)
            key = tuple(str(path) for _, _, path in policy.compiled.source.chain)
            policies.append(self._by_chain.setdefault(key, policy))
        return sorted(policies, key=lambda p: p.effective_from)

    def latest(self) -> PolicySet:
        """The newest version."""
        return load_policy(self.path)

    def evaluate(self, snapshot: CaseSnapshot | dict[str, Any] | str | Path) -> Decision:
        """Evaluate `snapshot` under the version in force on its date."""
        case = _as_snapshot(snapshot)
        return self.for_date(case.as_of).evaluate(case)


def split_spec(spec: str) -> tuple[Path, dt.date | None]:
    """`PATH@YYYY-MM-DD` → (PATH, date); a plain PATH → (PATH, None). A bad date is a PolicyError."""
    path, at, day = spec.rpartition("@")
    if not at:
        return Path(spec), None
    try:
        return Path(path), dt.date.fromisoformat(day)
    except ValueError:
        problem = Problem(
            Code.INVALID_VALUE,
            f"{day!r} after '@' is not a date (YYYY-MM-DD); write PATH@2025-01-13",
            Location(spec),
        )
        raise PolicyError([problem]) from None


def load_spec(spec: str) -> PolicySet:
    """The policy version a command-line spec names: `PATH@DATE` (the version in force that day),
    a version directory, or a set (its latest version)."""
    path, day = split_spec(spec)
    if day is not None:
        select_version(path, day)  # a date before every version is a clear error
    return load_policy(path, day)


def shown_date(policy: PolicySet, today: dt.date) -> dt.date:
    """The day whose parameter values a version's pages and the service show: today, kept inside its effective dates."""
    day = max(today, policy.effective_from)
    if policy.effective_to is not None and day >= policy.effective_to:
        day = policy.effective_to - dt.timedelta(days=1)
    return day
