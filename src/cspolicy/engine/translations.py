"""A compiled policy's texts in another language: its catalogues read, merged and checked.

`translation_problems(policy, lang)` is what `cspolicy check --lang es` reports: catalogues that
do not read, ids they name that the policy or schema does not have (CSP211), and every text an
explanation in that language would need but no catalogue gives (CSP210), each located at the
English text it translates. `translation(policy, lang)` is the merged `Translation` the
renderer reads; it refuses (PolicyError) while any problem is left, so no reader ever gets an
explanation that mixes languages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cspolicy.diagnostics import Code, Location, PolicyError, Problem, Severity, suggest
from cspolicy.engine.caseschema import CaseSchema, default_case_schema
from cspolicy.engine.compiled import CompiledPolicy
from cspolicy.expressions.nodes import Call, Literal, Node
from cspolicy.expressions.types import Type
from cspolicy.source.actions import ACTION_MEANINGS
from cspolicy.source.documents import Unit
from cspolicy.source.loading import policy_files
from cspolicy.source.schemadocs import FieldDoc, FieldType
from cspolicy.source.translations import (
    LANGUAGES,
    ActionText,
    Catalogue,
    FieldText,
    PolicyCatalogue,
    RuleText,
    SchemaCatalogue,
    TermText,
    VocabularyCatalogue,
    catalogue_path,
    read_catalogues,
    vocabulary_path,
)

LANGUAGE_NAMES = {"es": "Spanish"}
ACTION_FUNCTIONS = ("taken", "date_taken", "days_since_taken")


@dataclass
class Translation:
    """Every text of one policy (with its parents and case schema) in one language."""

    lang: str
    title: str | None = None
    rules: dict[str, RuleText] = field(default_factory=dict)
    parameters: dict[str, TermText] = field(default_factory=dict)
    derived: dict[str, TermText] = field(default_factory=dict)
    fields: dict[str, FieldText] = field(default_factory=dict)
    schema_derived: dict[str, TermText] = field(default_factory=dict)
    actions: dict[str, ActionText] = field(default_factory=dict)


def merge_field(base: FieldText | None, over: FieldText) -> FieldText:
    """`over` on top of `base`: its own texts win; choices, phrases and item fields add up."""
    if base is None:
        return over
    items = dict(base.items)
    for name, item in over.items.items():
        items[name] = merge_field(items.get(name), item)
    plain = {k: v for k, v in over.model_dump(exclude_unset=True).items() if k not in _NESTED}
    return base.model_copy(
        update={
            **{k: getattr(over, k) for k in plain},
            "choices": {**base.choices, **over.choices},
            "near_miss": {**base.near_miss, **over.near_miss},
            "items": items,
        }
    )


_NESTED = ("choices", "near_miss", "items")
_VOCABULARY = "<vocabulary>"  # the shared action codes' texts go in the shipped vocabulary catalogue


def _schema_of(policy: CompiledPolicy) -> CaseSchema:
    return policy.case_schema or default_case_schema()


def _policy_catalogue_paths(policy: CompiledPolicy, lang: str) -> list[Path]:
    paths: list[Path] = []
    for _, _, root in policy.source.chain:  # base first: a child's text wins
        files = policy_files(root) if root.is_dir() else [root]
        paths.extend(catalogue_path(file, lang) for file in files)
    return paths


def _schema_catalogue_paths(schema: CaseSchema, lang: str) -> list[Path]:
    return [catalogue_path(path, lang) for _, _, path in schema.source.chain]


class _Reader:
    """Reads one policy's catalogues and collects what is wrong with them."""

    def __init__(self, policy: CompiledPolicy, lang: str) -> None:
        if lang not in LANGUAGES:
            raise PolicyError(
                [
                    Problem(
                        Code.INVALID_VALUE,
                        f"no translations in {lang!r}; languages: {', '.join(LANGUAGES)}",
                        Location(str(policy.source.root)),
                    )
                ]
            )
        self.policy = policy
        self.lang = lang
        self.language = LANGUAGE_NAMES[lang]
        self.schema = _schema_of(policy)
        self.problems: list[Problem] = []
        self.result = Translation(lang)
        self.action_codes = _action_codes(policy)

    def read(self) -> Translation:
        lang = self.lang
        vocabulary, problems = read_catalogues([vocabulary_path(lang)], VocabularyCatalogue, lang)
        self.problems += problems
        schemas, problems = read_catalogues(_schema_catalogue_paths(self.schema, lang), SchemaCatalogue, lang)
        self.problems += problems
        policies, problems = read_catalogues(
            _policy_catalogue_paths(self.policy, lang), PolicyCatalogue, lang
        )
        self.problems += problems
        for vocabulary_catalogue in vocabulary:
            self._vocabulary(vocabulary_catalogue)
        for schema_catalogue in schemas:
            self._schema(schema_catalogue)
        for policy_catalogue in policies:
            self._policy(policy_catalogue)
        self._missing()
        return self.result

    def unknown(
        self, catalogue: Catalogue[Any], path: tuple[str | int, ...], what: str, known: Iterable[str]
    ) -> None:
        key = str(path[-1])
        self.problems.append(
            Problem(
                Code.UNKNOWN_TRANSLATION,
                f"{what} {key!r} is not in {self._owner(catalogue)}{suggest(key, known)}",
                catalogue.source_map.at(path),
            )
        )

    def _owner(self, catalogue: Catalogue[Any]) -> str:
        if isinstance(catalogue.model, SchemaCatalogue):
            return f"case schema {self.schema.name}"
        if isinstance(catalogue.model, VocabularyCatalogue):
            return "the action vocabulary"
        return f"policy set {self.policy.source.id!r}"

    # -- reading ----------------------------------------------------------------------------
    def _vocabulary(self, catalogue: Catalogue[VocabularyCatalogue]) -> None:
        for code, text in catalogue.model.actions.items():
            if code not in ACTION_MEANINGS:
                self.unknown(catalogue, ("actions", code), "action", ACTION_MEANINGS)
            self.result.actions[code] = text

    def _schema(self, catalogue: Catalogue[SchemaCatalogue]) -> None:
        fields = self.schema.source.fields
        for path, text in catalogue.model.fields.items():
            located = fields.get(path)
            if located is None:
                self.unknown(catalogue, ("fields", path), "field", fields)
                continue
            self._field_keys(catalogue, ("fields", path), located.item, text)
            self.result.fields[path] = merge_field(self.result.fields.get(path), text)
        derived = self.schema.source.derived
        for name, term in catalogue.model.derived.items():
            if name not in derived:
                self.unknown(catalogue, ("derived", name), "derived fact", derived)
                continue
            self._phrases(catalogue, ("derived", name), derived[name].item.near_miss, term.near_miss)
            self.result.schema_derived[name] = term

    def _field_keys(
        self, catalogue: Catalogue[Any], path: tuple[str | int, ...], doc: FieldDoc, text: FieldText
    ) -> None:
        for choice in text.choices:
            if choice not in (doc.choices or ()):
                self.unknown(catalogue, (*path, "choices", choice), "choice", doc.choices or ())
        self._phrases(catalogue, path, doc.near_miss, text.near_miss)
        items = doc.items or {}
        for name, item in text.items.items():
            if name not in items:
                self.unknown(catalogue, (*path, "items", name), "item field", items)
                continue
            self._field_keys(catalogue, (*path, "items", name), items[name], item)

    def _phrases(
        self,
        catalogue: Catalogue[Any],
        path: tuple[str | int, ...],
        english: dict[str, str] | None,
        phrases: dict[str, str],
    ) -> None:
        for key in phrases:
            if key not in (english or {}):
                self.unknown(catalogue, (*path, "near_miss", key), "near-miss phrase", english or {})

    def _policy(self, catalogue: Catalogue[PolicyCatalogue]) -> None:
        model, source = catalogue.model, self.policy.source
        if model.title is not None:
            self.result.title = model.title
        sections: list[tuple[str, dict[str, Any], Iterable[str], dict[str, Any]]] = [
            ("rules", model.rules, source.rules, self.result.rules),
            ("parameters", model.parameters, source.parameters, self.result.parameters),
            ("derived", model.derived, source.derived, self.result.derived),
            ("actions", model.actions, self.action_codes, self.result.actions),
        ]
        nouns = {"rules": "rule", "parameters": "parameter", "derived": "derived value", "actions": "action"}
        for section, entries, known, merged in sections:
            known = list(known)
            for key, text in entries.items():
                if key not in known:
                    self.unknown(catalogue, (section, key), nouns[section], known)
                    continue
                if isinstance(text, RuleText):
                    outputs = source.rules[key].item.outputs
                    for output in text.outputs:
                        if output not in outputs:
                            self.unknown(catalogue, (section, key, "outputs", output), "output", outputs)
                merged[key] = text

    # -- what is missing --------------------------------------------------------------------
    def missing(self, what: str, part: str, location: Location, english_file: str, section: str) -> None:
        target = (
            vocabulary_path(self.lang)
            if english_file == _VOCABULARY
            else catalogue_path(Path(english_file), self.lang)
        )
        self.problems.append(
            Problem(
                Code.MISSING_TRANSLATION,
                f"{what} has no {self.language} {part}; add it under `{section}:` in {target}",
                location,
            )
        )

    def _missing(self) -> None:
        result, source = self.result, self.policy.source
        for rule_id, rule in source.rules.items():
            where, file = rule.at("title"), rule.source_map.file
            text = result.rules.get(rule_id)
            if text is None:
                self.missing(f"rule {rule_id!r}", "title and summary", where, file, "rules")
                continue
            for output in rule.item.outputs:
                if output not in text.outputs:
                    self.missing(f"rule {rule_id!r}", f"name for output {output!r}", where, file, "rules")
        for name, parameter in source.parameters.items():
            wanted = ["label", "description"] + (["negative"] if parameter.item.unit is Unit.BOOLEAN else [])
            for part in _lacking(result.parameters.get(name), wanted):
                file = parameter.source_map.file
                self.missing(f"parameter {name!r}", part, parameter.location, file, "parameters")
        for name, compiled in self.policy.derived.items():
            entity = compiled.entity
            wanted = ["label"] + (["description"] if entity.item.description else [])
            if compiled.expression.node.type is Type.BOOL:
                wanted.append("negative")
            for part in _lacking(result.derived.get(name), wanted):
                self.missing(
                    f"derived value {name!r}", part, entity.location, entity.source_map.file, "derived"
                )
        self._missing_schema()
        for code, location in self.action_codes.items():
            if code not in result.actions:
                file = location.file if code not in ACTION_MEANINGS else _VOCABULARY
                self.missing(f"action {code!r}", "label and meaning", location, file, "actions")

    def _missing_schema(self) -> None:
        result = self.result
        for path, located in self.schema.source.fields.items():
            for part in _field_lacking(located.item, result.fields.get(path)):
                self.missing(f"field {path!r}", part, located.location, located.source_map.file, "fields")
        for name, located in self.schema.source.derived.items():
            doc = located.item
            wanted = ["label"] + [k for k in ("description", "absent") if getattr(doc, k)]
            compiled = self.schema.derived.get(name)
            if compiled is not None and compiled.node.type is Type.BOOL:
                wanted.append("negative")
            text = result.schema_derived.get(name)
            lacking = list(_lacking(text, wanted))
            if text is not None:
                lacking += [
                    f"near-miss phrase {k!r}" for k in (doc.near_miss or {}) if k not in text.near_miss
                ]
            for part in lacking:
                file = located.source_map.file
                self.missing(f"derived fact {name!r}", part, located.location, file, "derived")


