"""MkDocs hook: put pages that other parts of the project write into the nav once they exist.

A nav entry for a missing file fails `mkdocs build --strict`, so these are added only when the
file is there; the rest of the nav is in mkdocs.yml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# (nav section, title, path under docs/, the page it follows — appended when absent)
OPTIONAL_PAGES = [
    ("Developers", "Caseloads", "guides/caseloads.md", "guides/using-the-library.md"),
    ("Developers", "Performance", "performance.md", None),
    ("Developers", "Rete back end", "rete.md", None),
    ("Developers", "Security", "security.md", None),
]


def _listed(nav: list[Any]) -> set[str]:
    paths: set[str] = set()
    for entry in nav:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            if isinstance(value, list):
                paths |= _listed(value)
            elif isinstance(value, str):
                paths.add(value)
    return paths


def _position(entries: list[Any], after: str | None) -> int:
    for index, entry in enumerate(entries):
        if after is not None and isinstance(entry, dict) and after in entry.values():
            return index + 1
    return len(entries)


def on_config(config: Any) -> Any:
    """Add each optional page that exists (and is not listed yet) to its nav section."""
    nav = config["nav"]
    docs = Path(config["docs_dir"])
    listed = _listed(nav)
    for section, title, path, after in OPTIONAL_PAGES:
        if path in listed or not (docs / path).is_file():
            continue
        for entry in nav:
            if isinstance(entry, dict) and section in entry:
                entries = entry[section]
                entries.insert(_position(entries, after), {title: path})
                break
    return config
