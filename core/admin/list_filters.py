"""A changelist's filter sidebar written in Python: ``{% kpay_list_filters cl %}``
(``core.templatetags.admin_filters``) is Django's
``{% for spec in cl.filter_specs %}{% admin_list_filter cl spec %}{% endfor %}``.

Django renders ``admin/filter.html`` for every filter (a new context, a loop with a dozen
nodes per choice): 2-4 ms of CPU a list page here. A filter whose template is Django's own
``admin/filter.html`` is written here, character for character (its choices are still the
filter's own ``choices(cl)``); any other template, or an override of that one, is rendered
as Django does. ``tests/admin/test_list_filters.py`` compares both.
"""

from django.contrib.admin.templatetags.admin_list import admin_list_filter
from django.template.loader import get_template
from django.utils.encoding import iri_to_uri
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.translation import gettext

from .escaping import html_text

FILTER_TEMPLATE = "admin/filter.html"
_DJANGOS = "django/contrib/admin/templates/admin/filter.html"


def list_filters_html(cl) -> SafeString:
    """Every filter of the list, as Django's ``admin_list_filter`` writes them."""
    return mark_safe("".join(filter_html(cl, spec) for spec in cl.filter_specs))  # noqa: S308 (escaped)


def filter_html(cl, spec) -> str:
    """One filter: ``admin_list_filter(cl, spec)``."""
    if spec.template != FILTER_TEMPLATE or not _is_djangos(get_template(FILTER_TEMPLATE)):
        return admin_list_filter(cl, spec)
    title = html_text(spec.title)
    parts = [
        f'\n<details data-filter-title="{title}" open>\n  <summary>\n    ',
        gettext(" By %(filter_title)s ") % {"filter_title": title},
        "\n  </summary>\n  <ul>\n  ",
    ]
    for choice in spec.choices(cl):
        selected = ' class="selected"' if choice["selected"] else ""
        parts.append(
            f'\n    <li{selected}>\n    <a href="{_iriencoded(choice["query_string"])}">'
            f"{html_text(choice['display'])}</a></li>\n  "
        )
    parts.append("\n  </ul>\n</details>\n")
    return "".join(parts)


def _iriencoded(value) -> str:
    """``{{ value|iriencode }}`` (a safe filter: escaped unless the value was safe)."""
    text = str(value)
    return iri_to_uri(text) if isinstance(text, SafeData) else html_text(iri_to_uri(text))


def _is_djangos(template) -> bool:
    origin = getattr(getattr(template, "template", template), "origin", None)
    return (getattr(origin, "name", None) or "").replace("\\", "/").endswith(_DJANGOS)
