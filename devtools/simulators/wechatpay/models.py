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
        ACCEPT = "ACCEPT"  # a withholding charge accepted, not yet made
        PAY_FAIL = "PAY_FAIL"  # a withholding charge that failed (e.g. insufficient balance)

    mchid = models.CharField(max_length=32)
    appid = models.CharField(max_length=32)
    out_trade_no = models.CharField(max_length=32)
    trade_type = models.CharField(max_length=16)  # NATIVE, MWEB (h5), JSAPI, PAP (withholding)
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
    # Withholding (PAP) charges: the contract charged, and why the last attempt failed.
    contract = models.ForeignKey(
        "WxContract", null=True, blank=True, on_delete=models.PROTECT, related_name="charges"
    )
    err_code = models.CharField(max_length=32, blank=True)

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


class WxContract(models.Model):
    """A withholding contract (委托代扣协议) as WeChat Pay keeps it: asked for on the
    entrustweb page, signed or declined by the payer there, ended by either side; with
    the pre-charge notice that opens its current charge window."""

    class State(models.TextChoices):
        PENDING = "PENDING"  # the signing page was opened; WeChat has no contract yet
        DECLINED = "DECLINED"
        SIGNED = "SIGNED"  # contract_state 0
        TERMINATED = "TERMINATED"  # contract_state 1

    mchid = models.CharField(max_length=32)
    appid = models.CharField(max_length=32)
    plan_id = models.CharField(max_length=28)
    contract_code = models.CharField(max_length=32)
    request_serial = models.CharField(max_length=19)
    contract_display_account = models.CharField(max_length=128)
    notify_url = models.CharField(max_length=256)
    return_url = models.CharField(max_length=500, blank=True)  # the referrer, with return_web=1
    token = models.CharField(max_length=64, unique=True)  # the payer's page of this contract
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    contract_id = models.CharField(max_length=32, blank=True)
    openid = models.CharField(max_length=128, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    termination_mode = models.CharField(max_length=2, blank=True)  # 2 payer, 3 merchant API
    termination_remark = models.CharField(max_length=512, blank=True)
    # Simulated trouble: charges fail with this err_code (e.g. NOTENOUGH, no balance).
    fail_charges_with = models.CharField(max_length=32, blank=True)
    # The pre-charge notice (预扣费通知) of the current cycle, if one is open.
    notice_day = models.DateField(null=True, blank=True)  # Beijing date the notice was sent
    notice_days = models.PositiveSmallIntegerField(default=0)  # deduct_duration.count
    notice_amount = models.BigIntegerField(null=True, blank=True)
    notice_open = models.BooleanField(default=False)  # until a charge succeeds
    noticed_ever = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mchid", "plan_id", "contract_code"], name="wxcontract_code_once_per_plan"
            ),
            models.UniqueConstraint(
                fields=["contract_id"], condition=~Q(contract_id=""), name="wxcontract_contract_id"
            ),
        ]

    def __str__(self):
        return f"{self.contract_code} ({self.state})"
