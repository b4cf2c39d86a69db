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
