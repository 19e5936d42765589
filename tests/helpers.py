"""Plain helpers shared by the tests (import with `from helpers import ...`).

Not in conftest.py: fixture directories may hold their own conftest.py, and `from conftest import`
would then pick whichever was imported last.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


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
