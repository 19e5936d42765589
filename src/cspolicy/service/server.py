"""Running the service with uvicorn: one process, or `workers` processes sharing one socket."""

from __future__ import annotations

import os
import tempfile

import uvicorn

from cspolicy.service.app import create_app
from cspolicy.service.observability import MULTIPROCESS_VARIABLE
from cspolicy.service.registry import PolicyRegistry
from cspolicy.service.settings import ServiceSettings


def serve(settings: ServiceSettings, registry: PolicyRegistry | None = None) -> None:
    """Serve until SIGINT/SIGTERM. With one worker the app (and `registry`, when given) lives in
    this process; with more, each worker process builds its own from `settings`."""
    common = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,  # one structured line per decision instead (see observability)
        "timeout_graceful_shutdown": 10,
        "server_header": False,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings, registry), **common)  # type: ignore[arg-type]
        return
    settings.to_environment()
    with tempfile.TemporaryDirectory(prefix="cspolicy-metrics-") as directory:
        os.environ[MULTIPROCESS_VARIABLE] = directory  # workers add their counters up through it
        uvicorn.run(
            "cspolicy.service.app:app_from_environment",
            factory=True,
            workers=settings.workers,
            **common,  # type: ignore[arg-type]
        )
