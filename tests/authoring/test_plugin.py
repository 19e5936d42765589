"""The pytest plugin: `pytest policies/` collects every YAML case as one item and runs it."""

from __future__ import annotations

import shutil

import pytest

from cspolicy.authoring.testing import load_tests

from helpers import FIXTURES, ROOT

pytest_plugins = ["pytester"]

AUTHORING = FIXTURES / "authoring"


def shipped_case_count() -> int:
    return sum(len(load_tests(path).model.cases) for path in (ROOT / "policies").rglob("*.test.yaml"))


def test_plugin_collects_and_runs_each_shipped_case_as_one_item(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-v", "-p", "no:cacheprovider", str(ROOT / "policies"))
    result.assert_outcomes(passed=shipped_case_count())
    assert shipped_case_count() > 100
    # one item per case, named file::case name
    result.stdout.fnmatch_lines(["*policies/wisconsin/2025.1/policy.test.yaml::* PASSED*"])


def test_plugin_reports_a_failing_case_readably(pytester: pytest.Pytester) -> None:
    shutil.copytree(AUTHORING / "coverage", pytester.path / "coverage")
    shutil.copytree(AUTHORING / "failing", pytester.path / "failing")
    result = pytester.runpytest("-p", "no:cacheprovider", "failing")
    result.assert_outcomes(passed=1, failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*wrong.test.yaml:9:5: expects a notice below the threshold",
            "expected action send_delinquency_notice but it was not recommended: *$300.00 below $500",
            "got (policy cov 1, as of 2025-03-01):",
            "  recommended: none",
            "*FAILED failing/wrong.test.yaml::expects license suspension held without a payment plan*",
        ]
    )


def test_a_broken_test_file_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("broken.test.yaml").write_text("cases: []\n", encoding="utf-8")
    result = pytester.runpytest("-p", "no:cacheprovider", "broken.test.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*broken.test.yaml:1:*cases*"])
