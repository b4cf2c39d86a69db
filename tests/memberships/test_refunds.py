"""Refunding a membership period: in full within the order's refund window (the learner's
own refund flow, or staff), after it the unused share by whole days, rounded down to the
fen; access ends at once; four eyes and the journal are the payments refund flow's.

The worked example of the README: a monthly plan of 30.00 yuan bought on 15 January at
14:00 covers 15 January … 15 February (32 local days). Refunded on 28 January (after the
7-day window) it has 18 whole days left (29 January … 15 February): 3000 × 18 / 32 =
1687.5 fen, rounded down to 1687 fen (16.87 yuan).
"""

import pytest

from courses import selectors
from memberships.exceptions import PeriodNothingToRefund
from memberships.models import Membership, MembershipPeriod
from memberships.services.refunds import period_refund_issue, period_refund_preview, pro_rata
from orders.models import Order
from payments import ledger
from payments.exceptions import RefundNotAllowed
from payments.gateways.base import RefundState
from payments.models import JournalEntry, Refund
from payments.services import refund_approve, refund_deny, refund_request, refund_sync
from tests.factories import MerchantStaffFactory
from tests.memberships.helpers import local

pytestmark = pytest.mark.django_db


def period_of(order) -> MembershipPeriod:
    return MembershipPeriod.objects.get(order_no=order.order_no)


def reads(learner, studio) -> bool:
    course = studio.courses.get(slug="studio-one")
    return selectors.learner_owns_course(learner=learner, course=course)


def test_the_learner_refund_flow_refunds_a_period_in_full_in_the_window_and_ends_it(
    learner, plan, studio, buy_plan, support, gateway_refunds, django_capture_on_commit_callbacks, clock
):
    clock.set("2026-01-15 14:00")
    order, _ = buy_plan(learner, plan)
    clock.set("2026-01-20 09:00")
    refund = refund_request(learner=learner, order_no=order.order_no, reason="not for me")
    assert refund.amount == 3000
    assert reads(learner, studio)  # asked for, not refunded yet: access stays

    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=support, refund_id=refund.pk, note="ok")

    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED and order.refunded_amount == 3000
    period = period_of(order)
    assert period.status == "refunded" and period.ended_at == local("2026-01-20 09:00")
    assert Membership.objects.get(learner=learner).ends_at == local("2026-01-20 09:00")
    assert not reads(learner, studio)
    refund_entries = JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND, order=order)
    assert sum(e.amount for e in refund_entries) == 3000


def test_staff_refund_in_the_window_is_full_and_ends_the_period_at_once(
    learner, plan, studio, buy_plan, support, gateway_refunds, django_capture_on_commit_callbacks, clock
):
    clock.set("2026-01-15 14:00")
    order, _ = buy_plan(learner, plan)
    clock.set("2026-01-21 10:00")
    _order, quote = period_refund_preview(period=period_of(order))
    assert quote.in_window and quote.amount == 3000

    gateway_refunds.answer = RefundState.PROCESSING  # the gateway has not answered yet
    with django_capture_on_commit_callbacks(execute=True):
        refund = period_refund_issue(actor=support, period_id=period_of(order).pk, reason="asked by phone")

    assert refund.amount == 3000
    assert not reads(learner, studio)  # ended when issued, before the gateway said yes
    assert period_of(order).ended_at == local("2026-01-21 10:00")


def test_after_the_window_the_unused_whole_days_are_refunded_rounded_down(
    learner, plan, studio, buy_plan, support, gateway_refunds, django_capture_on_commit_callbacks, clock
):
    clock.set("2026-01-15 14:00")
    order, _ = buy_plan(learner, plan)
    clock.set("2026-01-28 10:00")
    _order, quote = period_refund_preview(period=period_of(order))
    assert (quote.in_window, quote.days_total, quote.days_left, quote.amount) == (False, 32, 18, 1687)

    gateway_refunds.answer = RefundState.PROCESSING
    with django_capture_on_commit_callbacks(execute=True):
        refund = period_refund_issue(actor=support, period_id=period_of(order).pk, reason="moving abroad")

    refund.refresh_from_db()
    assert refund.amount == 1687 and refund.status == Refund.Status.PROCESSING
    assert not reads(learner, studio)  # access ended when the refund was issued
    period = period_of(order)
    assert period.status == "refunded" and period.ended_at == local("2026-01-28 10:00")
    assert Membership.objects.get(learner=learner).ends_at == local("2026-01-28 10:00")

    # The gateway confirms: the order is partly refunded, the journal reverses 16.87.
    gateway_refunds.query_answer = RefundState.SUCCEEDED
    refund_sync(refund=refund)
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED and order.refunded_amount == 1687
    refund_entries = JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND, order=order)
    assert sum(e.amount for e in refund_entries) == 1687
    assert sum(ledger.account_balances().values()) == 0
    # Nothing more to give back for it.
    with pytest.raises(PeriodNothingToRefund):
        period_refund_issue(actor=support, period_id=period_of(order).pk, reason="again")


