"""A changelist's table (``admin/change_list_results.html``: the column headers and the
rows) written in Python, character for character what Django's template writes.

Django's template renders a dozen nodes per header and a loop over every row's cells: about
2 ms of CPU a page of 50 rows. The rows' markup comes from ``core.admin.rows``, the headers
from Django's own ``result_headers``; only their writing is done here, and only for what
the fast rows cover (no editable rows, so no hidden fields and no form errors) and when no
app or model overrides the template. ``tests/admin/test_fast_rows.py`` compares both.
"""

from django.contrib.admin.templatetags.admin_list import result_headers
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.translation import gettext

from .escaping import html_text
from .rows import row_html

TEMPLATE_NAME = "change_list_results.html"


def results_table(cl) -> SafeString | None:
    """The list's table as Django's template writes it; None when the template should."""
    rows = row_html(cl)
    if rows is None:
        return None
    if not rows:
        return mark_safe("\n\n\n")
    headers = list(result_headers(cl))
    sorted_count = sum(1 for header in headers if header["sortable"] and header["sorted"])
    parts = ['\n\n\n<div class="results">\n<table id="result_list">\n<thead>\n<tr>\n']
    parts.extend(_header(header, sorted_count) for header in headers)
    parts.append("\n</tr>\n</thead>\n<tbody>\n")
    for row in rows:
        parts.append(f"\n\n<tr>{row}</tr>\n")
    parts.append("\n</tbody>\n</table>\n</div>\n\n")
    return mark_safe("".join(parts))  # noqa: S308 (every value escaped)


def _header(header: dict, sorted_count: int) -> str:
    parts = [f'\n<th scope="col"{html_text(header["class_attrib"])}>\n   ']
    if header["sortable"] and header["sort_priority"] > 0:
        parts.append(
            '\n       <div class="sortoptions">\n'
            f'         <a class="sortremove" href="{html_text(header["url_remove"])}"'
            f' title="{html_text(gettext("Remove from sorting"))}"></a>\n         '
        )
        if sorted_count > 1:
            priority = html_text(header["sort_priority"])
            title = gettext("Sorting priority: %(priority_number)s") % {"priority_number": priority}
            parts.append(f'<span class="sortpriority" title="{title}">{priority}</span>')
        direction = "ascending" if header["ascending"] else "descending"
        parts.append(
            f'\n         <a href="{html_text(header["url_toggle"])}" class="toggle {direction}"'
            f' title="{html_text(gettext("Toggle sorting"))}"></a>\n       </div>\n   '
        )
    text = _capfirst(header["text"])
    if header["sortable"]:
        parts.append(f'\n   <div class="text"><a href="{html_text(header["url_primary"])}">{text}</a></div>')
    else:
        parts.append(f'\n   <div class="text"><span>{text}</span></div>')
    parts.append('\n   <div class="clear"></div>\n</th>')
    return "".join(parts)


def _capfirst(text) -> str:
    """``{{ text|capfirst }}``: the first letter upper case, escaped unless already safe."""
    value = str(text)
    shown = value and value[0].upper() + value[1:]
    return shown if isinstance(value, SafeData) else html_text(shown)
