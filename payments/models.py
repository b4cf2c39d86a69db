import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from core.money import FenField
from core.transitions import StatusChange
from courses.models import CURRENCIES, Merchant
from orders.models import Order


class Payment(FSMModelMixin, models.Model):
    """One attempt to pay an order on one channel.

    ``payment_no`` is what the gateway knows as its merchant trade number
    (``out_trade_no``): every attempt has its own, so switching channel or retrying
    never collides with an earlier request at the gateway.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CLOSED = "closed", _("Closed")
        # Money arrived but the order could not take it (already paid, or closed):
        # it is owed back to the payer and must be refunded.
        UNAPPLIED = "unapplied", _("Received, to refund")

    payment_no = models.CharField(_("payment number"), max_length=32, unique=True, editable=False)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="payments", verbose_name=_("order")
    )
    # The order's merchant, written with the payment (an order never changes merchant), so
    # merchant staff's list filters and sorts on ``payment_merchant_list_idx`` alone
    # instead of joining a million orders.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("merchant")
    )
    channel = models.CharField(_("channel"), max_length=32)
    gateway = models.CharField(_("gateway"), max_length=32, help_text=_("Alias in KPAY_GATEWAYS"))
    amount = FenField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    status = FSMField(_("status"), default=Status.PENDING, choices=Status.choices, protected=True)
    action = models.JSONField(
        _("what the payer was given"),
        default=dict,
        help_text=_("What the client needs to pay: code_url, redirect_url, params"),
    )
    gateway_txn_id = models.CharField(
        _("gateway transaction id"), max_length=64, null=True, blank=True, unique=True
    )
    payer_id = models.CharField(_("payer"), max_length=128, blank=True, help_text=_("openid, buyer id …"))
    flag = models.CharField(
        _("flag"), max_length=255, blank=True, help_text=_("Why staff must look at this payment")
    )
    risk_assessment = models.JSONField(
        _("risk assessment when paid"),
        default=dict,
        blank=True,
        help_text=_("The risk assessment when the gateway reported the payer"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    succeeded_at = models.DateTimeField(_("succeeded at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Refunds: what went back to the payer, and what is on its way (requested, approved
    # or at the gateway). Changed only under the payment's row lock; the constraint
    # below refuses, in the database, to give back more than was paid.
    refunded_amount = FenField(_("refunded"), default=0)
    refund_reserved = FenField(_("refunds in flight"), default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="payment_pending_idx"),
            # The back office's list (newest first) and its status filter (bench/scale.py).
            models.Index(fields=["-created_at", "-id"], name="payment_admin_list_idx"),
            models.Index(fields=["status", "-created_at", "-id"], name="payment_status_list_idx"),
            models.Index(fields=["merchant", "-created_at", "-id"], name="payment_merchant_list_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refund_reserved__gte=0)
                & Q(refund_reserved__lte=F("amount") - F("refunded_amount")),
                name="payment_refunds_within_amount",
            ),
            models.UniqueConstraint(
                fields=["order"], condition=Q(status="succeeded"), name="payment_one_success_per_order"
            ),
            # Parallel "pay" requests converge on one attempt (payments.services.payment_start).
            models.UniqueConstraint(
                fields=["order", "channel"],
                condition=Q(status="pending"),
                name="payment_one_pending_per_channel",
            ),
        ]

    def __str__(self):
        return self.payment_no

    @transition(field=status, source=[Status.PENDING, Status.FAILED, Status.CLOSED], target=Status.SUCCEEDED)
    def succeed(self, *, at, gateway_txn_id, payer_id=""):
        self.succeeded_at = at
        self.gateway_txn_id = gateway_txn_id
        self.payer_id = payer_id

    @transition(field=status, source=[Status.PENDING, Status.FAILED, Status.CLOSED], target=Status.UNAPPLIED)
    def mark_unapplied(self, *, at, gateway_txn_id, payer_id="", flag):
        self.succeeded_at = at
        self.gateway_txn_id = gateway_txn_id
        self.payer_id = payer_id
        self.flag = flag

    @transition(field=status, source=Status.PENDING, target=Status.FAILED)
    def fail(self, *, at):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.CLOSED)
    def close(self, *, at):
        self.closed_at = at

    @property
    def refundable_amount(self) -> int:
        """What may still be refunded: paid, minus refunded, minus refunds in flight."""
        return self.amount - self.refunded_amount - self.refund_reserved


class PaymentStatusChange(StatusChange):
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="status_changes")


class Refund(FSMModelMixin, models.Model):
    """Money given back for a payment, all or part of it.

    ``refund_no`` is what the gateway knows as the merchant refund number
    (``out_refund_no`` / ``out_request_no``), the gateway's idempotency key: sending the
    same refund again never refunds twice. Life cycle: requested → approved (or denied)
    → processing → succeeded or failed; a failed refund may be retried.

    Above ``KPAY_REFUND_APPROVAL_THRESHOLD`` two different staff members approve: the
    first is ``first_approved_by`` (the refund stays requested), the second
    ``approved_by``.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        DENIED = "denied", _("Denied")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    # Money reserved on the payment (Payment.refund_reserved) in these states.
    IN_FLIGHT_STATUSES = (Status.REQUESTED, Status.APPROVED, Status.PROCESSING)

    class Origin(models.TextChoices):
        LEARNER = "learner", _("Requested by the learner")
        STAFF = "staff", _("Issued by staff")
        RISK = "risk", _("Returned by risk control")
        # Money no order took (a second payment of a paid order, or one received after
        # the order closed), returned by kpay itself (KPAY_AUTO_RETURN_UNAPPLIED).
        UNAPPLIED = "unapplied", _("Returned automatically: a duplicate payment")

    refund_no = models.CharField(_("refund number"), max_length=32, unique=True, editable=False)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order")
    )
    # The order's merchant, written with the refund (as the payment's).
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("merchant")
    )
    amount = FenField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    reason = models.CharField(_("reason"), max_length=255)
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices)
    status = FSMField(_("status"), default=Status.REQUESTED, choices=Status.choices, protected=True)
    # Empty when risk control returned the money (origin "risk"), not a person.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds_requested",
        verbose_name=_("requested by"),
    )
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("first approver"),
        help_text=_("First of two approvers (refunds above the approval threshold)"),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
        help_text=_("Who approved or denied it"),
    )
    decision_note = models.CharField(_("decision note"), max_length=255, blank=True)
    gateway_refund_id = models.CharField(_("gateway refund id"), max_length=64, blank=True)
    failure_message = models.CharField(_("failure"), max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(
        _("attempts"), default=0, help_text=_("Times sent to the gateway")
    )
    created_at = models.DateTimeField(_("requested at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("sent to the gateway at"), null=True, blank=True)
    succeeded_at = models.DateTimeField(_("succeeded at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        indexes = [
            models.Index(fields=["status", "created_at"], name="refund_status_idx"),
            models.Index(fields=["-created_at", "-id"], name="refund_admin_list_idx"),
            models.Index(fields=["merchant", "-created_at", "-id"], name="refund_merchant_list_idx"),
            # The admin's search by number looks refunds up by the gateway's refund id too
            # (core.admin.NumberSearchMixin): without it, that search scanned every refund.
            models.Index(
                fields=["gateway_refund_id"], name="refund_gateway_id_idx", condition=~Q(gateway_refund_id="")
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(first_approved_by__isnull=True)
                | Q(approved_by__isnull=True)
                | ~Q(first_approved_by=F("approved_by")),
                name="refund_four_eyes",
            ),
        ]
        permissions = [
            ("issue_refund", "Can issue refunds of orders"),
            ("approve_refund", "Can approve, deny and retry refunds"),
        ]

    def __str__(self):
        return self.refund_no

    # -- transitions: fields only, no side effects (payments.services drives them) --
    @transition(field=status, source=Status.REQUESTED, target=Status.REQUESTED)
    def approve_first(self, *, at, by):
        self.first_approved_by = by

    @transition(field=status, source=Status.REQUESTED, target=Status.APPROVED)
    def approve(self, *, at, by, note=""):
        self.approved_by = by
        self.decided_by = by
        self.decided_at = at
        self.decision_note = note

    @transition(field=status, source=Status.REQUESTED, target=Status.DENIED)
    def deny(self, *, at, by, note=""):
        self.decided_by = by
        self.decided_at = at
        self.decision_note = note

    @transition(field=status, source=[Status.APPROVED, Status.FAILED], target=Status.PROCESSING)
    def submit(self, *, at):
        self.submitted_at = at
        self.failure_message = ""
        self.attempts += 1

    @transition(
        field=status, source=[Status.APPROVED, Status.PROCESSING, Status.FAILED], target=Status.SUCCEEDED
    )
    def succeed(self, *, at, gateway_refund_id=""):
        self.succeeded_at = at
        if gateway_refund_id:
            self.gateway_refund_id = gateway_refund_id

    @transition(field=status, source=[Status.APPROVED, Status.PROCESSING], target=Status.FAILED)
    def fail(self, *, at, message):
        self.failed_at = at
        self.failure_message = message[:255]

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT_STATUSES


class RefundStatusChange(StatusChange):
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="status_changes")


class GatewayEvent(models.Model):
    """A verified notification from a gateway, stored once per gateway event id."""

    class Outcome(models.TextChoices):
        PROCESSED = "processed", _("Processed")
        DUPLICATE = "duplicate", _("Already handled")
        MISMATCH = "mismatch", _("Rejected: does not match our records")
        UNAPPLIED = "unapplied", _("Money received for a closed or paid order")
        IGNORED = "ignored", _("Nothing to do")

    gateway = models.CharField(_("gateway"), max_length=32)
    event_id = models.CharField(_("event id"), max_length=128)
    event_type = models.CharField(_("event type"), max_length=64)
    trade_no = models.CharField(_("trade number"), max_length=64, db_index=True)
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("payment"),
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    payload = models.JSONField(_("payload"), help_text=_("The verified (decrypted) content"))
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("gateway notification")
        verbose_name_plural = _("gateway notifications")
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="gatewayevent_once"),
        ]

    def __str__(self):
        return f"{self.gateway}:{self.event_id}"


class GatewayExchange(models.Model):
    """One call we made to a gateway and its answer, secrets redacted."""

    gateway = models.CharField(_("gateway"), max_length=32)
    operation = models.CharField(_("operation"), max_length=40)
    trade_no = models.CharField(_("trade number"), max_length=64, blank=True, db_index=True)
    method = models.CharField(_("HTTP method"), max_length=8)
    url = models.CharField(_("URL"), max_length=500)
    request_body = models.TextField(_("request body"), blank=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    response_body = models.TextField(_("response body"), blank=True)
    error = models.CharField(_("error"), max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("gateway call")
        verbose_name_plural = _("gateway calls")

    def __str__(self):
        return f"{self.gateway} {self.operation} {self.trade_no}"


class JournalEntry(models.Model):
    """One line of the double-entry journal (交易流水): ``amount`` moves from ``credit_account``
    to ``debit_account``. Each row balances by construction; a business event writes
    one or more rows sharing a ``posting_id``. Rows are never updated or deleted:
    corrections are new, reversing rows.

    Accounts are named by code (``payments.ledger`` builds them), e.g.
    ``gateway_clearing:sandbox``, ``merchant:7:pending``, ``platform:commission``.
    """

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment received")
        UNAPPLIED = "unapplied", _("Payment received, owed back")
        REFUND = "refund", _("Refund paid out")
        SETTLEMENT = "settlement", _("Order settled: pending to available")
        FEE = "fee", _("Gateway fee")
        PAYOUT = "payout", _("Payout requested")
        PAYOUT_RETURNED = "payout_returned", _("Payout returned to available (rejected or failed)")
        PAYOUT_PAID = "payout_paid", _("Payout paid")
        POINTS = "points", _("Points earned, granted, deducted, expired or clawed back")
        PROMOTER = "promoter", _("Promoter commission: accrued, reversed or settled")

    posting_id = models.UUIDField(_("posting"), default=uuid.uuid4, db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # Indexed below, once each (varchar_pattern_ops: equality, IN and prefix LIKE).
    debit_account = models.CharField(_("debit account"), max_length=64)
    credit_account = models.CharField(_("credit account"), max_length=64)
    amount = FenField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="journal_entries",
        verbose_name=_("merchant"),
    )
    order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="journal_entries",
        verbose_name=_("order"),
    )
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="journal_entries",
        verbose_name=_("payment"),
    )
    refund = models.ForeignKey(
        Refund,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="journal_entries",
        verbose_name=_("refund"),
        db_index=False,  # journal_refund_idx, partial: most entries have no refund
    )
    # What makes a one-off posting unique (an order's settlement, a bill line's fee, a
    # payout's stage): the database refuses to record the same movement twice.
    reference = models.CharField(_("reference"), max_length=80, blank=True)
    memo = models.CharField(_("memo"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("time"))

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        # Every index is upkeep on each posting (a paid order's, a million bill fees'):
        # 14 became 12 (payments migration 0013). The accounts have one index each, in
        # varchar_pattern_ops, which serves their equality and IN (balances, statements,
        # the admin's account filter) as well as the prefix LIKEs (ledger_check, the
        # promoters' ledger): the plain copy Django adds beside it was dropped. The
        # refund's is partial: only refund entries have one. The merchant's own FK index
        # stays although journal_merchant_time_idx starts with the same column: a
        # merchant's journal counts (the admin's paginator, with or without the kind
        # filter) read 18 % more pages through the wider one.
        indexes = [
            models.Index(
                fields=["debit_account"], name="journal_debit_idx", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["credit_account"], name="journal_credit_idx", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(fields=["refund"], name="journal_refund_idx", condition=Q(refund__isnull=False)),
            models.Index(fields=["merchant", "created_at"], name="journal_merchant_time_idx"),
            # The back office's list (newest first) and its kind filter (bench/scale.py).
            models.Index(fields=["-created_at", "-id"], name="journal_admin_list_idx"),
            models.Index(fields=["kind", "-created_at", "-id"], name="journal_kind_list_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "reference"], condition=~Q(reference=""), name="journal_reference_once"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="journal_amount_positive"),
            models.CheckConstraint(
                condition=~Q(debit_account=F("credit_account")), name="journal_two_accounts"
            ),
        ]

    def __str__(self):
        return f"{self.debit_account} ← {self.credit_account} {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("Journal entries are append-only: post a reversing entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Journal entries are append-only: post a reversing entry instead.")


class JournalSummary(models.Model):
    """A summary of the journal (``payments.ledger.summaries``) and its checkpoint: it
    holds every entry with ``id <= through_entry``; readers add the entries after it."""

    name = models.CharField(_("name"), max_length=40, primary_key=True)
    through_entry = models.BigIntegerField(_("through entry"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("journal summary")
        verbose_name_plural = _("journal summaries")

    def __str__(self):
        return f"{self.name} through entry {self.through_entry}"


class AccountBalance(models.Model):
    """An account's balance (debits minus credits) over the journal up to its summary's
    checkpoint. Written only by ``payments.ledger.summaries``; ``ledger_check`` verifies it."""

    account = models.CharField(_("account"), max_length=64, primary_key=True)
    summary = models.ForeignKey(JournalSummary, on_delete=models.PROTECT, related_name="balances")
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merchant"),
    )
    balance = FenField(_("balance"), default=0)

    class Meta:
        verbose_name = _("account balance")
        verbose_name_plural = _("account balances")

    def __str__(self):
        return f"{self.account}: {self.balance}"
