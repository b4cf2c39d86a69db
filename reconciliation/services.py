"""Every write of reconciliation: running a bill (fetched or uploaded), in the request
or as a background job, and resolving a difference. The matching itself is
:mod:`reconciliation.matching`."""

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import BinaryIO

from django.conf import settings
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import KpayError
from core.jobs import JobFailed, job_create, job_run
from core.models import Job
from courses import permissions
from payments.gateways import get_gateway
from payments.gateways.base import BillReader, EmptyBill, Gateway, InvalidBill

from .exceptions import AlreadyRunning, DifferenceNotOpen, NoBills, NoteRequired, ReconciliationError
from .locks import difference_lock, runs_lock
from .matching import BILL_TIMEZONE, Reconciler
from .models import Difference, ReconciliationRun
from .transitions import RUN_FIELDS, differences_transition, run_started, run_transition

logger = logging.getLogger(__name__)

# A run still "running" after this long died with its process: a new run may start.
STALE_AFTER = timedelta(hours=2)
_CHUNK = 1 << 16
JOB_KIND = "reconciliation.bill"
JOB_TASK = "reconciliation.tasks.reconcile_bill_job"

# progress(done, total, step): how far a background job has got (core.jobs.Progress).
Progress = Callable[..., None]


class _HashingWriter:
    """Writes through to ``target`` and keeps the SHA-256 and size of what went by."""

    def __init__(self, target: BinaryIO):
        self.target, self.size, self.sha256 = target, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.target.write(data)


def bills_gateways() -> list[str]:
    """The aliases of the configured gateways that have bills."""
    return [alias for alias in settings.KPAY_GATEWAYS if get_gateway(alias).has_bills]


def yesterday() -> date:
    """The last day whose bills the gateways have (or soon will have)."""
    return timezone.now().astimezone(BILL_TIMEZONE).date() - timedelta(days=1)


def _gateway_with_bills(alias: str) -> Gateway:
    gateway = get_gateway(alias)
    if not gateway.has_bills:
        raise NoBills()
    return gateway


def _check_day(bill_date: date) -> None:
    if bill_date > timezone.now().astimezone(BILL_TIMEZONE).date():
        raise ReconciliationError(_("A bill is of a past day (or today), not of a day to come."))


def _run_start(*, alias: str, bill_date: date, source: str, uploaded_by=None, now) -> ReconciliationRun:
    """A new run, unless one of the same bill is running (one that has been running
    for longer than STALE_AFTER died with its process and is marked failed)."""
    abandoned = _("Abandoned: still running after %(hours)s hours.") % {"hours": STALE_AFTER.seconds // 3600}
    with transaction.atomic():
        stale = ReconciliationRun.objects.filter(
            gateway=alias,
            bill_date=bill_date,
            status=ReconciliationRun.Status.RUNNING,
            started_at__lt=now - STALE_AFTER,
        )
        for run in runs_lock(stale):
            if run_transition(run, "fail", at=now, reason=abandoned, error=abandoned):
                run.save(update_fields=RUN_FIELDS)
    try:
        with transaction.atomic():
            run = ReconciliationRun.objects.create(
                gateway=alias, bill_date=bill_date, source=source, uploaded_by=uploaded_by, started_at=now
            )
            run_started(run, actor=uploaded_by)
            return run
    except IntegrityError:
        raise AlreadyRunning() from None


def _reader_progress(progress: Progress | None, file: BinaryIO, size: int):
    """The reconciler's progress as the share of the bill file read so far."""
    if progress is None:
        return None
    reading, checking = _("Matching the bill's lines with kpay"), _("Looking for what the bill does not list")

    def report(lines: int, after_lines: bool) -> None:
        if after_lines:
            progress(size, size, checking)
        else:
            progress(min(file.tell(), size), size, reading if lines <= 5000 else None)

    return report


# The run's figures that come from the matching's tally, copied onto the run at its end.
RUN_TALLY = (
    "lines",
    "payment_lines",
    "refund_lines",
    "matched",
    "repaired",
    "payments_total",
    "refunds_total",
    "fees_total",
    "fees_posted",
    "fees_posted_total",
)


def _reconcile(
    run: ReconciliationRun, gateway: Gateway, reader: BillReader, report=None
) -> ReconciliationRun:
    """Match the bill, then record the outcome on the run; any failure is recorded on
    the run (what was written before it stays: fees are posted once, and differences
    are updated by the next run)."""
    reconciler = Reconciler(run, gateway, now=run.started_at, progress=report)
    try:
        tally = reconciler.reconcile(reader)
    except Exception as exc:
        logger.exception("reconciliation %s failed", run)
        return _run_fail(run, exc)
    for name in RUN_TALLY:
        setattr(run, name, getattr(tally, name))
    run.differences_found = run.differences.count()
    with transaction.atomic():
        run_transition(run, "succeed", at=timezone.now())
        run.save()
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in tally.phases.items())
    logger.info(
        "reconciliation %s: %s lines, %s matched, %s differences, %s fees posted (%s)",
        run,
        run.lines,
        run.matched,
        run.differences_found,
        run.fees_posted,
        phases,
        extra={"phases": dict(tally.phases)},  # bench/reconciliation.py prints them
    )
    return run


