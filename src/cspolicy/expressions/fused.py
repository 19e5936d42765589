"""Fused closures for the commonest expression shapes: one call where the general form makes three.

Each gives exactly what `cspolicy.expressions.closures` gives for the same node (the same order
of reads, the same None, KeyError and short-circuit behaviour); they exist only for speed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cspolicy.expressions.nodes import Compare, Literal, Name

if TYPE_CHECKING:
    from cspolicy.expressions.closures import Context, Fn


def fused_compare(node: Compare, test: Callable[[Any, Any], bool]) -> Fn | None:
    """One closure for the commonest comparisons — a fact or derived value against a literal or
    a parameter — instead of three (same order of reads, same None and KeyError behaviour)."""
    left, right = node.left, node.right
    if not isinstance(left, Name) or left.kind not in ("field", "derived"):
        return None
    key = left.key
    if isinstance(right, Literal):
        value = right.value
        if value is None:
            return None
        if left.kind == "field":

            def fact_literal(c: Context) -> bool | None:
                a = c.facts[key]
                return None if a is None else test(a, value)

            return fact_literal

        def derived_literal(c: Context) -> bool | None:
            a = c.derive(key)
            return None if a is None else test(a, value)

        return derived_literal
    if isinstance(right, Name) and right.kind == "param":
        param = right.key
        if left.kind == "field":

            def fact_param(c: Context) -> bool | None:
                a = c.facts[key]
                if a is None:
                    return None
                b = c.params[param]
                return None if b is None else test(a, b)

            return fact_param

        def derived_param(c: Context) -> bool | None:
            a = c.derive(key)
            if a is None:
                return None
            b = c.params[param]
            return None if b is None else test(a, b)

        return derived_param
    return None


def and2(first: Fn, second: Fn) -> Fn:
    """`a and b` in three-valued logic, stopping at the first False (as the general form does)."""

    def conjunction(c: Context) -> bool | None:
        a = first(c)
        if a is False:
            return False
        b = second(c)
        if b is False:
            return False
        return None if a is None or b is None else True

    return conjunction


def or2(first: Fn, second: Fn) -> Fn:
    """`a or b` in three-valued logic, stopping at the first True (as the general form does)."""

    def disjunction(c: Context) -> bool | None:
        a = first(c)
        if a is True:
            return True
        b = second(c)
        if b is True:
            return True
        return None if a is None or b is None else False

    return disjunction
