"""Money from exact quotients: a vectorized quotient rounded to the cent as the reference rounds it."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from cspolicy.expressions.vectorized import WHOLE, Vector, _bound, _exact_product


def rational_cents(vector: Vector) -> tuple[pl.Expr, pl.Expr]:
    """A quotient rounded half up (away from zero) to whole cents, as the reference's money
    output is; and the rows to recheck with the reference.

    The cents are found in Float64 and then proved in exact Decimal: k is right when
    (2k - 1) * den <= 200 * |num| < (2k + 1) * den. A row is rechecked when that proof fails
    (a float too far off, or too large), when the reference's 28-digit quotient could sit on the
    other side of a half cent (the exact gap to it within twice the rounding bound; an exact tie
    of a single division is exact in the reference too), or when the result would be a negative
    zero (the reference writes -0.00, a Decimal column cannot)."""
    assert vector.den is not None
    num, num_scale, den, den_scale = vector.value, vector.scale or 0, vector.den, vector.den_scale
    approx = (num.cast(pl.Float64) / den.cast(pl.Float64)).abs() * 100
    safe = approx.is_finite() & (approx < 2.0**52)
    whole = pl.when(safe).then((approx + 0.5).floor()).otherwise(0.0).cast(pl.Int64)
    twice = _exact_product(num.abs(), num_scale, pl.lit(200), 0)
    below = twice - _exact_product((2 * whole - 1).cast(WHOLE), 0, den, den_scale)
    above = _exact_product((2 * whole + 1).cast(WHOLE), 0, den, den_scale) - twice
    band = 4 * 100 * _bound(vector) * den.cast(pl.Float64)  # 2 * bound, in half-cent units * den
    near_below = below.cast(pl.Float64) <= band
    if vector.rounds <= 1:
        near_below = near_below & (below != 0)
    recheck = (
        ~safe
        | (below < 0)
        | (above <= 0)
        | near_below
        | (above.cast(pl.Float64) <= band)
        | ((num < 0) & (whole == 0))
    )
    cents = pl.when(num < 0).then(-whole).otherwise(whole)
    value = _exact_product(cents.cast(WHOLE), 0, pl.lit(Decimal("0.01"), dtype=pl.Decimal(38, 2)), 2)
    return value, (recheck & (den != 0)).fill_null(False)
