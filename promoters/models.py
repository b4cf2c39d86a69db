"""Promoters (分销, 推广员): a merchant's programme, the learners who promote it, their
links and clicks, and which orders they brought (README, "Promoters")."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from core.money import FenField
from core.transitions import StatusChange
from courses.models import Course, Merchant
from memberships.models import Plan
from orders.models import Order

MAX_RATE_BP = 5000  # 50%: the commission always fits in the merchant's share


def new_code() -> str:
    """A short public code for a promoter's link (unguessable enough not to be enumerated)."""
    return secrets.token_urlsafe(8)


class Programme(models.Model):
    """A merchant's promotion (分销计划): which courses and plans, at what rate, and how
    long a click keeps its referral."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.PROTECT, related_name="promoter_programme", verbose_name=_("merchant")
    )
    courses = models.ManyToManyField(Course, blank=True, related_name="+", verbose_name=_("courses"))
    plans = models.ManyToManyField(Plan, blank=True, related_name="+", verbose_name=_("plans"))
    rate_bp = models.PositiveIntegerField(
        _("commission rate (basis points)"),
        help_text=_("Of what the learner paid, after coupons and points: 1000 is 10%. At most 5000."),
    )
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=30)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("promoter programme")
        verbose_name_plural = _("promoter programmes")
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_bp__gte=1, rate_bp__lte=MAX_RATE_BP), name="programme_rate_in_range"
            ),
            models.CheckConstraint(
                condition=Q(attribution_days__gte=1, attribution_days__lte=365),
                name="programme_window_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.merchant} ({self.rate_bp / 100:g}%)"

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.attribution_days)


class Promoter(FSMModelMixin, models.Model):
    """A learner's application to a programme, and once approved, a promoter. Its
    money is the journal's ``promoter:<id>:…`` accounts (:mod:`promoters.ledger`)."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")

    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="promoters", verbose_name=_("programme")
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", verbose_name=_("merchant"), editable=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="promoters",
        verbose_name=_("learner"),
    )
    status = FSMField(_("status"), default=Status.APPLIED, choices=Status.choices, protected=True)
    pitch = models.CharField(_("why they apply"), max_length=255, blank=True)
    applied_at = models.DateTimeField(_("applied at"))
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

    class Meta:
        ordering = ["-applied_at", "-pk"]
        verbose_name = _("promoter")
        verbose_name_plural = _("promoters")
        constraints = [
            models.UniqueConstraint(fields=["programme", "user"], name="promoter_once_per_programme"),
        ]

    def __str__(self):
        return f"{self.user} @ {self.merchant_id}"

    @property
    def account_owner(self) -> str:
        return f"promoter:{self.pk}"

    @transition(field=status, source=Status.APPLIED, target=Status.APPROVED)
    def approve(self, *, by, at, note=""):
        self.decided_by, self.decided_at, self.decision_note = by, at, note

    @transition(field=status, source=[Status.APPLIED, Status.APPROVED], target=Status.REFUSED)
    def refuse(self, *, by, at, note=""):
        self.decided_by, self.decided_at, self.decision_note = by, at, note


class PromoterStatusChange(StatusChange):
    promoter = models.ForeignKey(Promoter, on_delete=models.CASCADE, related_name="status_changes")


class ReferralLink(models.Model):
    """A promoter's personal link to one course: ``/r/<code>``."""

    promoter = models.ForeignKey(
        Promoter, on_delete=models.CASCADE, related_name="links", verbose_name=_("promoter")
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+", verbose_name=_("course"))
    code = models.CharField(_("code"), max_length=16, unique=True, default=new_code, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("referral link")
        verbose_name_plural = _("referral links")
        constraints = [models.UniqueConstraint(fields=["promoter", "course"], name="link_once_per_course")]

    def __str__(self):
        return self.code


class Click(models.Model):
    """One visit through a referral link."""

    link = models.ForeignKey(
        ReferralLink, on_delete=models.CASCADE, related_name="clicks", verbose_name=_("referral link")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("learner"),
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    device_id = models.CharField(_("device ID"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("clicked at"))

    class Meta:
        verbose_name = _("click")
        verbose_name_plural = _("clicks")
        indexes = [models.Index(fields=["link", "created_at"], name="click_link_time_idx")]

    def __str__(self):
        return f"{self.link_id} {self.created_at:%Y-%m-%d %H:%M}"


class LearnerReferral(models.Model):
    """A learner's last referral click, kept on the user (at login, or when they click
    while logged in), so it follows them across devices and logins."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("learner")
    )
    link = models.ForeignKey(
        ReferralLink, on_delete=models.CASCADE, related_name="+", verbose_name=_("referral link")
    )
    clicked_at = models.DateTimeField(_("clicked at"))

    class Meta:
        verbose_name = _("learner referral")
        verbose_name_plural = _("learner referrals")

    def __str__(self):
        return f"{self.user_id} <- {self.link_id}"


class OrderReferral(models.Model):
    """The order a promoter brought, recorded at checkout, and the commission it posted
    when paid (0 until then; it never changes afterwards)."""

    order = models.OneToOneField(
        Order, on_delete=models.PROTECT, primary_key=True, related_name="referral", verbose_name=_("order")
    )
    promoter = models.ForeignKey(
        Promoter, on_delete=models.PROTECT, related_name="referrals", verbose_name=_("promoter")
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", editable=False, verbose_name=_("merchant")
    )
    link = models.ForeignKey(
        ReferralLink,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("referral link"),
    )
    rate_bp = models.PositiveIntegerField(_("rate (basis points)"))
    clicked_at = models.DateTimeField(_("clicked at"))
    commission = FenField(_("promoter commission"), default=0)
    created_at = models.DateTimeField(_("attributed at"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("referred order")
        verbose_name_plural = _("referred orders")
        indexes = [models.Index(fields=["promoter", "-created_at"], name="referral_promoter_time_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(commission__gte=0), name="referral_commission_nonneg")
        ]

    def __str__(self):
        return f"{self.order_id} <- {self.promoter_id}"
