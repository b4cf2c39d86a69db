"""Memberships (会员): plans a merchant sells, a learner's membership of a plan, and the
paid periods that give access.

A period is bought like a course: an order with one membership line, through the same
checkout, risk, payment, ledger and refund machinery. Each period is its own order, so
its refund window and its settlement with the merchant are those of that order.
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy
from django_fsm import FSMField, FSMModelMixin, transition

from core.money import FenField
from core.transitions import StatusChange
from courses.models import CURRENCIES, Course, Merchant

from . import calendar


class Plan(models.Model):
    """A membership plan: a period, a price, and what it unlocks."""

    class Period(models.TextChoices):
        MONTH = "month", _("Monthly")
        QUARTER = "quarter", _("Quarterly")
        YEAR = "year", _("Yearly")
        DAYS = "days", _("Every N days")

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="plans", verbose_name=_("merchant")
    )
    slug = models.SlugField(_("slug"), unique=True)
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    period = models.CharField(_("period length"), max_length=10, choices=Period.choices, default=Period.MONTH)
    period_days = models.PositiveIntegerField(
        _("days in a period"), null=True, blank=True, help_text=_("Only for plans of every N days.")
    )
    # A changed price applies to periods bought (or renewed) after the change: each
    # period's order keeps the price it was sold at.
    price = FenField(_("price"), validators=[MinValueValidator(1)])
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    # What it unlocks: every course of the merchant, including future ones, or a chosen set.
    all_courses = models.BooleanField(_("all of the merchant's courses"), default=True)
    courses = models.ManyToManyField(Course, blank=True, related_name="plans", verbose_name=_("courses"))
    renewal_allowed = models.BooleanField(_("automatic renewal offered"), default=True)
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("membership plan")
        verbose_name_plural = _("membership plans")
        ordering = ["merchant", "price", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=1), name="plan_price_positive"),
            models.CheckConstraint(
                condition=Q(period="days", period_days__gte=1)
                | (~Q(period="days") & Q(period_days__isnull=True)),
                name="plan_period_days_only_for_days",
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("memberships:plan", args=[self.slug])

    @property
    def period_label(self) -> str:
        """How long one period lasts, for people ("1 month", "30 days")."""
        if self.period == self.Period.DAYS:
            days = self.period_days or 0
            return ngettext("%(n)s day", "%(n)s days", days) % {"n": days}
        months = calendar.MONTHS[self.period]
        return ngettext("%(n)s month", "%(n)s months", months) % {"n": months}


class Membership(models.Model):
    """A learner's membership of one plan: the periods they paid for, and whether it
    renews automatically. ``ends_at`` is the end of the last paid (not refunded) period,
    kept by the services with the periods."""

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="memberships",
        verbose_name=_("learner"),
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("membership plan")
    )
    ends_at = models.DateTimeField(_("access until"), null=True, blank=True)
    auto_renew = models.BooleanField(_("renews automatically"), default=False)
    # While a renewal charge is being retried (dunning), access continues until then.
    grace_until = models.DateTimeField(_("grace period until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "plan"], name="membership_one_per_plan"),
        ]

    def __str__(self):
        return f"{self.learner} · {self.plan}"

    @property
    def last_day(self):
        """The last local date of access (``ends_at`` is the midnight after it)."""
        return None if self.ends_at is None else calendar.last_day(self.ends_at)


class MembershipPeriod(models.Model):
    """One paid period of a membership: the order that paid it and the time it covers.

    Periods stack: one bought before the end of the last starts where it ends. A refund
    ends the period at once (``ended_at``), whatever its planned end.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Paid")
        REFUNDED = "refunded", _("Refunded")

    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="periods", verbose_name=_("membership")
    )
    sequence = models.PositiveIntegerField(_("period number"))
    # The order's number, as for enrollments (one period per order).
    order_no = models.CharField(_("order number"), max_length=32, unique=True)
    price = FenField(_("price paid"))
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    ended_at = models.DateTimeField(_("ended early"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership period")
        verbose_name_plural = _("membership periods")
        ordering = ["membership", "sequence"]
        indexes = [models.Index(fields=["membership", "ends_at"])]
        constraints = [
            models.UniqueConstraint(fields=["membership", "sequence"], name="period_sequence_unique"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="period_ends_after_start"),
            models.CheckConstraint(condition=Q(price__gte=0), name="period_price_nonneg"),
        ]

    def __str__(self):
        return f"{self.membership} #{self.sequence}"

    @property
    def last_day(self):
        """The last local date the period covers (``ends_at`` is the midnight after it)."""
        return calendar.last_day(self.ends_at)


# -- automatic renewal ------------------------------------------------------------------
class Agreement(FSMModelMixin, models.Model):
    """A withholding agreement (代扣协议) a learner signed at a gateway so that a membership
    renews automatically: at most ``amount_cap`` a charge, every ``period`` ``period_unit``.

    ``agreement_no`` is kpay's number, what the gateway knows as the merchant's agreement
    (contract) code; ``gateway_agreement_id`` is the gateway's own (WeChat Pay contract_id,
    Alipay agreement_no). Life cycle: pending (asked for, not signed) → active (signed:
    charges allowed) → terminated (by kpay, the payer in their wallet, or the gateway).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the signature")
        ACTIVE = "active", pgettext_lazy("renewal", "Signed")
        TERMINATED = "terminated", pgettext_lazy("renewal", "Ended")

    class TerminatedBy(models.TextChoices):
        KPAY = "kpay", _("kpay (turned off, or lapsed)")
        PAYER = "payer", _("The payer, in their wallet")
        GATEWAY = "gateway", pgettext_lazy("renewal", "The gateway")

    class PeriodUnit(models.TextChoices):
        DAY = "day", pgettext_lazy("renewal", "days")
        MONTH = "month", pgettext_lazy("renewal", "months")

    LIVE_STATUSES = (Status.PENDING, Status.ACTIVE)

    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("membership")
    )
    gateway = models.CharField(_("gateway"), max_length=32, help_text=_("Alias in KPAY_GATEWAYS"))
    channel = models.CharField(pgettext_lazy("renewal", "channel"), max_length=32)
    agreement_no = models.CharField(
        pgettext_lazy("renewal", "agreement number"), max_length=32, unique=True, editable=False
    )
    gateway_agreement_id = models.CharField(_("gateway's agreement id"), max_length=64, blank=True)
    payer_id = models.CharField(_("payer"), max_length=128, blank=True, help_text=_("openid, buyer id …"))
    status = FSMField(_("status"), default=Status.PENDING, choices=Status.choices, protected=True)
    # What the payer signed: a cap on each charge (the plan's price when signed) and the period.
    amount_cap = FenField(_("cap on each charge"), validators=[MinValueValidator(1)])
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    period_unit = models.CharField(
        pgettext_lazy("renewal", "period unit"), max_length=5, choices=PeriodUnit.choices
    )
    period = models.PositiveIntegerField(_("period length"))
    first_charge_on = models.DateField(_("first charge planned on"))
    action = models.JSONField(
        _("how to sign"),
        default=dict,
        help_text=_("What the learner opens to sign: a QR code or a redirect"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    signed_at = models.DateTimeField(pgettext_lazy("renewal", "signed"), null=True, blank=True)
    # The learner (or lapse) asked kpay to end it; the gateway's confirmation may follow.
    termination_requested_at = models.DateTimeField(_("termination requested at"), null=True, blank=True)
    terminated_at = models.DateTimeField(pgettext_lazy("renewal", "ended"), null=True, blank=True)
    terminated_by = models.CharField(
        _("terminated by"), max_length=8, choices=TerminatedBy.choices, blank=True
    )
    termination_reason = models.CharField(_("termination reason"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("withholding agreement")
        verbose_name_plural = _("withholding agreements")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["gateway", "gateway_agreement_id"], name="agreement_gateway_id_idx")]
        constraints = [
            # One agreement in force or being signed per membership: two could both be
            # signed and charge one period twice.
            models.UniqueConstraint(
                fields=["membership"],
                condition=Q(status__in=["pending", "active"]),
                name="agreement_one_live_per_membership",
            ),
            models.CheckConstraint(condition=Q(amount_cap__gte=1), name="agreement_cap_positive"),
            models.CheckConstraint(condition=Q(period__gte=1), name="agreement_period_positive"),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(signed_at__isnull=False),
                name="agreement_active_is_signed",
            ),
            models.CheckConstraint(
                condition=~Q(status="terminated") | Q(terminated_at__isnull=False) & ~Q(terminated_by=""),
                name="agreement_terminated_says_when_and_who",
            ),
        ]

    def __str__(self):
        return self.agreement_no

    @transition(field=status, source=Status.PENDING, target=Status.ACTIVE)
    def activate(self, *, at, gateway_agreement_id, payer_id=""):
        self.signed_at = at
        self.gateway_agreement_id = gateway_agreement_id
        self.payer_id = payer_id

    @transition(field=status, source=[Status.PENDING, Status.ACTIVE], target=Status.TERMINATED)
    def terminate(self, *, at, by, why=""):
        self.terminated_at = at
        self.terminated_by = by
        if why:
            self.termination_reason = why[:255]


class AgreementStatusChange(StatusChange):
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="status_changes")


class AgreementEvent(models.Model):
    """A verified agreement notification from a gateway, stored once per gateway event id."""

    class Outcome(models.TextChoices):
        PROCESSED = "processed", _("Processed")
        DUPLICATE = "duplicate", _("Already handled")
        IGNORED = "ignored", _("Nothing to do")

    gateway = models.CharField(_("gateway"), max_length=32)
    event_id = models.CharField(_("event id"), max_length=128)
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="events", verbose_name=_("withholding agreement")
    )
    state = models.CharField(_("state"), max_length=16)
    by_payer = models.BooleanField(_("by the payer"), default=False)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    payload = models.JSONField(_("payload"), help_text=_("The verified content"))
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("agreement notification")
        verbose_name_plural = _("agreement notifications")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="agreementevent_once"),
        ]

    def __str__(self):
        return f"{self.gateway}:{self.event_id}"


class Renewal(FSMModelMixin, models.Model):
    """Renewing a membership for one period: the notice, then charge attempts under the
    agreement (retried on the dunning schedule) until one is paid or the grace period
    runs out. One open or paid per membership and period (``sequence``, the number the
    paid period will have): a period is never charged twice.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", pgettext_lazy("renewal", "Scheduled")
        CHARGING = "charging", pgettext_lazy("renewal", "Charging")
        RETRYING = "retrying", _("Failed; retrying")
        SUCCEEDED = "succeeded", pgettext_lazy("renewal", "Renewed")
        FAILED = "failed", _("Failed; lapsed")
        CANCELLED = "cancelled", _("Cancelled")

    OPEN_STATUSES = (Status.SCHEDULED, Status.CHARGING, Status.RETRYING)

    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="renewals", verbose_name=_("membership")
    )
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="renewals", verbose_name=_("withholding agreement")
    )
    sequence = models.PositiveIntegerField(pgettext_lazy("renewal", "period number"))
    status = FSMField(_("status"), default=Status.SCHEDULED, choices=Status.choices, protected=True)
    # The period it pays for starts where the membership's last paid period ends.
    period_starts_at = models.DateTimeField(pgettext_lazy("renewal", "period starts"))
    amount = FenField(
        _("amount"),
        validators=[MinValueValidator(1)],
        help_text=_("The plan's price when last planned or charged"),
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    # The gateway's calendar (its time zone): the day of the next attempt, and the last
    # day the gateway allows it (the window a pre-charge notice, or its schedule, opened).
    charge_on = models.DateField(_("next charge on"))
    window_starts_on = models.DateField(_("charges allowed from"), null=True, blank=True)
    window_ends_on = models.DateField(_("charges allowed until"), null=True, blank=True)
    gateway_notice_on = models.DateField(_("gateway notified on"), null=True, blank=True)
    # A worker talking to the gateway about this renewal (a notice, a new charge date)
    # holds it until then; others leave it alone meanwhile.
    busy_until = models.DateTimeField(_("held by a worker until"), null=True, blank=True, editable=False)
    notice_emailed_at = models.DateTimeField(_("learner notified"), null=True, blank=True)
    first_attempt_on = models.DateField(_("first attempt on"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt not before"), null=True, blank=True)
    attempts_made = models.PositiveSmallIntegerField(pgettext_lazy("renewal", "attempts"), default=0)
    grace_until = models.DateTimeField(_("access continues until"), null=True, blank=True)
    failure_reason = models.CharField(_("last failure"), max_length=255, blank=True)
    order_no = models.CharField(_("paid by order"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = pgettext_lazy("renewal", "renewal")
        verbose_name_plural = pgettext_lazy("renewal", "renewals")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["charge_on"],
                condition=Q(status__in=["scheduled", "charging", "retrying"]),
                name="renewal_open_idx",
            ),
        ]
        constraints = [
            # A period is charged once: one renewal of it open or paid. A renewal that
            # failed or was cancelled charged nothing, and a new one may follow (renewal
            # turned on again before the end).
            models.UniqueConstraint(
                fields=["membership", "sequence"],
                condition=Q(status__in=["scheduled", "charging", "retrying", "succeeded"]),
                name="renewal_once_per_period",
            ),
            models.UniqueConstraint(
                fields=["membership"],
                condition=Q(status__in=["scheduled", "charging", "retrying"]),
                name="renewal_one_open_per_membership",
            ),
            models.CheckConstraint(condition=Q(amount__gte=1), name="renewal_amount_positive"),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="renewal_sequence_positive"),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | ~Q(order_no=""), name="renewal_success_names_order"
            ),
            models.CheckConstraint(
                condition=Q(window_starts_on__isnull=True, window_ends_on__isnull=True)
                | Q(window_ends_on__gte=F("window_starts_on")),
                name="renewal_window_in_order",
            ),
        ]

    def __str__(self):
        return f"{self.membership} #{self.sequence}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @transition(field=status, source=[Status.SCHEDULED, Status.RETRYING], target=Status.CHARGING)
    def charge(self, *, at):
        self.attempts_made += 1

    @transition(field=status, source=Status.CHARGING, target=Status.RETRYING)
    def retry(self, *, at, why, next_attempt_at):
        self.failure_reason = why[:255]
        self.next_attempt_at = next_attempt_at

    @transition(field=status, source=[Status.CHARGING, Status.RETRYING], target=Status.SUCCEEDED)
    def succeed(self, *, at, order_no):
        self.order_no = order_no
        self.finished_at = at

    @transition(
        field=status, source=[Status.SCHEDULED, Status.CHARGING, Status.RETRYING], target=Status.FAILED
    )
    def give_up(self, *, at, why):
        self.failure_reason = why[:255]
        self.finished_at = at

    @transition(field=status, source=[Status.SCHEDULED, Status.RETRYING], target=Status.CANCELLED)
    def cancel(self, *, at, why):
        self.failure_reason = why[:255]
        self.finished_at = at


class RenewalStatusChange(StatusChange):
    renewal = models.ForeignKey(Renewal, on_delete=models.CASCADE, related_name="status_changes")


class RenewalAttempt(models.Model):
    """One attempt to charge a renewal: when, what was asked, what the gateway answered,
    the order and payment, and why it failed. Kept for audit, whatever became of it."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Waiting for the gateway")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Failed at the gateway")
        REFUSED = "refused", _("Not sent: refused by kpay")

    renewal = models.ForeignKey(
        Renewal,
        on_delete=models.PROTECT,
        related_name="attempts",
        verbose_name=pgettext_lazy("renewal", "renewal"),
    )
    number = models.PositiveSmallIntegerField(pgettext_lazy("renewal", "attempt"))
    attempted_at = models.DateTimeField(pgettext_lazy("renewal", "when"))
    amount = FenField(_("amount asked"), validators=[MinValueValidator(1)])
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    order_no = models.CharField(_("order number"), max_length=32, blank=True)
    payment_no = models.CharField(_("payment number"), max_length=32, blank=True)
    outcome = models.CharField(
        pgettext_lazy("renewal", "outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING
    )
    gateway_state = models.CharField(_("gateway's answer"), max_length=16, blank=True)
    error_code = models.CharField(pgettext_lazy("renewal", "error code"), max_length=64, blank=True)
    error_message = models.CharField(_("error"), max_length=255, blank=True)
    sends = models.PositiveSmallIntegerField(
        _("times sent"), default=0, help_text=_("Times the charge was sent to the gateway")
    )
    last_sent_at = models.DateTimeField(_("last sent at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("renewal attempt")
        verbose_name_plural = _("renewal attempts")
        ordering = ["renewal", "number"]
        constraints = [
            models.UniqueConstraint(fields=["renewal", "number"], name="renewal_attempt_number_once"),
            models.UniqueConstraint(
                fields=["payment_no"], condition=~Q(payment_no=""), name="renewal_attempt_payment_once"
            ),
            models.UniqueConstraint(
                fields=["renewal"], condition=Q(outcome="pending"), name="renewal_one_attempt_in_flight"
            ),
            models.CheckConstraint(condition=Q(amount__gte=1), name="renewal_attempt_amount_positive"),
            models.CheckConstraint(
                condition=Q(outcome="refused") | ~Q(payment_no=""), name="renewal_attempt_sent_has_payment"
            ),
        ]

    def __str__(self):
        return f"{self.renewal} · {self.number}"
