"""Docs safety: policy text with HTML or Markdown injection renders as text on the generated site.

A project whose only policy puts `<script>`, `javascript:` links, raw HTML, reference-link
definitions, template syntax and Markdown into every free-text field is built with the real
`mkdocs build`; its catalogue pages must show that text, escaped, and contain no
element or attribute it tried to create.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from helpers import FIXTURES, ROOT

FIXTURE = FIXTURES / "hostile" / "docs"
RULE_TITLE = "<script>alert(1)</script> [x](javascript:alert(1))"
HOLD_TITLE = 'Hold ]] --> <script>alert(17)</script> "quoted"'


class _Article(HTMLParser):
    """Tags, attributes and visible text of a page's <article> (the generated content)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article" or self.depth:
            self.depth += 1
            self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.words.append(data)


def read_article(path: Path) -> _Article:
    parser = _Article()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def words(article: _Article) -> str:
    return re.sub(r"\s+", " ", "".join(article.words))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of a project holding only the injection policy (the real mkdocs build)."""
    root = tmp_path_factory.mktemp("docs-safety")
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", root / "docs")
    shutil.copytree(FIXTURE / "policies", root / "policies")
    (root / "examples" / "cases").mkdir(parents=True)
    (root / "src").symlink_to(ROOT / "src")
    result = subprocess.run(
        # Not --strict: link checks belong to `make docs`; a guide in progress must not hide this test.
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--no-strict",
            "-f",
            str(root / "mkdocs.yml"),
            "-d",
            "site",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"},
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return root / "site"


def catalogue_pages(site: Path) -> list[Path]:
    pages = sorted((site / "catalogue" / "injection").rglob("*.html"))
    assert len(pages) >= 3, pages
    return pages


def test_no_injected_element_or_attribute_reaches_a_page(site: Path) -> None:
    for page in catalogue_pages(site):
        article = read_article(page)
        assert article.tags, f"{page} has no article"
        for tag, attrs in article.tags:
            assert tag not in ("script", "style", "iframe", "img", "svg", "object", "embed", "form"), (
                page,
                tag,
            )
            for name, value in attrs:
                assert not name.startswith("on"), (page, tag, name)
                assert not (value or "").strip().lower().startswith("javascript:"), (page, tag, name, value)


def test_rule_title_and_summary_show_as_written(site: Path) -> None:
    page = site / "catalogue" / "injection" / "1.0" / "injected" / "index.html"
    shown = words(read_article(page))
    assert RULE_TITLE in shown
    for fragment in (
        "[click me](javascript:alert(11))",
        "<javascript:alert(12)>",
        '<a href="javascript:alert(13)">a link</a>',
        "&lt;script&gt;",  # an entity written in the policy stays an entity, shown as written
        "{{ config.site_name }}",
        "<!-- an open comment",
        "# not a heading",
        "</article><script>alert(14)</script>",
        "[ref]: javascript:alert(15)",
    ):
        assert fragment in shown, fragment
    raw = page.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw or "&#60;script&#62;alert(1)" in raw


def test_hold_and_set_text_show_as_written(site: Path) -> None:
    hold = words(read_article(site / "catalogue" / "injection" / "1.0" / "injected-hold" / "index.html"))
    assert HOLD_TITLE in hold
    assert "`code` *em* __strong__ ~~del~~ | pipe | [x](javascript:alert(18))" in hold
    everything = " ".join(words(read_article(page)) for page in catalogue_pages(site))
    assert "Injection <script>alert(1)</script> set" in everything
    assert "cap <script>alert(6)</script>" in everything or "Cap [x](javascript:alert(7))" in everything
    assert 'Law <a href="javascript:alert(2)">click</a> ![i](javascript:alert(3))' in everything


def test_no_page_of_the_site_runs_injected_script(site: Path) -> None:
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<script>alert\(\d+\)", text), page
        assert 'onmouseover="alert' not in text and "onload=alert" not in text, page
