"""Small database helpers that more than one app needs."""

import contextvars
from contextlib import contextmanager, nullcontext
from datetime import datetime
from types import MethodType
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction


def statement_guard():
    """Wrap one statement that may raise IntegrityError so the caller can recover.

    In autocommit a single statement is its own transaction: no BEGIN/COMMIT needed.
    Inside a caller's transaction a failed statement would poison it, so a savepoint
    is used there.
    """
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


# -- one round trip for several writes (PostgreSQL) ------------------------------------
#
# The paid-order path has a statement budget (tests/flows/test_query_budget.py). Where
# one business step writes several tables (an order with its coupon's redemption and
# the points it spends), PostgreSQL runs the writes as one statement with
# data-modifying CTEs. The helpers below build such a statement from the ORM's own
# INSERT (so the model's columns, defaults and ``auto_now_add`` stay the ORM's) and
# from CTE fragments the owning apps provide, each written beside the code it replaces.
# Other databases (the embedded SQLite default) take the ORM path, statement by statement.


# psycopg turns a statement's ``%s`` placeholders into its template once per statement
# text (an LRU cache of 128), but only for statements of at most 50 parameters; above
# that it parses the text again on every execute (``psycopg._queries._split_query``).
# The paid-order path's one-statement writes take just over 50 (checkout's, 52; the
# notification's, 52), and parsing them was a fifth of checkout's Python. The cache
# keeps its size; each entry may now hold a statement of up to this many parameters.
STATEMENT_CACHE_PARAMS = 200


def cache_long_statements() -> None:
    """Let psycopg cache the conversion of statements of up to
    :data:`STATEMENT_CACHE_PARAMS` parameters (called once, from ``CoreConfig.ready``)."""
    try:
        from psycopg import _queries
    except ImportError:  # another driver: nothing to tune
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS"):
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(
            _queries.MAX_CACHED_STATEMENT_PARAMS, STATEMENT_CACHE_PARAMS
        )


def one_statement_writes() -> bool:
    """Whether the database runs data-modifying CTEs (PostgreSQL does, SQLite does not)."""
    return default_vendor() == "postgresql"


_VENDORS: dict[str, str] = {}  # ENGINE → its wrapper's vendor


def default_vendor() -> str:
    """``connections[DEFAULT_DB_ALIAS].vendor``, without that lookup: ``connections[…]``
    is a per-thread (asgiref ``Local``) lookup, about twenty of which a notification
    made only to ask for the vendor, the same each time. A vendor is its ``ENGINE``'s
    (the class of its wrapper), so it is kept per ``ENGINE`` as the settings name it."""
    engine = connections.settings[DEFAULT_DB_ALIAS]["ENGINE"]
    vendor = _VENDORS.get(engine)
    if vendor is None:
        vendor = _VENDORS[engine] = connections[DEFAULT_DB_ALIAS].vendor
    return vendor


def insert_sql(
    objs,
    *,
    returning: str | None = "id",
    on_conflict=None,
    unique_fields=(),
    update_fields=(),
    unnest: bool = True,
) -> tuple[str, list]:
    """The ORM's ``INSERT`` of ``objs`` (one model, unsaved) as SQL and positional
    parameters, with ``RETURNING <returning>``: what ``bulk_create`` would send (with
    its ``ignore_conflicts`` or ``update_conflicts``: ``on_conflict``, field names).
    Compiled once per shape (:data:`_SHAPES`). Several rows go as PostgreSQL's
    ``SELECT * FROM UNNEST(arrays)``, as the ORM sends them, unless ``unnest`` is False:
    then as ``VALUES (…), (…)`` (for a statement prepared on the server, where UNNEST's
    gain, a shorter text to plan, is gone and dumping each array costs psycopg more than
    its values one by one)."""
    from django.db.models import sql

    model = type(objs[0])
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.primary_key or getattr(objs[0], f.attname) is not None]
    unnest = unnest or len(objs) == 1
    key = (default_vendor(), model, tuple(f.attname for f in fields), len(objs), returning, on_conflict)
    key += (tuple(unique_fields), tuple(update_fields), unnest)
    shape = _SHAPES.get(key)
    if shape is not None:
        statement, layout, plan = shape
        rows = [_prepared(plan, obj, add=True) for obj in objs]
        if None not in rows:
            return statement, _laid_out(layout, rows)
    query = sql.InsertQuery(
        model,
        on_conflict=on_conflict,
        update_fields=[opts.get_field(name) for name in update_fields],
        unique_fields=[opts.get_field(name) for name in unique_fields],
    )
    query.insert_values(fields, objs)
    compiler = query.get_compiler(connection=connection)
    if not unnest:
        from django.db.models.sql.compiler import SQLInsertCompiler

        compiler.assemble_as_sql = MethodType(SQLInsertCompiler.assemble_as_sql, compiler)  # VALUES rows
    if returning:
        compiler.returning_fields = [model._meta.get_field(returning)]
    [(statement, params)] = compiler.as_sql()
    if shape is None:
        plan = _plan(fields)
        layout = _layout_of(params, [_prepared(plan, obj, add=False, sent=True) for obj in objs])
        if layout is not None:
            _SHAPES[key] = (statement, layout, plan)
    return statement, list(params)


