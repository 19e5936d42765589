"""Reading YAML safely into plain data while remembering where every node came from."""

from __future__ import annotations

import datetime as dt
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
MAX_NODES = 200_000
MAX_ALIASES = 100
MAX_SCALAR_CHARS = 100_000

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

    def __init__(self, file: str) -> None:
        self.file = file
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
            self.source_map.content_start[path] = Location(self.file, start.line + 1, 1)
        else:
            self.source_map.content_start[path] = start
        tag = node.tag
        if tag == _STR:
            return str(node.value)
        if tag == _FLOAT:
            # Exact decimals: 0.005 in a policy means exactly 0.005, never a binary float.
            text = node.value.replace("_", "")
            try:
                return Decimal(text)
            except InvalidOperation:
                return self.constructor.construct_yaml_float(node)
        if tag == _INT:
            return self.constructor.construct_yaml_int(node)
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


class _LimitedLoader(yaml.SafeLoader):
    """A safe composer that counts aliases so an expansion bomb stops early."""

    alias_count = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"more than {MAX_ALIASES} aliases (possible expansion bomb)",
                    event.start_mark,
                )
        return super().compose_node(parent, index)


def read_text(path: Path) -> str:
    """The UTF-8 text of `path`, or a located problem for oversize or non-UTF-8 files."""
    file = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise YamlProblem(
            Problem(Code.FILE_NOT_FOUND, f"cannot read file: {exc.strerror}", Location(file))
        ) from None
    if size > MAX_DOCUMENT_BYTES:
        raise YamlProblem(
            Problem(
                Code.YAML_LIMIT,
                f"file is {size} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes",
                Location(file, 1, 1),
            )
        )
    data = path.read_bytes()
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
    loader = _LimitedLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = exc.problem or exc.context or "invalid YAML"
        code = Code.YAML_LIMIT if "aliases" in message else Code.YAML_SYNTAX
        raise YamlProblem(Problem(code, message, Location(file, line, column))) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(Code.YAML_SYNTAX, str(exc), Location(file, 1, 1))) from None
    except RecursionError:
        raise YamlProblem(
            Problem(Code.YAML_LIMIT, f"nesting deeper than {MAX_DEPTH} levels", Location(file, 1, 1))
        ) from None
    finally:
        loader.dispose()
    builder = _Builder(file)
    if node is None:
        return None, builder.source_map, []
    data = builder.build(node, (), 0)
    return data, builder.source_map, builder.problems


def load_yaml_file(path: Path) -> tuple[Any, SourceMap, list[Problem]]:
    """Read and parse a YAML file; see `parse_yaml`."""
    return parse_yaml(read_text(path), str(path))
