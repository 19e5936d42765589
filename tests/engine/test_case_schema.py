"""Case schemas (issue 14): documents, located errors, the shipped v1 and v2, and a policy with
its own schema (fields the shipped schemas do not have, a list aggregate, a keyed parameter)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from cspolicy import CaseSnapshot, Code, EvaluationError, PolicyError, SnapshotError, load_policy
from cspolicy.authoring.jsonschema import json_schema, snapshot_schema
from cspolicy.cli import main
from cspolicy.engine.caseschema import case_schema, default_case_schema
from cspolicy.engine.snapshot import FIELDS, snapshot_problems
from cspolicy.expressions import Type
from cspolicy.source import vocabulary
from cspolicy.source.caseschema import shipped_schema_names
from cspolicy.source.yamlsource import load_yaml_file

from helpers import FIXTURES, ROOT

ACME = FIXTURES / "case_schema" / "acme-policy"  # the policy; its schema and a case are in acme/
ACME_SCHEMA = FIXTURES / "case_schema" / "acme" / "schema.yaml"
SHIPPED = ROOT / "src" / "cspolicy" / "case_schemas"
ACME_CASE: dict[str, Any] = {
    "case_number": "AC-1001",
    "snapshot_date": "2026-02-15",
    "location": {"state": "WI", "county": "north"},
    "household": {"income_monthly": "3200.00", "size": 3},
    "charges": [
        {"due_on": "2025-12-01", "amount": "80.00"},
        {"due_on": "2026-01-01", "amount": "80.00"},
        {"due_on": "2026-02-01", "amount": "80.00", "paid": True},
        {"due_on": "2026-03-01", "amount": "80.00"},
    ],
}


def acme_case(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ACME_CASE)
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def acme() -> Any:
    return load_policy(ACME)


# -- the shipped schemas ---------------------------------------------------------------------
def test_shipped_schemas_load() -> None:
    assert shipped_schema_names() == ["child-support/v1", "child-support/v2"]
    v1, v2 = case_schema("child-support/v1"), case_schema("child-support/v2")
    assert v2.extends_schema(v1) and not v1.extends_schema(v2)
    assert set(v1.fields) < set(v2.fields)
    assert case_schema() is v1 is default_case_schema()  # compiled once, cached


def test_v1_is_the_former_snapshot_model() -> None:
    """Every v1 field keeps its type, label, choices and item fields; only days_since_last may be null."""
    v1 = default_case_schema()
    assert FIELDS is v1.fields
    assert v1.fields["payments.days_since_last"].optional
    assert v1.fields["payments.days_since_last"].unit == "days"
    assert v1.fields["arrears.total"].type is Type.MONEY
    assert v1.fields["paying_parent.licenses"].items["type"].choices == (
        "driver",
        "professional",
        "recreational",
    )
    assert [m for m in v1.models] == [
        "Jurisdiction", "Order", "Arrears", "Payment", "License", "Programs", "Warrant", "PayingParent",
        "ReceivingParent", "EnforcementEntry", "CaseSnapshot",
    ]  # fmt: skip


def test_v1_choices_are_the_shared_vocabulary() -> None:
    """The case monitor and synthetic caseloads read source/vocabulary.py: it must say what v1 says."""
    fields = default_case_schema().fields
    assert fields["public_assistance"].choices == vocabulary.PUBLIC_ASSISTANCE
    assert fields["paying_parent.employment"].choices == vocabulary.EMPLOYMENT
    assert (
        fields["paying_parent.programs.employment_training"].choices
        == vocabulary.EMPLOYMENT_TRAINING_STATUSES
    )
    assert fields["paying_parent.programs.payment_plan"].choices == vocabulary.PAYMENT_PLAN_STATUSES
    assert fields["paying_parent.licenses"].items["type"].choices == vocabulary.LICENSE_TYPES
    assert fields["paying_parent.licenses"].items["status"].choices == vocabulary.LICENSE_STATUSES
    assert fields["paying_parent.warrants"].items["status"].choices == vocabulary.WARRANT_STATUSES
    assert fields["enforcement"].items["status"].choices == vocabulary.ENFORCEMENT_STATUSES
    assert fields["payments"].items["applied_to"].choices == vocabulary.APPLIED_TO
    assert fields["payments"].items["source"].choices == vocabulary.PAYMENT_SOURCES


def test_never_paid_is_null_not_a_sentinel(make_snapshot: Any) -> None:
    facts = CaseSnapshot.parse(make_snapshot()).facts()
    assert facts["payments.last_date"] is None
    assert facts["payments.days_since_last"] is None
    assert default_case_schema().absent["payments.days_since_last"] == "no payment has ever been received"


def test_v2_additions_are_optional_or_defaulted() -> None:
    v1, v2 = case_schema("child-support/v1"), case_schema("child-support/v2")
    for path, leaf in v2.leaves.items():
        if path not in v1.leaves:
            assert not leaf.required, path
    for path in ("paying_parent.licenses", "payments", "enforcement"):
        for name, item in v2.leaves[path].items.items():
            if name not in v1.leaves[path].items:
                assert not item.required, (path, name)
    assert v2.leaves["paying_parent.licenses"].items["commercial"].type.value == "bool"
    assert v2.leaves["enforcement"].items["expires_on"].optional
    assert v2.leaves["receiving_parent.good_cause"].classification.value == "fvi"
    assert v2.leaves["tax_offset.federal_amount_offset"].classification.value == "fti"
    assert not any("ssn" in path and leaf.type.value == "text" for path, leaf in v2.leaves.items())
    for path, leaf in v2.leaves.items():
        if path not in v1.leaves:
            assert leaf.doc.description, f"{path}: a v2 field says which law needs it"


def test_v2_derived_facts() -> None:
    v2 = case_schema("child-support/v2")
    data = {
        "case_id": "V2-1",
        "as_of": "2025-03-01",
        "jurisdiction": {"state": "WI"},
        "order": {"established_on": "2020-01-01", "monthly_amount": "100"},
        "arrears": {"family_owed": "250", "delinquency_identified_on": "2025-01-10"},
        "paying_parent": {"located_on": "2025-02-01", "hearing_requested_on": "2025-02-20"},
    }
    facts = CaseSnapshot.parse(data, schema=v2).facts()
    assert facts["enforcement_clock_start"] == dt.date(2025, 2, 1)
    assert facts["arrears.delinquent"] is True
    assert facts["paying_parent.enforcement_contested"] is True
    assert facts["order.current_support_paid_up"] is None  # not known
    del data["paying_parent"]
    assert CaseSnapshot.parse(data, schema=v2).facts()["enforcement_clock_start"] is None


def test_v1_errors_are_unchanged_on_broken_snapshots() -> None:
    """The generated model reports what the former static model did (messages pinned in
    test_snapshot*.py); here: the model names shown in 'instance of X' messages."""
    data = {"case_id": "X", "as_of": "2025-01-01", "jurisdiction": {"state": "WI"},
            "order": {"established_on": "2020-01-01", "monthly_amount": "1"},
            "payments": [[]], "paying_parent": {"licenses": [None], "programs": 3}}  # fmt: skip
    with pytest.raises(SnapshotError) as caught:
        CaseSnapshot.parse(data)
    messages = sorted(p.message for p in caught.value.problems)
    assert messages == [
        "paying_parent.licenses.0: Input should be a valid dictionary or instance of License (got None)",
        "paying_parent.programs: Input should be a valid dictionary or instance of Programs (got 3)",
        "payments.0: Input should be a valid dictionary or instance of Payment (got [])",
    ]


# -- schema documents: located problems ------------------------------------------------------
def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HEAD = "id: t\nversion: '1'\ntitle: T\nidentity: {case_id: case_id, as_of: as_of}\n"
BASE_FIELDS = (
    "fields:\n"
    "  case_id: {type: text, label: case, required: true}\n"
    "  as_of: {type: date, label: date, required: true}\n"
)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        case_schema(path)
    return [str(p) for p in caught.value.problems]


def test_schema_problems_are_located_with_suggestions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        HEAD
        + BASE_FIELDS
        + "  amount: {type: money, lable: x, required: true}\n"
        + "  kind: {type: choice, label: k}\n"
        + "  other: {type: texts, label: o, optional: true}\n"
        + "derived:\n  total: {expr: amount + amont, label: t}\n",
    )
    found = problems_of(path)
    assert any(f"{path}:8:" in p and "unknown key 'lable' (did you mean 'label'?)" in p for p in found), found
    assert any(
        f"{path}:9:" in p and "field kind: say `required: true`, give a `default`" in p for p in found
    ), found
    assert any(f"{path}:10:" in p and "field other: type" in p for p in found), found


def test_derived_problems_are_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        HEAD + BASE_FIELDS + "  amount: {type: money, label: a, default: 0}\n"
        "derived:\n  total:\n    expr: amount + amont\n    label: t\n",
    )
    (problem,) = problems_of(path)
    assert f"{path}:11:20:" in problem and "unknown name 'amont' (did you mean 'amount'?)" in problem


def test_redefining_a_base_field_needs_override(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", HEAD + BASE_FIELDS + "  amount: {type: money, label: a, default: 0}\n")
    child = write(
        tmp_path,
        "child.yaml",
        "id: c\nversion: '1'\ntitle: C\nextends: base.yaml\nfields:\n  amount: {type: money, label: b, default: 1}\n",
    )
    (problem,) = problems_of(child)
    assert "field 'amount' is already defined by 't 1'" in problem and "override: true" in problem
    fixed = write(
        tmp_path,
        "fixed.yaml",
        "id: c\nversion: '1'\ntitle: C\nextends: base.yaml\n"
        "fields:\n  amount: {type: money, label: b, default: 1, override: true}\n"
        "  extra: {type: bool, label: e, default: false}\n",
    )
    schema = case_schema(fixed)
    assert schema.fields["amount"].label == "b" and "extra" in schema.fields


def test_a_field_called_type_is_a_field_of_a_group(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        HEAD
        + BASE_FIELDS
        + "  vehicle:\n    type: {type: choice, label: vehicle type, choices: [car, truck], default: car}\n",
    )
    schema = case_schema(path)
    assert schema.fields["vehicle.type"].choices == ("car", "truck")


def test_unknown_shipped_schema_in_a_policy_is_located(tmp_path: Path) -> None:
    text = (
        (ACME / "policy.yaml")
        .read_text(encoding="utf-8")
        .replace("case_schema: ../acme/schema.yaml", "case_schema: child-support/v3")
    )
    policy = write(tmp_path, "policy.yaml", text)
    with pytest.raises(PolicyError) as caught:
        load_policy(policy)
    (problem,) = [p for p in caught.value.problems if "child-support/v3" in p.message]
    assert problem.location.line == 6 and "(did you mean 'child-support/v2'?)" in problem.message


def test_a_child_policy_may_not_switch_to_an_unrelated_schema(tmp_path: Path) -> None:
    child = write(
        tmp_path,
        "child.yaml",
        f"id: child\nversion: '1'\ntitle: C\njurisdiction: {{state: WI}}\nextends: {FIXTURES / 'policies-v1' / 'federal'}\n"
        f"case_schema: {ACME_SCHEMA}\neffective: {{from: 2025-01-01}}\n",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(child)
    assert any("does not extend child-support 1" in p.message for p in caught.value.problems)


def test_a_child_policy_may_name_a_schema_extending_its_parents(tmp_path: Path) -> None:
    child = write(
        tmp_path,
        "child.yaml",
        f"id: child\nversion: '1'\ntitle: C\njurisdiction: {{state: WI}}\nextends: {ROOT / 'policies' / 'federal'}\n"
        "case_schema: child-support/v2\neffective: {from: 2025-01-01}\n",
    )
    policy = load_policy(child)
    assert policy.case_schema.name == "child-support 2"
    assert "paying_parent.located_on" in policy.case_schema.fields


# -- the acceptance test: a policy with its own schema ---------------------------------------
def test_custom_schema_policy_loads_and_evaluates_with_its_labels(acme: Any) -> None:
    assert acme.case_schema.id == "acme-support"
    decision = acme.evaluate(acme_case())
    assert decision.case_id == "AC-1001" and decision.as_of == dt.date(2026, 2, 15)
    (action,) = decision.actions
    assert action.action == "send_delinquency_notice"
    texts = [because.text for because in action.because]
    assert "the unpaid charges ($160.00) is more than the notice minimum ($100)" in texts, texts
    assert any(
        "the household's monthly income ($3,200.00)" in t and "the county (north)" in t for t in texts
    ), texts


def test_custom_schema_snapshot_uses_its_identity(acme: Any) -> None:
    snapshot = CaseSnapshot.parse(acme_case(), schema=acme.case_schema)
    assert isinstance(snapshot, CaseSnapshot)
    assert snapshot.case_id == "AC-1001" and snapshot.as_of == dt.date(2026, 2, 15)
    facts = snapshot.facts()
    assert facts["unpaid.total"] == Decimal("160.00")
    assert facts["unpaid.oldest_due_on"] == dt.date(2025, 12, 1)
    with pytest.raises(EvaluationError) as caught:
        acme.evaluate(acme_case(location={"state": "MN", "county": "north"}))
    assert caught.value.problem.code is Code.WRONG_JURISDICTION


def test_custom_schema_snapshot_errors_are_per_field(acme: Any, tmp_path: Path) -> None:
    bad = acme_case(case_number="1001", color="blue")
    bad["charges"][1]["amount"] = "-5"
    bad["household"]["size"] = "many"
    with pytest.raises(SnapshotError) as caught:
        acme.evaluate(bad)
    assert sorted(p.message.split(":")[0] for p in caught.value.problems) == [
        "case_number",
        "charges.1.amount",
        "color",
        "household.size",
    ]
    assert any("amount cannot be negative" in p.message for p in caught.value.problems)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(SnapshotError) as caught:
        CaseSnapshot.from_file(path, schema=acme.case_schema)
    assert {p.location.file for p in caught.value.problems} == {str(path)}
    with pytest.raises(SnapshotError):
        acme.evaluate(
            ROOT
            / "examples"
            / "cases"
            / sorted(p.name for p in (ROOT / "examples" / "cases").glob("*.yaml"))[0]
        )


def test_custom_schema_file_evaluates(acme: Any) -> None:
    assert [a.action for a in acme.evaluate(ACME_SCHEMA.parent / "case.yaml").actions] == [
        "send_delinquency_notice"
    ]


def test_keyed_parameter_missing_key_names_the_parameter_and_key(acme: Any) -> None:
    with pytest.raises(EvaluationError) as caught:
        acme.evaluate(acme_case(location={"state": "WI", "county": "east"}))
    assert "low_income_limit" in str(caught.value) and "east" in str(caught.value)
    assert acme.evaluate(acme_case(location={"state": "WI", "county": "south"})).actions


def test_custom_schema_expressions_are_checked(tmp_path: Path) -> None:
    text = (
        (ACME / "policy.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "unpaid.total > params.notice_minimum",
            "unpaid.totl > params.notice_minimum and arrears.total > 0",
        )
    )
    text = text.replace("../acme/schema.yaml", str(ACME_SCHEMA))
    path = write(tmp_path, "policy.yaml", text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    (problem,) = caught.value.problems
    assert "unknown name 'unpaid.totl' (did you mean 'unpaid.total'?)" in problem.message
    assert problem.location.file == str(path) and problem.location.line > 0


def test_custom_schema_json_schema(acme: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = snapshot_schema(acme.case_schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(acme_case())
    assert not validator.is_valid(acme_case(case_number="1001"))
    assert not validator.is_valid(acme_case(extra=1))
    assert schema["properties"]["household"]["$ref"].endswith("/Household")
    out = tmp_path / "acme.schema.json"
    assert main(["schema", "snapshot", "--policy", str(ACME), "-o", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == schema
    capsys.readouterr()
    assert main(["schema", "policy", "--policy", str(ACME)]) == 2


def test_default_policy_snapshot_schema_is_v1() -> None:
    policy = load_policy(FIXTURES / "policies-v1" / "federal")  # no `case_schema:` (the shipped set is v2)
    assert policy.case_schema is default_case_schema()
    assert snapshot_schema(policy.case_schema)["required"] == json_schema("snapshot")["required"]


# -- the case schema JSON Schema -------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [*sorted(p for p in SHIPPED.rglob("*.yaml") if not p.name.endswith(".es.yaml")), ACME_SCHEMA],
    ids=lambda p: p.name,
)
def test_case_schema_files_validate_against_the_case_schema_json_schema(path: Path) -> None:
    data, _, _ = load_yaml_file(path)
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("=", 1)[1].strip()).resolve()
    assert target == (ROOT / "schema" / "case-schema.schema.json").resolve()
    validator = jsonschema.Draft202012Validator(json_schema("case-schema"))
    plain = json.loads(json.dumps(data, default=str))
    assert [e.message for e in validator.iter_errors(plain)] == []
    bad = copy.deepcopy(plain)
    bad["fields"]["oops"] = {"type": "money", "lable": "x"}
    assert not validator.is_valid(bad)


def test_random_v1_snapshots_validate_as_v2() -> None:
    from strategies import random_snapshot

    v2 = case_schema("child-support/v2")
    for seed in range(200):
        data = random_snapshot(random.Random(seed))
        v1_snapshot = CaseSnapshot.parse(data)
        v2_snapshot = CaseSnapshot.parse(v1_snapshot, schema=v2)
        v1_facts, v2_facts = v1_snapshot.facts(), v2_snapshot.facts()
        for key, value in v1_facts.items():
            if isinstance(value, list):  # v2 items have more fields; the v1 ones are unchanged
                assert [
                    {k: item[k] for k in old} for item, old in zip(v2_facts[key], value, strict=True)
                ] == value
            else:
                assert v2_facts[key] == value, key


def test_snapshot_problems_still_work_for_any_model() -> None:
    with pytest.raises(ValidationError) as caught:
        default_case_schema().model.model_validate({"case_id": ""})
    assert any(
        p.message.startswith("case_id: String should have at least 1 character")
        for p in snapshot_problems(caught.value, "x")
    )


ENGINE_WITHOUT_DOMAIN = [
    "engine/caseschema.py",
    "engine/compiler.py",
    "engine/compiled.py",
    "engine/snapshot.py",
    "engine/policy.py",
    "engine/evaluate.py",
    "engine/outcomes.py",
    "source/caseschema.py",
    "source/loading.py",
]


@pytest.mark.parametrize("module", ENGINE_WITHOUT_DOMAIN)
def test_engine_modules_name_no_child_support_field(module: str) -> None:
    """The case model is configuration: these modules read every field from the schema."""
    text = (ROOT / "src" / "cspolicy" / module).read_text(encoding="utf-8")
    for word in ("paying_parent", "receiving_parent", "arrears.", "payments.", "case.jurisdiction"):
        assert word not in text, (module, word)
