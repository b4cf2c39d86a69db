#!/usr/bin/env python
"""A flash sale over HTTP: learners buy the same course at once through the real topology.

    .venv/bin/python bench/flash_sale.py --learners 2000
    .venv/bin/python bench/flash_sale.py --learners 2000 --instances 2 --celery-workers 2
    .venv/bin/python bench/flash_sale.py --learners 2000 --coupon-uses 500 --coupon-share 0.5

What it does:

1. Recreates the database ``kpay_speed_bench_flash`` (``--database``), migrates, creates a
   merchant, one course, the learners with API tokens, and (``--coupon-uses``) a public
   coupon code with that many uses.
2. Starts ``--instances`` gunicorn masters (``--workers`` sync workers each, ports from
   ``--port``) and ``--celery-workers`` Celery workers (the first with beat) on Redis.
3. The sale, step by step, each step a burst of every learner's request over
   ``--threads`` client threads: checkout (``POST /api/v1/orders/``, a share of them with
   the coupon), payment start (``POST …/pay/``), the gateway simulator's signed
   notification (``POST /payments/webhooks/sandbox/``; signed beforehand, as the
   simulator does, with the sandbox gateway's key: the client's signing is not timed),
   and the result poll (``GET /api/v1/orders/<no>/``). With two instances each
   notification is sent to both at once, as a gateway retrying to another host would.
   The notifications go in two parts: a burst (the first ``1 - --paced-share`` of the
   learners: the peak rate), then the rest **paced** at half that peak (open loop: each
   sent at its scheduled time, its latency counted from that time, so a server falling
   behind shows in the percentiles): the issue's "p99 under 50 ms at half the peak".
4. The yardstick, in the same run: a bare Django view updating one row
   (``bench/flash_urls.py``), as many requests as learners, same threads, same gunicorn.
5. Prints per step: requests/s, p50/p95/p99, errors by kind, CPU per request (web
   workers, Celery, PostgreSQL backends, from /proc, and this client's own); kpay's
   rates as a share of the bare view's; then checks: every order paid at most once,
   every enrollment backed by a paid order, every order of the sale fulfilled,
   ``ledger_check`` clean.

The client shares the machine's cores with the servers, so it is kept light: plain
``http.client`` (a new connection per request, as gunicorn's sync workers close each
one), 0.2 ms of CPU per request where httpx took 0.55; what it still costs is printed
("client") beside the servers' CPU.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres), Redis on 127.0.0.1:6379 and gunicorn;
uses Redis DB 2 (broker) and 1 (cache) unless told. Exits 1 if a check fails.
"""

import argparse
import contextlib
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault import ROOT, VENV_BIN, configure_environment, cpu_ticks, psql, redis_flush


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16, help="client threads (default 16)")
    parser.add_argument(
        "--paced-share", type=float, default=0.5, help="share of notifications sent at half the peak rate"
    )
    parser.add_argument("--instances", type=int, default=1, help="gunicorn masters (default 1)")
    parser.add_argument("--workers", type=int, default=4, help="sync workers per gunicorn (default 4)")
    parser.add_argument("--celery-workers", type=int, default=1)
    parser.add_argument("--coupon-uses", type=int, default=0, help="a public code with this many uses")
    parser.add_argument("--coupon-share", type=float, default=0.5, help="share of learners giving the code")
    parser.add_argument("--port", type=int, default=8110)
    parser.add_argument("--database", default="kpay_speed_bench_flash")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--lease", type=int, default=20)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if not (args.database.startswith("kpay_") and "bench" in args.database):
        parser.error("--database must start with kpay_ and name a bench (it is dropped and recreated)")
    return args


