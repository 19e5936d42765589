"""`cspolicy notice`: writes the HTML or PDF notice; usage and policy errors are one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cspolicy.cli import main

from helpers import ROOT

CASE = str(ROOT / "examples" / "cases" / "05-license-suspension.yaml")
POLICY = str(ROOT / "policies" / "wisconsin")


def notice(tmp_path: Path, name: str, *extra: str, action: str = "initiate_license_suspension") -> int:
    return main(["notice", CASE, "--policy", POLICY, "--action", action, "-o", str(tmp_path / name), *extra])


def test_writes_html_in_the_language_asked(tmp_path: Path) -> None:
    assert notice(tmp_path, "n.html", "--lang", "es", "--date", "2025-03-07") == 0
    html = (tmp_path / "n.html").read_text(encoding="utf-8")
    assert html.startswith('<!DOCTYPE html>\n<html lang="es">')
    assert "7 de marzo de 2025" in html and "WI-2018-007761" in html


def test_writes_a_pdf(tmp_path: Path) -> None:
    pytest.importorskip("weasyprint")
    assert notice(tmp_path, "n.pdf") == 0
    assert (tmp_path / "n.pdf").read_bytes().startswith(b"%PDF-")


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert notice(tmp_path, "n.docx") == 2
    assert "must end in .html or .pdf" in capsys.readouterr().err
    assert notice(tmp_path, "n.html", "--date", "7 March") == 2
    assert "not a date" in capsys.readouterr().err
    assert not (tmp_path / "n.html").exists()


def test_an_unknown_action_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert notice(tmp_path, "n.html", action="initiate_licence_suspension") == 1
    err = capsys.readouterr().err
    assert "has no action 'initiate_licence_suspension' (did you mean 'initiate_license_suspension'?)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "n.html").exists()


def test_an_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert notice(tmp_path / "missing", "n.html") == 1
    assert "cannot write the notice" in capsys.readouterr().err
