#!/usr/bin/env python
"""A coupon flash sale (抢券) through the API against PostgreSQL: concurrent claims of a
few coupons, then concurrent checkouts with them, checking that exactly N got one.

1. ``--learners`` learners claim an issued coupon of ``--coupons`` at once
   (POST /api/v1/coupons/claim/): exactly ``--coupons`` claims succeed.
2. The holders each place ``--learners / --coupons`` orders at once for different
   courses with their one wallet coupon (POST /api/v1/orders/): exactly one order each
   gets the discount, the rest are refused (``coupon_already_used``).
3. ``--learners`` learners check out with one public code of ``--coupons`` uses at once:
   exactly ``--coupons`` orders get the discount (``coupon_exhausted`` for the rest).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kpay .venv/bin/python bench/coupon_flash.py

It creates and drops its own test database (test_<name>), as the test runner does.
"""

import argparse
import logging
import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.db import connection
from django.test.utils import setup_databases, teardown_databases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--coupons", type=int, default=100)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # 409s are the point here
    if connection.vendor != "postgresql":
        sys.exit("the flash needs PostgreSQL (row locks): set DATABASE_URL")
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        run(args.learners, args.coupons, args.threads)
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)


def _flood(calls, threads: int) -> tuple[Counter, float]:
    """Run every call at once over ``threads`` threads; (outcomes, seconds)."""
    start = threading.Barrier(min(threads, len(calls)))

    def run(call):
        try:
            return call()
        finally:
            connection.close()

    def first(call):
        start.wait()
        return run(call)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        head = [pool.submit(first, call) for call in calls[:threads]]
        rest = [pool.submit(run, call) for call in calls[threads:]]
        outcomes = Counter(future.result() for future in head + rest)
    return outcomes, time.perf_counter() - began


def _report(what: str, count: int, seconds: float, outcomes: Counter) -> None:
    print(f"{what:<14}{count} in {seconds:.2f} s ({count / seconds:.0f}/s): {dict(outcomes)}")


def run(learner_count: int, coupon_count: int, threads: int) -> None:
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from orders.models import Order
    from promotions.models import Redemption, WalletCoupon
    from tests.factories import CouponFactory, CourseFactory, UserFactory

    learners = UserFactory.create_batch(learner_count)
    tokens = {
        t.user_id: t.key
        for t in Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in learners)
    }
    per_holder = max(1, learner_count // coupon_count)
    courses = CourseFactory.create_batch(per_holder, price=9900)
    issued = CouponFactory(code=None, name="flash", quantity=coupon_count, amount_off=1000)
    code = CouponFactory(code="FLASH", quantity=coupon_count, per_learner_limit=1, amount_off=1000)

    def api(learner_id, path, data):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[learner_id]}")
        response = client.post(path, data, format="json")
        body = response.json()
        return "ok" if response.status_code in (200, 201) else body["error"]["code"]

    claims = [lambda u=u: api(u.pk, "/api/v1/coupons/claim/", {"coupon": issued.pk}) for u in learners]
    outcomes, seconds = _flood(claims, threads)
    held = WalletCoupon.objects.filter(coupon=issued).count()
    _report("claims", len(claims), seconds, outcomes)
    assert outcomes["ok"] == held == coupon_count, (outcomes, held)

    wallets = list(WalletCoupon.objects.filter(coupon=issued).values_list("pk", "learner_id"))
    checkouts = [
        lambda w=w, u=u, c=c: api(u, "/api/v1/orders/", {"course": c.slug, "coupon": str(w)})
        for w, u in wallets
        for c in courses
    ]
    outcomes, seconds = _flood(checkouts, threads)
    used = Redemption.objects.filter(coupon=issued).count()
    _report("wallet orders", len(checkouts), seconds, outcomes)
    assert outcomes["ok"] == used == coupon_count, (outcomes, used)

    course = courses[0]
    buyers = [u for u in learners if u.pk not in {u for _, u in wallets}] or learners
    code_checkouts = [
        lambda u=u: api(u.pk, "/api/v1/orders/", {"course": course.slug, "coupon": "FLASH"}) for u in buyers
    ]
    outcomes, seconds = _flood(code_checkouts, threads)
    used = Redemption.objects.filter(coupon=code).count()
    _report("code orders", len(code_checkouts), seconds, outcomes)
    assert outcomes["ok"] == used == min(coupon_count, len(buyers)), (outcomes, used)
    assert Order.objects.filter(discount__gt=0).count() == 2 * coupon_count
    print(
        f"exactly       {coupon_count} claims, {coupon_count} wallet orders, {coupon_count} code orders: OK"
    )


if __name__ == "__main__":
    main()
