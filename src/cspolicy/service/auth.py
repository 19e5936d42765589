"""Access: `Authorization: Bearer KEY` on every /v1 call when the service has a keys file.

A missing or unknown key is 401 (with `WWW-Authenticate: Bearer`); a known key without the
scope the endpoint needs is 403. Without a keys file every caller is let in as `anonymous`.
The health endpoints and /metrics never ask for a key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cspolicy.service.errors import ServiceError
from cspolicy.service.keys import ApiKey, KeyRing, Scope

ANONYMOUS = ApiKey("anonymous", "", frozenset({Scope.ADMIN}))
bearer = HTTPBearer(auto_error=False, description="An API key from the service's keys file")


def authorize(request: Request, scope: Scope) -> ApiKey:
    """The caller's key when it may use `scope`; 401 or 403 (as a ServiceError) when not.

    A plain function, so the decision endpoint can call it without FastAPI's dependency
    machinery (which costs more per call than the check itself)."""
    ring: KeyRing | None = request.app.state.keys
    if ring is None:
        return ANONYMOUS
    return check_bearer(ring, request.headers.get("authorization"), scope)


def check_bearer(ring: KeyRing | None, authorization: str | None, scope: Scope) -> ApiKey:
    """The key an `Authorization` header value names when it may use `scope` (anyone when the
    service has no keys); 401 or 403 (as a ServiceError) when not."""
    if ring is None:
        return ANONYMOUS
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    challenge = {"WWW-Authenticate": "Bearer"}
    if scheme.lower() != "bearer" or not token:
        raise ServiceError(
            401, "unauthorized", "an API key is required: Authorization: Bearer KEY", headers=challenge
        )
    key = ring.find(token)
    if key is None:
        raise ServiceError(401, "unauthorized", "the API key is not known to this service", headers=challenge)
    if not key.allows(scope):
        raise ServiceError(403, "forbidden", f"the key {key.name!r} does not have the scope {scope.value!r}")
    return key


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that admits a caller whose key has `scope` (or `admin`), and returns the key.

    `bearer` is declared so the OpenAPI document shows the security scheme; the check itself
    is `authorize`."""

    async def check(
        request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> ApiKey:
        return authorize(request, scope)

    return check


BEARER_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}]
"""The OpenAPI security requirement of an endpoint that calls `authorize` itself."""

Decider = Annotated[ApiKey, Depends(require(Scope.DECIDE))]
"""A caller allowed to decide (and to read policies)."""
RecordReader = Annotated[ApiKey, Depends(require(Scope.RECORDS_READ))]
"""A caller allowed to read and replay decision records."""
