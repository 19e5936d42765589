"""The HTML notices pass the docs' accessibility check: axe-core in headless Chromium finds no
WCAG 2.1 A/AA violation (nor a best-practice one: landmarks, one main, heading order), in
English and Spanish; a planted violation is caught, so the check is live.

axe-core comes from the npm registry into build/axe-core/ (`make axe`), as for the docs site.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cspolicy.engine.versions import PolicyVersions
from cspolicy.notices import render_notice

from helpers import ROOT

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = ROOT / "build" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,900"]

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists() and AXE.exists()),
    reason="needs Debian chromium + chromium-driver and build/axe-core/axe.min.js (`make browser axe`)",
)

_RUN_AXE = """
const [tags, done] = [arguments[0], arguments[arguments.length - 1]];
axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
  .then(result => done(result.violations.flatMap(rule => rule.nodes.map(node =>
      `${rule.id} (${node.impact}) at ${node.target.join(" ")}: ${rule.help}`))),
        error => done(["axe failed: " + String(error)]));
"""

NOTICES = [
    ("wisconsin", "05-license-suspension", "initiate_license_suspension"),
    ("federal", "04-passport-level", "certify_passport_denial"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        with contextlib.suppress(Exception):
            driver.quit()


def violations(browser: Any, html: str, path: Path) -> list[str]:
    path.write_text(html, encoding="utf-8")
    browser.get(path.as_uri())
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    found: list[str] = browser.execute_async_script(_RUN_AXE, TAGS)
    return found


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize(("policy", "case", "action"), NOTICES, ids=[n[0] for n in NOTICES])
def test_notice_html_passes_axe(
    browser: Any, tmp_path: Path, policy: str, case: str, action: str, lang: str
) -> None:
    decision = PolicyVersions(ROOT / "policies" / policy).evaluate(
        ROOT / "examples" / "cases" / f"{case}.yaml"
    )
    html = render_notice(decision, action, lang=lang)
    assert violations(browser, html, tmp_path / f"notice.{lang}.html") == []


def test_a_planted_violation_is_caught(browser: Any, tmp_path: Path) -> None:
    decision = PolicyVersions(ROOT / "policies" / "wisconsin").evaluate(
        ROOT / "examples" / "cases" / "05-license-suspension.yaml"
    )
    html = render_notice(decision, "initiate_license_suspension")
    broken = html.replace('<html lang="en">', "<html>").replace(
        '<h2 id="why">', '<h2 id="why" style="color:#ccc">'
    )
    found = violations(browser, broken, tmp_path / "broken.html")
    assert any(v.startswith("html-has-lang") for v in found), found
    assert any(v.startswith("color-contrast") for v in found), found
