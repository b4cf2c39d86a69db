"""Each period's order settles with the merchant after its own refund window, through the
settlement every order goes through; a refund after that is charged to what is available."""

from datetime import timedelta

import pytest

from memberships.models import MembershipPeriod
from memberships.services.refunds import period_refund_issue
from orders.models import Order
from payments import ledger
from payments.gateways.base import RefundState
from payments.models import JournalEntry
from settlement.services import orders_settle_due

pytestmark = pytest.mark.django_db

SHARE = 3000 - 300  # the merchant's share of a 30.00 period at 10 %


def balances(merchant_id):
    return ledger.merchant_balances([merchant_id])[merchant_id]


def test_each_period_settles_after_its_own_refund_window(learner, plan, buy_plan, clock):
    clock.set("2026-01-15 14:00")
    first, _ = buy_plan(learner, plan)
    clock.set("2026-01-20 09:00")
    second, _ = buy_plan(learner, plan)  # stacked: its period starts 16 February

    assert orders_settle_due(now=first.paid_at + timedelta(days=7) - timedelta(seconds=1)) == 0
    assert balances(plan.merchant_id)["pending"] == 2 * SHARE

    assert orders_settle_due(now=first.paid_at + timedelta(days=7)) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Order.Status.COMPLETED and second.status == Order.Status.FULFILLED
    assert balances(plan.merchant_id)["pending"] == SHARE and balances(plan.merchant_id)["available"] == SHARE

    assert orders_settle_due(now=second.paid_at + timedelta(days=7)) == 1
    second.refresh_from_db()
    assert second.status == Order.Status.COMPLETED
    assert balances(plan.merchant_id) == {"pending": 0, "available": 2 * SHARE, "payouts": 0, "paid_out": 0}
    settled = JournalEntry.objects.filter(kind=JournalEntry.Kind.SETTLEMENT).values_list(
        "reference", flat=True
    )
    assert sorted(settled) == sorted([first.order_no, second.order_no])
    # Settling changes nothing of the periods.
    assert MembershipPeriod.objects.filter(status="active", ended_at__isnull=True).count() == 2


def test_a_pro_rata_refund_after_settlement_is_charged_to_available(
    learner, plan, buy_plan, support, gateway_refunds, django_capture_on_commit_callbacks, clock
):
    clock.set("2026-01-15 14:00")
    order, _ = buy_plan(learner, plan)
    assert orders_settle_due(now=order.paid_at + timedelta(days=7)) == 1
    clock.set("2026-01-28 10:00")

    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        refund = period_refund_issue(
            actor=support,
            period_id=MembershipPeriod.objects.get(order_no=order.order_no).pk,
            reason="pro rata",
        )

    assert refund.amount == 1687
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED and order.completed_at is not None
    assert order.refunded_amount == 1687
    # The merchant gives back its share of the refund (the commission's share is reversed).
    commission_back = ledger.commission_reversed(commission=300, amount=3000, refunded=1687)
    assert balances(plan.merchant_id)["available"] == SHARE - (1687 - commission_back)
    assert sum(ledger.account_balances().values()) == 0
