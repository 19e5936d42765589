"""The fast snapshot reader: a plain snapshot dict straight into the flat facts policies read.

`compile_reader(source)` builds, once per case schema, a function that reads a snapshot given
as plain data (a dict of dicts and lists, as JSON or YAML gives it) into the dotted-path facts
without building the pydantic model. It accepts only input it can vouch for exactly: the
exact Python types (`str`, `int`, `bool`, `Decimal`, `date`, `dict`, `list`), plain decimal
and ISO date strings, every constraint of the schema checked (choices, patterns, lengths,
money and date ranges, required fields, no unknown keys). Anything else — an invalid value,
and any input the model would coerce (a float, `"yes"` for a bool, a datetime) — makes it
answer None, and the caller validates with the schema's pydantic model as before, which gives
the same values or the located errors. So every snapshot it accepts is one the model accepts,
with the same values (tests/engine/test_snapshot_reader.py compares the two on every example
and on random snapshots). A date or text string the converter has vouched for is remembered
(a few thousand per memo), so a caseload's repeated dates and places are checked once: the
string is immutable and the converter's answer for it never changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cspolicy.expressions.closures import Context
from cspolicy.expressions.codegen import Expressions, Source
from cspolicy.expressions.nodes import Node
from cspolicy.source.caseschema import CaseSchemaSource, FieldDoc, FieldType

Reader = Callable[[Any], dict[str, Any] | None]

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]+)?", re.ASCII)
_MISSING: Any = object()
_EMPTY_LIST: Any = object()  # a list field left out: a new empty list each time
_MONEY_LIMIT = Decimal("1e12")


class _Unsure(Exception):
    """The fast path cannot vouch for this input: validate it with the model instead."""


def _unsure() -> Any:
    raise _Unsure


def _convert(doc: FieldDoc) -> Callable[[Any], Any]:
    """The converter of one field: its value as the model would give it, or _Unsure."""
    from cspolicy.engine.snapshot import EARLIEST_DATE, LATEST_DATE

    kind = doc.type
    if kind is FieldType.CHOICE:
        choices = frozenset(doc.choices or ())
        return lambda v: v if type(v) is str and v in choices else _unsure()
    if kind is FieldType.TEXT:
        pattern = re.compile(doc.pattern) if doc.pattern else None
        shortest = doc.min_length or 0
        longest = doc.max_length

        def text(v: Any) -> str:
            if type(v) is not str or len(v) < shortest or (longest is not None and len(v) > longest):
                raise _Unsure
            # The model's regex engine differs from `re` only on newlines and non-ASCII text.
            if pattern is not None and (not v.isascii() or "\n" in v or pattern.search(v) is None):
                raise _Unsure
            return v

        return text
    if kind in (FieldType.MONEY, FieldType.NUMBER):
        money = kind is FieldType.MONEY

        def number(v: Any) -> Decimal:
            if type(v) is str:
                # At most 12 digits before the point and no sign: a plain amount under $1e12.
                if _AMOUNT.fullmatch(v):
                    return Decimal(v)
                if money or not _DECIMAL.fullmatch(v):
                    raise _Unsure
                return Decimal(v)
            if type(v) is int:
                value = Decimal(v)
            elif type(v) is Decimal and v.is_finite():
                value = v
            else:
                raise _Unsure
            if money and (value < 0 or value >= _MONEY_LIMIT):
                raise _Unsure
            return value

        return number
    if kind is FieldType.DATE:

        def date(v: Any) -> dt.date:
            if type(v) is str:
                if len(v) != 10 or not v.isascii() or v[4] != "-" or v[7] != "-":
                    raise _Unsure
                try:
                    day = dt.date.fromisoformat(v)  # YYYY-MM-DD, ASCII digits only
                except ValueError:
                    raise _Unsure from None
            elif type(v) is dt.date:
                day = v
            else:
                raise _Unsure
            if day < EARLIEST_DATE or day >= LATEST_DATE:
                raise _Unsure
            return day

        return date
    if kind is FieldType.INTEGER:
        return lambda v: v if type(v) is int else _unsure()
    if kind is FieldType.BOOL:
        return lambda v: v if v is True or v is False else _unsure()
    raise TypeError(f"no converter for a {kind} field")  # a list is read by _list


def _missing(doc: FieldDoc) -> Any:
    """The value of a field the snapshot leaves out (_MISSING when it is required)."""
    from cspolicy.engine.caseschema import _default

    if doc.type is FieldType.LIST:
        return _MISSING if doc.required else _EMPTY_LIST
    if doc.optional:
        return None
    if doc.required:
        return _MISSING
    return _default(doc)


def _list(doc: FieldDoc) -> Callable[[Any], list[dict[str, Any]]]:
    """The reader of a list field: a list of item dicts, every item field present."""
    fields = tuple(
        (name, _convert(item), _missing(item), item.optional) for name, item in (doc.items or {}).items()
    )
    known = frozenset(doc.items or {})

    def items(value: Any) -> list[dict[str, Any]]:
        if type(value) is not list:
            raise _Unsure
        out = []
        for entry in value:
            if type(entry) is not dict or not known.issuperset(entry):
                raise _Unsure
            item = {}
            for name, convert, absent, optional in fields:
                v = entry.get(name, _MISSING)
                if v is _MISSING:
                    if absent is _MISSING:
                        raise _Unsure
                    item[name] = absent
                elif v is None and optional:
                    item[name] = None
                else:
                    item[name] = convert(v)
            out.append(item)
        return out

    return items


_MEMO_SIZE = 4096  # distinct values remembered per memo: a caseload repeats dates and places


def _memo_key(doc: FieldDoc) -> tuple[Any, ...]:
    """Fields whose strings are vouched for alike share a memo (every date field does)."""
    if doc.type is FieldType.DATE:
        return (FieldType.DATE,)
    return (doc.type, doc.pattern, doc.min_length, doc.max_length)


def _remembering(convert: Callable[[Any], Any], memo: dict[str, Any]) -> Callable[[str], Any]:
    """`convert`, remembering each string it vouches for (a date or a text is immutable)."""

    def remember(v: str) -> Any:
        value = convert(v)  # raises _Unsure first: only values the converter accepts are kept
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[v] = value
        return value

    return remember


def _field_tree(source: CaseSchemaSource) -> dict[str, Any]:
    """The schema's fields nested by group: {group: {...: {name: (path, field doc)}}}."""
    tree: dict[str, Any] = {}
    for path, located in source.fields.items():
        node = tree
        *groups, last = path.split(".")
        for group in groups:
            node = node.setdefault(group, {})
        node[last] = (path, located.item)
    return tree


