"""Notices as HTML (Jinja2, autoescaped) and tagged PDF (WeasyPrint, PDF/UA-1).

Each language has its own template, `notice.<lang>.html`, with its fixed text written in that
language. A policy set may replace any template with a file of the same name in
`notices/templates/` beside its policy files; a set inherits its parents' replacements, and the
templates shipped in this package are the fallback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal, overload

import jinja2

from cspolicy.engine.compiler import CompiledPolicy
from cspolicy.engine.decision import Decision
from cspolicy.notices.content import NoticeContent, NoticeError, notice_content

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
OVERRIDE_DIRECTORY = Path("notices") / "templates"
FORMATS = ("html", "pdf")
Format = Literal["html", "pdf"]


def template_directories(policy: CompiledPolicy) -> list[Path]:
    """Where the notice templates are looked up, first match wins: the set's own
    `notices/templates/`, its parents' (nearest first), then the package's."""
    directories = []
    for _, _, path in reversed(policy.source.chain):
        base = path if path.is_dir() else path.parent
        candidate = base / OVERRIDE_DIRECTORY
        if candidate.is_dir():
            directories.append(candidate)
    return [*directories, PACKAGE_TEMPLATES]


def _environment(directories: list[Path]) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in directories]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,  # a misspelt name in an agency's template is an error
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def html_of(content: NoticeContent, directories: list[Path]) -> str:
    """The notice's HTML from its content and the first `notice.<lang>.html` found."""
    name = f"notice.{content.lang}.html"
    try:
        template = _environment(directories).get_template(name)
        return template.render(content.as_context())
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name}:{exc.lineno}"
        raise NoticeError(f"{where}: notice template: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise NoticeError(f"no notice template {exc.name!r} in {', '.join(map(str, directories))}") from None
    except jinja2.UndefinedError as exc:
        raise NoticeError(f"notice template {name}: {exc.message}") from None


def pdf_of(html: str) -> bytes:
    """A tagged, accessible PDF (PDF/UA-1: structure tree, language, title) of a notice's HTML."""
    try:
        import weasyprint
    except ImportError:  # an optional extra: HTML notices work without it
        raise NoticeError("PDF notices need WeasyPrint: pip install 'cspolicy[notices]'") from None
    pdf: bytes = weasyprint.HTML(string=html).write_pdf(pdf_variant="pdf/ua-1")
    return pdf


@overload
def render_notice(
    decision: Decision,
    action_code: str,
    *,
    lang: str = ...,
    fmt: Literal["html"] = ...,
    issued: dt.date | None = ...,
) -> str: ...


@overload
def render_notice(
    decision: Decision,
    action_code: str,
    *,
    lang: str = ...,
    fmt: Literal["pdf"],
    issued: dt.date | None = ...,
) -> bytes: ...


@overload
def render_notice(
    decision: Decision,
    action_code: str,
    *,
    lang: str = ...,
    fmt: Format,
    issued: dt.date | None = ...,
) -> str | bytes: ...


def render_notice(
    decision: Decision,
    action_code: str,
    *,
    lang: str = "en",
    fmt: Format = "html",
    issued: dt.date | None = None,
) -> str | bytes:
    """The notice to the paying parent of one recommended action of `decision`: HTML text or
    PDF bytes, in English (`en`) or Spanish (`es`), dated `issued` (default: the decision's
    as-of date). Raises NoticeError or PolicyError (located) when it cannot be made."""
    if fmt not in FORMATS:
        raise NoticeError(f"no notice format {fmt!r}; choose one of {', '.join(FORMATS)}")
    content = notice_content(decision, action_code, lang=lang, issued=issued)
    html = html_of(content, template_directories(decision.outcome.policy))
    return html if fmt == "html" else pdf_of(html)
