"""HTML text for the admin's fast list rendering (``core.admin.rows``, ``results_table``,
``list_filters``): Django's ``conditional_escape`` semantics as a plain ``str``.

``conditional_escape`` goes through ``keep_lazy`` and builds a ``SafeString`` for every
value; a changelist page escapes a few thousand values, and then joins them into one
string it marks safe once. Same result, character for character: safe values (``__html__``)
are kept as they are, lazy texts are translated first, everything else is ``str()``-ed and
escaped as ``django.utils.html.escape`` does (``html.escape``: ``& < > " '``).
"""

import html

from django.utils.functional import Promise
from django.utils.safestring import SafeString

_escape = html.escape


def html_text(value) -> str:
    """``str(conditional_escape(value))``, for less."""
    kind = type(value)
    if kind is str:
        return _escape(value)
    if kind is SafeString:
        return value
    if isinstance(value, Promise):
        value = str(value)
    to_html = getattr(value, "__html__", None)
    if to_html is not None:
        return to_html()
    return _escape(str(value))
