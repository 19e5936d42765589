"""List space: conditions on list items and aggregates over them, for the vectorized evaluator.

`any_of` / `count_of` and the condition of `max_of` / `min_of` / `sum_of` are evaluated per
item: inside `list.eval` when the condition reads only the item; one that also reads the case
(`date <= as_of`) is compiled in "list space": each comparison becomes an exact integer
difference (days, whole numbers, or amounts in units of their smallest digit, Int128) between
the item values and the case value broadcast over the list, and `and` / `or` / `not` combine
per-item truth values 0 (no) / 1 (unknown) / 2 (yes) by min / max / 2 - x, as Kleene logic does.
A case value that can fail (a parameter with no value in force, a derived value that divides by
zero) is accepted when the condition is one comparison of an item value with it: its errors are
placed where the reference meets them, at the first item compared. A part the list space cannot
reproduce exactly (text compared with a case value, a value that can fail anywhere else) raises
`NotVectorizable`.

An aggregate turns the item field into exact integers too, adds 0 where the item counts and null
where it does not, and reduces the list with nulls skipped (a sum over no item is 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from cspolicy.expressions.nodes import Aggregate, BoolOp, Call, Compare, Lookup, Name, Node, Quantifier, Unary
from cspolicy.expressions.types import Type
from cspolicy.expressions.vectorized import (
    UNITS,
    WHOLE,
    NotVectorizable,
    Vector,
    VectorCompiler,
    _compare,
    _field_scale,
    _month_index,
)

MAX_UNIT_SCALE = 6  # amounts below 1e30 with at most 6 decimals fit Int128
DAYS = pl.Int64  # day numbers (and month indexes): differences of dates never near 64 bits
_CODES = pl.Int64  # truth codes 0 / 1 / 2 and their products (2**n for n parts)


def quantifier(compiler: VectorCompiler, node: Quantifier) -> Vector:
    """`any_of` / `count_of` over the list column."""
    return _ListSpace(compiler).quantifier(node)


def aggregate(compiler: VectorCompiler, node: Aggregate) -> Vector:
    """`max_of` / `min_of` / `sum_of` over the list column."""
    return _ListSpace(compiler).aggregate(node)


class _ListSpace:
    def __init__(self, compiler: VectorCompiler) -> None:
        self.compiler = compiler
        # Errors of a case value the item condition compares with (a parameter with no value in
        # force, a derived value that divides by zero), when the condition is one comparison of
        # an item value with it: the reference meets the error at the first item it compares.
        self.tolerated = False
        self.caught: list[tuple[pl.Expr, pl.Expr]] = []

    def _reached_errors(
        self, path: str, predicate: Node, field: str | None = None
    ) -> list[tuple[pl.Expr, pl.Expr]]:
        """The caught errors, where the reference reaches them: some item (with a value in
        `field`, which an aggregate checks first) gets as far as reading the case value — every
        item when the case value is the comparison's left side, else the items whose left side
        has a value (a comparison with a missing left side reads no further)."""
        if not self.caught:
            return []
        assert isinstance(predicate, Compare)
        compared: pl.Expr = pl.lit(True)
        if _reads_item(predicate.left):
            compared = self.compiler.part(predicate.left, item=True).value.is_not_null()
        if field is not None:
            compared = compared & pl.element().struct.field(field).is_not_null()
        reaches = pl.col(path).list.eval(compared).list.any().fill_null(False)
        return [(reaches & condition, message) for condition, message in self.caught]

    def _tolerating(self, predicate: Node | None) -> bool:
        """Whether the condition is one comparison of an item value with a case value that can
        fail (the errors are then caught and placed by `_reached_errors`)."""
        if not isinstance(predicate, Compare):
            return False
        sides = [predicate.left, predicate.right]
        item_sides = [side for side in sides if _reads_item(side)]
        return len(item_sides) == 1 and not _reads_case(item_sides[0])

    def quantifier(self, node: Quantifier) -> Vector:
        path = node.collection.path
        self.tolerated = self._tolerating(node.predicate)
        lane = self._lane(path, node.predicate)
        self.tolerated = False
        errors = self._reached_errors(path, node.predicate)

        def counted(truth: pl.Expr) -> pl.Expr:  # unknown counts as no; 0/1 to count
            known = truth.fill_null(False)
            return known.cast(pl.Int64) if node.function == "count_of" else known

        if lane.kind == "element":  # one pass over the items
            hits = _as_list(path, counted(lane.value))
        else:
            hits = self._mask_of(path, lane).list.eval(counted(pl.element()))
        if node.function == "any_of":
            return Vector(hits.list.any().fill_null(False), errors)
        return Vector(hits.list.sum().cast(pl.Int64).fill_null(0), errors)

    def aggregate(self, node: Aggregate) -> Vector:
        """max_of/min_of/sum_of: the item values in exact units, null where the item does not
        count (its condition is not true), reduced with nulls skipped; converted back."""
        path = node.collection.path
        type_ = node.field.type
        scale = 0 if type_ in (Type.DATE, Type.INTEGER) else _field_scale(node.field)
        if scale is None:
            raise NotVectorizable(f"{node.function}() of a number of unknown precision")
        item_units = _units(pl.element().struct.field(node.field.key), type_, scale)
        self.tolerated = self._tolerating(node.predicate)
        lane = None if node.predicate is None else self._lane(path, node.predicate)
        self.tolerated = False
        errors = [] if node.predicate is None else self._reached_errors(path, node.predicate, node.field.key)
        if lane is None or lane.kind == "element":
            # only the items that count (condition true), then their values, nulls as 0 for a
            # sum (skipped either way): a `when` inside list.eval ran 3-4x slower than
            # filtering the list first, and polars sums lists with nulls slowly
            items = pl.col(path) if lane is None else pl.col(path).list.filter(lane.value.fill_null(False))
            if node.function == "sum_of":
                total = items.list.eval(item_units.fill_null(0)).list.sum().fill_null(0)
            else:
                units = items.list.eval(item_units)
                total = units.list.max() if node.function == "max_of" else units.list.min()
        else:
            units = pl.col(path).list.eval(item_units)
            mask = self._mask_of(path, lane)
            units = units + mask.list.eval(pl.when(pl.element()).then(pl.lit(0, dtype=units_of(type_))))
            if node.function == "sum_of":  # nulls as 0 first: polars' list.sum is slow on lists with nulls
                total = units.list.eval(pl.element().fill_null(0)).list.sum().fill_null(0)
            elif node.function == "max_of":
                total = units.list.max()
            else:
                total = units.list.min()
        return Vector(
            _from_units(total, type_, scale),
            errors,
            scale=None if type_ in (Type.DATE, Type.INTEGER) else scale,
        )

    # -- item conditions ----------------------------------------------------------------------
    def _mask(self, path: str, predicate: Node) -> pl.Expr:
        """The truth of an item condition for every item of the list at `path` (list of bool)."""
        return self._mask_of(path, self._lane(path, predicate))

    def _mask_of(self, path: str, lane: _Lane) -> pl.Expr:
        if lane.kind == "scalar":  # reads no item field: the same truth for every item
            return _from_truth(_zeros(path) + _truth_code(lane.value))
        return _as_list(path, lane.value) if lane.kind == "element" else lane.value

    def _lane(self, path: str, node: Node) -> _Lane:
        reads_item = any(isinstance(n, Name) and n.kind == "item" for n in node.walk())
        if not reads_item:
            vector = self.compiler.part(node, item=False)
            if vector.den is not None or (vector.errors and not self.tolerated):
                raise NotVectorizable(
                    "an item condition reading a value that can fail (a parameter, a derived value)"
                    " other than in one comparison with an item value"
                )
            self.caught += vector.errors
            return _Lane("scalar", vector.value, vector.scale)
        if not _reads_case(node):
            vector = self.compiler.part(node, item=True)
            if vector.errors:
                raise NotVectorizable("an item condition that can fail")
            return _Lane("element", vector.value, vector.scale)
        if isinstance(node, Compare):
            return self._lane_compare(path, node.op, node.left, node.right)
        if isinstance(node, Unary) and node.op == "not":
            inner = self._lane_truth(path, node.operand)
            return _Lane("list", _from_truth(pl.lit(2, dtype=_CODES) - inner))
        if isinstance(node, BoolOp):
            # Kleene `and` of codes 0 / 1 / 2 by one product: 0 when a part is false, 2**n when
            # all are true, unknown otherwise; `or` is `not (not a and not b ...)` (not x = 2 - x).
            # Each part is read once (a pairwise min/max would read the running result twice
            # per step, doubling the work with every part).
            parts = [self._lane_truth(path, operand) for operand in node.operands]
            if node.op == "or":
                parts = [pl.lit(2, dtype=_CODES) - part for part in parts]
            product = parts[0]
            for part in parts[1:]:
                product = product * part
            yes, no = (2 ** len(parts), 0) if node.op == "and" else (0, 2 ** len(parts))
            return _Lane(
                "list",
                product.list.eval(
                    pl.when(pl.element() == yes).then(True).when(pl.element() == no).then(False)
                ),
            )
        if isinstance(node, Call) and node.function in ("days_between", "days_since"):
            # a number of days per item: the later date's day number minus the earlier one's
            if node.function == "days_since":
                start, end = self._lane(path, node.args[0]), _Lane("scalar", pl.col("as_of"))
            else:
                start, end = (self._lane(path, arg) for arg in node.args)
            days = [_Lane(lane.kind, _units(lane.value, Type.DATE, 0)) for lane in (end, start)]
            return _Lane("list", _listed(path, days[0]) - _listed(path, days[1]), 0)
        if isinstance(node, Call) and node.function == "same_month":
            first, second = (self._lane(path, arg) for arg in node.args)
            if "list" in (first.kind, second.kind):
                raise NotVectorizable("same_month() of a computed list")
            months = [_Lane(lane.kind, _month_index(lane.value)) for lane in (first, second)]
            return self._lane_difference(path, "==", months[0], months[1])
        raise NotVectorizable(
            f"{type(node).__name__} mixing item fields and case values in an item condition"
        )

    def _lane_truth(self, path: str, node: Node) -> pl.Expr:
        """A yes/no part as a list of 0 (no) / 1 (unknown) / 2 (yes), one per item."""
        lane = self._lane(path, node)
        if lane.kind == "scalar":
            return _zeros(path) + _truth_code(lane.value)
        if lane.kind == "element":
            return _as_list(path, _truth_code(lane.value))
        return lane.value.list.eval(_truth_code(pl.element()))

    def _lane_compare(self, path: str, op: str, left: Node, right: Node) -> _Lane:
        a, b = self._lane(path, left), self._lane(path, right)
        if left.type is Type.DATE and right.type is Type.DATE:
            scale = 0
        elif left.type.numeric and right.type.numeric:
            scales = [0 if n.type is Type.INTEGER else lane.scale for n, lane in ((left, a), (right, b))]
            if any(s is None for s in scales) or max(s or 0 for s in scales) > MAX_UNIT_SCALE:
                raise NotVectorizable("an item comparison of numbers of unknown precision")
            scale = max(s or 0 for s in scales)
        else:
            raise NotVectorizable("an item comparison of text or yes/no with a case value")
        if "list" in (a.kind, b.kind) and scale:
            raise NotVectorizable("an item comparison of a number of days with an amount")
        units = [
            lane if lane.kind == "list" else _Lane(lane.kind, _units(lane.value, node.type, scale))
            for lane, node in ((a, left), (b, right))
        ]
        return self._lane_difference(path, op, units[0], units[1])

    def _lane_difference(self, path: str, op: str, a: _Lane, b: _Lane) -> _Lane:
        """`a OP b` per item, from integer lanes: (a - b) OP 0, broadcasting a case value."""
        difference = _listed(path, a) - _listed(path, b)
        return _Lane("list", difference.list.eval(_compare(op, pl.element(), pl.lit(0))))


@dataclass
class _Lane:
    """Part of an item condition: `scalar` (a case value per row), `element` (a polars expression
    over `pl.element()`, for list.eval) or `list` (a list per row, one entry per item)."""

    kind: str
    value: pl.Expr
    scale: int | None = None


def _reads_item(node: Node) -> bool:
    """Whether `node` reads an item field."""
    return any(isinstance(n, Name) and n.kind == "item" for n in node.walk())


def _reads_case(node: Node) -> bool:
    """Whether `node` reads anything but item fields and literals."""
    for part in node.walk():
        if isinstance(part, Name) and part.kind != "item":
            return True
        if isinstance(part, Lookup | Aggregate | Quantifier):
            return True
        if isinstance(part, Call) and part.function in (
            "taken",
            "days_since_taken",
            "date_taken",
            "days_since",
        ):
            return True
    return False


def _listed(path: str, lane: _Lane) -> pl.Expr:
    """A lane as a polars value to combine with a list: a list per row, or the case value (which
    arithmetic with a list broadcasts over its items)."""
    return _as_list(path, lane.value) if lane.kind == "element" else lane.value


def _as_list(path: str, element: pl.Expr) -> pl.Expr:
    """An element expression evaluated for every item of the list at `path`."""
    return pl.col(path).list.eval(element)


def _zeros(path: str) -> pl.Expr:
    """A list of zeros as long as the list at `path` (a case value + this = it, per item)."""
    return pl.col(path).list.eval(pl.element().is_null().cast(_CODES) * 0)


def _truth_code(value: pl.Expr) -> pl.Expr:
    """False / None / True as 0 / 1 / 2 (`not` is then 2 - x)."""
    return (value.cast(_CODES) * 2).fill_null(1)


def _from_truth(codes: pl.Expr) -> pl.Expr:
    """Truth codes 0 / 1 / 2 back to False / None / True."""
    return codes.list.eval(
        pl.when(pl.element() == 2).then(True).when(pl.element() == 0).then(False).otherwise(None)
    )


def _units(value: pl.Expr, type_: Type, scale: int) -> pl.Expr:
    """A date, whole number or decimal as an exact integer: days since 1970, or the amount in
    units of 10**-scale."""
    if type_ is Type.DATE:
        return value.cast(pl.Int32).cast(DAYS)
    if type_ is Type.INTEGER:
        return value.cast(UNITS) * pl.lit(10**scale, dtype=UNITS) if scale else value.cast(UNITS)
    return (value * pl.lit(10**scale, dtype=pl.Int64)).cast(UNITS)


def units_of(type_: Type) -> pl.DataType:
    """The integer type `_units` gives a value of `type_`."""
    return DAYS() if type_ is Type.DATE else UNITS()


def _from_units(units: pl.Expr, type_: Type, scale: int) -> pl.Expr:
    if type_ is Type.DATE:
        return units.cast(pl.Int32).cast(pl.Date)
    if type_ is Type.INTEGER:
        return units.cast(pl.Int64)
    return (units.cast(WHOLE) * pl.lit(Decimal(1).scaleb(-scale), dtype=pl.Decimal(38, scale))).cast(
        pl.Decimal(38, scale)
    )