_PARTS = {
    "label": "label",
    "description": "description",
    "negative": "`negative` (the sentence that says it is false)",
    "absent": "`absent` (what a missing value means)",
}


def _lacking(text: Any, wanted: list[str]) -> Iterator[str]:
    """The parts of a translation that are missing, in words: 'text' when there is none at all."""
    if text is None:
        yield "text"
        return
    for name in wanted:
        if getattr(text, name, None) is None:
            yield _PARTS[name]


def _field_lacking(doc: FieldDoc, text: FieldText | None) -> Iterator[str]:
    """What a field's translation lacks, in words ('label', "word for choice 'x'", …)."""
    if text is None:
        yield "text"
        return
    wanted = ["label"] + [k for k in ("description", "absent") if getattr(doc, k)]
    if doc.type is FieldType.BOOL:
        wanted.append("negative")
    yield from _lacking(text, wanted)
    for choice in doc.choices or ():
        if choice not in text.choices:
            yield f"word for choice {choice!r}"
    for key in doc.near_miss or {}:
        if key not in text.near_miss:
            yield f"near-miss phrase {key!r}"
    if doc.type is FieldType.LIST:
        if text.item is None:
            yield "`item` (the noun for one item: singular, plural, gender)"
        for name, item in (doc.items or {}).items():
            for part in _field_lacking(item, text.items.get(name)):
                yield f"{part} of item field {name!r}"


