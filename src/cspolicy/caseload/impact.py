"""What a policy change does to a caseload: which cases gain or lose each action, and output totals.

Every case is evaluated under both versions *as written*, whatever their effective dates say:
the question is "what would the new version decide for these cases", so a 2025 snapshot is
evaluated under a version that ended in 2024 too. Parameter values are still chosen by each
snapshot's `as_of` (or by `as_of` given to `measure_impact`, which re-dates every snapshot).
Bad rows are never dropped: each becomes an error with its row number, and the counts add up.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cspolicy.caseload.readers import read_snapshots
from cspolicy.caseload.tables import RowError
from cspolicy.diagnostics import Code, CSPolicyError, Location, Problem, SnapshotError
from cspolicy.engine.decision import Decision
from cspolicy.engine.explain import explain
from cspolicy.engine.policy import PolicySet
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import Type
from cspolicy.source.yamlsource import YamlProblem, load_yaml_file

EXAMPLES = 5  # case ids shown per action and direction
DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class ActionImpact:
    """How many cases one action is recommended (and held) for before and after, and who moved."""

    action: str
    before: int = 0
    after: int = 0
    gained: int = 0
    lost: int = 0
    held_before: int = 0
    held_after: int = 0
    gained_examples: list[str] = field(default_factory=list)
    lost_examples: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.gained or self.lost or self.held_before != self.held_after)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "before": self.before,
            "after": self.after,
            "gained": self.gained,
            "lost": self.lost,
            "held_before": self.held_before,
            "held_after": self.held_after,
            "gained_examples": self.gained_examples,
            "lost_examples": self.lost_examples,
        }


@dataclass
class OutputTotal:
    """The sum of one numeric output (e.g. Back on Track `credit`) over the cases recommended it."""

    action: str
    output: str
    before: Decimal = Decimal(0)
    after: Decimal = Decimal(0)
    cases_before: int = 0
    cases_after: int = 0
    money: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "output": self.output,
            "before": str(self.before),
            "after": str(self.after),
            "change": str(self.after - self.before),
            "cases_before": self.cases_before,
            "cases_after": self.cases_after,
            "money": self.money,
        }


@dataclass
class CaseError:
    """A row that could not be decided under one or both versions, and why."""

    row: int
    case_id: str | None
    reason: str

    def __str__(self) -> str:
        case = f" (case {self.case_id})" if self.case_id else ""
        return f"row {self.row}{case}: {self.reason}"


@dataclass
class ImpactReport:
    """The caseload impact of going from one policy version to another."""

    old: dict[str, str]
    new: dict[str, str]
    rows: int = 0
    evaluated: int = 0
    changed_cases: int = 0
    actions: dict[str, ActionImpact] = field(default_factory=dict)
    outputs: dict[tuple[str, str], OutputTotal] = field(default_factory=dict)
    errors: list[CaseError] = field(default_factory=list)

    def action(self, code: str) -> ActionImpact:
        return self.actions.setdefault(code, ActionImpact(code))

    def sorted_actions(self) -> list[ActionImpact]:
        """Changed actions first (largest change first), then the rest by name."""
        return sorted(
            self.actions.values(),
            key=lambda a: (not a.changed, -(a.gained + a.lost), a.action),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "rows": self.rows,
            "evaluated": self.evaluated,
            "errors": [{"row": e.row, "case_id": e.case_id, "reason": e.reason} for e in self.errors],
            "changed_cases": self.changed_cases,
            "actions": [a.to_dict() for a in self.sorted_actions()],
            "outputs": [o.to_dict() for o in self.outputs.values()],
        }


def _side(policy: PolicySet) -> dict[str, str]:
    return {"id": policy.id, "version": policy.version, "digest": policy.digest}


def decide(policy: PolicySet, snapshot: CaseSnapshot) -> Decision:
    """The full, explained decision under `policy` whatever the version's effective dates."""
    return explain(policy.backend.outcome(snapshot))


@dataclass
class Outcome:
    """What counts for impact: the recommended actions with their outputs, and the held actions."""

    case_id: str
    actions: dict[str, dict[str, Any]]
    held: set[str]


def outcome(policy: PolicySet, snapshot: CaseSnapshot) -> Outcome:
    """The actions `policy` recommends and holds for a case, whatever the version's effective dates.

    Reads the rule outcomes of the policy's back end without building the explanations, which
    cost several times the evaluation itself (a test checks they agree with `decide`). The
    back end is asked directly, not through `PolicySet.run`, because that refuses a case dated
    outside the version's effective dates.
    """
    run = policy.backend.outcome(snapshot)
    actions: dict[str, dict[str, Any]] = {}
    held: set[str] = set()
    for rule in policy.compiled.rules.values():
        if rule.is_hold or not run.applies[rule.id]:
            continue
        code = rule.rule.action or ""
        if rule.id in run.held_by:
            held.add(code)
        elif rule.id not in run.waiting_for:
            actions[code] = run.outputs(rule)
    return Outcome(snapshot.case_id, actions, held)


