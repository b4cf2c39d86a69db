#!/usr/bin/env python
"""Time the whole path of one paid order and count its SQL statements.

Checkout (with the risk assessment) → payment start → the gateway's signed
notification through the webhook view (verification, lock, payment, order, ledger,
enrollment, event). The gateway's own work (signing the notification) is not timed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kpay .venv/bin/python bench/paid_order.py --orders 500

It creates and drops its own test database (test_<name>), as the test runner does.
"""

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="paid orders to time (default 300)")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        run(args.orders, args.warmup)
    finally:
        teardown_databases(old_config, verbosity=0)


def run(count: int, warmup: int) -> None:
    from django.conf import settings

    from orders.models import Order
    from orders.services import order_checkout
    from payments.services import payment_start
    from tests.factories import CourseFactory, UserFactory
    from tests.sandbox import SandboxDriver

    sandbox = SandboxDriver(settings)
    course = CourseFactory(price=9900)
    learners = UserFactory.create_batch(count + warmup)
    timings, statements = [], []
    for i, learner in enumerate(learners):
        with CaptureQueriesContext(connection) as first:
            started = time.perf_counter()
            order = order_checkout(learner=learner, course_slug=course.slug).order
            payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
            kpay_part = time.perf_counter() - started
        body = sandbox.trade_event(payment)  # the gateway's side
        headers = sandbox.headers(body)
        with CaptureQueriesContext(connection) as second:
            started = time.perf_counter()
            response = sandbox.post(body, headers)
            kpay_part += time.perf_counter() - started
        assert response.status_code == 204, response.content
        if i >= warmup:
            timings.append(kpay_part * 1000)
            statements.append(len(first) + len(second))
    assert Order.objects.filter(status=Order.Status.FULFILLED).count() == count + warmup

    timings.sort()
    print(f"database      {connection.vendor} ({settings.DATABASES['default']['NAME']})")
    print(f"paid orders   {count} (after {warmup} warm-up)")
    print(f"statements    {max(statements)} per paid order (min {min(statements)})")
    print(f"median        {statistics.median(timings):.2f} ms")
    print(f"p95           {timings[int(len(timings) * 0.95) - 1]:.2f} ms")
    print(f"mean          {statistics.fmean(timings):.2f} ms")
    print(f"throughput    {1000 / statistics.fmean(timings):.0f} paid orders/s on one connection")


if __name__ == "__main__":
    main()
