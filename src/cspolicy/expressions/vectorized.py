"""Compile the shared expression AST to polars expressions over a caseload table.

Every node becomes a `Vector`: the polars value (null where the reference gives None) and the
errors the node can raise, each a (condition, message) pair meaning "if this node is evaluated
for a row and the condition holds, the reference raises here". Parents combine their children's
errors under the conditions that make the reference evaluate them (`and`/`or` stop early, the
right side of a comparison is skipped when the left is None), so a division by zero counts only
where the reference actually reaches it.

Columns read: snapshot fields by dotted path, `params.NAME` (the value in force on each row's
as_of, null when none is), `derived.NAME` and `derived_error.NAME`, and `taken.CODE` (the last
date the action was taken). Numbers are Int64 (whole-number types) or polars Decimal (money,
rates), so arithmetic and comparisons are exact. A division is compiled only where its quotient
is compared (`a / b >= k` becomes `a >= k * b`, flipped when b < 0), which agrees with the
reference's 28-digit Decimal quotient for every amount a snapshot can hold; anything else the
vectorized path cannot reproduce exactly raises `NotVectorizable`, and the caller falls back to
the reference evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

from cspolicy.expressions.nodes import (
    Binary,
    BoolOp,
    Call,
    Compare,
    Literal,
    Membership,
    Name,
    Node,
    Quantifier,
    Unary,
)
from cspolicy.expressions.render import Renderer
from cspolicy.expressions.types import Type

MONEY_SCALE = 2  # money columns of a caseload are whole cents (cspolicy.caseload.tables.MONEY)

WHOLE = pl.Decimal(38, 0)
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class NotVectorizable(Exception):
    """An expression the vectorized evaluator cannot reproduce exactly (the reference is used)."""


@dataclass
class Vector:
    """A compiled node: its value per row, the errors evaluating it can raise, and for a Decimal
    value its scale (digits after the point), tracked so products stay exact."""

    value: pl.Expr
    errors: list[tuple[pl.Expr, pl.Expr]] = field(default_factory=list)
    scale: int | None = None


def reached(errors: list[tuple[pl.Expr, pl.Expr]], when: pl.Expr) -> list[tuple[pl.Expr, pl.Expr]]:
    """The errors of a part that is evaluated only where `when` holds."""
    return [(when & condition, message) for condition, message in errors]


def _compare(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "==":
        return left == right
    return left != right


class VectorCompiler:
    """Compiles AST nodes of one policy to polars; `renderer` names divisors in error messages."""

    def __init__(self, renderer: Renderer, param_scales: dict[str, int]) -> None:
        self.renderer = renderer
        self.param_scales = param_scales
        self.derived_scales: dict[str, int | None] = {}
        self.taken_codes: set[str] = set()

    def compile(self, node: Node) -> Vector:
        """The vector of `node` (top level: no list item in scope)."""
        return self._node(node, item=False)

    def _node(self, node: Node, item: bool) -> Vector:
        if isinstance(node, Literal):
            return Vector(
                _literal(node), scale=_scale(node.value) if isinstance(node.value, Decimal) else None
            )
        if isinstance(node, Name):
            return self._name(node, item)
        if isinstance(node, Unary):
            inner = self._node(node.operand, item)
            value = ~inner.value if node.op == "not" else -inner.value
            return Vector(value, inner.errors, inner.scale)
        if isinstance(node, Binary):
            if node.op == "/":
                raise NotVectorizable("a division whose quotient is not compared directly")
            left, right = self._node(node.left, item), self._node(node.right, item)
            return _arithmetic(node, left, right)
        if isinstance(node, Compare):
            return self._comparison(node, item)
        if isinstance(node, Membership):
            inner = self._node(node.operand, item)
            test = inner.value.is_in(list(node.values))
            if node.negated:
                test = ~test
            value = pl.when(inner.value.is_null()).then(pl.lit(None, dtype=pl.Boolean)).otherwise(test)
            return Vector(value, inner.errors)
        if isinstance(node, BoolOp):
            return self._boolean(node, item)
        if isinstance(node, Quantifier):
            return self._quantifier(node, item)
        if isinstance(node, Call):
            return self._call(node, item)
        raise NotVectorizable(f"cannot vectorize {type(node).__name__}")

    def _name(self, node: Name, item: bool) -> Vector:
        if node.kind == "item":
            if not item:
                raise NotVectorizable("an item field outside any_of/count_of")
            return Vector(pl.element().struct.field(node.key), scale=_field_scale(node))
        if item:
            raise NotVectorizable("an any_of/count_of condition that reads more than the item")
        if node.kind == "param":
            value = pl.col(f"params.{node.key}")
            message = pl.format(
                "parameter {} has no value in force on {}", pl.lit(repr(node.key)), pl.col("as_of")
            )
            return Vector(value, [(value.is_null(), message)], self.param_scales.get(node.key))
        if node.kind == "derived":
            error = pl.col(f"derived_error.{node.key}")
            scale = self.derived_scales.get(node.key)
            return Vector(pl.col(f"derived.{node.key}"), [(error.is_not_null(), error)], scale)
        return Vector(pl.col(node.path), scale=_field_scale(node))

    def _comparison(self, node: Compare, item: bool) -> Vector:
        if _is_division(node.left) or _is_division(node.right):
            return self._quotient_comparison(node, item)
        left, right = self._node(node.left, item), self._node(node.right, item)
        a, b = left.value, right.value
        if node.left.type.numeric and node.right.type.numeric:
            a, b = _numeric_pair(node.left, a, node.right, b)
        errors = left.errors + reached(right.errors, a.is_not_null())
        return Vector(_compare(node.op, a, b), errors)

    def _quotient_comparison(self, node: Compare, item: bool) -> Vector:
        """`a / b OP c` as `a OP c * b` (flipped when b < 0); `c OP a / b` mirrored."""
        op = node.op
        quotient, other = node.left, node.right
        if not _is_division(quotient):
            quotient, other, op = node.right, node.left, _FLIP[op]
        assert isinstance(quotient, Binary)
        if _is_division(other):
            raise NotVectorizable("a comparison of two quotients")
        top, bottom = self._node(quotient.left, item), self._node(quotient.right, item)
        rest = self._node(other, item)
        a, b, c = (
            _as_decimal(n, v)
            for n, v in ((quotient.left, top.value), (quotient.right, bottom.value), (other, rest.value))
        )
        known = a.is_not_null() & b.is_not_null()
        divisor = self.renderer.render(quotient.right)
        zero = (known & (b == 0), pl.lit(f"division by zero ({divisor} is 0)"))
        scaled = _exact_product(c, rest.scale or 0, b, bottom.scale or 0)
        value = (
            pl.when(~known | c.is_null())
            .then(pl.lit(None, dtype=pl.Boolean))
            .when(b > 0)
            .then(_compare(op, a, scaled))
            .otherwise(_compare(_FLIP[op], a, scaled))
        )
        if quotient is node.left:
            errors = [*top.errors, *bottom.errors, zero, *reached(rest.errors, known & (b != 0))]
        else:  # the other side is evaluated first; the quotient only when it is not None
            errors = [*rest.errors, *reached([*top.errors, *bottom.errors, zero], c.is_not_null())]
        return Vector(value, errors)

    def _boolean(self, node: BoolOp, item: bool) -> Vector:
        parts = [self._node(operand, item) for operand in node.operands]
        errors: list[tuple[pl.Expr, pl.Expr]] = []
        going: pl.Expr | None = None  # the rows where evaluation has not stopped yet
        value: pl.Expr | None = None
        for part in parts:
            errors += part.errors if going is None else reached(part.errors, going)
            if node.op == "and":
                value = part.value if value is None else value & part.value
                more = part.value.fill_null(True)
            else:
                value = part.value if value is None else value | part.value
                more = ~part.value.fill_null(False)
            going = more if going is None else going & more
        assert value is not None
        return Vector(value, errors)

    def _quantifier(self, node: Quantifier, item: bool) -> Vector:
        if item:
            raise NotVectorizable("nested any_of/count_of")
        predicate = self._node(node.predicate, item=True)
        if predicate.errors:
            raise NotVectorizable("an any_of/count_of condition that can fail")
        hits = pl.col(node.collection.path).list.eval(predicate.value.fill_null(False))
        if node.function == "any_of":
            return Vector(hits.list.any())
        return Vector(hits.list.eval(pl.element().cast(pl.Int64)).list.sum().cast(pl.Int64))

    def _call(self, node: Call, item: bool) -> Vector:
        function = node.function
        if function in ("taken", "days_since_taken"):
            if item:
                raise NotVectorizable("taken() inside any_of/count_of")
            first = node.args[0]
            assert isinstance(first, Literal)
            code = str(first.value)
            self.taken_codes.add(code)
            last = pl.col(f"taken.{code}")
            if function == "taken":
                return Vector(last.is_not_null())
            return Vector((pl.col("as_of") - last).dt.total_days().cast(pl.Int64))
        args = [self._node(arg, item) for arg in node.args]
        errors = [error for arg in args for error in arg.errors]
        if function in ("min", "max"):
            values = [arg.value for arg in args]
            scale = None
            if node.type.numeric and node.type is not Type.INTEGER:
                scale = max(arg.scale or 0 for arg in args)
                values = [
                    _as_decimal(n, v).cast(pl.Decimal(38, scale))
                    for n, v in zip(node.args, values, strict=True)
                ]
            pick = pl.min_horizontal(values) if function == "min" else pl.max_horizontal(values)
            unknown = pl.any_horizontal([v.is_null() for v in values])
            return Vector(pl.when(unknown).then(None).otherwise(pick), errors, scale)
        if function == "abs":
            return Vector(args[0].value.abs(), errors, args[0].scale)
        if item:
            raise NotVectorizable(f"{function}() inside any_of/count_of")
        if function == "days_between":
            start, end = args[0].value, args[1].value
            return Vector((end - start).dt.total_days().cast(pl.Int64), errors)
        if function == "days_since":
            return Vector((pl.col("as_of") - args[0].value).dt.total_days().cast(pl.Int64), errors)
        raise NotVectorizable(f"function {function}")


def _scale(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _field_scale(node: Name) -> int | None:
    return MONEY_SCALE if node.type is Type.MONEY else None


def _exact_product(a: pl.Expr, scale_a: int, b: pl.Expr, scale_b: int) -> pl.Expr:
    """a * b with every digit kept: polars gives a product the larger operand scale, so widen one
    operand to the sum of the scales first."""
    return a.cast(pl.Decimal(38, scale_a + scale_b)) * b


def _arithmetic(node: Binary, left: Vector, right: Vector) -> Vector:
    errors = left.errors + right.errors
    if node.left.type is Type.INTEGER and node.right.type is Type.INTEGER:
        a, b = left.value, right.value
        value = a + b if node.op == "+" else a - b if node.op == "-" else a * b
        return Vector(value, errors)
    a, b = _as_decimal(node.left, left.value), _as_decimal(node.right, right.value)
    scale_a, scale_b = left.scale or 0, right.scale or 0
    if node.op == "*":
        return Vector(_exact_product(a, scale_a, b, scale_b), errors, scale_a + scale_b)
    return Vector(a + b if node.op == "+" else a - b, errors, max(scale_a, scale_b))


def _is_division(node: Node) -> bool:
    return isinstance(node, Binary) and node.op == "/"


def _literal(node: Literal) -> pl.Expr:
    value = node.value
    if value is None:
        return pl.lit(None)
    if isinstance(value, bool):
        return pl.lit(value, dtype=pl.Boolean)
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        scale = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return pl.lit(value, dtype=pl.Decimal(38, scale))
    if isinstance(value, int):
        return pl.lit(value, dtype=pl.Int64)
    return pl.lit(value)


def _as_decimal(node: Node, value: pl.Expr) -> pl.Expr:
    return value.cast(WHOLE) if node.type is Type.INTEGER else value


def _numeric_pair(left: Node, a: pl.Expr, right: Node, b: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Both sides as Int64 when both are whole numbers, otherwise both as Decimal."""
    if left.type is Type.INTEGER and right.type is Type.INTEGER:
        return a, b
    return _as_decimal(left, a), _as_decimal(right, b)
