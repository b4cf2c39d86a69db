"""Core's tables: API idempotency records (moved from ``orders``, same table) and the
alerts already sent (``core.alerts``)."""

from django.conf import settings
from django.db import models


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


class AlertSent(models.Model):
    """One thing an alert e-mail told the operators about (a reconciliation run, a payout,
    a refund, a day's ledger check): the unique pair (kind, key) makes each told once."""

    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=100)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="alert_sent_once")]

    def __str__(self):
        return f"{self.kind} {self.key}"
