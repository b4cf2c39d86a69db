from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, FSMModelMixin, transition

from core.money import FenField
from core.transitions import StatusChange
from courses.models import CURRENCIES, Merchant


@dataclass(frozen=True)
class OrderLine:
    """One thing in an order, with its price as it was at checkout (a snapshot).

    ``kind`` says what it is: a course (``course_id``, ``course_slug``) or, sold through
    the same checkout by the ``memberships`` app, a membership period (``plan_id``,
    ``plan_slug``). What delivering a kind means is registered in :mod:`orders.delivery`.
    Lines stored before kinds existed are courses.
    """

    title: str
    unit_price: int
    quantity: int
    amount: int
    kind: str = "course"
    course_id: int | None = None
    course_slug: str = ""
    plan_id: int | None = None
    plan_slug: str = ""

    COURSE = "course"
    MEMBERSHIP = "membership"

    def as_json(self) -> dict:
        return {name: value for name, value in self.__dict__.items() if value not in (None, "")}


class Order(FSMModelMixin, models.Model):
    """What a learner buys, at server-computed prices, and where it stands.

    The lines (price snapshot) and the checkout risk assessment are written once, with
    the order, in the same row: they never change, and keeping them here makes placing
    an order a single INSERT (see the query budget in ``tests/flows``).
    """

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        FULFILLED = "fulfilled", _("Delivered")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")

    OPEN_STATUSES = (Status.PENDING_PAYMENT,)
    CLOSED_STATUSES = (Status.CANCELLED, Status.EXPIRED)
    # Paid orders money can still be given back for (staff: any of them).
    REFUNDABLE_STATUSES = (Status.PAID, Status.FULFILLED, Status.COMPLETED, Status.PARTIALLY_REFUNDED)
    # What a learner may ask a refund for, inside the refund window: not completed
    # (settled with the merchant) orders.
    LEARNER_REFUNDABLE_STATUSES = (Status.PAID, Status.FULFILLED, Status.PARTIALLY_REFUNDED)
    # Delivered orders that still give access (with ``fulfilled_at`` set).
    ACCESS_STATUSES = (Status.FULFILLED, Status.COMPLETED, Status.PARTIALLY_REFUNDED)

    order_no = models.CharField(_("order number"), max_length=32, unique=True, editable=False)
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", verbose_name=_("learner")
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="orders", verbose_name=_("merchant")
    )
    # What is being bought (sorted course ids): one open order per learner and key.
    checkout_key = models.CharField(_("checkout key"), max_length=200, editable=False)
    status = FSMField(_("status"), default=Status.PENDING_PAYMENT, choices=Status.choices, protected=True)
    subtotal = FenField(_("subtotal"))
    discount = FenField(_("discount"), default=0)
    # The part of the discount the platform pays for (a platform coupon): the merchant is
    # paid, and commissioned, on the price before it (payments.ledger).
    platform_discount = FenField(_("platform-funded discount"), default=0, editable=False)
    # Points (积分) paid part of the price: how many, and what they were worth in fen
    # (a platform expense like a platform coupon: the merchant is paid on the price before them).
    points_used = models.BigIntegerField(_("points used"), default=0, editable=False)
    points_discount = FenField(_("paid with points"), default=0, editable=False)
    total = FenField(_("total"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    lines = models.JSONField(_("lines"), default=list, editable=False)
    # The buyer's client at checkout, for risk rules counting by IP or device.
    client_ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True, editable=False)
    device_id = models.CharField(_("device"), max_length=64, blank=True, editable=False)
    risk_assessment = models.JSONField(
        _("checkout risk assessment"),
        default=dict,
        editable=False,
        help_text=_("Inputs, each rule's verdict, the decision and the time it took"),
    )
    # The promoter (分销) who referred the order, decided at checkout and written in the
    # order's own INSERT (orders.attribution): an id of ``promoters.Promoter``, a plain
    # column because orders sits below promoters. Money (the commission's postings) reads
    # this, never the risk record.
    promoter_id = models.PositiveBigIntegerField(
        _("referred by promoter"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The promoter whose link brought the order (分销), if any"),
    )
    created_at = models.DateTimeField(_("placed at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("payment deadline"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    refunded_amount = FenField(_("refunded"), default=0, help_text=_("Sum of the order's successful refunds"))
    refunded_at = models.DateTimeField(_("last refunded"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("order")
        verbose_name_plural = pgettext_lazy("the model", "orders")  # not the count ("orders" placed)
        indexes = [
            models.Index(fields=["learner", "-created_at"]),
            models.Index(fields=["merchant", "-created_at"]),
            # The back office's list (newest first) and its status filter (bench/scale.py).
            models.Index(fields=["-created_at", "-id"], name="order_admin_list_idx"),
            models.Index(fields=["status", "-created_at", "-id"], name="order_status_list_idx"),
            models.Index(fields=["client_ip", "created_at"], name="order_client_ip_idx"),
            models.Index(fields=["device_id", "created_at"], name="order_device_idx"),
            models.Index(
                fields=["expires_at"],
                condition=Q(status="pending_payment"),
                name="order_pending_expiry_idx",
            ),
            models.Index(
                fields=["paid_at"],
                condition=Q(completed_at__isnull=True, status__in=["fulfilled", "partially_refunded"]),
                name="order_settlement_due_idx",
            ),
            # Referred orders only (a small part of all): a promoter's orders, newest first.
            models.Index(
                fields=["promoter_id", "-created_at"],
                condition=Q(promoter_id__isnull=False),
                name="order_promoter_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(subtotal__gte=0), name="order_subtotal_nonneg"),
            models.CheckConstraint(
                condition=Q(discount__gte=0, discount__lte=F("subtotal")),
                name="order_discount_within_subtotal",
            ),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") - F("discount") - F("points_discount")),
                name="order_total_is_sum",
            ),
            models.CheckConstraint(
                condition=Q(points_used=0, points_discount=0) | Q(points_used__gt=0, points_discount__gt=0),
                name="order_points_both_or_neither",
            ),
            models.CheckConstraint(
                condition=Q(platform_discount__gte=0, platform_discount__lte=F("discount")),
                name="order_platform_discount_within_discount",
            ),
            models.CheckConstraint(condition=Q(total__gte=1), name="order_total_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("total")),
                name="order_refunded_within_total",
            ),
            models.UniqueConstraint(
                fields=["learner", "checkout_key"],
                condition=Q(status="pending_payment"),
                name="order_one_open_per_checkout",
            ),
        ]

    def __str__(self):
        return self.order_no

    # -- transitions: fields only, no side effects (services drive them) --
    @transition(field=status, source=Status.PENDING_PAYMENT, target=Status.PAID)
    def mark_paid(self, *, at):
        self.paid_at = at

    @transition(field=status, source=Status.PAID, target=Status.FULFILLED)
    def fulfil(self, *, at):
        self.fulfilled_at = at

    # "Receipt confirmed": the refund window ended; a partially refunded order
    # completes too (its refunded amount stays on the row).
    SETTLEABLE_STATUSES = (Status.FULFILLED, Status.PARTIALLY_REFUNDED)

    @transition(field=status, source=SETTLEABLE_STATUSES, target=Status.COMPLETED)
    def complete(self, *, at):
        self.completed_at = at

    @transition(field=status, source=Status.PENDING_PAYMENT, target=Status.CANCELLED)
    def cancel(self, *, at):
        self.closed_at = at

    @transition(field=status, source=Status.PENDING_PAYMENT, target=Status.EXPIRED)
    def expire(self, *, at):
        self.closed_at = at

    @transition(field=status, source=REFUNDABLE_STATUSES, target=Status.PARTIALLY_REFUNDED)
    def refund_partially(self, *, at, refunded_amount):
        self.refunded_amount = refunded_amount
        self.refunded_at = at

    @transition(field=status, source=REFUNDABLE_STATUSES, target=Status.REFUNDED)
    def refund_fully(self, *, at, refunded_amount):
        self.refunded_amount = refunded_amount
        self.refunded_at = at

    @property
    def line_items(self) -> tuple[OrderLine, ...]:
        return tuple(OrderLine(**line) for line in self.lines)

    @property
    def course_ids(self) -> list[int]:
        return [
            line["course_id"] for line in self.lines if line.get("kind", OrderLine.COURSE) == OrderLine.COURSE
        ]

    @property
    def description(self) -> str:
        """What the learner sees on the gateway's page."""
        titles = [line["title"] for line in self.lines]
        return titles[0] if len(titles) == 1 else f"{titles[0]} +{len(titles) - 1}"

    @property
    def is_payable(self) -> bool:
        return self.status == self.Status.PENDING_PAYMENT

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None

    @property
    def refundable_amount(self) -> int:
        """What has not been refunded yet (refunds in flight are not subtracted here)."""
        return self.total - self.refunded_amount

    @property
    def refund_deadline(self):
        """Until when the learner may ask for a refund (KPAY_REFUND_WINDOW after payment)."""
        if self.paid_at is None:
            return None
        return self.paid_at + settings.KPAY_REFUND_WINDOW

    def learner_may_request_refund(self, *, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.status in self.LEARNER_REFUNDABLE_STATUSES
            and self.refundable_amount > 0
            and self.refund_deadline is not None
            and now < self.refund_deadline
        )

    @property
    def refund_requestable(self) -> bool:
        """For templates: the learner may ask for a refund now."""
        return self.learner_may_request_refund()


class OrderStatusChange(StatusChange):
    """The order's history: every transition, who made it and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
