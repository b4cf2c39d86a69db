from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.money import FenField

from .covers import validate_cover

CURRENCIES = [("CNY", "CNY")]


class Category(models.Model):
    """A shelf of the catalogue (编程, 设计 …), shared by every merchant; managed in the admin."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(
        _("slug"), max_length=60, unique=True, help_text=_("Used in the catalogue's address.")
    )
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Smaller comes first."))

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self):
        return self.name


class Merchant(models.Model):
    """A creator organisation that sells courses and is settled with."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), unique=True)
    commission_rate = models.DecimalField(
        _("commission rate"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text=_("Platform share of each sale, e.g. 0.1000. Empty: KPAY_COMMISSION_RATE."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        constraints = [
            models.CheckConstraint(
                condition=Q(commission_rate__isnull=True) | Q(commission_rate__gte=0, commission_rate__lte=1),
                name="merchant_commission_rate_range",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def effective_commission_rate(self) -> Decimal:
        if self.commission_rate is None:
            return settings.KPAY_COMMISSION_RATE
        return self.commission_rate


class MerchantMember(models.Model):
    """A staff user working for one merchant: sees that merchant's data and nothing else."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="merchant_membership",
        verbose_name=_("user"),
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="members", verbose_name=_("merchant")
    )

    class Meta:
        verbose_name = _("merchant staff member")
        verbose_name_plural = _("merchant staff")

    def __str__(self):
        return f"{self.user} @ {self.merchant}"


class Course(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        ARCHIVED = "archived", _("Archived")

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="courses", verbose_name=_("merchant")
    )
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True, max_length=80)
    summary = models.CharField(
        _("summary"),
        max_length=300,
        blank=True,
        help_text=_("One sentence, shown in the catalogue and above the description."),
    )
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="courses",
    )
    cover = models.ImageField(
        _("cover image"),
        upload_to="courses/covers/%Y/%m/",
        blank=True,
        validators=[validate_cover],
        help_text=_(
            "JPEG, PNG or WebP, up to 2 MB; 16:9 looks best (e.g. 1280 × 720). Empty: a placeholder."
        ),
    )
    price = FenField(_("price"), validators=[MinValueValidator(1)])
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCIES, default="CNY")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "pk"]
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        indexes = [models.Index(fields=["status", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=1), name="course_price_positive"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("courses:detail", args=[self.slug])

    @property
    def description_text(self) -> str:
        """The description, unless it only repeats the summary (shown just above it)."""
        if self.description.strip() == self.summary.strip():
            return ""
        return self.description

    @property
    def is_purchasable(self) -> bool:
        return self.status == self.Status.PUBLISHED and self.merchant.is_active


class Lesson(models.Model):
    """Content that unlocks for learners enrolled in the course."""

    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="lessons", verbose_name=_("course")
    )
    title = models.CharField(_("title"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)
    body = models.TextField(_("content"))
    is_preview = models.BooleanField(
        _("free preview"), default=False, help_text=_("Shown to everyone, enrolled or not.")
    )

    class Meta:
        ordering = ["course", "position", "pk"]
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")

    def __str__(self):
        return self.title

    @property
    def body_text(self) -> str:
        """The content without a first line that only repeats the title (the page's heading)."""
        first, _newline, rest = self.body.lstrip().partition("\n")
        if first.strip() == self.title.strip():
            return rest.lstrip("\n")
        return self.body


class LessonVisit(models.Model):
    """A learner opened a lesson: what "progress" means in a course (lessons opened of all)."""

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_visits"
    )
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="visits")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lesson_visits")
    first_opened_at = models.DateTimeField()
    last_opened_at = models.DateTimeField()

    class Meta:
        verbose_name = _("lesson visit")
        verbose_name_plural = _("lesson visits")
        constraints = [
            models.UniqueConstraint(fields=["learner", "lesson"], name="lesson_visit_one_per_lesson"),
        ]
        indexes = [
            models.Index(fields=["learner", "course", "-last_opened_at"], name="lesson_visit_course_idx")
        ]

    def __str__(self):
        return f"{self.learner} opened {self.lesson}"


class Enrollment(models.Model):
    """A learner's access to a course, granted by a paid order ("delivery")."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REVOKED = "revoked", _("Revoked")

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="enrollments",
        verbose_name=_("learner"),
    )
    course = models.ForeignKey(
        Course, on_delete=models.PROTECT, related_name="enrollments", verbose_name=_("course")
    )
    # The order that granted access. A number, not a foreign key: the catalog does
    # not depend on orders (courses <- orders <- payments).
    order_no = models.CharField(_("order number"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    granted_at = models.DateTimeField(_("granted at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-granted_at"]
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(fields=["learner", "course"], name="enrollment_one_per_course"),
        ]

    def __str__(self):
        return f"{self.learner} → {self.course}"
