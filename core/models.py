"""Core's tables: API idempotency records (moved from ``orders``, same table), the
alerts already sent (``core.alerts``) and background jobs (``core.jobs``)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """An API request made with an ``Idempotency-Key``, and the response it got."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=200, help_text="METHOD and path")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body")
    status_code = models.PositiveSmallIntegerField(null=True, help_text="Empty while in progress")
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    locked_until = models.DateTimeField(
        null=True,
        help_text="While in progress: the lease of the request holding the key. A retry after "
        "it takes the key over (the holder crashed); the sweep deletes what nobody took over.",
    )

    class Meta:
        db_table = "orders_idempotencyrecord"
        verbose_name = _("API idempotency record")
        verbose_name_plural = _("API idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user"),
        ]
        indexes = [
            models.Index(
                fields=["locked_until"],
                condition=models.Q(status_code__isnull=True),
                name="idempotency_in_progress_idx",
            ),
            models.Index(fields=["created_at"], name="idempotency_created_idx"),
        ]

    def __str__(self):
        return f"{self.scope} [{self.key}]"


class Job(models.Model):
    """Work too long for a request (reconciling a bill, back-testing a rule), run by a Celery
    worker: its state, its progress and its result, which the admin's progress page polls.

    Created and driven through :mod:`core.jobs`; each app runs its own kinds in its own tasks.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")

    FINISHED_STATES = (State.SUCCEEDED, State.FAILED)

    kind = models.CharField(_("kind"), max_length=60)
    title = models.CharField(_("title"), max_length=200)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    done = models.BigIntegerField(_("done"), default=0)
    total = models.BigIntegerField(_("total"), null=True, blank=True, help_text=_("Empty: not known yet"))
    step = models.CharField(_("step"), max_length=200, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The language of whoever started it: the job's steps and messages are written in it.
    language = models.CharField(_("language"), max_length=16, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        indexes = [models.Index(fields=["created_by", "-created_at"], name="job_owner_idx")]

    def __str__(self):
        return self.title

    @property
    def finished(self) -> bool:
        return self.state in self.FINISHED_STATES

    @property
    def percent(self) -> int | None:
        """Progress in whole percent; None while the size of the work is unknown."""
        if self.state == self.State.SUCCEEDED:
            return 100
        if not self.total:
            return None
        return max(0, min(99, self.done * 100 // self.total))


class AlertSent(models.Model):
    """One thing an alert e-mail told the operators about (a reconciliation run, a payout,
    a refund, a day's ledger check): the unique pair (kind, key) makes each told once."""

    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=100)
    sent_at = models.DateTimeField()

    class Meta:
        verbose_name = _("alert sent")
        verbose_name_plural = _("alerts sent")
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="alert_sent_once")]

    def __str__(self):
        return f"{self.kind} {self.key}"
