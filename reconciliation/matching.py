"""Matching one bill's lines with kpay's payments and refunds, in bounded memory.

Lines are taken in batches of :data:`BATCH`: one query finds the batch's payments (by
``payment_no``, the gateway's merchant trade number), one its refunds (by
``refund_no``); differences and fees are written per batch, in one transaction each
(on PostgreSQL by a :class:`Writer` thread with its own connection, so that the
database's work on one batch overlaps reading the next). The ids of the payments and
refunds the bill listed are kept in compact arrays (8 bytes each), so that at the end
kpay's payments and refunds of the day that the bill does *not* list can be found by
streaming them, whatever the size of the bill. Memory stays bounded by the batch.

A payment the gateway reports paid but kpay does not is asked about through
:func:`payments.services.payment_sync` (a refund through
:func:`payments.services.refund_sync`), which applies the gateway's answer; a repaired
one is recorded as such, and anything else stays open, the payment flagged.
"""

import logging
import queue
import threading
from array import array
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from time import perf_counter
from zoneinfo import ZoneInfo

from django.db import connection, connections, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from core.errors import KpayError
from payments import services as payment_services
from payments.gateways.base import BillLine, BillLineKind, BillReader, Gateway, TradeState
from payments.ledger.bulk import GatewayFee, fee_insert_sql, post_gateway_fees
from payments.locks import payment_lock
from payments.models import Payment, Refund

from .locks import differences_lock
from .models import Difference, ReconciliationRun
from .transitions import differences_transition

logger = logging.getLogger(__name__)

BATCH = 5000
# On PostgreSQL the lines that agree are matched, and their fees posted, in SQL
# (Reconciler._match_in_sql); tests turn it off to compare with the Python path.
MATCH_IN_SQL = True
# Payments the bill leaves out are confirmed with the gateway (was it paid on another
# day?), up to this many per run.
GATEWAY_QUERIES = 50
BILL_TIMEZONE = ZoneInfo("Asia/Shanghai")  # the day of WeChat Pay's and Alipay's bills
PAID = (Payment.Status.SUCCEEDED, Payment.Status.UNAPPLIED)
REFUND_KINDS = (
    Difference.Kind.REFUND_NOT_RECORDED,
    Difference.Kind.REFUND_MISSING_AT_GATEWAY,
    Difference.Kind.REFUND_AMOUNT_MISMATCH,
    Difference.Kind.REFUND_STATUS_MISMATCH,
)
PAYMENT_FIELDS = ("id", "payment_no", "gateway", "gateway_txn_id", "amount", "status")
REFUND_FIELDS = (
    "id",
    "refund_no",
    "amount",
    "status",
    "payment_id",
    "payment__payment_no",
    "payment__gateway",
)
UPSERT_FIELDS = [
    "run",
    "trade_no",
    "txn_id",
    "refund_no",
    "payment",
    "refund",
    "kpay_amount",
    "gateway_amount",
    "detail",
    "updated_at",
]


class Writer:
    """Runs ``write(job)`` for each submitted job, in order: in a second thread with
    its own database connection when it may (so that PostgreSQL's work on one batch
    overlaps reading and matching the next), else at once. At most two jobs wait, so
    memory stays bounded. A failed job is raised in the caller at its next call."""

    _DONE = object()

    def __init__(self, write, *, threaded: bool):
        self._write, self._error = write, None
        self._queue: queue.Queue | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._loop, name="reconciliation-writer", daemon=True)
            self._thread.start()

    @staticmethod
    def may_thread() -> bool:
        """Only on PostgreSQL, and outside a transaction: a second connection would not
        see the caller's uncommitted rows (nor, in tests, the test's own)."""
        return connection.vendor == "postgresql" and not connection.in_atomic_block

    def _loop(self) -> None:
        try:
            while (job := self._queue.get()) is not self._DONE:
                if self._error is None:
                    try:
                        self._write(job)
                    except BaseException as exc:
                        self._error = exc
        finally:
            connections.close_all()  # this thread's connection

    def submit(self, job) -> None:
        self._raise()
        if self._queue is None:
            self._write(job)
        else:
            self._queue.put(job)

    def close(self) -> None:
        """Wait until every job is written (idempotent); raise a writer's failure."""
        if self._queue is not None:
            self._queue.put(self._DONE)
            self._thread.join()
            self._queue = None
        self._raise()

    def check(self) -> None:
        """Raise a writer's failure, if it had one."""
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def one_of(model, field: str, values) -> Q:
    """``field IN values`` for thousands of values: on PostgreSQL ``= ANY(%s)`` with one
    array parameter, which is much cheaper to send and to plan than thousands of
    placeholders."""
    values = list(values)
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": values})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(field).column)}"
    # The column comes from model metadata; the values are one bound parameter.
    return Q(RawSQL(f"{column} = ANY(%s)", (values,), output_field=BooleanField()))  # noqa: S611


