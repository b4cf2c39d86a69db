"""The simulated Alipay's own books: trades and refunds as Alipay keeps them."""

from django.db import models


class AlipayTrade(models.Model):
    class Status(models.TextChoices):
        # Precreated for a QR code but not scanned yet: Alipay does not know it yet.
        PRECREATED = "PRECREATED"
        WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
        TRADE_SUCCESS = "TRADE_SUCCESS"
        TRADE_FINISHED = "TRADE_FINISHED"
        TRADE_CLOSED = "TRADE_CLOSED"

    app_id = models.CharField(max_length=32)
    seller_id = models.CharField(max_length=32)
    out_trade_no = models.CharField(max_length=64)
    trade_no = models.CharField(max_length=64, unique=True)
    method = models.CharField(max_length=64)
    total_amount = models.BigIntegerField(help_text="fen")
    subject = models.CharField(max_length=256)
    notify_url = models.CharField(max_length=500, blank=True)
    return_url = models.CharField(max_length=500, blank=True)
    time_expire = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PRECREATED)
    token = models.CharField(max_length=64, unique=True)
    buyer_id = models.CharField(max_length=32, blank=True)
    buyer_logon_id = models.CharField(max_length=64, blank=True)
    refunded = models.BigIntegerField(default=0, help_text="fen")
    gmt_create = models.DateTimeField(auto_now_add=True)
    gmt_payment = models.DateTimeField(null=True, blank=True)
    gmt_close = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app_id", "out_trade_no"], name="sim_alipay_trade_once"),
            models.CheckConstraint(
                condition=models.Q(refunded__gte=0) & models.Q(refunded__lte=models.F("total_amount")),
                name="sim_alipay_refunded_within_total",
            ),
        ]

    def __str__(self):
        return f"{self.out_trade_no} ({self.status})"


class AlipayRefund(models.Model):
    trade = models.ForeignKey(AlipayTrade, on_delete=models.CASCADE, related_name="refunds")
    out_request_no = models.CharField(max_length=64)
    refund_amount = models.BigIntegerField(help_text="fen")
    refund_reason = models.CharField(max_length=256, blank=True)
    gmt_refund = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trade", "out_request_no"], name="sim_alipay_refund_once"),
        ]

    def __str__(self):
        return self.out_request_no
