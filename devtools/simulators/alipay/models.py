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


class AlipayAgreement(models.Model):
    """A 周期扣款 agreement as Alipay keeps it: asked for by ``alipay.user.agreement.page.sign``,
    signed (or not) by the simulated payer, charged by ``alipay.trade.pay`` on its schedule."""

    class Status(models.TextChoices):
        # Asked for, not signed: Alipay's query does not know it yet.
        REQUESTED = "REQUESTED"
        NORMAL = "NORMAL"
        UNSIGN = "UNSIGN"

    class PeriodType(models.TextChoices):
        DAY = "DAY"
        MONTH = "MONTH"

    app_id = models.CharField(max_length=32)
    token = models.CharField(max_length=64, unique=True, help_text="the signing page's address")
    agreement_no = models.CharField(max_length=32, unique=True, help_text="Alipay's number, told once signed")
    external_agreement_no = models.CharField(max_length=32)
    personal_product_code = models.CharField(max_length=64)
    sign_scene = models.CharField(max_length=64)
    access_channel = models.CharField(max_length=20)
    period_type = models.CharField(max_length=5, choices=PeriodType.choices)
    period = models.PositiveIntegerField()
    execute_time = models.DateField(help_text="the first charge's day")
    single_amount = models.BigIntegerField(help_text="fen: the most one charge may take")
    total_amount = models.BigIntegerField(
        null=True, blank=True, help_text="fen: the most all charges may take"
    )
    total_payments = models.PositiveIntegerField(null=True, blank=True)
    notify_url = models.CharField(max_length=500, blank=True)
    return_url = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    alipay_user_id = models.CharField(max_length=32, blank=True)
    alipay_logon_id = models.CharField(max_length=64, blank=True)
    sign_time = models.DateTimeField(null=True, blank=True)
    unsign_time = models.DateTimeField(null=True, blank=True)
    next_deduct_date = models.DateField(
        help_text="the next charge's day (Beijing); 3 days early are accepted"
    )
    last_deduct_time = models.DateTimeField(null=True, blank=True)
    deducted_count = models.PositiveIntegerField(default=0)
    deducted_total = models.BigIntegerField(default=0, help_text="fen")
    balance_short = models.BooleanField(
        default=False,
        help_text="the simulated payer cannot pay: charges fail with ACQ.BUYER_BALANCE_NOT_ENOUGH",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app_id", "external_agreement_no"],
                condition=~models.Q(status="UNSIGN"),
                name="sim_alipay_agreement_once",
            ),
            models.CheckConstraint(condition=models.Q(single_amount__gte=1), name="sim_alipay_single_amount"),
        ]

    def __str__(self):
        return f"{self.external_agreement_no} ({self.status})"
