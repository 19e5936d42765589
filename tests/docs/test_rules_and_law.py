""" "Rules and the law": every shipped rule has a basis, and the generated page lists every rule of
every version with what it does, its citations (pinpoints, as links) and its basis."""

from __future__ import annotations

import datetime as dt
import html

import pytest
import yaml

from cspolicy.docs import generate_pages
from cspolicy.docs.catalogue import PolicySetDocs, discover
from cspolicy.docs.law import PAGE, basis_words, first_sentence, law_page
from cspolicy.docs.text import code, text
from cspolicy.source.documents import Basis

from helpers import ROOT


@pytest.fixture(scope="module")
def shipped_sets() -> list[PolicySetDocs]:
    return discover(ROOT / "policies", dt.date.today())


def test_every_shipped_rule_says_what_the_law_says_about_it(shipped_sets: list[PolicySetDocs]) -> None:
    missing = [
        f"{version.policy.id} {version.policy.version}: {rule.id} ({rule.entity.location.file})"
        for docs in shipped_sets
        for version in docs.versions
        for rule in version.policy.compiled.rules.values()
        if rule.rule.basis is None
    ]
    assert missing == []
    bases = {
        rule.rule.basis
        for docs in shipped_sets
        for v in docs.versions
        for rule in v.policy.compiled.rules.values()
    }
    assert bases == set(Basis)  # all three are used


def test_the_page_lists_every_rule_of_every_version_with_its_law_and_basis(
    shipped_sets: list[PolicySetDocs],
) -> None:
    page = law_page(shipped_sets)
    sections = page.split("\n## ")[1:]
    versions = [version for docs in shipped_sets for version in reversed(docs.versions)]
    assert len(sections) == len(versions)
    for section, version in zip(sections, versions, strict=True):
        policy = version.policy
        assert section.startswith(f"{text(policy.title)} {text(policy.version)}")
        rows = [line for line in section.splitlines() if line.startswith("| [")]
        assert len(rows) == len(policy.compiled.rules)
        for rule, row in zip(policy.compiled.rules.values(), rows, strict=True):
            link = f"[{code(rule.id)}](../catalogue/{policy.id}/{version.slug}/{rule.id}.md)"
            assert row.startswith(f"| {link} |"), row
            assert text(rule.rule.title) in row
            assert text(first_sentence(rule.rule.summary)) in row
            for citation in rule.citations:
                assert f'href="{html.escape(citation.url, quote=True)}"' in row, (rule.id, citation.url)
                if citation.pinpoint:
                    assert text(citation.pinpoint) in row
            assert row.endswith(f"| {text(basis_words(rule))} |"), row


def test_the_page_is_generated_and_in_the_navigation() -> None:
    pages = generate_pages(ROOT)
    assert "Rules and the law" in pages[PAGE]
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = yaml.load(config, Loader=yaml.BaseLoader)["nav"]  # BaseLoader: the !!python tags stay text
    assert "reference/rules-and-law.md" in str(nav)


def test_first_sentence_of_a_summary() -> None:
    assert first_sentence("Certify for offset. Then wait\n for it.") == "Certify for offset."
    assert (
        first_sentence("Wis. Stat. 767.511(6) requires interest.")
        == "Wis. Stat. 767.511(6) requires interest."
    )
