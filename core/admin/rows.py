"""A changelist's rows, Django's markup for less: ``templates/admin/change_list.html``
renders the result list with ``{% kpay_result_list cl %}`` (``core.templatetags.admin_rows``),
whose rows come from :func:`result_rows`.

Django's ``items_for_result`` decides, for every cell of every row, what each column is
(a field, a model admin method, …), looks up the empty value's translation, formats the
cell with ``format_html`` and, for the row's link, reverses the change page and resolves it
again to merge the list's filters into it: 6-10 ms of CPU for a page of 50 rows here. Here
that is decided once per column (which of ``display_for_field``'s branches a field takes),
the link made once per page (the row's key put into it), the datetime format read and split
once per page, a foreign key's text made once per related row, and each row written as one
string (``core.admin.escaping.html_text`` escaping as ``conditional_escape``). Other values
are left to Django's ``display_for_field`` and ``display_for_value``, so a cell reads as
Django shows it. Any list whose rows link as Django's ``ChangeList`` does (or kpay's
``CachedUrlChangeList``) qualifies; anything else (a list linking its own way, editable
lists, popups, the actions' checkbox, a column named by a ``__`` path or an attribute of the
model) takes Django's own path;
``tests/admin/test_fast_rows.py`` and ``test_admin_floor.py`` render lists both ways and
compare them.
"""

import datetime

from django.conf import settings
from django.contrib.admin.templatetags.admin_list import ResultList, _coerce_field_name, results
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import _get_non_gfk_field, display_for_field, display_for_value, quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch
from django.utils import formats, timezone
from django.utils.dateformat import DateFormat, re_escaped, re_formatchars
from django.utils.safestring import SafeString, mark_safe

from core.admin_urls import PK_PLACEHOLDER, admin_change_url_template

from .escaping import html_text
from .large_tables import CachedUrlChangeList

# Columns of these field types show ``str(value)`` (Django: ``display_for_value``), or the
# empty value for None and "".
_TEXT_FIELDS = (models.CharField, models.TextField, models.SlugField, models.EmailField, models.UUIDField)


def result_rows(cl):
    """What ``django.contrib.admin.templatetags.admin_list.results(cl)`` gives (for a
    template that overrides ``change_list_results.html``: each cell an item)."""
    rows = _rows(cl)
    if rows is None:
        yield from results(cl)
        return
    for cells in rows:
        yield ResultList(None, [mark_safe(cell) for cell in cells])  # noqa: S308 (escaped)


def row_html(cl) -> list[str] | None:
    """Each row's cells as one string of HTML, Django's markup; None when the list needs
    Django's own rendering."""
    rows = _rows(cl)
    return None if rows is None else ["".join(cells) for cells in rows]


def _rows(cl) -> list[list[str]] | None:
    columns = _columns(cl) if _fast_path(cl) else None
    if columns is None:
        return None
    link = _link_template(cl)
    datetimes = _DateTimeCells()
    for column in columns:
        column.start_page(datetimes)
    pk_attname = cl.pk_attname
    return [_row(columns, link, result, getattr(result, pk_attname)) for result in cl.result_list]


def _fast_path(cl) -> bool:
    return (
        _links_by_template(cl)
        and not cl.formset
        and not cl.is_popup
        and not cl.to_field
        and "action_checkbox" not in cl.list_display
    )


# Format characters that read a number straight off the datetime (``DateFormat``'s own
# definitions): a format made of these alone needs no ``DateFormat`` per cell.
_NUMBERS = {
    "d": lambda value: f"{value.day:02d}",
    "j": lambda value: str(value.day),
    "m": lambda value: f"{value.month:02d}",
    "n": lambda value: str(value.month),
    "y": lambda value: f"{value.year % 100:02d}",
    "Y": lambda value: f"{value.year:04d}",
    "G": lambda value: str(value.hour),
    "H": lambda value: f"{value.hour:02d}",
    "i": lambda value: f"{value.minute:02d}",
    "s": lambda value: f"{value.second:02d}",
}


class _DateTimeCells:
    """A datetime as Django's list shows it (``formats.localize(template_localtime(value))``),
    the format read and split once for the page rather than for every cell; a format of
    numbers alone (kpay's ``Y-m-d H:i``) written without a ``DateFormat`` per cell."""

    def __init__(self):
        self.zone = timezone.get_current_timezone() if settings.USE_TZ else None
        self.pieces = []
        for index, piece in enumerate(re_formatchars.split(str(formats.get_format("DATETIME_FORMAT")))):
            if index % 2:
                self.pieces.append((True, piece))
            elif piece:
                self.pieces.append((False, re_escaped.sub(r"\1", piece)))
        self.numbers = None
        if all(piece in _NUMBERS for code, piece in self.pieces if code):
            self.numbers = [_NUMBERS[piece] if code else piece for code, piece in self.pieces]

    def __call__(self, value: datetime.datetime) -> str:
        zone = self.zone
        aware = value.utcoffset() is not None
        if zone is not None and aware and getattr(value, "convert_to_local_time", True):
            value = value.astimezone(zone)
        if self.numbers is not None:
            return "".join(piece if type(piece) is str else piece(value) for piece in self.numbers)
        shown = DateFormat(value)
        return "".join(str(getattr(shown, piece)()) if code else piece for code, piece in self.pieces)


class _Column:
    __slots__ = (
        "admin_empty",
        "attr",
        "base",
        "boolean",
        "choices",
        "classes",
        "datetimes",
        "empty",
        "empty_html",
        "field",
        "how",
        "memo",
        "name",
        "tag",
    )

    def start_page(self, datetimes):
        self.datetimes = datetimes
        self.empty_html = html_text(self.empty)
        self.memo = {}
        if self.choices is not None:  # the choices' labels (lazy texts) escaped once a page
            self.memo = {value: html_text(label) for value, label in self.choices.items()}


