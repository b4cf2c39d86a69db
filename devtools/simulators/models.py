"""The simulated gateway's own books: what a real gateway keeps on its side."""

from django.db import models


class SimTrade(models.Model):
    class State(models.TextChoices):
        NOTPAY = "NOTPAY"
        SUCCESS = "SUCCESS"
        PAYERROR = "PAYERROR"
        CLOSED = "CLOSED"
        REFUND = "REFUND"

    gateway = models.CharField(max_length=20, default="sandbox")
    merchant_id = models.CharField(max_length=64)
    out_trade_no = models.CharField(max_length=64)
    transaction_id = models.CharField(max_length=64, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=256)
    notify_url = models.URLField(max_length=500)
    return_url = models.URLField(max_length=500, blank=True)
    expire_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.NOTPAY)
    payer_id = models.CharField(max_length=64, blank=True)
    refunded = models.BigIntegerField(default=0)
    success_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gateway", "merchant_id", "out_trade_no"], name="simtrade_once"),
        ]

    def __str__(self):
        return f"{self.out_trade_no} ({self.state})"


class SimRefund(models.Model):
    trade = models.ForeignKey(SimTrade, on_delete=models.CASCADE, related_name="refunds")
    out_refund_no = models.CharField(max_length=64)
    refund_id = models.CharField(max_length=64, unique=True)
    amount = models.BigIntegerField()
    status = models.CharField(max_length=12, default="PROCESSING")
    notify_url = models.URLField(max_length=500, blank=True)
    success_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trade", "out_refund_no"], name="simrefund_once"),
        ]

    def __str__(self):
        return self.out_refund_no


class SimNotification(models.Model):
    """A notification the gateway owes the merchant, retried on the gateway's schedule."""

    gateway = models.CharField(max_length=20, default="sandbox")
    event_id = models.CharField(max_length=64, unique=True)
    url = models.URLField(max_length=500)
    body = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.event_id
