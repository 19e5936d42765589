"""Compile the shared expression AST to polars expressions over a caseload table.

Every node becomes a `Vector`: the polars value (null where the reference gives None) and the
errors the node can raise, each a (condition, message) pair meaning "if this node is evaluated
for a row and the condition holds, the reference raises here". Parents combine their children's
errors under the conditions that make the reference evaluate them (`and`/`or` stop early, the
right side of a comparison is skipped when the left is None), so a division by zero counts only
where the reference actually reaches it.

Columns read: snapshot fields by dotted path, `params.NAME` (the value in force on each row's
as_of, null when none is), `derived.NAME` and `derived_error.NAME`, and `taken.CODE` (the last
date the action was taken). A keyed parameter (`params.NAME[key]`) reads no column: its dated
tables are given to the compiler and looked up per row, a key missing from the table in force
being a per-row error.

Numbers are Int64 (whole-number types) or polars Decimal (money, rates), so arithmetic and
comparisons are exact. A quotient is an exact rational (numerator, positive denominator) carried through
derived values, sums and products and compared by cross-multiplication (see "exact quotients"
below: rows within the reference's 28-digit rounding are rechecked by the reference, which only
exact ties after further arithmetic ever are); anything else the vectorized path cannot
reproduce exactly raises `NotVectorizable`, and the caller falls back to the reference
evaluator (`cspolicy check` names it: CSP409).

Conditions on list items (any_of, count_of, and the condition of max_of/min_of/sum_of) and the
aggregates are compiled by `cspolicy.expressions.listspace`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

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
from cspolicy.expressions.render import Renderer
from cspolicy.expressions.types import Type

MONEY_SCALE = 2  # money columns of a caseload are whole cents (cspolicy.caseload.tables.MONEY)
NUMBER_SCALE = 6  # number columns of a caseload have 6 decimals (cspolicy.caseload.tables.NUMBER)

WHOLE = pl.Decimal(38, 0)
UNITS = pl.Int128  # exact integers for list-space arithmetic (days, whole numbers, scaled amounts)
_EPOCH = dt.date(1970, 1, 1)
_FIRST_DAY = (dt.date.min - _EPOCH).days  # add_days() outside years 1..9999 is an error
_LAST_DAY = (dt.date.max - _EPOCH).days
# A keyed parameter's dated tables: (first day, first day no longer in force or None, table).
KeyedValues = Sequence[tuple[dt.date, dt.date | None, Mapping[str, Any]]]


class NotVectorizable(Exception):
    """An expression the vectorized evaluator cannot reproduce exactly (the reference is used)."""


@dataclass
class Vector:
    """A compiled node: its value per row, the errors evaluating it can raise, and for a Decimal
    value its scale (digits after the point), tracked so products stay exact."""

    value: pl.Expr
    errors: list[tuple[pl.Expr, pl.Expr]] = field(default_factory=list)
    scale: int | None = None
    # An exact quotient is a rational: `value` / `den` (den > 0, Decimal with `den_scale`
    # digits); `err` bounds, as a Float64 per row, how far the reference's 28-digit Decimal
    # value can be from the exact one; `rounds` is 1 for a single division of exact values,
    # 2 when a rounded quotient went through more arithmetic (see `rational_comparison`).
    den: pl.Expr | None = None
    den_scale: int = 0
    err: pl.Expr | None = None
    rounds: int = 0


def reached(errors: list[tuple[pl.Expr, pl.Expr]], when: pl.Expr) -> list[tuple[pl.Expr, pl.Expr]]:
    """The errors of a part that is evaluated only where `when` holds."""
    return [(when & condition, message) for condition, message in errors]


_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _compare(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
    if not left.meta.root_names() and right.meta.root_names():
        # A constant on the left is moved to the right: polars 2.1's in-memory engine leaves
        # `constant < when(...).then(constant).otherwise(column)` one row long when every row
        # takes the constant branch (dates, decimals, text, 128-bit integers), and the query fails.
        op, left, right = _MIRRORED[op], right, left
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

    def __init__(
        self,
        renderer: Renderer,
        param_scales: dict[str, int],
        keyed: Mapping[str, KeyedValues] | None = None,
    ) -> None:
        self.renderer = renderer
        self.param_scales = param_scales
        self.keyed = dict(keyed or {})
        self.derived_scales: dict[str, int | None] = {}
        # derived values that are quotients: (den_scale, rounds); their columns are
        # `derived.NAME` (numerator), `derived_den.NAME` and `derived_err.NAME`
        self.derived_ratios: dict[str, tuple[int, int]] = {}
        # rows whose exact answer may differ from the reference's 28-digit Decimal one (a
        # comparison within the rounding error of a quotient): decided by the reference instead
        self.rechecks: list[pl.Expr] = []
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
            return Vector(
                value, inner.errors, inner.scale, inner.den, inner.den_scale, inner.err, inner.rounds
            )
        if isinstance(node, Binary):
            left, right = self._node(node.left, item), self._node(node.right, item)
            if node.op == "/" or left.den is not None or right.den is not None:
                return rational_arithmetic(node, left, right, self.renderer)
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
        if isinstance(node, Aggregate):
            return self._aggregate(node, item)
        if isinstance(node, Conditional):
            from cspolicy.expressions.vectorchoices import conditional  # builds on this module

            return conditional(self, node, item)
        if isinstance(node, Missing):
            inner = self._node(node.operand, item)
            return Vector(inner.value.is_not_null() if node.negated else inner.value.is_null(), inner.errors)
        if isinstance(node, Lookup):
            from cspolicy.expressions.vectorchoices import lookup  # builds on this module

            return lookup(self, node, item)
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
            if node.key in self.derived_ratios:
                den_scale, rounds = self.derived_ratios[node.key]
                return Vector(
                    pl.col(f"derived.{node.key}"),
                    [(error.is_not_null(), error)],
                    scale,
                    den=pl.col(f"derived_den.{node.key}"),
                    den_scale=den_scale,
                    err=pl.col(f"derived_err.{node.key}"),
                    rounds=rounds,
                )
            return Vector(pl.col(f"derived.{node.key}"), [(error.is_not_null(), error)], scale)
        return Vector(pl.col(node.path), scale=_field_scale(node))

    def _comparison(self, node: Compare, item: bool) -> Vector:
        left, right = self._node(node.left, item), self._node(node.right, item)
        if left.den is not None or right.den is not None:  # a quotient: exact cross-multiplication
            vector, recheck = rational_comparison(node, left, right)
            if recheck is not None:
                if item:
                    raise NotVectorizable("a comparison of a computed quotient inside an item condition")
                self.rechecks.append(recheck)
            return vector
        a, b = left.value, right.value
        if node.left.type.numeric and node.right.type.numeric:
            a, b = _numeric_pair(node.left, a, node.right, b)
        errors = left.errors + reached(right.errors, a.is_not_null())
        return Vector(_compare(node.op, a, b), errors)

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
        from cspolicy.expressions.listspace import quantifier  # listspace builds on this module

        return quantifier(self, node)

    def _aggregate(self, node: Aggregate, item: bool) -> Vector:
        if item:
            raise NotVectorizable(f"{node.function}() inside an item condition")
        from cspolicy.expressions.listspace import aggregate  # listspace builds on this module

        return aggregate(self, node)

    def part(self, node: Node, item: bool) -> Vector:
        """The vector of a part of an expression, inside an item condition (`item`) or not."""
        return self._node(node, item)

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
        if any(arg.den is not None for arg in args):
            from cspolicy.expressions import vectorratios  # builds on this module

            if function in ("min", "max"):
                return vectorratios.extreme(node, args)
            if function == "abs":
                return vectorratios.absolute(args[0])
            if function == "coalesce":
                return vectorratios.first_set(node, args)
            raise NotVectorizable(f"{function}() of a quotient")
        if function in ("add_days", "same_month", "coalesce"):
            from cspolicy.expressions.vectorchoices import calendar  # builds on this module

            return calendar(self, node, args)
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


def _month_index(value: pl.Expr) -> pl.Expr:
    """year * 12 + month: equal for two dates exactly when they are in the same month."""
    return value.dt.year().cast(pl.Int64) * 12 + value.dt.month().cast(pl.Int64)


def _dtype(type_: Type, scale: int | None) -> pl.DataType:
    if type_ is Type.DATE:
        return pl.Date()
    if type_ is Type.INTEGER:
        return pl.Int64()
    if type_ is Type.BOOL:
        return pl.Boolean()
    if type_ is Type.STRING:
        return pl.String()
    return pl.Decimal(38, scale or 0)


def _scale(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _field_scale(node: Name) -> int | None:
    return MONEY_SCALE if node.type is Type.MONEY else NUMBER_SCALE if node.type is Type.NUMBER else None


def _exact_product(a: pl.Expr, scale_a: int, b: pl.Expr, scale_b: int) -> pl.Expr:
    """a * b with every digit kept: polars gives a product the larger operand scale, so widen one
    operand to the sum of the scales first."""
    # A whole-number operand (scale 0) needs no widening: the product already has the other's
    # scale, and polars multiplies without rescaling (an i128 division per row, about 15x the
    # cost) only when one side has scale 0.
    if scale_a == 0:
        return a.cast(WHOLE) * b
    if scale_b == 0:
        return a * b.cast(WHOLE)
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


# -- exact quotients -----------------------------------------------------------------------------
# The reference divides with Python's Decimal: 28 significant digits, half-even, and rounds every
# later sum or product to 28 digits too. A quotient here is the exact rational numerator /
# denominator (denominator > 0), and a comparison cross-multiplies: `n1 * d2 OP n2 * d1`, all in
# Decimal, exact. That equals the reference's answer except where the reference's rounding could
# move a value across (or onto, or off) the other side. `err` bounds that rounding per row (first
# order, with a margin: each rounding is at most 5e-28 of its result, counted as 1e-26); rows
# whose exact gap is within twice the bound are `rechecks`, decided by the reference evaluator
# (the batch's mode is then `mixed`). A tie (gap 0) of single divisions of exact values is exact
# in the reference too (a quotient equal to a value of at most 28 digits is computed exactly), so
# `a / b >= 3` on 1050.30 / 350.10 needs no recheck. With caseload amounts (whole cents below
# 1e12) the band of a single division is far below the smallest non-zero gap, so only exact ties
# of quotients that went through more arithmetic are ever rechecked.
_ROUNDING = 1e-26


def _ratio(node: Node, vector: Vector) -> tuple[pl.Expr, int, pl.Expr | None, int]:
    """(numerator, its scale, denominator or None for 1, its scale) of a numeric vector."""
    return _as_decimal(node, vector.value), vector.scale or 0, vector.den, vector.den_scale


def _approx(vector: Vector) -> pl.Expr:
    """The value as Float64: for rounding bounds only, never for a decision."""
    value = vector.value.cast(pl.Float64)
    return value if vector.den is None else value / vector.den.cast(pl.Float64)


def _bound(vector: Vector) -> pl.Expr:
    return vector.err if vector.err is not None else pl.lit(0.0, dtype=pl.Float64)


def _times(a: pl.Expr, scale_a: int, b: pl.Expr | None, scale_b: int) -> tuple[pl.Expr, int]:
    """a * b exactly (b None is 1), with the product's scale."""
    if b is None:
        return a, scale_a
    return _exact_product(a, scale_a, b, scale_b), scale_a + scale_b


