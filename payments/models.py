import uuid

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from courses.models import CURRENCIES, Merchant
from kpay.transitions import StatusChange
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
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    channel = models.CharField(max_length=32)
    gateway = models.CharField(max_length=32, help_text="Alias in KPAY_GATEWAYS")
    amount = models.BigIntegerField(_("amount (fen)"))
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="CNY")
    status = FSMField(default=Status.PENDING, choices=Status.choices, protected=True)
    action = models.JSONField(
        default=dict, help_text="What the client needs to pay: code_url, redirect_url, params"
    )
    gateway_txn_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    payer_id = models.CharField(max_length=128, blank=True, help_text="openid, buyer id …")
    flag = models.CharField(max_length=255, blank=True, help_text="Why staff must look at this payment")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    succeeded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="payment_pending_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="payment_amount_positive"),
            models.UniqueConstraint(
                fields=["order"], condition=Q(status="succeeded"), name="payment_one_success_per_order"
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


class PaymentStatusChange(StatusChange):
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="status_changes")


class GatewayEvent(models.Model):
    """A verified notification from a gateway, stored once per gateway event id."""

    class Outcome(models.TextChoices):
        PROCESSED = "processed", _("Processed")
        DUPLICATE = "duplicate", _("Already handled")
        MISMATCH = "mismatch", _("Rejected: does not match our records")
        UNAPPLIED = "unapplied", _("Money received for a closed or paid order")
        IGNORED = "ignored", _("Nothing to do")

    gateway = models.CharField(max_length=32)
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64)
    trade_no = models.CharField(max_length=64, db_index=True)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    detail = models.CharField(max_length=255, blank=True)
    payload = models.JSONField(help_text="The verified (decrypted) content")
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="gatewayevent_once"),
        ]

    def __str__(self):
        return f"{self.gateway}:{self.event_id}"


class GatewayExchange(models.Model):
    """One call we made to a gateway and its answer, secrets redacted."""

    gateway = models.CharField(max_length=32)
    operation = models.CharField(max_length=40)
    trade_no = models.CharField(max_length=64, blank=True, db_index=True)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=500)
    request_body = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

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

    posting_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    debit_account = models.CharField(max_length=64, db_index=True)
    credit_account = models.CharField(max_length=64, db_index=True)
    amount = models.BigIntegerField(_("amount (fen)"))
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="CNY")
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, null=True, blank=True, related_name="journal_entries"
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="journal_entries"
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="journal_entries"
    )
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "journal entries"
        constraints = [
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
