"""The service's settings: one frozen model, passed to the app factory or through the environment.

Uvicorn worker processes (``--workers`` above 1) import the app by name, so the settings also
travel as JSON in the ``CSPOLICY_SERVICE_SETTINGS`` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

ENVIRONMENT_VARIABLE = "CSPOLICY_SERVICE_SETTINGS"
MIB = 1024 * 1024


class ServiceSettings(BaseModel):
    """Everything `cspolicy serve` can be told."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policies: Path = Field(description="Directory holding the policy sets (one per subdirectory)")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    store: str | None = Field(default=None, description="Decision store URL or SQLite file")
    api_keys: Path | None = Field(default=None, description="File of hashed API keys")
    reload_on_change: bool = False
    poll_seconds: float = Field(default=1.0, gt=0, description="How often policy files are checked")
    max_body_bytes: int = Field(default=10 * MIB, gt=0, description="Largest request body accepted")
    max_batch_lines: int = Field(default=100_000, gt=0, description="Most snapshots in one batch call")
    threads: int = Field(default=4, ge=1, description="Worker threads per process for decisions")
    inline_max_bytes: int = Field(
        default=32 * 1024,
        ge=0,
        description="A single snapshot up to this size is decided on the event loop (0: always in a thread)",
    )
    workers: int = Field(default=1, ge=1, description="Uvicorn worker processes")
    reuse_port: bool = Field(
        default=True,
        description="With several workers, one SO_REUSEPORT socket each (False: one shared socket)",
    )
    log_level: str = "info"

    def to_environment(self) -> None:
        """Publish these settings for worker processes (see `from_environment`)."""
        os.environ[ENVIRONMENT_VARIABLE] = self.model_dump_json()

    @classmethod
    def from_environment(cls) -> ServiceSettings:
        """The settings a parent process published; KeyError when there are none."""
        return cls.model_validate_json(os.environ[ENVIRONMENT_VARIABLE])
