"""Dated versions: the version in force at and around each boundary, clear errors outside them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cspolicy import load_policy
from cspolicy.diagnostics import Code, EvaluationError, PolicyError
from cspolicy.engine.versions import PolicyVersions, load_spec, split_spec
from cspolicy.source.loading import select_version

from helpers import FIXTURES, ROOT

VERSIONED = FIXTURES / "authoring" / "versioned"


def snapshot(day: str, owed: str = "400.00") -> dict[str, object]:
    return {
        "case_id": f"V-{day}",
        "as_of": day,
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2020-01-01", "monthly_amount": "100.00"},
        "arrears": {"family_owed": owed},
    }


@pytest.mark.parametrize(
    ("day", "version"),
    [
        ("2024-01-01", "v1"),  # on v1's `from`
        ("2024-01-02", "v1"),
        ("2024-12-31", "v1"),  # the day before v1's `to` (v1 is [from, to))
        ("2025-01-01", "v2"),  # on v1's `to`, which is v2's `from`
        ("2025-01-02", "v2"),
        ("2031-06-30", "v2"),  # v2 has no end
    ],
)
def test_version_in_force_at_the_boundaries(day: str, version: str) -> None:
    chosen = select_version(VERSIONED, dt.date.fromisoformat(day))
    assert chosen.name == version
    policy = load_policy(VERSIONED, as_of=day)
    assert policy.version == version.removeprefix("v")
    assert PolicyVersions(VERSIONED).evaluate(snapshot(day)).policy.version == policy.version


def test_without_a_date_the_latest_version_is_loaded() -> None:
    assert load_policy(VERSIONED).version == "2"
    assert PolicyVersions(VERSIONED).latest().version == "2"
    assert [p.version for p in PolicyVersions(VERSIONED).all()] == ["1", "2"]


def test_a_snapshot_dated_before_every_version_is_a_clear_error() -> None:
    with pytest.raises(PolicyError) as caught:
        PolicyVersions(VERSIONED).evaluate(snapshot("2023-12-31"))
    problem = caught.value.problems[0]
    assert problem.code is Code.NO_VERSION
    assert (
        problem.message
        == "no version in force on 2023-12-31; versions: v1 [2024-01-01, 2025-01-01), v2 [2025-01-01, …)"
    )
    assert problem.location.file == str(VERSIONED)


def test_a_date_after_a_last_version_that_ends_is_an_error(tmp_path: Path) -> None:
    directory = tmp_path / "ending" / "2024"
    directory.mkdir(parents=True)
    (directory / "policy.yaml").write_text(
        (VERSIONED / "v1" / "policy.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert select_version(tmp_path / "ending", dt.date(2024, 12, 31)).name == "2024"
    with pytest.raises(
        PolicyError, match=r"no version in force on 2025-01-01; versions: 2024 \[2024-01-01, 2025-01-01\)"
    ):
        select_version(tmp_path / "ending", dt.date(2025, 1, 1))


def test_a_gap_between_versions_is_an_error_inside_the_gap(tmp_path: Path) -> None:
    for name, effective in (("a", "{from: 2024-01-01, to: 2024-06-01}"), ("b", "{from: 2024-07-01}")):
        (tmp_path / name).mkdir()
        text = (VERSIONED / "v1" / "policy.yaml").read_text(encoding="utf-8")
        text = text.replace("effective: {from: 2024-01-01, to: 2025-01-01}", f"effective: {effective}")
        (tmp_path / name / "policy.yaml").write_text(text, encoding="utf-8")
    assert select_version(tmp_path, dt.date(2024, 5, 31)).name == "a"
    assert select_version(tmp_path, dt.date(2024, 7, 1)).name == "b"
    with pytest.raises(PolicyError, match="no version in force on 2024-06-15"):
        select_version(tmp_path, dt.date(2024, 6, 15))


def test_parameters_follow_the_snapshot_date_within_a_version() -> None:
    versions = PolicyVersions(VERSIONED)
    # v2's notice threshold is $500 until 2025-07-01 and $300 from then on.
    before = versions.evaluate(snapshot("2025-06-30", owed="400.00"))
    on = versions.evaluate(snapshot("2025-07-01", owed="400.00"))
    assert before.policy.version == on.policy.version == "2"
    assert "send_delinquency_notice" not in before.action_codes
    assert "send_delinquency_notice" in on.action_codes
    assert on.actions[0].parameters == {"notice_threshold": "300"}


def test_one_version_refuses_a_snapshot_outside_its_dates() -> None:
    v1 = load_policy(VERSIONED / "v1")
    with pytest.raises(EvaluationError) as caught:
        v1.evaluate(snapshot("2025-01-01"))
    assert "outside toy 1's effective dates [2024-01-01, 2025-01-01)" in str(caught.value)


def test_specs_name_a_version_by_date_or_directory() -> None:
    assert split_spec("policies/wisconsin@2025-01-13") == (Path("policies/wisconsin"), dt.date(2025, 1, 13))
    assert split_spec("policies/wisconsin") == (Path("policies/wisconsin"), None)
    assert load_spec(f"{VERSIONED}@2024-12-31").version == "1"
    assert load_spec(f"{VERSIONED}@2025-01-01").version == "2"
    assert load_spec(str(VERSIONED / "v1")).version == "1"
    assert load_spec(str(VERSIONED)).version == "2"


def test_a_bad_spec_is_a_located_error() -> None:
    with pytest.raises(PolicyError) as caught:
        load_spec(f"{VERSIONED}@2025-13-01")
    assert caught.value.problems[0].code is Code.INVALID_VALUE
    assert "'2025-13-01' after '@' is not a date" in caught.value.problems[0].message
    with pytest.raises(PolicyError, match="no version in force on 2023-01-01"):
        load_spec(f"{VERSIONED}@2023-01-01")


def test_shipped_wisconsin_versions_meet_on_the_et_rule_date() -> None:
    wisconsin = ROOT / "policies" / "wisconsin"
    assert select_version(wisconsin, dt.date(2025, 1, 12)).name == "2024.1"
    assert select_version(wisconsin, dt.date(2025, 1, 13)).name == "2025.1"
    with pytest.raises(PolicyError, match="no version in force on 2023-12-31"):
        select_version(wisconsin, dt.date(2023, 12, 31))
