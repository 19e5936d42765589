"""The decision service: cspolicy over HTTP (FastAPI, served by uvicorn; the `service` extra).

Start it with `cspolicy serve --policies DIR`, or build the app yourself::

    from cspolicy.service import ServiceSettings, create_app
    app = create_app(ServiceSettings(policies="policies"))

One concern per module: `settings`, `registry` (policy sets, reload), `keys` and `auth`,
`work` (the CPU work, in threads), `describe` (rules in words), `storage` (the decision store),
`errors`, `limits`, `observability` (logs, metrics), the routers `*_api`, `app` and `server`.
"""

from cspolicy.service.app import create_app
from cspolicy.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
