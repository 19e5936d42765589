"""Parse expression text into the cspolicy AST with Python's `ast` module; nothing is ever run."""

from __future__ import annotations

import ast
import datetime as dt
import io
import tokenize
from decimal import Decimal, InvalidOperation
from typing import Any

from cspolicy.diagnostics import Code
from cspolicy.expressions.nodes import (
    Aggregate,
    Binary,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Literal,
    Lookup,
    Membership,
    Missing,
    Name,
    Node,
    Quantifier,
    Unary,
)
from cspolicy.expressions.types import Type

MAX_EXPRESSION_CHARS = 2_000
MAX_EXPRESSION_DEPTH = 40

FUNCTIONS = {
    "min": "the smaller of two or more values",
    "max": "the larger of two or more values",
    "abs": "the absolute value",
    "days_between": "days from the first date to the second",
    "days_since": "days from a date to the snapshot date",
    "date": 'a date written as date("YYYY-MM-DD")',
    "any_of": "whether any item of a list matches a condition",
    "count_of": "how many items of a list match a condition",
    "taken": "whether an action appears in the enforcement history (sent or completed)",
    "days_since_taken": "days since an action was last taken",
    "date_taken": "the date an action was last taken (nothing when never)",
    "max_of": "the largest (latest) value of an item field over a list, optionally only items matching a"
    " condition: max_of(payments, date, date <= as_of); nothing when no item has a value",
    "min_of": "the smallest (earliest) value of an item field over a list, optionally only items matching"
    " a condition: min_of(paying_parent.warrants, issued_on); nothing when no item has a value",
    "sum_of": "the total of an item field over a list, optionally only items matching a condition:"
    ' sum_of(payments, amount, applied_to == "family_arrears"); 0 when no item matches',
    "add_days": "a date moved by a number of days: add_days(payments.last_date, 1); negative goes back",
    "same_month": "whether two dates fall in the same calendar month of the same year",
    "coalesce": "the first of its values that is set (not missing): coalesce(payments.last_date, order.established_on)",
}

AGGREGATES = ("max_of", "min_of", "sum_of")

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_FORBIDDEN = {
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed; use any_of() or count_of()",
    ast.SetComp: "comprehensions are not allowed; use any_of() or count_of()",
    ast.DictComp: "comprehensions are not allowed; use any_of() or count_of()",
    ast.GeneratorExp: "comprehensions are not allowed; use any_of() or count_of()",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Starred: "* unpacking is not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Set: "sets are not allowed",
}


class ExpressionSyntaxError(Exception):
    """An expression that cannot be parsed or uses forbidden syntax, with its position."""

    def __init__(self, code: Code, message: str, line: int = 0, column: int = 0) -> None:
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        super().__init__(message)


