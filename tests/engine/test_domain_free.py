"""No child-support field name in the engine's Python (issue 14): the case model is configuration.

The expression language, the engine, the caseload plan and checks and the Rete translation read
every field from the case schema. Only the synthetic caseload generator, the case monitor's event
types and the snapshot migrations may know the domain.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ROOT

SRC = ROOT / "src" / "cspolicy"
PACKAGES = ["expressions", "engine", "caseload", "rete"]
MAY_KNOW_THE_DOMAIN = {"engine/migrations.py", "caseload/synthetic.py", "rete/events.py", "rete/monitor.py"}
DOMAIN_WORDS = ("paying_parent", "arrears", "months_past_due")


def engine_modules() -> list[str]:
    modules = [
        path.relative_to(SRC).as_posix()
        for package in PACKAGES
        for path in sorted((SRC / package).rglob("*.py"))
    ]
    return [module for module in modules if module not in MAY_KNOW_THE_DOMAIN]


def domain_words(text: str) -> list[tuple[int, str]]:
    """(line number, word) of every domain word in a module's source text, comments included."""
    return [
        (number, word)
        for number, line in enumerate(text.splitlines(), start=1)
        for word in DOMAIN_WORDS
        if word in line
    ]


def test_the_modules_are_found() -> None:
    modules = engine_modules()
    for expected in (
        "expressions/vectorized.py",
        "engine/nearmiss.py",
        "caseload/tables.py",
        "rete/encoding.py",
    ):
        assert expected in modules
    assert not MAY_KNOW_THE_DOMAIN & set(modules)
    assert all((SRC / module).is_file() for module in MAY_KNOW_THE_DOMAIN), "the exceptions still exist"


@pytest.mark.parametrize("module", engine_modules())
def test_engine_module_names_no_child_support_field(module: str) -> None:
    found = domain_words((SRC / module).read_text(encoding="utf-8"))
    assert found == [], f"{module} names child-support fields (read them from the case schema): {found}"


@pytest.mark.parametrize("word", DOMAIN_WORDS)
def test_a_reintroduced_field_name_is_caught(word: str, tmp_path: Path) -> None:
    """The check above fails when a module names a field again, in code or in a comment."""
    module = SRC / "caseload" / "checks.py"
    text = module.read_text(encoding="utf-8")
    assert domain_words(text) == []
    in_code = text + f'\nTOTAL = pl.col("{word}.total")\n'
    assert domain_words(in_code) == [(len(in_code.splitlines()), word)]
    in_comment = text.replace("from __future__", f"# e.g. {word}\nfrom __future__", 1)
    assert [w for _, w in domain_words(in_comment)] == [word]
