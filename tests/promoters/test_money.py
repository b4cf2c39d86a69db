"""A referred order's commission: accrued when paid, reduced by refunds, available when
the order settles, withdrawn through the payout flow, a debt when clawed back after."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import KpayError
from orders.models import Order
from payments import ledger
from promoters.ledger import promoter_balances
from promoters.models import OrderReferral
from promoters.services import promoter_payout_request
from settlement.models import Payout
from settlement.services import payout_approve, payout_mark_paid

pytestmark = pytest.mark.django_db


def balances(promoter):
    return promoter_balances([promoter.pk])[promoter.pk]


def test_a_referred_order_pays_its_promoter_out_of_the_merchant_share(
    learner, course, promoter, referral, buy_referred
):
    order, _payment = buy_referred(learner, course, referral)

    referred = OrderReferral.objects.get(order=order)
    assert referred.promoter == promoter and referred.rate_bp == 1000
    assert referred.commission == 990  # 10% of the 99.00 paid
    assert balances(promoter)["pending"] == 990
    # 99.00: 9.90 platform commission, 9.90 promoter, 79.20 left to the merchant.
    assert ledger.order_pending_balance(order) == 9900 - 990 - 990


def test_settling_makes_the_commission_available(
    learner, course, promoter, referral, buy_referred, no_refund_window, settle
):
    order, _payment = buy_referred(learner, course, referral)
    settle(order)

    assert balances(promoter) == {"pending": 0, "available": 990, "payouts": 0, "paid_out": 0}
    assert ledger.merchant_available_balance(order.merchant_id) == 7920


def test_a_partial_refund_reduces_the_commission_in_proportion(
    learner, course, promoter, referral, buy_referred, refund
):
    order, _payment = buy_referred(learner, course, referral)
    refund(order, 3300)  # a third

    assert balances(promoter)["pending"] == 990 - 330
    refund(order, 6600)  # the rest: reversed in full
    assert order.status == Order.Status.REFUNDED
    assert balances(promoter)["pending"] == 0
    assert ledger.order_pending_balance(order) == 0


def test_a_refund_after_payout_leaves_the_promoter_a_debt(
    learner,
    course,
    promoter,
    referral,
    buy_referred,
    no_refund_window,
    settle,
    refund,
    finance,
    finance2,
    settings,
):
    settings.KPAY_PAYOUT_MIN = 100
    order, _payment = buy_referred(learner, course, referral)
    settle(order)
    payout = promoter_payout_request(
        user=promoter.user, promoter_id=promoter.pk, amount=990, account_name="P"
    )
    assert payout.payee == f"promoter:{promoter.pk}" and payout.merchant_id == order.merchant_id
    payout_approve(payout_id=payout.pk, by=finance)
    payout_mark_paid(payout_id=payout.pk, by=finance2, reference="BANK-1")
    assert balances(promoter) == {"pending": 0, "available": 0, "payouts": 0, "paid_out": 990}

    refund(order, 9900)

    assert balances(promoter)["available"] == -990  # owed back, like a merchant's debt
    # The merchant is charged its share of the refund, less what the promoter gives back.
    assert ledger.merchant_available_balance(order.merchant_id) == 0


def test_promoter_payouts_keep_the_payout_flow_limits(
    learner, course, promoter, referral, buy_referred, no_refund_window, settle, settings
):
    settings.KPAY_PAYOUT_MIN = 100
    order, _payment = buy_referred(learner, course, referral)
    settle(order)
    with pytest.raises(KpayError) as too_much:
        promoter_payout_request(user=promoter.user, promoter_id=promoter.pk, amount=991)
    assert too_much.value.code == "insufficient_balance"
    with pytest.raises(KpayError) as too_little:
        promoter_payout_request(user=promoter.user, promoter_id=promoter.pk, amount=99)
    assert too_little.value.code == "payout_below_minimum"
    with pytest.raises(KpayError) as not_theirs:
        promoter_payout_request(user=learner, promoter_id=promoter.pk, amount=500)
    assert not_theirs.value.code == "promoter_not_found"
    assert not Payout.objects.exists()
    # The merchant's own balance is not the promoter's to take, nor the other way round.
    assert ledger.merchant_available_balance(order.merchant_id, owner=f"promoter:{promoter.pk}") == 990


def test_an_unreferred_order_posts_nothing_for_promoters(learner, course, promoter, buy_referred):
    order, _payment = buy_referred(learner, course, None)
    assert not OrderReferral.objects.exists()
    assert ledger.order_pending_balance(order) == 9900 - 990


def test_a_click_outside_the_window_does_not_attribute(learner, course, promoter, referral, buy_referred):
    referral.clicked_at = timezone.now() - timedelta(days=31)
    buy_referred(learner, course, referral)
    assert not OrderReferral.objects.exists()


def test_a_promoter_never_earns_on_their_own_purchase(course, promoter, referral, buy_referred):
    buy_referred(promoter.user, course, referral)
    assert not OrderReferral.objects.exists()


def test_ledger_check_finds_a_commission_the_journal_does_not_hold(
    learner, course, promoter, referral, buy_referred
):
    from payments.ledger import checks as ledger_check
    from payments.models import JournalEntry

    order, _payment = buy_referred(learner, course, referral)
    assert ledger_check.run() == []
    extra = JournalEntry.objects.create(
        kind=JournalEntry.Kind.PROMOTER,
        debit_account=f"merchant:{order.merchant_id}:pending",
        credit_account=f"promoter:{promoter.pk}:pending",
        amount=1,
        merchant_id=order.merchant_id,
        order=order,
        created_at=timezone.now(),
    )
    try:
        breaches = ledger_check.run()
        assert breaches == [
            f"promoter_commissions_match_referrals: order {order.order_no} (promoter {promoter.pk}): "
            "accrued 990 of 990, pending 991, available 0; keeps 990"
        ]
    finally:
        JournalEntry.objects.filter(pk=extra.pk).delete()  # around the model: entries are append-only


def test_merchant_figures_leave_out_its_promoters_accounts(
    learner, course, promoter, referral, buy_referred, no_refund_window, settle, settings
):
    """A promoter's entries carry the merchant, but its available balance and payouts are
    not the merchant's: statements, the daily summary and the debt filter say so."""
    from courses.models import Merchant
    from payments.ledger import summaries
    from settlement import selectors

    settings.KPAY_PAYOUT_MIN = 100
    order, _payment = buy_referred(learner, course, referral)
    settle(order)
    commission = OrderReferral.objects.get(order=order).commission
    promoter_payout_request(user=promoter.user, promoter_id=promoter.pk, amount=commission)
    merchant_id = order.merchant_id
    available = ledger.merchant_available_balance(merchant_id)
    assert commission > 0 and available > 0

    today = timezone.localdate()
    figures = selectors.statement_figures(period_start=today, period_end=today, merchant_ids=[merchant_id])
    assert figures[merchant_id]["closing_available"] == available
    assert figures[merchant_id]["settled"] == available
    assert figures[merchant_id]["payouts_requested"] == 0
    summaries.fold_all()  # the daily summary folds the same components
    (day,) = selectors.dashboard_days(first_day=today, last_day=today, merchant_id=merchant_id)
    assert day["closing_available"] == available
    merchants = Merchant.objects.filter(pk=merchant_id)
    assert list(selectors.merchants_by_available_balance(merchants, in_debt=False)) == [order.merchant]


