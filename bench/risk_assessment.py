#!/usr/bin/env python
"""Time one risk assessment, with every built-in rule kind enabled, over a large history.

Fills its own test database (test_<name>) with ``--orders`` orders (default 1,000,000)
spread over 90 days and ``--learners`` learners, a failed payment for every tenth
order, then times ``assess_checkout`` for random learners and prints the median and
p99. Target: median under 5 ms on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kpay .venv/bin/python bench/risk_assessment.py
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.db import connection
from django.test.utils import CaptureQueriesContext, setup_databases, teardown_databases

BATCH = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--assessments", type=int, default=2_000)
    args = parser.parse_args()

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        fill(args.orders, args.learners)
        measure(args.assessments, args.learners)
    finally:
        teardown_databases(old_config, verbosity=0)


def fill(orders: int, learners: int) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from orders.models import Order
    from payments.models import Payment
    from tests.factories import CourseFactory

    started = time.perf_counter()
    # History is planted with its own timestamps, which auto_now_add would overwrite.
    for model in (Order, Payment):
        model._meta.get_field("created_at").auto_now_add = False
    course = CourseFactory(price=9900)
    now = timezone.now()
    User = get_user_model()
    User.objects.bulk_create(
        [
            User(
                username=f"bench{i}", email=f"bench{i}@example.com", date_joined=now - timedelta(days=i % 400)
            )
            for i in range(learners)
        ],
        batch_size=BATCH,
    )
    first_learner = User.objects.order_by("pk").values_list("pk", flat=True).first()
    rng = random.Random(7)
    line = {
        "course_id": course.pk,
        "course_slug": course.slug,
        "title": course.title,
        "unit_price": 9900,
        "quantity": 1,
        "amount": 9900,
    }
    for start in range(0, orders, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, orders)):
            created = now - timedelta(seconds=rng.randrange(90 * 86400))
            paid = i % 3 != 0
            batch.append(
                Order(
                    order_no=f"B{i:019d}",
                    learner_id=first_learner + rng.randrange(learners),
                    merchant_id=course.merchant_id,
                    checkout_key=f"{course.pk}#{i}",  # distinct: history, not open orders
                    status=Order.Status.FULFILLED if paid else Order.Status.EXPIRED,
                    subtotal=9900,
                    discount=0,
                    total=9900,
                    lines=[line],
                    created_at=created,
                    client_ip=f"10.{rng.randrange(8)}.{rng.randrange(256)}.{rng.randrange(256)}",
                    device_id=f"dev-{rng.randrange(learners * 2)}",
                    expires_at=created + timedelta(minutes=30),
                    paid_at=created + timedelta(minutes=1) if paid else None,
                )
            )
        Order.objects.bulk_create(batch, batch_size=BATCH)
    orders_by_tenth = Order.objects.filter(order_no__endswith="0").values_list("pk", "created_at")
    Payment.objects.bulk_create(
        [
            Payment(
                payment_no=f"Q{pk:019d}",
                order_id=pk,
                merchant_id=course.merchant_id,
                channel="sandbox",
                gateway="sandbox",
                amount=9900,
                status=Payment.Status.FAILED,
                expires_at=created,
                created_at=created,
            )
            for pk, created in orders_by_tenth.iterator(chunk_size=BATCH)
        ],
        batch_size=BATCH,
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    print(f"filled       {orders:,} orders, {learners:,} learners in {time.perf_counter() - started:.0f} s")


def measure(count: int, learners: int) -> None:
    from django.contrib.auth import get_user_model

    from core.risk import CheckoutContext, assess_checkout
    from riskcontrol.models import Rule
    from riskcontrol.rules import KINDS

    rules = [
        ("big order", "amount_above", {"amount": 100_000}),
        ("busy learner", "orders_per_learner", {"window_minutes": 60 * 24, "max_count": 20}),
        ("failing payer", "failed_payments_per_learner", {"window_minutes": 60 * 24 * 7, "max_count": 5}),
        ("daily total", "learner_daily_total", {"amount": 500_000}),
        ("new account", "new_account_amount", {"hours": 24, "amount": 50_000}),
        ("bad networks", "list", {"field": "ip", "values": ["203.0.113.0/24", "198.51.100.0/24"]}),
        ("bad domains", "list", {"field": "email_domain", "values": ["spam.example"]}),
        ("busy ip", "orders_per_client", {"by": "ip", "window_minutes": 60, "max_count": 30}),
        ("shared device", "accounts_per_client", {"by": "device", "window_minutes": 60 * 24, "max_count": 3}),
        ("refunder", "refund_ratio", {"min_orders": 5, "max_ratio": "0.5"}),
    ]
    for name, kind, params in rules:
        Rule.objects.create(name=name, kind=kind, params=KINDS[kind].clean_params(params), action="review")
    assert {kind for _n, kind, _p in rules} == set(KINDS), "every built-in kind is on"

    learner_ids = list(get_user_model().objects.values_list("pk", flat=True)[:learners])
    rng = random.Random(11)
    timings, statements = [], []
    for _ in range(count):
        context = CheckoutContext(
            learner_id=rng.choice(learner_ids),
            merchant_id=1,
            course_ids=(1,),
            amount=9900,
            currency="CNY",
            ip=f"10.{rng.randrange(8)}.{rng.randrange(256)}.{rng.randrange(256)}",
            device_id=f"dev-{rng.randrange(learners * 2)}",
        )
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            assess_checkout(context)
            timings.append((time.perf_counter() - started) * 1000)
        statements.append(len(queries))
    timings.sort()
    print(f"database     {connection.vendor}")
    print(f"rules        {len(rules)} enabled, every built-in kind")
    print(f"assessments  {count}")
    print(f"statements   {statistics.median(statements):.0f} per assessment (warm rule cache)")
    print(f"median       {statistics.median(timings):.2f} ms")
    print(f"p99          {timings[int(len(timings) * 0.99) - 1]:.2f} ms")


if __name__ == "__main__":
    main()
