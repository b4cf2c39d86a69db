"""Orders settle after their refund window: the merchant's share moves from pending to
available once, and refunds are charged to pending before, to available after."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from payments import ledger
from payments.gateways.base import RefundState
from payments.models import JournalEntry
from payments.services import refund_issue, refunds_sync_pending
from settlement.services import order_settle, orders_settle_due
from settlement.tasks import settle_due_orders

pytestmark = pytest.mark.django_db

SHARE = 9900 - 990  # the merchant's share of a 99.00 order at 10 %


def balances(merchant_id):
    return ledger.merchant_balances([merchant_id])[merchant_id]


def test_an_order_settles_only_after_its_refund_window(paid):
    order, _payment = paid
    deadline = order.paid_at + timedelta(days=7)

    assert orders_settle_due(now=deadline - timedelta(seconds=1)) == 0
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert balances(order.merchant_id) == {"pending": SHARE, "available": 0, "payouts": 0, "paid_out": 0}

    assert orders_settle_due(now=deadline) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED and order.completed_at == deadline
    assert balances(order.merchant_id) == {"pending": 0, "available": SHARE, "payouts": 0, "paid_out": 0}
    entry = JournalEntry.objects.get(kind=JournalEntry.Kind.SETTLEMENT)
    assert (entry.amount, entry.reference, entry.created_at) == (SHARE, order.order_no, deadline)

    # Once: a second run finds nothing due and posts nothing.
    assert orders_settle_due(now=deadline + timedelta(days=1)) == 0
    assert order_settle(order_id=order.pk, now=deadline + timedelta(days=1)) is False
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.SETTLEMENT).count() == 1


def test_the_beat_task_settles_due_orders(paid, no_refund_window):
    order, _payment = paid
    settle_due_orders.delay()
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED


def test_an_open_refund_holds_settlement_until_it_is_done(
    paid, support, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _payment = paid
    after_window = order.paid_at + timedelta(days=8)
    gateway_refunds.answer = RefundState.PROCESSING  # the gateway has not said yet
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(actor=support, order_id=order.pk, amount=2000, reason="part")

    assert orders_settle_due(now=after_window) == 0
    order.refresh_from_db()
    assert order.completed_at is None and balances(order.merchant_id)["available"] == 0

    gateway_refunds.query_answer = RefundState.SUCCEEDED  # the periodic query learns it succeeded
    assert refunds_sync_pending(now=timezone.now() + timedelta(minutes=5)) == 1
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == refund.Status.SUCCEEDED
    assert order.status == Order.Status.PARTIALLY_REFUNDED

    assert orders_settle_due(now=after_window) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    # The refund (20.00, of which 2.00 commission) came out of pending; the rest settles.
    assert balances(order.merchant_id) == {
        "pending": 0,
        "available": SHARE - 1800,
        "payouts": 0,
        "paid_out": 0,
    }


def test_a_refund_before_settlement_is_charged_to_pending(paid, refund):
    order, _payment = paid
    refund(order, amount=3000)
    assert balances(order.merchant_id) == {
        "pending": SHARE - 2700,
        "available": 0,
        "payouts": 0,
        "paid_out": 0,
    }
    charged = JournalEntry.objects.get(kind=JournalEntry.Kind.REFUND, debit_account__startswith="merchant:")
    assert charged.debit_account == ledger.merchant_pending(order.merchant_id)


def test_a_refund_after_settlement_is_charged_back_to_available_even_below_zero(
    settled_orders, refund, finance, merchant_user, settings
):
    from settlement.services import payout_request

    (order,) = settled_orders(1)
    settings.KPAY_PAYOUT_MIN = 100
    payout_request(merchant=order.merchant, amount=SHARE, by=merchant_user)  # everything withdrawn
    assert balances(order.merchant_id)["available"] == 0

    refund(order)  # the learner gets all 99.00 back after settlement

    assert balances(order.merchant_id) == {"pending": 0, "available": -SHARE, "payouts": SHARE, "paid_out": 0}
    charged = JournalEntry.objects.get(kind=JournalEntry.Kind.REFUND, debit_account__startswith="merchant:")
    assert charged.debit_account == ledger.merchant_available(order.merchant_id)
    assert ledger.merchant_available_balance(order.merchant_id) == -SHARE
