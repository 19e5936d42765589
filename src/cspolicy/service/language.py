"""The language of an explanation: `Accept-Language` negotiated, and the headers that say it.

Only two languages are offered: Spanish for a range `es` or `es-*` (es-US, es-MX, ...), English
for everything else (`en`, `*`, any other language, no header, a header that does not parse).
Ranges are weighed by their q-values (RFC 9110 §12.5.4); a range with q=0 is refused; on equal
weight the one written first wins. A missing Spanish text is an error (see `translation_error`),
never an English sentence in a Spanish answer.
"""

from __future__ import annotations

from fastapi import Request

from cspolicy import Code, PolicyError
from cspolicy.service.errors import ServiceError, problem_out
from cspolicy.service.models import ProblemOut

DEFAULT = "en"
LANGUAGES = ("en", "es")
VARY = {"Vary": "Accept-Language"}
TRANSLATION_CODES = frozenset({Code.MISSING_TRANSLATION, Code.UNKNOWN_TRANSLATION})

ACCEPT_LANGUAGE_PARAMETER = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "description": (
        "Language of the explanation texts, with q-values: `es` or `es-*` gives Spanish (from the "
        "policy's Spanish catalogues), anything else English. Answered in `Content-Language`."
    ),
    "schema": {"type": "string", "example": "es-US,es;q=0.9,en;q=0.5"},
}
LANGUAGE_HEADERS = {
    "Content-Language": {
        "description": "The language of the explanation texts in the body (`en` or `es`)",
        "schema": {"type": "string", "enum": list(LANGUAGES)},
    },
    "Vary": {"description": "`Accept-Language`", "schema": {"type": "string"}},
}


EXPLAIN_PARAMETER = {
    "name": "explain",
    "in": "query",
    "required": False,
    "description": (
        "`text`: answer with the decision as plain text (`text/plain`), in the language "
        "`Accept-Language` asks for, as `cspolicy evaluate --lang LANG` prints it. "
        "Without it the answer is the decision JSON, whose texts are always English."
    ),
    "schema": {"type": "string", "enum": ["text"], "title": "Explain"},
}


def explain_text(request: Request) -> bool:
    """Whether `?explain=text` asks for the plain-text decision (422 for any other value)."""
    value = request.query_params.get("explain")
    if value is None:
        return False
    if value == "text":
        return True
    problem = ProblemOut(
        code="request_invalid",
        path="query.explain",
        message=f"explain must be 'text', not {value[:40]!r}",
        location="<request>",
    )
    raise ServiceError(422, "request_invalid", "invalid request parameters", [problem])


def request_language(request: Request) -> str:
    """The language the request's `Accept-Language` asks for ('en' or 'es')."""
    return negotiate(request.headers.get("accept-language"))


def _language(tag: str) -> str | None:
    """The offered language a language range names, or None ('*' and others: no preference)."""
    primary = tag.strip().lower().split("-", 1)[0]
    return primary if primary in LANGUAGES else None


def _quality(params: list[str]) -> float:
    """A range's q-value (1 when absent; 0, i.e. refused, when it does not parse)."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def negotiate(header: str | None) -> str:
    """'es' or 'en' for an `Accept-Language` value (English when there is none or nothing fits)."""
    if not header:
        return DEFAULT
    best, best_q = DEFAULT, 0.0
    for part in header.split(",")[:64]:  # a header is short; a long one gets no more work
        tag, *params = part.split(";")
        language = _language(tag)
        if language is None:
            continue
        q = _quality(params)
        if q > best_q:
            best, best_q = language, q
    return best


def language_headers(lang: str) -> dict[str, str]:
    """`Content-Language` and `Vary` for an answer whose texts are in `lang`."""
    return {"Content-Language": lang, **VARY}


def translation_error(exc: PolicyError, policy_id: str, lang: str) -> ServiceError | None:
    """A 500 naming the missing texts (located, CSP210/CSP211) when the policy set lacks the
    language's texts: the deployment's fault, not the request's; None for any other problem."""
    problems = [p for p in exc.problems if p.code in TRANSLATION_CODES]
    if not problems:
        return None
    return ServiceError(
        500,
        "translation_missing",
        f"policy set {policy_id!r} has no complete {lang!r} texts; "
        f"run `cspolicy check --lang {lang}` on it (or ask in another language)",
        [problem_out(p) for p in problems],
        headers=dict(VARY),
    )
