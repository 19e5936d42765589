"""Structured logs (structlog, one JSON object per line) and Prometheus metrics.

Metrics use `prometheus_client` rather than hand-written text: it gets the exposition format
and histogram buckets right, and its multiprocess mode adds up the counters of every uvicorn
worker process (a hand-written registry would show only the worker that answered the scrape).

What is logged for a decision: the key's name, the policy id, version and digest, the case id,
the record id, the status and the time taken — never a value from the snapshot, and never a
problem message (those quote the values they reject).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
disable_created_metrics()  # type: ignore[no-untyped-call]  # the `_created` series only add noise to a scrape
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def configure_logging(level: str = "info") -> None:
    """JSON lines on stderr: timestamp (UTC), level, event and the event's fields."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


class Metrics:
    """The service's metrics: requests, latency, decisions by action, errors by code, reloads."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cspolicy_http_requests",
            "HTTP requests answered, by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cspolicy_http_request_duration_seconds",
            "Time from request to the last byte of the response, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "cspolicy_decisions",
            "Decisions made, counted once per recommended action code ('none' when no action)",
            ["policy", "action"],
            registry=self.registry,
        )
        self.errors = Counter(
            "cspolicy_errors",
            "Error responses and batch error lines, by code",
            ["code"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "cspolicy_policy_reloads", "Policy reloads, by result", ["result"], registry=self.registry
        )

        # A metric's `labels()` takes a lock and builds a key on every call; a request needs
        # several, so the labelled children (few: routes, statuses, actions) are kept here.
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def decided(self, policy_id: str, actions: list[str]) -> None:
        for action in actions or ["none"]:
            self._child(self.decisions, policy_id, action).inc()

    def error(self, code: str) -> None:
        self._child(self.errors, code).inc()

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request, its time to the last byte, and its status when an error."""
        self._child(self.requests, method, route, str(status)).inc()
        self._child(self.latency, route).observe(seconds)
        if status >= 400:
            self.error(f"http_{status}")

    def exposition(self) -> tuple[bytes, str]:
        """The text a Prometheus scrape reads (every worker's when running several)."""
        if os.environ.get(MULTIPROCESS_VARIABLE):
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts every request and times it to the last byte sent (streamed responses included)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = str(getattr(scope.get("route"), "path", "unmatched"))
            self.metrics.answered(scope["method"], route, status, time.perf_counter() - start)
