#!/usr/bin/env python
"""Time the whole path of one paid order and count its SQL statements.

Checkout (with the risk assessment) → payment start (the cashier URL's signature) → the
gateway's signed notification through the webhook view (verification, lock, payment,
order, ledger, enrollment, event). The gateway's own work (signing the notification) is
not timed. Each step's time is split into waiting on the database (from sending a
statement to having its rows, and from sending ``COMMIT`` to its answer: the WAL flush
that makes the step durable) and the rest (Python: Django, kpay, the signature); each
step's Python CPU time (``time.process_time``) and statements are printed beside it, and
with ``--profile`` its function calls per order: both hardly move with the machine's
load, unlike wall times. The commit floor (a one-row INSERT in autocommit, timed in the
same run) is what one durable commit costs on this machine at that moment.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kpay .venv/bin/python bench/paid_order.py --orders 500
    … bench/paid_order.py --profile 200   # and where the Python time goes (cProfile)
    … bench/paid_order.py --profile 300 --sort cumulative   # the same, callees included

It creates and drops its own test database (test_<name>), as the test runner does.
Compare with the reference measured in the same session:
``bash ../shared/bench/oscar/run.sh`` (its README).
"""

import argparse
import cProfile
import logging
import os
import pstats
import statistics
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext, setup_databases, teardown_databases

STEPS = ("checkout", "payment start", "notification")


class DatabaseWait:
    """A connection execute wrapper adding up the time spent in the database driver.

    Django sends a transaction's ``COMMIT`` past its execute wrappers (``connection.commit()``
    calls the driver's), so :meth:`counting_commits` times those too: without them a
    step's durable commit (its WAL flush, several milliseconds on a slow disk) was counted
    as Python."""

    def __init__(self):
        self.seconds = 0.0
        self.commit_seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started

    @contextmanager
    def counting_commits(self, conn):
        commit = conn._commit  # what BaseDatabaseWrapper.commit() calls: the driver's commit

        def timed_commit():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                elapsed = time.perf_counter() - started
                self.seconds += elapsed
                self.commit_seconds += elapsed

        conn._commit = timed_commit
        try:
            yield self
        finally:
            del conn._commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="paid orders to time (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed orders first (default 30)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="then profile N more orders")
    parser.add_argument(
        "--step", choices=STEPS, help="with --profile: that step's profile only (by cumulative CPU time)"
    )
    parser.add_argument(
        "--sort",
        choices=("tottime", "cumulative"),
        help="the profile's order: own CPU time (tottime; the default for all steps) or with callees"
        " (cumulative; the default for --step)",
    )
    parser.add_argument("--log", action="store_true", help="keep the request log (stderr) on")
    args = parser.parse_args()
    if not args.log:
        logging.disable(logging.INFO)  # one log line per request: to stderr, not timed here
    # DEBUG off, as in production, under the test runner and in the reference's bench: with
    # it on (the development default) every statement went through Django's debug cursor
    # (its text rebuilt with the values and kept in memory), a cost production does not pay.
    # The statements are still counted (CaptureQueriesContext forces that cursor).
    settings.DEBUG = False

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        run(args.orders, args.warmup, args.profile, args.step, args.sort)
    finally:
        teardown_databases(old_config, verbosity=0)


