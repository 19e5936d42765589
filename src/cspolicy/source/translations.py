"""Translation catalogues: the texts of a policy set, a case schema or the action vocabulary in
another language, kept in sibling files so the English files authors write stay untouched.

- `policy.es.yaml` beside each `policy.yaml`: rule titles and summaries, parameter and derived
  labels and descriptions, the set's own action codes;
- `v2.es.yaml` beside a case schema `v2.yaml`: field and derived labels, descriptions, choice
  words, near-miss phrases, list item nouns;
- `vocabulary.es.yaml` beside this module: the shared action vocabulary.

This module reads and validates catalogues (located problems, unknown keys refused); which ids
exist and which texts are missing is checked against the compiled policy by
`cspolicy.engine.translations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cspolicy.diagnostics import Code, PolicyError, Problem, Severity
from cspolicy.source.problems import pydantic_problems
from cspolicy.source.yamlsource import SourceMap, YamlProblem, load_yaml_file

LANGUAGES = ("es",)
"""The languages a catalogue may be written in (English is the policy files themselves)."""
VOCABULARY_DIRECTORY = Path(__file__).resolve().parent


def is_catalogue(path: Path) -> bool:
    """Whether a file is a translation catalogue (`*.es.yaml`), not a policy or schema file."""
    return any(path.name.endswith((f".{lang}.yaml", f".{lang}.yml")) for lang in LANGUAGES)


def catalogue_path(english: Path, lang: str) -> Path:
    """The catalogue of an English file: `policy.yaml` → `policy.es.yaml`."""
    return english.with_name(f"{english.stem}.{lang}.yaml")


def vocabulary_path(lang: str) -> Path:
    """The shipped action vocabulary's catalogue for `lang`."""
    return VOCABULARY_DIRECTORY / f"vocabulary.{lang}.yaml"


Text = Annotated[str, Field(min_length=1)]


def _clean(value: object) -> object:
    # Folded YAML text (`>`) ends with a newline; a text in a sentence must not.
    return " ".join(value.split()) if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleText(_Strict):
    """A rule's title (also the reason a hold gives) and plain-language summary."""

    title: Text
    summary: Text
    outputs: dict[str, Text] = Field(default_factory=dict, description="Each output's name in words")

    _clean = field_validator("title", "summary", mode="before")(_clean)


class TermText(_Strict):
    """A parameter's or derived value's words: the label used in sentences, its description,
    and for a yes/no value the sentence that says it is false."""

    label: Text | None = None
    description: Text | None = None
    negative: Text | None = Field(None, description="A yes/no value said as false")
    absent: Text | None = Field(None, description="What a missing value means")
    near_miss: dict[str, Text] = Field(default_factory=dict)

    _clean = field_validator("label", "description", "negative", "absent", mode="before")(_clean)


class ActionText(_Strict):
    """An action code in words: a short name ('enviar el aviso de atraso') and its meaning."""

    label: Text
    meaning: Text

    _clean = field_validator("label", "meaning", mode="before")(_clean)


class Noun(_Strict):
    """What one item of a list is called, and its gender (for the words that agree with it)."""

    singular: Text
    plural: Text
    gender: Literal["f", "m"]
    owner: Text | None = Field(None, description="Whose items they are, e.g. 'la persona que paga'")


class FieldText(_Strict):
    """A case field's words: label, description, the false sentence of a yes/no field, what a
    missing value means, each choice, near-miss phrases, and for a list its item noun and fields."""

    label: Text | None = None  # None: a schema that extends another adds only its new choices
    description: Text | None = None
    negative: Text | None = None
    absent: Text | None = None
    choices: dict[str, Text] = Field(default_factory=dict)
    near_miss: dict[str, Text] = Field(default_factory=dict)
    item: Noun | None = None
    items: dict[str, FieldText] = Field(default_factory=dict)

    _clean = field_validator("label", "description", "negative", "absent", mode="before")(_clean)


class PolicyCatalogue(_Strict):
    """`policy.es.yaml`: the texts of the rules, parameters and derived values of a policy set."""

    lang: Literal["es"]
    title: Text | None = None
    description: Text | None = None
    rules: dict[str, RuleText] = Field(default_factory=dict)
    parameters: dict[str, TermText] = Field(default_factory=dict)
    derived: dict[str, TermText] = Field(default_factory=dict)
    actions: dict[str, ActionText] = Field(
        default_factory=dict, description="The set's own action codes (the shared ones are in the vocabulary)"
    )

    _clean = field_validator("title", "description", mode="before")(_clean)


class SchemaCatalogue(_Strict):
    """`v2.es.yaml`: the texts of a case schema's fields and derived facts, by dotted path."""

    lang: Literal["es"]
    title: Text | None = None
    description: Text | None = None
    fields: dict[str, FieldText] = Field(default_factory=dict)
    derived: dict[str, TermText] = Field(default_factory=dict)

    _clean = field_validator("title", "description", mode="before")(_clean)


class VocabularyCatalogue(_Strict):
    """`vocabulary.es.yaml`: the shared action codes in words."""

    lang: Literal["es"]
    actions: dict[str, ActionText] = Field(default_factory=dict)


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Catalogue(Generic[M]):
    """One catalogue file: its validated content and where each of its keys was written."""

    path: Path
    model: M
    source_map: SourceMap


def read_catalogue(path: Path, model: type[M], lang: str) -> Catalogue[M]:
    """Read and validate one catalogue; PolicyError lists every located problem."""
    try:
        data, source_map, problems = load_yaml_file(path)
    except YamlProblem as exc:
        raise PolicyError([exc.problem]) from None
    if not isinstance(data, dict):
        problems.append(
            Problem(Code.WRONG_TYPE, "a translation catalogue must be a mapping of keys", source_map.at(()))
        )
        raise PolicyError(problems)
    if data.get("lang") != lang:
        where = source_map.at(("lang", "$value")) if "lang" in data else source_map.at(())
        problems.append(
            Problem(Code.INVALID_VALUE, f"catalogue must say `lang: {lang}` (its file name does)", where)
        )
        raise PolicyError(problems)
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, data, source_map, model))
        raise PolicyError(problems) from None
    if any(p.severity is Severity.ERROR for p in problems):
        raise PolicyError(problems)
    return Catalogue(path, validated, source_map)


def read_catalogues(paths: list[Path], model: type[M], lang: str) -> tuple[list[Catalogue[M]], list[Problem]]:
    """Every catalogue of `paths` that exists, in order, and the problems of those that do not read."""
    found: list[Catalogue[M]] = []
    problems: list[Problem] = []
    for path in paths:
        if not path.is_file():
            continue
        try:
            found.append(read_catalogue(path, model, lang))
        except PolicyError as exc:
            problems.extend(exc.problems)
    return found, problems
