"""Pieces the routers share: finding a policy set or rule (404 with a suggestion), running work
in the worker threads, the documented error responses, and the request-body schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from cspolicy import PolicySet
from cspolicy.service.errors import ServiceError
from cspolicy.service.models import ErrorBody
from cspolicy.service.registry import Catalog, PolicyEntry, closest
from cspolicy.service.state import ServiceState

T = TypeVar("T")

SNAPSHOT_REF = {"$ref": "#/components/schemas/CaseSnapshot"}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error responses an endpoint can give."""
    meaning = {
        401: "No API key, or an unknown one",
        403: "The key lacks the scope this endpoint needs",
        404: "Unknown policy set, rule or record (with a suggestion when one is close)",
        413: "Request body over the configured limit",
        422: "Invalid snapshot (per-field problems) or a case no version decides (CSP207)",
        503: "The decision store cannot be used",
    }
    return {status: {"model": ErrorBody, "description": meaning[status]} for status in statuses}


def snapshot_body(description: str) -> dict[str, Any]:
    """`openapi_extra` for an endpoint whose body is one case snapshot (validated by the library)."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": SNAPSHOT_REF}},
        }
    }


def find_set(catalog: Catalog, policy_id: str) -> PolicyEntry:
    entry = catalog.get(policy_id)
    if entry is None:
        suggestion = catalog.suggest(policy_id)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        known = ", ".join(catalog.sets)
        raise ServiceError(
            404,
            "unknown_policy",
            f"no policy set {policy_id!r}{hint} (served: {known})",
            suggestion=suggestion,
        )
    return entry


def find_rule(entry: PolicyEntry, policy: PolicySet | None, rule_id: str) -> None:
    """404 with a suggestion unless `rule_id` is a rule of `policy` (of any version when None)."""
    known = policy.rule_ids if policy is not None else entry.rule_ids()
    if rule_id in known:
        return
    suggestion = closest(rule_id, known)
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    version = f" {policy.version}" if policy is not None else ""
    raise ServiceError(
        404, "unknown_rule", f"no rule {rule_id!r} in {entry.id}{version}{hint}", suggestion=suggestion
    )


async def in_worker(service: ServiceState, function: Callable[..., T], *args: Any) -> T:
    """Run CPU work in a worker thread, at most `threads` at a time, off the event loop."""
    return await anyio.to_thread.run_sync(function, *args, limiter=service.limiter)