# -- the topology ----------------------------------------------------------------------------
class Topology:
    def __init__(self, args, env, workdir: Path):
        self.args, self.env, self.workdir = args, env, workdir
        self.processes: list[subprocess.Popen] = []
        self.web: list[subprocess.Popen] = []

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        out = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(process)
        return process

    def start(self):
        for i in range(self.args.instances):
            self.web.append(
                self._start(
                    f"gunicorn{i}",
                    [
                        str(VENV_BIN / "gunicorn"),
                        "kpay.wsgi:application",
                        "-c",
                        str(ROOT / "bench" / "fault_gunicorn.py"),
                        "--bind",
                        f"127.0.0.1:{self.args.port + i}",
                        "--workers",
                        str(self.args.workers),
                    ],
                )
            )
        for i in range(self.args.celery_workers):
            beat = ["--beat", "--schedule", str(self.workdir / "celerybeat-schedule")] if i == 0 else []
            self._start(
                f"celery{i}",
                [
                    *(str(VENV_BIN / "celery"), "-A", "kpay", "worker", "--loglevel", "WARNING"),
                    *("--concurrency", "2", "--hostname", f"flash{i}@%h", *beat),
                ],
            )
        for url in self.urls():
            deadline = time.monotonic() + 60
            while True:
                try:
                    if Client().get(f"{url}/api/v1/courses/").status_code < 500:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not answer on {url}; see {self.workdir}")
                time.sleep(0.3)

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.args.port + i}" for i in range(self.args.instances)]

    def stop(self):
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def cpu(self) -> dict[str, int]:
        """CPU ticks so far by (kind, pid): web (gunicorn masters and workers), Celery,
        and this database's PostgreSQL backends."""
        groups = {process.pid: ("web" if process in self.web else "celery") for process in self.processes}
        ticks = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                pgid = os.getpgid(int(entry.name))
                cmdline = (entry / "cmdline").read_bytes()
            except (OSError, ProcessLookupError):
                continue
            if pgid in groups:
                ticks[(groups[pgid], entry.name)] = cpu_ticks(int(entry.name))
            elif cmdline.startswith(b"postgres: ") and f" {self.args.database} ".encode() in cmdline:
                ticks[("postgres", entry.name)] = cpu_ticks(int(entry.name))
        return ticks


# -- the client ----------------------------------------------------------------------------
class Response:
    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content

    def json(self):
        return json.loads(self.content)


