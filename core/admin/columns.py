"""Display helpers for admin columns and read-only fields."""

import json

from django.urls import reverse
from django.utils.html import format_html

from core.money import format_yuan


def yuan(fen: int | None) -> str:
    """Fen as a yuan amount for staff: 123456 -> "1,234.56"; None -> "-"."""
    return "-" if fen is None else format_yuan(fen, grouping=True)


def admin_link(obj, label=None) -> str:
    """A link to ``obj``'s admin page (the page itself decides who may see it)."""
    if obj is None:
        return "-"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if label is None else label)


def pretty_json(value) -> str:
    """A JSON field, indented, for read-only pages."""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return format_html('<pre style="margin:0; white-space:pre-wrap">{}</pre>', text)
