"""The `notices:` sections of a policy set and its parents, merged and checked against the policy.

The loader validates each file's `notices:` (unknown keys, wrong types: located problems when the
policy loads) but does not merge it: notices do not change a decision, so they are not part of
the compiled policy or its digest. They are read here, from the same files, when a notice is
made: parents first, so a set overrides an inherited notice by writing its own for the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cspolicy.diagnostics import Code, Location, PolicyError, Problem, Severity, suggest
from cspolicy.engine.compiler import CompiledPolicy
from cspolicy.engine.outputs import CitationOut
from cspolicy.source.documents import LocalizedText, Notice
from cspolicy.source.loading import policy_files, validate_document
from cspolicy.source.yamlsource import SourceMap, YamlProblem, load_yaml_file

TEXT_FIELDS = ("intent", "contest", "contact", "payment_plan")


@dataclass(frozen=True)
class NoticeEntry:
    """One notice of a policy set: its texts, where it was written and by which set."""

    key: str
    notice: Notice
    location: Location
    source_map: SourceMap
    origin: str

    def at(self, *parts: str | int) -> Location:
        """The location of a part of this notice (e.g. `at("contest", "es")`)."""
        return self.source_map.at(("notices", self.key, *parts))


def read_notices(policy: CompiledPolicy) -> dict[str, NoticeEntry]:
    """Every notice of the policy set, parents' first and overridden by key; raises PolicyError
    (located) for a file that cannot be read or a key written twice in one set."""
    notices: dict[str, NoticeEntry] = {}
    problems: list[Problem] = []
    for set_id, _, path in policy.source.chain:
        own: dict[str, Location] = {}
        for file in policy_files(path) if path.is_dir() else [path]:
            for entry in _file_notices(file, set_id, problems):
                first = own.get(entry.key)
                if first is not None:
                    problems.append(
                        Problem(
                            Code.DUPLICATE_ID,
                            f"duplicate notice {entry.key!r} (first at {first})",
                            entry.location,
                        )
                    )
                    continue
                own[entry.key] = entry.location
                notices[entry.key] = entry
    if any(p.severity is Severity.ERROR for p in problems):
        raise PolicyError(problems)
    return notices


# A file's notices by (path, set, modification time, size): a notice per case must not re-read
# and re-validate the policy files each time (~0.1 s for a state set and its parent).
_READ: dict[tuple[str, str, int, int], tuple[list[NoticeEntry], list[Problem]]] = {}


def _file_notices(file: Path, set_id: str, problems: list[Problem]) -> list[NoticeEntry]:
    try:
        stat = file.stat()
    except OSError:
        stat = None
    key = (str(file), set_id, stat.st_mtime_ns, stat.st_size) if stat is not None else None
    if key is not None and key in _READ:
        entries, found = _READ[key]
        problems.extend(found)
        return entries
    found = []
    entries = _read_file_notices(file, set_id, found)
    problems.extend(found)
    if key is not None:
        if len(_READ) >= 256:
            _READ.clear()
        _READ[key] = (entries, found)
    return entries


def _read_file_notices(file: Path, set_id: str, problems: list[Problem]) -> list[NoticeEntry]:
    try:
        data, source_map, yaml_problems = load_yaml_file(file)
    except YamlProblem as exc:
        problems.append(exc.problem)
        return []
    problems.extend(yaml_problems)
    if not isinstance(data, dict) or "notices" not in data:
        return []
    document = validate_document(data, source_map, problems)
    if document is None:
        return []
    return [
        NoticeEntry(key, notice, source_map.at(("notices", key)), source_map, set_id)
        for key, notice in document.notices.items()
    ]


def check_notices(policy: CompiledPolicy, notices: dict[str, NoticeEntry]) -> list[Problem]:
    """Located problems in the notices: a key that names no rule or action of the policy, a
    citation of an unknown source, a Spanish text missing beside an English one."""
    problems: list[Problem] = []
    rule_ids = list(policy.rules)
    actions = sorted({rule.rule.action for rule in policy.rules.values() if rule.rule.action})
    for key, entry in notices.items():
        if key not in policy.rules and key not in actions:
            problems.append(
                Problem(
                    Code.UNKNOWN_ACTION,
                    f"notice {key!r} names no rule id or action code of {policy.source.id!r}"
                    + suggest(key, [*rule_ids, *actions]),
                    entry.location,
                )
            )
        for index, citation in enumerate(entry.notice.cite):
            if citation.source not in policy.source.sources:
                problems.append(
                    Problem(
                        Code.UNKNOWN_SOURCE,
                        f"notice {key!r} cites unknown source {citation.source!r}"
                        + suggest(citation.source, policy.source.sources),
                        entry.at("cite", index),
                    )
                )
    return problems


def missing_translations(entry: NoticeEntry, lang: str) -> list[Problem]:
    """A problem for each text of a notice that has no `lang` version."""
    problems = []
    for name in TEXT_FIELDS:
        text: LocalizedText | None = getattr(entry.notice, name)
        if text is not None and getattr(text, lang, None) is None:
            problems.append(
                Problem(
                    Code.MISSING_KEY,
                    f"notice {entry.key!r}: `{name}` has no {lang!r} text",
                    entry.at(name),
                )
            )
    return problems


def contest_citations(policy: CompiledPolicy, entry: NoticeEntry) -> list[CitationOut]:
    """The notice's citations of the right to contest, resolved against the policy's sources."""
    citations = []
    for citation in entry.notice.cite:
        source = policy.source.sources[citation.source].item
        citations.append(
            CitationOut(
                source=citation.source, title=source.title, pinpoint=citation.pinpoint, url=source.url
            )
        )
    return citations
