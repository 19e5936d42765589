"""Running the service with uvicorn: one process, or `workers` processes.

With several workers each has its own listening socket bound with SO_REUSEPORT, so the kernel
spreads connections over them (see `workers`); where SO_REUSEPORT is missing, or with
`reuse_port` off, uvicorn's supervisor runs them on one shared socket instead.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import structlog
import uvicorn

from cspolicy.service.app import create_app
from cspolicy.service.observability import MULTIPROCESS_VARIABLE, configure_logging
from cspolicy.service.registry import PolicyRegistry
from cspolicy.service.settings import ServiceSettings
from cspolicy.service.storage import ServiceStore
from cspolicy.service.workers import Supervisor, reuse_port_sockets

log = structlog.get_logger("cspolicy.service")
FACTORY = "cspolicy.service.app:app_from_environment"


def serve(settings: ServiceSettings, registry: PolicyRegistry | None = None) -> int:
    """Serve until SIGINT/SIGTERM; the exit status (1 when a worker failed to start). With one
    worker the app (and `registry`, when given) lives in this process; with more, each worker
    process builds its own from `settings`."""
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,  # one structured line per decision instead (see observability)
        "timeout_graceful_shutdown": 10,
        "server_header": False,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings, registry), **common)
        return 0
    if settings.store:  # create or migrate the schema once, before the workers race to do it
        ServiceStore(settings.store).close()
    settings.to_environment()
    configure_logging(settings.log_level)
    with tempfile.TemporaryDirectory(prefix="cspolicy-metrics-") as directory:
        os.environ[MULTIPROCESS_VARIABLE] = directory  # workers add their counters up through it
        sockets = None
        if settings.reuse_port:
            try:
                sockets = reuse_port_sockets(settings.host, settings.port, settings.workers)
            except OSError as exc:  # in use, or not an address of this machine
                log.error("bind_failed", host=settings.host, port=settings.port, error=str(exc))
                return 1
        if sockets is None:
            if settings.reuse_port:
                log.warning("reuse_port_unavailable", fallback="one socket shared by the workers")
            uvicorn.run(FACTORY, factory=True, workers=settings.workers, **common)
            return 0
        config = uvicorn.Config(FACTORY, factory=True, workers=settings.workers, **common)
        return Supervisor(config, sockets).run()
