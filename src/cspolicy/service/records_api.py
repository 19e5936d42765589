"""`/v1/records/{record_id}` and `/v1/records/{record_id}/replay` (needs `--store`)."""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Path, Request

from cspolicy.service.auth import RecordReader
from cspolicy.service.common import errors, in_worker
from cspolicy.service.errors import ServiceError
from cspolicy.service.models import RecordOut, ReplayOut
from cspolicy.service.state import ServiceState, state_of
from cspolicy.service.storage import ServiceStore, is_missing
from cspolicy.store import StoreError

router = APIRouter(prefix="/v1", tags=["records"])
RECORD_ID = re.compile(r"^rec-[0-9a-f]{32}$")
RECORD_PATH = Path(description="A record id, `rec-` and 32 hex digits, as returned by `?store=true`")


def _store(service: ServiceState, record_id: str) -> ServiceStore:
    if service.store is None:
        raise ServiceError(404, "no_store", "this service has no decision store (start it with --store URL)")
    if not RECORD_ID.match(record_id):
        raise ServiceError(
            404, "unknown_record", f"{record_id!r} is not a record id (rec- and 32 hex digits)"
        )
    return service.store


def _missing(record_id: str) -> ServiceError:
    return ServiceError(404, "unknown_record", f"no record {record_id!r} in the decision store")


@router.get(
    "/records/{record_id}",
    summary="A stored decision record and its decision",
    response_model=RecordOut,
    responses=errors(401, 403, 404, 503),
)
async def get_record(request: Request, _: RecordReader, record_id: str = RECORD_PATH) -> RecordOut:
    service = state_of(request)
    store = _store(service, record_id)
    try:
        record, stored = await in_worker(service, store.record, record_id)
    except StoreError as exc:
        if is_missing(exc):
            raise _missing(record_id) from None
        raise
    return RecordOut(record=record, decision=json.loads(stored))


@router.post(
    "/records/{record_id}/replay",
    summary="Replay a record under its stored policy texts",
    description="As `cspolicy replay RECORD_ID --format json`: identical when the replay matches byte for byte.",
    response_model=ReplayOut,
    responses=errors(401, 403, 404, 503),
)
async def replay_record(request: Request, _: RecordReader, record_id: str = RECORD_PATH) -> ReplayOut:
    service = state_of(request)
    store = _store(service, record_id)
    try:
        result = await in_worker(service, store.replay, record_id)
    except StoreError as exc:
        if is_missing(exc):
            raise _missing(record_id) from None
        raise
    return ReplayOut(
        record_id=result.record.record_id,
        identical=result.identical,
        stored=json.loads(result.stored_json),
        replayed=json.loads(result.replayed_json),
    )
