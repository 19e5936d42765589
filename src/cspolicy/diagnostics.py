"""Diagnostics: one typed catalogue of problem codes, located problems, and the errors that carry them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How serious a problem is: errors stop a policy from loading, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    """Every problem cspolicy reports has one stable code; the docs have a page per code."""

    # 1xx: reading YAML and document structure
    YAML_SYNTAX = "CSP101"
    DUPLICATE_KEY = "CSP102"
    WRONG_TYPE = "CSP103"
    UNKNOWN_KEY = "CSP104"
    MISSING_KEY = "CSP105"
    FILE_NOT_FOUND = "CSP106"
    YAML_LIMIT = "CSP107"
    UNSAFE_YAML = "CSP108"
    BAD_ENCODING = "CSP109"
    INVALID_VALUE = "CSP110"
    # 2xx: references between documents
    DUPLICATE_ID = "CSP201"
    UNKNOWN_RULE = "CSP202"
    UNKNOWN_SOURCE = "CSP203"
    MISSING_CITATION = "CSP204"
    EXTENDS_CYCLE = "CSP205"
    DEPENDENCY_CYCLE = "CSP206"
    NO_VERSION = "CSP207"
    UNKNOWN_PARAMETER = "CSP208"
    PARAMETER_GAP = "CSP209"
    # 3xx: expressions
    EXPRESSION_SYNTAX = "CSP301"
    FORBIDDEN_SYNTAX = "CSP302"
    UNKNOWN_NAME = "CSP303"
    TYPE_MISMATCH = "CSP304"
    UNKNOWN_FUNCTION = "CSP305"
    BAD_ARGUMENTS = "CSP306"
    UNKNOWN_ENUM_VALUE = "CSP307"
    EXPRESSION_LIMIT = "CSP308"
    # 4xx: static analysis findings
    NEVER_FIRES = "CSP401"
    ALWAYS_HELD = "CSP402"
    HOLD_HOLDS_NOTHING = "CSP403"
    UNUSED_PARAMETER = "CSP404"
    UNUSED_SOURCE = "CSP405"
    ACTION_KIND_CONFLICT = "CSP406"
    SHADOWED_RULE = "CSP407"
    UNKNOWN_ACTION = "CSP408"
    NOT_VECTORIZED = "CSP409"
    # 5xx: snapshots and evaluation
    SNAPSHOT_INVALID = "CSP501"
    EVALUATION_FAILED = "CSP502"
    DIVISION_BY_ZERO = "CSP503"
    NO_PARAMETER_VALUE = "CSP504"
    WRONG_JURISDICTION = "CSP505"
    EVENT_INVALID = "CSP506"
    UNKNOWN_CASE = "CSP507"
    MISSING_PARAMETER_KEY = "CSP508"


def suggest(word: str, candidates: Iterable[str]) -> str:
    """The "did you mean" hint for a misspelt name: `" (did you mean 'X'?)"` when one of the
    candidates is close to `word` (difflib ratio 0.6 or more), else `""`. Every message that
    names an unknown key, name, rule, source or node ends with it."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True, order=True)
class Location:
    """Where something is: a file and a 1-based line and column (0 when unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file

    def shifted(self, lines: int, columns: int) -> Location:
        """The location `lines` and `columns` further on (for positions inside a scalar)."""
        if lines:
            return Location(self.file, self.line + lines, columns + 1)
        return Location(self.file, self.line, self.column + columns)


@dataclass(frozen=True)
class Problem:
    """One located finding: what is wrong, where, and how serious."""

    code: Code
    message: str
    location: Location
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        level = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.location}: {level}{self.message} [{self.code.value}]"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.location.file, self.location.line, self.location.column, self.message)


class CSPolicyError(Exception):
    """Base class of every error cspolicy raises on purpose."""


class PolicyError(CSPolicyError):
    """A policy set could not be loaded; `problems` lists every located problem found in one pass."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=Problem.sort_key)
        lines = [str(p) for p in self.problems]
        count = len([p for p in self.problems if p.severity is Severity.ERROR])
        head = f"{count} problem{'s' if count != 1 else ''} in policy"
        super().__init__(head + ":\n" + "\n".join(lines))


class SnapshotError(CSPolicyError):
    """A case snapshot is invalid; `problems` names each bad field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("invalid case snapshot:\n" + "\n".join(str(p) for p in problems))


class EvaluationError(CSPolicyError):
    """Evaluating a rule on a case failed (e.g. division by zero); says which rule and where."""

    def __init__(self, problem: Problem, case_id: str | None = None) -> None:
        self.problem = problem
        self.case_id = case_id
        prefix = f"case {case_id}: " if case_id else ""
        super().__init__(prefix + str(problem))
