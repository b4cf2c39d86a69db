"""Admin lists over millions of rows: number search on indexed columns, estimated counts.

Measured with a million orders and 3.2 million journal entries (``bench/scale.py``), the
stock changelist spends its time in three places, each fixed here:

* ``search_fields`` search with ``icontains`` (``UPPER(…) LIKE '%…%'``): a sequential scan
  of every table searched. :class:`NumberSearchMixin` looks a term that has the shape of
  a public number (order, payment, refund number, gateway transaction id) up *exactly*
  on unique, indexed columns, and resolves a related number to ids first, so each lookup
  is an index probe. Any other term falls back to the admin's own ``search_fields``
  (``search_help_text`` says so).
* ``COUNT(*)`` for the paginator (and again for "N total"): :class:`EstimatedCountPaginator`
  asks the planner for its row estimate first and counts exactly only when that estimate
  is small; above it the page says "about N" (``templates/admin/pagination.html``).
* filters listing the values present (``RelatedOnlyFieldListFilter``: a ``DISTINCT``
  over the table on every page): the admins use static choices instead.
"""

import json
import re
import uuid
from functools import cached_property

from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.admin_urls import admin_change_url, admin_change_url_template

# Public numbers: 6-64 characters of [0-9A-Za-z_-] with a digit among them
# (orders/numbers.py; gateway ids); a word without a digit is text.
NUMBER_PATTERN = re.compile(r"(?=[^0-9]*[0-9])[0-9A-Za-z_-]{6,64}")
# Above this many rows (the planner's estimate), a list shows an estimated count.
EXACT_COUNT_LIMIT = 10_000


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to :data:`EXACT_COUNT_LIMIT` rows; above it, the planner's
    estimate (``EXPLAIN``: one planning, no scan), flagged by ``estimated``.

    Page links past the real end of an over-estimated list show an empty page, never an
    error: the admin's paginator is only used for ``page(n)`` slices."""

    estimated = False

    @cached_property
    def count(self):
        estimate = planner_estimate(self.object_list)
        if estimate is None or estimate <= EXACT_COUNT_LIMIT:
            return super().count
        self.estimated = True
        return estimate

    def validate_number(self, number):
        if self.estimated:  # an estimate may be off: any positive page is a page
            try:
                number = int(number)
            except (TypeError, ValueError):
                return super().validate_number(number)
            return max(number, 1)
        return super().validate_number(number)


def page_queryset(queryset, only):
    """``queryset`` reading only the fields in ``only`` and joining only the relations
    their ``__`` paths go through."""
    relations = sorted({path.rpartition("__")[0] for path in only if "__" in path})
    return queryset.select_related(None).select_related(*relations).only(*relations, *only)


def planner_estimate(queryset) -> int | None:
    """PostgreSQL's estimate of how many rows ``queryset`` returns; None elsewhere."""
    if not hasattr(queryset, "query"):
        return None
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # e.g. none(): nothing to estimate
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):  # a driver that leaves JSON unparsed
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class CachedUrlChangeList(ChangeList):
    """Each row's link to its page without a ``reverse()`` per row (``core.admin_urls``),
    and the columns the list never shows (``list_defer``: JSON documents) left unread."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        deferred = getattr(self.model_admin, "list_defer", ())
        return queryset.defer(*deferred) if deferred else queryset

    def get_results(self, request):
        """The page's rows read with only the fields ``list_only`` names (the queryset for
        anything else, the CSV export included, stays whole)."""
        only = getattr(self.model_admin, "list_only", ())
        if only:
            self.queryset = page_queryset(self.queryset, only)
        super().get_results(request)

    def url_for_result(self, result):
        pk = getattr(result, self.pk_attname)
        return admin_change_url(self.opts, pk, current_app=self.model_admin.admin_site.name)

    def url_for_result_template(self) -> str:
        """:meth:`url_for_result` with ``core.admin_urls.PK_PLACEHOLDER`` for the key."""
        return admin_change_url_template(self.opts, current_app=self.model_admin.admin_site.name)


class LargeTableAdminMixin:
    """A changelist over a table of millions: estimated counts, no "N total" recount, and
    pages of 50 rows (rendering the admin's rows, not the database, is then most of a
    page's time), where search finds any one row."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    # Fields (``__`` paths through ``list_select_related`` too) no list column reads: the
    # list neither fetches nor decodes them (a JSON document per row and related row).
    list_defer: tuple[str, ...] = ()
    # Or, narrower: the only fields the page's columns read (``__`` paths for related rows,
    # which are then the only ones joined): each row's model instances built from a few
    # columns instead of every column of three tables. A field missed here is read again
    # per row: ``tests/admin/test_fast_rows.py`` renders each list with and without it
    # and counts the queries.
    list_only: tuple[str, ...] = ()

    def get_changelist(self, request, **kwargs):
        return CachedUrlChangeList


class NumberSearchMixin(LargeTableAdminMixin):
    """Search by public number on indexed columns; anything else by ``search_fields``.

    ``number_search_fields`` are exact lookups on unique, indexed columns: a field of the
    model (``"payment_no"``) or one on a related model (``"order__order_no"``,
    ``"learner__username"``: usernames may hold digits), resolved to ids first. A term with the
    shape of a number (:data:`NUMBER_PATTERN`) is looked up there, as typed and in upper
    case (kpay's numbers are upper case); a UUID also matches UUID fields. Other terms
    (names, memos) go to the admin's ``search_fields``, the stock (slower) search.
    """

    number_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term or not self.number_search_fields or not NUMBER_PATTERN.fullmatch(term):
            return super().get_search_results(request, queryset, search_term)
        query = self.number_query(term)
        return (queryset.filter(query) if query is not None else queryset.none()), False

    def number_query(self, term: str) -> Q | None:
        """The exact lookups ``term`` can match; None when no field can hold it."""
        variants = sorted({term, term.upper()})
        query = None
        for lookup in self.number_search_fields:
            relation, _sep, name = lookup.rpartition("__")
            model = self.model
            if relation:
                model = self.model._meta.get_field(relation).related_model
            values = _valid_values(model, name, variants)
            if not values:
                continue
            if relation:
                ids = list(
                    model._default_manager.filter(**{f"{name}__in": values}).values_list("pk", flat=True)[
                        :100
                    ]
                )
                lookup_query = Q(**{f"{relation}__in": ids})
            else:
                lookup_query = Q(**{f"{name}__in": values})
            query = lookup_query if query is None else query | lookup_query
        return query


def _valid_values(model, name: str, variants: list[str]) -> list:
    """The variants ``name`` can hold (a UUID field only takes UUIDs)."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return []
    values = []
    for variant in variants:
        try:
            value = field.to_python(variant)
        except ValidationError:
            continue
        if isinstance(value, uuid.UUID) or value == variant:
            values.append(value)
    return list(dict.fromkeys(values))


NUMBER_SEARCH_HELP = _(
    "An order, payment or refund number, a gateway transaction id or a username finds its "
    "rows exactly; other words search the remaining fields (slower)."
)