def parse_expression(text: str) -> Node:
    """Parse `text` into an AST node, or raise ExpressionSyntaxError. Never evaluates anything."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionSyntaxError(
            Code.EXPRESSION_LIMIT,
            f"expression is {len(text)} characters long; the limit is {MAX_EXPRESSION_CHARS}",
        )
    source = text.strip()
    lead = len(text) - len(text.lstrip())
    if "\n" in source:
        # Folded YAML text: an expression may span lines; Python needs it parenthesized.
        source = "(" + source + ")"
        lead -= 1
    depth = 0
    deepest = 0
    for char in source:
        depth += char in "([{"
        depth -= char in ")]}"
        deepest = max(deepest, depth)
    if deepest > MAX_EXPRESSION_DEPTH:
        raise ExpressionSyntaxError(
            Code.EXPRESSION_LIMIT, f"brackets nested deeper than {MAX_EXPRESSION_DEPTH} levels"
        )
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        offset = exc.offset or 0
        if offset <= 0:  # Python reports "unexpected end" at offset 0: point past the end instead
            offset = len((exc.text or source).rstrip("\n")) + 1
        column = max(offset - 1 + lead, 0)
        raise ExpressionSyntaxError(
            Code.EXPRESSION_SYNTAX,
            f"invalid expression: {exc.msg}",
            (exc.lineno or 1) - 1,
            column,
        ) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionSyntaxError(
            Code.EXPRESSION_LIMIT, f"expression too complex to parse ({type(exc).__name__})"
        ) from None
    node = _Converter(source, lead).convert(tree.body, 0)
    _check_tokens(source, lead)
    return node


def _check_tokens(source: str, lead: int) -> None:
    """Reject what `ast` hides: lookalike names and escapes inside text.

    Python folds identifiers to NFKC, so a fullwidth `ａrrears` would silently read `arrears`;
    names must be plain ASCII as written. Text must be written as it reads: no backslash
    escapes (`\\N{...}`, `\\x00`), no string prefixes, no invisible characters.
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # already parsed by ast; never expected
        return
    for token in tokens:
        line, column = token.start[0] - 1, token.start[1] + (lead if token.start[0] == 1 else 0)
        if token.type == tokenize.NAME and not token.string.isascii():
            raise ExpressionSyntaxError(
                Code.FORBIDDEN_SYNTAX,
                f"name {token.string!r} has non-ASCII characters; names are plain ASCII",
                line,
                max(column, 0),
            )
        if token.type == tokenize.STRING:
            text = token.string
            if text[0] not in "'\"":
                raise ExpressionSyntaxError(
                    Code.FORBIDDEN_SYNTAX,
                    "text prefixes (r, b, u, f) are not allowed; write plain quoted text",
                    line,
                    max(column, 0),
                )
            if "\\" in text:
                raise ExpressionSyntaxError(
                    Code.FORBIDDEN_SYNTAX,
                    "backslash escapes are not allowed in text; write the characters themselves",
                    line,
                    max(column, 0),
                )
            if not text.isprintable():
                raise ExpressionSyntaxError(
                    Code.FORBIDDEN_SYNTAX,
                    "text holds an invisible or control character",
                    line,
                    max(column, 0),
                )


def _is_none(node: Node) -> bool:
    return isinstance(node, Literal) and node.value is None


