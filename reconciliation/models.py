"""Reconciliation (对账) of kpay's payments and refunds against the gateways' daily bills.

A :class:`ReconciliationRun` is one reading of one gateway's bill of one day, fetched
by the daily task or uploaded by finance staff. A day may be reconciled again (a
later bill, a fix in kpay): every run is kept. A :class:`Difference` is one thing the
bill and kpay disagree on; it belongs to the *bill* (gateway, day, kind, key), not to
a run, so reconciling again updates the same row instead of adding another; ``run``
is the latest run that found it.

Both have a life cycle (django-fsm, transitions on the model, driven by
``reconciliation.services``) and a history of it: a run goes from running to succeeded or
failed; a difference is resolved by staff, closed or repaired by a run, and re-opened by
a run that finds again what a run had closed.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from core.money import FenField
from core.transitions import StatusChange
from payments.models import Payment, Refund


class ReconciliationRun(FSMModelMixin, models.Model):
    class Source(models.TextChoices):
        FETCHED = "fetched", _("Fetched from the gateway")
        UPLOADED = "uploaded", _("Uploaded by staff")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    gateway = models.CharField(_("gateway"), max_length=32, help_text=_("Alias in KPAY_GATEWAYS"))
    bill_date = models.DateField(_("bill date"))
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    file_size = models.BigIntegerField(_("file size (bytes)"), default=0)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, blank=True)
    status = FSMField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RUNNING, protected=True
    )
    error = models.TextField(_("error"), blank=True)

    lines = models.PositiveIntegerField(_("lines"), default=0)
    payment_lines = models.PositiveIntegerField(_("payment lines"), default=0)
    refund_lines = models.PositiveIntegerField(_("refund lines"), default=0)
    matched = models.PositiveIntegerField(_("matched"), default=0)
    differences_found = models.PositiveIntegerField(_("differences"), default=0)
    repaired = models.PositiveIntegerField(_("repaired"), default=0)
    # Totals of the bill's lines, in fen, and what the bill's own summary says (None:
    # it says nothing of it).
    payments_total = FenField(_("payments"), default=0)
    refunds_total = FenField(_("refunds"), default=0)
    fees_total = FenField(_("fees"), default=0)
    summary_lines = models.PositiveIntegerField(_("summary: lines"), null=True, blank=True)
    summary_payments_total = FenField(_("summary: payments"), null=True, blank=True)
    summary_refunds_total = FenField(_("summary: refunds"), null=True, blank=True)
    summary_fees_total = FenField(_("summary: fees"), null=True, blank=True)
    fees_posted = models.PositiveIntegerField(
        _("fees recorded"), default=0, help_text=_("Fee entries this run added to the journal")
    )
    fees_posted_total = FenField(_("amount of fees recorded"), default=0)

    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-bill_date", "-started_at", "-pk"]
        indexes = [models.Index(fields=["gateway", "bill_date"], name="recon_run_bill_idx")]
        constraints = [
            # One run at a time per bill: a second is refused while the first runs.
            models.UniqueConstraint(
                fields=["gateway", "bill_date"], condition=Q(status="running"), name="recon_run_one_running"
            ),
        ]

    def __str__(self):
        return f"{self.gateway} {self.bill_date:%Y-%m-%d} #{self.pk}"

    # -- transitions: fields only (services drive them and record them) --
    @transition(field=status, source=Status.RUNNING, target=Status.SUCCEEDED)
    def succeed(self, *, at):
        self.finished_at = at

    @transition(field=status, source=Status.RUNNING, target=Status.FAILED)
    def fail(self, *, at, error: str):
        self.error = error
        self.finished_at = at


class ReconciliationRunStatusChange(StatusChange):
    """A run's history: started, then succeeded or failed (abandoned runs too)."""

    reconciliationrun = models.ForeignKey(
        ReconciliationRun, on_delete=models.CASCADE, related_name="status_changes"
    )