def compile_reader(source: CaseSchemaSource) -> Reader:
    """The fast reader of one schema: snapshot data → its facts (fields only), or None.

    Built once per schema as one straight-line generated function (cspolicy.expressions.codegen:
    every key, path, choice and converter is a constant of its namespace, never source text).
    """
    return _generate(_field_tree(source), list(source.fields))


def compile_closure_reader(source: CaseSchemaSource) -> Reader:
    """The same reader built from closures, one per field (the generated one's reference in tests)."""
    tree = _field_tree(source)
    read_group = _group(tree)
    order = list(source.fields)

    def read(data: Any) -> dict[str, Any] | None:
        facts: dict[str, Any] = {}
        try:
            read_group(data, facts)
        except _Unsure:
            return None
        return facts

    if list(_paths(tree)) != order:  # an extension adds to a group later: keep the schema's order

        def read_in_order(data: Any) -> dict[str, Any] | None:
            facts = read(data)
            return None if facts is None else {path: facts[path] for path in order}

        return read_in_order
    return read


Step = Callable[[Callable[..., Any], dict[str, Any]], None]


def _group(tree: dict[str, Any]) -> Callable[[Any, dict[str, Any]], None]:
    """The reader of one group of fields (the snapshot itself is the outermost group)."""
    known = frozenset(tree)
    steps = tuple(
        _step(key, *entry) if isinstance(entry, tuple) else _subgroup(key, entry)
        for key, entry in tree.items()
    )

    def group(data: Any, facts: dict[str, Any]) -> None:
        if type(data) is not dict or not known.issuperset(data):
            raise _Unsure
        get = data.get
        for step in steps:
            step(get, facts)

    return group


def _subgroup(key: str, tree: dict[str, Any]) -> Step:
    read = _group(tree)
    required = _has_required(tree)

    def step(get: Callable[..., Any], facts: dict[str, Any]) -> None:
        value = get(key, _MISSING)
        if value is _MISSING:
            if required:
                raise _Unsure
            value = {}
        read(value, facts)

    return step


