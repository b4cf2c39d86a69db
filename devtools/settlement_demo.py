"""Finance demo data for ``manage.py seed_demo`` (development only: devtools is installed
only with the sandbox, so patching ``timezone.now`` for the demo clock stays out of the product).

A fortnight of business is played through the real services on a demo clock: orders
bought and paid on each simulated channel (the gateway's notification applied in-process,
no network; the trade written in that simulator's books, so its daily bill lists it and
finance can reconcile the demo's days), settled once their refund window is over, a payout
paid and one waiting in the queue, and the daily statements of those days. Some buyers
come through the demo promoter's links (:data:`REFERRED`, :mod:`devtools.promoter_demo`):
their orders carry the promoter's commission, settled with them or still pending. Nothing
is written around kpay's services, so the journal and every ledger check stay sound.

Run once: when the demo buyers already have orders, nothing is added.
"""

from contextlib import contextmanager
from datetime import datetime, time, timedelta
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.errors import KpayError
from courses.models import Course, Merchant
from devtools import promoter_demo
from devtools.simulators.books import record_paid_trade
from orders.models import Order
from orders.services import order_checkout
from payments.gateways import gateway_for_channel
from payments.gateways.base import Notification, NotificationKind, PaymentAction, TradeState
from payments.services import payment_notification_handle, payment_start
from settlement.models import Payout
from settlement.services import (
    orders_settle_due,
    payout_approve,
    payout_mark_paid,
    payout_request,
    statements_generate,
)

BUYER_PREFIX = "demo-buyer-"
# (days ago, hour, buyer number, course slug, channel)
PURCHASES = [
    (13, 9, 1, "python-basics", "wechat_native"),
    (13, 10, 2, "data-analysis", "alipay_qr"),
    (12, 9, 3, "python-basics", "sandbox"),
    (12, 11, 1, "writing-that-works", "wechat_native"),
    (11, 9, 4, "data-analysis", "alipay_qr"),
    (11, 10, 5, "photography-basics", "wechat_native"),
    (10, 9, 2, "python-basics", "sandbox"),
    (10, 10, 6, "writing-that-works", "alipay_qr"),
    # Still in their refund window; yesterday's are on yesterday's bills ("Reconcile a bill").
    (2, 9, 3, "data-analysis", "wechat_native"),
    (1, 10, 4, "python-basics", "wechat_native"),
    (1, 11, 5, "writing-that-works", "alipay_qr"),
    (1, 15, 6, "photography-basics", "sandbox"),
]
# The purchases (days ago, hour, buyer number) whose buyer followed the demo promoter's link
# to the course an hour before: four settled (their commission available), two pending.
REFERRED = {(13, 10, 2), (12, 9, 3), (11, 9, 4), (10, 9, 2), (2, 9, 3), (1, 10, 4)}


@contextmanager
def _clock(at: datetime):
    """Every ``timezone.now()`` (and auto_now_add) answers ``at`` meanwhile."""
    with mock.patch.object(timezone, "now", return_value=at):
        yield


def _at(days_ago: int, hour: int, minute: int = 0) -> datetime:
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)), timezone.get_default_timezone())


def _simulated(channel: str) -> bool:
    """Whether ``channel``'s gateway is one of the simulators (the sandbox is one), whose
    books the demo may write; a real gateway configured here is left alone."""
    try:
        gateway = gateway_for_channel(channel)
    except KpayError:
        return False
    options = settings.KPAY_GATEWAYS[gateway.alias].get("OPTIONS", {})
    return gateway.alias == "sandbox" or any("/simulators/" in str(value) for value in options.values())


def _pay(buyer, slug: str, channel: str, referral=None) -> Order:
    """Buy and pay as the buyer would, the gateway's side played in-process: the trade is
    created and paid in the simulator's books (nothing answers HTTP while the demo is
    seeded) and its notification is applied to kpay, now (on the demo clock). With a
    ``referral`` (a promoter's click), checkout attributes the order as the site would."""
    gateway = gateway_for_channel(channel)
    order = order_checkout(learner=buyer, course_slug=slug, referral=referral).order
    action = PaymentAction(kind="qr", code_url=f"demo://{channel}/{order.order_no}")
    with mock.patch.object(gateway, "create_payment", return_value=action):
        payment = payment_start(learner=buyer, order_no=order.order_no, channel=channel)
    trade = record_paid_trade(gateway, payment, paid_at=timezone.now())
    payment_notification_handle(
        gateway=gateway,
        notification=Notification(
            event_id=f"DEMO-{payment.payment_no}",
            event_type="TRADE.SUCCESS",
            kind=NotificationKind.PAYMENT,
            trade_no=payment.payment_no,
            state=TradeState.SUCCEEDED,
            amount=payment.amount,
            currency=payment.currency,
            gateway_txn_id=trade.transaction_id,
            payer_id=trade.payer_id,
            merchant_ids=gateway.merchant_ids,
        ),
    )
    return order


