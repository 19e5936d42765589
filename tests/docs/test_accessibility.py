"""The docs site is accessible: axe-core finds no WCAG 2.1 A/AA violation on any page, a planted
violation is caught, and the search works from the keyboard alone.

axe-core comes from the npm registry (`make axe`, into build/, like Mermaid). The built site is served
on 127.0.0.1 with axe beside it; headless Chromium opens every page, loads axe into it once the
page's Mermaid diagrams are drawn, and runs it. The pages are shared between AXE_WORKERS browser
sessions (default 2, one per core: the check is CPU-bound; `CSPOLICY_AXE_WORKERS=1` for one).
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import re
import shutil
import socketserver
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_browser import CHROMEDRIVER, CHROMIUM, FLAGS, MERMAID, _QuietHandler, _rendered_svgs

from cspolicy.docs.catalogue import DIAGRAM_DESCRIPTION, DIAGRAM_WORDS

from helpers import ROOT, built_site

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

AXE = ROOT / "build" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA: what the ADA Title II rule requires of the site.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_URL = "/__axe__/axe.min.js"  # where the test server serves axe, beside the site
AXE_WORKERS = max(1, int(os.environ.get("CSPOLICY_AXE_WORKERS", "2")))
# The dark scheme is the same theme with other colours: it is checked on one page of each kind
# (every template and every kind of generated content) rather than on all of them.
DARK_SAMPLE = [
    "",
    "404.html",
    "catalogue/",
    "catalogue/wisconsin/",
    "catalogue/wisconsin/2025.1/",
    "catalogue/wisconsin/2025.1/lien/",
    "catalogue/federal/2025.2/family-violence-safeguards/",
    "codes/CSP101/",
    "guides/reading-a-decision/",
    "reference/api/",
    "reference/cli/",
    "accessibility/",
]

needs_browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists() and MERMAID.exists()),
    reason="needs Debian chromium + chromium-driver and docs/javascripts/mermaid.min.js (`make browser docs`)",
)

# Runs in the page: waits for the theme to draw every Mermaid diagram (so the page is checked as
# readers get it), loads axe from the test server (a <script src>, so the browser compiles it once
# and reuses the code on the next pages), runs it and returns the violations, one per element.
_RUN_AXE = """
const [tags, axeUrl, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const started = Date.now();
const drawn = () => !document.querySelector("pre.mermaid") || Date.now() - started > 20000;
const run = () => axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
  .then(result => done({
    scheme: document.body.getAttribute("data-md-color-scheme"),
    undrawn: document.querySelectorAll("pre.mermaid").length,
    violations: result.violations.flatMap(rule => rule.nodes.map(node => ({
      rule: rule.id, impact: node.impact, help: rule.help,
      target: node.target.map(String).join(" "),
      detail: (node.failureSummary || "").split(/\\n/).map(line => line.trim()).filter(Boolean).pop() || "",
    }))),
  }), error => done({error: String(error)}));
const load = () => {
  if (typeof axe !== "undefined") { run(); return; }
  const script = document.createElement("script");
  script.src = axeUrl;
  script.onload = run;
  script.onerror = () => done({error: "axe-core could not be loaded from " + axeUrl});
  document.head.appendChild(script);
};
const wait = () => drawn() ? load() : setTimeout(wait, 25);
wait();
"""


@dataclass(frozen=True)
class Violation:
    page: str
    rule: str
    impact: str
    target: str
    help: str
    detail: str = ""  # axe's reason for this element (e.g. the contrast ratio and colours found)

    def __str__(self) -> str:
        line = f"{self.page or '/'}: {self.rule} ({self.impact}) at {self.target!r}: {self.help}"
        return f"{line} ({self.detail})" if self.detail else line


def report(violations: list[Violation]) -> str:
    """What a failing check prints: one line per element (page, axe rule id, target, the rule's help)."""
    pages = len({v.page for v in violations})
    lines = [f"{len(violations)} WCAG 2.1 AA violation(s) on {pages} page(s):"]
    return "\n".join([*lines, *(f"  {v}" for v in violations)])


def site_pages(site: Path) -> list[str]:
    """Every generated page of `site`, as a URL path relative to its root."""
    pages = []
    for path in sorted(site.rglob("*.html")):
        relative = path.relative_to(site).as_posix()
        pages.append(relative.removesuffix("index.html"))
    return pages


SEARCH_INDEX = "search/search_index.json"
ORIGINS: list[str] = []  # every site served in this module, whose local storage `color_scheme` clears


class _AxeHandler(_QuietHandler):
    """The site, and axe-core at AXE_URL. Unless `search`, the search index has no documents."""

    def __init__(self, *args: Any, search: bool, **kwargs: Any) -> None:
        self.search = search
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        if path.split("?")[0] == AXE_URL:
            return str(AXE)
        return super().translate_path(path)

    def do_GET(self) -> None:
        if self.search or not self.path.split("?")[0].endswith("/" + SEARCH_INDEX):
            super().do_GET()
            return
        index = json.loads((Path(self.directory) / SEARCH_INDEX).read_text(encoding="utf-8"))
        body = json.dumps({"config": index["config"], "docs": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serving(site: Path, search: bool = True) -> Iterator[str]:
    """`site` (and axe) served over HTTP on 127.0.0.1, a free port, from a thread; yields the URL.
    With `search=False` the site's search index is served with its configuration but no documents."""
    server = socketserver.ThreadingTCPServer(
        ("127.0.0.1", 0), functools.partial(_AxeHandler, directory=str(site), search=search)
    )
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        origin = f"http://127.0.0.1:{server.server_address[1]}"
        ORIGINS.append(origin)
        yield origin + "/"
    finally:
        server.shutdown()
        server.server_close()


def _chromium(profile: Path) -> Any:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    driver.execute_cdp_cmd("Network.enable", {})
    return driver


@pytest.fixture(scope="module")
def axe_browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    """AXE_WORKERS headless Chromium sessions, each with a fresh profile."""
    assert AXE.is_file(), f"{AXE.relative_to(ROOT)} is missing: `make axe` fetches axe-core from npm"
    profiles = [tmp_path_factory.mktemp("chromium-axe-profile") for _ in range(AXE_WORKERS)]
    with ThreadPoolExecutor(AXE_WORKERS) as pool:
        drivers = list(pool.map(_chromium, profiles))
    try:
        yield drivers
    finally:
        for driver in drivers:
            driver.quit()
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def axe_browser(axe_browsers: list[Any]) -> Any:
    """One of them, for the tests that drive a single page."""
    return axe_browsers[0]


def color_scheme(driver: Any, scheme: str) -> None:
    """Emulate the reader's `prefers-color-scheme` (the theme follows it: light or dark palette)
    and forget the palette the theme remembered from the pages before (in local storage)."""
    driver.get("about:blank")  # no page left to store its palette again once it is forgotten
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )
    for origin in ORIGINS:
        driver.execute_cdp_cmd(
            "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "local_storage"}
        )


def check(drivers: list[Any], base_url: str, pages: list[str], scheme: str = "default") -> list[Violation]:
    """axe on every page, the pages shared between the browser sessions; every violation found, in
    page order.

    Each page would fetch and index the whole search index again (a third of the time a page takes
    to load) for results nobody asks for here: `base_url` is to be served with `search=False`, an
    index with no documents. Not a blocked request: the theme's script fails on that and the page
    would be checked in a state no reader sees (its navigation sidebar, for one, never fitted to the
    window); so an uncaught script error fails the check too.
    The search box is checked like the rest of the page; the results list by
    `test_search_works_from_the_keyboard`."""

    def run(worker: int) -> list[Violation]:
        driver = drivers[worker]
        found = []
        for page in pages[worker :: len(drivers)]:
            driver.get(base_url + page)
            found += axe_now(driver, page, scheme)
            errors = [
                entry["message"] for entry in driver.get_log("browser") if "Uncaught" in entry["message"]
            ]
            assert not errors, f"{page}: the page's script failed: {errors}"
        return found

    with ThreadPoolExecutor(len(drivers)) as pool:
        found = [violation for part in pool.map(run, range(len(drivers))) for violation in part]
    order = {page: index for index, page in enumerate(pages)}
    return sorted(found, key=lambda violation: order[violation.page])


def axe_now(driver: Any, page: str, scheme: str = "default") -> list[Violation]:
    """axe on the page as it is in the browser now (`page` names it in the report)."""
    result = driver.execute_async_script(_RUN_AXE, TAGS, AXE_URL)
    assert "error" not in result, f"{page}: {result['error']}"
    assert result["scheme"] == scheme, f"{page}: drawn in the {result['scheme']} palette, not {scheme}"
    assert result["undrawn"] == 0, f"{page}: {result['undrawn']} Mermaid diagram(s) not drawn in 20 s"
    return [
        Violation(page, item["rule"], item["impact"] or "", item["target"], item["help"], item["detail"])
        for item in result["violations"]
    ]


@pytest.fixture(scope="module")
def shipped_site() -> Path:
    return built_site("shipped")


@pytest.fixture(scope="module")
def shipped() -> Iterator[tuple[Path, str]]:
    """The site built from the shipped policies, served as readers get it."""
    site = built_site("shipped")
    with serving(site) as url:
        yield site, url


@pytest.fixture(scope="module")
def shipped_for_check() -> Iterator[tuple[Path, str]]:
    """The same site served for `check`: a search index with no documents."""
    site = built_site("shipped")
    with serving(site, search=False) as url:
        yield site, url


@needs_browser
def test_every_page_has_no_wcag_21_aa_violation(
    axe_browsers: list[Any], shipped_for_check: tuple[Path, str]
) -> None:
    site, url = shipped_for_check
    pages = site_pages(site)
    assert len(pages) > 150 and "" in pages and "404.html" in pages
    assert set(DARK_SAMPLE) <= set(pages), sorted(set(DARK_SAMPLE) - set(pages))
    for driver in axe_browsers:
        color_scheme(driver, "light")
    violations = check(axe_browsers, url, pages, scheme="default")
    try:
        for driver in axe_browsers:
            color_scheme(driver, "dark")
        violations += [
            Violation(f"{v.page} (dark)", v.rule, v.impact, v.target, v.help, v.detail)
            for v in check(axe_browsers, url, DARK_SAMPLE, scheme="slate")
        ]
    finally:
        for driver in axe_browsers:
            color_scheme(driver, "light")
    assert not violations, report(violations)


# A low-contrast paragraph, an image with no text alternative and a link with no name, planted in
# the article of a copy of a real page.
PLANTED = (
    '<p style="color:#b0b0b0;background:#ffffff">Planted: grey on white.</p>'
    '<img src="planted.png" width="10" height="10">'
    '<a href="planted/"></a>'
)


@needs_browser
def test_a_planted_violation_is_caught(axe_browser: Any, shipped: tuple[Path, str], tmp_path: Path) -> None:
    site, _ = shipped
    copy = tmp_path / "site"
    shutil.copytree(site, copy, copy_function=os.link)  # hard links: fast, and the original is safe
    page = "catalogue/wisconsin/2025.1/lien/"
    path = copy / page / "index.html"
    original = path.read_text(encoding="utf-8")
    assert original.count("</article>") == 1
    path.unlink()  # a new file, not a write through the hard link into the shared site
    path.write_text(original.replace("</article>", PLANTED + "</article>"), encoding="utf-8")
    with serving(copy, search=False) as url:
        color_scheme(axe_browser, "light")
        violations = check([axe_browser], url, [page, "catalogue/wisconsin/2025.1/contempt-referral/"])
    rules = {(v.page, v.rule) for v in violations}
    assert rules == {(page, "color-contrast"), (page, "image-alt"), (page, "link-name")}, report(violations)
    message = report(violations)
    image = next(line for line in message.splitlines() if "image-alt" in line)
    assert image.startswith(f"  {page}: image-alt (critical) at 'img': "), image
    assert "contempt-referral" not in message  # the untouched page next to it stays clean


QUERY = "Start license suspension"  # a rule's title
RESULTS = ".md-search-result__list a.md-search-result__link"


def search_from_the_keyboard(driver: Any, url: str) -> str:
    """Open `url`, focus the search with the `/` shortcut, type QUERY and wait for results; returns
    the first result's address."""
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return typeof document$ !== 'undefined'"))
    assert driver.switch_to.active_element.tag_name == "body"  # nothing focused yet
    ActionChains(driver).send_keys("/").perform()
    WebDriverWait(driver, 10).until(
        lambda d: "md-search__input" in (d.switch_to.active_element.get_attribute("class") or "").split()
    )
    ActionChains(driver).send_keys(QUERY).perform()
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, RESULTS))
    return driver.find_elements(By.CSS_SELECTOR, RESULTS)[0].get_attribute("href") or ""


@needs_browser
def test_search_works_from_the_keyboard(axe_browser: Any, shipped: tuple[Path, str]) -> None:
    """The `/` shortcut focuses the search, typing searches, the arrow key moves to a result and
    Enter opens it: no mouse. The open results list passes axe too, in both colour schemes."""
    _, url = shipped
    color_scheme(axe_browser, "dark")
    try:
        search_from_the_keyboard(axe_browser, url)
        violations = axe_now(axe_browser, "/ (search results open, dark)", scheme="slate")
    finally:
        color_scheme(axe_browser, "light")
    first = search_from_the_keyboard(axe_browser, url)
    violations += axe_now(axe_browser, "/ (search results open)")
    assert not violations, report(violations)
    assert "license-suspension" in first, first
    ActionChains(axe_browser).send_keys(Keys.ARROW_DOWN).perform()
    focused = axe_browser.switch_to.active_element
    assert focused.get_attribute("href") == first  # the arrow key moved focus onto the first result
    ActionChains(axe_browser).send_keys(Keys.ENTER).perform()
    WebDriverWait(axe_browser, 30).until(lambda d: d.current_url.split("#")[0] == first.split("#")[0])
    assert QUERY in axe_browser.find_element(By.CSS_SELECTOR, "article h1").text


_DIAGRAM = re.compile(
    r'<pre class="mermaid"><code>(?P<source>.*?)</code></pre>\s*(?P<after>.{0,20000})', re.S
)
_ARROW = re.compile(r"^ *[A-Za-z0-9_]+ (?:-->|==>|-\.->)(?:\|[a-z]+\|)? [A-Za-z0-9_]+$", re.M)


def test_every_diagram_has_its_text_alternative(shipped_site: Path) -> None:
    """axe cannot see inside a drawn diagram (the theme draws it in a closed shadow root), so this is
    checked in the built pages: every Mermaid diagram has an accessible title and description, and
    is followed by the same graph in words, one sentence per arrow (a rule's place in the graph)
    or per step and arrow (an escalation ladder)."""
    diagrams = 0
    for path in sorted(shipped_site.rglob("*.html")):
        page = path.read_text(encoding="utf-8")
        found = list(_DIAGRAM.finditer(page))
        assert len(found) == page.count('<pre class="mermaid">'), path
        for match in found:
            source = html.unescape(match["source"])
            lines = source.splitlines()
            assert lines[1].startswith("  accTitle: ") and lines[2] == f"  accDescr: {DIAGRAM_DESCRIPTION}", (
                path
            )
            words = re.match(
                rf"<details><summary>{DIAGRAM_WORDS}</summary><ul>(.*?)</ul></details>", match["after"]
            )
            assert words, f"{path}: no text alternative after the diagram"
            sentences = re.findall(r"<li>(.*?)</li>", words[1])
            arrows = len(_ARROW.findall(source))
            steps = source.count("  subgraph step")
            assert len(sentences) == (arrows + steps if steps else arrows) or (
                arrows == 0 and len(sentences) == 1
            )
            diagrams += 1
    assert diagrams > 100


@needs_browser
def test_a_drawn_diagram_carries_its_title_and_description(
    axe_browser: Any, shipped: tuple[Path, str]
) -> None:
    _, url = shipped
    axe_browser.get(url + "catalogue/wisconsin/2025.1/lien/")
    WebDriverWait(axe_browser, 60).until(lambda driver: _rendered_svgs(driver))
    svg = _rendered_svgs(axe_browser)[0]
    assert "The rule in the rule graph" in svg and DIAGRAM_DESCRIPTION in svg
