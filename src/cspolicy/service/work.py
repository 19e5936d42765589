"""The CPU work of a request, run in a worker thread (never on the event loop).

Each function takes the request body as bytes and returns text ready to send, so the event
loop only moves bytes. Snapshots are parsed as the CLI parses a JSON file (`parse_float=Decimal`,
so amounts stay exact) and validated by the library; decisions are the library's, rendered by
`Decision.to_json()` — the text `cspolicy evaluate --format json` prints. An explanation asked
for in another language (`lang`) is the library's too: `Decision.to_text(lang)`,
`Decision.why_not(rule, lang)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from cspolicy import (
    CaseSnapshot,
    Code,
    CSPolicyError,
    Decision,
    Location,
    PolicyError,
    Problem,
    SnapshotError,
)
from cspolicy.service.errors import error_line
from cspolicy.service.language import translation_error
from cspolicy.service.registry import PolicyEntry
from cspolicy.service.storage import ServiceStore
from cspolicy.store import StoreError

BODY = "<request body>"
T = TypeVar("T")


_DECODER = json.JSONDecoder(
    parse_float=Decimal
)  # one, not one per call as json.loads(..., parse_float=) makes


def load_json(text: bytes | str, source: str) -> Any:
    """JSON with exact decimals; a located SnapshotError when it is not JSON."""
    try:
        if isinstance(text, bytes):
            text = text.decode(json.detect_encoding(text))  # as json.loads reads bytes
        return _DECODER.decode(text)
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


def decide(
    entry: PolicyEntry, body: bytes, store: ServiceStore | None, lang: str = "en", text: bool = False
) -> Decided:
    """Evaluate one snapshot (the version in force on its `as_of`); save it when `store` is given.
    The answer is the decision JSON, or with `text` the decision as plain text in `lang`."""
    snapshot = parse_snapshot(load_json(body, BODY))
    decision = entry.evaluate(snapshot)
    # The JSON is exactly what `cspolicy evaluate --format json` writes. A text is said before
    # saving: a policy without the language's texts saves nothing.
    answer = _in_language(entry, lang, lambda: decision.to_text(lang)) if text else decision.to_json() + "\n"
    record_id = store.save(decision, snapshot) if store is not None else None
    return Decided(decision, snapshot, answer, record_id)


def why_not(entry: PolicyEntry, body: bytes, rule_id: str, lang: str = "en") -> tuple[Decision, str]:
    """Explain `rule_id` for the snapshot in `body`: the library's WhyNot as JSON, in `lang`."""
    snapshot = parse_snapshot(load_json(body, BODY))
    decision = entry.evaluate(snapshot)
    answer = _in_language(entry, lang, lambda: decision.why_not(rule_id, lang=lang))
    return decision, answer.model_dump_json(indent=2) + "\n"


def _in_language(entry: PolicyEntry, lang: str, say: Callable[[], T]) -> T:
    """`say()`, with the policy's missing texts in `lang` a ServiceError (500, located problems)."""
    try:
        return say()
    except PolicyError as exc:
        error = translation_error(exc, entry.id, lang)
        if error is None:
            raise
        raise error from None


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
    record_id: str | None = None


def decide_batch(
    entry: PolicyEntry, items: list[BatchItem], store: ServiceStore | None = None
) -> list[BatchLine]:
    """Decide each item: a decision (compact JSON, one line) or `{"line": N, "error": {...}}`.

    With `store`, the decisions are saved in one transaction and each becomes
    `{"line": N, "record_id": "rec-…", "decision": {...}}`, written only once it is committed;
    when the store fails, each of them becomes an error line instead (nothing was saved)."""
    lines = list(_decide_each(entry, items))
    if store is None:
        return [line for line, _, _ in lines]
    decided = [(index, made) for index, (_, made, _) in enumerate(lines) if made is not None]
    try:
        record_ids = store.save_many([made for _, made in decided])
    except StoreError as exc:
        error = error_line(exc)
        for index, _ in decided:
            text = json.dumps({"line": lines[index][2], "error": error}, ensure_ascii=False)
            lines[index] = (BatchLine(text + "\n", error_code=str(error["code"])), None, lines[index][2])
        return [line for line, _, _ in lines]
    for (index, _), record_id in zip(decided, record_ids, strict=True):
        line, _, number = lines[index]
        head = json.dumps({"line": number, "record_id": record_id})[:-1]
        text = f'{head}, "decision": {line.text.rstrip()}}}\n'
        lines[index] = (
            BatchLine(text, line.policy_id, line.digest, line.case_id, line.actions, record_id=record_id),
            None,
            number,
        )
    return [line for line, _, _ in lines]


def _decide_each(
    entry: PolicyEntry, items: list[BatchItem]
) -> Iterator[tuple[BatchLine, tuple[Decision, CaseSnapshot] | None, int]]:
    for item in items:
        try:
            if item.error is not None:
                raise item.error
            snapshot = parse_snapshot(item.data, _where(item.line))
            decision = entry.evaluate(snapshot)
        except CSPolicyError as exc:
            error = error_line(exc)
            text = json.dumps({"line": item.line, "error": error}, ensure_ascii=False)
            yield BatchLine(text + "\n", error_code=str(error["code"])), None, item.line
            continue
        line = BatchLine(
            decision.to_json(indent=None) + "\n",
            decision.policy.id,
            decision.policy.digest,
            decision.case_id,
            tuple(decision.action_codes),
        )
        yield line, (decision, snapshot), item.line
