""" "Rules and the law": one table of every rule of every shipped policy set and version — what it
does, the law it cites (with pinpoints, as links), and whether the law mandates it, allows it, or
it is the agency's own choice (the rule's `basis`)."""

from __future__ import annotations

import re

from cspolicy.docs.catalogue import CATALOGUE, PolicySetDocs, PolicyVersion
from cspolicy.docs.text import code, link, table, text
from cspolicy.engine.compiler import CompiledRule
from cspolicy.source.documents import Basis

PAGE = "reference/rules-and-law.md"
BASIS_WORDS = {
    Basis.MANDATED: "Mandated",
    Basis.ALLOWED: "Allowed",
    Basis.AGENCY_CHOICE: "Agency choice",
}
BASIS_MEANING = {
    Basis.MANDATED: "the law requires the agency to take the action (or to stop, for a hold) in these cases.",
    Basis.ALLOWED: "the law permits it — a state option or an action the agency may take — but does not require it.",
    Basis.AGENCY_CHOICE: "the agency's own policy or practice (a screen, a program, a review); no law requires it.",
}
NOT_STATED = "Not stated"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def basis_words(rule: CompiledRule) -> str:
    """The rule's basis as a reader sees it ('Mandated', 'Allowed', 'Agency choice')."""
    basis = rule.rule.basis
    return BASIS_WORDS[basis] if basis is not None else NOT_STATED


def first_sentence(summary: str) -> str:
    """The first sentence of a rule's summary (the whole summary when it is one sentence); a
    citation's abbreviations ("Wis. Stat.", "U.S.C.") do not end it."""
    flat = " ".join(summary.split())
    for match in _SENTENCE_END.finditer(flat):
        word = flat[: match.start()].rsplit(" ", 1)[-1]
        abbreviation = word[:1].isupper() and (len(word) <= 5 or "." in word[:-1])
        if not abbreviation:
            return flat[: match.start()]
    return flat


def law_page(sets: list[PolicySetDocs]) -> str:
    """The page: a legend, then per policy set and version a table of its rules."""
    parts = [
        "# Rules and the law",
        "Every rule of every shipped policy set and version: what it does, the law it cites (with "
        "the pinpoint), and what the law says about it. Generated from the YAML in `policies/` "
        "(each rule's `basis`) every time the site is built.",
        "\n".join(f"- **{BASIS_WORDS[basis]}**: {text(meaning)}" for basis, meaning in BASIS_MEANING.items()),
        "A rule a policy set inherits is listed under that set too, with the basis its author gave it.",
    ]
    for docs in sets:
        for version in reversed(docs.versions):
            policy = version.policy
            parts.append(f"## {text(policy.title)} {text(policy.version)}")
            parts.append(f"Policy set {code(policy.id)}, version {text(policy.version)}.")
            parts.append(_rules_table(version))
    return "\n\n".join(parts) + "\n"


def _rules_table(version: PolicyVersion) -> str:
    rows = []
    for rule in version.policy.compiled.rules.values():
        page = f"../{CATALOGUE}/{version.policy.id}/{version.slug}/{rule.id}.md"
        does = f"**{text(rule.rule.title)}.** {text(first_sentence(rule.rule.summary))}"
        law = "<br>".join(
            link(citation.title, citation.url) + (f", {text(citation.pinpoint)}" if citation.pinpoint else "")
            for citation in rule.citations
        )
        rows.append([f"[{code(rule.id)}]({page})", does, law or "none cited", text(basis_words(rule))])
    return table(["Rule", "What it does", "Law (pinpoint)", "Basis"], rows)
