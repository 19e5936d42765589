"""Notices from a small policy written here: which texts a notice takes (own, inherited, overridden),
the date to act by, templates a set replaces, and a clear, located error for everything wrong."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from cspolicy.diagnostics import Code, PolicyError
from cspolicy.engine.versions import PolicyVersions
from cspolicy.notices import NoticeError, render_notice
from cspolicy.notices.content import long_date, money, notice_content

from helpers import ROOT, write_policy

CASE = ROOT / "examples" / "cases" / "05-license-suspension.yaml"  # as of 2025-03-03, $1,320 owed

BASE = """
id: notice-base
version: "1"
title: Notice test base
jurisdiction: {state: WI}
effective: {from: 2020-01-01}
sources:
  usc-666:
    title: 42 U.S.C. § 666 — State procedures
    url: https://www.law.cornell.edu/uscode/text/42/666
  usc-664:
    title: 42 U.S.C. § 664 — Federal tax refund offset
    url: https://www.law.cornell.edu/uscode/text/42/664
rules:
  - id: lien
    kind: automatic
    title: Record the lien
    summary: Record the lien.
    when: arrears.total >= order.monthly_amount
    action: docket_lien
    cite: [usc-666]
  - id: credit-report
    kind: threshold
    title: Report to credit bureaus
    summary: Report the debt.
    when: arrears.total > 1000
    requires: [lien]
    action: report_to_credit_bureau
    cite: [usc-666]
  - id: interest
    kind: automatic
    title: Charge interest
    summary: Interest runs.
    when: arrears.total > 0
    action: charge_interest
    cite: [usc-666]
  - id: license
    kind: discretionary
    title: Start license suspension
    summary: Licenses.
    when: arrears.total > 0
    action: initiate_license_suspension
    cite: [usc-666]
  - id: duty-hold
    kind: hold
    title: Parent is on active duty
    summary: Hold.
    when: paying_parent.military_active_duty
    holds: [license]
    cite: [usc-666]
  - id: offset
    kind: threshold
    title: Certify for federal tax refund offset
    summary: Offset.
    when: arrears.total > 500
    action: refer_federal_tax_offset
    due: {days: 30, after: order.established_on}
    cite: [usc-664]
notices:
  docket_lien:
    intent: {en: "We will record a lien <b>now</b>.", es: "Vamos a registrar un gravamen."}
    contest: {en: "Ask us for a review of the lien.", es: "Pídanos una revisión del gravamen."}
    contact: {en: "Call 555-0100.", es: "Llame al 555-0100."}
    payment_plan: {en: "Ask about a plan.", es: "Pregunte por un plan."}
    respond_within_days: 20
    business_days: true
    cite: [{source: usc-666, pinpoint: "(a)(4)"}]
  refer_federal_tax_offset:
    intent: {en: "We will certify for offset.", es: "Vamos a certificar."}
    contest: {en: "Ask for a review of the offset.", es: "Pida una revisión."}
    contact: {en: "Call us.", es: "Llámenos."}
    cite: [usc-664]
  initiate_license_suspension:
    intent: {en: "We may suspend licenses.", es: "Podemos suspender licencias."}
    contest: {en: "Ask for a hearing.", es: "Pida una audiencia."}
    contact: {en: "Call us.", es: "Llámenos."}
    respond_within_days: 10
    cite: [usc-666]
  report_to_credit_bureau:
    intent: {en: "Keyed by the action code.", es: "Por el código de acción."}
    contest: {en: "Contest it.", es: "Oponerse."}
    contact: {en: "Call us.", es: "Llámenos."}
    respond_within_days: 10
    cite: [usc-666]
  credit-report:
    intent: {en: "We will report you.", es: "Vamos a informar."}
    contest: {en: "Contest the report.", es: "Oponerse al informe."}
    contact: {en: "Call us.", es: "Llámenos."}
    respond_within_days: 10
    cite: [usc-666]
