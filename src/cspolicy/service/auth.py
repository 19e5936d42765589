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


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that admits a caller whose key has `scope` (or `admin`), and returns the key."""

    async def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> ApiKey:
        ring: KeyRing | None = request.app.state.keys
        if ring is None:
            return ANONYMOUS
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None or not credentials.credentials:
            raise ServiceError(
                401, "unauthorized", "an API key is required: Authorization: Bearer KEY", headers=challenge
            )
        key = ring.find(credentials.credentials)
        if key is None:
            raise ServiceError(
                401, "unauthorized", "the API key is not known to this service", headers=challenge
            )
        if not key.allows(scope):
            raise ServiceError(
                403, "forbidden", f"the key {key.name!r} does not have the scope {scope.value!r}"
            )
        return key

    return check


Decider = Annotated[ApiKey, Depends(require(Scope.DECIDE))]
"""A caller allowed to decide (and to read policies)."""
RecordReader = Annotated[ApiKey, Depends(require(Scope.RECORDS_READ))]
"""A caller allowed to read and replay decision records."""
