"""Walks over durable-rules expressions, and the patterns the back end builds around them.

A durable-rules expression is JSON-like: `{"$and": [...]}`, `{"$gt": {"f_x": 5}}`, `{"f_x": {"$m":
"f_y"}}`, `{"$iany": {"l_x": {...}}}` with item fields as `$i.NAME`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cspolicy.rete.encoding import NotNative

ALWAYS: dict[str, Any] = {"t": "case"}  # true of the case fact
NEVER: dict[str, Any] = {"t": "never"}  # true of no fact


def disjunctions(test: Any) -> Iterator[Any]:
    """Every `$or` in a durable expression."""
    if isinstance(test, dict):
        if "$or" in test:
            yield test
        for value in test.values():
            yield from disjunctions(value)
    elif isinstance(test, list):
        for value in test:
            yield from disjunctions(value)


def item_fields(test: Any) -> set[str]:
    """The item fields (`$i.NAME`) a durable expression reads."""
    if isinstance(test, dict):
        found = {k for k in test if k.startswith("$i.")}
        return found.union(*(item_fields(v) for v in test.values()))
    if isinstance(test, list):
        return set().union(*(item_fields(v) for v in test))
    return set()


def keys_read(test: Any) -> set[str]:
    """The case-fact properties a durable expression reads (item fields and operators left out)."""
    if isinstance(test, dict):
        found = {k for k in test if not k.startswith("$")}
        if isinstance(test.get("$m"), str):
            found.add(test["$m"])
        return found.union(*(keys_read(v) for v in test.values()))
    if isinstance(test, list):
        return set().union(*(keys_read(v) for v in test))
    return set()


def ends_in_or(test: Any) -> bool:
    """Whether durable-rules would close `test` with an `$or`'s node: an `$or`, or an `$and` whose
    last operand ends in one (an `$and` is closed by its last operand's node)."""
    if not isinstance(test, dict) or len(test) != 1:
        return False
    if "$or" in test:
        return True
    parts = test.get("$and")
    return isinstance(parts, list) and bool(parts) and ends_in_or(parts[-1])


def or_not_last(test: Any) -> Any:
    """`test` with the operands of each `$and` ordered so that it does not end in an `$or`, where
    one of its operands does not (the order of an `$and` does not change what it decides).

    Why: durable-rules 2.0.28 reads a node field it never sets (`right.type` of an `$or`'s
    forward node, left over in `realloc`ed memory) to check the body of `$iany`/`$iall`, and
    refuses the whole ruleset (error 102) when the leftover bytes happen to name an identifier."""
    if not isinstance(test, dict) or "$and" not in test or not ends_in_or(test):
        return test
    parts = [or_not_last(part) for part in test["$and"]]
    closing = next((i for i in reversed(range(len(parts))) if not ends_in_or(parts[i])), None)
    if closing is not None:
        parts.append(parts.pop(closing))
    return {"$and": parts}


def either(test: Any) -> list[Any]:
    """The operands of a (nested) `$or`, flattened; `[test]` for anything else."""
    if isinstance(test, dict) and len(test) == 1 and isinstance(test.get("$or"), list):
        return [part for operand in test["$or"] for part in either(operand)]
    return [test]


OR_ACROSS_ITEM_FIELDS = "an any_of whose condition needs `or` across item fields ($or inside $iany/$iall)"
OR_CLOSES_ITEM_TEST = (
    "an any_of whose item test can only end in `or` (durable-rules 2.0.28 refuses such a ruleset at random)"
)


def item_bodies(test: Any, some_item: bool) -> list[Any]:
    """The bodies of the `$iany`s (one per operand of an `$or`: some item matches `a or b`
    exactly when some item matches `a` or some matches `b`) or of the one `$iall` that test an
    item test; NotNative when durable-rules cannot be trusted with it."""
    bodies = [or_not_last(part) for part in either(test)] if some_item else [or_not_last(test)]
    for body in bodies:
        if any(len(item_fields(part)) > 1 for part in disjunctions(body)):
            # durable-rules 2.0.28 mis-decides an $or over different item fields inside $iany or
            # $iall (tests/rete/test_rete_expression_constructs.py shows it); within one field
            # (a membership test, a missing-value guard) it is exact.
            raise NotNative(OR_ACROSS_ITEM_FIELDS)
        if ends_in_or(body):
            raise NotNative(OR_CLOSES_ITEM_TEST)
    return bodies


def flag_holds(flag: str, holds: dict[str, Any]) -> dict[str, Any]:
    """A native condition that may be precomputed for one case: its flag `T`, or no flag and `holds`."""
    return {"$or": [{flag: "T"}, {"$and": [{"$nex": {flag: 1}}, holds]}]}


def flag_fails(flag: str, fails: dict[str, Any]) -> dict[str, Any]:
    """The same for failing: its flag other than `T`, or no flag and `fails`."""
    return {
        "$or": [{"$and": [{"$ex": {flag: 1}}, {"$neq": {flag: "T"}}]}, {"$and": [{"$nex": {flag: 1}}, fails]}]
    }


MAX_PATTERN_ENTRIES = 30  # durable-rules 2.0.28 refuses a pattern of 32 (ERR_EXPRESSION_LIMIT_EXCEEDED)


def pattern_entries(test: Any) -> int:
    """The entries durable-rules keeps for an expression in one pattern: two per `$and` / `$or`
    (list tests included); comparisons take none (measured: 15 `$or` in an `$and` are refused)."""
    if isinstance(test, list):
        return sum(pattern_entries(v) for v in test)
    if not isinstance(test, dict):
        return 0
    return sum((2 if key in ("$and", "$or") else 0) + pattern_entries(value) for key, value in test.items())
