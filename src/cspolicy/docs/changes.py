"""What changed between two versions of a policy set, for the version pages (from `cspolicy.authoring.diff`)."""

from __future__ import annotations

from cspolicy.authoring.diff import ADDED, CHANGED, REMOVED, diff_policies
from cspolicy.docs.catalogue import PolicyVersion
from cspolicy.docs.text import code, text


def changes(old: PolicyVersion, new: PolicyVersion) -> str:
    """What changed from `old` to `new` (rules, parameters, derived values, sources), in words."""
    found = diff_policies(old.policy, new.policy)
    if found.empty:
        return "No differences: the two versions have the same rules, parameters and sources."
    marks = {ADDED: "Added", REMOVED: "Removed", CHANGED: "Changed"}
    headings = {"rule": "Rules", "parameter": "Parameters", "derived": "Derived values", "source": "Sources"}
    blocks = [f"Compared with [version {text(old.policy.version)}](../{old.slug}/index.md)."]
    for what, heading in headings.items():
        items = found.of(what)
        if not items:
            continue
        lines = []
        for change in items:
            name = code(change.name)
            if what == "rule" and change.change != REMOVED:
                name = f"[{name}]({change.name}.md)"
            elif what == "rule":
                name = f"[{name}](../{old.slug}/{change.name}.md)"
            title = f": {text(change.title)}" if change.title else ""
            lines.append(f"- **{marks[change.change]}** {name}{title}")
            lines.extend(f"    - {text(detail)}" for detail in change.details)
        blocks += [f"### {heading}", "\n".join(lines)]
    return "\n\n".join(blocks)