def _columns(cl) -> list[_Column] | None:
    """How to show each column, decided once; None when a column needs Django's path."""
    model_admin, opts = cl.model_admin, cl.lookup_opts
    admin_empty = model_admin.get_empty_value_display()
    columns, first = [], True
    for index, name in enumerate(cl.list_display):
        column = _Column()
        column.name, column.field, column.attr, column.choices, column.boolean = name, None, None, None, False
        column.empty, column.admin_empty, column.tag = admin_empty, admin_empty, None
        links = cl.list_display_links  # None: no column links to the row (as Django)
        if links is not None and ((first and not links) or name in links):
            column.tag, first = ("th" if first else "td"), False
        column.base = f"field-{_coerce_field_name(name, index)}"
        classes = [column.base]
        field = None
        if isinstance(name, str) and "__" not in name:
            try:
                field = _get_non_gfk_field(opts, name)
            except FieldDoesNotExist:  # FieldIsAForeignKeyColumnName too
                field = None
        if field is not None:
            if field.auto_created:
                return None
            column.field = field
            column.how = _field_kind(field)
            if column.how == "choices":
                try:
                    column.choices = dict(field.flatchoices)
                except TypeError:  # list-like choices: Django's own handling
                    column.how = "field"
            if isinstance(field, models.DateField | models.TimeField | models.ForeignKey):
                classes.append("nowrap")
        elif callable(name) or (isinstance(name, str) and hasattr(model_admin, name) and name != "__str__"):
            column.how = "call"
            column.attr = name if callable(name) else getattr(model_admin, name)
            column.empty = getattr(column.attr, "empty_value_display", admin_empty)
            column.boolean = getattr(column.attr, "boolean", False)
        else:
            return None  # an attribute of the object, or a path: Django's own path
        column.classes = " ".join(classes)
        columns.append(column)
    return columns


def _field_kind(field) -> str:
    """Which of ``display_for_field``'s branches a field's cells take (fixed per field)."""
    if isinstance(field.remote_field, models.ManyToOneRel):
        return "related"
    if getattr(field, "flatchoices", None):
        return "choices"
    if isinstance(field, models.ForeignKey):
        return "foreign key"
    if isinstance(field, models.DateTimeField):
        return "datetime"
    if type(field) in _TEXT_FIELDS:
        return "text"
    return "field"


def _links_by_template(cl) -> bool:
    """Whether a row's link is the change page's address with its key put in: kpay's large
    lists (``CachedUrlChangeList``), or any list linking as Django's ``ChangeList`` does."""
    return isinstance(cl, CachedUrlChangeList) or type(cl).url_for_result is ChangeList.url_for_result


def _link_template(cl) -> tuple[str, str] | None:
    """The change page's address with the list's filters, escaped, in two halves around the
    key (Django builds, resolves and escapes it again for every row; it differs only by the
    key). Split at the first placeholder: the path's, whatever the filters hold."""
    try:
        if isinstance(cl, CachedUrlChangeList):
            url = cl.url_for_result_template()
        else:
            url = admin_change_url_template(cl.opts, current_app=cl.model_admin.admin_site.name)
    except NoReverseMatch:
        return None
    url = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url)
    before, _placeholder, after = html_text(url).partition(PK_PLACEHOLDER)
    return before, after


def _cell(column, result) -> str:
    """A field's cell content as HTML (``items_for_result``'s ``result_repr``, escaped)."""
    how = column.how
    if how == "foreign key":
        # The related row's text, once per related row on the page (the same id, the same
        # row of the same query: the same text).
        key = getattr(result, column.field.attname)
        if key is None:
            return column.empty_html
        shown = column.memo.get(key)
        if shown is None:
            related = getattr(result, column.name)
            shown = column.memo[key] = html_text(display_for_value(related, column.empty))
        return shown
    value = getattr(result, column.name)
    if how == "choices":
        if isinstance(value, str) and value.strip() == "":
            value = ""
        shown = column.memo.get(value)
        return column.empty_html if shown is None else shown
    if how == "datetime":
        return column.empty_html if value is None else column.datetimes(value)
    if how == "text":
        if value is None or (type(value) is str and value.strip() == ""):
            return column.empty_html
        return html_text(str(value))
    if how == "related":
        return column.empty_html if value is None else html_text(value)
    if isinstance(value, str) and value.strip() == "":
        value = ""
    return html_text(display_for_field(value, column.field, column.empty, avoid_link=column.tag is not None))


def _row(columns, link, result, pk) -> list[str]:
    cells = []
    for column in columns:
        classes = column.classes
        try:
            if column.how == "call":
                value = column.attr(result)
                kind = type(value)
                if (kind is str or kind is SafeString) and not column.boolean:
                    shown = column.empty_html if value.strip() == "" else html_text(value)
                else:
                    if isinstance(value, str) and value.strip() == "":
                        value = ""
                    shown = html_text(display_for_value(value, column.empty, column.boolean))
                    if isinstance(value, datetime.date | datetime.time):
                        classes = f"{classes} nowrap"
            else:
                shown = _cell(column, result)
        except ObjectDoesNotExist:  # as Django: the admin's empty value, no other class
            shown, classes = html_text(column.admin_empty), column.base
        if column.tag is None:
            cells.append(f'<td class="{classes}">{shown}</td>')
            continue
        if link is not None:
            shown = f'<a href="{link[0]}{html_text(str(quote(pk)))}{link[1]}">{shown}</a>'
        cells.append(f'<{column.tag} class="{classes}">{shown}</{column.tag}>')
    return cells