def _buyer(number: int):
    buyer, created = get_user_model().objects.get_or_create(
        username=f"{BUYER_PREFIX}{number}", defaults={"email": f"{BUYER_PREFIX}{number}@kpay.localhost"}
    )
    if created:
        buyer.set_unusable_password()
        buyer.save(update_fields=["password"])
    return buyer


def seed_finance_demo(*, merchant: Merchant, promoter=None) -> str:
    """Play the demo fortnight once; returns a line saying what there is. With the demo
    ``promoter``, the :data:`REFERRED` purchases come through its links."""
    users = get_user_model().objects
    if Order.objects.filter(learner__username__startswith=BUYER_PREFIX).exists():
        if promoter is not None and "sandbox" in settings.KPAY_GATEWAYS:
            # Seeded before the promoter demo: a referred order now, so the promoter has figures.
            promoter_demo.referred_order_now(promoter=promoter, pay=_pay, buyer=_buyer(7), now=timezone.now())
        return "Finance demo: already there."
    if "sandbox" not in settings.KPAY_GATEWAYS:
        return "Finance demo: skipped (needs the sandbox gateway)."
    published = set(Course.objects.filter(status=Course.Status.PUBLISHED).values_list("slug", flat=True))
    for days_ago, hour, number, slug, channel in PURCHASES:
        if slug not in published:
            continue
        if not _simulated(channel):
            channel = "sandbox"
        buyer = _buyer(number)
        referral = None
        if promoter is not None and (days_ago, hour, number) in REFERRED:
            referral = promoter_demo.demo_click(
                promoter=promoter,
                slug=slug,
                at=_at(days_ago, hour) - timedelta(hours=1),
                user=buyer,
                visitor=number,
            )
        with _clock(_at(days_ago, hour)):
            _pay(buyer, slug, channel, referral=referral)
    if promoter is not None:
        promoter_demo.browsing_clicks(promoter=promoter, at=_at)

    settled_at = _at(2, 12)
    with _clock(settled_at):
        settled = orders_settle_due(now=settled_at)

    staff = users.filter(merchant_membership__merchant=merchant, is_active=True).first()
    finance = users.filter(groups__name="finance", is_active=True).first()
    # A second finance user (or a superuser) marks it paid: never the one who approved it.
    payer = (
        users.filter(groups__name="finance", is_active=True).exclude(pk=getattr(finance, "pk", None)).first()
        or users.filter(is_superuser=True, is_active=True).first()
    )
    payouts = 0
    if staff is not None and finance is not None and payer is not None:
        try:
            with _clock(_at(2, 14)):
                paid = payout_request(
                    merchant=merchant,
                    amount=max(settings.KPAY_PAYOUT_MIN, 15_000),
                    by=staff,
                    account_name="演示工作室 Demo Studio Ltd",
                    bank_name="招商银行 China Merchants Bank",
                    account_number="6225880000001234",
                )
                payout_approve(payout_id=paid.pk, by=finance, note="demo")
            with _clock(_at(2, 16)):
                payout_mark_paid(payout_id=paid.pk, by=payer, reference="DEMO-CMB-0001")
            with _clock(_at(1, 10)):
                payout_request(
                    merchant=merchant,
                    amount=settings.KPAY_PAYOUT_MIN,
                    by=staff,
                    account_name="演示工作室 Demo Studio Ltd",
                    bank_name="招商银行 China Merchants Bank",
                    account_number="6225880000001234",
                )
            payouts = Payout.objects.filter(merchant=merchant).count()
        except KpayError as exc:  # e.g. KPAY_PAYOUT_MIN above what the demo earned
            return f"Finance demo: {settled} orders settled; no payouts ({exc.message})."

    statements = 0
    for days_ago in range(14, 0, -1):
        statements += len(statements_generate(period_start=timezone.localdate() - timedelta(days=days_ago)))
    return f"Finance demo: {settled} orders settled, {payouts} payouts, {statements} daily statements."
