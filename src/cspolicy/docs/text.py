"""Markdown building blocks that keep text from policy YAML inert: escaped, never interpreted."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence

# Every ASCII character that Markdown, its extensions (attr_list, tables, admonitions, emoji,
# smart symbols) or HTML could give meaning to is written as a numeric entity, so a title such
# as "*urgent* <script>" is shown exactly as typed and never becomes markup.
_SPECIAL = set("\\`*_{}[]()<>#+-.!|~:=^&\"'$%@")
_WHITESPACE = re.compile(r"\s+")


def text(value: object) -> str:
    """`value` as Markdown that displays literally on one line (whitespace collapsed)."""
    return _escape(_WHITESPACE.sub(" ", str(value)).strip())


def _escape(flat: str) -> str:
    return "".join(f"&#{ord(char)};" if char in _SPECIAL else char for char in flat)


def prose(value: str) -> str:
    """Text written in the code (docstrings, descriptions): escaped like `text`, but `backticked`
    spans become inline code."""
    pieces = re.split(r"`([^`]+)`", _WHITESPACE.sub(" ", value).strip())
    return "".join(code(piece) if index % 2 else _escape(piece) for index, piece in enumerate(pieces))


def paragraphs(value: str) -> str:
    """Multi-paragraph text (blank-line separated) as escaped Markdown paragraphs."""
    parts = [part for part in re.split(r"\n\s*\n", value) if part.strip()]
    return "\n\n".join(text(part) for part in parts)


def code(value: object) -> str:
    """Inline code that shows `value` literally (HTML, so backticks inside cannot end it)."""
    flat = _WHITESPACE.sub(" ", str(value)).strip()
    # Pipes would split a table cell even inside <code>, and Markdown still reads `[a] [b]` there as
    # a link reference (which autorefs then fails to resolve).
    escaped = html.escape(flat, quote=True).replace("|", "&#124;").replace("[", "&#91;").replace("]", "&#93;")
    return "<code>" + escaped + "</code>"


def link(label: str, url: str) -> str:
    """An HTML link to an external `url` with literal text; only http(s) URLs become links."""
    if not re.match(r"^https?://", url):
        return text(label)
    return f'<a href="{html.escape(url, quote=True)}">{text(label)}</a>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table; cells must already be escaped Markdown (pipes are entities after `text`)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("\n", " ") or " " for cell in row) + " |")
    return "\n".join(lines)


def fenced(body: str, language: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside `body`."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body.rstrip()}\n{fence}"


def slug(value: str) -> str:
    """A file-name-safe slug: lower case letters, digits, dots and dashes."""
    cleaned = re.sub(r"[^a-z0-9.]+", "-", value.lower()).strip("-.")
    return cleaned or "item"


def titled(title: str, body: str) -> str:
    """A page whose title comes from policy text: front matter with the HTML-escaped title (the theme
    writes `page.title` into <title> and the header unescaped), then the body."""
    flat = _WHITESPACE.sub(" ", title).strip()
    return f"---\ntitle: {json.dumps(html.escape(flat, quote=True))}\n---\n\n{body}"
