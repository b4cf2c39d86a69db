#!/usr/bin/env python
"""Time the whole path of one paid order and count its SQL statements.

Checkout (with the risk assessment) → payment start (the cashier URL's signature) → the
gateway's signed notification through the webhook view (verification, lock, payment,
order, ledger, enrollment, event). The gateway's own work (signing the notification) is
not timed. Each step's time is split into waiting on the database (from sending a
statement to having its rows) and the rest (Python: Django, kpay, the signature).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kpay .venv/bin/python bench/paid_order.py --orders 500
    … bench/paid_order.py --profile 200   # and where the Python time goes (cProfile)

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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.db import connection
from django.test.utils import CaptureQueriesContext, setup_databases, teardown_databases

STEPS = ("checkout", "payment start", "notification")


class DatabaseWait:
    """A connection execute wrapper adding up the time spent in the database driver."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="paid orders to time (default 300)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="then profile N more orders")
    parser.add_argument("--log", action="store_true", help="keep the request log (stderr) on")
    args = parser.parse_args()
    if not args.log:
        logging.disable(logging.INFO)  # one log line per request: to stderr, not timed here

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        run(args.orders, args.warmup, args.profile)
    finally:
        teardown_databases(old_config, verbosity=0)


def run(count: int, warmup: int, profile: int) -> None:
    from django.conf import settings

    from orders.models import Order
    from orders.services import order_checkout
    from payments.services import payment_start
    from tests.factories import CourseFactory, UserFactory
    from tests.sandbox import SandboxDriver

    sandbox = SandboxDriver(settings)
    course = CourseFactory(price=9900)
    learners = UserFactory.create_batch(count + warmup + profile)
    wait = DatabaseWait()
    profiler = cProfile.Profile()
    totals, statements, cpu = [], [], []
    steps = {step: ([], []) for step in STEPS}  # wall, database (ms)

    def timed(step, record, call, *args, **kwargs):
        before, started, cpu_started = wait.seconds, time.perf_counter(), time.process_time()
        result = call(*args, **kwargs)
        wall, db = time.perf_counter() - started, wait.seconds - before
        if record:
            cpu.append((time.process_time() - cpu_started) * 1000)
        if record:
            steps[step][0].append(wall * 1000)
            steps[step][1].append(db * 1000)
        return result, wall

    with connection.execute_wrapper(wait):
        for i, learner in enumerate(learners):
            record = warmup <= i < warmup + count
            profiling = i >= warmup + count
            if profiling:
                profiler.enable()
            with CaptureQueriesContext(connection) as first:
                result, t1 = timed(
                    "checkout", record, order_checkout, learner=learner, course_slug=course.slug
                )
                payment, t2 = timed(
                    "payment start",
                    record,
                    payment_start,
                    learner=learner,
                    order_no=result.order.order_no,
                    channel="sandbox",
                )
            profiler.disable()
            body = sandbox.trade_event(payment)  # the gateway's side
            headers = sandbox.headers(body)
            if profiling:
                profiler.enable()
            with CaptureQueriesContext(connection) as second:
                response, t3 = timed("notification", record, sandbox.post, body, headers)
            profiler.disable()
            assert response.status_code == 204, response.content
            if record:
                totals.append((t1 + t2 + t3) * 1000)
                statements.append(len(first) + len(second))
    assert Order.objects.filter(status=Order.Status.FULFILLED).count() == len(learners)

    totals.sort()
    print(f"database      {connection.vendor} ({settings.DATABASES['default']['NAME']})")
    print(f"paid orders   {count} (after {warmup} warm-up)")
    print(f"statements    {max(statements)} per paid order (min {min(statements)}, BEGIN/COMMIT included)")
    print(f"median        {statistics.median(totals):.2f} ms")
    print(f"p95           {totals[int(len(totals) * 0.95) - 1]:.2f} ms")
    print(f"mean          {statistics.fmean(totals):.2f} ms")
    print(f"throughput    {1000 / statistics.fmean(totals):.0f} paid orders/s on one connection")
    print(f"Python CPU    {sum(cpu) / count:.2f} ms/order (this process; the reference prints the same)")
    print("per step (median ms)   total   database   python")
    for step, (walls, dbs) in steps.items():
        python = [w - d for w, d in zip(walls, dbs, strict=True)]
        print(
            f"  {step:<20} {statistics.median(walls):7.2f}   {statistics.median(dbs):8.2f}"
            f"   {statistics.median(python):6.2f}"
        )
    if profile:
        print(f"\nprofile of {profile} paid orders (kpay's part), by own time:")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
