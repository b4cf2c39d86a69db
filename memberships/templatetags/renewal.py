"""Automatic renewal in templates: ``{% renewal_summary membership as renewal %}`` (what
``_renewal.html`` shows) and ``|qr_svg`` (a signing link as an inline QR code, drawn
here: no third-party QR service sees it)."""

import segno
from django import template
from django.utils.safestring import mark_safe

from memberships.renewal_selectors import renewal_summary as summary_for

register = template.Library()


@register.simple_tag
def renewal_summary(membership):
    return summary_for(membership=membership)


@register.filter
def qr_svg(url: str) -> str:
    if not url:
        return ""
    svg = segno.make(url, micro=False, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", omitsize=True
    )
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the URL is encoded in path data
