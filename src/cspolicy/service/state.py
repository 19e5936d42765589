"""What every request handler shares: settings, the policy registry, keys, store and metrics."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from fastapi import Request

from cspolicy.service.keys import KeyRing
from cspolicy.service.observability import Metrics
from cspolicy.service.registry import PolicyRegistry
from cspolicy.service.settings import ServiceSettings
from cspolicy.service.storage import ServiceStore


@dataclass
class ServiceState:
    """The running service's parts (one per worker process)."""

    settings: ServiceSettings
    registry: PolicyRegistry
    keys: KeyRing | None
    store: ServiceStore | None
    metrics: Metrics
    limiter: anyio.CapacityLimiter


def state_of(request: Request) -> ServiceState:
    service: ServiceState = request.app.state.service
    return service