def _layout_of(params, rows) -> str | None:
    """How the compiler laid out the rows we prepared in ``params`` (None: not as we
    prepared them)."""
    if None in rows:
        return None
    for layout in ("rows", "columns"):  # columns: PostgreSQL's INSERT … SELECT * FROM UNNEST(arrays)
        if _same(params, _laid_out(layout, rows)):
            return layout
    return None


def _laid_out(layout: str, rows: list[list]) -> list:
    if layout == "columns":
        return [list(column) for column in zip(*rows, strict=True)]
    return [value for row in rows for value in row]


def insert_rows_sql(
    model,
    rows: list[dict],
    *,
    returning: str | None = "id",
    on_conflict=None,
    unique_fields=(),
    update_fields=(),
    unnest: bool = True,
) -> tuple[str, list]:
    """:func:`insert_sql` of rows given as values (``{attname: value}``, the same keys
    in each; a field left out takes its default) rather than model instances. The
    instances are built once per shape, to compile the statement and check that the
    values prepared from the rows are the compiler's."""
    options = {"returning": returning, "on_conflict": on_conflict, "unnest": unnest}
    options.update(unique_fields=tuple(unique_fields), update_fields=tuple(update_fields))
    key = (default_vendor(), model, "values", tuple(rows[0]), len(rows), *options.values())
    shape = _SHAPES.get(key)
    if shape is not None:
        statement, layout, plan, defaults = shape
        prepared = [_prepared(plan, _Row(row, defaults), add=True) for row in rows]
        if None not in prepared:
            return statement, _laid_out(layout, prepared)
    given = set(rows[0])
    defaults = tuple(
        (f.attname, f) for f in model._meta.concrete_fields if f.attname not in given and not f.primary_key
    )
    filled = [_Row(row, defaults).__dict__ for row in rows]
    statement, params = insert_sql([model(**row) for row in filled], **options)
    if shape is None:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.attname in given]
        plan = _plan(fields)
        layout = _layout_of(params, [_prepared(plan, _Row(row, ()), add=False, sent=True) for row in filled])
        if layout is not None:
            _SHAPES[key] = (statement, layout, plan, defaults)
    return statement, params


class _Row:
    """A row's values where the fields' methods expect a model instance (a stock
    ``pre_save`` reads the attribute, ``auto_now`` sets it); ``defaults``: the fields
    left out, each given its default."""

    def __init__(self, values: dict, defaults: tuple):
        self.__dict__ = (
            {**values, **{name: field.get_default() for name, field in defaults}} if defaults else values
        )


def save_new(obj, *, cursor=None) -> None:
    """``obj.save(force_insert=True)`` with the INSERT compiled once per shape
    (:func:`insert_sql`): ``pre_save`` and ``post_save`` are sent as ``save()`` sends
    them, the primary key comes back, ``IntegrityError`` is the ORM's. For a model of
    the paid-order path that does not override ``save()`` (others take ``save()``);
    compiling the INSERT was most of ``save()``'s cost there (``bench/paid_order.py``).
    ``cursor``: a factory of the cursor to send it with on PostgreSQL
    (``core.bound.bound_cursor``: bound on the server and prepared, so psycopg neither
    quotes the values into the text nor PostgreSQL parses it again)."""
    from django.db.models import Model
    from django.db.models.signals import post_save, pre_save

    model = type(obj)
    pk = model._meta.pk
    plain = _PLAIN_SAVE.get(model)
    if plain is None:
        plain = _PLAIN_SAVE[model] = not (
            model.save is not Model.save
            or model._meta.parents
            or any(field.has_db_default() for field in model._meta.concrete_fields)
        )
    if not plain or getattr(obj, pk.attname) is not None:
        obj.save(force_insert=True)
        return
    using = connection.alias
    pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
    statement, params = insert_sql([obj], returning=pk.name)
    bound = cursor is not None and connection.vendor == "postgresql"
    with cursor() if bound else connection.cursor() as sent:
        sent.execute(statement, params)
        (value,) = sent.fetchone()
    setattr(obj, pk.attname, value)
    obj._state.adding = False
    obj._state.db = using
    post_save.send(sender=model, instance=obj, created=True, update_fields=None, raw=False, using=using)


