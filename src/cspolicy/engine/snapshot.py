"""The case snapshot: the state of one case on one date, validated against its case schema.

`CaseSnapshot` is the public type. The fields are not written here: each case schema
(`cspolicy.engine.caseschema`) builds a pydantic model that subclasses `CaseSnapshot`, so a
snapshot of any schema is a CaseSnapshot, with its fields as attributes (`snapshot.order.
monthly_amount` for child-support/v1). `CaseSnapshot.parse(data)` validates against the
default schema, child-support/v1, unless a `schema=` is given; a PolicySet validates against its
own schema. `facts()` flattens a snapshot into the dotted facts policies read, derived facts
included (computed from the schema's expressions; null when a value does not exist).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from cspolicy.diagnostics import Code, Location, Problem, SnapshotError

if TYPE_CHECKING:
    from cspolicy.engine.caseschema import CaseSchema
    from cspolicy.expressions.types import FieldSpec

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 1, 1)


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("amount must be a finite number")
    if value < 0:
        raise ValueError("amount cannot be negative")
    if value >= Decimal("1e12"):
        raise ValueError("amount is implausibly large (at least $1,000,000,000,000)")
    return value


def _plausible_date(value: dt.date) -> dt.date:
    if value < EARLIEST_DATE or value >= LATEST_DATE:
        raise ValueError(f"date must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


Money = Annotated[Decimal, AfterValidator(_money)]
Day = Annotated[dt.date, AfterValidator(_plausible_date)]


class CaseSnapshot(BaseModel):
    """The state of one case on one date, valid under a case schema. Unknown fields are errors.

    The base of every schema's snapshot model: on this class itself, `parse`, `model_validate`
    and `model_json_schema` use the default schema (child-support/v1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    __case_schema__: ClassVar[Any] = None  # set on each schema's model

    @classmethod
    def case_schema(cls) -> CaseSchema:
        """The schema of this snapshot model (child-support/v1 for CaseSnapshot itself)."""
        if cls.__case_schema__ is not None:
            return cls.__case_schema__  # type: ignore[no-any-return]
        from cspolicy.engine.caseschema import default_case_schema

        return default_case_schema()

    @classmethod
    def parse(
        cls, data: Any, *, source: str = "<snapshot>", schema: CaseSchema | None = None
    ) -> CaseSnapshot:
        """Validate `data` (a dict) against `schema` (default: this model's, else child-support/v1),
        turning every invalid field into a located SnapshotError.

        A CaseSnapshot of the same schema is returned as it is; one of another schema is
        validated again (a v1 snapshot is a valid v2 snapshot, for instance).
        """
        model = (schema or cls.case_schema()).model
        if isinstance(data, CaseSnapshot):
            if isinstance(data, model):
                return data
            data = data.model_dump()
        if not isinstance(data, dict):
            raise SnapshotError(
                [Problem(Code.SNAPSHOT_INVALID, "a snapshot must be a mapping", Location(source))]
            )
        try:
            return cast(CaseSnapshot, model.model_validate(data))
        except ValidationError as exc:
            raise SnapshotError(snapshot_problems(exc, source)) from None

    @classmethod
    def from_file(cls, path: str | Path, *, schema: CaseSchema | None = None) -> CaseSnapshot:
        """Load a snapshot from a YAML or JSON file."""
        return load_snapshot_file(Path(path), schema or cls.case_schema())

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if cls.__case_schema__ is None:
            return cls.case_schema().model.model_validate(obj, *args, **kwargs)
        return super().model_validate(obj, *args, **kwargs)

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if cls.__case_schema__ is None:
            return cls.case_schema().model.model_json_schema(*args, **kwargs)
        return super().model_json_schema(*args, **kwargs)

    def facts(self) -> dict[str, Any]:
        """Every fact policies may read, by dotted path (derived facts included)."""
        return type(self).case_schema().facts(self)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # `case_id` and `as_of` work for every schema, whatever its identity fields are called.
            if name in ("case_id", "as_of"):
                schema = type(self).__case_schema__
                if schema is not None and schema.identity.get(name) not in (None, name):
                    return schema.value(self, name)
            return super().__getattr__(name)

    else:
        # For type checkers: every schema's snapshot has these, and its own fields.
        case_id: str
        as_of: dt.date

        def __getattr__(self, name: str) -> Any:
            raise AttributeError(name)


def snapshot_problems(exc: ValidationError, source: str) -> list[Problem]:
    """One located problem per invalid field of a snapshot."""
    problems = []
    for error in exc.errors():
        # A key that is empty or not a plain name (from a hostile file) is shown quoted.
        path = ".".join(
            str(part) if isinstance(part, int) or str(part).isidentifier() else repr(part)
            for part in error["loc"]
        )
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field is missing"
        value = error.get("input")
        shown = "" if error["type"] in ("missing",) or isinstance(value, dict) else f" (got {value!r})"
        problems.append(Problem(Code.SNAPSHOT_INVALID, f"{path}: {message}{shown}", Location(source)))
    return problems


def load_snapshot_file(path: Path, schema: CaseSchema | None = None) -> CaseSnapshot:
    """Read one snapshot from YAML or JSON, with the file named in every error."""
    from cspolicy.source.yamlsource import YamlProblem, load_yaml_file

    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except FileNotFoundError:
            raise SnapshotError([Problem(Code.FILE_NOT_FOUND, "no such file", Location(str(path)))]) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SnapshotError(
                [Problem(Code.SNAPSHOT_INVALID, f"invalid JSON: {exc}", Location(str(path)))]
            ) from None
        except (OSError, ValueError) as exc:  # after JSON errors, which are ValueErrors too
            # A directory, no permission, a NUL byte in the path.
            raise SnapshotError(
                [
                    Problem(
                        Code.FILE_NOT_FOUND,
                        f"cannot read file: {exc}",
                        Location(str(path).replace("\0", "\\0")),
                    )
                ]
            ) from None
    else:
        try:
            data, _, problems = load_yaml_file(path)
        except YamlProblem as exc:
            raise SnapshotError([exc.problem]) from None
        if problems:
            raise SnapshotError(problems)
    return CaseSnapshot.parse(data, source=str(path), schema=schema)


def snapshot_facts(snapshot: CaseSnapshot) -> dict[str, Any]:
    """Flatten a snapshot into dotted-path facts and add the derived ones (`snapshot.facts()`)."""
    return snapshot.facts()


# The models of the default schema's groups and list items that code written for 0.1 imports
# from here by name (the case monitor's events, for one); each is the generated model.
DEFAULT_SCHEMA_MODELS = frozenset(
    {
        "Jurisdiction",
        "Order",
        "Arrears",
        "Payment",
        "License",
        "Programs",
        "Warrant",
        "PayingParent",
        "ReceivingParent",
        "EnforcementEntry",
    }
)


def __getattr__(name: str) -> Any:
    """`FIELDS` (the default schema's field specs) and the models named in
    DEFAULT_SCHEMA_MODELS, built on first use."""
    if name == "FIELDS" or name in DEFAULT_SCHEMA_MODELS:
        from cspolicy.engine.caseschema import default_case_schema

        schema = default_case_schema()
        return schema.fields if name == "FIELDS" else schema.models[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    FIELDS: dict[str, FieldSpec]
