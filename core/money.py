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

People see amounts one way: staff type yuan into :class:`YuanField` (its widget,
:class:`YuanInput`, shows a ``¥`` before the box) and read them as ``¥1,234.56``
(``core.admin.yuan``). A model's amount column is a :class:`FenField`: a plain ``bigint`` of
fen whose form field is a :class:`YuanField`, so every model form (the admin's included)
reads and shows it in yuan.
"""

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core import validators
from django.db import models
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


def display_yuan(fen: int | None) -> str:
    """The back office's one way of showing an amount: ``¥1,234.56``, ``-¥1.50``; "-" for None."""
    return "-" if fen is None else format_yuan(fen, grouping=True, symbol=True)


def prorate(amount: int, part: int, whole: int) -> int:
    """``round_half_up(amount × part / whole)`` in integers: the share of ``amount`` that
    ``part`` of ``whole`` carries (a refund's share of a commission, a discount, points).

    Used cumulatively (the share after a refund less the share before it), so the parts
    add up to ``amount`` exactly and no fen is created or lost.
    """
    if not (whole > 0 and 0 <= part <= whole and amount >= 0):
        raise ValueError("need whole > 0, 0 <= part <= whole, amount >= 0")
    return (2 * amount * part + whole) // (2 * whole)


_YUAN_SIGNS = "¥￥"
_TYPED_AMOUNT = re.compile(r"[+-]?\d+(\.\d*)?|[+-]?\.\d+")  # full-width digits too; no 1e3
_GROUPING = str.maketrans("", "", ",\uff0c \u00a0\u202f")  # , ，and spaces: thousands separators


class YuanInput(forms.TextInput):
    """The one widget for amounts: a text box (``inputmode=decimal``: a phone shows its
    number pad, and no browser rounds or spins the value) with ``¥`` before it."""

    template_name = "core/widgets/yuan_input.html"

    def __init__(self, attrs=None):
        base = {"inputmode": "decimal", "autocomplete": "off", "class": "kpay-yuan-input", "size": "14"}
        super().__init__({**base, **(attrs or {})})


class YuanField(forms.DecimalField):
    """A form field for an amount typed in yuan whose cleaned value is fen (``int``).

    ``min_fen``/``max_fen`` bound it in fen; more than two decimal places is a form error,
    never rounded. A ``¥`` and thousands separators may be typed (``¥1,234.50``). An initial
    value is fen, as models keep it: ``4990`` is shown as ``49.90``.
    """

    widget = YuanInput
    default_error_messages = {"invalid": _("Enter an amount in yuan, e.g. 49.90.")}

    def __init__(self, *, min_fen: int | None = 1, max_fen: int | None = None, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        if min_fen is not None:
            kwargs.setdefault("min_value", Decimal(min_fen).scaleb(-2))
        if max_fen is not None:
            kwargs.setdefault("max_value", Decimal(max_fen).scaleb(-2))
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().lstrip(_YUAN_SIGNS).translate(_GROUPING)
            if value and not _TYPED_AMOUNT.fullmatch(value):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

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

    def prepare_value(self, value):
        """Fen (an initial value from the model) as yuan; typed text as it was typed."""
        if isinstance(value, int) and not isinstance(value, bool):
            return fen_to_yuan(value)
        return value

    def has_changed(self, initial, data):
        if self.disabled:
            return False
        try:
            amount = self.to_python(data)
            typed = None if amount is None else yuan_to_fen(amount)
        except (forms.ValidationError, AmountError):
            return True
        return typed != initial


def yuan_formfield(db_field: models.Field, **kwargs) -> YuanField:
    """The :class:`YuanField` of a model's amount field (fen), bounded by its
    ``MinValueValidator``/``MaxValueValidator`` (in fen; no validator: not negative)."""
    min_fen, max_fen = 0, None
    for validator in db_field.validators:
        if isinstance(validator, validators.MinValueValidator):
            min_fen = max(min_fen, validator.limit_value)
        elif isinstance(validator, validators.MaxValueValidator):
            max_fen = validator.limit_value if max_fen is None else min(max_fen, validator.limit_value)
    widget = kwargs.pop("widget", None)
    if isinstance(widget, YuanInput) or (isinstance(widget, type) and issubclass(widget, YuanInput)):
        kwargs["widget"] = widget  # the admin's number box for big integers is not for yuan
    # models.Field's, not BigIntegerField's: that one adds integer bounds in fen.
    return models.Field.formfield(
        db_field, **{"form_class": YuanField, "min_fen": min_fen, "max_fen": max_fen, **kwargs}
    )


class FenField(models.BigIntegerField):
    """A model's amount in fen (the unit of every amount column).

    The column is a plain ``bigint``, and migrations see a ``BigIntegerField``
    (:meth:`deconstruct`): this class only changes how people see the amount. Its form
    field is a :class:`YuanField` with a :class:`YuanInput`, bounded by the field's
    ``MinValueValidator``/``MaxValueValidator`` (in fen; no validator: not negative), so
    a model form reads ``49.90`` as ``4990`` and refuses ``4.999``, ``abc`` and ``-1``.
    The admin shows it with ``core.admin.yuan`` (``¥49.90``).
    """

    def formfield(self, **kwargs):
        return yuan_formfield(self, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.BigIntegerField", args, kwargs
