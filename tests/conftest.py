"""Shared fixtures: paths to the core fixture policies and a factory for minimal snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


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


def write_policy(directory: Path, text: str, name: str = "policy.yaml") -> Path:
    """Write one policy file (dedented text) and return its path."""
    import textwrap

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


HEADER = """\
id: t
version: "1"
title: Test
jurisdiction: {state: WI}
effective: {from: 2020-01-01}
sources:
  src: {title: A source, url: "https://example.org/law"}
"""