def bill_day_bounds(day) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=BILL_TIMEZONE)
    return start, start + timedelta(days=1)


class IdSet:
    """Integers in a compact array; :meth:`freeze` sorts them for lookups."""

    def __init__(self):
        self._ids = array("q")

    def add(self, value: int) -> None:
        self._ids.append(value)

    def freeze(self) -> list[int]:
        """Sort, drop repeats, and return the values that were added more than once."""
        ordered = sorted(self._ids)
        self._ids = array("q")
        repeated = []
        previous = None
        for value in ordered:
            if value == previous:
                if not repeated or repeated[-1] != value:
                    repeated.append(value)
                continue
            self._ids.append(value)
            previous = value
        return repeated

    def update(self, values: Iterable[int]) -> None:
        self._ids.extend(values)

    def __contains__(self, value: int) -> bool:
        i = bisect_left(self._ids, value)
        return i < len(self._ids) and self._ids[i] == value

    def __len__(self) -> int:
        return len(self._ids)


@dataclass
class Tally:
    lines: int = 0
    payment_lines: int = 0
    refund_lines: int = 0
    matched: int = 0
    repaired: int = 0
    payments_total: int = 0
    refunds_total: int = 0
    fees_total: int = 0
    fees_posted: int = 0
    fees_posted_total: int = 0
    # Seconds spent in each phase (wall; the writer's overlap the reading's), for
    # bench/reconciliation.py: parse, copy, match, fees, lines (those matched in
    # Python), differences.
    phases: Counter = field(default_factory=Counter)


def _amounts_differ(line: BillLine, row: dict) -> str:
    return _("The bill says %(bill)s fen; kpay says %(kpay)s fen.") % {
        "bill": line.amount,
        "kpay": row["amount"],
    }