def run(count: int, warmup: int, profile: int, only: str | None = None, sort: str | None = None) -> None:
    from orders.models import Order
    from orders.services import order_checkout
    from payments.services import payment_start
    from tests.factories import CourseFactory, UserFactory
    from tests.sandbox import SandboxDriver

    sandbox = SandboxDriver(settings)
    course = CourseFactory(price=9900)
    learners = UserFactory.create_batch(count + warmup + profile)
    wait = DatabaseWait()
    totals, cpu = [], []
    steps = {step: ([], [], [], []) for step in STEPS}  # wall, database, CPU, of it COMMIT (ms)
    # Statements per step, BEGIN/COMMIT included, counted on the last warm-up orders only:
    # capturing them (Django's debug cursor) costs Python time the timed orders must not pay.
    sent = {step: [] for step in STEPS}
    counted = range(max(0, warmup - 10), warmup)
    # Function calls per step (--profile), timed in CPU time: waiting on the database or for
    # a core on a loaded machine is not counted against the code that waits.
    calls = {step: cProfile.Profile(time.process_time) for step in STEPS}

    def timed(i, step, call, *args, **kwargs):
        profiling, record = i >= warmup + count, warmup <= i < warmup + count
        if profiling:
            calls[step].enable()
        with CaptureQueriesContext(connection) if i in counted else nullcontext() as captured:
            before, committing = wait.seconds, wait.commit_seconds
            started, cpu_started = time.perf_counter(), time.process_time()
            result = call(*args, **kwargs)
            wall, db = time.perf_counter() - started, wait.seconds - before
            commit = wait.commit_seconds - committing
            step_cpu = time.process_time() - cpu_started
        if profiling:
            calls[step].disable()
        if captured is not None:
            sent[step].append(len(captured))
        if record:
            cpu.append(step_cpu * 1000)
            values = (wall * 1000, db * 1000, step_cpu * 1000, commit * 1000)
            for column, value in zip(steps[step], values, strict=True):
                column.append(value)
        return result, wall

    with connection.execute_wrapper(wait), wait.counting_commits(connection):
        for i, learner in enumerate(learners):
            result, t1 = timed(i, "checkout", order_checkout, learner=learner, course_slug=course.slug)
            payment, t2 = timed(
                i,
                "payment start",
                payment_start,
                learner=learner,
                order_no=result.order.order_no,
                channel="sandbox",
            )
            body = sandbox.trade_event(payment)  # the gateway's side
            headers = sandbox.headers(body)
            response, t3 = timed(i, "notification", sandbox.post, body, headers)
            assert response.status_code == 204, response.content
            if warmup <= i < warmup + count:
                totals.append((t1 + t2 + t3) * 1000)
    assert Order.objects.filter(status=Order.Status.FULFILLED).count() == len(learners)
    floor = commit_floor(count)

    totals.sort()
    print(f"database      {connection.vendor} ({settings.DATABASES['default']['NAME']})")
    print(f"paid orders   {count} (after {warmup} warm-up)")
    statements = [sum(per_order) for per_order in zip(*sent.values(), strict=True)]
    print(f"statements    {max(statements)} per paid order (min {min(statements)}, BEGIN/COMMIT included)")
    print(f"median        {statistics.median(totals):.2f} ms")
    print(f"p95           {totals[int(len(totals) * 0.95) - 1]:.2f} ms")
    print(f"mean          {statistics.fmean(totals):.2f} ms")
    print(f"throughput    {1000 / statistics.fmean(totals):.0f} paid orders/s on one connection")
    print(f"Python CPU    {sum(cpu) / count:.2f} ms/order (this process; the reference prints the same)")
    print(f"commit floor  {floor:.2f} ms (median one-row INSERT in autocommit, this run)")
    # statements: the most one order's step sent (the risk rules' 2 s copy, renewed, adds one).
    # database: COMMIT included (its own column: the commit's WAL flush, part of database).
    print("per step (median ms)   total   database   COMMIT   python   python CPU   statements   calls/order")
    print("                                                                          (at most)   (--profile)")
    for step, (walls, dbs, cpus, commits) in steps.items():
        python = [w - d for w, d in zip(walls, dbs, strict=True)]
        step_calls = f"{pstats.Stats(calls[step]).total_calls / profile:11.0f}" if profile else f"{'-':>11}"
        print(
            f"  {step:<20} {statistics.median(walls):7.2f}   {statistics.median(dbs):8.2f}"
            f"   {statistics.median(commits):6.2f}   {statistics.median(python):6.2f}"
            f"   {statistics.median(cpus):10.2f}   {max(sent[step]):10d}   {step_calls}"
        )
    order = {"cumulative": "cumulative CPU time", "tottime": "own CPU time"}
    if profile and only:
        sort = sort or "cumulative"
        print(f"\nprofile of {profile} paid orders' {only}, by {order[sort]}:")
        pstats.Stats(calls[only]).sort_stats(sort).print_stats(60)
    elif profile:
        sort = sort or "tottime"
        print(f"\nprofile of {profile} paid orders (kpay's part), by {order[sort]}:")
        pstats.Stats(*calls.values()).sort_stats(sort).print_stats(25 if sort == "tottime" else 60)


def commit_floor(count: int) -> float:
    """The median time of a one-row INSERT in autocommit (one durable commit, its WAL
    flush included) in this run: what a step that writes costs at least."""
    times = []
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_commit_floor (n integer)")  # in the bench's own database
        for n in range(count):
            started = time.perf_counter()
            cursor.execute("INSERT INTO bench_commit_floor VALUES (%s)", [n])
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()
