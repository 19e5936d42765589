"""Generated Python, safely: straight-line functions built from fixed fragments, never from policy text.

A generator (the snapshot reader and a schema's derived facts, cspolicy.engine.snapshotreader; the
rule settler, cspolicy.engine.evaluate) writes source with a `Source`:
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
from decimal import Decimal
from typing import Any

from cspolicy.expressions.closures import (
    DivisionByZero,
    compile_expression,
    days_added,
    days_from,
    in_same_month,
)
from cspolicy.expressions.nodes import (
    Aggregate,
    Binary,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Literal,
    Membership,
    Missing,
    Name,
    Node,
    Quantifier,
    Unary,
)
from cspolicy.expressions.types import Type

FILENAME = "<cspolicy-codegen>"  # every code object this module compiles carries this file name
ATTRIBUTES = frozenset(
    {"append", "get", "issuperset", "setdefault"}
)  # the only attribute names a fragment may use
_MADE = re.compile(r"_[a-z][0-9]+", re.ASCII)
_NAME = re.compile(r"_[a-z][0-9]+\Z", re.ASCII)
_CHARACTERS = re.compile(r"[A-Za-z0-9_ \n()\[\]{}:=<>!,.+\-*/]*", re.ASCII)
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

    def insert(self, position: int, depth: int, fragment: str, *names: str) -> None:
        """`line`, placed before the line at `position` (e.g. a local set before its first use)."""
        self.line(depth, fragment, *names)
        self.lines.insert(position, self.lines.pop())

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


# The Python operator for each arithmetic operator of the language (`/` is written on its own:
# exact Decimal division, and a zero divisor fails as the closure fails).
_ARITHMETIC = {"+": "+", "-": "-", "*": "*"}


def _divided_by_zero(node: Node) -> Any:
    """Raise the closures' DivisionByZero for `node` (a statement, called from an expression)."""
    raise DivisionByZero(node)


# Brackets an inline expression may open: Python's parser refuses 200 nested brackets, and an
# `and` of many parts nests one level per part, so deeper parts are called as closures instead.
_DEEPEST = 100


