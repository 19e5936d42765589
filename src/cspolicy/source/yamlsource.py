"""Reading YAML safely into plain data while remembering where every node came from."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cspolicy.diagnostics import Code, Location, Problem

# Limits on what one YAML document may hold; documented in docs/security.md.
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 50_000
MAX_ALIASES = 100
MAX_SCALAR_CHARS = 100_000
MAX_NUMBER_CHARS = 64
MAX_NUMBER_EXPONENT = 40

# libyaml scans in C, about ten times faster than PyYAML's own scanner; same events and nodes.
WITH_LIBYAML: bool = bool(getattr(yaml, "__with_libyaml__", False))

Path_ = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_ALLOWED_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP, _MAP, _SEQ}


@dataclass
class SourceMap:
    """Locations of the nodes of one YAML document, keyed by their path from the root."""

    file: str
    locations: dict[Path_, Location] = field(default_factory=dict)
    # For scalars: the column offset and line offset where the text content starts.
    content_start: dict[Path_, Location] = field(default_factory=dict)

    def at(self, path: Path_) -> Location:
        """The location of `path`, or of its nearest located ancestor."""
        probe = tuple(path)
        while probe:
            if probe in self.locations:
                return self.locations[probe]
            probe = probe[:-1]
        return self.locations.get((), Location(self.file, 1, 1))

    def content(self, path: Path_) -> Location:
        """Where the text of the scalar at `path` starts (inside any quote)."""
        return self.content_start.get(tuple(path), self.at(path))


class YamlProblem(Exception):
    """Raised internally when a document cannot be read at all."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _location(file: str, node: Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed YAML node tree into plain Python data, checking limits as it goes."""

    def __init__(self, file: str, text: str = "") -> None:
        self.file = file
        self.lines = text.splitlines()
        self.source_map = SourceMap(file)
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()
        self.problems: list[Problem] = []

    def fail(self, code: Code, message: str, node: Node) -> YamlProblem:
        return YamlProblem(Problem(code, message, _location(self.file, node)))

    def build(self, node: Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(Code.YAML_LIMIT, f"document has more than {MAX_NODES} nodes", node)
        if depth > MAX_DEPTH:
            raise self.fail(Code.YAML_LIMIT, f"nesting deeper than {MAX_DEPTH} levels", node)
        if node.tag not in _ALLOWED_TAGS:
            raise self.fail(
                Code.UNSAFE_YAML,
                f"YAML tag {node.tag!r} is not allowed (policies are plain data)",
                node,
            )
        self.source_map.locations[path] = _location(self.file, node)
        if isinstance(node, MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    raise self.fail(Code.WRONG_TYPE, "mapping keys must be plain text", key_node)
                key = str(key_node.value)
                if key == "<<":
                    raise self.fail(Code.UNSAFE_YAML, "YAML merge keys (<<) are not allowed", key_node)
                if key in result:
                    first = self.source_map.locations.get((*path, key))
                    where = f" (first at line {first.line})" if first else ""
                    self.problems.append(
                        Problem(
                            Code.DUPLICATE_KEY,
                            f"duplicate key {key!r}{where}",
                            _location(self.file, key_node),
                        )
                    )
                    continue
                self.source_map.locations[(*path, key)] = _location(self.file, key_node)
                result[key] = self.build(value_node, (*path, key), depth + 1)
                # The key's own location is more useful for "unknown key" messages.
                self.source_map.locations[(*path, key)] = _location(self.file, key_node)
                self.source_map.locations[(*path, key, "$value")] = _location(self.file, value_node)
            return result
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self.scalar(node, path)

    def scalar(self, node: ScalarNode, path: Path_) -> Any:
        if len(node.value) > MAX_SCALAR_CHARS:
            raise self.fail(Code.YAML_LIMIT, f"text longer than {MAX_SCALAR_CHARS} characters", node)
        start = _location(self.file, node)
        if node.style in ("'", '"'):
            self.source_map.content_start[path] = start.shifted(0, 1)
        elif node.style in ("|", ">"):
            self.source_map.content_start[path] = self.block_start(start.line)
        else:
            self.source_map.content_start[path] = start
        tag = node.tag
        if tag == _STR:
            return str(node.value)
        if tag in (_FLOAT, _INT):
            return self.number(node)
        if tag == _BOOL:
            return self.constructor.construct_yaml_bool(node)
        if tag == _NULL:
            return None
        if tag == _TIMESTAMP:
            value = self.constructor.construct_yaml_timestamp(node)
            if isinstance(value, dt.datetime):
                return value
            return value
        raise self.fail(Code.UNSAFE_YAML, f"YAML tag {tag!r} is not allowed", node)

    def block_start(self, header_line: int) -> Location:
        """Where the text of a block scalar (| or >) starts: its first line, after the indentation."""
        for number in range(header_line, len(self.lines)):  # 0-based index of the next line
            content = self.lines[number]
            if content.strip():
                return Location(self.file, number + 1, len(content) - len(content.lstrip(" ")) + 1)
        return Location(self.file, header_line + 1, 1)

    def number(self, node: ScalarNode) -> Any:
        # Bounded before converting: int("9" * 5000) raises, and 1e1000000000 is a short text
        # that later code (int(), pydantic) would expand into a billion-digit integer.
        text = node.value.replace("_", "")
        value: Any = None
        if len(text) <= MAX_NUMBER_CHARS:
            if node.tag == _INT:
                plain = _PLAIN_INT.fullmatch(text)
                value = int(text) if plain else self.constructor.construct_yaml_int(node)
                if abs(value) >= 10**MAX_NUMBER_EXPONENT:
                    value = None
            else:
                try:
                    # Exact decimals: 0.005 in a policy means exactly 0.005, never a binary float.
                    value = Decimal(text)
                except InvalidOperation:
                    return self.constructor.construct_yaml_float(node)
                if value.is_finite() and value and abs(value.adjusted()) >= MAX_NUMBER_EXPONENT:
                    value = None
        if value is None:
            raise self.fail(
                Code.YAML_LIMIT,
                f"number is out of range (at most {MAX_NUMBER_CHARS} characters,"
                f" magnitude between 1e-{MAX_NUMBER_EXPONENT} and 1e{MAX_NUMBER_EXPONENT})",
                node,
            )
        return value


def _check_events(text: str, file: str) -> None:
    """Stream the parser events once and stop at the first limit passed, before any tree exists.

    Counts nodes as the builder will visit them (an alias adds the whole size of the node it
    repeats, so an expansion bomb is caught without expanding it), nesting depth, aliases
    and scalar length. Raises YamlProblem at the event where a limit is passed.
    """
    parser: Any = yaml.CSafeLoader(text) if WITH_LIBYAML else yaml.SafeLoader(text)

    def limit(message: str, event: Any) -> YamlProblem:
        mark = event.start_mark
        return YamlProblem(Problem(Code.YAML_LIMIT, message, Location(file, mark.line + 1, mark.column + 1)))

    nodes = aliases = 0
    open_collections: list[tuple[str | None, int]] = []
    anchor_sizes: dict[str, int] = {}
    next_event = parser.get_event
    scalar, alias, end = yaml.ScalarEvent, yaml.AliasEvent, yaml.StreamEndEvent
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    while True:
        event = next_event()
        kind = type(event)
        if kind is scalar:
            nodes += 1
            if len(event.value) > MAX_SCALAR_CHARS:
                raise limit(f"text longer than {MAX_SCALAR_CHARS} characters", event)
            if event.anchor is not None:
                anchor_sizes[event.anchor] = 1
        elif kind in starts:
            nodes += 1
            open_collections.append((event.anchor, nodes - 1))
            if len(open_collections) > MAX_DEPTH:
                raise limit(f"nesting deeper than {MAX_DEPTH} levels", event)
        elif kind in ends:
            anchor, start = open_collections.pop()
            if anchor is not None:
                anchor_sizes[anchor] = nodes - start
        elif kind is alias:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise limit(f"more than {MAX_ALIASES} aliases (possible expansion bomb)", event)
            nodes += anchor_sizes.get(event.anchor, 1)
        elif kind is end:
            return
        if nodes > MAX_NODES:
            raise limit(f"document has more than {MAX_NODES} nodes (aliases counted expanded)", event)


def _compose(text: str) -> Node | None:
    """The node tree of a document already checked by `_check_events`."""
    loader: Any = yaml.CSafeLoader(text) if WITH_LIBYAML else yaml.SafeLoader(text)
    try:
        return loader.get_single_node()  # type: ignore[no-any-return]
    finally:
        loader.dispose()


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of the character at `index`."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_BRACKETS = re.compile(r"[\[\]{}]")
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_flow_depth(text: str, file: str) -> None:
    """Reject brackets nested deeper than MAX_DEPTH before the YAML scanner sees them.

    YAML scanners keep one pending "simple key" per open bracket and re-check all of them at
    every token, so `[[[[…` nested 10,000 deep takes seconds, quadratically. Counting every
    bracket in the text (quoted ones too) is deliberately conservative: no real policy text
    nests brackets 64 deep.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    brackets = _NOT_BRACKETS.sub("", text)
    depth = 0
    for position, char in enumerate(brackets):
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                index = next(itertools.islice(_BRACKETS.finditer(text), position, None)).start()
                line, column = _position(text, index)
                raise YamlProblem(
                    Problem(
                        Code.YAML_LIMIT,
                        f"brackets nested deeper than {MAX_DEPTH} levels",
                        Location(file, line, column),
                    )
                )
        elif depth:
            depth -= 1


def read_text(path: Path) -> str:
    """The UTF-8 text of `path`, or a located problem for oversize or non-UTF-8 files."""
    file = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise YamlProblem(
            Problem(Code.FILE_NOT_FOUND, f"cannot read file: {exc.strerror}", Location(file))
        ) from None
    except ValueError:  # e.g. a NUL byte in the path
        raise YamlProblem(
            Problem(Code.FILE_NOT_FOUND, "not a usable file path", Location(file.replace("\0", "\\0")))
        ) from None
    if size > MAX_DOCUMENT_BYTES:
        raise YamlProblem(
            Problem(
                Code.YAML_LIMIT,
                f"file is {size} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes",
                Location(file, 1, 1),
            )
        )
    try:
        data = path.read_bytes()
    except OSError as exc:  # a directory, no permission: stat() succeeded but reading did not
        raise YamlProblem(
            Problem(Code.FILE_NOT_FOUND, f"cannot read file: {exc.strerror}", Location(file))
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlProblem(
            Problem(
                Code.BAD_ENCODING,
                f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                Location(file, line, column),
            )
        ) from None


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse one YAML document into plain data, its source map and non-fatal problems.

    Raises YamlProblem when the document cannot be read at all.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise YamlProblem(
            Problem(
                Code.YAML_LIMIT,
                f"document is larger than {MAX_DOCUMENT_BYTES} bytes",
                Location(file, 1, 1),
            )
        )
    surrogate = _SURROGATE.search(text)
    if surrogate:
        line, column = _position(text, surrogate.start())
        raise YamlProblem(
            Problem(
                Code.BAD_ENCODING, "text holds an unpaired surrogate character", Location(file, line, column)
            )
        )
    _check_flow_depth(text, file)
    try:
        _check_events(text, file)
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(Problem(Code.YAML_SYNTAX, message, Location(file, line, column))) from None
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        raise YamlProblem(
            Problem(
                Code.BAD_ENCODING,
                f"character U+{exc.character:04X} is not allowed in YAML"
                if isinstance(exc.character, int)
                else f"character {exc.character!r} is not allowed in YAML",
                Location(file, line, column),
            )
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(Code.YAML_SYNTAX, str(exc), Location(file, 1, 1))) from None
    except RecursionError:
        raise YamlProblem(
            Problem(Code.YAML_LIMIT, f"nesting deeper than {MAX_DEPTH} levels", Location(file, 1, 1))
        ) from None
    builder = _Builder(file, text)
    if node is None:
        return None, builder.source_map, []
    data = builder.build(node, (), 0)
    return data, builder.source_map, builder.problems


def load_yaml_file(path: Path) -> tuple[Any, SourceMap, list[Problem]]:
    """Read and parse a YAML file; see `parse_yaml`."""
    return parse_yaml(read_text(path), str(path))
