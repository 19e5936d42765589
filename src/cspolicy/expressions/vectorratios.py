"""Choosing among exact quotients in the vectorized evaluator: `min` / `max` / `abs` of a
quotient, and `x if c else y` / `coalesce` when a branch is one.

A quotient is an exact rational (`Vector.value` / `Vector.den`, the denominator positive; see
`cspolicy.expressions.vectorized`). A choice keeps it one: every candidate is written over a
common numerator scale and a common denominator scale (a plain value over 1), and the numerator
and the denominator are chosen by the same test. `min` / `max` compare candidates by
cross-multiplication, exactly, and keep the first of equal ones, as Python's `min` / `max` do.

The reference rounds each quotient to 28 digits before choosing, and rounding never reverses an
order (a ≤ b gives round(a) ≤ round(b)), so it chooses a value equal to the exact choice's
rounding; the bound on how far the reference's value can be from the exact one is the largest
of the candidates' (`err`), and a choice among single divisions stays a single rounding.
"""

from __future__ import annotations

import polars as pl

from cspolicy.expressions.nodes import Call, Conditional, Node
from cspolicy.expressions.vectorized import (
    Vector,
    _as_decimal,
    _bound,
    _exact_product,
    reached,
)


def _over_common_scales(parts: list[tuple[Node, Vector]]) -> tuple[list[pl.Expr], int, list[pl.Expr], int]:
    """Each candidate as (numerator, denominator) over one numerator scale and one denominator
    scale: the numerators, their scale, the denominators (1 for a plain value), their scale."""
    scale = max((v.scale or 0) for _, v in parts)
    den_scale = max((v.den_scale if v.den is not None else 0) for _, v in parts)
    numerators = [_as_decimal(n, v.value).cast(pl.Decimal(38, scale)) for n, v in parts]
    denominators = [
        (v.den if v.den is not None else pl.lit(1)).cast(pl.Decimal(38, den_scale)) for _, v in parts
    ]
    return numerators, scale, denominators, den_scale


def _error_bound(parts: list[tuple[Node, Vector]]) -> pl.Expr:
    return pl.max_horizontal([_bound(v) for _, v in parts])


def _rounds(parts: list[tuple[Node, Vector]]) -> int:
    return max(v.rounds if v.den is not None else 0 for _, v in parts) or 1


def extreme(node: Call, args: list[Vector]) -> Vector:
    """`min(...)` / `max(...)` where an argument is a quotient: None when any argument is."""
    parts = list(zip(node.args, args, strict=True))
    numerators, scale, denominators, den_scale = _over_common_scales(parts)
    number, den = numerators[0], denominators[0]
    for candidate, candidate_den in zip(numerators[1:], denominators[1:], strict=True):
        # the later candidate replaces the choice only when strictly smaller (larger): ties keep
        # the first, as Python's min / max do
        left = _exact_product(candidate, scale, den, den_scale)
        right = _exact_product(number, scale, candidate_den, den_scale)
        replaces = left < right if node.function == "min" else left > right
        number = pl.when(replaces).then(candidate).otherwise(number)
        den = pl.when(replaces).then(candidate_den).otherwise(den)
    unknown = pl.any_horizontal([n.is_null() for n in numerators])
    errors = [error for arg in args for error in arg.errors]
    return Vector(
        pl.when(unknown).then(None).otherwise(number),
        errors,
        scale,
        pl.when(unknown).then(None).otherwise(den),
        den_scale,
        _error_bound(parts),
        _rounds(parts),
    )


def absolute(arg: Vector) -> Vector:
    """`abs(q)` of a quotient: the numerator's absolute value (the denominator is positive)."""
    return Vector(arg.value.abs(), arg.errors, arg.scale, arg.den, arg.den_scale, arg.err, arg.rounds)


def conditional(node: Conditional, test: Vector, then: Vector, otherwise: Vector) -> Vector:
    """`then if test else otherwise` where a branch is a quotient (None when the test is)."""
    parts = [(node.then, then), (node.otherwise, otherwise)]
    numerators, scale, denominators, den_scale = _over_common_scales(parts)
    unknown, chosen = test.value.is_null(), test.value

    def choose(first: pl.Expr, second: pl.Expr) -> pl.Expr:
        return pl.when(unknown).then(None).when(chosen).then(first).otherwise(second)

    errors = [
        *test.errors,
        *reached(then.errors, test.value.fill_null(False)),
        *reached(otherwise.errors, ~test.value.fill_null(True)),
    ]
    return Vector(
        choose(*numerators),
        errors,
        scale,
        choose(*denominators),
        den_scale,
        choose(_bound(then), _bound(otherwise)),
        _rounds(parts),
    )


def first_set(node: Call, args: list[Vector]) -> Vector:
    """`coalesce(...)` where an argument is a quotient: the first that is set."""
    parts = list(zip(node.args, args, strict=True))
    numerators, scale, denominators, den_scale = _over_common_scales(parts)
    staged: list[tuple[pl.Expr, pl.Expr]] = []
    unset: pl.Expr | None = None  # rows where every earlier value is null
    number: pl.Expr = pl.lit(None, dtype=pl.Decimal(38, scale))
    den: pl.Expr = pl.lit(None, dtype=pl.Decimal(38, den_scale))
    bound: pl.Expr = pl.lit(0.0)
    for numerator, denominator, (_, arg) in reversed(list(zip(numerators, denominators, parts, strict=True))):
        is_set = numerator.is_not_null()
        number = pl.when(is_set).then(numerator).otherwise(number)
        den = pl.when(is_set).then(denominator).otherwise(den)
        bound = pl.when(is_set).then(_bound(arg)).otherwise(bound)
    for numerator, arg in zip(numerators, args, strict=True):
        staged += arg.errors if unset is None else reached(arg.errors, unset)
        unset = numerator.is_null() if unset is None else unset & numerator.is_null()
    return Vector(number, staged, scale, den, den_scale, bound, _rounds(parts))
