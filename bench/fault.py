#!/usr/bin/env python
"""Fault run: a burst of purchases and refunds through gunicorn and a Celery worker on
PostgreSQL and Redis while workers are SIGKILLed and PostgreSQL restarts, then checks.

Not a CI test: it needs a local PostgreSQL cluster it may restart (pg_ctlcluster, as
``.ci/run`` uses), Redis, free ports, and a few minutes. One command:

    .venv/bin/python bench/fault.py --learners 50 --seconds 120

What it does:

1. Recreates the database ``kpay_fault`` (``--database``), migrates, and creates a
   merchant, a few courses, the learners and a support user (test factories).
2. Starts gunicorn (``--workers`` sync workers on ``--port``; it serves the API, the
   webhooks and the sandbox simulator, ``KPAY_PUBLIC_URL`` points at it) and one Celery
   worker with beat on a real Redis broker (``--broker``), so tasks run in the worker.
3. The burst (``--seconds``): each learner thread gets a token, checks out courses with
   an ``Idempotency-Key``, starts a sandbox payment (some press "pay" twice at once),
   pays at the simulator's cashier over HTTP, waits for delivery and asks for a refund
   of some orders; support approves refunds as they come. Connection errors, 5xx and
   409 ``idempotency_key_in_progress`` are retried with the same key. Meanwhile it
   SIGKILLs a gunicorn worker several times, SIGKILLs the Celery worker (its whole
   process group) and restarts it, and restarts PostgreSQL once.
4. Settles: waits for notifications and tasks, then runs the periodic sweeps (payment
   and refund sync) as if their wait had passed, replays every request whose key is
   still in progress past its lease, stops everything.
5. Prints counts and the checks, each PASS/FAIL with numbers, and the faults injected;
   exits 1 if a check fails. The database is dropped unless ``--keep-db``.

Needs: PostgreSQL on 127.0.0.1:5432 (user postgres), Redis on 127.0.0.1:6379, gunicorn
(requirements-dev.txt). Uses Redis DB 9 (broker) and 8 (cache) by default.
"""

import argparse
import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
LOCK = threading.Lock()
STATS: Counter = Counter()
FAULTS: list[tuple[float, str]] = []
T0 = time.monotonic()


def now_s() -> float:
    return time.monotonic() - T0


def log(message: str) -> None:
    print(f"[{now_s():7.1f}s] {message}", flush=True)


def stat(name: str, n: int = 1) -> None:
    with LOCK:
        STATS[name] += n


def fault(what: str) -> None:
    with LOCK:
        FAULTS.append((now_s(), what))
    log(f"FAULT {what}")


# -- environment ----------------------------------------------------------------------
def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=120, help="length of the burst")
    parser.add_argument(
        "--orders-per-learner", type=int, default=8, help="at most, each a different course (default 8)"
    )
    parser.add_argument("--refund-share", type=float, default=0.3, help="share of delivered orders refunded")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8150)
    parser.add_argument("--database", default="kpay_fault")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--lease", type=int, default=20, help="KPAY_IDEMPOTENCY_LEASE, seconds")
    parser.add_argument("--gunicorn-kills", type=int, default=6)
    parser.add_argument("--celery-kills", type=int, default=2)
    parser.add_argument("--no-pg-restart", action="store_true", help="skip the PostgreSQL restart")
    parser.add_argument("--settle", type=int, default=60, help="seconds to wait for the system to settle")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    return parser.parse_args()


def configure_environment(args, workdir: Path) -> dict:
    from cryptography.fernet import Fernet

    base = f"http://127.0.0.1:{args.port}"
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "kpay.settings",
            "KPAY_ENV": "development",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "KPAY_FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.database}",
            "DATABASE_CONN_MAX_AGE": "60",
            "CACHE_URL": args.cache,
            "CELERY_BROKER_URL": args.broker,
            "KPAY_PUBLIC_URL": base,
            "KPAY_SIMULATOR_TIME_SCALE": "0.01",
            "KPAY_IDEMPOTENCY_LEASE": f"{args.lease}s",
            "KPAY_TRUSTED_PROXIES": "127.0.0.1",  # each learner has its own X-Forwarded-For
            "KPAY_KEY_DIR": str(workdir / "keys"),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",  # refund mails
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in ("WECHATPAY_MCHID", "ALIPAY_APP_ID", "KPAY_SANDBOX_URL", "CELERY_TEST_BROKER_URL"):
        env.pop(name, None)
    os.environ.clear()
    os.environ.update(env)
    return env


