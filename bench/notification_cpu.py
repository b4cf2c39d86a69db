#!/usr/bin/env python
"""The web worker's CPU per gateway notification, through the WSGI handler, without load.

    .venv/bin/python bench/notification_cpu.py --orders 300
    .venv/bin/python bench/notification_cpu.py --orders 300 --profile 200   # and a cProfile

What ``bench/flash_sale.py`` measures from /proc under gunicorn (CPU per request in the
web workers), measured here in one process, request by request, so that the figure does
not depend on the machine's load: the signed sandbox notification of a pending payment
is handed to kpay's WSGI application (``kpay.wsgi``, the flash sale's settings: every
middleware, the real gateway and Celery publishing on Redis) and its CPU time
(``time.process_time``) and its time waiting on PostgreSQL are added up; then as many
requests of the bare view (``bench/flash_urls.py``: one row updated), the yardstick.
gunicorn's own HTTP parsing is not in it (the same for both).

It recreates its database (``--database``, default ``kpay_speed_bench_cpu``), creates
the orders and payments through the services (not timed), and drops it afterwards
unless ``--keep-db``. Redis: ``--cache`` and ``--broker`` (DB 1 and 2 unless told, as
``bench/flash_sale.py``; both flushed before and after).

``--ab module.name=module.name`` serves every other notification with the first name
bound to the second (e.g. the old and the new way of a step), so both are measured in
the same window.
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault import ROOT, configure_environment, psql, redis_flush


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="notifications to time (default 300)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="then profile N more")
    parser.add_argument("--sort", default="tottime", help="the profile's order (tottime, cumulative)")
    parser.add_argument("--lines", type=int, default=40, help="the profile's lines")
    parser.add_argument("--dump", metavar="FILE", help="with --profile: write it to FILE too")
    parser.add_argument("--log-level", default="WARNING", help="the app's LOG_LEVEL (INFO: a log line each)")
    parser.add_argument("--database", default="kpay_speed_bench_cpu")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--port", type=int, default=8110)
    parser.add_argument("--lease", type=int, default=20)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--ab",
        metavar="MODULE.NAME=MODULE.NAME",
        help="every other notification with the first name bound to the second (two ways, one window)",
    )
    args = parser.parse_args()
    if not (args.database.startswith("kpay_") and "bench" in args.database):
        parser.error("--database must start with kpay_ and name a bench (it is dropped and recreated)")
    return args


class DatabaseWait:
    """A connection execute wrapper adding up the time spent in the database driver."""

    def __init__(self):
        self.seconds = 0.0
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.statements += 1


def environ(path: str, body: bytes = b"", headers: dict | None = None, query: str = "") -> dict:
    env = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8110",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8110",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        env[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return env


def call(application, env) -> str:
    status = []

    def start_response(line, headers, exc_info=None):
        status.append(line)

    result = application(env, start_response)
    try:
        b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return status[0]


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kpay-notify-cpu-"))
    configure_environment(args, workdir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.flash_settings"
    os.environ["LOG_LEVEL"] = args.log_level
    psql("postgres", f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{args.database}"')
    redis_flush(args.broker)
    redis_flush(args.cache)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    try:
        return run(args)
    finally:
        from django.db import connections

        connections.close_all()
        redis_flush(args.broker)
        redis_flush(args.cache)
        if not args.keep_db:
            psql("postgres", f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


def run(args) -> int:
    import json
    import secrets

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from devtools.keys import SANDBOX_GATEWAY, ensure_dev_keypair
    from devtools.simulators.sandbox import signed_headers
    from orders.services import order_checkout
    from payments.gateways.signing import load_private_key
    from payments.services import payment_start
    from tests.factories import CourseFactory, MerchantFactory

    call_command("migrate", verbosity=0)
    psql(
        args.database,
        "CREATE TABLE bench_bare_counter (id int PRIMARY KEY, hits bigint NOT NULL, at timestamptz)",
    )
    psql(args.database, "INSERT INTO bench_bare_counter SELECT g, 0, now() FROM generate_series(1, 1000) g")
    merchant = MerchantFactory(name="CPU Studio", slug="cpu-studio")
    course = CourseFactory(merchant=merchant, slug="cpu-course", title="CPU course", price=9900)
    total = args.warmup + args.orders + args.profile
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"cpu-learner-{i}", email=f"cpu-{i}@example.com", password="!")  # noqa: S106
        for i in range(total)
    )
    private_key = load_private_key(ensure_dev_keypair(settings.KPAY_KEY_DIR, SANDBOX_GATEWAY)[0])
    merchant_id = settings.KPAY_GATEWAYS["sandbox"]["OPTIONS"]["merchant_id"]
    requests = []
    for user in users:
        order = order_checkout(learner=user, course_slug=course.slug).order
        payment = payment_start(learner=user, order_no=order.order_no, channel="sandbox")
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        event = {
            "id": f"EV{secrets.token_hex(8)}",
            "event_type": "TRADE.SUCCESS",
            "create_time": now,
            "resource": {
                "merchant_id": merchant_id,
                "out_trade_no": payment.payment_no,
                "transaction_id": f"SBX{payment.payment_no}",
                "trade_state": "SUCCESS",
                "amount": {"total": payment.amount, "currency": "CNY"},
                "payer": {"id": "sbx_payer_cpu"},
                "success_time": now,
            },
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        requests.append((body, {"Content-Type": "application/json", **signed_headers(private_key, body)}))

    from kpay.wsgi import application

    wait = DatabaseWait()
    profiler = cProfile.Profile(time.process_time)  # CPU, not the wait on PostgreSQL
    figures = {"notification": ([], [], []), "bare view": ([], [], [])}  # CPU, database wait, statements
    swap = None
    if args.ab:
        import importlib

        (target, attr), (source, name) = (side.rsplit(".", 1) for side in args.ab.split("="))
        module = importlib.import_module(target)
        swap = (module, attr, getattr(module, attr), getattr(importlib.import_module(source), name))
        figures["notification, " + args.ab.split("=")[1]] = ([], [], [])

    def timed(kind, env, record, profiling, expected):
        before_db, before_n = wait.seconds, wait.statements
        if profiling:
            profiler.enable()
        started = time.process_time()
        status = call(application, env)
        cpu = time.process_time() - started
        profiler.disable()
        if not status.startswith(expected):
            raise SystemExit(f"{kind}: {status}")
        if record:
            figures[kind][0].append(cpu * 1000)
            figures[kind][1].append((wait.seconds - before_db) * 1000)
            figures[kind][2].append(wait.statements - before_n)

    connection.close()
    call(application, environ("/bench/bare/", query="row=1"))  # the connection, opened outside the timing
    with connection.execute_wrapper(wait):
        for i, (body, headers) in enumerate(requests):
            record = args.warmup <= i < args.warmup + args.orders
            profiling = i >= args.warmup + args.orders
            kind = "notification"
            if swap is not None:
                setattr(swap[0], swap[1], swap[2 + i % 2])
                kind = list(figures)[2] if i % 2 else kind
            timed(kind, environ("/payments/webhooks/sandbox/", body, headers), record, profiling, "204")
            timed("bare view", environ("/bench/bare/", query=f"row={i % 1000 + 1}"), record, False, "204")

    print(
        f"notification CPU through kpay.wsgi ({args.orders} requests after {args.warmup}, "
        f"LOG_LEVEL {args.log_level})"
    )
    print("                 CPU ms (median / mean)   of which waiting on PostgreSQL   statements")
    for kind, (cpu, db, statements) in figures.items():
        print(
            f"  {kind:<14} {statistics.median(cpu):6.2f} / {statistics.fmean(cpu):6.2f}"
            f"              {statistics.median(db):6.2f} (wall)              {max(statements)}"
        )
    ratio = statistics.median(figures["notification"][0]) / statistics.median(figures["bare view"][0])
    print(f"  a notification costs {ratio:.1f}x the bare request's CPU in this process")
    if args.profile:
        print(f"\nprofile of {args.profile} notifications:")
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
        if args.dump:
            profiler.dump_stats(args.dump)
    return 0


if __name__ == "__main__":
    sys.exit(main())
