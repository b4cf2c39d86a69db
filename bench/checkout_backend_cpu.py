#!/usr/bin/env python
"""Checkout and payment start: each step's wall time, this process's CPU and the
PostgreSQL backend's CPU (parsing, planning and running its statements).

The backend's CPU is read from ``/proc/<backend pid>/stat`` around each step, so the
database must run on this machine. Unlike wall times it hardly moves with the load (it
counts no waiting for the disk or for a core), which makes it the figure to compare
code before and after on a busy machine: planning a statement shows there, and nowhere
else but in EXPLAIN. The clock ticks every 10 ms, so only the mean over many orders is
printed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kpay .venv/bin/python \
        bench/checkout_backend_cpu.py --orders 300

It creates and drops its own test database (test_<name>), as the test runner does.
"""

import argparse
import logging
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
from django.test.utils import setup_databases, teardown_databases

STEPS = ("checkout", "payment start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="orders to time (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed orders first (default 30)")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        run(args.orders, args.warmup)
    finally:
        teardown_databases(old_config, verbosity=0)


def run(count: int, warmup: int) -> None:
    from orders.services import order_checkout
    from payments.services import payment_start
    from tests.factories import CourseFactory, UserFactory

    course = CourseFactory(price=9900)
    learners = UserFactory.create_batch(count + warmup)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")
    tick = os.sysconf("SC_CLK_TCK")

    def backend_cpu() -> float:  # ms, user + system
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / tick

    walls = {step: [] for step in STEPS}
    cpus = {step: [] for step in STEPS}
    backend = dict.fromkeys(STEPS, 0.0)

    def timed(i, step, call, **kwargs):
        before, cpu, started = backend_cpu(), time.process_time(), time.perf_counter()
        result = call(**kwargs)
        if i >= warmup:
            walls[step].append((time.perf_counter() - started) * 1000)
            cpus[step].append((time.process_time() - cpu) * 1000)
            backend[step] += backend_cpu() - before
        return result

    for i, learner in enumerate(learners):
        result = timed(i, "checkout", order_checkout, learner=learner, course_slug=course.slug)
        timed(
            i,
            "payment start",
            payment_start,
            learner=learner,
            order_no=result.order.order_no,
            channel="sandbox",
        )
    print(f"orders        {count} (after {warmup} warm-up), load average {os.getloadavg()[0]:.1f}")
    print("per step (ms)    wall median   Python CPU median   PostgreSQL backend CPU mean")
    for step in STEPS:
        print(
            f"  {step:<14} {statistics.median(walls[step]):11.2f}   {statistics.median(cpus[step]):17.2f}"
            f"   {backend[step] / count:27.2f}"
        )


if __name__ == "__main__":
    main()
