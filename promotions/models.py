"""Coupons (优惠券): what they take off, who funds them, who holds them, and each use.

A coupon is either a **code** coupon (``code`` set: typed at checkout by anyone, at most
``quantity`` uses at a time reserved or consumed) or an **issued** coupon (no code: handed
out as wallet coupons, claimed by learners or granted by staff, at most ``quantity`` of
them, counted by ``issued`` and refused by the database beyond it). Each use is a
:class:`Redemption`, written with its order in one transaction.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from core.money import FenField
from core.transitions import StatusChange
from courses.models import CURRENCIES, Course, Merchant


class Coupon(models.Model):
    class Kind(models.TextChoices):
        AMOUNT = "amount", _("Amount off")
        PERCENT = "percent", _("Percentage off")

    class Scope(models.TextChoices):
        COURSES = "courses", _("Chosen courses")
        MERCHANT = "merchant", _("All of one merchant's courses")
        ALL = "all", _("Every course")

    class Funding(models.TextChoices):
        MERCHANT = "merchant", _("Merchant")
        PLATFORM = "platform", _("Platform")

    name = models.CharField(_("name"), max_length=120)
    code = models.CharField(
        _("code"),
        max_length=32,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Typed at checkout. Leave empty for a coupon learners claim or staff grant."),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.AMOUNT)
    amount_off = FenField(_("amount off"), default=0)
    percent_off = models.PositiveSmallIntegerField(_("percentage off"), null=True, blank=True)
    max_discount = FenField(_("discount cap"), null=True, blank=True)
    min_spend = FenField(_("minimum spend"), default=0)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    starts_at = models.DateTimeField(_("valid from"), default=timezone.now)
    ends_at = models.DateTimeField(_("valid until"))
    quantity = models.PositiveIntegerField(_("quantity"))
    issued = models.PositiveIntegerField(
        _("issued"), default=0, editable=False, help_text=_("Wallet coupons handed out (issued coupons)")
    )
    per_learner_limit = models.PositiveSmallIntegerField(_("per learner"), default=1)
    scope = models.CharField(_("applies to"), max_length=10, choices=Scope.choices, default=Scope.COURSES)
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coupons",
        verbose_name=_("merchant"),
    )
    courses = models.ManyToManyField(Course, blank=True, related_name="coupons", verbose_name=_("courses"))
    funded_by = models.CharField(_("funded by"), max_length=10, choices=Funding.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="amount", amount_off__gt=0, percent_off__isnull=True)
                    | Q(kind="percent", percent_off__gte=1, percent_off__lte=100, amount_off=0)
                ),
                name="coupon_kind_fields",
            ),
            models.CheckConstraint(
                condition=Q(max_discount__isnull=True) | Q(max_discount__gt=0), name="coupon_cap_positive"
            ),
            models.CheckConstraint(condition=Q(min_spend__gte=0), name="coupon_min_spend_nonneg"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="coupon_window"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="coupon_quantity_positive"),
            models.CheckConstraint(
                condition=Q(issued__lte=F("quantity")), name="coupon_issued_within_quantity"
            ),
            models.CheckConstraint(condition=Q(per_learner_limit__gte=1), name="coupon_limit_positive"),
            # A merchant funds coupons for its own courses only; "every course" is the platform's.
            models.CheckConstraint(
                condition=Q(funded_by="platform")
                | Q(merchant__isnull=False, scope__in=["courses", "merchant"]),
                name="coupon_merchant_funds_own",
            ),
            models.CheckConstraint(
                condition=~Q(scope="merchant") | Q(merchant__isnull=False), name="coupon_merchant_scope"
            ),
        ]

    def __str__(self):
        return self.code or self.name

    @property
    def is_code(self) -> bool:
        return bool(self.code)

    def is_valid_at(self, at) -> bool:
        return self.is_active and self.starts_at <= at < self.ends_at

    def discount_for(self, subtotal: int) -> int:
        """What the coupon takes off ``subtotal`` fen: an amount, or a percentage rounded
        down to the fen and capped; never the whole price (an order costs at least 1 fen)."""
        if self.kind == self.Kind.AMOUNT:
            off = self.amount_off
        else:
            off = subtotal * self.percent_off // 100
            if self.max_discount is not None:
                off = min(off, self.max_discount)
        return max(0, min(off, subtotal - 1))


class WalletCoupon(models.Model):
    """An issued coupon in a learner's wallet (领券), claimed or granted by staff. It is
    in use while one of its redemptions is reserved or consumed (the database allows one)."""

    class Source(models.TextChoices):
        CLAIMED = "claimed", _("Claimed")
        GRANTED = "granted", _("Granted by staff")

    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, related_name="wallet_coupons", verbose_name=_("coupon")
    )
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("learner")
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("wallet coupon")
        verbose_name_plural = _("wallet coupons")
        indexes = [models.Index(fields=["learner", "coupon"])]

    def __str__(self):
        return f"{self.coupon} → {self.learner}"


class Redemption(FSMModelMixin, models.Model):
    """One use of a coupon on one order: reserved with the order, released if the order
    closes unpaid, consumed when it is paid, returned to the learner on a full refund.

    ``reversed_amount`` is the part of the discount that refunds took back, in
    proportion to what was refunded (see ``promotions.services.discount_reversed``).
    """

    class Status(models.TextChoices):
        RESERVED = "reserved", _("Reserved")
        CONSUMED = "consumed", _("Consumed")
        RELEASED = "released", _("Released")
        RETURNED = "returned", _("Returned")

    ACTIVE_STATUSES = (Status.RESERVED, Status.CONSUMED)

    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("coupon")
    )
    wallet_coupon = models.ForeignKey(
        WalletCoupon,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemptions",
        verbose_name=_("wallet coupon"),
    )
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("learner")
    )
    # promotions sits below orders: the order is named by string, never imported.
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("order")
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("merchant")
    )
    amount = FenField(_("discount"))
    funded_by = models.CharField(_("funded by"), max_length=10, choices=Coupon.Funding.choices)
    reversed_amount = FenField(_("taken back by refunds"), default=0)
    status = FSMField(_("status"), default=Status.RESERVED, choices=Status.choices, protected=True)
    created_at = models.DateTimeField(_("created at"))
    consumed_at = models.DateTimeField(_("used at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        indexes = [models.Index(fields=["coupon", "learner", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="redemption_amount_positive"),
            models.CheckConstraint(
                condition=Q(reversed_amount__gte=0, reversed_amount__lte=F("amount")),
                name="redemption_reversed_within_amount",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=["reserved", "consumed"]),
                name="redemption_one_per_order",
            ),
            models.UniqueConstraint(
                fields=["wallet_coupon"],
                condition=Q(status__in=["reserved", "consumed"]),
                name="redemption_wallet_coupon_once",
            ),
        ]

    def __str__(self):
        return f"{self.coupon} on order {self.order_id} ({self.status})"

    @transition(field=status, source=Status.RESERVED, target=Status.CONSUMED)
    def consume(self, *, at):
        self.consumed_at = at

    @transition(field=status, source=Status.RESERVED, target=Status.RELEASED)
    def release(self, *, at):
        self.closed_at = at

    @transition(field=status, source=Status.CONSUMED, target=Status.RETURNED)
    def give_back(self, *, at):
        self.closed_at = at


class RedemptionStatusChange(StatusChange):
    redemption = models.ForeignKey(Redemption, on_delete=models.CASCADE, related_name="status_changes")


# -- points (积分) ----------------------------------------------------------------------


class PointsLot(models.Model):
    """Points a learner holds, lot by lot: earned with an order, granted by staff or
    given back by a refund, each with what is left of it and when it expires (spent
    oldest first). A **debt** lot is how a negative balance is shown, not hidden: when
    a refund claws back earned points the learner no longer has, the shortfall is a
    lot with negative points, paid off first by whatever the learner earns next.

    ``remaining`` changes only together with a :class:`PointsEntry` row, so the sum of
    a lot's entries is always its ``remaining`` (``ledger_check`` verifies it).
    """

    class Source(models.TextChoices):
        EARNED = "earned", _("Earned with an order")
        GRANTED = "granted", _("Granted by staff")
        RETURNED = "returned", _("Returned by a refund")
        DEBT = "debt", _("Owed (clawed back beyond the balance)")

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points_lots"
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    points = models.BigIntegerField(_("points"))
    remaining = models.BigIntegerField(_("remaining"))
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="points_lots"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        ordering = ["expires_at", "pk"]
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        indexes = [
            models.Index(fields=["learner", "expires_at"], name="points_lot_learner_idx"),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="points_lot_expiry_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    ~Q(source="debt") & Q(points__gt=0, remaining__gte=0, remaining__lte=F("points"))
                    | Q(source="debt", points__lt=0, remaining__gte=F("points"), remaining__lte=0)
                ),
                name="points_lot_remaining_within_points",
            ),
            models.UniqueConstraint(
                fields=["order"], condition=Q(source="earned"), name="points_lot_earned_once_per_order"
            ),
        ]

    def __str__(self):
        return f"{self.points} ({self.get_source_display()}) → {self.learner_id}"


class PointsEntry(models.Model):
    """The append-only points history: every change of a lot's ``remaining`` (signed
    ``points``), who made it and why. Rows are never updated or deleted."""

    class Kind(models.TextChoices):
        EARNED = "earned", _("Earned")
        GRANTED = "granted", _("Granted by staff")
        DEDUCTED = "deducted", _("Deducted by staff")
        SPENT = "spent", _("Spent on an order")
        RELEASED = "released", _("Given back: order not paid")
        RETURNED = "returned", _("Returned by a refund")
        CLAWED_BACK = "clawed_back", _("Clawed back: order refunded")
        EXPIRED = "expired", _("Expired")
        REPAID = "repaid", _("Paid off a points debt")

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("learner")
    )
    lot = models.ForeignKey(
        PointsLot, on_delete=models.PROTECT, related_name="entries", verbose_name=_("lot")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    points = models.BigIntegerField(_("points"))
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="points_entries",
        verbose_name=_("order"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("time"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("points history entry")
        verbose_name_plural = _("points history")
        indexes = [
            models.Index(fields=["learner", "-created_at"], name="points_entry_learner_idx"),
            models.Index(fields=["order", "kind"], name="points_entry_order_idx"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(points=0), name="points_entry_nonzero")]

    def __str__(self):
        return f"{self.kind} {self.points:+d}"