"""


# The base set's Spanish texts: a Spanish notice gives its reasons from them.
BASE_ES = """
lang: es
title: Prueba de avisos
rules:
  lien: {title: Registrar el gravamen, summary: Registrar el gravamen.}
  credit-report: {title: Informar a las agencias de crédito, summary: Informar la deuda.}
  interest: {title: Cobrar intereses, summary: Corren intereses.}
  license: {title: Empezar la suspensión de licencias, summary: Licencias.}
  duty-hold: {title: La persona está en servicio militar activo, summary: Pausa.}
  offset: {title: Retener el reembolso federal, summary: Retención.}
"""


def case(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return data


@pytest.fixture
def base(tmp_path: Path) -> Path:
    write_policy(tmp_path / "base", BASE)
    write_policy(tmp_path / "base", BASE_ES, "policy.es.yaml")
    return tmp_path / "base"


def child(tmp_path: Path, base: Path, notices: str = "") -> Path:
    text = """
    id: notice-child
    version: "1"
    title: Notice test child
    jurisdiction: {state: WI}
    extends: ../base
    effective: {from: 2020-01-01}
    """
    write_policy(tmp_path / "child", text)
    if notices:
        with (tmp_path / "child" / "policy.yaml").open("a", encoding="utf-8") as out:
            out.write(notices)
    return tmp_path / "child"


def decide(policy: Path, **changes: Any) -> Any:
    return PolicyVersions(policy).evaluate(case(**changes))


# -- what the notice says -------------------------------------------------------------------


def test_notice_texts_reasons_amounts_and_law(base: Path) -> None:
    made = decide(base)
    content = notice_content(made, "docket_lien", lang="en")
    assert content.intent == "We will record a lien <b>now</b>."
    assert content.reasons == tuple(t.text for t in made.actions[0].because if t.part == "when")
    assert ("arrears.total", "$1,320.00") in content.amounts
    assert [c.title for c in content.law] == ["42 U.S.C. § 666 — State procedures"]
    assert [(c.title, c.pinpoint) for c in content.contest_law] == [
        ("42 U.S.C. § 666 — State procedures", "(a)(4)")
    ]
    html = render_notice(made, "docket_lien")
    assert "We will record a lien &lt;b&gt;now&lt;/b&gt;." in html  # autoescaped
    assert "<b>now</b>" not in html
    spanish = notice_content(made, "docket_lien", lang="es").reasons
    assert len(spanish) == len(content.reasons) == 1
    assert "$1,320.00" in spanish[0] and "es igual o mayor que" in spanish[0]
    assert spanish != content.reasons


def test_a_spanish_notice_without_spanish_rule_texts_is_a_located_error(base: Path) -> None:
    """No English reasons in a Spanish notice: the missing catalogue text is reported (CSP210)."""
    (base / "policy.es.yaml").unlink()
    made = decide(base)
    assert "Record the lien" in render_notice(made, "docket_lien")
    with pytest.raises(PolicyError) as exc:
        render_notice(made, "docket_lien", lang="es")
    assert Code.MISSING_TRANSLATION in {p.code for p in exc.value.problems}
    assert "rule 'lien' has no Spanish title and summary" in str(exc.value)


def test_respond_by_counts_business_days_from_the_notice_date(base: Path) -> None:
    made = decide(base)  # as of Monday 3 March 2025
    assert notice_content(made, "docket_lien").respond_by == "March 31, 2025"  # 20 business days
    assert notice_content(made, "docket_lien", issued=dt.date(2025, 3, 7)).respond_by == "April 4, 2025"
    assert notice_content(made, "initiate_license_suspension").respond_by == "March 13, 2025"  # 10 days


def test_without_a_notice_period_the_action_due_date_is_the_date(base: Path) -> None:
    made = decide(base)
    action = next(a for a in made.actions if a.action == "refer_federal_tax_offset")
    assert action.due_by is not None
    content = notice_content(made, "refer_federal_tax_offset")
    assert (content.respond_from, content.respond_by_iso) == ("due", action.due_by.isoformat())
    assert "This is the date by which we must take this action." in render_notice(
        made, "refer_federal_tax_offset"
    )


def test_a_rule_id_key_wins_over_an_action_code(base: Path) -> None:
    made = decide(base)  # case 05 is on the lien docket already: credit reporting may go ahead
    assert notice_content(made, "report_to_credit_bureau").intent == "We will report you."


def test_locale_formatting() -> None:
    assert money(Decimal("1234.5"), "en") == "$1,234.50"
    assert money(Decimal("1234.565"), "es") == "$1,234.57"  # rounded half up to the cent
    assert long_date(dt.date(2026, 12, 3), "en") == "December 3, 2026"
    assert long_date(dt.date(2026, 12, 3), "es") == "3 de diciembre de 2026"


# -- inheritance and templates ------------------------------------------------------------------


def test_a_child_inherits_and_overrides_notices(tmp_path: Path, base: Path) -> None:
    override = """
