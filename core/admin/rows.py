"""A changelist's rows, Django's markup for less: ``templates/admin/change_list.html``
renders the result list with ``{% kpay_result_list cl %}`` (``core.templatetags.admin_rows``),
whose rows come from :func:`result_rows`.

Django's ``items_for_result`` decides, for every cell of every row, what each column is
(a field, a model admin method, …), looks up the empty value's translation, formats the
cell with ``format_html`` and, for the row's link, reverses the change page and resolves it
again to merge the list's filters into it: 6-10 ms of CPU for a page of 50 rows here. The
same work done once per column (and the link once per page, the row's key put into it)
leaves the values' own display to Django's ``display_for_field`` and ``display_for_value``,
so a cell reads as Django shows it. Anything else (editable lists, popups, the actions'
checkbox, a column named by a ``__`` path or an attribute of the model) takes Django's own
path; ``tests/admin/test_admin_floor.py`` renders every list both ways and compares them.
"""

import datetime

from django.contrib.admin.templatetags.admin_list import ResultList, _coerce_field_name, results
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import _get_non_gfk_field, display_for_field, display_for_value, quote
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from core.admin_urls import PK_PLACEHOLDER

from .large_tables import CachedUrlChangeList


def result_rows(cl):
    """What ``django.contrib.admin.templatetags.admin_list.results(cl)`` gives."""
    columns = _columns(cl) if _fast_path(cl) else None
    if columns is None:
        yield from results(cl)
        return
    link = _link_template(cl)
    pk_attname = cl.pk_attname
    for result in cl.result_list:
        yield ResultList(None, _row(columns, link, result, getattr(result, pk_attname)))


def _fast_path(cl) -> bool:
    return (
        isinstance(cl, CachedUrlChangeList)
        and not cl.formset
        and not cl.is_popup
        and not cl.to_field
        and "action_checkbox" not in cl.list_display
    )


class _Column:
    __slots__ = (
        "admin_empty",
        "attr",
        "base",
        "boolean",
        "choices",
        "classes",
        "empty",
        "field",
        "how",
        "name",
        "tag",
    )


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
            if isinstance(field.remote_field, models.ManyToOneRel):
                column.how = "related"
            else:
                column.how = "field"
                if getattr(field, "flatchoices", None):
                    try:
                        column.choices = dict(field.flatchoices)
                    except TypeError:  # list-like choices: Django's own handling
                        column.choices = None
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


def _link_template(cl) -> str | None:
    """The change page's address with the list's filters, the key a placeholder (Django
    builds and resolves it again for every row; it differs only by the key)."""
    try:
        url = cl.url_for_result_template()
    except NoReverseMatch:
        return None
    return add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url)


def _row(columns, link, result, pk):
    cells = []
    for column in columns:
        classes = column.classes
        try:
            if column.how == "field":
                value = getattr(result, column.name)
                if isinstance(value, str) and value.strip() == "":
                    value = ""
                if column.choices is not None:
                    shown = column.choices.get(value, column.empty)
                else:
                    shown = display_for_field(
                        value, column.field, column.empty, avoid_link=column.tag is not None
                    )
            elif column.how == "related":
                value = getattr(result, column.field.name)
                shown = column.empty if value is None else value
            else:
                value = column.attr(result)
                if isinstance(value, str) and value.strip() == "":
                    value = ""
                shown = display_for_value(value, column.empty, column.boolean)
                if isinstance(value, datetime.date | datetime.time):
                    classes = f"{classes} nowrap"
        except ObjectDoesNotExist:  # as Django: the admin's empty value, no other class
            shown, classes = column.admin_empty, column.base
        shown = conditional_escape(shown)
        if column.tag is None:
            cells.append(mark_safe(f'<td class="{classes}">{shown}</td>'))  # noqa: S308 (escaped)
            continue
        if link is not None:
            url = conditional_escape(link.replace(PK_PLACEHOLDER, str(quote(pk))))
            shown = f'<a href="{url}">{shown}</a>'
        cells.append(mark_safe(f'<{column.tag} class="{classes}">{shown}</{column.tag}>'))  # noqa: S308
    return cells
