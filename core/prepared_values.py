"""``values()`` querysets compiled to SQL once, for the back office's aggregate reads.

Replaces, for the finance dashboard's grouped sums (two dozen ``SUM(…) FILTER (WHERE …)``
columns, the members' ``EXISTS`` per month), the ORM's work of building and compiling
the same queryset on every request: at a million orders that compiling cost the
dashboard more CPU than PostgreSQL took to answer it (about half of the page's 47-65 ms,
``bench/scale.py``'s profile). The queryset stays written as a queryset, in its
selector; it is compiled the first time it is used, with stand-in values for its
parameters, and later calls send the same SQL text with their own values and convert
the columns as the ORM would (the same converters), as the same dicts ``values()``
yields. So the SQL is the ORM's, and the figures are the ORM's by construction.

As in :mod:`core.prepared` (which does the same for querysets of model instances): a
stand-in must be a value the query would never contain otherwise, and a stand-in the
compiled SQL does not carry as a parameter (the ORM folded it into the text) means the
queryset is run as a plain queryset every time.
"""

from collections.abc import Callable

from django.db import connection, connections
from django.db.models import QuerySet

from .prepared import filled, parameter_slots, plain_strings


class PreparedValues:
    """``build(**params)`` returns a ``values()`` queryset; :meth:`rows` runs it with
    ``params``. ``stand_ins`` give each parameter a placeholder value of its type, used
    to compile the queryset once (per database vendor)."""

    def __init__(self, build: Callable[..., QuerySet], **stand_ins):
        self.build = build
        self.stand_ins = stand_ins
        self._compiled: dict[str, _Compiled | None] = {}

    def rows(self, **params) -> list[dict]:
        if set(params) != set(self.stand_ins):
            raise TypeError(f"expected parameters {sorted(self.stand_ins)}, got {sorted(params)}")
        if connection.vendor not in self._compiled:
            self._compiled[connection.vendor] = _Compiled.of(self.build(**self.stand_ins), self.stand_ins)
        compiled = self._compiled[connection.vendor]
        if compiled is None:
            return list(self.build(**params))
        return compiled.rows(params)


class _Compiled:
    def __init__(self, queryset: QuerySet, sql: str, params: list, slots: dict[int, str]):
        self.sql, self.params, self.slots = sql, params, slots
        self.db = queryset.db
        query = queryset.query
        self.compiler = query.get_compiler(using=self.db)
        self.compiler.as_sql()  # fills select and col_count
        self.names = list(
            query.selected or [*query.extra_select, *query.values_select, *query.annotation_select]
        )
        fields = [s[0] for s in self.compiler.select[: self.compiler.col_count]]
        self.converters = self.compiler.get_converters(fields)

    @classmethod
    def of(cls, queryset: QuerySet, stand_ins: dict) -> "_Compiled | None":
        if queryset._iterable_class.__name__ != "ValuesIterable":
            raise TypeError("PreparedValues takes a values() queryset")
        sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
        slots = parameter_slots(params, stand_ins)
        return None if slots is None else cls(queryset, sql, plain_strings(params), slots)

    def rows(self, params: dict) -> list[dict]:
        with connections[self.db].cursor() as cursor:
            cursor.execute(self.sql, filled(self.params, self.slots, params))
            rows = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in rows]