def _run_fail(run: ReconciliationRun, exc: BaseException) -> ReconciliationRun:
    error = str(exc.message) if isinstance(exc, KpayError) else f"{type(exc).__name__}: {exc}"
    with transaction.atomic():
        if run_transition(run, "fail", at=timezone.now(), reason=error, error=error):
            run.save(update_fields=RUN_FIELDS)
    return run


def reconciliation_fetch(
    *, gateway_alias: str, bill_date: date, progress: Progress | None = None
) -> ReconciliationRun:
    """Fetch the gateway's bill of ``bill_date`` and reconcile it. A failure (gateway
    down, bill not ready, bad file) is recorded on the run, which is returned.
    ``progress`` (a background job's) is told how far it has got."""
    gateway = _gateway_with_bills(gateway_alias)
    _check_day(bill_date)
    run = _run_start(
        alias=gateway_alias, bill_date=bill_date, source=ReconciliationRun.Source.FETCHED, now=timezone.now()
    )
    with tempfile.TemporaryFile(prefix="kpay-bill-") as file:
        try:
            if progress is not None:
                progress(0, None, _("Downloading the bill from the gateway"))
            writer = _HashingWriter(file)
            bill = gateway.fetch_bill(bill_date, writer)
            run.file_name, run.file_size = bill.filename, writer.size
            run.file_sha256 = writer.sha256.hexdigest()
            run.save(update_fields=["file_name", "file_size", "file_sha256"])
            file.seek(0)
            reader = EmptyBill() if bill.empty else gateway.read_bill(file)
        except Exception as exc:
            logger.warning("reconciliation %s: no bill: %s", run, exc)
            return _run_fail(run, exc)
        return _reconcile(run, gateway, reader, _reader_progress(progress, file, writer.size))


def _bill_file_check(gateway: Gateway, file: BinaryIO) -> tuple[BillReader, int, str]:
    """A reader of ``file`` and its size and SHA-256; :class:`InvalidBill` when it is empty
    or not one of ``gateway``'s bills (only its header is read for that)."""
    digest, size = hashlib.sha256(), 0
    file.seek(0)
    while chunk := file.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    if size == 0:
        raise InvalidBill(_("The file is empty."))
    file.seek(0)
    return gateway.read_bill(file), size, digest.hexdigest()  # InvalidBill: not this gateway's bill


def reconciliation_upload(
    *,
    actor,
    gateway_alias: str,
    bill_date: date,
    file: BinaryIO,
    file_name: str,
    progress: Progress | None = None,
) -> ReconciliationRun:
    """Reconcile a bill staff downloaded from the gateway's merchant platform and
    uploaded (``file``: seekable, as downloaded or unpacked). A file that is not a
    bill of the gateway raises :class:`InvalidBill` and starts no run. ``progress`` (a
    background job's) is told how far it has got."""
    gateway = _gateway_with_bills(gateway_alias)
    _check_day(bill_date)
    reader, size, sha256 = _bill_file_check(gateway, file)
    run = _run_start(
        alias=gateway_alias,
        bill_date=bill_date,
        source=ReconciliationRun.Source.UPLOADED,
        uploaded_by=actor,
        now=timezone.now(),
    )
    run.file_name, run.file_size, run.file_sha256 = file_name[:255], size, sha256
    run.save(update_fields=["file_name", "file_size", "file_sha256"])
    return _reconcile(run, gateway, reader, _reader_progress(progress, file, size))


