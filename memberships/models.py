"""Memberships (会员): plans a merchant sells, a learner's membership of a plan, and the
paid periods that give access.

A period is bought like a course: an order with one membership line, through the same
checkout, risk, payment, ledger and refund machinery. Each period is its own order, so
its refund window and its settlement with the merchant are those of that order.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from courses.models import CURRENCIES, Course, Merchant


class Plan(models.Model):
    """A membership plan: a period, a price, and what it unlocks."""

    class Period(models.TextChoices):
        MONTH = "month", _("Monthly")
        QUARTER = "quarter", _("Quarterly")
        YEAR = "year", _("Yearly")
        DAYS = "days", _("Every N days")

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="plans")
    slug = models.SlugField(_("slug"), unique=True)
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    period = models.CharField(_("period"), max_length=10, choices=Period.choices, default=Period.MONTH)
    period_days = models.PositiveIntegerField(
        _("days in a period"), null=True, blank=True, help_text=_("Only for plans of every N days.")
    )
    # A changed price applies to periods bought (or renewed) after the change: each
    # period's order keeps the price it was sold at.
    price = models.BigIntegerField(_("price (fen)"))
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="CNY")
    # What it unlocks: every course of the merchant, including future ones, or a chosen set.
    all_courses = models.BooleanField(_("all of the merchant's courses"), default=True)
    courses = models.ManyToManyField(Course, blank=True, related_name="plans", verbose_name=_("courses"))
    renewal_allowed = models.BooleanField(_("automatic renewal offered"), default=True)
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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


class Membership(models.Model):
    """A learner's membership of one plan: the periods they paid for, and whether it
    renews automatically. ``ends_at`` is the end of the last paid (not refunded) period,
    kept by the services with the periods."""

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="memberships")
    ends_at = models.DateTimeField(_("access until"), null=True, blank=True)
    auto_renew = models.BooleanField(_("renews automatically"), default=False)
    # While a renewal charge is being retried (dunning), access continues until then.
    grace_until = models.DateTimeField(_("grace period until"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "plan"], name="membership_one_per_plan"),
        ]

    def __str__(self):
        return f"{self.learner} · {self.plan}"


class MembershipPeriod(models.Model):
    """One paid period of a membership: the order that paid it and the time it covers.

    Periods stack: one bought before the end of the last starts where it ends. A refund
    ends the period at once (``ended_at``), whatever its planned end.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Paid")
        REFUNDED = "refunded", _("Refunded")

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="periods")
    sequence = models.PositiveIntegerField(_("period number"))
    # The order's number, as for enrollments (one period per order).
    order_no = models.CharField(_("order number"), max_length=32, unique=True)
    price = models.BigIntegerField(_("price paid (fen)"))
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    ended_at = models.DateTimeField(_("ended early"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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
