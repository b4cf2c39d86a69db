"""The daily task end to end: payments made at the simulated gateways over real HTTP
on loopback, their bills fetched and reconciled, a lost notification repaired by a
query to the simulator, fees recorded once however often the task runs."""

import secrets
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from devtools.simulators.alipay.models import AlipayRefund, AlipayTrade
from devtools.simulators.wechatpay.models import WxTrade
from orders.models import Order
from orders.services import order_checkout
from payments.models import JournalEntry, Payment, Refund
from payments.services import payment_start, refund_issue
from reconciliation.matching import BILL_TIMEZONE
from reconciliation.models import Difference, ReconciliationRun
from reconciliation.tasks import reconcile_bills
from tests.cashier import cashier_url, press, wait_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def pay_at_cashier(course, channel) -> Payment:
    order = order_checkout(learner=UserFactory(), course_slug=course.slug).order
    payment = payment_start(learner=order.learner, order_no=order.order_no, channel=channel)
    press(cashier_url(payment), "pay")
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
    payment.refresh_from_db()
    return payment


def started(course, channel) -> Payment:
    order = order_checkout(learner=UserFactory(), course_slug=course.slug).order
    return payment_start(learner=order.learner, order_no=order.order_no, channel=channel)


def refund_at_gateway(support, payment, amount) -> Refund:
    refund = refund_issue(
        actor=support, order_id=payment.order_id, reason="reconciliation test", amount=amount
    )
    assert wait_for(lambda: Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED)
    return Refund.objects.get(pk=refund.pk)


def fees():
    return JournalEntry.objects.filter(kind=JournalEntry.Kind.FEE)


def test_wechat_pay_bill_reconciled_by_the_daily_task(live_simulators, course, support):
    payment = pay_at_cashier(course, "wechat_native")
    refund = refund_at_gateway(support, payment, 990)
    # Paid at WeChat Pay, but its notification never reached kpay.
    lost = started(course, "wechat_native")
    WxTrade.objects.filter(out_trade_no=lost.payment_no).update(
        state=WxTrade.State.SUCCESS,
        success_time=timezone.now(),
        transaction_id=f"4200{secrets.randbelow(10**24):024d}",
        payer_openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    )
    today = timezone.now().astimezone(BILL_TIMEZONE).date()  # the simulator has today's bill already

    reconcile_bills.delay(today.isoformat())

    run = ReconciliationRun.objects.get(gateway="wechatpay")
    assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
    assert run.source == ReconciliationRun.Source.FETCHED and run.file_size > 0 and len(run.file_sha256) == 64
    assert (run.lines, run.payment_lines, run.refund_lines, run.matched, run.repaired) == (3, 2, 1, 3, 1)
    assert run.summary_lines == 3 and run.summary_refunds_total == 990
    lost.refresh_from_db()
    assert lost.status == Payment.Status.SUCCEEDED
    repaired = Difference.objects.get(run=run)
    assert (repaired.kind, repaired.status, repaired.payment_id) == (
        Difference.Kind.PAID_NOT_RECORDED,
        Difference.Status.REPAIRED,
        lost.pk,
    )
    # The simulator charges 0.6%: 59 fen on each payment, 6 fen back on the refund.
    assert set(fees().values_list("payment_id", "refund_id", "amount")) == {
        (payment.pk, None, 59),
        (lost.pk, None, 59),
        (payment.pk, refund.pk, 6),
    }
    assert run.fees_posted_total == 59 + 59 - 6
    # Alipay's bill of today is not ready: its run failed, WeChat Pay's went ahead anyway.
    alipay = ReconciliationRun.objects.get(gateway="alipay")
    assert alipay.status == ReconciliationRun.Status.FAILED and alipay.error
    assert not ReconciliationRun.objects.filter(gateway="sandbox").exists()  # the sandbox has no bills

    reconcile_bills.delay(today.isoformat())

    again = ReconciliationRun.objects.filter(gateway="wechatpay").latest("pk")
    assert again.pk != run.pk and again.status == ReconciliationRun.Status.SUCCEEDED
    assert (again.matched, again.fees_posted, fees().count()) == (3, 0, 3)
    assert Difference.objects.get().pk == repaired.pk  # the same row, not another


def test_alipay_bill_of_yesterday_reconciled_by_the_command(live_simulators, course, support, capsys):
    payment = pay_at_cashier(course, "alipay_qr")
    refund = refund_at_gateway(support, payment, 1000)
    lost = started(course, "alipay_qr")
    press(cashier_url(lost), "decline")  # scanned; then paid at Alipay, its notification lost
    AlipayTrade.objects.filter(out_trade_no=lost.payment_no).update(
        status=AlipayTrade.Status.TRADE_SUCCESS, gmt_payment=timezone.now(), buyer_id="2088102177846880"
    )
    # Everything happened yesterday, for Alipay and for kpay.
    yesterday = timezone.now() - timedelta(days=1)
    AlipayTrade.objects.update(gmt_payment=yesterday)
    AlipayRefund.objects.update(gmt_refund=yesterday)
    Payment.objects.filter(pk=payment.pk).update(succeeded_at=yesterday)
    Refund.objects.filter(pk=refund.pk).update(succeeded_at=yesterday)
    day = yesterday.astimezone(BILL_TIMEZONE).date()

    call_command("reconcile", "--gateway", "alipay", "--date", day.isoformat())

    run = ReconciliationRun.objects.get(gateway="alipay")
    assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
    assert (run.lines, run.payment_lines, run.refund_lines, run.matched, run.repaired) == (3, 2, 1, 3, 1)
    assert run.summary_lines == 3 and run.differences_found == 1
    assert Payment.objects.get(pk=lost.pk).status == Payment.Status.SUCCEEDED
    assert "alipay" in capsys.readouterr().out
    assert not fees().exists()  # the simulated Alipay charges no service fee
