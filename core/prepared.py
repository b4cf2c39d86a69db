"""Querysets compiled to SQL once, for the hottest reads of the paid-order path.

Replaces, for the few queries a paid order cannot do without (the course at checkout,
the order at payment start, the payment's lock in the notification), the ORM's work of
building and compiling the same queryset on every call: resolving lookups and
expressions, quoting names, laying out joins. On those queries that work cost more
than PostgreSQL took to answer them (``bench/paid_order.py``'s profile). The queryset
stays written as a queryset, in its selector; it is compiled the first time it is
used, with stand-in values for its parameters, and later calls send the same SQL text
with their own values and build the model instances as the ORM would (the same
converters, ``from_db``, ``select_related`` and annotations).

A parameter's stand-in must be a value the query would never contain otherwise (a
negative id, a string with a NUL); a stand-in the compiled SQL does not carry as a
parameter (the ORM folded it into the text) is refused at the first call, and the
queryset is then run as a plain queryset every time.

``cursor=core.bound.bound_cursor`` sends it with server-side binding, prepared on the
connection (PostgreSQL; elsewhere Django's cursor): for a read whose planning costs more
than its execution (checkout's course read: its membership-access ``EXISTS``), PostgreSQL
then keeps a generic plan instead of planning it on every call.
"""

from collections.abc import Callable

from django.db import connection, connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators


class PreparedQuery:
    """``build(**params)`` returns the queryset; :meth:`first` runs it with ``params``.

    ``stand_ins`` give each parameter a placeholder value of its type used to compile the
    queryset once (per database connection)."""

    def __init__(self, build: Callable[..., QuerySet], *, cursor: Callable | None = None, **stand_ins):
        self.build = build
        self.cursor = cursor  # a cursor factory for PostgreSQL (core.bound.bound_cursor), or None
        self.stand_ins = stand_ins
        self._compiled: dict[str, _Compiled | None] = {}

    def first(self, **params):
        """The first row as a model instance (None if there is none)."""
        compiled = self._compiled_for(params)
        if compiled is None:
            return self.build(**params).first()
        return compiled.first(params, cursor=self.cursor)

    def statement(self, **params) -> tuple[str, list, list[str]] | None:
        """The compiled SQL with ``params``' values and the names of its columns (the
        model's attnames and the annotations; "" for a related model's), to send inside a
        larger statement (a CTE); None if this query has no cached SQL (then use
        :meth:`first`)."""
        compiled = self._compiled_for(params)
        if compiled is None or compiled.columns is None:
            return None
        return compiled.sql, compiled.values(params), compiled.columns

    def _compiled_for(self, params) -> "_Compiled | None":
        if set(params) != set(self.stand_ins):
            raise TypeError(f"expected parameters {sorted(self.stand_ins)}, got {sorted(params)}")
        if connection.vendor not in self._compiled:
            self._compiled[connection.vendor] = _Compiled.of(self.build(**self.stand_ins), self.stand_ins)
        return self._compiled[connection.vendor]


class _Compiled:
    def __init__(self, queryset: QuerySet, sql: str, params: list, slots: dict[int, str]):
        self.sql = sql
        self.params = params
        self.slots = slots  # parameter position -> name
        self.db = queryset.db
        self.compiler = queryset.query.get_compiler(using=queryset.db)
        self.compiler.as_sql()  # fills select, klass_info, annotation_col_map
        select, klass_info = self.compiler.select, self.compiler.klass_info
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.model_slice = slice(fields[0], fields[-1] + 1)
        self.init_list = [f[0].target.attname for f in select[self.model_slice]]
        self.related_populators = get_related_populators(klass_info, select, self.db)
        self.annotations = dict(self.compiler.annotation_col_map or {})
        # The values' converters, found once (``results_iter`` looks them up on every call).
        self.fields = [s[0] for s in select[: self.compiler.col_count]]
        self.converters = self.compiler.get_converters(self.fields)
        self.composite = self.compiler.has_composite_fields(self.fields)
        # The names of the columns the SQL returns (None: more than the instance's).
        self.columns = None
        if not self.compiler.has_extra_select:
            self.columns = [""] * len(select)
            self.columns[self.model_slice] = self.init_list
            for name, position in self.annotations.items():
                self.columns[position] = name

    @classmethod
    def of(cls, queryset: QuerySet, stand_ins: dict) -> "_Compiled | None":
        if not queryset.ordered:
            queryset = queryset.order_by("pk")
        queryset = queryset[:1]
        sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
        slots = parameter_slots(params, stand_ins)
        return None if slots is None else cls(queryset, sql, plain_strings(params), slots)

    def values(self, params: dict) -> list:
        return filled(self.params, self.slots, params)

    def first(self, params: dict, *, cursor: Callable | None = None):
        if cursor is not None and self.db == connection.alias and connection.vendor == "postgresql":
            cursor = cursor()
        else:
            cursor = connections[self.db].cursor()
        with cursor:
            cursor.execute(self.sql, self.values(params))
            rows = cursor.fetchall()
        return self.instance(rows)

    def instance(self, rows: list):
        rows = rows[:1]
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        if self.composite:
            rows = self.compiler.composite_fields_to_tuples(rows, self.fields)
        for row in rows:
            obj = self.model.from_db(self.db, self.init_list, row[self.model_slice])
            for populator in self.related_populators:
                populator.populate(row, obj)
            for name, position in self.annotations.items():
                setattr(obj, name, row[position])
            return obj
        return None


def parameter_slots(params, stand_ins: dict) -> dict[int, str] | None:
    """Where each stand-in value stands among a compiled statement's parameters
    (position → name), or None when one is not a parameter (the compiler folded it into
    the SQL text: no cached SQL for that statement)."""
    slots = {}
    for position, value in enumerate(params):
        for name, stand_in in stand_ins.items():
            if type(value) is type(stand_in) and value == stand_in:
                slots[position] = name
    return slots if set(slots.values()) == set(stand_ins) else None


def plain_strings(params) -> list:
    """The compiled parameters with each ``str`` subclass (a ``TextChoices`` member such as
    ``Payment.Status.PENDING``) as the plain string it is, once at compile time: psycopg
    finds ``str``'s dumper in one look-up, and a subclass's by walking its MRO (a
    ``KeyError`` and a class name built per class, about 2 µs) once per cursor, each call."""
    return [str.__str__(p) if isinstance(p, str) and type(p) is not str else p for p in params]


def filled(params: list, slots: dict[int, str], values: dict) -> list:
    """The compiled statement's parameters with each call's own values in their slots."""
    result = list(params)
    for position, name in slots.items():
        result[position] = values[name]
    return result