_PLAIN_SAVE: dict[type, bool] = {}  # per model: save() is Model.save, no parents, no db_default


# The SQL text of a small INSERT or UPDATE depends only on its shape (model, fields,
# rows, options); compiling it was most of the ORM's cost of such a write on the
# paid-order path. Kept per shape, with how its parameters are laid out and how each
# field's value is prepared (:func:`_plan`). A value that is an expression (``F()``…)
# is compiled the ORM's way every time.
_SHAPES: dict[tuple, tuple[str, str, tuple]] = {}


# Preparing a value the ORM's way (``pre_save``, then ``get_db_prep_save`` down through
# ``get_db_prep_value``, ``get_prep_value`` and ``to_python``, each asking the connection
# proxy for its backend) was about a fifth of the notification's Python: ten model
# instances of about ten fields each. For a field of a stock class whose value already
# has the type it stores (a ``str`` for a CharField, an ``int`` for an IntegerField, an
# aware ``datetime``…), that chain returns the value itself, or the backend's adapter of
# it (psycopg's ``Int4`` for an IntegerField): the plan goes there directly (a
# ``TextChoices`` member as the plain ``str`` it is, :func:`_plain_str`). Anything
# else (another type, a field of another class, JSON, ``auto_now``) takes the chain.
# Each shape's prepared values are compared once with the compiler's own parameters
# (type and value) before the shape is kept.
_VALUE_METHODS = ("pre_save", "get_db_prep_save", "get_db_prep_value", "get_prep_value", "to_python")


def _is_str(value) -> bool:
    return isinstance(value, str)  # TextChoices members too: to_python hands them on as they are


def _plain_str(value: str) -> str:
    """A ``TextChoices`` member sent as the plain string it is (``core.prepared.plain_strings``
    says why): the same text to the database."""
    return value if type(value) is str else str.__str__(value)


def _kind(value) -> type:
    return str if isinstance(value, str) else type(value)


def _is_int(value) -> bool:
    return type(value) is int  # not bool


def _is_bool(value) -> bool:
    return type(value) is bool


def _is_aware(value) -> bool:
    return type(value) is datetime and value.tzinfo is not None


def _is_uuid(value) -> bool:
    return type(value) is UUID


def _direct(field, conn):
    """``(accepts, convert)``: values ``accepts`` takes are prepared as
    ``convert(value)`` (None: as they are) by ``field``'s own methods on ``conn``;
    None when the field's class is not one known here (PostgreSQL only)."""
    from django.db import models

    if conn.vendor != "postgresql" or _stamped(field):
        return None

    def stock(cls) -> bool:
        return all(getattr(type(field), name) is getattr(cls, name) for name in _VALUE_METHODS)

    if stock(models.ForeignKey) and field.many_to_one:
        target = field.target_field
        if any(all(getattr(type(target), n) is getattr(c, n) for n in _VALUE_METHODS) for c in _AUTO):
            return _is_int, conn.ops.validate_autopk_value
        return None
    if stock(models.CharField) or stock(models.TextField):
        return _is_str, _plain_str
    if stock(models.IntegerField):  # and BigIntegerField, PositiveIntegerField…: one set of methods
        internal_type = field.get_internal_type()
        adapt = conn.ops.adapt_integerfield_value
        return _is_int, lambda value: adapt(value, internal_type)
    if any(stock(cls) for cls in _AUTO):
        return _is_int, conn.ops.validate_autopk_value
    if stock(models.BooleanField):
        return _is_bool, None
    if stock(models.DateTimeField):
        return _is_aware, conn.ops.adapt_datetimefield_value
    if stock(models.UUIDField) and conn.features.has_native_uuid_field:
        return _is_uuid, None
    return None


def _auto_classes():
    from django.db import models

    return (models.AutoField, models.BigAutoField, models.SmallAutoField)


_AUTO = _auto_classes()


def _stamped(field) -> bool:
    return getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)


