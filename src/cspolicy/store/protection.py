"""Which parts of a stored decision and snapshot hold protected data (FTI, FVI), and masking them.

The case schema's `classification` marks fields as federal tax information (`fti`) or
family-violence protected (`fvi`). A *mark* names one place in the decision JSON or the
snapshot JSON (a list of keys and indexes) and the classifications it holds. Marks are computed
from the policy and the schema, never from the values, so a place is marked whatever the case's
value is (a flag that is `false` is masked the same way as one that is `true`: the mask itself
says nothing).

What a mark covers in the decision JSON: for each condition trace that reads a protected field —
directly, through a derived value, or through an item field of a list — its `text` and `result`
and the protected names' `values`; each output computed from protected data; the due date (and
the overdue flag) of a clock that reads protected data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cspolicy.engine.caseschema import CaseSchema, default_case_schema
from cspolicy.engine.compiled import CompiledPolicy, CompiledRule
from cspolicy.engine.decision import Decision
from cspolicy.engine.outputs import json_text
from cspolicy.expressions.nodes import Name
from cspolicy.expressions.nodes import names as names_of

PROTECTED = ("fti", "fvi")
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Mark:
    """One protected place: where it is and which classifications a reader needs to see it."""

    path: Path
    classes: frozenset[str]

    def hidden_from(self, scopes: frozenset[str]) -> bool:
        return not self.classes <= scopes


def mask_value(classes: Iterable[str]) -> str:
    """What a reader without the scope sees instead of a protected value."""
    return f"[withheld: {'+'.join(sorted(classes))}]"


def check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes as a set; ValueError naming an unknown one."""
    found = frozenset(scopes)
    unknown = sorted(found - set(PROTECTED))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)} (scopes: {', '.join(PROTECTED)})")
    return found


def marks_to_json(marks: list[Mark]) -> str | None:
    """Marks as stored (None when there are none)."""
    if not marks:
        return None
    return json.dumps([[list(m.path), sorted(m.classes)] for m in marks], ensure_ascii=False)


def marks_from_json(text: str | None) -> list[Mark]:
    if not text:
        return []
    return [Mark(tuple(path), frozenset(classes)) for path, classes in json.loads(text)]


def mask(data: Any, marks: Iterable[Mark], scopes: frozenset[str] = frozenset()) -> Any:
    """`data` with every mark the scopes do not cover replaced by its mask (changed in place)."""
    for mark in marks:
        if not mark.hidden_from(scopes):
            continue
        *parents, last = mark.path
        node = data
        try:
            for step in parents:
                node = node[step]
            if isinstance(node, dict) and last not in node:
                continue
            node[last] = mask_value(mark.classes)
        except (KeyError, IndexError, TypeError):
            continue  # a mark for a place this JSON does not have (e.g. an empty list)
    return data


def masked_decision_json(text: str, marks: list[Mark], scopes: frozenset[str] = frozenset()) -> str:
    """Decision JSON (as `Decision.to_json()` writes it) with the marks the scopes do not cover masked."""
    if not any(m.hidden_from(scopes) for m in marks):
        return text
    return json_text(mask(json.loads(text), marks, scopes))


def masked_snapshot_json(text: str, marks: list[Mark], scopes: frozenset[str] = frozenset()) -> str:
    """Canonical snapshot JSON with the marks the scopes do not cover masked (still canonical)."""
    if not any(m.hidden_from(scopes) for m in marks):
        return text
    data = mask(json.loads(text), marks, scopes)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- computing marks ---------------------------------------------------------------------------


