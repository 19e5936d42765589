"""Choosing a value in the vectorized evaluator: `x if c else y`, `coalesce`, the calendar
functions `add_days` / `same_month`, and keyed parameters (`params.NAME[key]`).

Each follows the reference's evaluation order for errors: only the branch chosen is evaluated, and
coalesce stops at the first value that is set. A keyed parameter reads no column: its dated
tables are given to the compiler and looked up per row (`replace_strict`); a key missing from
the table in force is a per-row error naming the parameter and the key, as the reference raises.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl

from cspolicy.expressions.nodes import Call, Conditional, Lookup, Node
from cspolicy.expressions.types import Type
from cspolicy.expressions.vectorized import (
    _FIRST_DAY,
    _LAST_DAY,
    UNITS,
    NotVectorizable,
    Vector,
    VectorCompiler,
    _dtype,
    _month_index,
    _scale,
    reached,
)


def conditional(compiler: VectorCompiler, node: Conditional, item: bool) -> Vector:
    test = compiler.part(node.test, item)
    then, otherwise = compiler.part(node.then, item), compiler.part(node.otherwise, item)
    if then.den is not None or otherwise.den is not None:
        from cspolicy.expressions import vectorratios  # a branch is an exact quotient

        return vectorratios.conditional(node, test, then, otherwise)
    values, scale = _aligned(node, [(node.then, then), (node.otherwise, otherwise)])
    value = (
        pl.when(test.value.is_null())
        .then(pl.lit(None, dtype=_dtype(node.type, scale)))
        .when(test.value)
        .then(values[0])
        .otherwise(values[1])
    )
    errors = [
        *test.errors,
        *reached(then.errors, test.value.fill_null(False)),
        *reached(otherwise.errors, ~test.value.fill_null(True)),
    ]
    return Vector(value, errors, scale)


def _aligned(node: Node, parts: list[tuple[Node, Vector]]) -> tuple[list[pl.Expr], int | None]:
    """The values of the branches of `node` (conditional, coalesce) as one polars type."""
    scale = None
    if node.type in (Type.MONEY, Type.NUMBER):
        scales = [v.scale for n, v in parts if n.type not in (Type.INTEGER, Type.NULL)]
        if any(s is None for s in scales):
            raise NotVectorizable("a choice between numbers of unknown precision")
        scale = max([s or 0 for s in scales], default=0)
    if any(v.den is not None for _, v in parts):
        raise NotVectorizable("a choice between values one of which is a quotient")
    dtype = _dtype(node.type, scale)
    return [v.value.cast(dtype) for _, v in parts], scale


def lookup(compiler: VectorCompiler, node: Lookup, item: bool) -> Vector:
    """`params.NAME[key]`: the table in force on each row's as_of, looked up by the key."""
    name = node.param.key
    if item or name not in compiler.keyed:
        raise NotVectorizable("a keyed parameter inside an item condition or without its tables")
    key = compiler.part(node.key, item)
    tables = compiler.keyed[name]
    scale = None
    if node.type in (Type.MONEY, Type.NUMBER):
        scale = max((_scale(Decimal(v)) for _, _, table in tables for v in table.values()), default=0)
    dtype = _dtype(node.type, scale)
    value: Any = None
    missing: Any = None
    in_force: pl.Expr = pl.lit(False)
    for start, end, table in tables:
        inside = pl.col("as_of") >= start
        if end is not None:
            inside = inside & (pl.col("as_of") < end)
        in_force = in_force | inside
        keys = list(table)
        found = (
            key.value.replace_strict(keys, [table[k] for k in keys], default=None, return_dtype=dtype)
            if keys
            else pl.lit(None, dtype=dtype)
        )
        absent = key.value.is_not_null() & ~key.value.is_in(keys) if keys else key.value.is_not_null()
        value = pl.when(inside).then(found) if value is None else value.when(inside).then(found)
        missing = pl.when(inside).then(absent) if missing is None else missing.when(inside).then(absent)
    no_value = (
        ~in_force,
        pl.format("parameter {} has no value in force on {}", pl.lit(repr(name)), pl.col("as_of")),
    )
    if value is None:
        return Vector(pl.lit(None, dtype=dtype), [no_value], scale)
    missing_key = (
        in_force & missing.otherwise(False),
        pl.format(
            "parameter {} has no entry for '{}'",
            pl.lit(repr(name)),
            key.value.cast(pl.String),
        ),
    )
    errors = [no_value, *reached(key.errors, in_force), missing_key]
    return Vector(value.otherwise(None), errors, scale)


def calendar(compiler: VectorCompiler, node: Call, args: list[Vector]) -> Vector:
    """add_days, same_month, coalesce (item-safe: they read nothing but their arguments)."""
    function = node.function
    errors = [error for arg in args for error in arg.errors]
    if function == "add_days":
        day = args[0].value.cast(pl.Int32).cast(UNITS) + args[1].value.cast(UNITS)
        outside = day.is_not_null() & ((day < _FIRST_DAY) | (day > _LAST_DAY))
        message = pl.lit("add_days(): the date is outside the calendar (years 1 to 9999)")
        value = pl.when(outside).then(None).otherwise(day).cast(pl.Int32).cast(pl.Date)
        return Vector(value, [*errors, (outside, message)])
    if function == "same_month":
        first, second = (_month_index(arg.value) for arg in args)
        return Vector(first == second, errors)
    if function == "coalesce":
        values, scale = _aligned(node, list(zip(node.args, args, strict=True)))
        staged: list[tuple[pl.Expr, pl.Expr]] = []
        unset: pl.Expr | None = None  # rows where every earlier value is null
        for value, arg in zip(values, args, strict=True):
            staged += arg.errors if unset is None else reached(arg.errors, unset)
            unset = value.is_null() if unset is None else unset & value.is_null()
        return Vector(pl.coalesce(values), staged, scale)
    raise NotVectorizable(f"function {function}")
