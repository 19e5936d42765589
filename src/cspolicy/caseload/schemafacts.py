"""The case schema's derived facts in the vectorized plan: compiled from their expressions.

Each fact becomes a column named by its path (`unpaid.total`), computed in dependency order, so
rules read it like a field; only the facts a policy reads (and those that can fail) are computed. A fact the vectorized compiler cannot reproduce exactly (or a quotient,
which the reference rounds to 28 digits) refuses the plan with its name and place in the schema
(`cspolicy check`: CSP409); nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import polars as pl

from cspolicy.caseload.tables import MONEY_SCALE, NUMBER_SCALE
from cspolicy.diagnostics import Location
from cspolicy.engine.caseschema import CaseSchema
from cspolicy.expressions import Type
from cspolicy.expressions.nodes import Name, Node
from cspolicy.expressions.vectorized import NotVectorizable, Vector, VectorCompiler


class Refused(NotVectorizable):
    """A policy the vectorized plan cannot take: which rule or derived value, why, and where."""

    def __init__(self, message: str, location: Location) -> None:
        super().__init__(message)
        self.location = location


def schema_facts(
    compiler: VectorCompiler, schema: CaseSchema, only: Iterable[str] | None = None
) -> list[tuple[str, Vector]]:
    """(path, vector) of the derived facts of `schema` (all, or those in `only`), in dependency
    order; Refused names one the plan cannot take."""
    facts: list[tuple[str, Vector]] = []
    chosen = None if only is None else set(only)
    for name, derived in schema.derived.items():
        if chosen is not None and name not in chosen:
            continue
        where = schema.source.derived[name].location
        what = f"derived fact {name!r} of case schema {schema.name} (`{derived.text}`)"
        try:
            vector = compiler.compile(derived.node)
        except NotVectorizable as exc:
            raise Refused(f"{what}: {exc}", where) from None
        if vector.den is not None:
            raise Refused(f"{what}: a quotient (the reference rounds it to 28 significant digits)", where)
        facts.append((name, _standard_scale(schema, name, vector, where)))
    return facts


def _standard_scale(schema: CaseSchema, name: str, vector: Vector, where: Location) -> Vector:
    """A money or number fact at the scale its readers assume for a field of its type (cents,
    6 decimals): widened exactly, or refused when it has more digits."""
    kind = schema.fields[name].type
    wanted = {Type.MONEY: MONEY_SCALE, Type.NUMBER: NUMBER_SCALE}.get(kind)
    if wanted is None:
        return vector
    if (vector.scale or 0) > wanted:
        raise Refused(
            f"derived fact {name!r} of case schema {schema.name}: {kind.article} value with more than"
            f" {wanted} decimals",
            where,
        )
    return replace(vector, value=vector.value.cast(pl.Decimal(38, wanted)), scale=wanted)


def needed(facts: list[tuple[str, Vector]], schema: CaseSchema, expressions: Iterable[Node]) -> list[str]:
    """The facts to compute for a policy whose rules and derived values are `expressions`: those
    they read, those that can fail (the reference computes every fact, so a failing one fails
    the case whether it is read or not), and what those read; in dependency order."""
    wanted = {
        n.path for node in expressions for n in node.walk() if isinstance(n, Name) and n.kind == "field"
    }
    wanted |= {name for name, vector in facts if vector.errors}
    pending = [name for name in wanted if name in schema.derived]
    while pending:
        for part in schema.derived[pending.pop()].node.walk():
            if isinstance(part, Name) and part.kind == "field" and part.path not in wanted:
                wanted.add(part.path)
                if part.path in schema.derived:
                    pending.append(part.path)
    return [name for name, _ in facts if name in wanted]


def fact_errors(facts: list[tuple[str, Vector]]) -> list[tuple[pl.Expr, pl.Expr]]:
    """A derived fact that fails (e.g. a date out of range) fails the case: the reference
    computes every fact before any rule."""
    errors: list[tuple[pl.Expr, pl.Expr]] = []
    for name, vector in facts:
        prefix = pl.lit(f"derived fact {name!r}: ")
        errors += [(condition, pl.format("{}{}", prefix, message)) for condition, message in vector.errors]
    return errors
