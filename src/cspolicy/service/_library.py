"""The one place where the service reaches below cspolicy's top-level names.

Everything else in `cspolicy.service` imports from here, from `cspolicy` itself or from
`cspolicy.store`, so the service's reach into the engine is listed in one place.
"""

from __future__ import annotations

from cspolicy.engine.records import DecisionRecord
from cspolicy.engine.versions import PolicyVersions, shown_date
from cspolicy.expressions import Renderer
from cspolicy.expressions.render import format_value
from cspolicy.source.loading import policy_files, version_directories

__all__ = [
    "DecisionRecord",
    "PolicyVersions",
    "Renderer",
    "format_value",
    "policy_files",
    "shown_date",
    "version_directories",
]
