"""pytest plugin (entry point `pytest11`): each case of a `*.test.yaml` file is one pytest item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cspolicy.authoring.testing import CaseResult, LoadedTests, load_tests, run_case
from cspolicy.diagnostics import PolicyError
from cspolicy.engine.versions import PolicyVersions
from cspolicy.source.loading import TEST_SUFFIX

_VERSIONS: dict[Path, PolicyVersions] = {}


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.name.endswith(TEST_SUFFIX):
        return PolicyTestFile.from_parent(parent, path=file_path)
    return None


class PolicyTestFile(pytest.File):
    """A YAML policy test file."""

    def collect(self) -> Any:
        try:
            tests = load_tests(self.path)
        except PolicyError as exc:
            raise self.CollectError(str(exc)) from None
        for index, case in enumerate(tests.model.cases):
            yield PolicyTestItem.from_parent(self, name=case.name, tests=tests, index=index)


class PolicyCaseFailed(Exception):
    """A YAML test case whose decision differs from what it expects."""

    def __init__(self, result: CaseResult) -> None:
        self.result = result
        super().__init__(result.name)


class PolicyTestItem(pytest.Item):
    """One named case of a YAML policy test file."""

    def __init__(self, *, tests: LoadedTests, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tests = tests
        self.index = index

    def runtest(self) -> None:
        key = self.tests.policy_path.resolve()
        versions = _VERSIONS.setdefault(key, PolicyVersions(self.tests.policy_path))
        result = run_case(self.tests, self.index, versions)
        if not result.passed:
            raise PolicyCaseFailed(result)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, PolicyCaseFailed):
            result = excinfo.value.result
            lines = [f"{result.location}: {result.name}", *result.report()]
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        location = self.tests.source_map.at(("cases", self.index))
        return self.path, max(location.line - 1, 0), f"policy test: {self.name}"