class Expressions:
    """Python expressions for checked nodes, inline for the commonest node types and a call of the
    node's closure (`cspolicy.expressions.closures`) for every other: the same values, the same
    reads in the same order, the same None, KeyError and DivisionByZero behaviour.

    `facts`, `params`, `derive` are the made names the function binds to the case's facts,
    parameters and derived-value reader; `context` the name of the case's Context.

    With `derived` (name → the checked node of each derived value) and `memo` (the made name
    bound to the case's derived values, `Context.derived`), a derived value is computed inline
    at its first read in the function's text, kept in a local and in `memo` as `Context.derive`
    keeps it (later reads take the local, else call `derive`); every local this makes is listed
    in `locals`, to be set to `unset` (the made name of a sentinel) before the first line that
    reads it. A list function (`any_of` …) is inline only when its predicate is inline throughout:
    a closure inside it would read the Context's current item, which the inline loop never sets."""

    def __init__(
        self,
        src: Source,
        facts: str,
        params: str,
        derive: str,
        context: str,
        derived: dict[str, Node] | None = None,
        memo: str | None = None,
        unset: str | None = None,
    ) -> None:
        self.src, self.facts, self.params, self.derive, self.context = src, facts, params, derive, context
        self.derived, self.memo, self.unset = derived or {}, memo, unset
        self.locals: dict[str, str] = {}  # derived name → the local holding its value once read
        self.item: str | None = None  # inside a list's predicate: the made name of the item
        self.fallbacks = 0  # closures called so far (an item's predicate may call none)

    def _derived(self, key: str, depth: int) -> str | None:
        """A derived value read inline (computed on its first read, then the local), or None."""
        node = self.derived.get(key)
        if node is None or self.memo is None or self.unset is None:
            return None
        local = self.locals.get(key)
        if local is None:  # its first read: the expression inline (each derived value's once)
            local = self.locals[key] = self.src.name("d")
            code = self(node, depth + 3)
        else:  # a later read: the value kept, else `derive` (keeps the generated code linear)
            return f"({local} if {local} is not {self.unset} else ({local} := {self.derive}({self.src.const(key)})))"
        return (
            f"({local} if {local} is not {self.unset} else "
            f"({local} := {self.memo}.setdefault({self.src.const(key)}, {code})))"
        )

    def __call__(self, node: Node, depth: int = 0) -> str:
        """`node` as a Python expression; `depth` is the brackets already open around it."""
        src = self.src
        if depth > _DEEPEST:  # past the parser's nesting limit's reach: the closure does the rest
            return self._closure(node)
        if isinstance(node, Literal):
            return src.const(node.value)
        if isinstance(node, Name) and node.kind == "item" and self.item is not None:
            return f"{self.item}[{src.const(node.key)}]"
        if isinstance(node, Name) and node.kind in ("field", "param", "derived"):
            key = src.const(node.key)
            if node.kind == "derived":
                inline = self._derived(node.key, depth)
                return f"{self.derive}({key})" if inline is None else inline
            return f"{self.facts if node.kind == 'field' else self.params}[{key}]"
        if isinstance(node, Compare) and node.op in _OPERATORS:
            a, b = src.name("t"), src.name("t")
            left, right, op = self(node.left, depth + 3), self(node.right, depth + 3), _OPERATORS[node.op]
            if isinstance(node.right, Literal) and node.right.value is not None:  # known not None
                return f"(None if ({a} := {left}) is None else {a} {op} {right})"
            return (
                f"(None if ({a} := {left}) is None else (None if ({b} := {right}) is None else {a} {op} {b}))"
            )
        if isinstance(node, Unary) and node.op in ("not", "-"):
            a, op = src.name("t"), "not " if node.op == "not" else "-"
            return f"(None if ({a} := {self(node.operand, depth + 2)}) is None else {op}{a})"
        if isinstance(node, Binary) and (node.op in _ARITHMETIC or node.op == "/"):
            # Both operands are computed before either is tested, as the closures do: an operand
            # that fails for the case fails the expression even when the other is None.
            a, b = src.name("t"), src.name("t")
            left, right = self(node.left, depth + 4), self(node.right, depth + 4)
            if node.op == "/":
                number, zero = src.const(Decimal), src.const(0)
                fails = f"{src.const(_divided_by_zero)}({src.const(node)})"
                value = f"({fails} if {b} == {zero} else {number}({a}) / {number}({b}))"
            else:
                value = f"{a} {_ARITHMETIC[node.op]} {b}"
            return f"(None if None in (({a} := {left}), ({b} := {right})) else {value})"
        if isinstance(node, Membership):
            a, values = src.name("t"), src.const(frozenset(node.values))
            test = "not in" if node.negated else "in"
            return f"(None if ({a} := {self(node.operand, depth + 2)}) is None else {a} {test} {values})"
        if isinstance(node, Missing):
            return f"({self(node.operand, depth + 1)} is {'not ' if node.negated else ''}None)"
        if isinstance(node, Conditional):
            a = src.name("t")
            test, then, otherwise = (self(n, depth + 3) for n in (node.test, node.then, node.otherwise))
            return f"(None if ({a} := {test}) is None else ({then} if {a} else {otherwise}))"
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
        if isinstance(node, Call):
            inline = self._call(node, depth)
            if inline is not None:
                return inline
        if isinstance(node, Quantifier | Aggregate) and self.item is None:
            inline = self._over_items(node, depth)
            if inline is not None:
                return inline
        return self._closure(node)

    def _closure(self, node: Node) -> str:
        """A call of the node's closure with the case's Context."""
        self.fallbacks += 1
        return f"{self.src.const(compile_expression(node))}({self.context})"

    def _call(self, node: Call, depth: int) -> str | None:
        """A whitelisted function inline (its arguments computed first, all of them, as the
        closure does), or None for the ones that read the enforcement history."""
        src, function = self.src, node.function
        if function == "coalesce":  # left to right, stopping at the first value that is set
            text = src.const(None)
            for arg in reversed(node.args):
                a = src.name("t")
                text = f"({a} if ({a} := {self(arg, depth + len(node.args) + 2)}) is not None else {text})"
            return text
        helpers: dict[str, Any] = {
            "min": min,
            "max": max,
            "abs": abs,
            "days_between": days_from,
            "same_month": in_same_month,
            "add_days": days_added,
        }
        if function not in helpers and function != "days_since":
            return None
        names = [src.name("t") for _ in node.args]
        computed = ", ".join(
            f"({n} := {self(arg, depth + 4)})" for n, arg in zip(names, node.args, strict=True)
        )
        known = f"None in ({computed},)"
        if function in ("min", "max"):
            value = f"{src.const(helpers[function])}([{', '.join(names)}])"
        elif function == "days_since":
            value = f"{src.const(days_from)}({names[0]}, {self.facts}[{src.const('as_of')}])"
        elif function == "add_days":
            value = f"{src.const(days_added)}({names[0]}, {names[1]}, {src.const(node)})"
        else:
            value = f"{src.const(helpers[function])}({', '.join(names)})"
        return f"(None if {known} else {value})"

    def _over_items(self, node: Quantifier | Aggregate, depth: int) -> str | None:
        """`any_of`/`count_of`/`max_of`/`min_of`/`sum_of` inline, over the list's items in order,
        when its predicate is inline throughout (a closure would read the Context's item)."""
        src = self.src
        item, fallbacks = src.name("i"), self.fallbacks
        self.item = item
        try:
            test = None if node.predicate is None else self(node.predicate, depth + 4)
        finally:
            self.item = None
        if self.fallbacks != fallbacks:
            return None
        items = f"{self.facts}[{src.const(node.collection.key)}]"
        if isinstance(node, Quantifier):
            if node.function == "any_of":  # stops at the first item the predicate holds for
                return f"{src.const(any)}({test} is True for {item} in {items})"
            return f"{src.const(sum)}({src.const(1)} for {item} in {items} if {test} is True)"
        value = src.name("t")
        kept = f"({value} := {item}.get({src.const(node.field.key)})) is not None"
        found = f"[{value} for {item} in {items} if {kept}{'' if test is None else f' and {test} is True'}]"
        if node.function == "sum_of":
            zero: int | Decimal = 0 if node.type is Type.INTEGER else Decimal(0)
            return f"{src.const(sum)}({found}, {src.const(zero)})"
        listed, pick = src.name("t"), src.const(max if node.function == "max_of" else min)
        return f"(None if not ({listed} := {found}) else {pick}({listed}))"
