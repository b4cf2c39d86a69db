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
    # A charge under a withholding agreement (no cashier): why it failed, if it did.
    agreement = models.ForeignKey(
        "SimAgreement", on_delete=models.CASCADE, null=True, blank=True, related_name="charges"
    )
    failure_code = models.CharField(max_length=32, blank=True)
    failure_message = models.CharField(max_length=128, blank=True)

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


class SimAgreement(models.Model):
    """A withholding agreement (代扣) as the sandbox gateway keeps it."""

    class State(models.TextChoices):
        PENDING = "PENDING"
        ACTIVE = "ACTIVE"
        TERMINATED = "TERMINATED"

    gateway = models.CharField(max_length=20, default="sandbox")
    merchant_id = models.CharField(max_length=64)
    agreement_no = models.CharField(max_length=64)
    agreement_id = models.CharField(max_length=64, unique=True)
    # The payer's page of the agreement (signing, then their wallet's view of it).
    token = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    payer_id = models.CharField(max_length=64, blank=True)
    amount_limit = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    period_unit = models.CharField(max_length=5)
    period = models.PositiveIntegerField()
    first_charge_date = models.DateField()
    description = models.CharField(max_length=256)
    notify_url = models.URLField(max_length=500)
    return_url = models.URLField(max_length=500, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    terminated_by = models.CharField(max_length=10, blank=True)
    # The payer's wallet, as far as charges go (simulator switches for dunning tests):
    # charges fail for want of balance, and answers say "accepted" with the result
    # following as a notification.
    balance_short = models.BooleanField(default=False)
    answer_later = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "merchant_id", "agreement_no"], name="simagreement_once"
            ),
        ]

    def __str__(self):
        return f"{self.agreement_no} ({self.state})"


class SimChargeNotice(models.Model):
    """A pre-charge notice: it opens a window of days for one successful charge."""

    agreement = models.ForeignKey(SimAgreement, on_delete=models.CASCADE, related_name="notices")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    charge_date = models.DateField()
    sent_on = models.DateField(help_text="Beijing date the notice was received")
    used_by = models.OneToOneField(
        SimTrade, on_delete=models.SET_NULL, null=True, blank=True, related_name="notice"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.agreement.agreement_no} {self.sent_on}"