# -- in the background ------------------------------------------------------------------------
def reconciliation_job_start(*, actor, gateway_alias: str, bill_date: date, upload=None) -> Job:
    """Reconcile a bill in the background (a million lines take most of a minute): check
    at once what can be checked (who asks, a gateway with bills, a past day, no run of
    that bill under way, an uploaded file that is that gateway's bill), keep an uploaded
    file in the default storage for the worker, and queue the job. ``upload``: a Django
    ``UploadedFile``, or None to fetch the bill from the gateway."""
    if not permissions.may_reconcile(actor):
        raise ReconciliationError(_("You may not reconcile bills."), code="forbidden")
    gateway = _gateway_with_bills(gateway_alias)
    _check_day(bill_date)
    day = bill_date.isoformat()
    running = ReconciliationRun.objects.filter(
        gateway=gateway_alias,
        bill_date=bill_date,
        status=ReconciliationRun.Status.RUNNING,
        started_at__gte=timezone.now() - STALE_AFTER,
    )
    queued = Job.objects.filter(
        kind=JOB_KIND,
        state__in=[Job.State.QUEUED, Job.State.RUNNING],
        params__gateway=gateway_alias,
        params__bill_date=day,
        created_at__gte=timezone.now() - STALE_AFTER,
    )
    if running.exists() or queued.exists():
        raise AlreadyRunning()
    params = {"gateway": gateway_alias, "bill_date": day, "file": "", "file_name": ""}
    if upload is not None:
        name = os.path.basename(upload.name or "bill")[:100]
        stored = storages["private"].save(f"reconciliation/bills/{uuid.uuid4().hex}/{name}", upload)
        try:
            with storages["private"].open(stored, "rb") as file:
                _bill_file_check(gateway, file)  # InvalidBill: a form error, no job
        except Exception:
            storages["private"].delete(stored)
            raise
        params["file"], params["file_name"] = stored, upload.name or name
    title = _("Reconcile %(gateway)s's bill of %(day)s") % {"gateway": gateway_alias, "day": day}
    return job_create(kind=JOB_KIND, title=title, actor=actor, params=params, task=JOB_TASK)


def reconciliation_job_run(*, job_id: int) -> Job | None:
    """The worker's side of :func:`reconciliation_job_start`: the run, with progress. The
    job fails with the run's error when the run fails (the run is its result either way);
    an uploaded file is deleted from storage once its job has ended."""

    def work(job: Job, progress) -> dict:
        params = job.params
        day = date.fromisoformat(params["bill_date"])
        try:
            if params["file"]:
                with storages["private"].open(params["file"], "rb") as file:
                    run = reconciliation_upload(
                        actor=job.created_by,
                        gateway_alias=params["gateway"],
                        bill_date=day,
                        file=file,
                        file_name=params["file_name"],
                        progress=progress,
                    )
            else:
                run = reconciliation_fetch(gateway_alias=params["gateway"], bill_date=day, progress=progress)
        finally:
            if params["file"]:
                storages["private"].delete(params["file"])
        result = {
            "run_id": run.pk,
            "status": run.status,
            "lines": run.lines,
            "matched": run.matched,
            "differences": run.differences_found,
        }
        if run.status != ReconciliationRun.Status.SUCCEEDED:
            raise JobFailed(run.error, result=result)
        return result

    return job_run(job_id, work)


def reconciliation_fetch_all(*, bill_date: date) -> list[ReconciliationRun]:
    """The daily job: every gateway with bills, each on its own (one failing does not
    stop the others; its failure is on its run)."""
    runs = []
    for alias in settings.KPAY_GATEWAYS:
        try:
            if not get_gateway(alias).has_bills:
                continue
            runs.append(reconciliation_fetch(gateway_alias=alias, bill_date=bill_date))
        except Exception:
            logger.exception("reconciliation of %s's bill of %s could not start", alias, bill_date)
    return runs


def difference_resolve(*, actor, difference_id: int, note: str) -> Difference:
    """Finance staff close an open difference, saying how (the note is required)."""
    note = (note or "").strip()
    if not note:
        raise NoteRequired()
    if not permissions.may_resolve_differences(actor):
        raise ReconciliationError(_("You may not resolve differences."), code="forbidden")
    with transaction.atomic():
        difference = difference_lock(difference_id=difference_id)
        resolved = differences_transition(
            [difference],
            lambda _d: ("resolve", {"by": actor, "note": note[:500]}),
            at=timezone.now(),
            actor=actor,
        )
        if not resolved:
            raise DifferenceNotOpen()
    logger.info("difference %s resolved by %s", difference.pk, actor)
    return difference