def _denominator(d1: pl.Expr | None, t1: int, d2: pl.Expr | None, t2: int) -> tuple[pl.Expr | None, int]:
    if d1 is None:
        return d2, t2
    if d2 is None:
        return d1, t1
    return _exact_product(d1, t1, d2, t2), t1 + t2


def rational_arithmetic(node: Binary, left: Vector, right: Vector, renderer: Renderer) -> Vector:
    """`left OP right` where OP is `/` or an operand is already a quotient: an exact rational."""
    n1, s1, d1, t1 = _ratio(node.left, left)
    n2, s2, d2, t2 = _ratio(node.right, right)
    errors = left.errors + right.errors  # the reference evaluates both sides, then divides
    x, y = _approx(left), _approx(right)
    ex, ey = _bound(left), _bound(right)
    if node.op == "/":
        num, ns = _times(n1, s1, d2, t2)
        den, ds = _times(n2, s2, d1, t1)
        num = pl.when(den < 0).then(-num).otherwise(num)
        known = n1.is_not_null() & n2.is_not_null()
        divisor = renderer.render(node.right)
        errors.append((known & (n2 == 0), pl.lit(f"division by zero ({divisor} is 0)")))
        quotient = (x / y).abs()
        margin = y.abs() - ey
        err = (
            pl.when(margin > 0).then((ex + quotient * ey) / margin).otherwise(float("inf"))
            + _ROUNDING * quotient
        )
        rounds = 1 if left.err is None and right.err is None else 2
        return Vector(num, errors, ns, den.abs(), ds, err, rounds)
    den_, ds = _denominator(d1, t1, d2, t2)
    assert den_ is not None
    if node.op == "*":
        num, ns = _exact_product(n1, s1, n2, s2), s1 + s2
        err = x.abs() * ey + y.abs() * ex + ex * ey + _ROUNDING * (x * y).abs()
    else:  # n1 * d2 ± n2 * d1 over d1 * d2
        a, sa = _times(n1, s1, d2, t2)
        b, sb = _times(n2, s2, d1, t1)
        num, ns = (a + b if node.op == "+" else a - b), max(sa, sb)
        err = ex + ey + _ROUNDING * (x + y if node.op == "+" else x - y).abs()
    return Vector(num, errors, ns, den_, ds, err, 2)


def rational_comparison(node: Compare, left: Vector, right: Vector) -> tuple[Vector, pl.Expr]:
    """`left OP right` with a quotient on either side, cross-multiplied (denominators are
    positive); and the rows to recheck with the reference (see `_ROUNDING`)."""
    n1, s1, d1, t1 = _ratio(node.left, left)
    n2, s2, d2, t2 = _ratio(node.right, right)
    a, _ = _times(n1, s1, d2, t2)
    b, _ = _times(n2, s2, d1, t1)
    errors = left.errors + reached(right.errors, left.value.is_not_null())
    den, _ = _denominator(d1, t1, d2, t2)
    assert den is not None
    gap = (a - b).abs().cast(pl.Float64) / den.cast(pl.Float64)
    near = gap <= 2 * (_bound(left) + _bound(right))
    if max(left.rounds, right.rounds) <= 1:
        near = near & (a != b)
    return Vector(_compare(node.op, a, b), errors), near.fill_null(False)
