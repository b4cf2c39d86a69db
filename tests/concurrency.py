"""Real concurrency on PostgreSQL for the tests: threads, each with its own connection,
released at the same moment."""

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def race_all(calls: Sequence[Callable]):
    """Run each of ``calls`` in its own thread, all released at once; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def race(n: int, fn: Callable):
    """Run ``fn`` in ``n`` threads released at the same moment; return their results."""
    return race_all([fn] * n)