notices:
  docket_lien:
    intent: {en: "The county will record a lien.", es: "El condado registrará un gravamen."}
    contest: {en: "Write to the county.", es: "Escriba al condado."}
    contact: {en: "Call the county.", es: "Llame al condado."}
    respond_within_days: 5
    cite: [usc-666]
"""
    made = decide(child(tmp_path, base, override))
    assert notice_content(made, "docket_lien", lang="es").contest == "Escriba al condado."
    assert notice_content(made, "initiate_license_suspension").contest == "Ask for a hearing."  # inherited


def test_a_set_replaces_a_template_and_its_children_use_it(tmp_path: Path, base: Path) -> None:
    templates = base / "notices" / "templates"
    templates.mkdir(parents=True)
    (templates / "notice.en.html").write_text(
        '<html lang="en"><title>t</title><p id="own">{{ case_id }}: {{ intent }} by {{ respond_by }}</p></html>',
        encoding="utf-8",
    )
    made = decide(child(tmp_path, base))
    html = render_notice(made, "docket_lien")
    assert html.startswith(
        '<html lang="en"><title>t</title><p id="own">WI-2018-007761: We will record a lien &lt;b&gt;'
    )
    assert "Lo que vamos a hacer" in render_notice(made, "docket_lien", lang="es")  # the package's


def test_a_broken_template_is_a_located_error(base: Path) -> None:
    templates = base / "notices" / "templates"
    templates.mkdir(parents=True)
    (templates / "notice.es.html").write_text("<p>\n{% if intent %}\n{{ intent }</p>\n", encoding="utf-8")
    with pytest.raises(NoticeError, match=r"notice\.es\.html:3: notice template"):
        render_notice(decide(base), "docket_lien", lang="es")
    (templates / "notice.es.html").write_text("<p>{{ intnet }}</p>", encoding="utf-8")
    with pytest.raises(NoticeError, match="'intnet' is undefined"):
        render_notice(decide(base), "docket_lien", lang="es")


# -- clear errors ------------------------------------------------------------------------------


def test_unknown_action_code(base: Path) -> None:
    with pytest.raises(NoticeError, match=r"has no action 'docket_lein' \(did you mean 'docket_lien'\?\)"):
        render_notice(decide(base), "docket_lein")


def test_an_action_not_recommended_held_or_waiting(base: Path) -> None:
    with pytest.raises(NoticeError, match=r"'docket_lien' is not recommended for this case \(recommended: "):
        render_notice(decide(base, arrears={"family_owed": "10.00"}), "docket_lien")
    with pytest.raises(NoticeError, match="is held by rule 'duty-hold'"):
        render_notice(decide(base, paying_parent__military_active_duty=True), "initiate_license_suspension")
    with pytest.raises(NoticeError, match="'report_to_credit_bureau' waits for docket_lien"):
        render_notice(decide(base, enforcement=[]), "report_to_credit_bureau")


def test_an_action_without_a_notice(base: Path) -> None:
    with pytest.raises(NoticeError, match=r"no notice for action 'charge_interest' \(rule 'interest'\)"):
        render_notice(decide(base), "charge_interest")


def test_unknown_language_or_format(base: Path) -> None:
    with pytest.raises(NoticeError, match="no notice language 'fr'; choose one of en, es"):
        render_notice(decide(base), "docket_lien", lang="fr")
    with pytest.raises(NoticeError, match="no notice format 'docx'"):
        render_notice(decide(base), "docket_lien", fmt="docx")  # type: ignore[call-overload]


def _problems(exc: pytest.ExceptionInfo[PolicyError]) -> list[tuple[str, int, Code]]:
    return [(Path(p.location.file).name, p.location.line, p.code) for p in exc.value.problems]


def test_an_unknown_key_in_a_notice_is_located_when_the_policy_loads(tmp_path: Path, base: Path) -> None:
    bad = """
