"""Pieces the routers share: finding a policy set or rule (404 with a suggestion), running work
in the worker threads, the documented error responses, and the request-body schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from fastapi import Request

from cspolicy import PolicySet
from cspolicy.service.errors import ServiceError
from cspolicy.service.models import ErrorBody, ProblemOut
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
        500: (
            "`translation_missing`: the policy set lacks texts in the language asked for "
            "(the located CSP210/CSP211 problems; `cspolicy check --lang es` lists them)"
        ),
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


POLICY_PARAMETER = {
    "name": "policy_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "title": "Policy Id"},
}
STORE_PARAMETER = {
    "name": "store",
    "in": "query",
    "required": False,
    "description": "Save the decision to the decision store",
    "schema": {"type": "boolean", "default": False, "title": "Store"},
}
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})  # what pydantic accepts as a boolean
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def query_flag(request: Request, name: str) -> bool:
    """A boolean query parameter read as FastAPI would (false when absent), 422 when not one."""
    value = request.query_params.get(name)
    if value is None:
        return False
    word = value.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    problem = ProblemOut(
        code="request_invalid",
        path=f"query.{name}",
        message="Input should be a valid boolean, unable to interpret input",
        location="<request>",
    )
    raise ServiceError(422, "request_invalid", "invalid request parameters", [problem])


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


async def small_or_in_worker(service: ServiceState, size: int, function: Callable[..., T], *args: Any) -> T:
    """Run `function` on the event loop when its input is at most `inline_max_bytes`, else as
    `in_worker`: one small snapshot takes about a millisecond, less than the trip to a thread
    and back costs once the threads and the loop fight for the GIL under load."""
    if size <= service.settings.inline_max_bytes:
        return function(*args)
    return await in_worker(service, function, *args)
