"""Plain helpers shared by the tests (import with `from helpers import ...`).

Not in conftest.py: fixture directories may hold their own conftest.py, and `from conftest import`
would then pick whichever was imported last.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
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

# The docs site, built with the project's real mkdocs configuration (tests/docs/).
QUIET = {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}


def build_site(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of the project at `root` into `site`."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(root / "mkdocs.yml"),
            "-d",
            str(site),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET},
        timeout=600,
        check=False,
    )


@functools.cache
def built_site(kind: str) -> Path:
    """The site built once per test run (shared by tests/docs/test_docs.py and test_browser.py):
    `shipped` from the project's own policies, `hostile` from the injection fixture. Removed when
    the run ends."""
    root = Path(tempfile.mkdtemp(prefix=f"cspolicy-docs-{kind}-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    if kind == "hostile":
        return build_hostile_site(root)
    site = root / "site"
    result = build_site(ROOT, site)
    assert result.returncode == 0, result.stderr[-4000:]
    return site


def build_hostile_site(root: Path) -> Path:
    """Build, under `root`, the site of a project whose only policy tries to inject HTML, Markdown
    and Mermaid through its titles, summaries, labels and URLs; returns the site directory."""
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", root / "docs")
    shutil.copytree(FIXTURES / "docs" / "policies", root / "policies")
    (root / "examples" / "cases").mkdir(parents=True)
    (root / "src").symlink_to(ROOT / "src")
    site = root / "site"
    result = build_site(root, site)
    assert result.returncode == 0, result.stderr[-4000:]
    return site
