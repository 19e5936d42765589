"""The docs site: generated from the shipped policies, complete for every rule, and injection-proof."""

from __future__ import annotations

import datetime as dt
import html
import importlib
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

import cspolicy
from cspolicy.diagnostics import Code
from cspolicy.docs import fill_markers, generate_pages
from cspolicy.docs.catalogue import PolicySetDocs, PolicyVersion, discover
from cspolicy.docs.reference import API_PACKAGES
from cspolicy.docs.text import code, link, table, text
from cspolicy.engine.snapshot import CaseSnapshot
from cspolicy.expressions import Renderer

from helpers import FIXTURES, ROOT, build_site, built_site

DOCS_FIXTURES = FIXTURES / "docs"


class _Text(HTMLParser):
    """The visible text of a page (scripts and styles left out), entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def article(page: str) -> str:
    """The page's main content (what the Markdown produced), without theme chrome."""
    start, end = page.index("<article"), page.index("</article>")
    return page[start:end]


@pytest.fixture(scope="module")
def shipped_site() -> Path:
    return built_site("shipped")


@pytest.fixture(scope="module")
def shipped_sets() -> list[PolicySetDocs]:
    return discover(ROOT / "policies", dt.date.today())


def every_rule(sets: list[PolicySetDocs]) -> list[tuple[PolicyVersion, str]]:
    return [
        (version, rule_id)
        for docs in sets
        for version in docs.versions
        for rule_id in version.policy.rule_ids
    ]


def rule_html(site: Path, version: PolicyVersion, rule_id: str) -> str:
    page = site / version.rule_page(rule_id).removesuffix(".md") / "index.html"
    assert page.is_file(), f"no page for rule {rule_id} of {version.policy.id} {version.policy.version}"
    return page.read_text(encoding="utf-8")


def test_every_shipped_rule_has_a_page_with_title_citations_and_conditions_in_words(
    shipped_site: Path, shipped_sets: list[PolicySetDocs]
) -> None:
    rules = every_rule(shipped_sets)
    assert len(rules) > 50  # every version of every shipped set, inherited rules included
    for version, rule_id in rules:
        compiled = version.policy.compiled
        rule = compiled.rules[rule_id]
        page = rule_html(shipped_site, version, rule_id)
        words = visible_text(article(page))
        assert rule.rule.title in words
        for citation in rule.citations:
            assert f'href="{html.escape(citation.url, quote=True)}"' in page, (rule_id, citation.url)
        renderer = Renderer(compiled.labels, params=version.parameters)
        for condition in [*rule.when, *rule.unless]:
            sentence = re.sub(r"\s+", " ", renderer.render(condition.node))
            assert sentence in words, (rule_id, sentence)
            for name in condition.names:  # a derived term is defined on the page, in words
                if name.kind == "derived":
                    derived = compiled.derived[name.key]
                    assert renderer.render(derived.expression.node) in words, (rule_id, name.key)
        assert '<pre class="mermaid">' in page


def test_threshold_rule_reads_with_the_amount_in_force(
    shipped_site: Path, shipped_sets: list[PolicySetDocs]
) -> None:
    federal = next(docs for docs in shipped_sets if docs.id == "federal").latest
    words = visible_text(article(rule_html(shipped_site, federal, "passport-denial")))
    amount = federal.parameters["passport_denial_threshold"]
    assert f"is more than the passport denial threshold (${amount:,})" in words
    # every dated value of the parameter, as a half-open interval
    for dated in federal.policy.compiled.parameters["passport_denial_threshold"].values:
        assert f"[{dated.start}, {dated.end or '…'})" in words


def test_overviews_actions_codes_and_guides_are_built(
    shipped_site: Path, shipped_sets: list[PolicySetDocs]
) -> None:
    for docs in shipped_sets:
        overview_html = (shipped_site / "catalogue" / docs.id / "index.html").read_text()
        assert '<pre class="mermaid">' in overview_html  # the set's escalation ladder
        overview = visible_text(article(overview_html))
        for version in docs.versions:
            assert version.policy.version in overview
            ladder = (shipped_site / version.folder / "index.html").read_text()
            assert '<pre class="mermaid">' in ladder
        for old, new in zip(docs.versions, docs.versions[1:], strict=False):
            page = visible_text(article((shipped_site / new.folder / "index.html").read_text()))
            assert f"Compared with version {old.policy.version}" in page
            added = set(new.policy.rule_ids) - set(old.policy.rule_ids)
            assert all(rule_id in page for rule_id in added)
    actions = visible_text(article((shipped_site / "reference/actions/index.html").read_text()))
    used = {
        r.rule.action
        for docs in shipped_sets
        for version in docs.versions
        for r in version.policy.compiled.rules.values()
        if r.rule.action
    }
    assert used and all(action in actions for action in used)
    for value in Code:
        page = visible_text(article((shipped_site / "codes" / value.value / "index.html").read_text()))
        assert value.value in page and "How to fix it" in page
    guide = visible_text(article((shipped_site / "guides/reading-a-decision/index.html").read_text()))
    assert "cspolicy:" not in guide  # every marker was filled in
    assert '"case_id"' in guide and "because" in guide


