"""YAML policy tests (`*.test.yaml`): named cases with the actions, holds and outputs expected."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cspolicy.authoring.coverage import Coverage
from cspolicy.diagnostics import Code, CSPolicyError, Location, PolicyError, Problem
from cspolicy.engine.decision import Decision
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.engine.versions import PolicyVersions
from cspolicy.source.loading import TEST_SUFFIX, pydantic_problems
from cspolicy.source.yamlsource import SourceMap, YamlProblem, load_yaml_file


class Expectation(BaseModel):
    """What a test case expects of the decision."""

    model_config = ConfigDict(extra="forbid")

    actions: list[str] = Field(default_factory=list, description="Each must be recommended")
    absent: list[str] = Field(default_factory=list, description="Each must not be recommended")
    held: list[str] = Field(default_factory=list, description="Each action must be held")
    waiting: list[str] = Field(default_factory=list, description="Each action must be waiting")
    outputs: dict[str, dict[str, str | bool | int | Decimal | None]] = Field(
        default_factory=dict,
        description="action code → output name → expected value (numbers compare by value)",
    )
    only: bool = Field(False, description="`actions` is the complete list of recommended actions")


class TestCase(BaseModel):
    """One named case: a snapshot (inline or a path relative to the test file) and expectations."""

    __test__ = False  # not a pytest test class, whatever its name
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    snapshot: dict[str, Any] | str
    expect: Expectation


class TestFile(BaseModel):
    """A `*.test.yaml` file: the policy it tests (default: its directory) and its cases."""

    __test__ = False  # not a pytest test class, whatever its name
    model_config = ConfigDict(extra="forbid")

    policy: str = "."
    cases: list[TestCase] = Field(min_length=1)


@dataclass
class CaseResult:
    """The outcome of one test case."""

    file: Path
    name: str
    location: Location
    failures: list[str] = field(default_factory=list)
    decision: Decision | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None

    def got(self) -> list[str]:
        """What the policy decided, one line per outcome, to read beside what was expected."""
        if self.decision is None:
            return []
        decision = self.decision
        lines = [f"got (policy {decision.policy.id} {decision.policy.version}, as of {decision.as_of}):"]
        actions = [a.action + (f" {_outputs(a.outputs)}" if a.outputs else "") for a in decision.actions]
        lines.append(f"  recommended: {', '.join(actions) or 'none'}")
        if decision.held:
            lines.append(f"  held: {', '.join(f'{h.action} (by {h.held_by})' for h in decision.held)}")
        if decision.waiting:
            waits = ", ".join(f"{w.action} (for {', '.join(w.waiting_for)})" for w in decision.waiting)
            lines.append(f"  waiting: {waits}")
        return lines

    def report(self) -> list[str]:
        """The failure report: error or each difference with its explanation, then what was got."""
        lines = [self.error] if self.error else [*self.failures]
        if not self.passed:
            lines.extend(self.got())
        return lines


def _outputs(outputs: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{name}={value}" for name, value in outputs.items()) + ")"


def same_value(expected: Any, got: Any) -> bool:
    """Whether an output equals its expected value: numbers by value (2.00 == 2.00000), else text."""
    try:
        return Decimal(str(expected)) == Decimal(str(got))
    except (InvalidOperation, ValueError):
        return str(expected) == str(got)


@dataclass
class LoadedTests:
    """A parsed test file, ready to run."""

    path: Path
    model: TestFile
    source_map: SourceMap
    policy_path: Path


def find_test_files(path: str | Path) -> list[Path]:
    """Every `*.test.yaml` under `path` (or `path` itself), sorted."""
    root = Path(path)
    if root.is_file():
        return [root]
    return sorted(root.rglob(f"*{TEST_SUFFIX}"))


def load_tests(path: Path) -> LoadedTests:
    """Parse a test file; raises PolicyError with located problems."""
    try:
        data, source_map, problems = load_yaml_file(path)
    except YamlProblem as exc:
        raise PolicyError([exc.problem]) from None
    if problems:
        raise PolicyError(problems)
    try:
        model = TestFile.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(pydantic_problems(exc, data, source_map, TestFile)) from None
    return LoadedTests(path, model, source_map, (path.parent / model.policy))


def run_case(tests: LoadedTests, index: int, versions: PolicyVersions) -> CaseResult:
    """Run test case `index` of a loaded test file."""
    case = tests.model.cases[index]
    location = tests.source_map.at(("cases", index))
    result = CaseResult(tests.path, case.name, location)
    try:
        if isinstance(case.snapshot, str):
            snapshot = CaseSnapshot.from_file(tests.path.parent / case.snapshot)
        else:
            snapshot = CaseSnapshot.parse(case.snapshot, source=f"{location}")
        decision = versions.evaluate(snapshot)
    except CSPolicyError as exc:
        result.error = str(exc)
        return result
    result.decision = decision
    result.failures = compare(case.expect, decision)
    return result


def compare(expect: Expectation, decision: Decision) -> list[str]:
    """Every way `decision` differs from `expect`, each with the explanation of the difference."""
    failures: list[str] = []
    recommended = {a.action: a for a in decision.actions}
    held = {h.action: h for h in decision.held}
    waiting = {w.action: w for w in decision.waiting}
    run = decision.outcome if decision.evaluated else None
    for code in expect.actions:
        if code in recommended:
            continue
        detail = ""
        if code in held:
            detail = f": held by {held[code].held_by!r} ({held[code].reason})"
        elif code in waiting:
            detail = f": waiting for {', '.join(waiting[code].waiting_for)}"
        elif run is not None:
            reasons = [decision.why_not(r).text for r, c in run.policy.rules.items() if c.rule.action == code]
            detail = ": " + (" | ".join(reasons) if reasons else "no rule of this policy produces it")
        failures.append(f"expected action {code} but it was not recommended{detail}")
    for code in expect.absent:
        if code in recommended:
            because = "; ".join(t.text for t in recommended[code].because)
            failures.append(
                f"expected no {code} but rule {recommended[code].rule!r} recommended it: {because}"
            )
    for code in expect.held:
        if code not in held:
            state = "recommended" if code in recommended else "not applicable"
            failures.append(f"expected {code} to be held but it was {state}")
    for code in expect.waiting:
        if code not in waiting:
            state = "recommended" if code in recommended else ("held" if code in held else "not applicable")
            failures.append(f"expected {code} to be waiting but it was {state}")
    if expect.only:
        extra = sorted(set(recommended) - set(expect.actions))
        if extra:
            failures.append(f"unexpected actions recommended: {', '.join(extra)}")
    for code, outputs in expect.outputs.items():
        if code not in recommended:
            failures.append(f"expected outputs of {code} but it was not recommended")
            continue
        got = recommended[code].outputs
        for name, value in outputs.items():
            if name not in got:
                failures.append(f"{code}: no output {name!r} (outputs: {', '.join(got) or 'none'})")
            elif not same_value(value, got[name]):
                failures.append(f"{code}: output {name} expected {value} but got {got[name]}")
    return failures


def run_file(
    path: Path, cache: dict[Path, PolicyVersions] | None = None, coverage: Coverage | None = None
) -> list[CaseResult]:
    """Run every case of one test file; with `coverage`, tally what each case exercised."""
    cache = {} if cache is None else cache
    try:
        tests = load_tests(path)
    except PolicyError as exc:
        return [CaseResult(path, "(test file)", exc.problems[0].location, error=str(exc))]
    key = tests.policy_path.resolve()
    versions = cache.setdefault(key, PolicyVersions(tests.policy_path))
    results = [run_case(tests, i, versions) for i in range(len(tests.model.cases))]
    if coverage is not None:
        try:
            for policy in versions.all():
                coverage.include(policy.compiled)
        except PolicyError as exc:
            location = exc.problems[0].location if exc.problems else Location(str(path))
            results.append(CaseResult(path, "(policy for coverage)", location, error=str(exc)))
        for result in results:
            if result.decision is not None:
                coverage.record(result.decision)
    return results


def run_tests(path: str | Path, coverage: Coverage | None = None) -> list[CaseResult]:
    """Run every YAML test file under `path`; with `coverage`, tally rules and comparisons."""
    cache: dict[Path, PolicyVersions] = {}
    results: list[CaseResult] = []
    files = find_test_files(path)
    if not files:
        results.append(
            CaseResult(
                Path(path),
                "(no tests)",
                Location(str(path)),
                error=str(Problem(Code.FILE_NOT_FOUND, "no *.test.yaml files found", Location(str(path)))),
            )
        )
    for file in files:
        results.extend(run_file(file, cache, coverage))
    return results
