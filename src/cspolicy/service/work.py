"""The CPU work of a request, run in a worker thread (never on the event loop).

Each function takes the request body as bytes and returns text ready to send, so the event
loop only moves bytes. Snapshots are parsed as the CLI parses a JSON file (`parse_float=Decimal`,
so amounts stay exact) and validated by the library; decisions are the library's, rendered by
`Decision.to_json()` — the text `cspolicy evaluate --format json` prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cspolicy import CaseSnapshot, Code, CSPolicyError, Decision, Location, Problem, SnapshotError
from cspolicy.service.errors import error_line
from cspolicy.service.registry import PolicyEntry
from cspolicy.service.storage import ServiceStore

BODY = "<request body>"


def load_json(text: bytes | str, source: str) -> Any:
    """JSON with exact decimals; a located SnapshotError when it is not JSON."""
    try:
        return json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, too deep, huge ints
        message = f"invalid JSON: {exc}" if isinstance(exc, ValueError) else "invalid JSON: nested too deeply"
        raise SnapshotError([Problem(Code.SNAPSHOT_INVALID, message, Location(source))]) from None


def parse_snapshot(data: Any, source: str = BODY) -> CaseSnapshot:
    return CaseSnapshot.parse(data, source=source)


@dataclass(frozen=True)
class Decided:
    """One decision made for a request: the library's objects and the text to send."""

    decision: Decision
    snapshot: CaseSnapshot
    text: str
    record_id: str | None = None


def decide(entry: PolicyEntry, body: bytes, store: ServiceStore | None) -> Decided:
    """Evaluate one snapshot (the version in force on its `as_of`); save it when `store` is given."""
    snapshot = parse_snapshot(load_json(body, BODY))
    decision = entry.evaluate(snapshot)
    text = decision.to_json() + "\n"  # exactly what `cspolicy evaluate --format json` writes
    record_id = store.save(decision, snapshot) if store is not None else None
    return Decided(decision, snapshot, text, record_id)


def why_not(entry: PolicyEntry, body: bytes, rule_id: str) -> tuple[Decision, str]:
    """Explain `rule_id` for the snapshot in `body`: the library's WhyNot as JSON."""
    snapshot = parse_snapshot(load_json(body, BODY))
    decision = entry.evaluate(snapshot)
    answer = decision.why_not(rule_id)
    return decision, answer.model_dump_json(indent=2) + "\n"


@dataclass(frozen=True)
class BatchItem:
    """One input of a batch: its line (or array position, from 1) and its data or its error."""

    line: int
    data: Any = None
    error: CSPolicyError | None = None


def batch_items(body: bytes) -> list[BatchItem]:
    """The snapshots of a batch body: a JSON array, or JSON Lines (blank lines skipped)."""
    text = body.lstrip()
    if text.startswith(b"["):
        data = load_json(body, BODY)
        if not isinstance(data, list):
            problem = Problem(Code.SNAPSHOT_INVALID, "a batch is a JSON array or JSON Lines", Location(BODY))
            raise SnapshotError([problem])
        return [BatchItem(index, item) for index, item in enumerate(data, start=1)]
    items = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(BatchItem(number, load_json(line, _where(number))))
        except SnapshotError as exc:
            items.append(BatchItem(number, error=exc))
    return items


def _where(line: int) -> str:
    return f"<batch line {line}>"


@dataclass(frozen=True)
class BatchLine:
    """One output line of a batch, and what metrics and the log need to know about it."""

    text: str
    policy_id: str | None = None
    digest: str | None = None
    case_id: str | None = None
    actions: tuple[str, ...] = ()
    error_code: str | None = None


def decide_batch(entry: PolicyEntry, items: list[BatchItem]) -> list[BatchLine]:
    """Decide each item: a decision (compact JSON, one line) or `{"line": N, "error": {...}}`."""
    return list(_decide_each(entry, items))


def _decide_each(entry: PolicyEntry, items: list[BatchItem]) -> Iterator[BatchLine]:
    for item in items:
        try:
            if item.error is not None:
                raise item.error
            decision = entry.evaluate(parse_snapshot(item.data, _where(item.line)))
        except CSPolicyError as exc:
            error = error_line(exc)
            text = json.dumps({"line": item.line, "error": error}, ensure_ascii=False)
            yield BatchLine(text + "\n", error_code=str(error["code"]))
            continue
        yield BatchLine(
            decision.to_json(indent=None) + "\n",
            decision.policy.id,
            decision.policy.digest,
            decision.case_id,
            tuple(decision.action_codes),
        )