def _step(key: str, path: str, doc: FieldDoc) -> Step:
    """The reader of one field: its value into `facts[path]`, or _Unsure."""
    absent = _missing(doc)
    optional = doc.optional
    kind = doc.type
    if kind is FieldType.CHOICE:
        choices = frozenset(doc.choices or ())

        def choice(get: Callable[..., Any], facts: dict[str, Any]) -> None:
            v = get(key, absent)
            if v.__class__ is str and v in choices:
                facts[path] = v
            elif v is _MISSING or (v is not absent and not (v is None and optional)):
                raise _Unsure
            else:
                facts[path] = v

        return choice
    if kind is FieldType.BOOL:

        def boolean(get: Callable[..., Any], facts: dict[str, Any]) -> None:
            v = get(key, absent)
            if v is True or v is False:
                facts[path] = v
            elif v is _MISSING or not (v is None and optional):
                raise _Unsure
            else:
                facts[path] = v

        return boolean
    convert = _list(doc) if kind is FieldType.LIST else _convert(doc)

    def other(get: Callable[..., Any], facts: dict[str, Any]) -> None:
        v = get(key, _MISSING)
        if v is _MISSING:
            if absent is _MISSING:
                raise _Unsure
            facts[path] = [] if absent is _EMPTY_LIST else absent
        elif v is None and optional:
            facts[path] = None
        else:
            facts[path] = convert(v)

    return other


def _paths(tree: dict[str, Any]) -> Any:
    for entry in tree.values():
        if isinstance(entry, tuple):
            yield entry[0]
        else:
            yield from _paths(entry)


def _has_required(tree: dict[str, Any]) -> bool:
    return any(
        entry[1].required if isinstance(entry, tuple) else _has_required(entry) for entry in tree.values()
    )