def _plan(fields) -> tuple:
    """How each of ``fields`` is prepared: ``(field, attname, accepts, convert,
    stamped)`` (see :func:`_direct`; ``accepts`` None: the field's own methods each time)."""
    conn = connections[DEFAULT_DB_ALIAS]
    return tuple(
        (field, field.attname, *(_direct(field, conn) or (None, None)), _stamped(field)) for field in fields
    )


def _prepared(plan, obj, *, add: bool, sent: bool = False) -> list | None:
    """The parameters of ``obj``'s fields as the compiler prepares them (``sent``: as it
    just did, without stamping ``auto_now`` fields again; a ``str`` subclass as plain
    ``str``, :func:`_plain_str`); None for an expression."""
    conn = None  # looked up (connections[…], per thread) only for a value the plan does not take
    state = obj.__dict__
    values = []
    for field, attname, accepts, convert, stamped in plan:
        if accepts is not None:
            value = state[attname] if attname in state else getattr(obj, attname)
            if value is None or accepts(value):
                values.append(value if convert is None or value is None else convert(value))
                continue
        else:
            value = getattr(obj, attname) if sent and stamped else field.pre_save(obj, add)
        if hasattr(value, "resolve_expression") or hasattr(field, "get_placeholder"):
            return None
        if conn is None:
            conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each use of the proxy is a lookup
        value = field.get_db_prep_save(value, connection=conn)
        values.append(str.__str__(value) if isinstance(value, str) and type(value) is not str else value)
    return values


def _same(compiled: list, ours: list) -> bool:
    """Whether parameters we prepared are the compiler's (JSON adapters compare by content)."""
    if len(compiled) != len(ours):
        return False
    for a, b in zip(compiled, ours, strict=True):
        if isinstance(a, list | tuple) and isinstance(b, list | tuple):
            if not _same(list(a), list(b)):
                return False
        elif _kind(a) is not _kind(b) or getattr(a, "obj", a) != getattr(b, "obj", b):
            return False
    return True


def with_ctes(ctes: list[tuple[str, list]], final: tuple[str, list]) -> tuple[str, list]:
    """``WITH name AS (…), … <final>`` from ``(sql, params)`` pairs, in order (the
    parameters are positional, so the text's order is theirs)."""
    sql = "WITH " + ",\n".join(cte for cte, _ in ctes) + "\n" + final[0]
    params = [p for _, cte_params in ctes for p in cte_params] + list(final[1])
    return sql, params


# -- a business step's writes in one round trip (PostgreSQL) ------------------------------
#
# Inside ``writes_in_one_statement()``, :func:`db_insert`, :func:`db_update` and
# :func:`db_ctes` do not reach the database at once: they are kept and sent together,
# as one statement of data-modifying CTEs, when the block ends, or just before any other
# statement this connection sends meanwhile (so a read in between still sees them, and
# the database applies every write in the order the code made it). It replaces one
# round trip per write (the paid notification made eight) with one. Errors (a
# constraint refusing a row) surface when the batch is sent: code that catches a
# write's IntegrityError writes outside such a block. Outside a block, and on databases
# without data-modifying CTEs, each helper is the ORM's own call, as before.

_batch: contextvars.ContextVar["_WriteBatch | None"] = contextvars.ContextVar(
    "kpay_write_batch", default=None
)


class _WriteBatch:
    unnest = True  # several rows as UNNEST(arrays), as the ORM sends them (insert_sql)

    def __init__(self):
        self.ctes: list[tuple[str, list]] = []
        self.sending = False

    def add(self, sql: str, params, *, cte: bool = False) -> None:
        fragment = sql if cte else f"w{len(self.ctes)} AS ({sql})"
        self.ctes.append((fragment, list(params)))

    def send(self) -> None:
        if not self.ctes:
            return
        ctes, self.ctes = self.ctes, []
        self.sending = True
        try:
            with self.cursor() as cursor:
                cursor.execute(*with_ctes(ctes, ("SELECT 1", [])))
        finally:
            self.sending = False

    def cursor(self):
        """The cursor the statement goes through (:mod:`core.bound` binds it on the server)."""
        return connection.cursor()

    def send_first(self, execute, sql, params, many, context):
        """Connection execute wrapper: anything else this connection sends goes after
        the writes kept so far."""
        if self.ctes and not self.sending:
            self.send()
        return execute(sql, params, many, context)


