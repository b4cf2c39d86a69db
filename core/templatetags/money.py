"""``{{ amount|yuan }}``: integer fen shown as yuan (``core.money``, never a float)."""

from decimal import Decimal

from django import template

from core.money import display_yuan, format_yuan

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
    return format_yuan(int(amount), symbol=True)


@register.filter
def amount(fen) -> str:
    """The back office's amounts (``core.money.display_yuan``): ``¥1,234.56``; "-" for None."""
    if fen is None or (isinstance(fen, int) and not isinstance(fen, bool)):
        return display_yuan(fen)
    return ""
