"""The built docs site in a real headless Chromium: Mermaid diagrams render to SVG, search finds rules."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import json
import shutil
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cspolicy.docs.catalogue import PolicyVersion, discover

from helpers import ROOT, built_site

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MERMAID = ROOT / "docs" / "javascripts" / "mermaid.min.js"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
]

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists() and MERMAID.exists()),
    reason="needs Debian chromium + chromium-driver and docs/javascripts/mermaid.min.js (`make browser docs`)",
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the test output stays readable
        return


@contextlib.contextmanager
def serving(site: Path) -> Iterator[str]:
    """`site` served over HTTP on 127.0.0.1 (a free port) from a thread; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    """The site built from the shipped policies, served locally."""
    with serving(built_site("shipped")) as url:
        yield url


@pytest.fixture(scope="module")
def hostile_url() -> Iterator[str]:
    """The site of a policy that tries to inject markup, served locally."""
    with serving(built_site("hostile")) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium driven by the system chromedriver, with a fresh profile."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tmp_path_factory.mktemp("chromium-profile")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def federal() -> PolicyVersion:
    sets = discover(ROOT / "policies", dt.date.today())
    return next(docs for docs in sets if docs.id == "federal").latest


def _page_url(site_url: str, version: PolicyVersion, rule_id: str) -> str:
    return site_url + version.rule_page(rule_id).removesuffix(".md") + "/"


def _rendered_svgs(driver: Any) -> list[str]:
    """The SVG text inside every rendered Mermaid diagram. Material puts each SVG in a *closed*
    shadow root, out of reach of page scripts, so the DOM is read through DevTools, which pierces it."""
    tree = driver.execute_cdp_cmd("DOM.getDocument", {"depth": -1, "pierce": True})
    found: list[str] = []

    def text_of(node: dict[str, Any]) -> str:
        own = node.get("nodeValue", "") if node.get("nodeType") == 3 else ""
        children = [*node.get("children", []), *node.get("shadowRoots", [])]
        return own + " ".join(text_of(child) for child in children)

    def walk(node: dict[str, Any], in_mermaid: bool) -> None:
        attributes = node.get("attributes", [])
        classes = dict(zip(attributes[::2], attributes[1::2], strict=False)).get("class", "")
        here = in_mermaid or (node.get("nodeName") == "DIV" and "mermaid" in classes.split())
        if here and node.get("nodeName", "").lower() == "svg":
            found.append(text_of(node))
            return
        for child in [*node.get("children", []), *node.get("shadowRoots", [])]:
            walk(child, here)

    walk(tree["root"], False)
    return found


def test_rule_page_renders_its_mermaid_diagram_to_svg(
    browser: Any, site_url: str, federal: PolicyVersion
) -> None:
    rule = federal.policy.compiled.rules["passport-denial"]
    browser.get(_page_url(site_url, federal, rule.id))
    assert rule.rule.title in browser.title
    WebDriverWait(browser, 60).until(lambda driver: _rendered_svgs(driver))
    svgs = _rendered_svgs(browser)
    assert len(svgs) == 1
    # The diagram's nodes: the rule itself, the parameter it reads and the action it recommends.
    assert rule.rule.title in svgs[0]
    assert "passport_denial_threshold" in svgs[0]
    assert "certify_passport_denial" in svgs[0]
    assert not browser.find_elements(By.CSS_SELECTOR, "pre.mermaid")  # nothing left unrendered
    errors = [
        entry
        for entry in browser.get_log("browser")
        if entry.get("level") == "SEVERE" and "favicon" not in entry.get("message", "")
    ]
    assert not errors, json.dumps(errors, indent=1)


def test_architecture_page_renders_the_package_diagram(browser: Any, site_url: str) -> None:
    browser.get(site_url + "architecture/")
    WebDriverWait(browser, 60).until(lambda driver: _rendered_svgs(driver))
    svgs = _rendered_svgs(browser)
    assert len(svgs) == 1
    for package in ("diagnostics", "source", "expressions", "engine", "caseload", "rete", "store", "cli"):
        assert package in svgs[0], package
    assert not browser.find_elements(By.CSS_SELECTOR, "pre.mermaid")


def _unique_title_rule() -> tuple[PolicyVersion, str]:
    """A rule whose title no other rule page shares (so exactly one page should match best)."""
    pages: dict[str, list[tuple[PolicyVersion, str]]] = {}
    for docs in discover(ROOT / "policies", dt.date.today()):
        for version in docs.versions:
            for rule in version.policy.compiled.rules.values():
                pages.setdefault(rule.rule.title, []).append((version, rule.id))
    unique = sorted((title, found[0]) for title, found in pages.items() if len(found) == 1)
    assert unique, "every rule title is shared by several pages"
    return unique[0][1]


@pytest.mark.parametrize("which", ["shared title", "unique title"])
def test_site_search_finds_a_rule_by_its_title(
    browser: Any, site_url: str, federal: PolicyVersion, which: str
) -> None:
    version, rule_id = (federal, "passport-denial") if which == "shared title" else _unique_title_rule()
    title = version.policy.compiled.rules[rule_id].rule.title
    browser.get(site_url)
    box = WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "input.md-search__input")
    )
    box.click()
    box.send_keys(title)
    wanted = version.rule_page(rule_id).removesuffix(".md") + "/"

    def hits(driver: Any) -> list[str]:
        links = driver.find_elements(By.CSS_SELECTOR, ".md-search-result__list a.md-search-result__link")
        return [link.get_attribute("href") or "" for link in links]

    WebDriverWait(browser, 60).until(lambda d: any(wanted in href for href in hits(d)))
    titles = [
        element.text for element in browser.find_elements(By.CSS_SELECTOR, ".md-search-result__article h1")
    ]
    assert any(title in shown for shown in titles), titles
    if which == "unique title":
        assert wanted in hits(browser)[0]  # the best match comes first


def test_hostile_policy_text_renders_as_text_and_runs_nothing(browser: Any, hostile_url: str) -> None:
    browser.get(hostile_url + "catalogue/hostile/1.0/hostile-rule/")
    WebDriverWait(browser, 60).until(lambda driver: _rendered_svgs(driver))
    assert browser.execute_script("return typeof window.INJECTED") == "undefined"
    heading = browser.find_element(By.CSS_SELECTOR, "article h1").text
    assert heading.startswith("Certify <script>window.INJECTED=3</script> [x](javascript:alert(1))")
    assert "<script>" in browser.title  # shown as text in the tab, not parsed
    article = browser.find_element(By.CSS_SELECTOR, "article")
    assert not article.find_elements(By.CSS_SELECTOR, "script, iframe, img")
    hrefs = [a.get_attribute("href") or "" for a in article.find_elements(By.CSS_SELECTOR, "a")]
    assert hrefs and not any(href.startswith("javascript") for href in hrefs)
    # The hold's title, written to break out of a Mermaid label, is one node label in the diagram.
    browser.get(hostile_url + "catalogue/hostile/1.0/hostile-hold/")
    WebDriverWait(browser, 60).until(lambda driver: _rendered_svgs(driver))
    assert 'Hold "quoted" #hash `tick` ]] --> end' in _rendered_svgs(browser)[0]
    assert browser.execute_script("return typeof window.INJECTED") == "undefined"
