"""What WeChat Pay keeps on its side, as the simulator needs it."""

from django.db import models
from django.db.models import Q


class WxTrade(models.Model):
    class State(models.TextChoices):
        NOTPAY = "NOTPAY"
        USERPAYING = "USERPAYING"
        SUCCESS = "SUCCESS"
        PAYERROR = "PAYERROR"
        CLOSED = "CLOSED"
        REFUND = "REFUND"

    mchid = models.CharField(max_length=32)
    appid = models.CharField(max_length=32)
    out_trade_no = models.CharField(max_length=32)
    trade_type = models.CharField(max_length=16)  # NATIVE, MWEB (h5), JSAPI
    request_body = models.JSONField()  # the order as first placed: a resubmission must be identical
    description = models.CharField(max_length=127)
    attach = models.CharField(max_length=128, blank=True)
    notify_url = models.CharField(max_length=256)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    time_expire = models.DateTimeField()
    token = models.CharField(max_length=64, unique=True)  # code_url pr=, h5 and cashier URL
    prepay_id = models.CharField(max_length=64, unique=True)
    key_mode = models.CharField(max_length=8, default="pubkey")  # how the merchant verifies us
    state = models.CharField(max_length=12, choices=State.choices, default=State.NOTPAY)
    transaction_id = models.CharField(max_length=32, blank=True)
    payer_openid = models.CharField(max_length=128, blank=True)
    payer_client_ip = models.CharField(max_length=45, blank=True)
    refunded = models.BigIntegerField(default=0)
    success_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mchid", "out_trade_no"], name="wxtrade_once_per_mchid"),
            models.UniqueConstraint(
                fields=["transaction_id"], condition=~Q(transaction_id=""), name="wxtrade_transaction_id"
            ),
        ]

    def __str__(self):
        return f"{self.out_trade_no} ({self.state})"


class WxRefund(models.Model):
    trade = models.ForeignKey(WxTrade, on_delete=models.CASCADE, related_name="refunds")
    mchid = models.CharField(max_length=32)
    out_refund_no = models.CharField(max_length=64)
    refund_id = models.CharField(max_length=32, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=12, default="PROCESSING")
    notify_url = models.CharField(max_length=256, blank=True)
    success_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mchid", "out_refund_no"], name="wxrefund_once_per_mchid"),
        ]

    def __str__(self):
        return self.out_refund_no
