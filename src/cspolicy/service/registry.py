"""The policy registry: every policy set under a directory, compiled once, swapped atomically.

A `Catalog` is immutable once built: every set found under the directory, with every dated
version compiled, and for each set a table from date ranges to the version (and parents) in
force. A request reads `registry.catalog` once and uses that catalog to the end, so a reload
never shows it a half-loaded set: the new catalog is built completely, off to the side, and
then replaces the old one in a single assignment. A reload that fails (a policy that does not
load) is refused; the old catalog keeps serving and the located problems are logged.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cspolicy import (
    CaseSnapshot,
    Code,
    Decision,
    EvaluationError,
    Location,
    PolicyError,
    PolicySet,
    Problem,
)
from cspolicy.service._library import PolicyVersions, policy_files, version_directories

POLICY_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class PolicyEntry:
    """One policy set: its versions (oldest first) and which one is in force on each date.

    `breaks` are the dates where the version in force (of the set or of a set it extends) may
    change; `chosen[i]` serves the dates in [breaks[i-1], breaks[i]) (`chosen[0]` the dates
    before the first break), None where no version is in force.
    """

    id: str
    directory: Path
    versions: list[PolicySet]
    breaks: list[dt.date]
    chosen: list[PolicySet | None]

    @property
    def latest(self) -> PolicySet:
        return self.versions[-1]

    @property
    def title(self) -> str:
        return self.latest.title

    def in_force(self, policy: PolicySet) -> list[tuple[dt.date | None, dt.date | None]]:
        """The date ranges [from, to) in which `policy` is the version evaluated."""
        spans: list[tuple[dt.date | None, dt.date | None]] = []
        for index, chosen in enumerate(self.chosen):
            if chosen is not policy:
                continue
            start = self.breaks[index - 1] if index else None
            end = self.breaks[index] if index < len(self.breaks) else None
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return spans

    def for_date(self, day: dt.date) -> PolicySet | None:
        """The version in force on `day`, None when there is none."""
        return self.chosen[bisect.bisect_right(self.breaks, day)]

    def evaluate(self, snapshot: CaseSnapshot) -> Decision:
        """Evaluate under the version in force on the snapshot's `as_of` (the library's evaluator);
        EvaluationError (CSP207) when no version is."""
        policy = self.for_date(snapshot.as_of)
        if policy is not None:
            return policy.evaluate(snapshot)
        # The nearest version says, in the library's own words, that the date is outside it.
        index = bisect.bisect_right(self.breaks, snapshot.as_of)
        nearest = next((p for p in reversed(self.chosen[:index]) if p is not None), None)
        nearest = nearest or next((p for p in self.chosen[index:] if p is not None), None)
        if nearest is not None:
            nearest.check_date(snapshot)
        message = f"no version of {self.id} (or of a set it extends) is in force on {snapshot.as_of}"
        problem = Problem(Code.NO_VERSION, message, Location(str(self.directory)))
        raise EvaluationError(problem, snapshot.case_id)

    def rule_ids(self) -> list[str]:
        """Every rule id of any version, in order of first appearance."""
        seen: dict[str, None] = {}
        for policy in self.versions:
            for rule_id in policy.rule_ids:
                seen.setdefault(rule_id, None)
        return list(seen)


@dataclass(frozen=True)
class Catalog:
    """Every policy set the service serves, by id; immutable once built."""

    directory: Path
    sets: dict[str, PolicyEntry]
    fingerprint: tuple[tuple[str, int, int], ...]
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def get(self, policy_id: str) -> PolicyEntry | None:
        return self.sets.get(policy_id)

    def suggest(self, policy_id: str) -> str | None:
        return closest(policy_id, list(self.sets))


def closest(name: str, candidates: list[str]) -> str | None:
    """The candidate spelled most like `name`, if one is close."""
    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return found[0] if found else None


def set_directories(root: Path) -> list[Path]:
    """The policy sets under `root`: `root` itself when it holds policy files, else each
    subdirectory that is a set (`build_catalog` takes them back to `root` when they all turn out
    to be dated versions of one set)."""
    if not root.is_dir():
        raise PolicyError([Problem(Code.FILE_NOT_FOUND, "no such policy directory", Location(str(root)))])
    if policy_files(root):
        return [root]
    found = sorted(p for p in root.iterdir() if p.is_dir() and _is_set(p))
    if not found:
        raise PolicyError(
            [Problem(Code.FILE_NOT_FOUND, "no policy set in this directory", Location(str(root)))]
        )
    return found


def _is_set(directory: Path) -> bool:
    return bool(policy_files(directory) or version_directories(directory))


def fingerprint(roots: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of every policy file under `roots`: changes when a file does."""
    seen: dict[str, tuple[str, int, int]] = {}
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix in POLICY_SUFFIXES and path.is_file():
                stat = path.stat()
                seen[str(path)] = (str(path), stat.st_mtime_ns, stat.st_size)
    return tuple(seen[key] for key in sorted(seen))


