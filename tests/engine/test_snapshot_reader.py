"""The fast snapshot reader accepts only snapshots the model accepts, with the same facts."""

from __future__ import annotations

import copy
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cspolicy import CSPolicyError, SnapshotError, load_policy
from cspolicy.engine.caseschema import CaseSchema, case_schema
from cspolicy.engine.snapshotreader import compile_closure_reader
from cspolicy.source.yamlsource import load_yaml_file

from helpers import ROOT

CASES = sorted((ROOT / "examples" / "cases").glob("*.yaml"))
SCHEMAS = [case_schema("child-support/v1"), case_schema("child-support/v2")]


def example(path: Path) -> dict[str, Any]:
    data, _, problems = load_yaml_file(path)
    assert not problems
    return data  # type: ignore[no-any-return]


def model_facts(schema: CaseSchema, data: Any) -> dict[str, Any] | None:
    try:
        return schema.facts(schema.parse(data))
    except SnapshotError:
        return None


def same(fast: dict[str, Any], slow: dict[str, Any]) -> bool:
    return (
        list(fast) == list(slow)
        and fast == slow
        and all(type(fast[key]) is type(slow[key]) for key in fast)
        and all(str(fast[key]) == str(slow[key]) for key in fast)  # Decimal('1.50') vs Decimal('1.5')
    )


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_example_reads_to_the_models_facts(schema: CaseSchema, path: Path) -> None:
    data = example(path)
    fast = schema.read(data)
    slow = model_facts(schema, data)
    assert fast is not None and slow is not None
    assert same(fast, slow)
    assert schema.snapshot_from_facts(fast) == schema.parse(data)


ODD_VALUES = st.sampled_from(
    [
        None, True, False, 0, 1, -1, 10**13, 1.5, "", "x", "yes", "true", "1", "1.50", "-1", "1e3",
        "1_000", " 5", "5.", "١٢", "2025-03-03", "2025-3-3", "20250303", "1899-12-31", "2200-01-01",
        "WI", "WI\n", "wi", "employed", "driver", "active", "sent", "family_arrears",
        Decimal("NaN"), Decimal("-0.01"), Decimal("2.50"), dt.date(2025, 1, 1), dt.date(1800, 1, 1),
        dt.datetime(2025, 1, 1), [], {}, [{}], [{"type": "driver", "status": "active"}],
    ]
)  # fmt: skip


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            found.append((*prefix, key))
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.append((*prefix, index))
            found.extend(paths(value, (*prefix, index)))
    return found


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(CASES), st.sampled_from(SCHEMAS), st.data())
def test_a_changed_snapshot_reads_as_the_model_reads_it_or_falls_back(
    path: Path, schema: CaseSchema, data: st.DataObject
) -> None:
    snapshot = copy.deepcopy(example(path))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths(snapshot) or [()]))
        if not where:
            break
        parent = snapshot
        for step in where[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["set", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[where[-1]]
        elif action == "add" and isinstance(parent, dict):
            key = data.draw(st.sampled_from(["extra", "state", "status", "amount"]))
            parent[key] = copy.deepcopy(data.draw(ODD_VALUES))  # never the shared value itself
        else:
            parent[where[-1]] = copy.deepcopy(data.draw(ODD_VALUES))
    fast = schema.read(snapshot)
    by_closures = compile_closure_reader(schema.source)(snapshot)  # the generated reader's reference
    assert (fast is None) == (by_closures is None)
    if fast is None:
        return  # the model decides: the same facts or its located errors
    slow = model_facts(schema, snapshot)
    assert slow is not None, "the fast reader accepted a snapshot the model refuses"
    assert same(fast, slow)
    assert by_closures is not None and same(by_closures, {k: fast[k] for k in by_closures})


def test_evaluating_plain_data_gives_the_same_decision_as_a_validated_snapshot() -> None:
    policy = load_policy(ROOT / "policies" / "wisconsin")
    for path in CASES:
        data = example(path)
        try:
            slow = policy.evaluate(policy.case_schema.parse(data))
        except CSPolicyError as exc:  # another state, another version: the same error
            with pytest.raises(type(exc), match=re.escape(str(exc))):
                policy.evaluate(data)
            continue
        fast = policy.evaluate(data)
        assert fast.to_json() == slow.to_json()
        assert fast.outcome.snapshot == slow.outcome.snapshot
        assert fast.record().snapshot_digest == slow.record().snapshot_digest
