"""A paid trade in a simulator's books, for payments the demo plays in-process.

``seed_demo`` pays its fortnight of orders without a server (nothing answers HTTP while it
runs): it applies each gateway's notification in-process. So that each simulator knows
those trades as its own (its queries, its refunds and above all its daily bills: finance
reconciles the demo's days against them), the demo writes here what the simulator would
have written when the trade was created and paid: the same rows, at the demo's time.
"""

import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from devtools.simulators.alipay.models import AlipayTrade
from devtools.simulators.models import SimTrade
from devtools.simulators.wechatpay.models import WxTrade


@dataclass(frozen=True)
class PaidTrade:
    """What the gateway's notification of the trade says: its own id and the payer."""

    transaction_id: str
    payer_id: str


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def record_paid_trade(gateway, payment, *, paid_at: datetime) -> PaidTrade:
    """The simulator's trade of ``payment`` (a ``payments.Payment`` just started on
    ``gateway``), paid at ``paid_at``. ``gateway`` is the backend serving the payment's
    channel: the sandbox, WeChat Pay's or Alipay's (their simulators' books)."""
    merchant_ids = gateway.merchant_ids
    if "mchid" in merchant_ids:
        return _wechatpay(merchant_ids, payment, paid_at)
    if "app_id" in merchant_ids:
        return _alipay(merchant_ids, payment, paid_at)
    return _sandbox(merchant_ids, payment, paid_at)


def _sandbox(merchant_ids, payment, paid_at) -> PaidTrade:
    trade = SimTrade.objects.create(
        gateway="sandbox",
        merchant_id=merchant_ids["merchant_id"],
        out_trade_no=payment.payment_no,
        transaction_id=f"SBX{payment.payment_no}",
        amount=payment.amount,
        currency=payment.currency,
        description=payment.order.description[:256],
        notify_url="http://127.0.0.1/",
        expire_at=payment.expires_at,
        state=SimTrade.State.SUCCESS,
        payer_id="sbx_demo_payer",
        success_time=paid_at,
    )
    return PaidTrade(trade.transaction_id, trade.payer_id)


def _wechatpay(merchant_ids, payment, paid_at) -> PaidTrade:
    token = secrets.token_urlsafe(16)
    trade = WxTrade.objects.create(
        mchid=merchant_ids["mchid"],
        appid=merchant_ids["appid"],
        out_trade_no=payment.payment_no,
        trade_type="NATIVE",
        request_body={"out_trade_no": payment.payment_no, "amount": {"total": payment.amount}},
        description=payment.order.description[:127],
        notify_url="http://127.0.0.1/",
        amount=payment.amount,
        currency=payment.currency,
        time_expire=payment.expires_at,
        token=token,
        prepay_id=f"wx{secrets.token_hex(14)}",
        state=WxTrade.State.SUCCESS,
        transaction_id=f"4200{paid_at:%Y%m%d}{_digits(16)}",
        payer_openid="o" + secrets.token_urlsafe(21)[:27],
        success_time=paid_at,
    )
    return PaidTrade(trade.transaction_id, trade.payer_openid)


def _alipay(merchant_ids, payment, paid_at) -> PaidTrade:
    trade = AlipayTrade.objects.create(
        app_id=merchant_ids["app_id"],
        seller_id=merchant_ids["seller_id"],
        out_trade_no=payment.payment_no,
        trade_no=f"{paid_at:%Y%m%d}22001{_digits(17)}",
        method="alipay.trade.precreate",
        total_amount=payment.amount,
        subject=payment.order.description[:256],
        time_expire=payment.expires_at,
        status=AlipayTrade.Status.TRADE_SUCCESS,
        token=secrets.token_urlsafe(16),
        buyer_id=f"2088{_digits(12)}",
        buyer_logon_id="dem***@example.com",
        gmt_payment=paid_at,
    )
    return PaidTrade(trade.trade_no, trade.buyer_id)
