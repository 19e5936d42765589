"""The static analyser and `cspolicy check`: one deliberately broken policy per finding, exact messages
and locations; sound policies (and the shipped ones) produce nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cspolicy import Code, PolicyError, load_policy
from cspolicy.analysis.checks import check_policy
from cspolicy.cli import main
from cspolicy.diagnostics import Severity
from cspolicy.engine.policy import PolicySet
from cspolicy.expressions import Context

from helpers import FIXTURES, ROOT

GRAPH = FIXTURES / "graph"
SHIPPED = ROOT / "policies"


def findings(name: str) -> list[str]:
    return [str(p) for p in check_policy(load_policy(GRAPH / name))]


def at(name: str, line: int, column: int) -> str:
    return f"{GRAPH / name / 'policy.yaml'}:{line}:{column}"


def test_contradictory_conditions_never_apply() -> None:
    where = "never-fires"
    assert findings(where) == [
        f"{at(where, 15, 9)}: warning: rule 'across-the-when-list' can never apply: "
        "`arrears.total > 5000` and `arrears.total < 1000` cannot all hold together [CSP401]",
        f"{at(where, 24, 11)}: warning: rule 'inside-one-and' can never apply: "
        "`order.monthly_amount > 0 and (arrears.total > 5000 and arrears.total < 1000)` can never hold [CSP401]",
        f"{at(where, 32, 9)}: warning: rule 'not-and-or' can never apply: "
        '`public_assistance == "current" or public_assistance == "former"` and '
        '`not (public_assistance in ["current", "former"])` cannot all hold together [CSP401]',
        f"{at(where, 40, 11)}: warning: rule 'unless-always-holds' can never apply: "
        "whenever `arrears.total > 5000` holds, its unless `arrears.total > 1000` holds too [CSP401]",
        f"{at(where, 48, 11)}: warning: rule 'whole-days-between' can never apply: "
        "`payments.days_since_last > 30 and payments.days_since_last < 31` can never hold [CSP401]",
        f"{at(where, 71, 9)}: warning: rule 'ordered-pair' can never apply: "
        "`arrears.total > order.monthly_amount` and `order.monthly_amount >= arrears.total` "
        "cannot all hold together [CSP401]",
    ]
    # Not reported: money between 30 and 31 (cents), and an unless on an optional date that
    # is None (so not true) when the case has no payment.


def test_condition_contradicted_by_every_value_of_a_parameter_in_force() -> None:
    where = "never-fires-parameter"
    assert findings(where) == [
        f"{at(where, 30, 9)}: warning: rule 'above-cap-below-500' can never apply: "
        "`arrears.total > params.cap` and `arrears.total < 500` cannot all hold together "
        "(while this version is in force: params.cap is $1,000 or $1,500) [CSP401]",
        f"{at(where, 49, 9)}: warning: rule 'switched-off' can never apply: "
        "`params.switch` can never hold (while this version is in force: params.switch is no) [CSP401]",
    ]
    # `above-cap-below-1200` can apply while the cap is $1,000; the $9,000 before the version
    # took effect does not count.


def test_rule_always_held_by_a_hold_its_conditions_imply() -> None:
    where = "always-held"
    assert findings(where) == [
        f"{at(where, 33, 29)}: warning: rule 'large-debt' is always held: "
        "whenever it applies, hold 'debt-hold' applies too [CSP402]",
    ]


def test_hold_that_holds_nothing() -> None:
    where = "holds-nothing"
    assert findings(where) == [
        f"{at(where, 23, 11)}: warning: rule 'impossible' can never apply: "
        "`arrears.total > 10 and arrears.total < 5` can never hold [CSP401]",
        f"{at(where, 31, 5)}: warning: hold 'incarceration-hold' holds nothing: "
        "'free-parent-contempt' can never apply while the hold does; 'impossible' can never apply [CSP403]",
    ]


def test_unused_parameters_and_sources() -> None:
    where = "unused"
    assert findings(where) == [
        f"{at(where, 9, 3)}: warning: source 'forgotten' is not cited by any rule or parameter [CSP405]",
        f"{at(where, 21, 3)}: warning: parameter 'never_read' is not read by any rule "
        "(directly or through a derived value) [CSP404]",
        f"{at(where, 26, 3)}: warning: parameter 'read_by_unused_derived' is not read by any rule "
        "(directly or through a derived value) [CSP404]",
    ]


def test_one_action_produced_by_rules_of_different_kinds() -> None:
    where = "action-kinds"
    assert findings(where) == [
        f"{at(where, 25, 5)}: warning: rule 'discretionary-notice' produces 'send_delinquency_notice' "
        "as a discretionary rule, but rule 'automatic-notice' produces it as an automatic rule [CSP406]",
    ]


def test_rule_shadowed_in_extends_chain_without_override() -> None:
    parent = GRAPH / "shadowed-child" / ".." / "shadowed-parent" / "policy.yaml"
    assert findings("shadowed-child") == [
        f"{at('shadowed-child', 10, 5)}: warning: rule 'notice' repeats the identical rule of "
        f"'shadowed-parent' ({parent}:10:5); remove it or mark it `override: true` [CSP407]",
    ]
    # The parent's own check is clean, and so is the deliberate `override: true` of `offset`.
    assert findings("shadowed-parent") == []


def test_inherited_rules_and_unused_parent_entities_are_the_parents_business(tmp_path: Path) -> None:
    # A child dated before the parent's switch turns on: the parent's switched rule is not dead
    # code in the child, and parent parameters the child no longer reads are not reported.
    (tmp_path / "parent").mkdir()
    (tmp_path / "parent" / "policy.yaml").write_text(
        (GRAPH / "never-fires-parameter" / "policy.yaml")
        .read_text()
        .replace(
            "to: 2030-01-01, value: false}",
            "to: 2030-01-01, value: false}\n      - {from: 2030-01-01, value: true}",
        )
        .replace("      - arrears.total < 500\n", "")
    )
    (tmp_path / "child").mkdir()
    (tmp_path / "child" / "policy.yaml").write_text(
        "id: child\nversion: '1'\ntitle: Child\njurisdiction: {state: WI}\nextends: ../parent\n"
        "effective: {from: 2021-01-01, to: 2022-01-01}\n"
    )
    assert [str(p) for p in check_policy(load_policy(tmp_path / "parent"))] == []
    assert [str(p) for p in check_policy(load_policy(tmp_path / "child"))] == []


def test_history_lookups_of_actions_no_rule_produces() -> None:
    where = "unknown-action"
    assert findings(where) == [
        f"{at(where, 23, 51)}: warning: rule 'contempt' when: days_since_taken(\"send_delinquency_notise\") "
        "looks for action 'send_delinquency_notise' in the enforcement history, but no rule of this set "
        "produces it (did you mean 'send_delinquency_notice'?) [CSP408]",
        f"{at(where, 24, 19)}: warning: rule 'contempt' unless: taken(\"refer_for_contemt\") "
        "looks for action 'refer_for_contemt' in the enforcement history, but no rule of this set "
        "produces it (did you mean 'refer_for_contempt'?) [CSP408]",
    ]


def test_clean_policy_has_no_findings() -> None:
    assert findings("clean") == []
    assert findings("queries") == []
    assert findings("order") == []


def test_undefined_references_are_located_errors() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(GRAPH / "undefined")
    assert [str(p) for p in caught.value.problems] == [
        f"{at('undefined', 22, 27)}: rule 'notice' when: unknown parameter 'params.treshold' "
        "(did you mean 'params.threshold'?) [CSP208]",
        f"{at('undefined', 29, 11)}: rule 'offset' when: unknown name 'behnd' (did you mean 'behind'?) [CSP303]",
        f"{at('undefined', 30, 16)}: rule 'offset' requires unknown rule 'notise' (did you mean 'notice'?) [CSP202]",
        f"{at('undefined', 32, 12)}: unknown source 'lawe' (did you mean 'law'?) [CSP203]",
        f"{at('undefined', 38, 13)}: rule 'pause' holds unknown rule 'offest' (did you mean 'offset'?) [CSP202]",
    ]


def test_findings_are_warnings_with_their_codes() -> None:
    problems = check_policy(load_policy(GRAPH / "holds-nothing"))
    assert [(p.code, p.severity) for p in problems] == [
        (Code.NEVER_FIRES, Severity.WARNING),
        (Code.HOLD_HOLDS_NOTHING, Severity.WARNING),
    ]
    assert load_policy(GRAPH / "holds-nothing").check() == problems


# -- the command ---------------------------------------------------------------------------------


def test_check_command_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(GRAPH / "clean")]) == 0
    assert "clean 1: no problems" in capsys.readouterr().out
    assert main(["check", str(GRAPH / "unused")]) == 0
    captured = capsys.readouterr()
    assert "unused 1: 3 warnings" in captured.out
    assert f"{at('unused', 9, 3)}: warning: source 'forgotten'" in captured.err
    assert main(["check", "--strict", str(GRAPH / "unused")]) == 1
    capsys.readouterr()
    assert main(["check", str(GRAPH / "undefined")]) == 1
    captured = capsys.readouterr()
    assert "does not load: 5 errors" in captured.out
    assert "unknown rule 'offest'" in captured.err
    assert "Traceback" not in captured.err


def test_check_command_reports_cycles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(GRAPH / "derived-cycle"), str(GRAPH / "rule-cycle")]) == 1
    err = capsys.readouterr().err
    assert (
        f"{at('derived-cycle', 10, 3)}: derived values depend on each other in a cycle: "
        "first → second → third → first [CSP206]"
    ) in err
    assert (
        f"{at('rule-cycle', 18, 5)}: rules depend on each other in a cycle: lien → notice → lien [CSP206]"
        in err
    )


def test_check_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--format", "json", str(GRAPH / "action-kinds"), str(GRAPH / "clean")]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [(r["policy"], r["errors"], r["warnings"]) for r in reports] == [
        ("action-kinds 1", 0, 1),
        ("clean 1", 0, 0),
    ]
    problem = reports[0]["problems"][0]
    assert problem["code"] == "CSP406"
    assert (problem["line"], problem["column"], problem["severity"]) == (25, 5, "warning")


def test_check_command_checks_every_version_and_every_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for version, start in (("2020.1", "2020-01-01"), ("2021.1", "2021-01-01")):
        directory = tmp_path / "sets" / "dated" / version
        directory.mkdir(parents=True)
        text = (GRAPH / "clean" / "policy.yaml").read_text()
        text = text.replace('version: "1"', f'version: "{version}"').replace(
            "from: 2020-01-01}", f"from: {start}}}"
        )
        (directory / "policy.yaml").write_text(text)
    (tmp_path / "sets" / "README.md").write_text("not a policy\n")
    assert main(["check", "--strict", str(tmp_path / "sets")]) == 0
    out = capsys.readouterr().out
    assert "dated/2020.1 — clean 2020.1: no problems" in out
    assert "dated/2021.1 — clean 2021.1: no problems" in out
    assert main(["check", "--as-of", "2020-06-01", str(tmp_path / "sets" / "dated")]) == 0
    assert "clean 2020.1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["check", "--as-of", "June", str(tmp_path / "sets" / "dated")])
    assert exited.value.code == 2
    assert "--as-of: must be a date (YYYY-MM-DD), not 'June'" in capsys.readouterr().err


# -- the shipped policies ------------------------------------------------------------------------

SHIPPED_SETS = ["federal", "wisconsin", "milwaukee-back-on-track", "california", "san-bernardino"]


@pytest.mark.parametrize("name", SHIPPED_SETS)
def test_shipped_policy_checks_clean(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = SHIPPED / name
    if not path.exists():
        pytest.skip(f"shipped policy set {name} is not there yet")
    assert main(["check", "--strict", str(path)]) == 0, capsys.readouterr().err


# -- soundness: "can never apply" is a proof -------------------------------------------------------

SOUNDNESS_POLICY = """\
id: soundness
version: "1"
title: Random conditions
jurisdiction: {state: WI}
effective: {from: 2020-01-01}
sources:
  law: {title: A law, url: "https://example.org/law"}
