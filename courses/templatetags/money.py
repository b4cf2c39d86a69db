"""Showing integer fen as yuan, at the edge, with ``Decimal`` (never a float)."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def yuan(fen) -> str:
    """``9900`` → ``"¥99.00"``; ``-150`` → ``"-¥1.50"``. Anything but whole fen → ``""``."""
    if isinstance(fen, bool) or not isinstance(fen, int | Decimal | str):
        return ""
    try:
        amount = Decimal(fen)
    except ArithmeticError:
        return ""
    if not amount.is_finite() or amount != amount.to_integral_value():
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount).scaleb(-2).quantize(Decimal('0.01'))}"
