"""Pydantic validation errors as located problems: file:line:col, the key's path, and for an
unknown key the keys allowed there with a did-you-mean."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from cspolicy.diagnostics import Code, Location, Problem, suggest
from cspolicy.source.yamlsource import SourceMap


def pydantic_problems(
    exc: ValidationError, data: Any, source_map: SourceMap, root: type[BaseModel]
) -> list[Problem]:
    """Located, readable problems from a pydantic ValidationError on YAML-loaded data."""
    problems: list[Problem] = []
    for error in exc.errors():
        path = _data_path(data, error["loc"])
        kind = error["type"]
        message = str(error["msg"]).removeprefix("Value error, ")
        if kind == "extra_forbidden":
            key = str(path[-1])
            allowed = _allowed_keys(root, path[:-1])
            hint = suggest(key, allowed) or (f"; allowed: {', '.join(allowed)}" if allowed else "")
            problems.append(Problem(Code.UNKNOWN_KEY, f"unknown key {key!r}{hint}", source_map.at(path)))
            continue
        if kind == "missing":
            problems.append(
                Problem(
                    Code.MISSING_KEY,
                    f"missing required key {str(error['loc'][-1])!r}",
                    source_map.at(path[:-1]),
                )
            )
            continue
        code = Code.INVALID_VALUE if kind in ("value_error", "string_pattern_mismatch") else Code.WRONG_TYPE
        name = ".".join(str(p) for p in path) or "document"
        value = error.get("input")
        shown = f" (got {value!r})" if isinstance(value, str | int | float) and len(repr(value)) < 60 else ""
        if kind == "string_pattern_mismatch":
            message = "not a valid identifier here (lower case letters, digits, '-' or '_')"
        location = (
            source_map.at((*path, "$value"))
            if (*path, "$value") in source_map.locations
            else source_map.at(path)
        )
        problems.append(Problem(code, f"{name}: {message}{shown}", location))
    # Pydantic reports each failing branch of a union; keep one message per place.
    unique: dict[tuple[Location, str], Problem] = {}
    for problem in problems:
        unique.setdefault((problem.location, problem.message.split(":")[0]), problem)
    return list(unique.values())


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """The path into the YAML data for a pydantic `loc` (dropping union-branch tags)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        ):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and part not in current and part.islower():
            path.append(part)  # an unknown or missing key
            current = None
    return tuple(path)


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside list[...] / dict[..., ...] / Optional / Union annotations."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in (list, dict, typing.Union, types.UnionType):
        for arg in reversed(typing.get_args(annotation)):
            found = _model_in(arg)
            if found is not None:
                return _DictOf(found) if origin is dict else found
    return None


class _DictOf:
    """Marks a dict of models: the next path step is a key, then the model."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model


def _allowed_keys(root: type[BaseModel], path: tuple[str | int, ...]) -> list[str]:
    """The keys a mapping at `path` may hold, following the model's field annotations."""
    model: Any = root
    skip = False
    for part in path:
        if skip:
            skip = False
            continue
        if isinstance(part, int):
            continue
        if isinstance(model, type) and issubclass(model, BaseModel):
            fields = {f.alias or n: f for n, f in model.model_fields.items()}
            if part not in fields:
                return []
            model = _model_in(fields[part].annotation)
            if isinstance(model, _DictOf):
                model = model.model
                skip = True
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []
