"""The docs site has a page per case schema: every field with its label, type, classification and
the rules that read it (issue 14)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from cspolicy import load_policy
from cspolicy.docs import generate_pages
from cspolicy.docs.caseschemas import FOLDER, page_name, schema_pages
from cspolicy.docs.catalogue import PolicySetDocs, PolicyVersion
from cspolicy.docs.text import code, text
from cspolicy.engine.caseschema import case_schema
from cspolicy.source.caseschema import shipped_schema_names

from helpers import FIXTURES, ROOT

ACME = FIXTURES / "case_schema" / "acme-policy"
ACME_SCHEMA = FIXTURES / "case_schema" / "acme" / "schema.yaml"


def acme_sets(policy_dir: Path = ACME) -> list[PolicySetDocs]:
    policy = load_policy(policy_dir)
    version = PolicyVersion(policy, policy_dir, policy.version, dt.date(2026, 1, 1))
    return [PolicySetDocs(policy.id, policy_dir, [version])]


def row(page: str, first_cell: str) -> list[str]:
    """The cells of the table row whose first cell is `first_cell`."""
    for line in page.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row for {first_cell}")


@pytest.fixture(scope="module")
def acme_pages() -> dict[str, str]:
    return schema_pages(acme_sets())


@pytest.mark.parametrize("name", shipped_schema_names())
def test_every_field_of_a_shipped_schema_is_listed(name: str) -> None:
    schema = case_schema(name)
    page = schema_pages([])[f"{FOLDER}/{page_name(schema)}"]
    assert page.startswith("---\ntitle: ")
    for path, leaf in schema.leaves.items():
        cells = row(page, code(path))
        assert cells[1].startswith(text(leaf.doc.label))
        assert cells[4] == text(
            {
                "public": "Public",
                "pii": "Personally identifying (PII)",
                "fti": "Federal tax information (FTI)",
                "fvi": "Family-violence protected (FVI)",
            }[leaf.classification.value]
        )
        if leaf.doc.choices:
            assert cells[2] == "choice: " + ", ".join(code(c) for c in leaf.doc.choices)
        elif leaf.type.value != "list":
            assert cells[2].startswith(text(leaf.type.value))
        for item, spec in leaf.items.items():
            assert row(page, code(f"{path}[].{item}"))[1].startswith(text(spec.label))
    for fact, derived in schema.derived.items():
        cells = row(page, code(fact))
        assert cells[2] == code(derived.text)


def test_a_shipped_schema_field_with_fvi_classification_says_so() -> None:
    page = schema_pages([])[f"{FOLDER}/child-support-v1.md"]
    cells = row(page, code("receiving_parent.family_violence_indicator"))
    assert cells[4] == text("Family-violence protected (FVI)")
    assert cells[3] == "default <code>no</code>"
    assert "No shipped policy reads this schema." in page


def test_custom_schema_page_says_which_rules_read_each_field(acme_pages: dict[str, str]) -> None:
    page = acme_pages[f"{FOLDER}/acme-support-v1.md"]
    rule = "[<code>unpaid-notice</code>](../../catalogue/acme-policy/2026.1/unpaid-notice.md)"
    read = f"{rule} ({text('acme-policy')} {text('2026.1')})"
    # read directly by the rule
    assert row(page, code("household.income_monthly"))[5] == read
    assert row(page, code("location.county"))[5] == read  # the key of the keyed parameter
    assert row(page, code("services"))[5] == read
    # read through the schema's derived fact `unpaid.total` (sum_of over charges)
    assert row(page, code("unpaid.total"))[5] == read
    assert row(page, code("charges"))[5] == read
    assert row(page, code("snapshot_date"))[5] == read
    # read by nothing
    assert row(page, code("household.size"))[5] == "no rule"
    assert row(page, code("unpaid.oldest_due_on"))[5] == "no rule"
    assert row(page, code("charges[].paid"))[5] == "see the list"
    # words of the schema
    assert row(page, code("household.income_monthly"))[4] == text("Personally identifying (PII)")
    assert row(page, code("household.size"))[2:4] == ["integer", "default <code>1</code>"]
    assert row(page, code("unpaid.oldest_due_on"))[1] == text("the oldest unpaid due date") + (
        f" (empty when {text('nothing is unpaid')})"
    )
    assert "Read by the shipped policies " + text("acme-policy 2026.1") + "." in page


def test_index_and_nav_list_every_schema(acme_pages: dict[str, str]) -> None:
    index = acme_pages[f"{FOLDER}/index.md"]
    summary = acme_pages[f"{FOLDER}/SUMMARY.md"]
    pages = sorted(p for p in acme_pages if p not in (f"{FOLDER}/index.md", f"{FOLDER}/SUMMARY.md"))
    assert len(pages) == len(shipped_schema_names()) + 1  # the shipped ones and acme's
    for path in pages:
        name = path.removeprefix(f"{FOLDER}/")
        assert f"]({name})" in index
        assert f"]({name})" in summary
    assert re.search(r"\| \[acme&#45;support 1\]\(acme-support-v1\.md\) \|.*\| none \| 8 \| 2 \|", index)
    assert f"      - Case schema fields: {FOLDER}/\n" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_the_site_has_the_pages_and_their_rule_links_resolve() -> None:
    pages = generate_pages(ROOT)
    links = 0
    for name in shipped_schema_names():
        page = pages[f"{FOLDER}/{page_name(case_schema(name))}"]
        for target in re.findall(r"\]\(\.\./\.\./([^)]+)\)", page):
            assert target in pages, f"{name} links to a page the site does not have: {target}"
            links += 1
    assert links > 0, "the shipped policies' rules read shipped schema fields"
    assert f"{FOLDER}/index.md" in pages and f"{FOLDER}/SUMMARY.md" in pages


def test_schema_text_is_shown_literally(tmp_path: Path) -> None:
    """A label from a schema file is text on the page, never markup."""
    (tmp_path / "acme").mkdir()
    hostile = ACME_SCHEMA.read_text(encoding="utf-8").replace(
        "label: the household size", 'label: "<script>alert(1)</script> *size* [x](javascript:y)"'
    )
    (tmp_path / "acme" / "schema.yaml").write_text(hostile, encoding="utf-8")
    (tmp_path / "acme-policy").mkdir()
    (tmp_path / "acme-policy" / "policy.yaml").write_text((ACME / "policy.yaml").read_text(encoding="utf-8"))
    page = schema_pages(acme_sets(tmp_path / "acme-policy"))[f"{FOLDER}/acme-support-v1.md"]
    cells = row(page, code("household.size"))
    assert "<script>" not in page and "](javascript" not in page
    assert cells[1] == text("<script>alert(1)</script> *size* [x](javascript:y)")