notices:
  docket_lien:
    intent: {en: "x", es: "y"}
    contset: {en: "x", es: "y"}
    contact: {en: "x", es: "y", fr: "z"}
    cite: [usc-666]
"""
    path = child(tmp_path, base, bad)
    with pytest.raises(PolicyError) as exc:
        PolicyVersions(path).latest()
    text = str(exc.value)
    assert "policy.yaml:11:5: unknown key 'contset' (did you mean 'contest'?) [CSP104]" in text
    assert "policy.yaml:12:33: unknown key 'fr'" in text
    assert "missing required key 'contest'" in text


def test_a_notice_naming_nothing_or_citing_an_unknown_source_is_located(tmp_path: Path, base: Path) -> None:
    bad = """
notices:
  dockt_lien:
    intent: {en: "x", es: "y"}
    contest: {en: "x", es: "y"}
    contact: {en: "x", es: "y"}
    cite: [usc-666, usc-999]
"""
    made = decide(child(tmp_path, base, bad))
    with pytest.raises(PolicyError) as exc:
        render_notice(made, "docket_lien")
    assert _problems(exc) == [
        ("policy.yaml", 9, Code.UNKNOWN_ACTION),
        ("policy.yaml", 13, Code.UNKNOWN_SOURCE),
    ]
    assert (
        "notice 'dockt_lien' names no rule id or action code of 'notice-child' (did you mean 'docket_lien'?)"
        in str(exc.value)
    )


def test_a_missing_spanish_text_is_located(tmp_path: Path, base: Path) -> None:
    english_only = """
notices:
  docket_lien:
    intent: {en: "We will record a lien."}
    contest: {en: "Ask us.", es: "Pregúntenos."}
    contact: {en: "Call us.", es: "Llámenos."}
    respond_within_days: 5
    cite: [usc-666]
"""
    made = decide(child(tmp_path, base, english_only))
    assert "We will record a lien." in render_notice(made, "docket_lien")
    with pytest.raises(PolicyError) as exc:
        render_notice(made, "docket_lien", lang="es")
    assert _problems(exc) == [("policy.yaml", 10, Code.MISSING_KEY)]
    assert "notice 'docket_lien': `intent` has no 'es' text" in str(exc.value)


def test_no_date_to_act_by_is_a_located_error(tmp_path: Path, base: Path) -> None:
    undated = """
notices:
  docket_lien:
    intent: {en: "x", es: "y"}
    contest: {en: "x", es: "y"}
    contact: {en: "x", es: "y"}
    cite: [usc-666]
"""
    with pytest.raises(PolicyError, match="no date by which to act — give `respond_within_days`") as exc:
        render_notice(decide(child(tmp_path, base, undated)), "docket_lien")
    assert _problems(exc) == [("policy.yaml", 9, Code.MISSING_KEY)]


def test_a_notice_needs_a_citation(tmp_path: Path, base: Path) -> None:
    uncited = """
notices:
  docket_lien:
    intent: {en: "x", es: "y"}
    contest: {en: "x", es: "y"}
    contact: {en: "x", es: "y"}
    cite: []
"""
    with pytest.raises(
        PolicyError, match=r"policy\.yaml:13:\d+: notices\.docket_lien\.cite: List should have at least 1"
    ):
        PolicyVersions(child(tmp_path, base, uncited)).latest()