def measure_impact(
    old: PolicySet,
    new: PolicySet,
    caseload: Iterable[CaseSnapshot | RowError],
    as_of: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImpactReport:
    """Evaluate every case under `old` and `new` and count what changes, action by action.

    `caseload` yields snapshots or RowErrors (as `read_caseload` does); `progress`, when given,
    is called with 1 after each row.
    """
    report = ImpactReport(_side(old), _side(new))
    numeric = {**_numeric_outputs(old), **_numeric_outputs(new)}
    for row, item in enumerate(caseload, start=1):
        report.rows += 1
        if progress is not None:
            progress(1)
        if isinstance(item, RowError):
            report.errors.append(CaseError(item.row_number, item.case_id, item.reason))
            continue
        snapshot = item if as_of is None else item.model_copy(update={"as_of": as_of})
        try:
            before = outcome(old, snapshot)
        except CSPolicyError as exc:
            report.errors.append(CaseError(row, snapshot.case_id, f"under {_name(old)}: {_reason(exc)}"))
            continue
        try:
            after = outcome(new, snapshot)
        except CSPolicyError as exc:
            report.errors.append(CaseError(row, snapshot.case_id, f"under {_name(new)}: {_reason(exc)}"))
            continue
        report.evaluated += 1
        _tally(report, before, after, numeric)
    return report


def _name(policy: PolicySet) -> str:
    return f"{policy.id} {policy.version}"


def _reason(exc: CSPolicyError) -> str:
    problem = getattr(exc, "problem", None)
    if problem is not None:
        return f"{problem.message} [{problem.code.value}]"
    return str(exc).replace("\n", "; ")


def _numeric_outputs(policy: PolicySet) -> dict[tuple[str, str], bool]:
    """(action, output) → whether it is money, for every numeric output."""
    return {
        (rule.rule.action or "", name): expression.node.type is Type.MONEY
        for rule in policy.compiled.rules.values()
        for name, expression in rule.outputs.items()
        if expression.node.type.numeric
    }


def _tally(
    report: ImpactReport, before: Outcome, after: Outcome, numeric: dict[tuple[str, str], bool]
) -> None:
    case = before.case_id
    was, now = set(before.actions), set(after.actions)
    held_was, held_now = before.held, after.held
    if was != now or held_was != held_now:
        report.changed_cases += 1
    for code in sorted(was | now | held_was | held_now):
        impact = report.action(code)
        impact.before += code in was
        impact.after += code in now
        impact.held_before += code in held_was
        impact.held_after += code in held_now
        if code in now and code not in was:
            impact.gained += 1
            if len(impact.gained_examples) < EXAMPLES:
                impact.gained_examples.append(case)
        elif code in was and code not in now:
            impact.lost += 1
            if len(impact.lost_examples) < EXAMPLES:
                impact.lost_examples.append(case)
    for side, result in (("before", before), ("after", after)):
        for code, outputs in result.actions.items():
            for name, value in outputs.items():
                if (code, name) not in numeric:
                    continue
                amount = _amount(value)
                if amount is None:
                    continue
                total = report.outputs.setdefault(
                    (code, name), OutputTotal(code, name, money=numeric[(code, name)])
                )
                if side == "before":
                    total.before += amount
                    total.cases_before += 1
                else:
                    total.after += amount
                    total.cases_after += 1


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


# -- reading a caseload -------------------------------------------------------------------------
def read_caseload(path: str | Path) -> Iterator[CaseSnapshot | RowError]:
    """Every case of a caseload file, in order, a bad row as a RowError (never dropped).

    A YAML or JSON file holds a list of nested snapshots (or `{cases: [...]}`); JSON Lines, CSV,
    Parquet and Arrow files are read by `cspolicy.caseload.readers`. Raises SnapshotError when the file
    itself cannot be read.
    """
    file = Path(path)
    if file.suffix.lower() in DOCUMENT_SUFFIXES:
        yield from _document_cases(file)
        return
    try:
        yield from read_snapshots(file)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise _file_error(file, str(exc)) from None


def _document_cases(file: Path) -> Iterator[CaseSnapshot | RowError]:
    if not file.exists():
        raise _file_error(file, "no such caseload file")
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(file.read_text(encoding="utf-8"), parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _file_error(file, f"invalid JSON: {exc}") from None
    else:
        try:
            data, _, problems = load_yaml_file(file)
        except YamlProblem as exc:
            raise SnapshotError([exc.problem]) from None
        if problems:
            raise SnapshotError(problems)
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        data = data["cases"]
    if not isinstance(data, list):
        raise _file_error(file, "a caseload file holds a list of snapshots (or `cases:` with one)")
    for number, entry in enumerate(data, start=1):
        case_id = entry.get("case_id") if isinstance(entry, dict) else None
        try:
            yield CaseSnapshot.parse(entry, source=f"{file} case {number}")
        except SnapshotError as exc:
            reasons = "; ".join(p.message for p in exc.problems)
            yield RowError(number, str(case_id) if case_id is not None else None, reasons)


def _file_error(file: Path, message: str) -> SnapshotError:
    return SnapshotError([Problem(Code.SNAPSHOT_INVALID, message, Location(str(file)))])


def count_rows(path: str | Path) -> int | None:
    """The number of rows of a caseload when cheap to know (for a progress bar), else None."""
    file = Path(path)
    suffix = file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(file).metadata.num_rows)
        if suffix in (".jsonl", ".ndjson", ".csv"):
            with file.open("rb") as handle:
                lines = sum(1 for line in handle if line.strip())
            return lines - 1 if suffix == ".csv" else lines
    except OSError:
        return None
    return None
