"""Races on PostgreSQL (threads, each with its own connection): refunds of a referred
order, and a promoter's payout requests."""

import pytest

from core.errors import KpayError
from payments.gateways.base import RefundState
from payments.models import JournalEntry, Refund
from payments.services import refund_issue
from promoters.ledger import promoter_balances
from promoters.services import click_record, link_for, promoter_payout_request
from settlement.models import Payout
from tests.factories import UserFactory
from tests.flows.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def attempt(fn):
    try:
        return fn()
    except KpayError as exc:
        return exc.code


def test_10_concurrent_partial_refunds_of_a_referred_order(
    learner, course, promoter, referral, buy_referred, support, gateway_refunds
):
    order, _payment = buy_referred(learner, course, referral)
    gateway_refunds.answer = RefundState.SUCCEEDED

    results = race(
        10,
        lambda: attempt(lambda: refund_issue(actor=support, order_id=order.pk, amount=1500, reason="race")),
    )

    assert len([r for r in results if isinstance(r, Refund)]) == 6  # 90.00 of 99.00
    order.refresh_from_db()
    assert order.refunded_amount == 9000
    # 990 commission; round_half_up(990 × 9000 / 9900) = 900 given back, in 6 postings.
    assert promoter_balances([promoter.pk])[promoter.pk]["pending"] == 90
    reversals = JournalEntry.objects.filter(
        kind=JournalEntry.Kind.PROMOTER, debit_account__startswith="promoter:"
    )
    assert sum(reversals.values_list("amount", flat=True)) == 900


def test_10_concurrent_promoter_payouts_never_withdraw_more_than_the_commission(
    course, promoter, buy_referred, no_refund_window, settle, settings
):
    settings.KPAY_PAYOUT_MIN = 100
    link = link_for(promoter=promoter, course_id=course.pk)
    for _ in range(3):
        _link, referral = click_record(code=link.code)
        order, _payment = buy_referred(UserFactory(), course, referral)
        settle(order)
    assert promoter_balances([promoter.pk])[promoter.pk]["available"] == 3 * 990

    results = race(
        10,
        lambda: attempt(
            lambda: promoter_payout_request(user=promoter.user, promoter_id=promoter.pk, amount=700)
        ),
    )

    made = [r for r in results if isinstance(r, Payout)]
    assert len(made) == 4  # 4 × 7.00 of 29.70
    assert sorted(r for r in results if not isinstance(r, Payout)) == ["insufficient_balance"] * 6
    balances = promoter_balances([promoter.pk])[promoter.pk]
    assert balances["available"] == 2970 - 2800 and balances["payouts"] == 2800
