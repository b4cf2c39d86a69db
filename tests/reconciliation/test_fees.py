"""Bulk fee posting (``payments.ledger.bulk``) writes exactly what ``post_gateway_fee`` writes."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from orders.numbers import new_public_number
from payments import ledger
from payments.ledger import bulk as ledger_bulk
from payments.ledger import fee_memo
from payments.ledger.bulk import GatewayFee, post_gateway_fees
from payments.models import JournalEntry, Payment
from settlement.services import order_settle

from .conftest import notify_paid, paid

pytestmark = pytest.mark.django_db
COMPARED = (
    "kind",
    "debit_account",
    "credit_account",
    "amount",
    "currency",
    "merchant_id",
    "order_id",
    "payment_id",
    "refund_id",
    "memo",
    "created_at",
)


@pytest.fixture(params=["database", "python"])
def bulk_path(request, monkeypatch):
    """PostgreSQL posts in SQL; other databases build the entries in Python."""
    if request.param == "python":
        monkeypatch.setattr(ledger_bulk, "connection", SimpleNamespace(vendor="sqlite"))
    elif ledger_bulk.connection.vendor != "postgresql":
        pytest.skip("the SQL path is PostgreSQL's")
    return request.param


def payments_in_every_situation(course, settings, refunded):
    pending = paid(course)
    settled = paid(course)
    later = timezone.now() + settings.KPAY_REFUND_WINDOW + timedelta(days=1)
    assert order_settle(order_id=settled.order_id, now=later)
    twice = Payment.objects.create(
        payment_no=new_public_number("P"),
        order=pending.order,
        merchant_id=pending.merchant_id,
        channel="wechat_native",
        gateway="wechatpay",
        amount=pending.amount,
        expires_at=pending.expires_at,
    )
    assert notify_paid(twice).status == Payment.Status.UNAPPLIED
    refund = refunded(settled, 1000)
    return [(pending, 59, None), (settled, 59, None), (twice, 60, None), (settled, -6, refund)]


def test_bulk_fees_are_the_entries_post_gateway_fee_posts(bulk_path, course, settings, refunded):
    at = timezone.now()
    cases = payments_in_every_situation(course, settings, refunded)
    for i, (payment, amount, refund) in enumerate(cases):
        ledger.post_gateway_fee(
            payment=payment,
            amount=amount,
            reference=f"one:{i}",
            at=at,
            refund=refund,
            memo=fee_memo(amount, "bill"),
        )

    posted = post_gateway_fees(
        [
            GatewayFee(payment.pk, amount, f"bulk:{i}", refund.pk if refund else None)
            for i, (payment, amount, refund) in enumerate(cases)
        ],
        at=at,
        note="bill",
    )

    assert posted == (4, 59 + 59 + 60 - 6)
    entries = {e.reference: e for e in JournalEntry.objects.filter(kind=JournalEntry.Kind.FEE)}
    for i in range(len(cases)):
        one, bulk = entries[f"one:{i}"], entries[f"bulk:{i}"]
        assert [getattr(bulk, name) for name in COMPARED] == [getattr(one, name) for name in COMPARED], i
    assert len({e.posting_id for e in entries.values()}) == 8
    # The accounts are the ones the situations call for (so the comparison compared something).
    merchant = course.merchant_id
    assert [entries[f"bulk:{i}"].debit_account for i in range(3)] == [
        ledger.merchant_pending(merchant),
        ledger.merchant_available(merchant),
        ledger.PLATFORM_GATEWAY_FEES,
    ]
    assert entries["bulk:3"].credit_account == ledger.merchant_available(merchant)


def test_a_fee_already_posted_is_not_posted_again(bulk_path, course):
    payment = paid(course)
    at = timezone.now()
    fee, zero = GatewayFee(payment.pk, 59, "wechatpay:T1"), GatewayFee(payment.pk, 0, "wechatpay:T0")
    assert post_gateway_fees([fee, fee], at=at) == (1, 59)
    assert post_gateway_fees([fee, zero], at=at) == (0, 0)
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.FEE).count() == 1