def psql(database: str, sql: str) -> None:
    subprocess.run(  # noqa: S603
        [
            shutil.which("psql") or "/usr/bin/psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            sql,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def pg_cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    return versions[-1], "main"


# -- processes ------------------------------------------------------------------------
class Services:
    def __init__(self, args, env, workdir: Path):
        self.args, self.env, self.workdir = args, env, workdir
        self.gunicorn: subprocess.Popen | None = None
        self.celery: subprocess.Popen | None = None
        self.celery_starts = 0

    def start_gunicorn(self):
        out = open(self.workdir / "gunicorn.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.gunicorn = subprocess.Popen(  # noqa: S603
            [
                str(VENV_BIN / "gunicorn"),
                "kpay.wsgi:application",
                "-c",
                str(ROOT / "bench" / "fault_gunicorn.py"),
                "--bind",
                f"127.0.0.1:{self.args.port}",
                "--workers",
                str(self.args.workers),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_celery(self):
        self.celery_starts += 1
        out = open(self.workdir / "celery.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.celery = subprocess.Popen(  # noqa: S603
            [
                str(VENV_BIN / "celery"),
                "-A",
                "kpay",
                "worker",
                "--beat",
                "--loglevel",
                "WARNING",
                "--concurrency",
                "4",
                "--schedule",
                str(self.workdir / "celerybeat-schedule"),
                "--hostname",
                f"fault{self.celery_starts}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill takes the pool with it
        )

    def gunicorn_workers(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat_line = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat_line.rsplit(")", 1)[1].split()[1])
            if self.gunicorn and ppid == self.gunicorn.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def kill_gunicorn_worker(self):
        """SIGKILL the worker that used the most CPU in the last 100 ms (most likely in the
        middle of a request), a random one if none did."""
        workers = self.gunicorn_workers()
        if not workers:
            fault("gunicorn: no worker to kill")
            return
        before = {pid: cpu_ticks(pid) for pid in workers}
        time.sleep(0.1)
        busy = {pid: cpu_ticks(pid) - ticks for pid, ticks in before.items()}
        pid = max(workers, key=lambda p: (busy[p], random.random()))
        os.kill(pid, signal.SIGKILL)
        fault(
            f"SIGKILL gunicorn worker {pid} (of {len(workers)}, {'busy' if busy[pid] else 'idle'}; "
            "the master forks a new one)"
        )

    def kill_celery(self, restart_after: float = 3.0):
        pid = self.celery.pid
        os.killpg(pid, signal.SIGKILL)
        self.celery.wait()
        fault(f"SIGKILL Celery worker+beat process group {pid}; restart in {restart_after:.0f}s")
        time.sleep(restart_after)
        self.start_celery()
        log(f"Celery worker restarted (pid {self.celery.pid})")

    def restart_postgres(self):
        version, name = pg_cluster()
        began = time.monotonic()
        subprocess.run(  # noqa: S603
            [
                shutil.which("pg_ctlcluster") or "/usr/bin/pg_ctlcluster",
                "--skip-systemctl-redirect",
                version,
                name,
                "restart",
                "-m",
                "fast",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        fault(f"PostgreSQL {version}/{name} restarted (-m fast, {time.monotonic() - began:.1f}s down)")

    def wait_up(self, seconds: float = 30.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url()}/api/v1/courses/", timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer on {base_url()}; see {self.workdir / 'gunicorn.log'}")

    def stop(self):
        for proc in (self.gunicorn, self.celery):
            if proc and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in (self.gunicorn, self.celery):
            if proc is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group (pool children)


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def base_url() -> str:
    return os.environ["KPAY_PUBLIC_URL"]


# -- the learner's client ---------------------------------------------------------------
SENT: dict[tuple[int, str], dict] = {}  # (user id, key) -> the request, to replay later
GAVE_UP: list[str] = []


class Learner:
    def __init__(self, user_id: int, username: str, password: str, index: int, retry_window: float):
        self.user_id, self.username, self.password = user_id, username, password
        self.xff = f"10.{index // 250}.{index % 250}.{random.randint(1, 250)}"
        self.retry_window = retry_window
        self.token = ""
        self.http = httpx.Client(base_url=base_url(), timeout=30)

    def headers(self, key: str | None = None) -> dict:
        headers = {"X-Forwarded-For": self.xff, "X-Device-Id": f"dev-{self.user_id}"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if key:
            headers["Idempotency-Key"] = key
        return headers

    def call(self, method: str, path: str, body=None, *, key: str | None = None) -> httpx.Response | None:
        """The request, retried (same key) on connection errors, 5xx and 409 in progress."""
        if key:
            with LOCK:
                SENT[(self.user_id, key)] = {"method": method, "path": path, "body": body, "learner": self}
        deadline = time.monotonic() + self.retry_window
        pause, last = 0.3, ""
        while True:
            stat("requests")
            try:
                response = self.http.request(method, path, json=body, headers=self.headers(key))
            except httpx.TransportError as error:
                stat("connection errors (retried)")
                last = type(error).__name__
            else:
                code = error_code(response)
                if response.status_code >= 500:
                    stat(f"HTTP {response.status_code} (retried)")
                    last = f"HTTP {response.status_code}"
                elif response.status_code == 409 and code == "idempotency_key_in_progress":
                    stat("409 idempotency_key_in_progress (retried)")
                    last = "409 idempotency_key_in_progress"
                else:
                    if response.headers.get("Idempotent-Replayed"):
                        stat("idempotent replays")
                    return response
            if time.monotonic() > deadline:
                with LOCK:
                    GAVE_UP.append(f"{method} {path} key={key}: {last}")
                stat("gave up")
                return None
            time.sleep(pause + random.random() * pause)
            pause = min(pause * 1.6, 4.0)

    def login(self) -> bool:
        response = self.call(
            "POST", "/api/v1/auth/token/", {"username": self.username, "password": self.password}
        )
        if response is None or response.status_code != 200:
            stat(f"token refused ({response.status_code if response is not None else 'no answer'})")
            return False
        self.token = response.json()["token"]
        return True


def error_code(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""


def press_pay(url: str) -> bool:
    """Open the sandbox cashier and press pay (as tests/cashier.py), retried on errors."""
    import re

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with httpx.Client(timeout=20) as browser:
                page = browser.get(url)
                if page.status_code >= 500:
                    raise httpx.TransportError(f"HTTP {page.status_code}")
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
                if token is None:
                    if "Paid" in page.text:  # an earlier press went through, its answer was lost
                        stat("cashier: already paid")
                        return True
                    stat(f"cashier page without form ({page.status_code})")
                    return False
                paid = browser.post(
                    url, data={"csrfmiddlewaretoken": token[1], "action": "pay"}, headers={"Referer": url}
                )
                if paid.status_code >= 500:
                    raise httpx.TransportError(f"HTTP {paid.status_code}")
                stat("cashier: paid")
                return True
        except httpx.TransportError:
            stat("cashier: connection errors (retried)")
            time.sleep(0.5 + random.random())
    stat("cashier: gave up")
    return False


def learner_run(learner: Learner, courses: list[str], args, burst_end: float) -> None:
    try:
        if not learner.login():
            return
        # Pauses that spread each learner's orders over the whole burst.
        pause = max(0.5, args.seconds / (args.orders_per_learner * 4))

        def think():
            time.sleep(random.uniform(0.2, 2 * pause))

        for slug in random.sample(courses, min(args.orders_per_learner, len(courses))):
            if time.monotonic() > burst_end:
                return
            think()
            response = learner.call("POST", "/api/v1/orders/", {"course": slug}, key=str(uuid.uuid4()))
            if response is None:
                continue
            if response.status_code not in (200, 201):
                stat(f"checkout {response.status_code} {error_code(response)}")
                continue
            stat("orders placed")
            order_no = response.json()["order_no"]
            think()
            body = {"channel": "sandbox"}
            if random.random() < 0.15:  # pressing pay twice, two keys, at once: must converge
                path = f"/api/v1/orders/{order_no}/pay/"
                with ThreadPoolExecutor(2) as pool:
                    results = list(
                        pool.map(
                            lambda _, path=path, body=body: learner.call(
                                "POST", path, body, key=str(uuid.uuid4())
                            ),
                            range(2),
                        )
                    )
                stat("double pay presses")
                ok = [r for r in results if r is not None and r.status_code == 201]
                if len({r.json()["payment_no"] for r in ok}) > 1:
                    stat("double press: two payment numbers")
                response = ok[0] if ok else results[0]
            else:
                response = learner.call(
                    "POST", f"/api/v1/orders/{order_no}/pay/", body, key=str(uuid.uuid4())
                )
            if response is None:
                continue
            if response.status_code != 201:
                stat(f"pay {response.status_code} {error_code(response)}")
                continue
            payment = response.json()
            url = next(u for u in (payment["code_url"], payment["redirect_url"]) if u.startswith("http"))
            think()
            if not press_pay(url):
                continue
            delivered = wait_delivered(learner, order_no, seconds=30)
            if not delivered:
                stat("not delivered within 30 s (left to the settle phase)")
                continue
            stat("delivered in the burst")
            if random.random() < args.refund_share and time.monotonic() < burst_end:
                think()
                response = learner.call(
                    "POST",
                    f"/api/v1/orders/{order_no}/refunds/",
                    {"reason": "fault bench"},
                    key=str(uuid.uuid4()),
                )
                if response is None:
                    continue
                if response.status_code == 201:
                    stat("refunds asked")
                else:
                    stat(f"refund {response.status_code} {error_code(response)}")
    except Exception:  # a bug in the script, or an answer it did not expect: show it, go on
        stat("learner thread crashed")
        traceback.print_exc()


def wait_delivered(learner: Learner, order_no: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(1.0)
        try:
            response = learner.http.get(f"/api/v1/orders/{order_no}/", headers=learner.headers())
        except httpx.TransportError:
            continue
        if response.status_code == 200 and response.json()["status"] == "fulfilled":
            return True
    return False


# -- support: approving refunds ---------------------------------------------------------------
def support_run(support, stop: threading.Event) -> None:
    from django.db import DatabaseError, close_old_connections, connection

    from core.errors import KpayError
    from payments.models import Refund
    from payments.services import refund_approve

    while not stop.wait(2.0):
        try:
            close_old_connections()
            for refund_id in Refund.objects.filter(status=Refund.Status.REQUESTED).values_list(
                "pk", flat=True
            ):
                try:
                    refund_approve(actor=support, refund_id=refund_id, note="fault bench")
                    stat("refunds approved by support")
                except KpayError as error:
                    stat(f"support: {error.code}")
        except DatabaseError:
            stat("support: database errors (retried)")
            connection.close()


# -- faults ---------------------------------------------------------------------------------
def faults_run(services: Services, args, burst_start: float, stop: threading.Event) -> None:
    plan = []
    for i in range(args.gunicorn_kills):
        plan.append(((i + 1) / (args.gunicorn_kills + 1), services.kill_gunicorn_worker))
    for i in range(args.celery_kills):
        plan.append(((i + 0.6) / (args.celery_kills + 0.5), services.kill_celery))
    if not args.no_pg_restart:
        plan.append((0.45, services.restart_postgres))
    plan.sort(key=lambda item: item[0])
    for share, action in plan:
        if stop.wait(max(0.0, burst_start + share * args.seconds - time.monotonic())):
            return
        try:
            action()
        except Exception as error:  # report it and go on
            fault(f"{action.__name__} failed: {error}")


# -- setup, settle, checks ---------------------------------------------------------------------
def setup_data(args):
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from courses.roles import SUPPORT
    from tests.factories import CourseFactory, MerchantFactory, UserFactory

    merchant = MerchantFactory(name="Fault Studio", slug="fault-studio")
    courses = [
        CourseFactory(
            merchant=merchant, slug=f"fault-course-{i}", title=f"Fault course {i}", price=9900 + 100 * i
        )
        for i in range(args.orders_per_learner + 2)
    ]
    password = "fault-bench-pw-" + secrets.token_hex(4)
    learners = [UserFactory(username=f"fault-learner-{i}", password=password) for i in range(args.learners)]
    support = UserFactory(username="fault-support", is_staff=True)
    support.groups.add(Group.objects.get(name=SUPPORT))
    return [c.slug for c in courses], learners, password, support


def settle(args, services: Services) -> dict:
    """Let notifications and tasks finish; then run the periodic sweeps as if their wait
    had passed (a notification or task lost with a killed worker is theirs to recover)."""
    from datetime import timedelta

    from django.db import close_old_connections
    from django.utils import timezone

    from devtools.simulators.models import SimNotification
    from payments.models import Payment, Refund
    from payments.services import payments_sync_pending
    from payments.services.refund_gateway import refunds_sync_pending

    close_old_connections()
    deadline = time.monotonic() + args.settle

    def outstanding():
        return {
            "notifications undelivered": SimNotification.objects.filter(
                delivered_at__isnull=True, next_attempt_at__isnull=False
            ).count(),
            "refunds approved/processing": Refund.objects.filter(
                status__in=[Refund.Status.APPROVED, Refund.Status.PROCESSING, Refund.Status.REQUESTED]
            ).count(),
        }

    while time.monotonic() < deadline:
        left = outstanding()
        if not any(left.values()):
            break
        time.sleep(2)
    left = outstanding()
    log(f"settled by the system alone: outstanding {left}")
    later = timezone.now() + timedelta(minutes=10)
    swept = {
        "payments changed by the sync sweep": payments_sync_pending(now=later),
        "refunds changed by the sync sweep": refunds_sync_pending(now=later),
    }
    # What the sweeps started (a refund sent, a notification) needs the worker again.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(outstanding().values()):
        time.sleep(2)
    swept["still outstanding"] = outstanding()
    swept["pending payments left"] = Payment.objects.filter(status=Payment.Status.PENDING).count()
    return swept


def replay_stuck_keys(args) -> dict:
    """Every key still in progress: wait out its lease, then replay its request with the same key;
    a replay must be answered (not 409, not 5xx)."""
    from django.db import close_old_connections
    from django.utils import timezone

    from core.models import IdempotencyRecord

    close_old_connections()
    in_progress = list(IdempotencyRecord.objects.filter(status_code__isnull=True))
    result = {
        "in progress after the burst": len(in_progress),
        "replayed": 0,
        "answered": 0,
        "not answered": [],
    }
    for record in in_progress:
        wait = (record.locked_until - timezone.now()).total_seconds() if record.locked_until else 0
        if wait > 0:
            time.sleep(wait + 0.5)
        request = SENT.get((record.user_id, record.key))
        if request is None:
            result["not answered"].append(f"{record.scope} key={record.key}: not sent by this run")
            continue
        learner = request["learner"]
        result["replayed"] += 1
        try:
            response = learner.http.request(
                request["method"], request["path"], json=request["body"], headers=learner.headers(record.key)
            )
            ok = response.status_code < 500 and not (
                response.status_code == 409 and error_code(response) == "idempotency_key_in_progress"
            )
        except httpx.TransportError as error:
            ok, response = False, error
        if ok:
            result["answered"] += 1
        else:
            result["not answered"].append(f"{record.scope} key={record.key}: {response}")
    now = timezone.now()
    result["in progress past lease after replay"] = IdempotencyRecord.objects.filter(
        status_code__isnull=True, locked_until__lt=now
    ).count()
    return result


def checks(idempotency: dict) -> list[tuple[str, bool, str]]:
    from django.db import close_old_connections
    from django.db.models import Count, Q

    from courses.models import Enrollment
    from devtools.simulators.models import SimTrade
    from orders.models import Order
    from payments.ledger import checks as ledger_checks
    from payments.models import Payment, Refund

    close_old_connections()
    results = []

    # 1. Paid at most once.
    twice = (
        Order.objects.annotate(ok=Count("payments", filter=Q(payments__status=Payment.Status.SUCCEEDED)))
        .filter(ok__gt=1)
        .values_list("order_no", flat=True)
    )
    twice = list(twice)
    unapplied = list(Payment.objects.filter(status=Payment.Status.UNAPPLIED))
    returned = unattended = 0
    for payment in unapplied:
        refund = Refund.objects.filter(payment=payment, origin=Refund.Origin.UNAPPLIED).first()
        if refund is not None and refund.status == Refund.Status.SUCCEEDED:
            returned += 1
        elif not payment.flag and refund is None:
            unattended += 1
    # What the gateway kept, per order, against what kpay says the order kept.
    payments = {p.payment_no: p for p in Payment.objects.select_related("order")}
    kept_at_gateway: dict[str, int] = defaultdict(int)
    taken_not_known = []
    for trade in SimTrade.objects.filter(state__in=[SimTrade.State.SUCCESS, SimTrade.State.REFUND]):
        payment = payments.get(trade.out_trade_no)
        if payment is None:
            continue
        kept_at_gateway[payment.order.order_no] += trade.amount - trade.refunded
        if payment.status == Payment.Status.PENDING:
            taken_not_known.append(payment.payment_no)
    kept_statuses = {
        Order.Status.PAID,
        Order.Status.FULFILLED,
        Order.Status.COMPLETED,
        Order.Status.PARTIALLY_REFUNDED,
        Order.Status.REFUNDED,
    }
    mismatched = []
    for order in Order.objects.all():
        kept = order.total - order.refunded_amount if order.status in kept_statuses else 0
        if kept_at_gateway.get(order.order_no, 0) != kept:
            mismatched.append(
                f"{order.order_no} ({order.status}): "
                f"gateway kept {kept_at_gateway.get(order.order_no, 0)}, kpay {kept}"
            )
    paid_orders = Order.objects.filter(status__in=kept_statuses).count()
    results.append(
        (
            "every order paid at most once",
            not twice and not unattended and not mismatched and not taken_not_known,
            f"{paid_orders} orders paid; orders with >1 succeeded payment: {len(twice)}; "
            f"second payments (unapplied): {len(unapplied)}, returned {returned}, unattended {unattended}; "
            f"orders where the gateway kept other than kpay's order says: {len(mismatched)} "
            f"{mismatched[:5]}; "
            f"money taken but payment still pending: {len(taken_not_known)} {taken_not_known[:5]}",
        )
    )

    # 2. Every active enrollment backed by a paid, delivered order of its course.
    delivered_statuses = {Order.Status.FULFILLED, Order.Status.COMPLETED, Order.Status.PARTIALLY_REFUNDED}
    orders = {o.order_no: o for o in Order.objects.all()}
    unbacked = []
    active = list(Enrollment.objects.filter(status=Enrollment.Status.ACTIVE).select_related("course"))
    for enrollment in active:
        order = orders.get(enrollment.order_no)
        slugs = {line.get("course_slug") for line in order.lines} if order else set()
        if (
            order is None
            or order.learner_id != enrollment.learner_id
            or order.status not in delivered_statuses
            or enrollment.course.slug not in slugs
        ):
            unbacked.append(
                f"{enrollment.learner_id}/{enrollment.course.slug} by {enrollment.order_no or '-'}"
                f" ({order.status if order else 'no order'})"
            )
    access = {(e.learner_id, e.course.slug) for e in active}
    undelivered = [
        o.order_no
        for o in orders.values()
        if o.status in delivered_statuses
        and not all((o.learner_id, line.get("course_slug")) in access for line in o.lines)
    ]
    results.append(
        (
            "every active enrollment backed by a paid, delivered order",
            not unbacked and not undelivered,
            f"{len(active)} active enrollments; unbacked: {len(unbacked)} {unbacked[:5]}; "
            f"delivered orders without access: {len(undelivered)} {undelivered[:5]}",
        )
    )

    # 3. No Idempotency-Key stuck.
    stuck = idempotency["in progress past lease after replay"]
    not_answered = idempotency["not answered"]
    results.append(
        (
            "no Idempotency-Key stuck in progress",
            not GAVE_UP and not not_answered and stuck == 0,
            f"client requests given up while retrying: {len(GAVE_UP)} {GAVE_UP[:3]}; "
            f"keys in progress after the "
            f"burst: {idempotency['in progress after the burst']}, replayed after their lease "
            f"{idempotency['replayed']}, answered {idempotency['answered']}, "
            f"not answered {len(not_answered)} "
            f"{not_answered[:3]}; in progress past lease at the end: {stuck}",
        )
    )

    # 4. The ledger.
    breaches = ledger_checks.run()
    results.append(("ledger_check clean", not breaches, f"{len(breaches)} breaches {breaches[:5]}"))

    # 5. Refunds reached an end.
    open_refunds = Refund.objects.exclude(
        status__in=[Refund.Status.SUCCEEDED, Refund.Status.DENIED, Refund.Status.FAILED]
    ).count()
    failed = Refund.objects.filter(status=Refund.Status.FAILED).count()
    results.append(
        (
            "every refund reached an end (succeeded, denied or failed)",
            open_refunds == 0,
            f"still open: {open_refunds}; failed: {failed}",
        )
    )
    return results


def counts() -> list[str]:
    from django.db.models import Count

    from courses.models import Enrollment
    from orders.models import Order
    from payments.models import Payment, Refund

    def by(model, *fields):
        rows = model.objects.values(*fields).annotate(n=Count("pk")).order_by(*fields)
        return ", ".join(f"{'/'.join(str(r[f]) for f in fields)} {r['n']}" for r in rows) or "none"

    return [
        f"orders        {by(Order, 'status')}",
        f"payments      {by(Payment, 'status')}",
        f"refunds       {by(Refund, 'origin', 'status')}",
        f"enrollments   {by(Enrollment, 'status')}",
    ]


def main() -> int:
    args = parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="kpay-fault-"))
    env = configure_environment(args, workdir)
    if not args.database.startswith("kpay_fault"):
        raise SystemExit("--database must start with kpay_fault (it is dropped and recreated)")
    log(f"database {args.database}, broker {args.broker}, cache {args.cache}, logs in {workdir}")
    psql("postgres", f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{args.database}"')
    redis_flush(args.broker)
    redis_flush(args.cache)

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    courses, users, password, support = setup_data(args)
    log(f"created {len(users)} learners, {len(courses)} courses, a support user")

    services = Services(args, env, workdir)
    stop = threading.Event()
    code = 1
    try:
        services.start_gunicorn()
        services.start_celery()
        services.wait_up()
        log(f"gunicorn ({args.workers} workers) on {base_url()}, Celery worker+beat up")

        retry_window = args.lease + 45
        learners = [Learner(u.pk, u.username, password, i, retry_window) for i, u in enumerate(users)]
        burst_start = time.monotonic()
        burst_end = burst_start + args.seconds
        threads = [
            threading.Thread(target=learner_run, args=(learner, courses, args, burst_end), daemon=True)
            for learner in learners
        ]
        helpers = [
            threading.Thread(target=support_run, args=(support, stop), daemon=True),
            threading.Thread(target=faults_run, args=(services, args, burst_start, stop), daemon=True),
        ]
        for thread in helpers + threads:
            thread.start()
        log(f"burst: {len(threads)} learners for {args.seconds}s")
        for thread in threads:
            thread.join(timeout=max(1.0, burst_end + retry_window + 90 - time.monotonic()))
        hung = sum(t.is_alive() for t in threads)
        stop.set()
        for thread in helpers:
            thread.join(timeout=60)
        log(f"burst over ({time.monotonic() - burst_start:.0f}s; learner threads still running: {hung})")
        if services.celery.poll() is not None:
            services.start_celery()

        # Approve what was asked at the very end, then settle.
        from django.db import close_old_connections

        close_old_connections()
        from core.errors import KpayError
        from payments.models import Refund
        from payments.services import refund_approve

        for refund_id in Refund.objects.filter(status=Refund.Status.REQUESTED).values_list("pk", flat=True):
            try:
                refund_approve(actor=support, refund_id=refund_id, note="fault bench")
                stat("refunds approved by support")
            except KpayError as error:
                stat(f"support: {error.code}")
        swept = settle(args, services)
        idempotency = replay_stuck_keys(args)
    finally:
        stop.set()
        services.stop()

    results = checks(idempotency)
    print()
    print("=" * 78)
    print(f"kpay fault run: {args.learners} learners, {args.seconds}s burst, {args.workers} gunicorn workers")
    print("-" * 78)
    for line in counts():
        print(line)
    print("-" * 78)
    print("client side")
    for name, n in sorted(STATS.items()):
        print(f"  {name:<52}{n}")
    print("settle")
    for name, value in swept.items():
        print(f"  {name:<52}{value}")
    print("faults injected")
    for at, what in FAULTS:
        print(f"  {at:7.1f}s  {what}")
    print("-" * 78)
    failed = 0
    for name, ok, detail in results:
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}\n      {detail}")
    print("-" * 78)
    print(
        f"{len(results) - failed}/{len(results)} checks passed; run took {time.monotonic() - started:.0f}s; "
        f"logs: {workdir}"
    )
    code = 1 if failed else 0

    from django.db import connections

    connections.close_all()
    if not args.keep_db:
        psql("postgres", f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return code


if __name__ == "__main__":
    sys.exit(main())
