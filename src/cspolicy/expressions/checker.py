"""Type-check an expression AST against the snapshot schema, parameters and derived names."""

from __future__ import annotations

from dataclasses import dataclass, field

from cspolicy.diagnostics import Code, suggest
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
from cspolicy.expressions.types import FieldSpec, Type
from cspolicy.source.documents import ACTION_CODE


class CheckError(Exception):
    """A type or name error in an expression, pointing at the node at fault."""

    def __init__(self, code: Code, message: str, node: Node) -> None:
        self.code = code
        self.message = message
        self.node = node
        super().__init__(message)


@dataclass
class Scope:
    """What names an expression may read, and their types."""

    fields: dict[str, FieldSpec]
    params: dict[str, Type] = field(default_factory=dict)
    derived: dict[str, Type] = field(default_factory=dict)
    items: dict[str, FieldSpec] | None = None
    item_list: str = ""
    # Parameters whose dated values are tables (key → value of the type in `params`): read
    # only as `params.NAME[key]`.
    keyed: frozenset[str] = frozenset()

    def all_names(self) -> list[str]:
        names = list(self.fields) + [f"params.{p}" for p in self.params] + list(self.derived)
        if self.items:
            names += list(self.items)
        return names


def describe(node: Node) -> str:
    """A short name for a node in messages: its path, or its type."""
    if isinstance(node, Name):
        return f"{node.type.article} ({node.path})"
    if isinstance(node, Literal):
        return f"{node.type.article} ({node.value!r})"
    return node.type.article


def _widest(types: list[Type]) -> Type:
    if Type.MONEY in types:
        return Type.MONEY
    if Type.NUMBER in types:
        return Type.NUMBER
    return Type.INTEGER


def check(node: Node, scope: Scope) -> Type:
    """Check `node` in `scope`, set `.type` on every node, and return the expression's type."""
    result = _check(node, scope)
    node.type = result
    return result


def _check(node: Node, scope: Scope) -> Type:
    if isinstance(node, Literal):
        return node.type
    if isinstance(node, Name):
        return _name(node, scope)
    if isinstance(node, Unary):
        operand = check(node.operand, scope)
        if node.op == "not":
            _expect_bool(node.operand, "not")
            return Type.BOOL
        if not operand.numeric:
            raise CheckError(Code.TYPE_MISMATCH, f"cannot negate {describe(node.operand)}", node)
        return operand
    if isinstance(node, Binary):
        return _binary(node, scope)
    if isinstance(node, Compare):
        return _compare(node, scope)
    if isinstance(node, Membership):
        operand = check(node.operand, scope)
        kinds = {type(v) for v in node.values}
        if operand is Type.STRING and kinds == {str}:
            for value in node.values:
                _check_choice(node.operand, str(value), node)
            return Type.BOOL
        if operand is Type.INTEGER and kinds == {int}:
            return Type.BOOL
        raise CheckError(Code.TYPE_MISMATCH, f"cannot look for {describe(node.operand)} in this list", node)
    if isinstance(node, BoolOp):
        for part in node.operands:
            check(part, scope)
            _expect_bool(part, node.op)
        return Type.BOOL
    if isinstance(node, Quantifier):
        return _quantifier(node, scope)
    if isinstance(node, Aggregate):
        return _aggregate(node, scope)
    if isinstance(node, Conditional):
        return _conditional(node, scope)
    if isinstance(node, Missing):
        check(node.operand, scope)
        return Type.BOOL
    if isinstance(node, Lookup):
        return _lookup(node, scope)
    if isinstance(node, Call):
        return _call(node, scope)
    raise CheckError(Code.FORBIDDEN_SYNTAX, f"unsupported expression {type(node).__name__}", node)


def _expect_bool(node: Node, where: str) -> None:
    if node.type is not Type.BOOL:
        raise CheckError(Code.TYPE_MISMATCH, f"`{where}` needs yes/no conditions, not {describe(node)}", node)


def _name(node: Name, scope: Scope) -> Type:
    path = node.path
    if path.startswith("params."):
        key = path.removeprefix("params.")
        if key in scope.params:
            node.kind = "param"
            if key in scope.keyed:
                raise CheckError(
                    Code.TYPE_MISMATCH,
                    f"parameter {path!r} is a table; read one entry with a key, as in {path}[jurisdiction.county]",
                    node,
                )
            return scope.params[key]
        raise CheckError(
            Code.UNKNOWN_PARAMETER,
            f"unknown parameter {path!r}" + suggest(key, list(scope.params)).replace("'", "'params.", 1),
            node,
        )
    if scope.items is not None and path in scope.items:
        node.kind = "item"
        node.spec = scope.items[path]
        return node.spec.type
    if path in scope.derived:
        node.kind = "derived"
        return scope.derived[path]
    if path in scope.fields:
        node.kind = "field"
        node.spec = scope.fields[path]
        return node.spec.type
    inside = f" (inside {scope.item_list}, item fields are: {', '.join(scope.items)})" if scope.items else ""
    raise CheckError(
        Code.UNKNOWN_NAME, f"unknown name {path!r}{suggest(path, scope.all_names())}{inside}", node
    )