parameters:
  cap:
    description: A cap that changes
    unit: USD
    values:
      - {from: 2020-01-01, value: 100}
      - {from: 2022-01-01, value: 1000}
    cite: [law]
derived:
  behind: arrears.total >= order.monthly_amount
rules:
  - id: random
    kind: threshold
    title: Random
    summary: Random conditions.
    when: %s
    unless: %s
    action: send_delinquency_notice
    cite: [law]
"""
# Each variable a condition may read, and values that sit on and around every constant used.
SOUNDNESS_VALUES: dict[str, list[object]] = {
    "arrears.total": [
        Decimal(v) for v in ("0", "99.99", "100", "100.01", "500.50", "999.99", "1000", "1000.01")
    ],
    "order.monthly_amount": [Decimal(v) for v in ("0", "100", "500.50", "1000")],
    "payments.days_since_last": [0, 29, 30, 31, 89, 90, 91],
    "payments.last_date": [None, dt.date(2023, 12, 31), dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
    "public_assistance": ["current", "former", "never"],
    "paying_parent.incarcerated": [True, False],
    "enforcement": [[], [{"action": "docket_lien", "date": dt.date(2024, 1, 1), "status": "sent"}]],
}
ATOMS = st.sampled_from(
    [
        "arrears.total > 100",
        "arrears.total <= 100",
        "arrears.total >= 1000",
        "arrears.total < params.cap",
        "arrears.total != 500.50",
        "arrears.total == 1000",
        "arrears.total > order.monthly_amount",
        "order.monthly_amount >= arrears.total",
        "behind",
        "payments.days_since_last > 30",
        "payments.days_since_last < 31",
        "payments.days_since_last >= 90",
        'payments.last_date > date("2024-01-01")',
        'payments.last_date <= date("2024-01-01")',
        'public_assistance == "never"',
        'public_assistance in ["current", "former"]',
        'public_assistance != "current"',
        "paying_parent.incarcerated",
        'taken("docket_lien")',
        "params.cap > 500",
    ]
)
CONDITIONS = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        inner.map(lambda c: f"not ({c})"),
        st.tuples(inner, inner).map(lambda pair: f"({pair[0]}) and ({pair[1]})"),
        st.tuples(inner, inner).map(lambda pair: f"({pair[0]}) or ({pair[1]})"),
    ),
    max_leaves=5,
)


def applies_on_some_case(policy: PolicySet) -> bool:
    """Brute force over every combination of values of the variables the rule reads."""
    rule = policy.compiled.rules["random"]
    text = " ".join(c.text for c in [*rule.when, *rule.unless]) + " arrears.total order.monthly_amount"
    names = [n for n in SOUNDNESS_VALUES if n in text or (n == "enforcement" and "taken" in text)]
    for day in (dt.date(2021, 1, 1), dt.date(2023, 1, 1)):
        params = policy.compiled.parameters_on(day)
        for combination in itertools.product(*(SOUNDNESS_VALUES[n] for n in names)):
            facts = {"as_of": day, "enforcement": [], **dict(zip(names, combination, strict=True))}
            context = Context(facts, params, policy.compiled.derived_fns)
            if all(c.fn(context) is True for c in rule.when) and not any(
                c.fn(context) is True for c in rule.unless
            ):
                return True
    return False


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(when=st.lists(CONDITIONS, min_size=1, max_size=3), unless=st.lists(CONDITIONS, max_size=1))
def test_never_applies_only_when_no_case_applies(when: list[str], unless: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "policy.yaml"
        path.write_text(SOUNDNESS_POLICY % (json.dumps(when), json.dumps(unless)), encoding="utf-8")
        policy = load_policy(path)
        never = any(p.code is Code.NEVER_FIRES for p in check_policy(policy))
        if never:
            assert not applies_on_some_case(policy), (when, unless)


def test_hostile_sizes_stay_tractable(tmp_path: Path) -> None:
    # Each derived value reads the one before twice (2**40 paths if expanded naively), and 1500
    # `or` conditions would nest 1500 choices deep without pruning: both finish, and the
    # contradiction at the end (with `d0`, `arrears.total < 0` needs monthly > 3, the ors monthly < 0)
    # is still proven; a long list of conditions is shortened in the message.
    derived = "".join(f"  d{i}: d{i - 1} and (d{i - 1} or arrears.total < {i})\n" for i in range(1, 41))
    conditions = "".join(f"      - arrears.total > {i} or order.monthly_amount < {i}\n" for i in range(1500))
    text = (
        SOUNDNESS_POLICY.split("parameters:")[0].replace("soundness", "hostile")
        + "derived:\n  d0: arrears.total > 5 or order.monthly_amount > 3\n"
        + derived
        + "rules:\n  - id: r\n    kind: threshold\n    title: R\n    summary: S\n    when:\n      - d40\n"
        + conditions
        + "      - arrears.total < 0\n    action: send_delinquency_notice\n    cite: [law]\n"
    )
    (tmp_path / "policy.yaml").write_text(text, encoding="utf-8")
    [finding] = check_policy(load_policy(tmp_path))
    assert finding.code is Code.NEVER_FIRES
    assert finding.message.startswith("rule 'r' can never apply: `d40` and `arrears.total > 0 or")
    assert finding.message.endswith("and 1497 more conditions cannot all hold together")
