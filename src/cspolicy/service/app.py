"""The FastAPI application: `create_app(settings)`.

Concurrency model: one asyncio event loop per process accepts requests and moves bytes. One small
snapshot (at most `settings.inline_max_bytes`, no store) is decided on the loop: about a
millisecond, cheaper than a trip to a thread once loop and threads contend for the GIL. All other
CPU or blocking work (batches, larger bodies, why-not, saving and reading records, compiling
policies on reload) runs in worker threads, at most `settings.threads` at a time. Threads share
the GIL, so one process decides on about one core; `--workers N` runs N processes (see
`workers`: one SO_REUSEPORT listening socket each), each with its own copy of the compiled
policies, its own threads and its own reload watcher. The plain decision call is answered
before FastAPI's middleware and routing (see `fastpath`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import structlog
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response

from cspolicy import CaseSnapshot, CSPolicyError, __version__
from cspolicy.service import decisions_api, errors, policies_api, records_api
from cspolicy.service.fastpath import DecisionFastPath
from cspolicy.service.keys import KeyRing
from cspolicy.service.limits import BodyLimitMiddleware
from cspolicy.service.models import ErrorBody, Health, Readiness
from cspolicy.service.observability import (
    Metrics,
    MetricsMiddleware,
    Receive,
    Scope,
    Send,
    configure_logging,
)
from cspolicy.service.registry import PolicyRegistry
from cspolicy.service.reloading import on_sighup, watch
from cspolicy.service.settings import ServiceSettings
from cspolicy.service.state import ServiceState, state_of
from cspolicy.service.storage import ServiceStore

log = structlog.get_logger("cspolicy.service")

DESCRIPTION = """\
cspolicy over HTTP: child support enforcement decisions, explained and cited, from the policy
sets this service loaded. Decisions are the library's, byte for byte what
`cspolicy evaluate --format json` prints. Every `/v1` call needs `Authorization: Bearer KEY`
when the service runs with `--api-keys`.
"""


class ServiceApp(FastAPI):
    """The FastAPI application, with the plain decision calls answered first (see `fastpath`)."""

    fast_path: DecisionFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_path is None or not await self.fast_path.handle(scope, receive, send):
            await super().__call__(scope, receive, send)


def create_app(settings: ServiceSettings, registry: PolicyRegistry | None = None) -> FastAPI:
    """The application, with every policy set under `settings.policies` compiled (PolicyError,
    with every located problem, when one does not load)."""
    configure_logging(settings.log_level)
    metrics = Metrics()

    def reloaded(event: str, **fields: Any) -> None:
        metrics.reloads.labels("refused" if event == "policy_reload_refused" else "ok").inc()
        (log.error if event == "policy_reload_refused" else log.info)(event, **fields)

    if registry is None:
        registry = PolicyRegistry(settings.policies, reloaded)
    else:
        registry.on_event = reloaded
    service = ServiceState(
        settings=settings,
        registry=registry,
        keys=KeyRing.load(settings.api_keys) if settings.api_keys else None,
        store=ServiceStore(settings.store) if settings.store else None,
        metrics=metrics,
        limiter=anyio.CapacityLimiter(settings.threads),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        remove = on_sighup(registry) if settings.workers == 1 else None
        watcher = (
            asyncio.create_task(watch(registry, settings.poll_seconds)) if settings.reload_on_change else None
        )
        log.info(
            "service_started",
            policies={k: e.latest.digest for k, e in registry.catalog.sets.items()},
            keys=len(service.keys.keys) if service.keys else None,
            store=service.store.dialect if service.store else None,
            reload_on_change=settings.reload_on_change,
        )
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            if remove is not None:
                remove()
            if service.store is not None:
                service.store.close()

    app = ServiceApp(
        title="cspolicy decision service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={
            "500": {"model": ErrorBody, "description": "Unexpected failure (details only in the log)"}
        },
    )
    app.state.service = service
    app.state.keys = service.keys
    errors.install(app)
    app.include_router(decisions_api.router)  # first: routes are matched in order, decisions most often
    app.include_router(policies_api.router)
    app.include_router(records_api.router)
    _health(app)
    if settings.inline_max_bytes > 0:
        app.fast_path = DecisionFastPath(service)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn's worker processes call (`--workers` above 1)."""
    settings = ServiceSettings.from_environment()
    try:
        return create_app(settings)
    except CSPolicyError as exc:  # a policy changed on disk since the parent checked it
        configure_logging(settings.log_level)
        log.error("worker_start_refused", error=str(exc))
        raise SystemExit(3) from None  # uvicorn's "failed to start" status


def _health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"], summary="The process is up", response_model=Health)
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Policies are loaded and being served",
        response_model=Readiness,
        responses={503: {"model": Health, "description": "Not ready"}},
    )
    async def readyz(request: Request) -> Readiness | JSONResponse:
        registry = state_of(request).registry
        catalog = registry.catalog
        if not catalog.sets:
            return JSONResponse({"status": "loading"}, status_code=503)
        return Readiness(
            status="ready",
            policies=len(catalog.sets),
            loaded_at=catalog.loaded_at,
            reloads=registry.reloads,
            refused_reloads=registry.refused,
        )

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics"}
        },
    )
    async def metrics(request: Request) -> Response:
        body, content_type = state_of(request).metrics.exposition()
        return Response(body, media_type=content_type)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, with the case snapshot's own JSON Schema (from the library's model)
    as the request body of the decision endpoints."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    snapshot = CaseSnapshot.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(snapshot.pop("$defs", {}))
    components["CaseSnapshot"] = snapshot
    app.openapi_schema = schema
    return schema
