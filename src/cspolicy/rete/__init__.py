"""The durable-rules (Rete) back end and the case monitor built on it.

Optional: needs the `rete` extra. The core never imports this package; `PolicySet.to_rete()`
does, lazily.
"""

from cspolicy.rete.backend import ENGINE_LOCK, ReteError, RetePolicy, ReteUnavailable

__all__ = ["ENGINE_LOCK", "ReteError", "RetePolicy", "ReteUnavailable"]
