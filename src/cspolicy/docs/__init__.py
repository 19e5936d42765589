"""Docs-site generation: every page that can be generated from the policies and the code.

`generate_pages(root)` returns {path inside docs/: Markdown}; `docs/gen_pages.py` (run by
mkdocs-gen-files at build time) writes them into the site, and fills the `<!-- cspolicy:NAME -->`
markers of the hand-written pages with `fill_markers`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

from cspolicy.diagnostics import Code
from cspolicy.docs import catalogue, decisions, law, outcomes, reference
from cspolicy.docs.changes import changes
from cspolicy.docs.text import text

MARKER = re.compile(r"^([ \t]*)<!--\s*cspolicy:([a-z0-9-]+)\s*-->[ \t]*$", re.MULTILINE)


def generate_pages(root: Path, today: dt.date | None = None) -> dict[str, str]:
    """Every generated page of the site, keyed by its path under docs/ (catalogue, references, codes),
    plus the filled-in hand-written pages of docs/ and docs/guides/ that carry markers."""
    sets = catalogue.discover(root / "policies", today or dt.date.today())
    outcomes.attach(sets, root / "examples" / "cases")
    pages = catalogue_pages(sets)
    pages["reference/actions.md"] = reference.actions_page(sets)
    pages[law.PAGE] = law.law_page(sets)
    pages["reference/expressions.md"] = reference.expressions_page()
    pages["reference/schema.md"] = reference.schema_page()
    pages["reference/cli.md"] = reference.cli_page()
    pages["reference/api.md"] = reference.api_page()
    pages["codes/index.md"] = reference.codes_index()
    codes_summary = ["* [All codes](index.md)"]
    for code in Code:
        pages[f"codes/{code.value}.md"] = reference.code_page(code)
        codes_summary.append(f"* [{code.value} {_nav(code.name.lower().replace('_', ' '))}]({code.value}.md)")
    pages["codes/SUMMARY.md"] = "\n".join(codes_summary) + "\n"
    replacements = guide_replacements(root, sets)
    docs = root / "docs"
    for guide in sorted([*docs.glob("*.md"), *(docs / "guides").glob("*.md")]):
        original = guide.read_text(encoding="utf-8")
        filled = fill_markers(original, replacements)
        if filled != original:
            pages[guide.relative_to(docs).as_posix()] = filled
    return pages


def catalogue_pages(sets: list[catalogue.PolicySetDocs]) -> dict[str, str]:
    """The rule catalogue: its index, an overview per set and version, a page per rule, and its nav."""
    pages: dict[str, str] = {f"{catalogue.CATALOGUE}/index.md": catalogue.catalogue_index(sets)}
    summary = ["* [Overview](index.md)"]
    for docs in sets:
        pages[f"{catalogue.CATALOGUE}/{docs.id}/index.md"] = catalogue.set_overview(docs)
        summary.append(f"* [{_nav(docs.latest.policy.title)}]({docs.id}/index.md)")
        for index, version in reversed(list(enumerate(docs.versions))):
            folder = version.folder.removeprefix(f"{catalogue.CATALOGUE}/")
            diff = changes(docs.versions[index - 1], version) if index else ""
            pages[f"{version.folder}/index.md"] = catalogue.version_overview(version, diff)
            summary.append(f"    * [Version {_nav(version.policy.version)}]({folder}/index.md)")
            for rule in version.policy.compiled.rules.values():
                pages[version.rule_page(rule.id)] = catalogue.rule_page(version, rule)
                summary.append(f"        * [{_nav(rule.rule.title)}]({folder}/{rule.id}.md)")
    pages[f"{catalogue.CATALOGUE}/SUMMARY.md"] = "\n".join(summary) + "\n"
    return pages


def guide_replacements(root: Path, sets: list[catalogue.PolicySetDocs]) -> dict[str, str]:
    """Marker name → generated Markdown for the hand-written guides."""
    filled = decisions.replacements(root / "examples" / "cases", root, sets)
    filled["functions"] = reference.functions_table()
    filled["module-map"] = reference.module_map()
    filled |= reference.authoring_examples(root)
    return filled


def fill_markers(markdown: str, replacements: Mapping[str, str]) -> str:
    """Replace each `<!-- cspolicy:NAME -->` line with its generated Markdown, indented like the marker
    (so it can sit inside an admonition); unknown markers stay as they are (invisible)."""

    def replace(match: re.Match[str]) -> str:
        indent, name = match.group(1), match.group(2)
        if name not in replacements:
            return match.group(0)
        return "\n".join(indent + line if line else line for line in replacements[name].splitlines())

    return MARKER.sub(replace, markdown)


def _nav(title: str) -> str:
    """A navigation title: escaped like page text (literate-nav reads the link text as Markdown)."""
    return text(title)