def test_a_settled_order_whose_commission_stayed_pending_is_a_breach(
    learner, course, promoter, referral, buy_referred, no_refund_window, settle
):
    """The completed orders' pending check nets a move from the merchant's pending to the
    promoter's, yet still finds commission left pending after settlement."""
    from payments.ledger import checks as ledger_check
    from payments.models import JournalEntry

    order, _payment = buy_referred(learner, course, referral)
    order = settle(order)
    assert list(ledger_check.settled_orders_left_nothing_pending()) == []
    moved = JournalEntry.objects.get(order=order, reference=f"{order.order_no}:settled")
    gone = dict(JournalEntry.objects.filter(pk=moved.pk).values().get())
    JournalEntry.objects.filter(pk=moved.pk).delete()  # around the model: entries are append-only
    try:
        assert list(ledger_check.settled_orders_left_nothing_pending()) == [
            f"order {order.order_no} is completed with {moved.amount} still pending"
        ]
    finally:
        JournalEntry.objects.create(**gone)


def journal_sums(promoter) -> dict[str, int]:
    """The promoter's four accounts summed over the whole journal (owed to them: positive)."""
    from django.db.models import Sum

    from payments.models import JournalEntry

    sums = {}
    for kind in ("pending", "available", "payouts", "paid_out"):
        account = f"promoter:{promoter.pk}:{kind}"
        credited = JournalEntry.objects.filter(credit_account=account).aggregate(t=Sum("amount"))["t"] or 0
        debited = JournalEntry.objects.filter(debit_account=account).aggregate(t=Sum("amount"))["t"] or 0
        sums[kind] = credited - debited
    return sums


def test_promoter_balances_are_the_summary_and_the_entries_after_it(
    learner,
    course,
    promoter,
    referral,
    buy_referred,
    no_refund_window,
    settle,
    refund,
    settings,
    django_assert_num_queries,
):
    """Read as a merchant's are (payments.ledger.summaries): the account balances summary
    plus the entries after its checkpoint; equal to the journal's sums before a fold,
    after it, and with entries after it."""
    from payments.ledger import summaries
    from payments.models import AccountBalance
    from tests.factories import UserFactory

    settings.KPAY_PAYOUT_MIN = 100
    order, _payment = buy_referred(learner, course, referral)
    settle(order)
    promoter_payout_request(user=promoter.user, promoter_id=promoter.pk, amount=500, account_name="P")
    expected = {"pending": 0, "available": 490, "payouts": 500, "paid_out": 0}
    assert journal_sums(promoter) == expected
    assert balances(promoter) == expected  # nothing folded yet: all from the entries

    summaries.fold_all()
    assert AccountBalance.objects.filter(account=f"promoter:{promoter.pk}:available", balance=-490).exists()
    assert balances(promoter) == expected == journal_sums(promoter)

    second, _ = buy_referred(UserFactory(), course, referral)  # after the checkpoint
    refund(second, 3300)
    expected = {**expected, "pending": 990 - 330}
    assert balances(promoter) == expected == journal_sums(promoter)
    with django_assert_num_queries(3):  # the summary's rows, two aggregates after its checkpoint
        promoter_balances([promoter.pk, promoter.pk + 1])

    summaries.fold_all()
    assert balances(promoter) == expected == journal_sums(promoter)

    # It is the summary that is read, not the whole journal: a wrong summary row shows.
    row = AccountBalance.objects.get(account=f"promoter:{promoter.pk}:available")
    AccountBalance.objects.filter(pk=row.pk).update(balance=row.balance - 7)
    try:
        assert balances(promoter)["available"] == 490 + 7
    finally:
        AccountBalance.objects.filter(pk=row.pk).update(balance=row.balance)