class Reconciler:
    """Reconciles one bill (a :class:`BillReader`) for one run. Use once."""

    def __init__(self, run: ReconciliationRun, gateway: Gateway, *, now, progress=None):
        """``progress(lines, after_lines)``, if given, is told the lines read after each
        batch, and once more (``after_lines=True``) when kpay's side is being checked."""
        self.run, self.gateway, self.alias, self.now = run, gateway, gateway.alias, now
        self._progress = progress or (lambda lines, after_lines: None)
        self._lines_read = 0
        self.tally = Tally()
        self.payments_seen, self.refunds_seen = IdSet(), IdSet()
        self._differences: dict[tuple[str, str], Difference] = {}
        self._repaired_keys: list[tuple[str, str]] = []
        self._fees: list[GatewayFee] = []
        self._payment_repairs: list[tuple[BillLine, dict]] = []
        self._refund_repairs: list[tuple[BillLine, dict]] = []
        self._queries_left = GATEWAY_QUERIES
        self._fee_note = f"{self.alias} bill {run.bill_date:%Y-%m-%d}"

    # -- the whole bill -------------------------------------------------------------
    def reconcile(self, reader: BillReader) -> Tally:
        self._writer = Writer(self._write, threaded=Writer.may_thread())
        self._matching: deque[tuple[list[BillLine], Future]] = deque()
        phases = self.tally.phases
        try:
            batch: list[BillLine] = []
            clock = perf_counter()
            for line in reader:
                batch.append(line)
                if len(batch) >= BATCH:
                    phases["parse"] += perf_counter() - clock
                    self._read(batch)
                    batch = []
                    clock = perf_counter()
            phases["parse"] += perf_counter() - clock
            if batch:
                self._read(batch)
            self._settle(wait=True)
            self._progress(self._lines_read, True)
            clock = perf_counter()
            self._after_bill(reader)
            phases["after the bill"] += perf_counter() - clock
        finally:
            self._writer.close()
        return self.tally

    def _read(self, lines: list[BillLine]) -> None:
        self._batch(lines)
        self._lines_read += len(lines)
        self._progress(self._lines_read, False)

    def _batch(self, lines: list[BillLine]) -> None:
        self.tally.lines += len(lines)
        if MATCH_IN_SQL and connection.vendor == "postgresql":
            # The writer matches the batch in SQL (in its thread, when it has one, while
            # this one reads the next batch); the lines it leaves are matched here later.
            matched: Future = Future()
            self._writer.submit(("match", lines, matched))
            self._matching.append((lines, matched))
            self._settle(wait=False)
        else:
            self._python_lines(lines)
        self.run.lines = self.tally.lines
        self.run.save(update_fields=["lines"])  # progress, for whoever watches the run

    def _settle(self, *, wait: bool) -> None:
        """Match in Python the lines of the batches the writer has matched in SQL (all
        of them with ``wait``) that it did not match."""
        while self._matching:
            lines, matched = self._matching[0]
            while wait and not matched.done():
                self._writer.check()  # a failed writer never answers
                wait_for([matched], timeout=0.2)
            if not matched.done():
                return
            self._matching.popleft()
            found = matched.result()
            self._python_lines([line for line in lines if line.line_no not in found] if found else lines)

    def _python_lines(self, lines: list[BillLine]) -> None:
        clock = perf_counter()
        self._lines(lines)
        self.tally.phases["lines"] += perf_counter() - clock

    def _lines(self, lines: list[BillLine]) -> None:
        """Match ``lines`` one by one in Python: on PostgreSQL only those that
        :meth:`_match_in_sql` left (the ones that differ, refunds, unreadable lines)."""
        trade_nos = {line.trade_no for line in lines if line.trade_no}
        refund_nos = {line.refund_no for line in lines if line.kind == BillLineKind.REFUND and line.refund_no}
        payments, refunds = {}, {}
        if trade_nos:
            rows = Payment.objects.filter(one_of(Payment, "payment_no", trade_nos)).values(*PAYMENT_FIELDS)
            payments = {row["payment_no"]: row for row in rows}
        if refund_nos:
            rows = Refund.objects.filter(one_of(Refund, "refund_no", refund_nos)).values(*REFUND_FIELDS)
            refunds = {row["refund_no"]: row for row in rows}
        for line in lines:
            if line.kind == BillLineKind.PAYMENT:
                self._payment_line(line, payments.get(line.trade_no))
            elif line.kind == BillLineKind.REFUND:
                self._refund_line(line, refunds.get(line.refund_no), payments.get(line.trade_no))
            else:
                payment = payments.get(line.trade_no)
                self._difference(
                    Difference.Kind.INVALID_LINE,
                    f"line:{line.line_no}",
                    line=line,
                    payment_id=payment["id"] if payment else None,
                    detail=_("Line %(line)s: %(problem)s") % {"line": line.line_no, "problem": line.problem},
                )
        self._flush()
        self._repair()

    # -- the lines that agree, in SQL (PostgreSQL) ------------------------------------------
    def _match_in_sql(self, lines: list[BillLine]) -> set[int]:
        """Match the batch's paid payment lines that agree with kpay, and post their fees,
        in the database; return their line numbers (the caller matches the others in
        Python, as before).

        Replaces, for the lines that agree (all but a handful of a real bill), the
        per-line Python of :meth:`_payment_line` and :meth:`_compare_paid`: a dict per
        payment row, a :class:`GatewayFee` per line, and the fees' own COPY. The
        batch's candidate lines are COPYed into a temporary table; one ``INSERT …
        SELECT`` joins them with the payments and keeps those that agree by the same
        test as :meth:`_compare_paid` (the gateway's, paid in kpay, the same amount, no
        other gateway transaction id); :func:`payments.ledger.bulk.fee_insert_sql`
        posts their fees from it. One transaction per batch, like the writer's."""
        phases, alias = self.tally.phases, self.alias
        candidates = [
            line for line in lines if line.kind == BillLineKind.PAYMENT and line.succeeded and line.trade_no
        ]
        if not candidates:
            return set()
        quote = connection.ops.quote_name
        payments = quote(Payment._meta.db_table)
        fees_sql, fees_params = fee_insert_sql(
            "SELECT payment_id, fee AS amount, reference, NULL::bigint AS refund_id FROM recon_matched",
            at=self.now,
            note=self._fee_note,
        )
        with transaction.atomic(), connection.cursor() as cursor:
            clock = perf_counter()
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS recon_lines (line_no bigint, trade_no text,"
                " txn_id text, amount bigint, fee bigint) ON COMMIT DELETE ROWS;"
                " CREATE TEMPORARY TABLE IF NOT EXISTS recon_matched (line_no bigint, payment_id bigint,"
                " amount bigint, fee bigint, reference varchar(80)) ON COMMIT DELETE ROWS"
            )
            with cursor.cursor.copy(
                "COPY recon_lines (line_no, trade_no, txn_id, amount, fee) FROM STDIN"
            ) as copy:
                write = copy.write_row
                for line in candidates:
                    write((line.line_no, line.trade_no, line.txn_id, line.amount, line.fee))
            phases["copy"] += perf_counter() - clock
            clock = perf_counter()
            # The table name comes from model metadata; every value is a parameter.
            cursor.execute(
                f"""
                WITH matched AS (
                    INSERT INTO recon_matched (line_no, payment_id, amount, fee, reference)
                    SELECT l.line_no, p.id, l.amount, l.fee,
                           left(%(alias)s || ':' || coalesce(nullif(l.txn_id, ''), l.trade_no), 80)
                    FROM recon_lines l
                    JOIN {payments} p ON p.payment_no = l.trade_no
                    WHERE p.gateway = %(alias)s AND p.status = ANY(%(paid)s) AND p.amount = l.amount
                      AND (l.txn_id = '' OR coalesce(p.gateway_txn_id, '') IN ('', l.txn_id))
                    RETURNING line_no, payment_id, amount, fee
                )
                SELECT array_agg(line_no), array_agg(payment_id), count(*),
                       coalesce(sum(amount), 0), coalesce(sum(fee), 0)
                FROM matched
                """,  # noqa: S608
                {"alias": alias, "paid": list(PAID)},
            )
            line_nos, payment_ids, count, amounts, fees = cursor.fetchone()
            phases["match"] += perf_counter() - clock
            clock = perf_counter()
            posted, posted_total = 0, 0
            if count:
                cursor.execute(fees_sql, fees_params)
                posted, posted_total = cursor.fetchone()
            cursor.execute("TRUNCATE recon_lines, recon_matched")  # in a caller's transaction too
            phases["fees"] += perf_counter() - clock
        tally = self.tally
        tally.payment_lines += count
        tally.payments_total += int(amounts)
        tally.fees_total += int(fees)
        tally.matched += count
        tally.fees_posted += posted
        tally.fees_posted_total += int(posted_total)
        if not count:
            return set()
        self.payments_seen.update(payment_ids)
        return set(line_nos)

    # -- payments -------------------------------------------------------------------------
    def _payment_line(self, line: BillLine, row: dict | None) -> None:
        tally = self.tally
        tally.payment_lines += 1
        tally.payments_total += line.amount
        tally.fees_total += line.fee
        if row is None or row["gateway"] != self.alias:
            detail = (
                _("kpay has no payment with this number.")
                if row is None
                else _("kpay has this payment on gateway %(gateway)s.") % {"gateway": row["gateway"]}
            )
            self._difference(
                Difference.Kind.UNKNOWN_TRADE,
                line.trade_no or f"line:{line.line_no}",
                line=line,
                payment_id=row["id"] if row else None,
                gateway_amount=line.amount,
                detail=detail,
            )
            return
        self.payments_seen.add(row["id"])
        paid = row["status"] in PAID
        if not line.succeeded:
            if paid:
                self._status_mismatch(
                    line,
                    row,
                    _("The bill says %(bill)s; kpay has it %(kpay)s.")
                    % {"bill": line.status, "kpay": row["status"]},
                )
            else:
                tally.matched += 1
            return
        if not paid:
            self._payment_repairs.append((line, row))
            return
        self._compare_paid(line, row)

    def _status_mismatch(self, line: BillLine, row: dict, detail: str) -> None:
        self._payment_difference(
            Difference.Kind.STATUS_MISMATCH,
            line,
            row,
            detail=detail,
        )

    def _compare_paid(self, line: BillLine, row: dict) -> None:
        """A line for a payment both sides call paid: amounts, ids, and its fee."""
        found = []
        if line.amount != row["amount"]:
            found.append((Difference.Kind.AMOUNT_MISMATCH, _amounts_differ(line, row)))
        if line.txn_id and row["gateway_txn_id"] and line.txn_id != row["gateway_txn_id"]:
            detail = _("The gateway's transaction id is %(bill)s on the bill, %(kpay)s in kpay.") % {
                "bill": line.txn_id,
                "kpay": row["gateway_txn_id"],
            }
            found.append((Difference.Kind.STATUS_MISMATCH, detail))
        for kind, detail in found:
            self._payment_difference(kind, line, row, detail=detail)
        self.tally.matched += not found
        if line.fee:
            self._fees.append(
                GatewayFee(row["id"], line.fee, f"{self.alias}:{line.txn_id or line.trade_no}"[:80])
            )

    # -- refunds --------------------------------------------------------------------------
    def _refund_line(self, line: BillLine, row: dict | None, payment: dict | None) -> None:
        tally = self.tally
        tally.refund_lines += 1
        tally.refunds_total += line.amount
        tally.fees_total += line.fee
        key = line.refund_no or f"{line.trade_no}:{line.refund_id or line.line_no}"
        if row is None or row["payment__gateway"] != self.alias:
            self._difference(
                Difference.Kind.REFUND_NOT_RECORDED,
                key,
                line=line,
                payment_id=payment["id"] if payment and payment["gateway"] == self.alias else None,
                gateway_amount=line.amount,
                detail=_("kpay has no refund with this number."),
            )
            return
        self.refunds_seen.add(row["id"])
        if not line.succeeded:
            if row["status"] == Refund.Status.SUCCEEDED:
                self._refund_difference(
                    Difference.Kind.REFUND_STATUS_MISMATCH,
                    key,
                    line,
                    row,
                    detail=_("The bill says %(bill)s; kpay has it succeeded.") % {"bill": line.status},
                )
            else:
                tally.matched += 1
            return
        if row["status"] != Refund.Status.SUCCEEDED:
            if row["status"] in (Refund.Status.APPROVED, Refund.Status.PROCESSING):
                self._refund_repairs.append((line, row))
            else:
                self._refund_not_recorded(line, row, key, "")
            return
        self._compare_refund(line, row, key)

    def _refund_not_recorded(self, line: BillLine, row: dict, key: str, why: str) -> None:
        detail = _("kpay has this refund %(status)s.") % {"status": row["status"]}
        self._refund_difference(
            Difference.Kind.REFUND_NOT_RECORDED,
            key,
            line,
            row,
            detail=f"{detail} {why}".strip(),
        )

    def _compare_refund(self, line: BillLine, row: dict, key: str) -> None:
        found = []
        if line.amount != row["amount"]:
            found.append((Difference.Kind.REFUND_AMOUNT_MISMATCH, _amounts_differ(line, row)))
        if line.trade_no and line.trade_no != row["payment__payment_no"]:
            detail = _("The bill lists it under trade %(bill)s; kpay under %(kpay)s.") % {
                "bill": line.trade_no,
                "kpay": row["payment__payment_no"],
            }
            found.append((Difference.Kind.REFUND_STATUS_MISMATCH, detail))
        for kind, detail in found:
            self._refund_difference(kind, key, line, row, detail=detail)
        self.tally.matched += not found
        if line.fee:
            reference = f"{self.alias}:refund:{line.refund_id or line.refund_no}"[:80]
            self._fees.append(GatewayFee(row["payment_id"], line.fee, reference, refund_id=row["id"]))

    # -- repairs (network calls, outside transactions) -------------------------------------
    def _repair(self) -> None:
        repairs, self._payment_repairs = self._payment_repairs, []
        for line, row in repairs:
            self._repair_payment(line, row)
        refund_repairs, self._refund_repairs = self._refund_repairs, []
        for line, row in refund_repairs:
            self._repair_refund(line, row)
        if repairs or refund_repairs:
            self._flush()

    def _repair_payment(self, line: BillLine, row: dict) -> None:
        why = ""
        try:
            payment = payment_services.payment_sync(payment=Payment.objects.get(pk=row["id"]))
            status = payment.status
        except KpayError as exc:
            status, why = row["status"], _("Asking the gateway failed: %(error)s") % {"error": exc.message}
        if status in PAID:
            self.tally.repaired += 1
            self._payment_difference(
                Difference.Kind.PAID_NOT_RECORDED,
                line,
                row,
                detail=_("kpay had it %(status)s; the gateway's answer to a query was applied.")
                % {"status": row["status"]},
                repaired=True,
            )
            self._compare_paid(line, Payment.objects.filter(pk=row["id"]).values(*PAYMENT_FIELDS).get())
            return
        detail = _("The bill says paid; kpay has it %(status)s.") % {"status": status}
        self._payment_difference(
            Difference.Kind.PAID_NOT_RECORDED,
            line,
            row,
            detail=f"{detail} {why}".strip(),
        )
        with transaction.atomic():
            locked = payment_lock(pk=row["id"])
            flag = f"reconciliation {self.alias} {self.run.bill_date:%Y-%m-%d}: paid at the gateway"
            if locked.flag != flag:
                payment_services.payment_flag(payment=locked, why=flag)

    def _repair_refund(self, line: BillLine, row: dict) -> None:
        key = line.refund_no
        why = ""
        try:
            refund = Refund.objects.select_related("payment").get(pk=row["id"])
            refund = payment_services.refund_sync(refund=refund)
            status = refund.status
        except KpayError as exc:
            status, why = row["status"], _("Asking the gateway failed: %(error)s") % {"error": exc.message}
        if status != Refund.Status.SUCCEEDED:
            self._refund_not_recorded(line, {**row, "status": status}, key, why)
            return
        self.tally.repaired += 1
        self._refund_difference(
            Difference.Kind.REFUND_NOT_RECORDED,
            key,
            line,
            row,
            detail=_("kpay had it %(status)s; the gateway's answer to a query was applied.")
            % {"status": row["status"]},
            repaired=True,
        )
        fresh = Refund.objects.filter(pk=row["id"]).values(*REFUND_FIELDS).get()
        self._compare_refund(line, fresh, key)

    # -- after the last line --------------------------------------------------------------------
    def _after_bill(self, reader: BillReader) -> None:
        self._repeated_payments(self.payments_seen.freeze())
        self.refunds_seen.freeze()
        self._missing_payments()
        if reader.has_refunds:
            self._missing_refunds()
        self._check_summary(reader)
        self._flush()
        self._writer.close()  # everything written before the stale differences are closed
        kinds = [kind for kind in Difference.Kind.values if reader.has_refunds or kind not in REFUND_KINDS]
        note = _("Not found again when the bill was reconciled again (run %(run)s).") % {"run": self.run.pk}
        with transaction.atomic():
            stale = self._of_bill(status=Difference.Status.OPEN, kind__in=kinds).exclude(run=self.run)
            differences_transition(differences_lock(stale), lambda _d: ("close", {"note": note}), at=self.now)

    def _repeated_payments(self, payment_ids: list[int]) -> None:
        for row in Payment.objects.filter(pk__in=payment_ids).values("id", "payment_no", "amount"):
            self._difference(
                Difference.Kind.INVALID_LINE,
                f"twice:{row['payment_no']}",
                trade_no=row["payment_no"],
                payment_id=row["id"],
                kpay_amount=row["amount"],
                detail=_("The bill lists this payment more than once."),
            )

    def _missing_payments(self) -> None:
        start, end = bill_day_bounds(self.run.bill_date)
        day_payments = (
            Payment.objects.filter(
                gateway=self.alias, status__in=PAID, succeeded_at__gte=start, succeeded_at__lt=end
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        seen = self.payments_seen
        missing = array("q", (pk for pk in day_payments.iterator(chunk_size=BATCH) if pk not in seen))
        for i in range(0, len(missing), BATCH):
            rows = Payment.objects.filter(pk__in=missing[i : i + BATCH].tolist()).values(
                "id", "payment_no", "gateway_txn_id", "amount", "succeeded_at"
            )
            for row in rows:
                self._missing_payment(row)
            self._flush()

    def _missing_payment(self, row: dict) -> None:
        """A payment kpay counts as paid on the bill's day that the bill leaves out. If
        the gateway says it was paid on another day (kpay heard late), it is on that
        day's bill: recorded, and resolved at once."""
        detail, other_day = _("kpay has it paid on this day; the bill does not list it."), None
        if self._queries_left > 0:
            self._queries_left -= 1
            try:
                status = self.gateway.query_payment(row["payment_no"])
            except KpayError as exc:
                detail += " " + _("Asking the gateway failed: %(error)s") % {"error": exc.message}
            else:
                paid = status.state in (TradeState.SUCCEEDED, TradeState.REFUNDED)
                if paid and status.paid_at is not None:
                    paid_day = status.paid_at.astimezone(BILL_TIMEZONE).date()
                    if paid_day != self.run.bill_date:
                        other_day = paid_day
                detail += " " + _("The gateway says: %(state)s.") % {"state": status.state}
        self._difference(
            Difference.Kind.MISSING_AT_GATEWAY,
            row["payment_no"],
            trade_no=row["payment_no"],
            txn_id=row["gateway_txn_id"] or "",
            payment_id=row["id"],
            kpay_amount=row["amount"],
            detail=detail,
            resolved_note=(
                _("The gateway has it paid on %(day)s: it is on that day's bill.") % {"day": other_day}
                if other_day
                else ""
            ),
        )

    def _missing_refunds(self) -> None:
        start, end = bill_day_bounds(self.run.bill_date)
        rows = (
            Refund.objects.filter(
                payment__gateway=self.alias,
                status=Refund.Status.SUCCEEDED,
                succeeded_at__gte=start,
                succeeded_at__lt=end,
            )
            .order_by("pk")
            .values("id", "refund_no", "amount", "payment_id", "payment__payment_no", "gateway_refund_id")
        )
        for row in rows.iterator(chunk_size=BATCH):
            if row["id"] in self.refunds_seen:
                continue
            self._difference(
                Difference.Kind.REFUND_MISSING_AT_GATEWAY,
                row["refund_no"],
                trade_no=row["payment__payment_no"],
                refund_no=row["refund_no"],
                payment_id=row["payment_id"],
                refund_id=row["id"],
                kpay_amount=row["amount"],
                detail=_("kpay has it refunded on this day; the bill does not list it."),
            )
            if len(self._differences) >= BATCH:
                self._flush()

    def _check_summary(self, reader: BillReader) -> None:
        summary, tally, run = reader.summary, self.tally, self.run
        if reader.summary_problem:
            problem = reader.summary_problem
        elif summary is None:
            problem = _("The bill has no totals: it may be cut short.") if reader.expects_summary else ""
        else:
            run.summary_lines = summary.lines
            run.summary_payments_total = summary.payments_total
            run.summary_refunds_total = summary.refunds_total
            run.summary_fees_total = summary.fees_total
            figures = [
                (_("lines"), summary.lines, tally.lines),
                (_("payment lines"), summary.payment_lines, tally.payment_lines),
                (_("refund lines"), summary.refund_lines, tally.refund_lines),
                (_("payments (fen)"), summary.payments_total, tally.payments_total),
                (_("refunds (fen)"), summary.refunds_total, tally.refunds_total),
                (_("fees (fen)"), summary.fees_total, tally.fees_total),
            ]
            problem = "; ".join(
                _("%(figure)s: the totals say %(said)s, the lines add up to %(counted)s")
                % {"figure": figure, "said": said, "counted": counted}
                for figure, said, counted in figures
                if said is not None and said != counted
            )
        if problem:
            self._difference(Difference.Kind.SUMMARY_MISMATCH, "summary", detail=problem)

    # -- writing ---------------------------------------------------------------------------
    def _payment_difference(self, kind: str, line: BillLine, row: dict, **fields) -> None:
        """A difference about a bill line and kpay's payment ``row``."""
        self._difference(
            kind,
            line.trade_no,
            line=line,
            payment_id=row["id"],
            kpay_amount=row["amount"],
            gateway_amount=line.amount,
            **fields,
        )

    def _refund_difference(self, kind: str, key: str, line: BillLine, row: dict, **fields) -> None:
        """A difference about a bill line and kpay's refund ``row``."""
        self._difference(
            kind,
            key,
            line=line,
            payment_id=row["payment_id"],
            refund_id=row["id"],
            kpay_amount=row["amount"],
            gateway_amount=line.amount,
            **fields,
        )

    def _difference(
        self,
        kind: str,
        key: str,
        *,
        line: BillLine | None = None,
        trade_no: str = "",
        txn_id: str = "",
        refund_no: str = "",
        payment_id: int | None = None,
        refund_id: int | None = None,
        kpay_amount: int | None = None,
        gateway_amount: int | None = None,
        detail: str = "",
        repaired: bool = False,
        resolved_note: str = "",
    ) -> None:
        if line is not None:
            trade_no, txn_id, refund_no = line.trade_no, line.txn_id, line.refund_no
        status, note = Difference.Status.OPEN, ""
        if repaired:
            status, note = Difference.Status.REPAIRED, _("Repaired: kpay applied the gateway's answer.")
        elif resolved_note:
            status, note = Difference.Status.RESOLVED, resolved_note
        difference = Difference(
            gateway=self.alias,
            bill_date=self.run.bill_date,
            kind=kind,
            key=key[:80],
            run=self.run,
            trade_no=trade_no[:64],
            txn_id=txn_id[:64],
            refund_no=refund_no[:64],
            payment_id=payment_id,
            refund_id=refund_id,
            kpay_amount=kpay_amount,
            gateway_amount=gateway_amount,
            detail=detail[:500],
            status=status,
            resolved_at=self.now if status != Difference.Status.OPEN else None,
            resolution_note=note[:500],
            created_at=self.now,
            updated_at=self.now,
        )
        self._differences[(kind, difference.key)] = difference
        if status != Difference.Status.OPEN:
            self._repaired_keys.append((kind, difference.key))

    def _flush(self) -> None:
        """Hand the differences and fees gathered so far to the writer."""
        job = (list(self._differences.values()), self._repaired_keys, self._fees)
        self._differences, self._repaired_keys, self._fees = {}, [], []
        if job[0] or job[2]:
            self._writer.submit(("write", job))

    def _write(self, job) -> None:
        """The writer's jobs: a batch to match in SQL (its answer in the job's Future),
        or one transaction that upserts the differences and posts the fees."""
        if job[0] == "match":
            _match, lines, answer = job
            try:
                answer.set_result(self._match_in_sql(lines))
            except BaseException as exc:
                answer.set_exception(exc)
                raise
            return
        differences, closed, fees = job[1]
        clock = perf_counter()
        with transaction.atomic():
            if differences:
                Difference.objects.bulk_create(
                    differences,
                    update_conflicts=True,
                    unique_fields=["gateway", "bill_date", "kind", "key"],
                    update_fields=UPSERT_FIELDS,
                )
                self._close_reopened(closed, differences)
                self._reopen(differences)
            posted, total = post_gateway_fees(fees, at=self.now, note=self._fee_note)
        self.tally.phases["differences"] += perf_counter() - clock
        self.tally.fees_posted += posted
        self.tally.fees_posted_total += total

    def _of_bill(self, **filters):
        return Difference.objects.filter(gateway=self.alias, bill_date=self.run.bill_date, **filters)

    def _close_reopened(self, closed: Iterable[tuple[str, str]], differences: list[Difference]) -> None:
        """Differences found before, still open, and repaired or explained this time:
        the upsert keeps a row's status, so they are closed (or repaired) here."""
        by_key = {(d.kind, d.key): d for d in differences}
        keys: dict[str, list[str]] = {}
        for kind, key in set(closed):
            if (kind, key) in by_key:
                keys.setdefault(kind, []).append(key)

        def close(row: Difference):
            found = by_key[(row.kind, row.key)]
            name = "repair" if found.status == Difference.Status.REPAIRED else "close"
            return name, {"note": found.resolution_note}

        for kind, kind_keys in keys.items():
            rows = self._of_bill(kind=kind, key__in=kind_keys, status=Difference.Status.OPEN)
            differences_transition(differences_lock(rows), close, at=self.now)

    def _reopen(self, differences: list[Difference]) -> None:
        """A difference closed automatically (not found again, or explained by another
        day's bill) that is found open again is open again. One staff resolved stays."""
        keys: dict[str, list[str]] = {}
        for difference in differences:
            if difference.status == Difference.Status.OPEN:
                keys.setdefault(difference.kind, []).append(difference.key)
        for kind, kind_keys in keys.items():
            rows = self._of_bill(
                kind=kind, key__in=kind_keys, status=Difference.Status.RESOLVED, resolved_by__isnull=True
            )
            differences_transition(differences_lock(rows), lambda _d: ("reopen", {}), at=self.now)