def _binary(node: Binary, scope: Scope) -> Type:
    left = check(node.left, scope)
    right = check(node.right, scope)
    if not (left.numeric and right.numeric):
        raise CheckError(
            Code.TYPE_MISMATCH,
            f"cannot use {node.op} on {describe(node.left)} and {describe(node.right)}",
            node,
        )
    if node.op in ("+", "-"):
        return _widest([left, right])
    if node.op == "*":
        if left is Type.MONEY and right is Type.MONEY:
            raise CheckError(Code.TYPE_MISMATCH, "cannot multiply money by money", node)
        return _widest([left, right])
    # Division: money / money is a ratio; money / number is money; whole numbers give a number.
    if left is Type.MONEY and right is Type.MONEY:
        return Type.NUMBER
    if left is Type.MONEY:
        return Type.MONEY
    if right is Type.MONEY:
        raise CheckError(Code.TYPE_MISMATCH, "cannot divide a number by money", node)
    return Type.NUMBER


def _compare(node: Compare, scope: Scope) -> Type:
    left = check(node.left, scope)
    right = check(node.right, scope)
    if Type.NULL in (left, right):
        what = "order" if node.op not in ("==", "!=") else "compare"
        raise CheckError(
            Code.TYPE_MISMATCH,
            f"cannot {what} with None; `x == None` / `x != None` test whether x is missing",
            node,
        )
    if left.numeric and right.numeric:
        return Type.BOOL
    if left is right and left in (Type.DATE, Type.STRING, Type.BOOL):
        if left is not Type.DATE and node.op not in ("==", "!="):
            raise CheckError(Code.TYPE_MISMATCH, f"{node.op} cannot order {left.article}; use == or !=", node)
        if left is Type.STRING:
            if isinstance(node.right, Literal):
                _check_choice(node.left, str(node.right.value), node)
            if isinstance(node.left, Literal):
                _check_choice(node.right, str(node.left.value), node)
        return Type.BOOL
    raise CheckError(
        Code.TYPE_MISMATCH,
        f"cannot compare {describe(node.left)} with {describe(node.right)}",
        node,
    )


def _check_choice(subject: Node, value: str, node: Node) -> None:
    spec = subject.spec if isinstance(subject, Name) else None
    if spec is None or not spec.choices:
        return
    if value not in spec.choices:
        raise CheckError(
            Code.UNKNOWN_ENUM_VALUE,
            f"{value!r} is not a value of {spec.path}{suggest(value, list(spec.choices))};"
            f" the values are: {', '.join(spec.choices)}",
            node,
        )


def _quantifier(node: Quantifier, scope: Scope) -> Type:
    collection = check(node.collection, scope)
    spec = scope.fields.get(node.collection.path)
    if collection is not Type.LIST or spec is None:
        raise CheckError(
            Code.BAD_ARGUMENTS,
            f"{node.function}() needs a list such as paying_parent.licenses, not {describe(node.collection)}",
            node,
        )
    inner = Scope(scope.fields, scope.params, scope.derived, spec.items, spec.path, scope.keyed)
    check(node.predicate, inner)
    _expect_bool(node.predicate, node.function)
    return Type.BOOL if node.function == "any_of" else Type.INTEGER


_AGGREGATE_TYPES = {
    "max_of": (Type.DATE, Type.MONEY, Type.NUMBER, Type.INTEGER),
    "min_of": (Type.DATE, Type.MONEY, Type.NUMBER, Type.INTEGER),
    "sum_of": (Type.MONEY, Type.NUMBER, Type.INTEGER),
}


def _aggregate(node: Aggregate, scope: Scope) -> Type:
    """max_of/min_of give the field's type (None when nothing is left); sum_of its sum (0 then)."""
    function = node.function
    collection = check(node.collection, scope)
    spec = scope.fields.get(node.collection.path)
    if collection is not Type.LIST or spec is None:
        raise CheckError(
            Code.BAD_ARGUMENTS,
            f"{function}() needs a list such as payments, not {describe(node.collection)}",
            node,
        )
    item = spec.items.get(node.field.path)
    if item is None:
        raise CheckError(
            Code.UNKNOWN_NAME,
            f"{node.field.path!r} is not a field of the items of {spec.path}"
            f"{suggest(node.field.path, list(spec.items))}; their fields are: {', '.join(spec.items)}",
            node.field,
        )
    node.field.kind = "item"
    node.field.spec = item
    node.field.type = item.type
    allowed = _AGGREGATE_TYPES[function]
    if item.type not in allowed:
        kinds = "numbers or money" if function == "sum_of" else "dates, numbers or money"
        raise CheckError(
            Code.TYPE_MISMATCH,
            f"{function}() works on {kinds}, not {describe(node.field)}",
            node.field,
        )
    if node.predicate is not None:
        inner = Scope(scope.fields, scope.params, scope.derived, spec.items, spec.path, scope.keyed)
        check(node.predicate, inner)
        _expect_bool(node.predicate, function)
    return item.type


