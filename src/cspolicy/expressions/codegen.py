"""Generated Python, safely: straight-line functions built from fixed fragments, never from policy text.

A generator (the snapshot reader, cspolicy.engine.snapshotreader) writes source with a `Source`:
every line is one of the generator's own fixed fragments, and every value the line uses — a field
name, a path, a choice, a converter — is passed in as a constant of the function's namespace and
named by an identifier the generator makes (`_c12`), never written into the source as text.
`Source.build` checks that before compiling: each token must be a keyword, one of the few fixed
attribute names, an operator, or a made identifier; a string, number or any other name refuses
the source. So nothing a policy or schema author writes can reach the compiler. The function is
made from the compiled code object directly (`types.FunctionType`); `exec` is never called.
docs/security.md gives the argument; tests/expressions/test_sandbox.py checks it.
"""

from __future__ import annotations

import keyword
import re
import types
from collections.abc import Callable
from typing import Any

from cspolicy.expressions.closures import compile_expression
from cspolicy.expressions.nodes import BoolOp, Compare, Literal, Name, Node, Unary

FILENAME = "<cspolicy-codegen>"  # every code object this module compiles carries this file name
ATTRIBUTES = frozenset({"append", "get", "issuperset"})  # the only attribute names a fragment may use
_MADE = re.compile(r"_[a-z][0-9]+", re.ASCII)
_NAME = re.compile(r"_[a-z][0-9]+\Z", re.ASCII)
_CHARACTERS = re.compile(r"[A-Za-z0-9_ \n()\[\]{}:=<>!,.]*", re.ASCII)
_WORD = re.compile(r"[A-Za-z0-9_]+", re.ASCII)


class UnsafeSource(Exception):
    """Generated source with a token the generator could not have made (a bug, never input)."""


def vet(source: str) -> None:
    """Refuse source with anything but keywords, fixed attributes, operators and made names.

    Checked on the characters, not with `tokenize` (too slow for a 2,000-rule policy): only ASCII
    letters, digits, `_`, spaces, newlines and the operator characters may appear (so no quote,
    backslash or comment), and every run of letters, digits and `_` must be a keyword, a fixed
    attribute or a made name (so no number and no other name)."""
    if not _CHARACTERS.fullmatch(source):
        raise UnsafeSource("a character no fragment has")
    for word in set(_WORD.findall(source)):
        if not (keyword.iskeyword(word) or word in ATTRIBUTES or _MADE.fullmatch(word)):
            raise UnsafeSource(f"word {word!r}")


class Source:
    """One generated function: fixed fragments with made names, values passed as constants."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"__builtins__": {}}
        self._counts: dict[str, int] = {}
        self._constants: dict[int, str] = {}

    def name(self, prefix: str) -> str:
        """A fresh identifier, `_<prefix><n>` (prefix one lowercase letter)."""
        count = self._counts.get(prefix, 0)
        self._counts[prefix] = count + 1
        made = f"_{prefix}{count}"
        if not _NAME.match(made):
            raise UnsafeSource(f"bad prefix {prefix!r}")
        return made

    def const(self, value: Any) -> str:
        """The identifier under which `value` is in the function's namespace (one per object)."""
        made = self._constants.get(id(value))
        if made is None:
            made = self._constants[id(value)] = self.name("c")
            self.namespace[made] = value
        return made

    def line(self, depth: int, fragment: str, *names: str) -> None:
        """Add `fragment` (the generator's own text, `{}` for each name) at `depth` indentation."""
        for made in names:
            if not _NAME.match(made):
                raise UnsafeSource(f"{made!r} is not a made name")
        self.lines.append("    " * depth + fragment.format(*names))

    def build(self, function: str) -> Callable[..., Any]:
        """Vet, compile and return the function `function` defined by the lines."""
        text = "\n".join(self.lines) + "\n"
        vet(text)
        module = compile(text, FILENAME, "exec", dont_inherit=True)
        for code in module.co_consts:
            if isinstance(code, types.CodeType) and code.co_name == function:
                return types.FunctionType(code, self.namespace, function)
        raise UnsafeSource(f"no function {function!r} in the generated source")


# The Python operator for each comparison of the language: the generator's own text, chosen by
# the checked node's operator (the checker admits only these six).
_OPERATORS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}


# Brackets an inline expression may open: Python's parser refuses 200 nested brackets, and an
# `and` of many parts nests one level per part, so deeper parts are called as closures instead.
_DEEPEST = 100


class Expressions:
    """Python expressions for checked nodes, inline for the commonest node types and a call of the
    node's closure (`cspolicy.expressions.closures`) for every other: the same values, the same
    reads in the same order, the same None, KeyError and DivisionByZero behaviour.

    `facts`, `params`, `derive` are the made names the function binds to the case's facts,
    parameters and derived-value reader; `context` the name of the case's Context."""

    def __init__(self, src: Source, facts: str, params: str, derive: str, context: str) -> None:
        self.src, self.facts, self.params, self.derive, self.context = src, facts, params, derive, context

    def __call__(self, node: Node, depth: int = 0) -> str:
        """`node` as a Python expression; `depth` is the brackets already open around it."""
        src = self.src
        if depth > _DEEPEST:  # past the parser's nesting limit's reach: the closure does the rest
            return f"{src.const(compile_expression(node))}({self.context})"
        if isinstance(node, Literal):
            return src.const(node.value)
        if isinstance(node, Name) and node.kind in ("field", "param", "derived"):
            key = src.const(node.key)
            if node.kind == "derived":
                return f"{self.derive}({key})"
            return f"{self.facts if node.kind == 'field' else self.params}[{key}]"
        if isinstance(node, Compare) and node.op in _OPERATORS:
            a, b = src.name("t"), src.name("t")
            left, right, op = self(node.left, depth + 3), self(node.right, depth + 3), _OPERATORS[node.op]
            if isinstance(node.right, Literal) and node.right.value is not None:  # known not None
                return f"(None if ({a} := {left}) is None else {a} {op} {right})"
            return (
                f"(None if ({a} := {left}) is None else (None if ({b} := {right}) is None else {a} {op} {b}))"
            )
        if isinstance(node, Unary) and node.op == "not":
            a = src.name("t")
            return f"(None if ({a} := {self(node.operand, depth + 2)}) is None else not {a})"
        if isinstance(node, BoolOp) and node.op in ("and", "or") and node.operands:
            # Stop at the first False (`and`) or True (`or`); else unknown if any part was unknown.
            stop = "False" if node.op == "and" else "True"
            names = [src.name("t") for _ in node.operands]
            unknown = " or ".join(f"{n} is None" for n in names)
            text = f"(None if {unknown} else {'True' if stop == 'False' else 'False'})"
            operands = list(zip(names, node.operands, strict=True))
            for level, (n, operand) in reversed(list(enumerate(operands))):
                text = f"({stop} if ({n} := {self(operand, depth + level + 2)}) is {stop} else {text})"
            return text
        return f"{src.const(compile_expression(node))}({self.context})"
