"""Display helpers for admin columns and read-only fields.

**Amounts** have one display rule: :func:`yuan`, ``¥1,234.56`` (the unit is on the value,
so a column header never needs one). A page shows a model's amount (a
:class:`~core.money.FenField`, fen) through :func:`yuan_column`, never the raw field;
``tests/admin/test_money_display.py`` checks every admin page for raw amounts.
"""

import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.admin_urls import admin_change_url
from core.money import display_yuan

from .escaping import html_text


def yuan(fen: int | None) -> str:
    """Fen as an amount for staff: 123456 -> "¥1,234.56", -150 -> "-¥1.50"; None -> "-"."""
    return display_yuan(fen)


def yuan_html(fen: int | None) -> str:
    """:func:`yuan`, a negative amount (a debt, a reversal) marked to show in red."""
    if fen is not None and fen < 0:
        return format_html('<span class="kpay-negative">{}</span>', yuan(fen))
    return yuan(fen)


def yuan_column(field: str, description, *, signed: bool = False, ordering: bool = True):
    """An admin column or read-only field showing the fen in ``field`` (a ``__`` path is
    followed) with :func:`yuan`; ``signed`` marks negative amounts in red. Use it as a class
    attribute: ``amount_shown = yuan_column("amount", _("amount"))``."""
    path = field.split("__")

    def show(self, obj):
        value = obj
        for name in path:
            value = getattr(value, name, None)
            if value is None:
                return "-"
        shown = html_text(yuan_html(value) if signed else yuan(value))
        return mark_safe(f'<span class="kpay-money">{shown}</span>')  # noqa: S308 (format_html's result, for less)

    show.__name__ = f"{path[-1]}_yuan"
    return admin.display(description=description, ordering=field if ordering else None)(show)


def admin_link(obj, label=None) -> str:
    """A link to ``obj``'s admin page (the page itself decides who may see it)."""
    if obj is None:
        return "-"
    url = admin_change_url(obj._meta, obj.pk)  # reversed once per model (a column calls it per row)
    shown = html_text(obj if label is None else label)
    return mark_safe(f'<a href="{html_text(url)}">{shown}</a>')  # noqa: S308 (format_html's result, for less)


def pretty_json(value) -> str:
    """A JSON field, indented, for read-only pages (technical records only: what staff
    decide on is shown in words)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return format_html('<pre class="kpay-json">{}</pre>', text)