def _same_type(nodes: list[Node], what: str, at: Node) -> Type:
    """The one type of values that may each be the result (None literals fit any type)."""
    types: list[Type] = [n.type for n in nodes if n.type is not Type.NULL]
    if not types:
        raise CheckError(Code.TYPE_MISMATCH, f"{what}: every value is None", at)
    if all(t.numeric for t in types):
        return _widest(types)
    first = types[0]
    for candidate in nodes:
        if candidate.type is not Type.NULL and candidate.type is not first:
            raise CheckError(
                Code.TYPE_MISMATCH,
                f"{what}: values must have one type, not {first.article} and {describe(candidate)}",
                candidate,
            )
    if first is Type.LIST:
        raise CheckError(Code.TYPE_MISMATCH, f"{what}: a list cannot be a result", at)
    return first


def _conditional(node: Conditional, scope: Scope) -> Type:
    check(node.test, scope)
    if node.test.type is not Type.BOOL:
        raise CheckError(
            Code.TYPE_MISMATCH,
            f"the condition of `x if condition else y` must be yes/no, not {describe(node.test)}",
            node.test,
        )
    check(node.then, scope)
    check(node.otherwise, scope)
    return _same_type([node.then, node.otherwise], "`x if condition else y`", node)


def _lookup(node: Lookup, scope: Scope) -> Type:
    param = node.param
    key = param.path.removeprefix("params.")
    if not param.path.startswith("params.") or key not in scope.params:
        raise CheckError(
            Code.UNKNOWN_PARAMETER,
            f"unknown parameter {param.path!r}"
            + suggest(key, list(scope.params)).replace("'", "'params.", 1),
            param,
        )
    if key not in scope.keyed:
        raise CheckError(
            Code.TYPE_MISMATCH,
            f"parameter {param.path!r} is a single value, not a table: write it without [...]",
            node,
        )
    param.kind = "param"
    param.type = scope.params[key]
    check(node.key, scope)
    if node.key.type is not Type.STRING:
        raise CheckError(
            Code.TYPE_MISMATCH,
            f"the key of {param.path}[...] must be text, not {describe(node.key)}",
            node.key,
        )
    return param.type


def _call(node: Call, scope: Scope) -> Type:
    function = node.function
    types = [check(arg, scope) for arg in node.args]
    if function in ("taken", "days_since_taken", "date_taken"):
        code = node.args[0]
        assert isinstance(code, Literal)
        if not ACTION_CODE.match(str(code.value)):
            raise CheckError(Code.BAD_ARGUMENTS, f"{code.value!r} is not an action code", node)
        return {"taken": Type.BOOL, "date_taken": Type.DATE}.get(function, Type.INTEGER)
    if function in ("min", "max"):
        if len(types) < 2:
            raise CheckError(Code.BAD_ARGUMENTS, f"{function}() needs at least two values", node)
        if all(t is Type.DATE for t in types):
            return Type.DATE
        if not all(t.numeric for t in types):
            raise CheckError(Code.TYPE_MISMATCH, f"{function}() needs numbers or money, or only dates", node)
        return _widest(types)
    if function == "abs":
        if len(types) != 1 or not types[0].numeric:
            raise CheckError(Code.BAD_ARGUMENTS, "abs() takes one number", node)
        return types[0]
    if function == "days_between":
        if types != [Type.DATE, Type.DATE]:
            raise CheckError(Code.BAD_ARGUMENTS, "days_between() takes two dates", node)
        return Type.INTEGER
    if function == "days_since":
        if types != [Type.DATE]:
            raise CheckError(Code.BAD_ARGUMENTS, "days_since() takes one date", node)
        return Type.INTEGER
    if function == "add_days":
        if types != [Type.DATE, Type.INTEGER]:
            raise CheckError(Code.BAD_ARGUMENTS, "add_days() takes a date and a whole number of days", node)
        return Type.DATE
    if function == "same_month":
        if types != [Type.DATE, Type.DATE]:
            raise CheckError(Code.BAD_ARGUMENTS, "same_month() takes two dates", node)
        return Type.BOOL
    if function == "coalesce":
        if len(types) < 2:
            raise CheckError(Code.BAD_ARGUMENTS, "coalesce() needs at least two values", node)
        return _same_type(node.args, "coalesce()", node)
    raise CheckError(Code.UNKNOWN_FUNCTION, f"function {function!r} is not allowed", node)