def build_catalog(root: Path) -> Catalog:
    """Compile every set under `root`, every version; PolicyError lists every located problem."""
    root = root.resolve()
    before = fingerprint([root])
    directories = set_directories(root)
    problems: list[Problem] = []
    compiled: dict[Path, list[PolicySet]] = {}
    for directory in directories:
        try:
            compiled[directory] = PolicyVersions(directory).all()
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    ids = {p.id for versions in compiled.values() for p in versions}
    if len(compiled) > 1 and len(ids) == 1 and version_directories(root):
        compiled = {root: PolicyVersions(root).all()}  # DIR is one set with dated versions
    breaks = _breaks(compiled)
    sets: dict[str, PolicyEntry] = {}
    for directory, versions in compiled.items():
        entry = _entry(directory, versions, breaks)
        if entry.id in sets:
            message = f"policy id {entry.id!r} is also used by {sets[entry.id].directory}"
            problems.append(Problem(Code.DUPLICATE_ID, message, Location(str(directory))))
            continue
        sets[entry.id] = entry
    if problems:
        raise PolicyError(problems)
    return Catalog(root, dict(sorted(sets.items())), before)


def _breaks(compiled: dict[Path, list[PolicySet]]) -> list[dt.date]:
    """Every date where a version of a served set, or of a set one extends, begins or ends."""
    days: set[dt.date] = set()
    parents: set[Path] = set()
    for versions in compiled.values():
        for policy in versions:
            days.add(policy.effective_from)
            if policy.effective_to is not None:
                days.add(policy.effective_to)
            for _, _, path in policy.compiled.source.chain:
                parents.add(_set_of(Path(path)))
    for parent in sorted(parents - set(compiled)):
        for policy in PolicyVersions(parent).all():
            days.add(policy.effective_from)
            if policy.effective_to is not None:
                days.add(policy.effective_to)
    return sorted(days)


def _set_of(path: Path) -> Path:
    """The set a chain entry belongs to: a version directory's parent, else the path itself."""
    path = path.resolve()
    if path.is_dir() and path in version_directories(path.parent):
        return path.parent
    return path


def _entry(directory: Path, versions: list[PolicySet], breaks: list[dt.date]) -> PolicyEntry:
    picker = PolicyVersions(directory)
    first = min(p.effective_from for p in versions)
    ends = [p.effective_to for p in versions]
    last = None if None in ends else max(e for e in ends if e is not None)
    chosen: list[PolicySet | None] = [None]  # before the first break
    for day in breaks:
        if day < first or (last is not None and day >= last):
            chosen.append(None)
            continue
        try:
            policy = picker.for_date(day)
        except PolicyError:
            chosen.append(None)
            continue
        start, end = policy.effective_from, policy.effective_to
        chosen.append(policy if start <= day and (end is None or day < end) else None)
    # One object per distinct compiled policy (same chain → same digest): reuse the versions'.
    by_digest = {p.digest: p for p in versions}
    chosen = [None if p is None else by_digest.setdefault(p.digest, p) for p in chosen]
    served: list[PolicySet] = []  # in the order they come into force
    for used in chosen:
        if used is not None and all(used is not p for p in served):
            served.append(used)
    served = served or versions
    return PolicyEntry(served[-1].id, directory, served, breaks, chosen)


class PolicyRegistry:
    """Holds the current catalog; `reload()` builds a new one and swaps it in, or refuses it."""

    def __init__(self, root: Path, on_event: Callable[..., None] | None = None) -> None:
        self.root = root
        self._lock = threading.Lock()
        self.on_event = on_event or (lambda event, **fields: None)
        self.catalog: Catalog = build_catalog(root)
        self.reloads = 0
        self.refused = 0

    def watched(self) -> tuple[tuple[str, int, int], ...]:
        """The fingerprint of the files on disk now."""
        return fingerprint([self.catalog.directory])

    def changed(self) -> bool:
        return self.watched() != self.catalog.fingerprint

    def reload(self) -> bool:
        """Compile the directory again; swap the result in (True) or keep the old catalog (False)."""
        with self._lock:
            try:
                fresh = build_catalog(self.root)
            except PolicyError as exc:
                self.refused += 1
                # Remember what was refused, so polling does not retry until the files change again.
                self.catalog = _with_fingerprint(self.catalog, self.watched())
                self.on_event(
                    "policy_reload_refused",
                    problems=[str(p) for p in exc.problems],
                    kept={k: e.latest.digest for k, e in self.catalog.sets.items()},
                )
                return False
            self.catalog = fresh  # the swap: one assignment, seen whole by every later request
            self.reloads += 1
            self.on_event("policy_reloaded", sets={k: e.latest.digest for k, e in fresh.sets.items()})
            return True


def _with_fingerprint(catalog: Catalog, print_: tuple[tuple[str, int, int], ...]) -> Catalog:
    return Catalog(catalog.directory, catalog.sets, print_, catalog.loaded_at)