def _action_codes(policy: CompiledPolicy) -> dict[str, Location]:
    """Every action code an explanation may name: the rules' actions and the codes of `taken(...)`
    and its kin in conditions and derived values, each with where it is written."""
    found: dict[str, Location] = {}
    for rule in policy.rules.values():
        entity = policy.source.rules[rule.id]
        if rule.rule.action:
            found.setdefault(rule.rule.action, entity.at("action"))
        for condition in (*rule.when, *rule.unless):
            for code in _taken_codes(condition.node):
                found.setdefault(code, condition.location)
    for derived in policy.derived.values():
        for code in _taken_codes(derived.expression.node):
            found.setdefault(code, derived.expression.location)
    return found


def _taken_codes(node: Node) -> Iterator[str]:
    for part in node.walk():
        if isinstance(part, Call) and part.function in ACTION_FUNCTIONS and part.args:
            first = part.args[0]
            if isinstance(first, Literal) and isinstance(first.value, str):
                yield first.value


def translation_problems(policy: CompiledPolicy, lang: str) -> list[Problem]:
    """Every problem with the policy's `lang` texts: unreadable catalogues, unknown ids, missing texts."""
    try:
        reader = _Reader(policy, lang)
    except PolicyError as exc:
        return exc.problems
    reader.read()
    return sorted(set(reader.problems), key=Problem.sort_key)


def translation(policy: CompiledPolicy, lang: str) -> Translation:
    """The policy's texts in `lang`, read once per compiled policy; PolicyError while any text is
    missing or any catalogue is wrong (run `cspolicy check --lang LANG` to see them all)."""
    key = (f"translation:{lang}", 0)
    cached = policy.explain_cache.get(key)
    if cached is None:
        reader = _Reader(policy, lang)
        result = reader.read()
        errors = [p for p in reader.problems if p.severity is Severity.ERROR]
        if errors:
            raise PolicyError(sorted(set(errors), key=Problem.sort_key))
        cached = policy.explain_cache[key] = result
    return cached
