"""Money: integer fen inside kpay, yuan only at the edges. The one place they meet.

Every conversion between fen (``int``, the unit of every amount field) and yuan (a decimal
string, as gateways, bills, forms, CSV files and pages use it) goes through this module, with
one contract:

* **Reading yuan is exact.** :func:`yuan_to_fen` accepts a finite decimal with at most two
  places (``"99"``, ``"99.5"``, ``"-0.59"``, full-width digits too) and raises
  :class:`AmountError`, a ``ValueError``, for anything else: no rounding, no truncation, never a
  silent 0.
* **Writing yuan is exact too**: :func:`fen_to_yuan` gives ``"99.00"`` (gateways, bills, CSV);
  :func:`format_yuan` the same for people, optionally with thousands separators and ``¥``.
* Floats are refused both ways.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

FEN_PER_YUAN = 100
_CENT = Decimal("0.01")


class AmountError(ValueError):
    """Not an amount in whole fen."""


def _check_fen(fen) -> int:
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be an int, not {type(fen).__name__}")
    return fen


def yuan_to_fen(yuan: str | Decimal | int) -> int:
    """``"99.00"`` → ``9900``; ``Decimal("0.5")`` → ``50``. Anything that is not a finite
    amount in whole fen is an :class:`AmountError`."""
    if isinstance(yuan, bool | float):
        raise TypeError(f"yuan must be a str, Decimal or int, not {type(yuan).__name__}")
    try:
        amount = yuan if isinstance(yuan, Decimal) else Decimal(str(yuan).strip())
    except InvalidOperation:
        raise AmountError(f"not an amount: {yuan!r}") from None
    if not amount.is_finite():
        raise AmountError(f"not an amount: {yuan!r}")
    fen = amount.scaleb(2)
    if fen != fen.to_integral_value():
        raise AmountError(f"not a whole number of fen: {yuan!r}")
    return int(fen)


def fen_to_yuan(fen: int) -> str:
    """``9900`` → ``"99.00"``, ``-50`` → ``"-0.50"``: the plain form gateways, bills and CSV use."""
    return f"{Decimal(_check_fen(fen)).scaleb(-2):.2f}"


def format_yuan(fen: int, *, grouping: bool = False, symbol: bool = False) -> str:
    """Fen for people: ``123456`` → ``"1234.56"``, ``"1,234.56"`` with ``grouping``,
    ``"¥1234.56"`` with ``symbol`` (a minus goes before the sign: ``"-¥1.50"``)."""
    amount = abs(Decimal(_check_fen(fen)).scaleb(-2))
    text = f"{amount:,.2f}" if grouping else f"{amount:.2f}"
    return ("-" if fen < 0 else "") + ("¥" if symbol else "") + text


def prorate(amount: int, part: int, whole: int) -> int:
    """``round_half_up(amount × part / whole)`` in integers: the share of ``amount`` that
    ``part`` of ``whole`` carries (a refund's share of a commission, a discount, points).

    Used cumulatively (the share after a refund less the share before it), so the parts
    add up to ``amount`` exactly and no fen is created or lost.
    """
    if not (whole > 0 and 0 <= part <= whole and amount >= 0):
        raise ValueError("need whole > 0, 0 <= part <= whole, amount >= 0")
    return (2 * amount * part + whole) // (2 * whole)


class YuanField(forms.DecimalField):
    """A form field for an amount typed in yuan whose cleaned value is fen (``int``).

    ``min_fen``/``max_fen`` bound it in fen; more than two decimal places is a form error,
    never rounded.
    """

    def __init__(self, *, min_fen: int | None = 1, max_fen: int | None = None, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        if min_fen is not None:
            kwargs.setdefault("min_value", Decimal(min_fen).scaleb(-2))
        if max_fen is not None:
            kwargs.setdefault("max_value", Decimal(max_fen).scaleb(-2))
        super().__init__(**kwargs)

    def clean(self, value):
        amount = super().clean(value)
        if amount is None:
            return None
        try:
            return yuan_to_fen(amount)
        except AmountError:
            raise forms.ValidationError(
                _("Enter an amount in yuan with at most two decimals."), "invalid"
            ) from None