class _Converter:
    def __init__(self, source: str, lead: int) -> None:
        self.source = source
        self.lead = lead
        self.in_quantifier = False

    def at(self, node: ast.AST) -> dict[str, Any]:
        line = getattr(node, "lineno", 1) - 1
        column = getattr(node, "col_offset", 0) + (self.lead if line == 0 else 0)
        return {"line": line, "column": max(column, 0)}

    def fail(self, node: ast.AST, message: str, code: Code = Code.FORBIDDEN_SYNTAX) -> ExpressionSyntaxError:
        where = self.at(node)
        return ExpressionSyntaxError(code, message, where["line"], where["column"])

    def convert(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_EXPRESSION_DEPTH:
            raise self.fail(
                node,
                f"expression nested deeper than {MAX_EXPRESSION_DEPTH} levels",
                Code.EXPRESSION_LIMIT,
            )
        depth += 1
        where = self.at(node)
        for kind, message in _FORBIDDEN.items():
            if isinstance(node, kind):
                raise self.fail(node, message)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name | ast.Attribute):
            return Name(self.dotted(node), **where)
        if isinstance(node, ast.UnaryOp):
            operand = self.convert(node.operand, depth)
            if isinstance(node.op, ast.Not):
                return Unary("not", operand, **where)
            if isinstance(node.op, ast.USub):
                if isinstance(operand, Literal) and isinstance(operand.value, int | Decimal):
                    return Literal(-operand.value, **where, type=operand.type)
                return Unary("-", operand, **where)
            if isinstance(node.op, ast.UAdd):
                return operand
            raise self.fail(node, "operator ~ is not allowed")
        if isinstance(node, ast.BinOp):
            op = _BINARY.get(type(node.op))
            if op is None:
                symbol = {ast.Pow: "**", ast.FloorDiv: "//", ast.Mod: "%"}.get(type(node.op), "this operator")
                raise self.fail(node, f"operator {symbol} is not allowed; use + - * /")
            return Binary(op, self.convert(node.left, depth), self.convert(node.right, depth), **where)
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return BoolOp(op, [self.convert(v, depth) for v in node.values], **where)
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.IfExp):
            return Conditional(
                self.convert(node.test, depth),
                self.convert(node.body, depth),
                self.convert(node.orelse, depth),
                **where,
            )
        if isinstance(node, ast.Subscript):
            return self.lookup(node, depth)
        if isinstance(node, ast.List | ast.Tuple):
            raise self.fail(node, "a list is only allowed on the right of `in`")
        raise self.fail(node, f"{type(node).__name__} is not allowed in an expression")

    def constant(self, node: ast.Constant) -> Node:
        where = self.at(node)
        value = node.value
        if isinstance(value, bool):
            return Literal(value, **where, type=Type.BOOL)
        if isinstance(value, int):
            if abs(value) > 10**15:
                raise self.fail(node, "number is too large", Code.EXPRESSION_LIMIT)
            return Literal(value, **where, type=Type.INTEGER)
        if isinstance(value, float):
            text = ast.get_source_segment(self.source, node) or repr(value)
            try:
                exact = Decimal(text.replace("_", ""))
            except InvalidOperation:
                raise self.fail(node, f"cannot read number {text!r}", Code.EXPRESSION_SYNTAX) from None
            if not exact.is_finite() or abs(exact) > 10**15:
                raise self.fail(node, "number is too large", Code.EXPRESSION_LIMIT)
            return Literal(exact, **where, type=Type.NUMBER)
        if isinstance(value, str):
            return Literal(value, **where, type=Type.STRING)
        if value is None:
            return Literal(None, **where, type=Type.NULL)
        raise self.fail(node, f"constant {value!r} is not allowed")

    def dotted(self, node: ast.AST) -> str:
        parts: list[str] = []
        current = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise self.fail(node, "attributes may only follow a name, as in arrears.total")
        parts.append(current.id)
        for part in parts:
            if part.startswith("_"):
                raise self.fail(node, f"names starting with '_' are not allowed ({part!r})")
        return ".".join(reversed(parts))

    def compare(self, node: ast.Compare, depth: int) -> Node:
        where = self.at(node)
        left = self.convert(node.left, depth)
        parts: list[Node] = []
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                parts.append(self.membership(left, comparator, isinstance(op, ast.NotIn), where))
                left = parts[-1]
                continue
            symbol = _COMPARE.get(type(op))
            if symbol is None:
                raise self.fail(
                    node,
                    "`is` comparisons are not allowed; use == or != (x == None tests for a missing value)",
                )
            right = self.convert(comparator, depth)
            if symbol in ("==", "!=") and _is_none(right) != _is_none(left):
                # `x == None` / `x != None`: whether a value is missing (always yes or no)
                subject = left if _is_none(right) else right
                parts.append(Missing(subject, symbol == "!=", **where))
            else:
                parts.append(Compare(symbol, left, right, **where))
            left = right
        if len(parts) == 1:
            return parts[0]
        return BoolOp("and", parts, **where)

    def membership(self, operand: Node, container: ast.AST, negated: bool, where: dict[str, Any]) -> Node:
        if not isinstance(container, ast.List | ast.Tuple):
            raise self.fail(container, '`in` needs a list of values, as in x in ["a", "b"]')
        values = []
        for element in container.elts:
            if not isinstance(element, ast.Constant) or not isinstance(element.value, str | int):
                raise self.fail(element, "the list after `in` may hold only text or whole numbers")
            values.append(element.value)
        if not values:
            raise self.fail(container, "the list after `in` is empty")
        return Membership(operand, tuple(values), negated, **where)

    def call(self, node: ast.Call, depth: int) -> Node:
        where = self.at(node)
        if not isinstance(node.func, ast.Name):
            raise self.fail(
                node, "only the listed functions may be called (no methods)", Code.UNKNOWN_FUNCTION
            )
        function = node.func.id
        if function not in FUNCTIONS:
            raise self.fail(
                node,
                f"function {function!r} is not allowed; the functions are: {', '.join(sorted(FUNCTIONS))}",
                Code.UNKNOWN_FUNCTION,
            )
        if node.keywords:
            raise self.fail(node, f"{function}() takes no keyword arguments", Code.BAD_ARGUMENTS)
        if function == "date":
            return self.date_literal(node)
        if function in ("taken", "days_since_taken", "date_taken"):
            if len(node.args) != 1 or not (
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            ):
                raise self.fail(node, f"{function}() takes one action code in quotes", Code.BAD_ARGUMENTS)
            code = Literal(node.args[0].value, **self.at(node.args[0]), type=Type.STRING)
            return Call(function, [code], **where)
        if function in AGGREGATES:
            return self.aggregate(node, function, depth)
        if function in ("any_of", "count_of"):
            if len(node.args) != 2:
                raise self.fail(node, f"{function}() takes a list and a condition", Code.BAD_ARGUMENTS)
            if self.in_quantifier:
                # Nesting multiplies the work by each list's length: n**k item visits per case.
                raise self.fail(
                    node,
                    f"{function}() cannot be used inside any_of(), count_of(), max_of(), min_of() or sum_of()",
                    Code.BAD_ARGUMENTS,
                )
            collection = self.convert(node.args[0], depth)
            if not isinstance(collection, Name):
                raise self.fail(
                    node.args[0],
                    f"the first argument of {function}() must name a list",
                    Code.BAD_ARGUMENTS,
                )
            self.in_quantifier = True
            try:
                predicate = self.convert(node.args[1], depth)
            finally:
                self.in_quantifier = False
            return Quantifier(function, collection, predicate, **where)
        return Call(function, [self.convert(arg, depth) for arg in node.args], **where)

    def aggregate(self, node: ast.Call, function: str, depth: int) -> Node:
        """`max_of(list, field)`, `min_of(list, field)`, `sum_of(list, field)`, each with an
        optional third argument: a condition on the item (its fields as bare names)."""
        where = self.at(node)
        if len(node.args) not in (2, 3):
            raise self.fail(
                node,
                f"{function}() takes a list, an item field and optionally a condition,"
                f' as in {function}(payments, amount, applied_to == "current")',
                Code.BAD_ARGUMENTS,
            )
        if self.in_quantifier:
            raise self.fail(
                node,
                f"{function}() cannot be used inside any_of(), count_of(), max_of(), min_of() or sum_of()",
                Code.BAD_ARGUMENTS,
            )
        collection = self.convert(node.args[0], depth)
        if not isinstance(collection, Name):
            raise self.fail(
                node.args[0], f"the first argument of {function}() must name a list", Code.BAD_ARGUMENTS
            )
        if not isinstance(node.args[1], ast.Name):
            raise self.fail(
                node.args[1],
                f"the second argument of {function}() must be the name of an item field, as in amount",
                Code.BAD_ARGUMENTS,
            )
        item_field = self.convert(node.args[1], depth)
        assert isinstance(item_field, Name)
        predicate = None
        if len(node.args) == 3:
            self.in_quantifier = True
            try:
                predicate = self.convert(node.args[2], depth)
            finally:
                self.in_quantifier = False
        return Aggregate(function, collection, item_field, predicate, **where)

    def lookup(self, node: ast.Subscript, depth: int) -> Node:
        """`params.NAME[key]`: the only subscript there is (a keyed parameter's entry)."""
        where = self.at(node)
        target = node.value
        if not (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "params"
        ):
            raise self.fail(
                node,
                "subscripts ([...]) are only allowed on a keyed parameter, as in params.NAME[jurisdiction.county]",
            )
        if isinstance(node.slice, ast.Slice | ast.Tuple):
            raise self.fail(
                node.slice, "a keyed parameter takes one key, as in params.NAME[jurisdiction.county]"
            )
        param = self.convert(target, depth)
        assert isinstance(param, Name)
        return Lookup(param, self.convert(node.slice, depth), **where)

    def date_literal(self, node: ast.Call) -> Node:
        if len(node.args) != 1 or not (
            isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
        ):
            raise self.fail(
                node, 'date() takes one text argument, as in date("2024-08-01")', Code.BAD_ARGUMENTS
            )
        try:
            value = dt.date.fromisoformat(node.args[0].value)
        except ValueError:
            raise self.fail(
                node, f"not a date: {node.args[0].value!r} (use YYYY-MM-DD)", Code.BAD_ARGUMENTS
            ) from None
        return Literal(value, **self.at(node), type=Type.DATE)
