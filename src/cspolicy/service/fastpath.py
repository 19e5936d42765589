"""The decision endpoint's plain calls, answered before FastAPI's middleware and routing.

`POST /v1/policies/{policy_id}/decisions` with no query string and a declared body of at most
`inline_max_bytes` is the call a case management system makes most. Its answer is under a
millisecond of work, of which FastAPI's middleware, routing, request wrapping and response
classes took a quarter. `DecisionFastPath.handle` answers exactly those calls itself: the same
key check, the same lookup, the same `work.decide` on the event loop, the same log line and
metrics, the same error bodies, and the same bytes and headers as the route. It declines every
other request (a query string, a larger or chunked body, another path or method), which FastAPI
then serves; the route stays there, documenting the endpoint in OpenAPI and answering the calls
this path leaves to it. The body limit needs no check here: the declared length is at most the
inline limit, which is at most the body limit, and the HTTP server reads no more than declared.
"""

from __future__ import annotations

import re
import time

from cspolicy import CSPolicyError
from cspolicy.service.auth import check_bearer
from cspolicy.service.common import find_set
from cspolicy.service.decisions_api import counted, refused
from cspolicy.service.errors import ServiceError, internal_error
from cspolicy.service.keys import Scope
from cspolicy.service.language import language_headers
from cspolicy.service.observability import Message, Receive, Send
from cspolicy.service.observability import Scope as AsgiScope
from cspolicy.service.state import ServiceState
from cspolicy.service.work import decide

ROUTE = "/v1/policies/{policy_id}/decisions"
DECISIONS = re.compile(r"/v1/policies/([^/]+)/decisions")  # ROUTE, as Starlette matches it
HEADERS = [(name.lower().encode(), value.encode()) for name, value in language_headers("en").items()]
JSON = (b"content-type", b"application/json")


class DecisionFastPath:
    """Answers plain single-decision calls (see the module docstring)."""

    def __init__(self, service: ServiceState) -> None:
        self.service = service
        self.limit = min(service.settings.inline_max_bytes, service.settings.max_body_bytes)

    async def handle(self, scope: AsgiScope, receive: Receive, send: Send) -> bool:
        """Answer the request and return True, or return False at once (nothing read or sent)."""
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope.get("query_string")
            or scope.get("root_path")
        ):
            return False
        match = DECISIONS.fullmatch(scope["path"])
        if match is None:
            return False
        length = authorization = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
        if length is None or length > self.limit:
            return False
        start = time.perf_counter()
        status = 500
        try:
            status = await self._answer(match.group(1), authorization, receive, send)
        except Exception as exc:
            if status == 500:  # nothing sent yet: answer as FastAPI's handler would, then raise
                await _send(send, internal_error(exc))
            raise  # uvicorn logs the traceback (never the client)
        finally:
            self.service.metrics.answered("POST", ROUTE, status, time.perf_counter() - start)
        return True

    async def _answer(self, policy_id: str, authorization: str | None, receive: Receive, send: Send) -> int:
        service = self.service
        try:
            key = check_bearer(service.keys, authorization, Scope.DECIDE)
            entry = find_set(service.registry.catalog, policy_id)
            body = await _body(receive)
            if body is None:  # the client went away
                return 499
            start = time.perf_counter()
            try:
                decided = decide(entry, body, None)
            except CSPolicyError as exc:
                raise refused(service, key, policy_id, exc, "decision_refused") from None
        except ServiceError as exc:
            await _send(send, exc)
            return exc.status
        counted(service, key, decided, start)
        text = decided.text.encode()
        headers = [*HEADERS, (b"content-length", str(len(text)).encode()), JSON]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": text})
        return 200


async def _send(send: Send, error: ServiceError) -> None:
    """An error response, the bytes FastAPI's exception handlers send for it."""
    response = error.response()
    start: Message = {"type": "http.response.start", "status": response.status_code}
    await send({**start, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


async def _body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client disconnects first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
