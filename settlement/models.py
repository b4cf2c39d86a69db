from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, FSMModelMixin, transition

from core.money import FenField
from core.transitions import StatusChange
from courses.models import CURRENCIES, Merchant
from payments.models import JournalEntry

from .crypto import EncryptedTextField


class SettlementStatement(models.Model):
    """A merchant's figures for one period (a day by default, in local dates), read
    from the journal when the period was over.

    They are a cache: ``ledger_check`` recomputes them from the journal and reports
    any difference, and checks that each statement's closing available balance is
    the next one's opening balance. All amounts are fen.
    """

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="statements", verbose_name=_("merchant")
    )
    period_start = models.DateField(pgettext_lazy("period", "from"))
    period_end = models.DateField(_("to (inclusive)"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    gross_sales = FenField(_("gross sales"), help_text=_("Orders paid in the period"))
    refunds = FenField(_("refunds"))
    commission = FenField(_("commission"), help_text=_("Net of refunded commission"))
    # Out of the merchant's share, after the platform's commission and before gateway
    # fees (README, "Promoters": deduction order).
    promoter_commission = FenField(
        _("promoter commission"),
        default=0,
        help_text=_("Commission of promoters (分销) on referred orders, net of what refunds gave back"),
    )
    gateway_fees = FenField(_("gateway fees"))
    net = FenField(
        _("net"), help_text=_("Gross sales - refunds - commission - promoter commission - gateway fees")
    )
    # Parts of gross sales (net of refunds) the platform paid the merchant for: its
    # coupons (platform:promotions) and the points learners paid with (platform:points_liability).
    platform_coupons = FenField(
        _("paid by platform coupons"),
        default=0,
        help_text=_("Part of gross sales the platform paid with its coupons, net of refunds"),
    )
    points_redeemed = FenField(
        _("paid with points"),
        default=0,
        help_text=_("Part of gross sales learners paid with points, net of refunds"),
    )
    # Not in gross sales, and so already out of net: the learner did not pay it and the
    # journal has no line for it (settlement.coupons reads it from the redemptions).
    merchant_coupons = FenField(
        _("merchant coupons"),
        default=0,
        help_text=_(
            "Discounts of the merchant's own coupons on orders paid in the period, net of what "
            "refunds took back: not in gross sales (learners did not pay them), so already out of net"
        ),
    )
    settled = FenField(_("settled to available"))
    charge_backs = FenField(
        _("charge-backs"),
        help_text=_(
            "Refunds and fees of settled orders, charged to available, less the promoter "
            "commission refunds gave back to it"
        ),
    )
    payouts_requested = FenField(_("payouts requested"))
    payouts_returned = FenField(_("payouts returned"))
    payouts_paid = FenField(_("payouts paid"))
    opening_available = FenField(_("opening available balance"))
    closing_available = FenField(_("closing available balance"))
    order_count = models.PositiveIntegerField(_("orders paid"))
    refund_count = models.PositiveIntegerField(_("refunds made"))
    generated_at = models.DateTimeField(_("generated at"))

    # The figures, in the order statements show and compare them.
    FIGURES = (
        "gross_sales",
        "refunds",
        "commission",
        "promoter_commission",
        "gateway_fees",
        "net",
        "platform_coupons",
        "points_redeemed",
        "settled",
        "charge_backs",
        "payouts_requested",
        "payouts_returned",
        "payouts_paid",
        "opening_available",
        "closing_available",
        "order_count",
        "refund_count",
    )

    class Meta:
        ordering = ["-period_start", "merchant_id"]
        verbose_name = _("settlement statement")
        verbose_name_plural = _("settlement statements")
        constraints = [
            # Also the index a merchant's statements are read by.
            models.UniqueConstraint(
                fields=["merchant", "period_start", "period_end"], name="statement_once_per_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="statement_period_ordered"
            ),
            models.CheckConstraint(
                condition=Q(
                    net=F("gross_sales")
                    - F("refunds")
                    - F("commission")
                    - F("promoter_commission")
                    - F("gateway_fees")
                ),
                name="statement_net_is_sum",
            ),
        ]

    def __str__(self):
        if self.period_start == self.period_end:
            return f"{self.merchant_id} {self.period_start:%Y-%m-%d}"
        return f"{self.merchant_id} {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d}"

    def figures(self) -> dict[str, int]:
        """The journal's figures (``merchant_coupons`` is not one: see ``settlement.coupons``)."""
        return {name: getattr(self, name) for name in self.FIGURES}


class Payout(FSMModelMixin, models.Model):
    """A merchant's withdrawal (提现) of its available balance.

    requested → approved → paid, or rejected (from requested or approved), or failed
    (approved, but the bank transfer did not go through). The amount leaves the
    available balance when requested (journal: available → payouts) and comes back
    when rejected or failed; paid moves it to paid out.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        PAID = "paid", pgettext_lazy("payout status", "Paid")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Transfer failed")

    # Set aside in the journal's ``merchant:<id>:payouts`` account.
    IN_FLIGHT_STATUSES = (Status.REQUESTED, Status.APPROVED)

    payout_no = models.CharField(_("payout number"), max_length=32, unique=True, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="payouts", verbose_name=_("merchant")
    )
    # Empty: the merchant's own balance. Otherwise the journal owner paid out through
    # the merchant's payout flow, e.g. ``promoter:<id>`` (settlement.payees).
    payee = models.CharField(_("payee"), max_length=40, blank=True, default="", editable=False)
    amount = FenField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    status = FSMField(_("status"), default=Status.REQUESTED, choices=Status.choices, protected=True)
    # Where the money goes, as the merchant gave it with the request (a snapshot).
    account_name = models.CharField(_("account holder"), max_length=120, blank=True)
    bank_name = models.CharField(_("bank"), max_length=120, blank=True)
    # Encrypted at rest (settlement.crypto); its last four digits in clear, for the mask
    # everyone but finance sees (courses.permissions.may_see_bank_accounts).
    account_number = EncryptedTextField(_("account number"), blank=True)
    account_last4 = models.CharField(_("account number, last 4 digits"), max_length=4, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="payouts_requested",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=255, blank=True)
    # Two finance users: one approves, a different one marks it paid (the database
    # refuses the same one for both: ``payout_paid_by_second_user``).
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("marked paid by"),
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    transfer_reference = models.CharField(
        _("transfer reference"), max_length=80, blank=True, help_text=_("The bank's reference")
    )

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        indexes = [models.Index(fields=["merchant", "-requested_at"], name="payout_merchant_time_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="paid") | (~Q(transfer_reference="") & Q(paid_at__isnull=False)),
                name="payout_paid_has_reference",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["rejected", "failed"]) | ~Q(decision_note=""),
                name="payout_refusal_has_note",
            ),
            models.CheckConstraint(
                condition=Q(paid_by__isnull=True)
                | Q(approved_by__isnull=True)
                | ~Q(paid_by=F("approved_by")),
                name="payout_paid_by_second_user",
            ),
            models.UniqueConstraint(
                fields=["transfer_reference"],
                condition=~Q(transfer_reference=""),
                name="payout_transfer_reference_once",
            ),
        ]

    def __str__(self):
        return self.payout_no

    # -- transitions: fields only (services drive them and post to the journal) --
    @transition(field=status, source=Status.REQUESTED, target=Status.APPROVED)
    def approve(self, *, at, by, note=""):
        self.approved_by = by
        self.decided_by = by
        self.decided_at = at
        self.decision_note = note

    @transition(field=status, source=[Status.REQUESTED, Status.APPROVED], target=Status.REJECTED)
    def reject(self, *, at, by, note):
        self.decided_by = by
        self.decided_at = at
        self.decision_note = note

    @transition(field=status, source=Status.APPROVED, target=Status.FAILED)
    def fail(self, *, at, by, note):
        self.decided_by = by
        self.decided_at = at
        self.decision_note = note

    @transition(field=status, source=Status.APPROVED, target=Status.PAID)
    def mark_paid(self, *, at, by, reference):
        self.paid_by = by
        self.paid_at = at
        self.transfer_reference = reference

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT_STATUSES


class PayoutStatusChange(StatusChange):
    """The payout's history: every transition, who made it and why."""

    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="status_changes")


class MerchantBalance(Merchant):
    """Merchants as finance sees them: their balances in the journal (admin page)."""

    class Meta:
        proxy = True
        verbose_name = _("merchant balance")
        verbose_name_plural = _("merchant balances")


class Dashboard(JournalEntry):
    """The finance dashboard: the journal summed by day (admin page, no rows of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("finance dashboard")
        verbose_name_plural = _("finance dashboard")


class MerchantDay(models.Model):
    """A merchant's journal components (``settlement.selectors.COMPONENTS``) on one local
    day, over the journal up to its summary's checkpoint (``settlement.summaries``): what
    the dashboard reads instead of summing a month of entries. ``ledger_check`` verifies it."""

    SUMMARY = "merchant_days"  # its JournalSummary's name

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", verbose_name=_("merchant")
    )
    day = models.DateField(_("day"))
    # True: the entries of membership orders only (a subset, for the dashboard's
    # membership months); False: all of the merchant's entries.
    membership = models.BooleanField(_("membership orders only"), default=False)
    summary = models.ForeignKey("payments.JournalSummary", on_delete=models.PROTECT, related_name="+")
    components = models.JSONField(_("components"), default=dict)

    class Meta:
        verbose_name = _("merchant day")
        verbose_name_plural = _("merchant days")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "day", "membership"], name="merchant_day_once")
        ]
        indexes = [models.Index(fields=["membership", "day", "merchant"], name="merchant_day_by_day_idx")]

    def __str__(self):
        return f"{self.merchant_id} {self.day}"
