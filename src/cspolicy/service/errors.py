"""Errors are data: every failure becomes `{"error": {...}}` with a status, never a traceback.

- an invalid snapshot → 422 with the library's per-field problems (code, path, message);
- a case outside every version, or a rule that cannot be evaluated → 422 with its CSP code;
- an unknown policy, rule or record → 404 with a did-you-mean suggestion when one is close;
- a body over the limit → 413; a missing or wrong key → 401; a key without the scope → 403;
- anything unexpected → 500 with a generic message (the details go to the log, not the client).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cspolicy import CSPolicyError, EvaluationError, PolicyError, Problem, SnapshotError
from cspolicy.service.models import ErrorBody, ErrorDetail, ProblemOut
from cspolicy.store import StoreError

log = structlog.get_logger("cspolicy.service")

# A snapshot problem's message starts with the field's dotted path (keys that are not plain
# names are quoted, see `cspolicy.snapshot.snapshot_problems`).
_PART = r"(?:[A-Za-z_][A-Za-z0-9_]*|\d+|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
_PATH = re.compile(rf"^({_PART}(?:\.{_PART})*): ")


class ServiceError(Exception):
    """An error response the service means to give."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        problems: Iterable[ProblemOut] = (),
        suggestion: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(
            error=ErrorDetail(code=code, message=message, problems=list(problems), suggestion=suggestion)
        )
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse(self.body.model_dump(mode="json"), status_code=self.status, headers=self.headers)


class BodyTooLarge(Exception):
    """The request body is larger than the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def problem_out(problem: Problem) -> ProblemOut:
    """A library problem as the API shows it (the path split off the message, which is unchanged)."""
    match = _PATH.match(problem.message) if problem.code.value == "CSP501" else None
    return ProblemOut(
        code=problem.code.value,
        path=match.group(1) if match else None,
        message=problem.message,
        location=str(problem.location),
    )


def library_error(exc: CSPolicyError) -> ServiceError:
    """The response for an error the library raised on purpose."""
    if isinstance(exc, SnapshotError):
        problems = [problem_out(p) for p in exc.problems]
        return ServiceError(
            422, problems[0].code if problems else "CSP501", "invalid case snapshot", problems
        )
    if isinstance(exc, EvaluationError):
        out = problem_out(exc.problem)
        prefix = f"case {exc.case_id}: " if exc.case_id else ""
        return ServiceError(422, out.code, prefix + exc.problem.message, [out])
    if isinstance(exc, PolicyError):
        problems = [problem_out(p) for p in exc.problems]
        return ServiceError(
            422, problems[0].code if problems else "CSP207", str(exc).splitlines()[0], problems
        )
    if isinstance(exc, StoreError):
        return ServiceError(503, "store_unavailable", "the decision store cannot be used")
    return ServiceError(422, "cspolicy_error", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def error_line(exc: CSPolicyError) -> dict[str, Any]:
    """The `error` member of a batch line, as a single call would have answered."""
    return library_error(exc).body.error.model_dump(mode="json")


def internal_error(exc: Exception) -> ServiceError:
    """The 500 for an exception nobody meant (logged by type only; uvicorn logs the traceback)."""
    log.error("internal_error", error_type=type(exc).__name__)
    return ServiceError(500, "internal_error", "internal error; see the service log")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into an error body."""

    async def service_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return exc.response()

    async def cspolicy_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CSPolicyError)
        if isinstance(exc, StoreError):
            log.error("store_error", message=str(exc))
        return library_error(exc).response()

    async def too_large(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyTooLarge)
        return ServiceError(413, "body_too_large", str(exc)).response()

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            ProblemOut(
                code="request_invalid",
                path=".".join(str(part) for part in error.get("loc", ())),
                message=str(error.get("msg", "invalid")),
                location="<request>",
            )
            for error in exc.errors()
        ]
        return ServiceError(422, "request_invalid", "invalid request parameters", problems).response()

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        headers = dict(exc.headers) if exc.headers else None
        return ServiceError(exc.status_code, code, str(exc.detail), headers=headers).response()

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return internal_error(exc).response()

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(CSPolicyError, cspolicy_error)
    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