class Client:
    """A minimal HTTP client (``http.client``): what the sale needs of httpx, at a fraction
    of its CPU (the client runs on the servers' two cores)."""

    def __init__(self, timeout: float = 30):
        self.timeout = timeout

    def request(self, method: str, url: str, *, json_body=None, content: bytes | None = None, headers=None):
        parts = urlsplit(url)
        body = content if json_body is None else json.dumps(json_body).encode()
        sent = {"Connection": "close", **(headers or {})}
        if json_body is not None:
            sent["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Response(response.status, response.read())
        finally:
            connection.close()

    def get(self, url: str, headers=None) -> Response:
        return self.request("GET", url, headers=headers)

    def post(self, url: str, json=None, content: bytes | None = None, headers=None) -> Response:
        return self.request("POST", url, json_body=json, content=content, headers=headers)


class Step:
    """One burst: every call once over the client threads; latencies and outcomes."""

    def __init__(self, name: str):
        self.name = name
        self.latencies: list[float] = []
        self.errors: Counter = Counter()
        self.seconds = 0.0
        self.cpu: dict[str, float] = {}
        self.requests = 0

    def run(self, calls, threads: int, topology: Topology, rate: float | None = None):
        """Every call once over ``threads``; with ``rate``, call k is due at k / rate s
        after the start (open loop) and its latency counts from then."""
        lock = threading.Lock()
        client = Client()
        started = time.perf_counter()

        def one(item):
            k, call = item
            due = started + k / rate if rate else None
            if due is not None and due > time.perf_counter():
                time.sleep(due - time.perf_counter())
            begun = time.perf_counter()
            try:
                outcome = call(client)
            except OSError as error:
                outcome = f"transport: {type(error).__name__}"
            elapsed = time.perf_counter() - (due if due is not None else begun)
            with lock:
                self.latencies.append(elapsed * 1000)
                if outcome:
                    self.errors[outcome] += 1

        before, client_before = topology.cpu(), time.process_time()
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, enumerate(calls)))
        self.seconds = time.perf_counter() - started
        after = topology.cpu()
        hz = os.sysconf("SC_CLK_TCK")
        self.cpu = Counter()
        for (kind, pid), ticks in after.items():  # a process gone meanwhile: its last ticks are lost
            self.cpu[kind] += (ticks - before.get((kind, pid), 0)) * 1000 / hz
        self.cpu["client"] = (time.process_time() - client_before) * 1000
        self.requests = len(calls)
        self.load = os.getloadavg()[0]
        return self

    def rate(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        lat = sorted(self.latencies)
        pct = {p: lat[min(len(lat) - 1, int(len(lat) * p / 100))] for p in (50, 95, 99)}
        cpu = " ".join(
            f"{k} {self.cpu.get(k, 0) / self.requests:.1f}" for k in ("web", "postgres", "celery", "client")
        )
        return (
            f"  {self.name:<18}{self.rate():6.0f}/s  p50 {pct[50]:6.1f}  p95 {pct[95]:6.1f}"
            f"  p99 {pct[99]:7.1f} ms  load {self.load:4.1f}  CPU ms/request: {cpu}"
        )


def error_of(response: Response, expected: int) -> str:
    if response.status_code == expected:
        return ""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = ""
    return f"HTTP {response.status_code} {code}".strip()


def run_sale(args, topology: Topology, learners, course_slug: str, coupon: str | None) -> list[Step]:
    from django.conf import settings

    from devtools.keys import SANDBOX_GATEWAY, ensure_dev_keypair
    from devtools.simulators.sandbox import signed_headers
    from payments.gateways.signing import load_private_key

    urls = topology.urls()
    orders: dict[int, dict] = {}
    with_coupon = set(range(int(len(learners) * args.coupon_share))) if coupon else set()

    def api(i):
        return {"Authorization": f"Token {learners[i][1]}", "X-Forwarded-For": f"10.1.{i // 250}.{i % 250}"}

    def checkout(i):
        def call(client):
            body = {"course": course_slug}
            if i in with_coupon:
                body["coupon"] = coupon
            response = client.post(f"{urls[i % len(urls)]}/api/v1/orders/", json=body, headers=api(i))
            if response.status_code in (200, 201):
                orders[i] = {"order_no": response.json()["order_no"]}
            return error_of(response, 201)

        return call

    def pay(i):
        def call(client):
            if i not in orders:
                return "no order"
            response = client.post(
                f"{urls[i % len(urls)]}/api/v1/orders/{orders[i]['order_no']}/pay/",
                json={"channel": "sandbox"},
                headers=api(i),
            )
            if response.status_code == 201:
                orders[i]["payment_no"] = response.json()["payment_no"]
            return error_of(response, 201)

        return call

    def notify(i):
        def call(client):
            if "notification" not in orders.get(i, {}):
                return "no payment"
            body, headers = orders[i]["notification"]
            if len(urls) == 1:
                return error_of(
                    client.post(f"{urls[0]}/payments/webhooks/sandbox/", content=body, headers=headers), 204
                )
            with ThreadPoolExecutor(2) as both:
                answers = list(
                    both.map(
                        lambda url: client.post(
                            f"{url}/payments/webhooks/sandbox/", content=body, headers=headers
                        ),
                        urls[:2],
                    )
                )
            return next((error_of(a, 204) for a in answers if error_of(a, 204)), "")

        return call

    def poll(i):
        def call(client):
            if i not in orders:
                return "no order"
            response = client.get(
                f"{urls[i % len(urls)]}/api/v1/orders/{orders[i]['order_no']}/", headers=api(i)
            )
            if response.status_code == 200 and response.json()["status"] != "fulfilled":
                return f"status {response.json()['status']}"
            return error_of(response, 200)

        return call

    def bare(i):
        def call(client):
            return error_of(client.post(f"{urls[i % len(urls)]}/bench/bare/?row={i % 1000 + 1}"), 204)

        return call

    everyone = range(len(learners))
    steps = [Step("checkout").run([checkout(i) for i in everyone], args.threads, topology)]
    steps.append(Step("payment start").run([pay(i) for i in everyone], args.threads, topology))

    # The simulator's side, not timed: each paid trade's notification, signed.
    private_key = load_private_key(ensure_dev_keypair(settings.KPAY_KEY_DIR, SANDBOX_GATEWAY)[0])
    from payments.models import Payment

    amounts = dict(Payment.objects.values_list("payment_no", "amount"))
    for order in orders.values():
        if "payment_no" not in order:
            continue
        event = {
            "id": f"EV{secrets.token_hex(8)}",
            "event_type": "TRADE.SUCCESS",
            "create_time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "resource": {
                "merchant_id": settings.KPAY_GATEWAYS["sandbox"]["OPTIONS"]["merchant_id"],
                "out_trade_no": order["payment_no"],
                "transaction_id": f"SBX{order['payment_no']}",
                "trade_state": "SUCCESS",
                "amount": {"total": amounts[order["payment_no"]], "currency": "CNY"},
                "payer": {"id": "sbx_payer_flash"},
                "success_time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            },
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        order["notification"] = (
            body,
            {"Content-Type": "application/json", **signed_headers(private_key, body)},
        )

    paced = int(len(learners) * args.paced_share)
    first = [notify(i) for i in everyone[: len(learners) - paced]]
    burst = Step("notification").run(first, args.threads, topology)
    steps.append(burst)
    if paced:
        half = burst.rate() / 2
        steps.append(
            Step(f"  at {half:.0f}/s").run(
                [notify(i) for i in everyone[len(learners) - paced :]], args.threads, topology, rate=half
            )
        )
    time.sleep(1)  # what the notifications scheduled after commit (Celery) gets going
    steps.append(Step("result poll").run([poll(i) for i in everyone], args.threads, topology))
    steps.append(Step("bare view").run([bare(i) for i in everyone], args.threads, topology))
    return steps


# -- setup and checks ------------------------------------------------------------------------
def setup_data(args):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.tokens import issue_token
    from tests.factories import CouponFactory, CourseFactory, MerchantFactory

    merchant = MerchantFactory(name="Flash Studio", slug="flash-studio")
    course = CourseFactory(merchant=merchant, slug="flash-course", title="Flash course", price=9900)
    users = [
        get_user_model()(username=f"flash-learner-{i}", email=f"flash-learner-{i}@example.com", password="!")  # noqa: S106
        for i in range(args.learners)
    ]  # an unusable password: they use API tokens, and hashing 2,000 passwords takes minutes
    learners = [(user.pk, issue_token(user)[1]) for user in get_user_model().objects.bulk_create(users)]
    coupon = None
    if args.coupon_uses:
        coupon = "FLASH"
        CouponFactory(code=coupon, quantity=args.coupon_uses)
    psql(
        args.database,
        "CREATE TABLE bench_bare_counter (id int PRIMARY KEY, hits bigint NOT NULL, at timestamptz)",
    )
    psql(args.database, "INSERT INTO bench_bare_counter SELECT g, 0, now() FROM generate_series(1, 1000) g")
    return learners, course.slug, coupon


def checks(args) -> list[tuple[str, bool, str]]:
    from django.db import close_old_connections
    from django.db.models import Count, Exists, OuterRef, Q

    from courses.models import Enrollment
    from orders.models import Order
    from payments.ledger import checks as ledger_checks
    from payments.models import GatewayEvent, Payment

    close_old_connections()
    twice = list(
        Order.objects.annotate(ok=Count("payments", filter=Q(payments__status=Payment.Status.SUCCEEDED)))
        .filter(ok__gt=1)
        .values_list("order_no", flat=True)
    )
    paid = Order.objects.filter(order_no=OuterRef("order_no"), paid_at__isnull=False)
    unbacked = Enrollment.objects.filter(status=Enrollment.Status.ACTIVE).exclude(Exists(paid)).count()
    fulfilled = Order.objects.filter(status=Order.Status.FULFILLED).count()
    placed = Order.objects.count()  # a learner refused at checkout (the coupon used up) has none
    from promotions.models import Redemption

    redeemed = Redemption.objects.filter(status=Redemption.Status.CONSUMED).count()
    events = Counter(GatewayEvent.objects.values_list("outcome", flat=True))
    journal_twice = (
        Payment.objects.annotate(n=Count("journal_entries__posting_id", distinct=True))
        .filter(n__gt=1)
        .count()
        if hasattr(Payment, "journal_entries")
        else 0
    )
    breaches = ledger_checks.run()
    return [
        ("every order paid at most once", not twice, f"{len(twice)} paid twice {twice[:5]}"),
        ("every enrollment backed by a paid order", unbacked == 0, f"{unbacked} without one"),
        (
            "every order placed was fulfilled",
            fulfilled == placed,
            f"{fulfilled} of {placed} ({args.learners} learners)",
        ),
        (
            "the coupon used at most its quantity",
            redeemed <= args.coupon_uses,
            f"{redeemed} redemptions of {args.coupon_uses}",
        ),
        ("one journal posting per payment", journal_twice == 0, f"{journal_twice} with more"),
        ("ledger_check clean", not breaches, f"{len(breaches)} breaches {breaches[:3]}"),
        ("notifications", True, f"outcomes {dict(events)}"),
    ]


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kpay-flash-"))
    env = configure_environment(args, workdir)
    env["DJANGO_SETTINGS_MODULE"] = os.environ["DJANGO_SETTINGS_MODULE"] = "bench.flash_settings"
    psql("postgres", f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{args.database}"')
    redis_flush(args.broker)
    if args.cache.startswith("redis"):
        redis_flush(args.cache)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    learners, course_slug, coupon = setup_data(args)
    from django.db import connections

    connections.close_all()
    topology = Topology(args, env, workdir)
    try:
        topology.start()
        started = time.perf_counter()
        steps = run_sale(args, topology, learners, course_slug, coupon)
        sale_seconds = sum(s.seconds for s in steps[:-1])
        time.sleep(2)
    finally:
        topology.stop()
    results = checks(args)

    bare = steps[-1]
    checkout, pay, notification = steps[:3]
    paced = steps[3] if steps[3].name.strip().startswith("at ") else None
    print("=" * 100)
    print(
        f"kpay flash sale: {args.learners} learners, one course, {args.instances} gunicorn x "
        f"{args.workers} sync workers, {args.celery_workers} Celery worker(s), {args.threads} client threads"
        + (f", coupon FLASH ({args.coupon_uses} uses) given by {args.coupon_share:.0%}" if coupon else "")
    )
    print(
        f"the sale took {sale_seconds:.1f} s (each step a burst, but the paced notifications); "
        f"whole run {time.perf_counter() - started:.0f} s"
    )
    for step in steps:
        print(step.line())
        for error, n in step.errors.most_common():
            print(f"      {n:6d}  {error}")
    paid_rate = 1 / sum(1 / step.rate() for step in (checkout, pay, notification))
    print(f"paid orders/s (checkout + pay + notification, each at its burst's rate): {paid_rate:.0f}")
    print(
        f"share of the bare view's rate: notifications {notification.rate() / bare.rate():.0%}, "
        f"paid orders {paid_rate / bare.rate():.1%}"
    )
    if paced is not None:
        lat = sorted(paced.latencies)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(
            f"notifications at half the peak ({paced.rate():.0f}/s, {paced.requests} of them): "
            f"p99 {p99:.1f} ms ({'under' if p99 < 50 else 'over'} 50 ms)"
        )
    print("-" * 100)
    failed = 0
    for name, ok, detail in results:
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    print(f"logs: {workdir}")
    connections.close_all()
    if not args.keep_db:
        psql("postgres", f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