class Difference(FSMModelMixin, models.Model):
    class Kind(models.TextChoices):
        PAID_NOT_RECORDED = "paid_not_recorded", _("Paid at the gateway, not paid in kpay")
        MISSING_AT_GATEWAY = "missing_at_gateway", _("Paid in kpay, not on the bill")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amounts differ")
        STATUS_MISMATCH = "status_mismatch", _("Statuses differ")
        REFUND_NOT_RECORDED = "refund_not_recorded", _("Refunded at the gateway, not in kpay")
        REFUND_MISSING_AT_GATEWAY = "refund_missing_at_gateway", _("Refunded in kpay, not on the bill")
        REFUND_AMOUNT_MISMATCH = "refund_amount_mismatch", _("Refund amounts differ")
        REFUND_STATUS_MISMATCH = "refund_status_mismatch", _("Refund statuses differ")
        SUMMARY_MISMATCH = "summary_mismatch", _("Bill totals differ from its lines")
        UNKNOWN_TRADE = "unknown_trade", _("Trade unknown to kpay")
        INVALID_LINE = "invalid_line", _("Unreadable bill line")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        REPAIRED = "repaired", _("Repaired automatically")

    gateway = models.CharField(_("gateway"), max_length=32)
    bill_date = models.DateField(_("bill date"))
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # What makes the difference the same one when the bill is read again: the trade or
    # refund number, "summary", or the line number of an unreadable line.
    key = models.CharField(_("key"), max_length=80)
    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.PROTECT,
        related_name="differences",
        verbose_name=_("latest run"),
    )
    trade_no = models.CharField(_("trade number"), max_length=64, blank=True, db_index=True)
    txn_id = models.CharField(_("gateway transaction id"), max_length=64, blank=True)
    refund_no = models.CharField(_("refund number"), max_length=64, blank=True)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("payment")
    )
    refund = models.ForeignKey(
        Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("refund")
    )
    kpay_amount = FenField(_("kpay amount"), null=True, blank=True)
    gateway_amount = FenField(_("gateway amount"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    status = FSMField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN, protected=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution_note = models.CharField(_("resolution note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("found at"))
    updated_at = models.DateTimeField(_("last seen at"))

    class Meta:
        verbose_name = _("difference")
        verbose_name_plural = _("differences")
        ordering = ["-bill_date", "-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "-bill_date"], name="recon_diff_queue_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "bill_date", "kind", "key"], name="recon_difference_once_per_bill"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(resolution_note=""), name="recon_difference_closed_with_note"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.key}"

    # -- transitions: fields only (services and runs drive them and record them) --
    @transition(field=status, source=Status.OPEN, target=Status.RESOLVED)
    def resolve(self, *, at, by, note: str):
        """Staff say how it was resolved."""
        self.resolved_by = by
        self.resolved_at = at
        self.resolution_note = note

    @transition(field=status, source=Status.OPEN, target=Status.RESOLVED)
    def close(self, *, at, note: str):
        """A run explains it (not found again, on another day's bill)."""
        self.resolved_at = at
        self.resolution_note = note

    @transition(field=status, source=Status.OPEN, target=Status.REPAIRED)
    def repair(self, *, at, note: str):
        """A run applied the gateway's answer."""
        self.resolved_at = at
        self.resolution_note = note

    def closed_by_a_run(self) -> bool:
        return self.resolved_by_id is None

    @transition(field=status, source=Status.RESOLVED, target=Status.OPEN, conditions=[closed_by_a_run])
    def reopen(self, *, at):
        """A run finds again what a run had closed; what staff resolved stays resolved."""
        self.resolved_at = None
        self.resolution_note = ""


class DifferenceStatusChange(StatusChange):
    """A difference's history: resolved by whom and why, closed, repaired, re-opened."""

    difference = models.ForeignKey(Difference, on_delete=models.CASCADE, related_name="status_changes")
