#!/usr/bin/env python
"""Time the reconciliation of a 1,000,000-line WeChat Pay trade bill, and its memory.

Fills its own test database (test_<name>) with ``--lines`` paid WeChat Pay payments
(orders and payments inserted server-side with ``INSERT … SELECT generate_series``),
writes the matching bill (gzip, streamed to disk as it is generated: the ALL format,
backtick-prefixed values, summary header and row) with a few deliberate differences,
then reconciles it in a child process (so its peak memory is the reconciliation's
alone) through the same service the admin upload and ``manage.py reconcile --file``
use, and prints wall time and peak memory. Targets: under 60 s and 300 MB,
the first; then raised to under 15 s (README, Speed and scale).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kpay .venv/bin/python bench/reconciliation.py

``--tracemalloc`` also measures Python's own allocations (slower: the time printed
then is not the figure to quote). Reconciling twice shows the second run posts no fee.
"""

import argparse
import csv
import gzip
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.db import connection, transaction
from django.test.utils import setup_databases, teardown_databases

from core.money import fen_to_yuan

GATEWAY, CHANNEL = "wechatpay", "wechat_native"
BEIJING = ZoneInfo("Asia/Shanghai")
BILL_DAY = datetime.now(BEIJING).date() - timedelta(days=1)
# The deliberate differences (by line number g, 1-based):
AMOUNT_OFF = 10  # the bill says one fen more
PENDING_IN_KPAY = 20  # paid at the gateway, pending in kpay (the repair query fails: no gateway here)
LEFT_OFF_BILL = 30  # paid in kpay, not on the bill
UNKNOWN_TRADES = 3  # lines for trades kpay never saw
UNKNOWN_REFUNDS = 3  # refunds kpay never made


def amount_of(g: int) -> int:
    return 9900 + g % 100


