"""Concurrent payout requests on PostgreSQL: threads, each with its own connection."""

import pytest

from core.errors import KpayError
from payments import ledger
from payments.models import JournalEntry
from settlement.models import Payout
from settlement.services import payout_request
from tests.flows.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def attempt(fn):
    try:
        return fn()
    except KpayError as exc:
        return exc.code


def test_10_concurrent_payouts_never_withdraw_more_than_the_balance(settled_orders, merchant_user, settings):
    settings.KPAY_PAYOUT_MIN = 100
    merchant = settled_orders(3)[0].merchant
    available = ledger.merchant_available_balance(merchant.pk)
    assert available == 3 * 8910

    # Each request of 50.00 alone fits the 267.30 available; together only 5 do.
    results = race(
        10, lambda: attempt(lambda: payout_request(merchant=merchant, amount=5000, by=merchant_user))
    )

    made = [r for r in results if isinstance(r, Payout)]
    assert len(made) == 5
    assert sorted(r for r in results if not isinstance(r, Payout)) == ["insufficient_balance"] * 5
    assert ledger.merchant_available_balance(merchant.pk) == available - 25_000 >= 0
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.PAYOUT).count() == 5
    assert ledger.merchant_balances([merchant.pk])[merchant.pk]["payouts"] == 25_000