@contextmanager
def writes_in_one_statement(batch_class: type[_WriteBatch] | None = None):
    """Send the writes made through :func:`db_insert`, :func:`db_update` and
    :func:`db_ctes` in this block as one statement (PostgreSQL; elsewhere, and nested,
    each goes as it comes). Use inside the caller's transaction. ``batch_class`` sends
    the statement its own way (:mod:`core.bound`: bound and prepared on the server)."""
    if _batch.get() is not None or not one_statement_writes():  # nested: the outer block's
        yield
        return
    batch = (batch_class or _WriteBatch)()
    token = _batch.set(batch)
    try:
        with connection.execute_wrapper(batch.send_first):
            yield
            batch.send()
    finally:
        _batch.reset(token)


def db_insert(objs, **bulk_create_options) -> list:
    """``bulk_create(objs, **options)``, or kept for the block's one statement (then
    the rows get no primary key back: nobody on such a path needs it)."""
    batch = _batch.get()
    if batch is None or not objs:
        return type(objs[0])._default_manager.bulk_create(objs, **bulk_create_options) if objs else objs
    _conflict_option(bulk_create_options)
    batch.add(*insert_sql(objs, returning=None, unnest=batch.unnest, **bulk_create_options))
    return objs


def db_insert_rows(model, rows: list[dict], **bulk_create_options) -> None:
    """:func:`db_insert` of rows given as values (``{attname: value}``, the same keys in
    each row; a field left out takes its default), for a path that only writes them
    (histories, journal legs, events): building a model instance per row (every field
    through ``Model.__init__`` and its descriptor) cost more than preparing its values.
    Outside a batch (and on databases without data-modifying CTEs) the instances are
    built and go as ``bulk_create`` sends them."""
    if not rows:
        return
    batch = _batch.get()
    if batch is None:
        model._default_manager.bulk_create([model(**row) for row in rows], **bulk_create_options)
        return
    _conflict_option(bulk_create_options)
    batch.add(*insert_rows_sql(model, rows, returning=None, unnest=batch.unnest, **bulk_create_options))


def _conflict_option(options: dict) -> None:
    """``bulk_create``'s ``ignore_conflicts``/``update_conflicts`` as the compiler's ``on_conflict``."""
    from django.db.models.constants import OnConflict

    if options.pop("ignore_conflicts", False):
        options["on_conflict"] = OnConflict.IGNORE
    elif options.pop("update_conflicts", False):
        options["on_conflict"] = OnConflict.UPDATE


def db_update(obj, fields: list[str]) -> None:
    """``obj.save(update_fields=fields)``, or its ``UPDATE`` kept for the block's one
    statement (no ``pre_save``/``post_save`` signals then: the models written on such a
    path have no receiver of an update)."""
    batch = _batch.get()
    if batch is None:
        obj.save(update_fields=fields)
        return
    statement, params = update_sql(obj, fields)
    batch.add(statement, params)


def update_sql(obj, fields: list[str]) -> tuple[str, list]:
    """The ``UPDATE`` that ``obj.save(update_fields=fields)`` sends, as SQL and
    parameters; compiled once per shape (:data:`_SHAPES`)."""
    from django.db.models import sql

    model = type(obj)
    conn = connections[DEFAULT_DB_ALIAS]
    key = (conn.vendor, model, "update", tuple(fields))
    shape = _SHAPES.get(key)
    pk = model._meta.pk.get_db_prep_value(obj.pk, connection=conn)
    if shape is not None:
        values = _prepared(shape[2], obj, add=False)
        if values is not None:
            return shape[0], [*values, pk]
    model_fields = [model._meta.get_field(name) for name in fields]
    plan = _plan(model_fields)
    values = _prepared(plan, obj, add=False)
    query = sql.UpdateQuery(model)
    query.add_update_fields([(field, None, field.pre_save(obj, False)) for field in model_fields])
    query.add_filter("pk", obj.pk)
    statement, params = query.get_compiler(connection=connection).as_sql()
    if shape is None and values is not None and _same(list(params), [*values, pk]):
        _SHAPES[key] = (statement, "rows", plan)
    return statement, list(params)


def db_ctes(ctes: tuple[str, list]) -> None:
    """Data-modifying CTEs (``name AS (…), …`` and their parameters, PostgreSQL only):
    kept for the block's one statement, or sent now as ``WITH … SELECT 1``."""
    batch = _batch.get()
    if batch is None:
        with connection.cursor() as cursor:
            cursor.execute(*with_ctes([ctes], ("SELECT 1", [])))
        return
    batch.add(*ctes, cte=True)
