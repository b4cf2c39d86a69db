"""The notification's two statements, bound and prepared on the server (PostgreSQL).

:func:`core.db.writes_in_one_statement` sends a step's writes as one statement of
data-modifying CTEs. Through Django's default cursor (client-side binding) that statement
costs, in the web worker, more than its writes' values: psycopg parses the text for its
placeholders on every call (a statement this long, or with more than 50 parameters, is
kept out of psycopg's cache) and quotes every value into the text; PostgreSQL then parses,
analyses and plans those nine CTEs again for every notification.

:func:`writes_in_one_bound_statement` is the same block (the same writes, kept the same
way, sent at the same moments), whose statement goes out with **server-side binding**:
the text is converted once per shape (``_CONVERTED``), the values travel as parameters,
and, unless ``KPAY_PREPARED_STATEMENTS`` is off (PgBouncer in transaction mode older than
1.21: README, "Beyond one machine"), the statement is **prepared** on the connection
(psycopg names it and re-uses it; PostgreSQL plans it once per connection). Anything
else on the connection keeps Django's cursor. The statement still goes through Django's
cursor wrapper, so execute wrappers and query logging (the query budget's tests) see it.

:class:`BoundQuery` is :class:`core.prepared.PreparedQuery` (a locking read compiled once)
sent the same way, and, as a transaction's first statement, in one round trip with its
``BEGIN`` (psycopg's pipeline mode: the two are sent together, then both answers read);
its rows' converters are looked up once, not per call.
"""

from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from .db import _WriteBatch, writes_in_one_statement
from .prepared import PreparedQuery, _Compiled

_CONVERTED: dict[tuple[bytes, str], tuple] = {}
_ONLY_WHEN_ASKED = 2**62  # a prepare_threshold never reached: psycopg prepares only on request
_SHAPES_KEPT = 64  # statements of more shapes are converted each time (they are not a hot path)


def _cursor_class():
    """Django's server-side binding cursor, converting each statement's text once."""
    global _Cursor
    if _Cursor is not None:
        return _Cursor
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg import _queries

    class CachedQuery(_queries.PostgresQuery):
        __slots__ = ()

        def convert(self, query, vars):
            if vars is None or not isinstance(query, str | bytes):
                return super().convert(query, vars)
            query = self._ensure_bytes(query)
            key = (query, self._tx.encoding)
            converted = _CONVERTED.get(key)
            if converted is None:
                converted = _queries._query2pg_nocache(query, self._tx.encoding)
                if len(_CONVERTED) < _SHAPES_KEPT:
                    _CONVERTED[key] = converted
            self.query, self._want_formats, self._order, self._parts = converted
            self.dump(vars)

    class Cursor(ServerBindingCursor):
        _query_cls = CachedQuery
        prepare_all = False
        with_begin = False  # the next statement: one round trip with a BEGIN that is due

        def execute(self, query, params=None, *, prepare=None, binary=None):
            if prepare is None and self.prepare_all:
                prepare = True
            if not self.with_begin:
                return super().execute(query, params, prepare=prepare, binary=binary)
            # psycopg's pipeline mode: the BEGIN and the statement are sent together and
            # both answers read before this returns, so Django's execute wrappers and
            # query log time the round trip (around the pipeline they saw only the send).
            self.with_begin = False
            with self.connection.pipeline():
                return super().execute(query, params, prepare=prepare, binary=binary)

        def _convert_query(self, query, params=None):
            # Kept where Django's query log reads it: psycopg leaves ``_query`` unset
            # when it runs a prepared statement.
            self._query = super()._convert_query(query, params)
            return self._query

    _Cursor = Cursor
    return _Cursor


_Cursor = None


class _BoundBatch(_WriteBatch):
    unnest = False  # prepared once per connection: several rows as VALUES, no arrays to dump

    def cursor(self):
        return bound_cursor()


def bound_cursor(conn=None, *, with_begin: bool = False):
    """A Django cursor (wrappers, logging, errors) over a server-binding psycopg cursor
    that prepares what it runs unless ``KPAY_PREPARED_STATEMENTS`` is off; on ``conn``, the
    default connection's wrapper (looked up if not given). ``with_begin``: its first
    statement goes in one round trip with its transaction's ``BEGIN``, if one is due."""
    if conn is None:
        conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each use of the proxy is a lookup
    conn.ensure_connection()
    raw = _cursor_class()(conn.connection)
    if getattr(settings, "KPAY_PREPARED_STATEMENTS", True):
        if conn.connection.prepare_threshold is None:
            # Django turns psycopg's preparing off (None) unless OPTIONS say otherwise;
            # then only what is asked for (``prepare=True``, here) is prepared.
            conn.connection.prepare_threshold = _ONLY_WHEN_ASKED
        raw.prepare_all = True  # Django's wrapper passes no ``prepare``: the cursor asks (Cursor.execute)
    raw.with_begin = with_begin
    with conn.wrap_database_errors:
        return conn._prepare_cursor(raw)


class BoundQuery(PreparedQuery):
    """:class:`core.prepared.PreparedQuery` bound and prepared on the server; as its
    transaction's first statement, sent together with the ``BEGIN`` (PostgreSQL)."""

    def first(self, **params):
        conn = connections[DEFAULT_DB_ALIAS]
        if conn.vendor != "postgresql":
            return super().first(**params)
        if set(params) != set(self.stand_ins):
            raise TypeError(f"expected parameters {sorted(self.stand_ins)}, got {sorted(params)}")
        if conn.vendor not in self._compiled:
            self._compiled[conn.vendor] = _Compiled.of(self.build(**self.stand_ins), self.stand_ins)
        compiled = self._compiled[conn.vendor]
        if compiled is None:
            return self.build(**params).first()
        values = list(compiled.params)
        for position, name in compiled.slots.items():
            values[position] = params[name]
        with bound_cursor(conn, with_begin=True) as cursor:
            cursor.execute(compiled.sql, values)  # sent with the BEGIN, if one is due
            rows = cursor.fetchall()
        if not rows:
            return None
        converters = getattr(compiled, "bound_converters", None)
        if converters is None:
            compiler = compiled.compiler
            converters = compiled.bound_converters = compiler.get_converters(
                [s[0] for s in compiler.select[0 : compiler.col_count]]
            )
        if converters:
            rows = list(compiled.compiler.apply_converters(rows, converters))
        row = rows[0]
        obj = compiled.model.from_db(compiled.db, compiled.init_list, row[compiled.model_slice])
        for populator in compiled.related_populators:
            populator.populate(row, obj)
        for name, position in compiled.annotations.items():
            setattr(obj, name, row[position])
        return obj


@contextmanager
def writes_in_one_bound_statement():
    """:func:`core.db.writes_in_one_statement`, its statement bound and prepared on the
    server (PostgreSQL); elsewhere, and nested in another such block, the same as it."""
    with writes_in_one_statement(_BoundBatch):
        yield
