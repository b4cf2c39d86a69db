"""Small database helpers that more than one app needs."""

from contextlib import nullcontext

from django.db import connection, transaction


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


def one_statement_writes() -> bool:
    """Whether the database runs data-modifying CTEs (PostgreSQL does, SQLite does not)."""
    return connection.vendor == "postgresql"


def insert_sql(objs, *, returning: str | None = "id") -> tuple[str, list]:
    """The ORM's ``INSERT`` of ``objs`` (one model, unsaved) as SQL and positional
    parameters, with ``RETURNING <returning>``: what ``bulk_create`` would send."""
    from django.db.models import sql

    model = type(objs[0])
    fields = [
        f for f in model._meta.concrete_fields if not f.primary_key or getattr(objs[0], f.attname) is not None
    ]
    query = sql.InsertQuery(model)
    query.insert_values(fields, objs)
    compiler = query.get_compiler(connection=connection)
    if returning:
        compiler.returning_fields = [model._meta.get_field(returning)]
    [(statement, params)] = compiler.as_sql()
    return statement, list(params)


def with_ctes(ctes: list[tuple[str, list]], final: tuple[str, list]) -> tuple[str, list]:
    """``WITH name AS (…), … <final>`` from ``(sql, params)`` pairs, in order (the
    parameters are positional, so the text's order is theirs)."""
    sql = "WITH " + ",\n".join(cte for cte, _ in ctes) + "\n" + final[0]
    params = [p for _, cte_params in ctes for p in cte_params] + list(final[1])
    return sql, params
