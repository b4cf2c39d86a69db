from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments import ledger
from payments.models import JournalEntry


@given(
    total=st.integers(min_value=1, max_value=10**12),
    rate=st.decimals(min_value=0, max_value=1, places=4),
)
def test_commission_and_merchant_share_add_up_to_the_total(total, rate):
    commission = ledger.commission_for(total, rate)
    assert 0 <= commission <= total
    assert abs(Decimal(commission) - Decimal(total) * rate) <= Decimal("0.5")


@pytest.mark.parametrize(
    ("total", "rate", "commission"),
    [
        (9900, Decimal("0.10"), 990),
        (5, Decimal("0.10"), 1),
        (4, Decimal("0.10"), 0),
        (15, Decimal("0.10"), 2),
    ],
)
def test_commission_rounds_half_up_to_whole_fen(total, rate, commission):
    assert ledger.commission_for(total, rate) == commission


def test_journal_entries_are_append_only(learner, course, sandbox):
    from orders.services import order_checkout
    from payments.services import payment_start

    order = order_checkout(learner=learner, course_slug=course.slug).order
    sandbox.pay(payment_start(learner=learner, order_no=order.order_no, channel="sandbox"))
    entry = JournalEntry.objects.first()
    entry.amount = 1
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_merchant_commission_rate_overrides_the_default(learner, course, sandbox):
    from orders.services import order_checkout
    from payments.services import payment_start

    course.merchant.commission_rate = Decimal("0.2500")
    course.merchant.save()
    order = order_checkout(learner=learner, course_slug=course.slug).order
    sandbox.pay(payment_start(learner=learner, order_no=order.order_no, channel="sandbox"))
    balances = ledger.account_balances()
    assert balances[ledger.PLATFORM_COMMISSION] == -2475
    assert balances[ledger.merchant_pending(course.merchant_id)] == -7425
