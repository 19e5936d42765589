"""Shared fixtures: paths to the core fixture policies and a factory for minimal snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import FIXTURES, HEADER, ROOT, write_policy

__all__ = ["FIXTURES", "HEADER", "ROOT", "write_policy"]


@pytest.fixture
def basic_policy_path() -> Path:
    return FIXTURES / "core" / "basic"


@pytest.fixture
def make_snapshot() -> Any:
    """Build a valid snapshot dict, overriding nested keys with dotted names."""

    def build(**overrides: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "case_id": "T-1",
            "as_of": "2025-03-15",
            "jurisdiction": {"state": "WI"},
            "order": {"established_on": "2020-01-01", "monthly_amount": "400.00"},
            "arrears": {"family_owed": "0.00"},
        }
        for dotted, value in overrides.items():
            parts = dotted.split("__")
            target = data
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = value
        return data

    return build
