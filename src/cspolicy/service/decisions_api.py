"""`/v1/policies/{policy_id}/decisions`, `decisions:batch` and `rules/{rule_id}/why-not`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from cspolicy import CSPolicyError, Decision, DecisionModel, EvaluationError, WhyNot
from cspolicy.service.auth import BEARER_SECURITY, Decider, authorize
from cspolicy.service.common import (
    POLICY_PARAMETER,
    SNAPSHOT_REF,
    STORE_PARAMETER,
    errors,
    find_rule,
    find_set,
    in_worker,
    query_flag,
    small_or_in_worker,
    snapshot_body,
)
from cspolicy.service.errors import ServiceError, library_error
from cspolicy.service.keys import ApiKey, Scope
from cspolicy.service.language import (
    ACCEPT_LANGUAGE_PARAMETER,
    EXPLAIN_PARAMETER,
    LANGUAGE_HEADERS,
    explain_text,
    language_headers,
    request_language,
)
from cspolicy.service.registry import PolicyEntry
from cspolicy.service.state import ServiceState, state_of
from cspolicy.service.work import Decided, batch_items, decide, decide_batch, why_not

router = APIRouter(prefix="/v1", tags=["decisions"])
log = structlog.get_logger("cspolicy.service")

BATCH_CHUNK = 64  # snapshots decided per trip to a worker thread while streaming
NDJSON = "application/x-ndjson"


def refused(
    service: ServiceState, key: ApiKey, policy_id: str, exc: CSPolicyError, event: str
) -> ServiceError:
    """The error response for a snapshot the library refused, counted and logged (codes only)."""
    error = library_error(exc)
    code = error.body.error.code
    service.metrics.error(code)
    case_id = exc.case_id if isinstance(exc, EvaluationError) else None
    # Codes only: a problem's message quotes the snapshot value it rejects.
    log.info(event, key=key.name, policy_id=policy_id, case_id=case_id, status=error.status, code=code)
    return error


@router.post(
    "/policies/{policy_id}/decisions",
    summary="Decide one case",
    description=(
        "Evaluates one case snapshot under the version in force on its `as_of` and answers with "
        "the Decision JSON exactly as `cspolicy evaluate --format json` prints it. With "
        "`?store=true` the decision is saved to the decision store; the record id is in the "
        "`X-Record-Id` header (and `Location` points at the record). The JSON's texts are "
        "English whatever `Accept-Language` says (`Content-Language: en`); with `?explain=text` "
        "the answer is the decision as plain text (`text/plain`) in the language `Accept-Language` "
        "asks for (`es`/`es-*`: Spanish, else English), as `cspolicy evaluate --lang LANG` prints it."
    ),
    response_class=Response,
    responses={
        200: {
            "model": DecisionModel,
            "description": "The decision (JSON), or with `?explain=text` the decision as plain text",
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "headers": {"X-Record-Id": {"schema": {"type": "string"}}, **LANGUAGE_HEADERS},
        },
        **errors(401, 403, 404, 413, 422, 500, 503),
    },
    openapi_extra={
        **snapshot_body("One case snapshot (JSON)"),
        "parameters": [POLICY_PARAMETER, STORE_PARAMETER, EXPLAIN_PARAMETER, ACCEPT_LANGUAGE_PARAMETER],
        "security": BEARER_SECURITY,
    },
)
async def decide_one(request: Request) -> Response:
    # The hot path: the policy id, the key and `?store` are read here rather than through
    # FastAPI's dependency solving (same checks, same errors, documented by `openapi_extra`).
    policy_id: str = request.path_params["policy_id"]
    service = state_of(request)
    key = authorize(request, Scope.DECIDE)
    store = query_flag(request, "store")
    text = explain_text(request)
    lang = request_language(request) if text else "en"  # the JSON is English, as the CLI's
    entry = find_set(service.registry.catalog, policy_id)
    if store and service.store is None:
        raise ServiceError(404, "no_store", "this service has no decision store (start it with --store URL)")
    body = await request.body()
    start = time.perf_counter()
    try:
        if store or text:  # a save waits on the database, a text is built: in a thread
            decided = await in_worker(
                service, decide, entry, body, service.store if store else None, lang, text
            )
        else:
            decided = await small_or_in_worker(service, len(body), decide, entry, body, None)
    except CSPolicyError as exc:
        raise refused(service, key, policy_id, exc, "decision_refused") from None
    counted(service, key, decided, start)
    headers = language_headers(lang)
    if decided.record_id is not None:
        headers |= {"X-Record-Id": decided.record_id, "Location": f"/v1/records/{decided.record_id}"}
    media_type = "text/plain; charset=utf-8" if text else "application/json"
    return Response(decided.text, media_type=media_type, headers=headers)


def counted(service: ServiceState, key: ApiKey, decided: Decided, start: float) -> None:
    """Count a decision made for a single call and log its line (no snapshot value in it)."""
    decision = decided.decision
    service.metrics.decided(decision.policy.id, decision.action_codes)
    log.info(
        "decision",
        key=key.name,
        policy_id=decision.policy.id,
        policy_version=decision.policy.version,
        policy_digest=decision.policy.digest,
        case_id=decision.case_id,
        record_id=decided.record_id,
        status=200,
        ms=round((time.perf_counter() - start) * 1000, 3),
    )


@router.post(
    "/policies/{policy_id}/decisions:batch",
    summary="Decide many cases, streamed",
    description=(
        "Body: JSON Lines (one snapshot per line) or a JSON array of snapshots. Response: JSON "
        "Lines in input order, streamed as they are decided: for each input either the decision "
        '(the same JSON as a single call, on one line) or `{"line": N, "error": {...}}` with the '
        "located problems. Blank input lines are skipped. With `?store=true` every decision is "
        'saved, and its line is `{"line": N, "record_id": "rec-…", "decision": {...}}`, sent only '
        "once the record is committed."
    ),
    response_class=StreamingResponse,
    responses={
        200: {"description": "One JSON object per line", "content": {NDJSON: {"schema": {"type": "string"}}}},
        **errors(401, 403, 404, 413, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": SNAPSHOT_REF}},
                NDJSON: {"schema": {"type": "string"}},
            },
        }
    },
)
async def decide_many(
    policy_id: str,
    request: Request,
    key: Decider,
    store: bool = Query(False, description="Save every decision to the decision store"),
) -> StreamingResponse:
    service = state_of(request)
    entry = find_set(service.registry.catalog, policy_id)
    saver = service.store if store else None
    if store and saver is None:
        raise ServiceError(404, "no_store", "this service has no decision store (start it with --store URL)")
    body = await request.body()
    try:
        items = await in_worker(service, batch_items, body)
    except CSPolicyError as exc:
        raise refused(service, key, policy_id, exc, "batch_refused") from None
    limit = service.settings.max_batch_lines
    if len(items) > limit:
        raise ServiceError(413, "batch_too_large", f"{len(items)} snapshots in one batch; at most {limit}")

    async def lines() -> AsyncIterator[str]:
        decided = refusals = 0
        start = time.perf_counter()
        for first in range(0, len(items), BATCH_CHUNK):
            chunk = await in_worker(service, decide_batch, entry, items[first : first + BATCH_CHUNK], saver)
            for line in chunk:
                if line.error_code is not None:
                    refusals += 1
                    service.metrics.error(line.error_code)
                    if line.error_code == "store_unavailable":  # the store failed, not the input
                        log.error("store_error", key=key.name, policy_id=policy_id, batch=True)
                else:
                    decided += 1
                    service.metrics.decided(line.policy_id or policy_id, list(line.actions))
                    log.info(
                        "decision",
                        key=key.name,
                        policy_id=line.policy_id,
                        policy_digest=line.digest,
                        case_id=line.case_id,
                        record_id=line.record_id,
                        batch=True,
                    )
                yield line.text
        log.info(
            "batch",
            key=key.name,
            policy_id=policy_id,
            decided=decided,
            refused=refusals,
            stored=store,
            ms=round((time.perf_counter() - start) * 1000, 3),
        )

    return StreamingResponse(lines(), media_type=NDJSON)


@router.post(
    "/policies/{policy_id}/rules/{rule_id}/why-not",
    summary="Why a rule did or did not apply",
    description=(
        "The library's why-not explanation (`Decision.why_not`) for one case snapshot, its texts "
        "(`title`, `text`, each failed condition's `text`) in the language `Accept-Language` asks "
        "for: `es`/`es-*` Spanish, else English (`Content-Language` says which)."
    ),
    response_class=Response,
    responses={
        200: {"model": WhyNot, "description": "The explanation", "headers": LANGUAGE_HEADERS},
        **errors(401, 403, 404, 413, 422, 500),
    },
    openapi_extra={**snapshot_body("One case snapshot (JSON)"), "parameters": [ACCEPT_LANGUAGE_PARAMETER]},
)
async def explain(policy_id: str, rule_id: str, request: Request, key: Decider) -> Response:
    service = state_of(request)
    lang = request_language(request)
    entry = find_set(service.registry.catalog, policy_id)
    find_rule(entry, None, rule_id)
    body = await request.body()
    try:
        decision, text = await in_worker(service, _why_not_checked, entry, body, rule_id, lang)
    except CSPolicyError as exc:
        raise refused(service, key, policy_id, exc, "why_not_refused") from None
    log.info(
        "why_not",
        key=key.name,
        policy_id=decision.policy.id,
        policy_digest=decision.policy.digest,
        case_id=decision.case_id,
        rule=rule_id,
        lang=lang,
        record_id=None,
    )
    return Response(text, media_type="application/json", headers=language_headers(lang))


def _why_not_checked(entry: PolicyEntry, body: bytes, rule_id: str, lang: str) -> tuple[Decision, str]:
    """`why_not`, with a rule missing from the version in force a 404 (not a KeyError)."""
    try:
        return why_not(entry, body, rule_id, lang)
    except KeyError:
        raise ServiceError(
            404, "unknown_rule", f"no rule {rule_id!r} in the version of {entry.id} in force"
        ) from None