def _generate(tree: dict[str, Any], order: list[str]) -> Reader:
    """One generated function reading the whole snapshot: the closures' checks, straight-line."""
    src = Source()
    unsure, missing, cls = src.const(_Unsure), src.const(_MISSING), src.const(type)
    values: dict[str, str] = {}  # path → the local holding its value
    data = src.name("a")
    src.line(0, "def {}({}):", src.name("r"), data)
    src.line(1, "try:")

    def group(local: str, subtree: dict[str, Any], depth: int) -> None:
        src.line(
            depth,
            "if {}({}) is not {} or not {}.issuperset({}):",
            cls,
            local,
            src.const(dict),
            src.const(frozenset(subtree)),
            local,
        )
        src.line(depth + 1, "raise {}", unsure)
        get = src.name("g")
        src.line(depth, "{} = {}.get", get, local)
        for key, entry in subtree.items():
            if isinstance(entry, tuple):
                path, doc = entry
                value = values[path] = src.name("v")
                field(get, src.const(key), value, doc, depth)
            else:
                inner = src.name("s")
                src.line(depth, "{} = {}({}, {})", inner, get, src.const(key), missing)
                src.line(depth, "if {} is {}:", inner, missing)
                if _has_required(entry):
                    src.line(depth + 1, "raise {}", unsure)
                else:
                    src.line(depth + 1, "{} = {{}}", inner)
                group(inner, entry, depth)

    def field(get: str, key: str, value: str, doc: FieldDoc, depth: int) -> None:
        absent, optional, kind = _missing(doc), doc.optional, doc.type
        if kind is FieldType.CHOICE:
            src.line(depth, "{} = {}({}, {})", value, get, key, src.const(absent))
            src.line(
                depth,
                "if not ({}({}) is {} and {} in {}):",
                cls,
                value,
                src.const(str),
                value,
                src.const(frozenset(doc.choices or ())),
            )
            ok = " and {} is not None" if optional else ""
            src.line(
                depth + 1,
                "if {} is {} or {} is not {}" + ok + ":",
                *(value, missing, value, src.const(absent)),
                *((value,) if optional else ()),
            )
            src.line(depth + 2, "raise {}", unsure)
        elif kind is FieldType.BOOL:
            src.line(depth, "{} = {}({}, {})", value, get, key, src.const(absent))
            src.line(depth, "if {} is not True and {} is not False:", value, value)
            if optional:
                src.line(depth + 1, "if {} is {} or {} is not None:", value, missing, value)
                src.line(depth + 2, "raise {}", unsure)
            else:
                src.line(depth + 1, "raise {}", unsure)
        else:
            src.line(depth, "{} = {}({}, {})", value, get, key, missing)
            src.line(depth, "if {} is {}:", value, missing)
            if absent is _MISSING:
                src.line(depth + 1, "raise {}", unsure)
            elif absent is _EMPTY_LIST:
                src.line(depth + 1, "{} = []", value)
            else:
                src.line(depth + 1, "{} = {}", value, src.const(absent))
            if optional:
                src.line(depth, "elif {} is not None:", value)
            else:
                src.line(depth, "else:")
            convert(value, doc, depth + 1)

    def convert(value: str, doc: FieldDoc, depth: int) -> None:
        kind = doc.type
        if kind is FieldType.LIST:
            items, entry, item_get = src.name("l"), src.name("e"), src.name("h")
            fields = doc.items or {}
            src.line(depth, "if {}({}) is not {}:", cls, value, src.const(list))
            src.line(depth + 1, "raise {}", unsure)
            src.line(depth, "{} = []", items)
            src.line(depth, "for {} in {}:", entry, value)
            src.line(
                depth + 1,
                "if {}({}) is not {} or not {}.issuperset({}):",
                *(cls, entry, src.const(dict), src.const(frozenset(fields)), entry),
            )
            src.line(depth + 2, "raise {}", unsure)
            src.line(depth + 1, "{} = {}.get", item_get, entry)
            pairs = []
            for name, item in fields.items():
                local = src.name("v")
                field(item_get, src.const(name), local, item, depth + 1)
                pairs += [src.const(name), local]
            src.line(depth + 1, "{}.append({{" + ", ".join("{}: {}" for _ in fields) + "}})", items, *pairs)
            src.line(depth, "{} = {}", value, items)
        elif kind in (
            FieldType.MONEY,
            FieldType.NUMBER,
        ):  # the common plain amount inline, else the converter
            src.line(
                depth,
                "if {}({}) is {} and {}({}) is not None:",
                cls,
                value,
                src.const(str),
                src.const(_AMOUNT.fullmatch),
                value,
            )
            src.line(depth + 1, "{} = {}({})", value, src.const(Decimal), value)
            src.line(depth, "else:")
            src.line(depth + 1, "{} = {}({})", value, src.const(_convert(doc)), value)
        elif kind in (FieldType.DATE, FieldType.TEXT):  # seen before: the value already vouched for
            memo, hit = memos.setdefault(_memo_key(doc), {}), src.name("m")
            src.line(depth, "if {}({}) is {}:", cls, value, src.const(str))
            src.line(depth + 1, "{} = {}.get({})", hit, src.const(memo), value)
            src.line(
                depth + 1,
                "{} = {}({}) if {} is None else {}",
                *(value, src.const(_remembering(_convert(doc), memo)), value, hit, hit),
            )
            src.line(depth, "else:")
            src.line(depth + 1, "{} = {}({})", value, src.const(_convert(doc)), value)
        else:
            src.line(depth, "{} = {}({})", value, src.const(_convert(doc)), value)

    memos: dict[tuple[Any, ...], dict[str, Any]] = {}
    group(data, tree, 2)
    src.line(1, "except {}:", unsure)
    src.line(2, "return None")
    pairs = [(src.const(path), values[path]) for path in order]
    src.line(1, "return {{" + ", ".join("{}: {}" for _ in pairs) + "}}", *(n for pair in pairs for n in pair))
    return src.build("_r0")


def _no_derived_value(name: str) -> Any:
    """A schema's derived facts read facts only (the checker's scope has no policy values)."""
    raise KeyError(name)


def compile_derived_facts(derived: dict[str, Node]) -> Callable[[dict[str, Any]], None]:
    """One generated function adding a schema's derived facts (checked nodes, in dependency
    order) to a case's facts, as `facts[name] = closure(Context(facts, {}, {}))` does for each."""
    src = Source()
    facts, context = src.name("a"), src.name("a")
    expressions = Expressions(src, facts, src.const({}), src.const(_no_derived_value), context)
    src.line(0, "def {}({}):", src.name("r"), facts)
    for name, node in derived.items():
        src.line(1, "{}[{}] = " + expressions(node), facts, src.const(name))
    src.line(1, "return None")
    if expressions.fallbacks:  # some part is a closure call: it reads the case's Context
        src.insert(
            1, 1, "{} = {}({}, {}, {})", context, src.const(Context), facts, src.const({}), src.const({})
        )
    return src.build("_r0")