class Classifier:
    """The protected classifications each name of a policy reads (derived values followed through)."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.schema: CaseSchema = policy.case_schema or default_case_schema()
        self.fields: dict[str, frozenset[str]] = {}
        self.items: dict[str, dict[str, frozenset[str]]] = {}
        for path, leaf in self.schema.leaves.items():
            own = _protected([leaf.classification.value])
            if own:
                self.fields[path] = own
            items = {name: _protected([doc.classification.value]) for name, doc in leaf.items.items()}
            items = {name: classes for name, classes in items.items() if classes}
            if items:
                self.items[path] = items
        self._derived: dict[str, frozenset[str]] = {}
        # A snapshot's protected places: fields at fixed paths, and item fields of lists.
        self.fixed_marks = [Mark(tuple(path.split(".")), classes) for path, classes in self.fields.items()]
        self.list_items = [
            (tuple(path.split(".")), items) for path, items in self.items.items() if path not in self.fields
        ]

    def of_names(self, names: Iterable[Name]) -> frozenset[str]:
        """Every protected classification an expression reading `names` depends on."""
        found: set[str] = set()
        for name in names:
            found |= self.of_name(name)
        return frozenset(found)

    def of_name(self, name: Name) -> frozenset[str]:
        if name.kind == "param" or name.kind == "item":
            return frozenset()  # item fields are counted with their list, below
        if name.kind == "derived":
            return self._of_derived(f"policy:{name.key}")
        if name.path in self.schema.derived:
            return self._of_derived(f"schema:{name.path}")
        own = self.fields.get(name.path, frozenset())
        # Conservative: a list with any protected item field is protected wherever it is read.
        items = self.items.get(name.path, {})
        return own.union(*items.values()) if items else own

    def _of_derived(self, key: str) -> frozenset[str]:
        known = self._derived.get(key)
        if known is not None:
            return known
        self._derived[key] = frozenset()  # a cycle is impossible (the compiler refuses one)
        kind, name = key.split(":", 1)
        if kind == "policy":
            result = self.of_names(self.policy.derived[name].expression.names)
        else:
            derived = self.schema.derived[name]
            own = _protected([derived.classification.value])
            result = own | self.of_names(names_of(derived.node))
        self._derived[key] = result
        return result


def decision_marks(decision: Decision, classifier: Classifier | None = None) -> list[Mark]:
    """The protected places of `decision.to_json()`."""
    policy = decision.outcome.policy
    classifier = classifier or Classifier(policy)
    marks: list[Mark] = []
    parts: list[tuple[str, list[Any]]] = [
        ("actions", list(decision.actions)),
        ("held", list(decision.held)),
        ("waiting", list(decision.waiting)),
    ]
    for part, actions in parts:
        for index, action in enumerate(actions):
            explained = policy.rules[action.held_by if part == "held" else action.rule]
            marks.extend(_trace_marks((part, index), explained, classifier))
            if part == "actions":
                marks.extend(_output_marks((part, index), policy.rules[action.rule], classifier))
    return marks


def _trace_marks(at: Path, rule: CompiledRule, classifier: Classifier) -> Iterator[Mark]:
    for position, condition in enumerate([*rule.when, *rule.unless]):
        classes = classifier.of_names(condition.names)
        if not classes:
            continue
        trace = (*at, "because", position)
        yield Mark((*trace, "text"), classes)
        yield Mark((*trace, "result"), classes)
        for name in condition.names:
            own = classifier.of_name(name)
            if own:
                yield Mark((*trace, "values", name.path), own)


def _output_marks(at: Path, rule: CompiledRule, classifier: Classifier) -> Iterator[Mark]:
    for name, expression in rule.outputs.items():
        classes = classifier.of_names(expression.names)
        if classes:
            yield Mark((*at, "outputs", name), classes)
    clock: set[str] = set()
    for clock_expression in (rule.due_after, rule.due_extended_when):
        if clock_expression is not None:
            clock |= classifier.of_names(clock_expression.names)
    if clock:
        yield Mark((*at, "due_by"), frozenset(clock))
        yield Mark((*at, "overdue"), frozenset(clock))


def snapshot_marks(classifier: Classifier, text: str) -> list[Mark]:
    """The protected places of a canonical snapshot (its JSON text)."""
    marks = list(classifier.fixed_marks)
    if classifier.list_items:
        data = json.loads(text)
        for steps, items in classifier.list_items:
            value = _get(data, steps)
            for index in range(len(value) if isinstance(value, list) else 0):
                marks.extend(Mark((*steps, index, name), classes) for name, classes in items.items())
    return marks


def _get(data: Any, steps: Path) -> Any:
    for step in steps:
        if not isinstance(data, dict) or step not in data:
            return None
        data = data[step]
    return data


def _protected(classes: Iterable[str]) -> frozenset[str]:
    return frozenset(c for c in classes if c in PROTECTED)