def test_api_reference_documents_the_public_api(shipped_site: Path) -> None:
    api = visible_text(article((shipped_site / "reference/api/index.html").read_text()))
    exported = [name for name in cspolicy.__all__ if not name.startswith("__")]
    assert len(exported) >= 10
    for name in exported:
        assert name in api, name
    assert "Evaluate one case" in api  # PolicySet.evaluate's docstring
    for package in API_PACKAGES:  # and every concept package's __all__, under its docstring's first line
        loaded = importlib.import_module(package)
        assert visible_text(text((loaded.__doc__ or "").splitlines()[0].rstrip("."))) in api, package
        for name in loaded.__all__:
            assert name.startswith("__") or name in api, f"{package}.{name}"


@pytest.fixture(scope="module")
def hostile_site() -> Path:
    return built_site("hostile")


def test_policy_text_cannot_inject_markup(hostile_site: Path) -> None:
    pages = sorted((hostile_site / "catalogue").rglob("*.html"))
    assert len(pages) >= 4
    for path in pages:
        page = path.read_text(encoding="utf-8")
        body = article(page)
        assert "<script>window.INJECTED" not in page, path
        assert "<img" not in body and "<iframe" not in body and "<b>" not in body, path
        assert not re.search(r"<[^>]*\s(on[a-z]+\s*=|href=\"javascript)", body), path
    rule = (hostile_site / "catalogue/hostile/1.0/hostile-rule/index.html").read_text()
    words = visible_text(article(rule))
    # Shown exactly as written, as text.
    assert (
        "Certify <script>window.INJECTED=3</script> [x](javascript:alert(1)) {: onclick=alert(1) }" in words
    )
    assert 'Statute <img src=x onerror="window.INJECTED=2"> [click](javascript:alert(1)) | pipe' in words
    assert 'href="https://example.org/law?a=1&amp;b=&lt;2&gt;&quot;quote"' in rule
    assert "[2024-01-01, 2024-07-01)" in words and "[2024-07-01, …)" in words


def test_text_helpers_escape_everything_markdown_or_html_would_interpret() -> None:
    hostile = "*a* _b_ `c` <d> [e](f) {#g} | h & i"
    escaped = text(hostile)
    assert not set("*_`<>[](){}|") & set(escaped.replace("&#", "").replace(";", ""))
    assert html.unescape(escaped) == hostile
    assert code("a|b<c>") == "<code>a&#124;b&lt;c&gt;</code>"
    assert link("x", "javascript:alert(1)") == "x"
    assert table(["A"], [[text("p|q")]]).splitlines()[2] == "| p&#124;q |"  # one cell, not two


def test_markers_are_filled_with_the_markers_indentation() -> None:
    page = "Intro\n\n??? example\n\n    <!-- cspolicy:block -->\n\n<!-- cspolicy:unknown -->\n"
    filled = fill_markers(page, {"block": "```json\n{}\n```"})
    assert "    ```json\n    {}\n    ```" in filled
    assert "<!-- cspolicy:unknown -->" in filled


def test_generated_pages_cover_every_rule_and_code(shipped_sets: list[PolicySetDocs]) -> None:
    pages = generate_pages(ROOT)
    for version, rule_id in every_rule(shipped_sets):
        assert version.rule_page(rule_id) in pages
        summary = pages["catalogue/SUMMARY.md"]
        assert version.rule_page(rule_id).removeprefix("catalogue/") in summary
    assert all(f"codes/{value.value}.md" in pages for value in Code)


def test_a_policy_that_does_not_load_stops_the_build_with_a_located_message(tmp_path: Path) -> None:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("mermaid.min.js"))
    shutil.copytree(DOCS_FIXTURES / "policies", tmp_path / "policies")
    policy = tmp_path / "policies" / "hostile" / "policy.yaml"
    policy.write_text(policy.read_text().replace("arrears.total >", "arrears.totl >"))
    (tmp_path / "src").symlink_to(ROOT / "src")
    result = build_site(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "policy.yaml:32:11: rule 'hostile-rule' when: unknown name 'arrears.totl'" in result.stderr
    assert "Traceback" not in result.stderr


def test_rule_pages_show_what_they_did_for_the_example_cases(
    shipped_site: Path, shipped_sets: list[PolicySetDocs]
) -> None:
    wisconsin = next(docs for docs in shipped_sets if docs.id == "wisconsin")
    checked = 0
    for path in sorted((ROOT / "examples" / "cases").glob("*.yaml")):
        case = CaseSnapshot.from_file(path)
        version = wisconsin.on(case.as_of)
        if case.jurisdiction.state != "WI" or version is None:
            continue
        decision = version.policy.evaluate(case)
        for rule_id, outcome in [(a.rule, "recommended") for a in decision.actions] + [
            (h.rule, "held by") for h in decision.held
        ]:
            words = visible_text(article(rule_html(shipped_site, version, rule_id)))
            assert f"{path.name} {case.case_id} {outcome}" in words, (path.name, rule_id)
            checked += 1
    assert checked > 20