def fee_of(fen: int) -> int:
    return int((Decimal(fen) * Decimal("0.006")).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--again", action="store_true", help="reconcile the same bill a second time")
    parser.add_argument(
        "--ledger-check",
        action="store_true",
        help="journal the payments too, and time manage.py ledger_check over the whole journal afterwards",
    )
    parser.add_argument(
        "--keepdb",
        action="store_true",
        help="keep the filled database and the bill (in $TMPDIR) for the next run, which forgets"
        " the previous runs (their fees, differences and runs) before reconciling",
    )
    parser.add_argument("--profile", help="cProfile the reconciliation into this file")
    parser.add_argument(
        "--python-matching",
        action="store_true",
        help="match every line in Python, as before the matching in SQL (for a same-window comparison)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: reconcile this bill file
    args = parser.parse_args()
    if args.child:
        if args.python_matching:
            from reconciliation import matching

            matching.MATCH_IN_SQL = False
        reconcile_in_child(Path(args.child), args.tracemalloc, args.profile)
        return

    old_config = setup_databases(verbosity=0, interactive=False, keepdb=args.keepdb, serialized_aliases=())
    try:
        with tempfile.TemporaryDirectory(prefix="kpay-bench-") as directory:
            if args.keepdb:
                directory = Path(tempfile.gettempdir()) / f"kpay-bench-{connection.settings_dict['NAME']}"
                directory.mkdir(exist_ok=True)
            bill = Path(directory) / f"wechatpay-{BILL_DAY}-{args.lines}.csv.gz"
            if not (args.keepdb and kept(args.lines)):
                fill(args.lines)
                if args.ledger_check:
                    journal_payments()
            if not (args.keepdb and bill.exists()):
                write_bill(bill, args.lines)
            runs = 2 if args.again else 1
            for attempt in range(runs):
                print(f"-- reconciliation {attempt + 1} of {runs}")
                child(bill, args.tracemalloc, args.profile, args.python_matching)
            if args.ledger_check:
                time_ledger_check()
    finally:
        if not args.keepdb:
            teardown_databases(old_config, verbosity=0)


def kept(lines: int) -> bool:
    """--keepdb: whether the database holds the bench's payments; if so, forget the
    previous runs (fees posted, differences, runs) so that this one starts afresh."""
    from payments.models import JournalEntry, Payment
    from reconciliation.models import Difference, ReconciliationRun

    if Payment.objects.filter(payment_no__startswith="P").count() != lines:
        return False
    with transaction.atomic():
        JournalEntry.objects.filter(kind=JournalEntry.Kind.FEE)._raw_delete(JournalEntry.objects.db)
        Difference.objects.all().delete()
        ReconciliationRun.objects.all().delete()
        Payment.objects.filter(payment_no=payment_no(PENDING_IN_KPAY)).update(flag="")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"kept          {lines:,} paid orders and payments from a previous --keepdb run")
    return True


def fill(lines: int) -> None:
    """Orders and payments, paid on BILL_DAY, generated by PostgreSQL itself."""
    from orders.models import Order
    from payments.models import Payment
    from tests.factories import CourseFactory, UserFactory

    assert connection.vendor == "postgresql", "the benchmark needs PostgreSQL"
    started = time.perf_counter()
    course = CourseFactory(price=9900)
    learner = UserFactory()
    day_start = datetime.combine(BILL_DAY, datetime.min.time(), tzinfo=BEIJING)
    template_order = Order.objects.create(
        order_no="TEMPLATE",
        learner=learner,
        merchant_id=course.merchant_id,
        checkout_key="template",
        status=Order.Status.FULFILLED,
        subtotal=9900,
        total=9900,
        expires_at=day_start,
    )
    template_payment = Payment.objects.create(
        payment_no="TEMPLATE",
        order=template_order,
        merchant_id=template_order.merchant_id,
        channel=CHANNEL,
        gateway=GATEWAY,
        amount=9900,
        status=Payment.Status.SUCCEEDED,
        expires_at=day_start,
    )
    # 86,400 s spread over the lines: every payment succeeded on BILL_DAY (Beijing time).
    step = 86_000_000 / lines  # ms
    at = f"(%(start)s::timestamptz + make_interval(secs => g * {step / 1000}))"
    insert_like(
        Order,
        template_order.pk,
        lines,
        {
            "order_no": "'B' || lpad(g::text, 19, '0')",
            "checkout_key": "'bench#' || g",
            "subtotal": "9900 + mod(g, 100)",
            "total": "9900 + mod(g, 100)",
            "created_at": at,
            "expires_at": at,
            "paid_at": at,
            "fulfilled_at": at,
        },
        {"start": day_start},
    )
    with connection.cursor() as cursor:
        payment_columns = [f.column for f in Payment._meta.concrete_fields if f.column != "id"]
        overrides = {
            "payment_no": "'P' || substr(o.order_no, 2)",
            "order_id": "o.id",
            "merchant_id": "o.merchant_id",
            "amount": "o.total",
            "gateway_txn_id": "'4200' || lpad(substr(o.order_no, 2), 24, '0')",
            "created_at": "o.created_at",
            "expires_at": "o.expires_at",
            "succeeded_at": "o.paid_at",
        }
        select = ", ".join(overrides.get(c, f"t.{c}") for c in payment_columns)
        cursor.execute(
            f"INSERT INTO {Payment._meta.db_table} ({', '.join(payment_columns)}) "  # noqa: S608
            f"SELECT {select} FROM {Order._meta.db_table} o, {Payment._meta.db_table} t "
            f"WHERE t.id = %s AND o.order_no LIKE 'B%%'",
            [template_payment.pk],
        )
        template_payment.delete()
        template_order.delete()
        # The deliberate "pending in kpay" payment.
        cursor.execute(
            f"UPDATE {Payment._meta.db_table} SET status = 'pending', succeeded_at = NULL, "  # noqa: S608
            "gateway_txn_id = NULL WHERE payment_no = %s",
            [payment_no(PENDING_IN_KPAY)],
        )
        cursor.execute("ANALYZE")
    print(f"filled        {lines:,} paid orders and payments in {time.perf_counter() - started:.1f} s")


def journal_payments() -> None:
    """Each paid payment's posting, as ``ledger.post_payment_received`` writes it (the
    merchant's share and the platform's commission at 10 %, half up), in SQL."""
    from payments import ledger
    from payments.models import JournalEntry, Payment

    started = time.perf_counter()
    journal, payments = JournalEntry._meta.db_table, Payment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {journal} (posting_id, kind, debit_account, credit_account, amount, currency,
                                   merchant_id, order_id, payment_id, refund_id, reference, memo, created_at)
            SELECT gen_random_uuid(), 'payment', %(clearing)s,
                   CASE WHEN leg = 0 THEN 'merchant:' || o.merchant_id || ':pending' ELSE %(commission)s END,
                   CASE WHEN leg = 0 THEN p.amount - (p.amount + 5) / 10 ELSE (p.amount + 5) / 10 END,
                   p.currency, o.merchant_id, o.id, p.id, NULL, '', '', p.succeeded_at
            FROM {payments} p JOIN orders_order o ON o.id = p.order_id, generate_series(0, 1) leg
            WHERE p.status = 'succeeded'
            """,  # noqa: S608
            {"clearing": ledger.gateway_clearing(CHANNEL), "commission": ledger.PLATFORM_COMMISSION},
        )
        cursor.execute("ANALYZE")
    print(f"journaled     the payments' postings in {time.perf_counter() - started:.1f} s")


def time_ledger_check() -> None:
    from payments.ledger import checks as ledger_check
    from payments.models import JournalEntry

    entries = JournalEntry.objects.count()
    started = time.perf_counter()
    breaches = ledger_check.run()
    print(f"-- ledger_check over {entries:,} journal entries")
    print(f"checks        {len(ledger_check.checks())}, breaches {len(breaches)}")
    for breach in breaches[:5]:
        print(f"  {breach}")
    print(f"wall time     {time.perf_counter() - started:.1f} s")


def insert_like(model, template_pk: int, count: int, overrides: dict[str, str], params: dict) -> None:
    columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
    select = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {select} FROM {model._meta.db_table} t, generate_series(1, %(count)s) g "
            f"WHERE t.id = %(template)s",
            {**params, "count": count, "template": template_pk},
        )


def payment_no(g: int) -> str:
    return f"P{g:019d}"


def write_bill(path: Path, lines: int) -> None:
    """The ALL trade bill of BILL_DAY, written through gzip as it is generated."""
    from devtools.simulators.wechatpay.views import ALL_COLUMNS, SUMMARY_COLUMNS

    started = time.perf_counter()
    count = settled = refunded = fees = 0
    with gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=6) as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(ALL_COLUMNS)
        base = dict.fromkeys(ALL_COLUMNS, "")
        base |= {
            "公众账号ID": "wxd930ea5d5a258f4f",
            "商户号": "1900000109",
            "特约商户号": "0",
            "交易类型": "NATIVE",
            "付款银行": "OTHERS",
            "货币种类": "CNY",
            "代金券金额": "0.00",
            "充值券退款金额": "0.00",
            "商品名称": "Course",
            "费率": "0.60%",
        }
        day = datetime.combine(BILL_DAY, datetime.min.time())
        step = 86_000 / lines

        def emit(row: dict) -> None:
            writer.writerow([f"`{row[c]}" for c in ALL_COLUMNS])

        for g in range(1, lines + 1):
            if g == LEFT_OFF_BILL:
                continue
            amount = amount_of(g) + (1 if g == AMOUNT_OFF else 0)
            fee = fee_of(amount)
            row = base | {
                "交易时间": f"{day + timedelta(seconds=g * step):%Y-%m-%d %H:%M:%S}",
                "微信订单号": f"4200{g:024d}",
                "商户订单号": payment_no(g),
                "用户标识": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                "交易状态": "SUCCESS",
                "应结订单金额": fen_to_yuan(amount),
                "微信退款单号": "0",
                "商户退款单号": "0",
                "退款金额": "0.00",
                "手续费": fen_to_yuan(fee),
                "订单金额": fen_to_yuan(amount),
                "申请退款金额": "0.00",
            }
            emit(row)
            count, settled, fees = count + 1, settled + amount, fees + fee
        late = f"{day:%Y-%m-%d} 23:59:59"
        for i in range(UNKNOWN_TRADES):
            row = base | {
                "交易时间": late,
                "微信订单号": f"4299{i:024d}",
                "商户订单号": f"PUNKNOWN{i:011d}",
                "交易状态": "SUCCESS",
                "应结订单金额": "1.00",
                "退款金额": "0.00",
                "手续费": "0.01",
                "订单金额": "1.00",
                "申请退款金额": "0.00",
            }
            emit(row)
            count, settled, fees = count + 1, settled + 100, fees + 1
        for i in range(UNKNOWN_REFUNDS):
            g = 100 + i
            row = base | {
                "交易时间": late,
                "微信订单号": f"4200{g:024d}",
                "商户订单号": payment_no(g),
                "交易状态": "REFUND",
                "应结订单金额": "0.00",
                "微信退款单号": f"5030{i:024d}",
                "商户退款单号": f"RUNKNOWN{i:011d}",
                "退款金额": "1.00",
                "退款类型": "ORIGINAL",
                "退款状态": "SUCCESS",
                "手续费": "-0.01",
                "订单金额": fen_to_yuan(amount_of(g)),
                "申请退款金额": "1.00",
            }
            emit(row)
            count, refunded, fees = count + 1, refunded + 100, fees - 1
        writer.writerow(SUMMARY_COLUMNS)
        summary = [
            count,
            fen_to_yuan(settled),
            fen_to_yuan(refunded),
            "0.00",
            fen_to_yuan(fees),
            fen_to_yuan(settled),
            fen_to_yuan(refunded),
        ]
        writer.writerow([f"`{v}" for v in summary])
    size, took = path.stat().st_size, time.perf_counter() - started
    print(f"bill          {count:,} lines, {size / 1e6:.1f} MB gzip, written in {took:.1f} s")


def child(bill: Path, trace: bool, profile: str | None, python_matching: bool = False) -> None:
    """Reconcile in a fresh process on the test database, for a clean peak-memory figure."""
    env = dict(os.environ, BENCH_DATABASE_NAME=connection.settings_dict["NAME"])
    command = [sys.executable, __file__, "--child", str(bill)] + (["--tracemalloc"] if trace else [])
    command += ["--profile", profile] if profile else []
    command += ["--python-matching"] if python_matching else []
    subprocess.run(command, env=env, check=True)  # noqa: S603


def high_water_kib() -> int | None:
    """This process's peak RSS (VmHWM). Unlike getrusage's ru_maxrss, which Linux carries
    over an exec from the forked parent (the bench's own process, database filled), it is
    the child's alone."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class BackendCPU:
    """CPU time of the PostgreSQL backends serving the test database (this process's
    connections), sampled from /proc every 0.2 s: unlike wall time it does not stretch
    with the machine's load. Linux, with PostgreSQL on this machine, only."""

    def __init__(self, database: str):
        import threading

        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        self._watcher = psycopg.connect(**params, autocommit=True)
        self._database, self._seen, self._stop = database, {}, threading.Event()
        self._start = self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> dict[int, float]:
        tick = os.sysconf("SC_CLK_TCK")
        pids = [
            pid
            for (pid,) in self._watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [self._database],
            )
        ]
        times = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            times[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        self._seen.update(times)
        return times

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def stop(self) -> float:
        """Seconds of backend CPU since the start."""
        self._stop.set()
        self._thread.join()
        self._sample()
        self._watcher.close()
        return sum(cpu - self._start.get(pid, 0.0) for pid, cpu in self._seen.items())


class PhaseLog(logging.Handler):
    """Keeps the phases (parse, COPY, match, fees, …) the reconciliation logs with its outcome."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.phases = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.phases = getattr(record, "phases", None) or self.phases


def reconcile_in_child(bill: Path, trace: bool, profile: str | None = None) -> None:
    import tracemalloc

    from django.conf import settings
    from django.utils import translation

    connection.settings_dict["NAME"] = os.environ["BENCH_DATABASE_NAME"]
    settings.DEBUG = False  # no query log
    translation.activate("en")
    from django.db import reset_queries
    from django.db.models import Count

    from payments.models import JournalEntry
    from reconciliation import services

    reset_queries()
    phases = PhaseLog()
    logging.getLogger("reconciliation.services").addHandler(phases)
    baseline = high_water_kib() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    backends = BackendCPU(connection.settings_dict["NAME"])
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    with bill.open("rb") as file:
        run = services.reconciliation_upload(
            actor=None, gateway_alias=GATEWAY, bill_date=BILL_DAY, file=file, file_name=bill.name
        )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    backend_cpu = backends.stop()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    peak = high_water_kib() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    differences = {kind: count for kind, count in run.differences.values_list("kind").annotate(n=Count("pk"))}
    print(f"run           {run}: {run.get_status_display()} {run.error}")
    print(f"lines         {run.lines:,} ({run.payment_lines:,} payments, {run.refund_lines:,} refunds)")
    print(f"matched       {run.matched:,}")
    print(f"differences   {run.differences_found} {differences}")
    journal_fees = JournalEntry.objects.filter(kind=JournalEntry.Kind.FEE).count()
    posted = f"{run.fees_posted:,} ({fen_to_yuan(run.fees_posted_total)} yuan)"
    print(f"fees posted   {posted}; fee entries in the journal: {journal_fees:,}")
    print(
        f"wall time     {elapsed:.1f} s (CPU in this process {cpu:.1f} s, in PostgreSQL {backend_cpu:.1f} s)"
    )
    print(f"load average  {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"peak RSS      {peak / 1024:.0f} MB (before the run, Django loaded: {baseline / 1024:.0f} MB)")
    if phases.phases:
        # Wall seconds in each phase; the writer thread's (differences) overlap the rest.
        print(
            "phases        " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.phases.items())
        )
    if traced is not None:
        print(f"tracemalloc   peak {traced / 1e6:.0f} MB of Python allocations (tracing slows the run)")


if __name__ == "__main__":
    main()
