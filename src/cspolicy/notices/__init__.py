"""Notices to the paying parent: what the agency intends to do, why, how much, by when, how to
contest or ask for a payment plan, and the law — from a decision and the policy's `notices:`.

Built on the engine (it reads a Decision and the policy's files), beside analysis, authoring and
the other packages on that layer; HTML through Jinja2 and PDF through WeasyPrint (the `notices`
extra). `render_notice(decision, action_code, lang=..., fmt=...)` is the entry point.
"""

from cspolicy.notices.content import LOCALES, NoticeContent, NoticeError, notice_content
from cspolicy.notices.policy import NoticeEntry, check_notices, read_notices
from cspolicy.notices.render import render_notice, template_directories

__all__ = [
    "LOCALES",
    "NoticeContent",
    "NoticeEntry",
    "NoticeError",
    "check_notices",
    "notice_content",
    "read_notices",
    "render_notice",
    "template_directories",
]