@pytest.mark.parametrize(
    "paid, left, total, expected",
    [
        (3000, 18, 32, 1687),
        (100, 1, 3, 33),
        (100, 2, 3, 66),
        (2900, 30, 30, 2900),
        (2900, 0, 31, 0),
        (1, 1, 2, 0),
    ],
)
def test_pro_rata_rounds_down_to_the_fen(paid, left, total, expected):
    assert pro_rata(paid=paid, days_left=left, days_total=total) == expected
    assert expected * total <= paid * left < (expected + 1) * total


def test_a_period_after_its_last_day_has_nothing_to_refund(learner, plan, buy_plan, support, clock):
    clock.set("2026-01-15 14:00")
    order, _ = buy_plan(learner, plan)
    clock.set("2026-02-16 08:00")
    with pytest.raises(PeriodNothingToRefund):
        period_refund_issue(actor=support, period_id=period_of(order).pk, reason="too late")
    assert not Refund.objects.exists() and period_of(order).ended_at is None


def test_refunding_an_earlier_period_moves_the_later_ones_up(
    learner, plan, studio, buy_plan, support, gateway_refunds, django_capture_on_commit_callbacks, clock
):
    clock.set("2026-01-15 14:00")
    first, _ = buy_plan(learner, plan)
    second, _ = buy_plan(learner, plan)
    third, _ = buy_plan(learner, plan)
    clock.set("2026-01-28 10:00")

    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        period_refund_issue(actor=support, period_id=period_of(first).pk, reason="pro rata")

    second_period, third_period = period_of(second), period_of(third)
    assert second_period.starts_at == local("2026-01-28 10:00")
    assert second_period.ends_at == local("2026-03-01 00:00")  # to the end of 28 February
    assert (third_period.starts_at, third_period.ends_at) == (
        local("2026-03-01 00:00"),
        local("2026-04-01 00:00"),
    )
    assert Membership.objects.get(learner=learner).ends_at == local("2026-04-01 00:00")
    assert reads(learner, studio)  # no gap: the next period runs from now


def test_refunding_a_period_that_has_not_started_gives_it_all_back_and_closes_the_gap(
    learner, plan, studio, buy_plan, support, gateway_refunds, django_capture_on_commit_callbacks, clock
):
    clock.set("2026-01-15 14:00")
    first, _ = buy_plan(learner, plan)
    second, _ = buy_plan(learner, plan)
    third, _ = buy_plan(learner, plan)
    clock.set("2026-02-01 10:00")  # after the window; the second period starts on 16 February

    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        refund = period_refund_issue(actor=support, period_id=period_of(second).pk, reason="too much")

    assert refund.amount == 3000  # not started: every day is left
    second.refresh_from_db()
    assert second.status == Order.Status.REFUNDED
    assert period_of(third).starts_at == period_of(first).ends_at == local("2026-02-16 00:00")
    assert Membership.objects.get(learner=learner).ends_at == local("2026-03-16 00:00")
    assert reads(learner, studio)


def test_four_eyes_above_the_threshold_and_a_denied_refund_is_owed_the_same_later(
    learner,
    plan,
    studio,
    buy_plan,
    support,
    support2,
    gateway_refunds,
    django_capture_on_commit_callbacks,
    clock,
    settings,
):
    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 1000
    clock.set("2026-01-15 14:00")
    order, _ = buy_plan(learner, plan)
    clock.set("2026-01-28 10:00")
    refund = period_refund_issue(actor=support, period_id=period_of(order).pk, reason="pro rata")
    assert refund.status == Refund.Status.REQUESTED and refund.first_approved_by == support
    assert not gateway_refunds.requests and not reads(learner, studio)
    refund_deny(actor=support2, refund_id=refund.pk, note="check with the studio first")

    clock.set("2026-02-03 10:00")  # days later: still owed what was left when access ended
    again = period_refund_issue(actor=support, period_id=period_of(order).pk, reason="studio agreed")
    assert again.amount == 1687
    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=support2, refund_id=again.pk, note="ok")
    order.refresh_from_db()
    assert order.refunded_amount == 1687


def test_only_staff_who_may_refund_the_merchant_s_orders_may_refund_a_period(learner, plan, buy_plan, staff):
    order, _ = buy_plan(learner, plan)
    own_staff = MerchantStaffFactory(merchant=plan.merchant)  # may not issue refunds
    for actor in (own_staff, learner, staff("finance")):
        with pytest.raises(RefundNotAllowed):
            period_refund_issue(actor=actor, period_id=period_of(order).pk, reason="no")
    assert period_of(order).ended_at is None and not Refund.objects.exists()
