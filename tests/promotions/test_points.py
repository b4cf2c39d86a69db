"""Points (积分): the points ledger, checkout, the order's life cycle and the journal.

Defaults (kpay/settings.py): 1 point per yuan paid, 100 points = ¥1 (1 point = 1 fen),
points pay at most half the list price, and expire after 365 days. The course costs
100.00 and the merchant's commission is 20%. ``ledger_check`` runs after every test.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import order_cancel, order_checkout
from payments import ledger
from payments.gateways.base import RefundState
from payments.services import payment_start, refund_issue
from promotions import exceptions, selectors
from promotions.models import PointsEntry, PointsLot
from promotions.points import points_deduct, points_expire_due, points_grant
from settlement.services import order_settle
from tests.factories import CouponFactory, CourseFactory

pytestmark = pytest.mark.django_db


def _balances():
    balances = ledger.account_balances()
    return lambda account: balances.get(account, 0)


@pytest.fixture(autouse=True)
def _both_write_paths(write_path):
    """Every test here runs on both write paths (see ``write_path``)."""


@pytest.fixture
def pay(sandbox):
    def run(learner, course, coupon=None, points=None):
        order = order_checkout(learner=learner, course_slug=course.slug, coupon=coupon, points=points).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
        assert sandbox.pay(payment).status_code == 204
        order.refresh_from_db()
        return order, payment

    return run


@pytest.fixture
def granted(learner, staff):
    marketing = staff("support", "points-granter")

    def run(points, reason="welcome"):
        return points_grant(actor=marketing, learner_id=learner.pk, points=points, reason=reason)

    return run


def _refund(support, order, amount, capture):
    with capture(execute=True):
        refund_issue(actor=support, order_id=order.pk, amount=amount, reason="test")
    order.refresh_from_db()


def test_a_grant_is_a_lot_a_history_row_and_a_liability(learner, granted):
    granted(5000)

    assert selectors.points_balance(learner_id=learner.pk) == 5000
    (entry,) = selectors.points_history(learner_id=learner.pk)
    assert (entry.kind, entry.points, entry.reason) == ("granted", 5000, "welcome")
    balance = _balances()
    assert balance(ledger.POINTS_LIABILITY) == -5000
    assert balance(ledger.POINTS_EXPENSE) == 5000


def test_staff_need_a_reason_and_cannot_deduct_more_than_the_balance(learner, granted, staff):
    granted(300)
    actor = staff("support", "deductor")
    with pytest.raises(exceptions.PointsReasonRequired):
        points_deduct(actor=actor, learner_id=learner.pk, points=100, reason=" ")
    with pytest.raises(exceptions.PointsInsufficient):
        points_deduct(actor=actor, learner_id=learner.pk, points=301, reason="abuse")

    points_deduct(actor=actor, learner_id=learner.pk, points=100, reason="abuse")

    assert selectors.points_balance(learner_id=learner.pk) == 200
    assert -_balances()(ledger.POINTS_LIABILITY) == 200


def test_coupon_first_then_points_on_the_rest_and_the_merchant_is_paid_the_list_price(
    learner, course, merchant, granted, pay
):
    granted(6000)
    CouponFactory(code="PLAT30", amount_off=3000, funded_by="platform")

    order, payment = pay(learner, course, "PLAT30", points=2000)

    assert (order.subtotal, order.discount, order.points_used, order.points_discount, order.total) == (
        10_000,
        3000,
        2000,
        2000,
        5000,
    )
    assert payment.amount == 5000
    assert selectors.points_balance(learner_id=learner.pk) == 4000
    balance = _balances()
    assert -balance(ledger.merchant_pending(merchant.pk)) == 8000
    assert -balance(ledger.PLATFORM_COMMISSION) == 2000
    assert balance(ledger.PLATFORM_PROMOTIONS) == 3000
    assert -balance(ledger.POINTS_LIABILITY) == 4000  # 6000 granted, 2000 spent
    assert balance(ledger.gateway_clearing("sandbox")) == 5000


def test_points_above_the_cap_or_the_balance_are_refused_and_nothing_is_written(
    learner, course, granted, staff
):
    granted(8000)
    with pytest.raises(exceptions.PointsAboveCap):
        order_checkout(learner=learner, course_slug=course.slug, points=5001)  # half of 100.00
    granted_more = PointsLot.objects.filter(learner=learner).count()
    with pytest.raises(exceptions.PointsInvalid):
        order_checkout(learner=learner, course_slug=course.slug, points=0)

    points_deduct(actor=staff("support", "d"), learner_id=learner.pk, points=7900, reason="test")
    with pytest.raises(exceptions.PointsInsufficient):
        order_checkout(learner=learner, course_slug=course.slug, points=101)

    assert not Order.objects.exists()
    assert PointsLot.objects.filter(learner=learner).count() == granted_more
    assert selectors.points_balance(learner_id=learner.pk) == 100


def test_the_cap_leaves_at_least_one_fen(learner, granted, settings):
    settings.KPAY_POINTS_MAX_SHARE = 1
    cheap = CourseFactory(price=100)
    granted(500)
    with pytest.raises(exceptions.PointsAboveCap):
        order_checkout(learner=learner, course_slug=cheap.slug, points=100)
    order = order_checkout(learner=learner, course_slug=cheap.slug, points=99).order
    assert order.total == 1


def test_oldest_lots_first_and_cancel_gives_them_back(learner, course, granted):
    old, new = granted(300), granted(300)
    PointsLot.objects.filter(pk=old.pk).update(expires_at=timezone.now() + timedelta(days=10))

    order = order_checkout(learner=learner, course_slug=course.slug, points=400).order

    old.refresh_from_db(), new.refresh_from_db()
    assert (old.remaining, new.remaining) == (0, 200)
    assert selectors.points_balance(learner_id=learner.pk) == 200
    assert -_balances()(ledger.POINTS_LIABILITY) == 600  # reserved points are still owed

    order_cancel(learner=learner, order_no=order.order_no)

    old.refresh_from_db(), new.refresh_from_db()
    assert (old.remaining, new.remaining) == (300, 300)
    kinds = sorted(selectors.points_history(learner_id=learner.pk).values_list("kind", flat=True))
    assert kinds == ["granted", "granted", "released", "released", "spent", "spent"]


def test_the_open_order_is_not_returned_for_other_points(learner, course, granted):
    from orders.exceptions import OpenOrderOtherPoints

    granted(1000)
    order_checkout(learner=learner, course_slug=course.slug, points=100)
    with pytest.raises(OpenOrderOtherPoints):
        order_checkout(learner=learner, course_slug=course.slug, points=200)


def test_partial_refunds_give_spent_points_back_in_proportion(
    learner, course, merchant, support, gateway_refunds, granted, pay, django_capture_on_commit_callbacks
):
    gateway_refunds.answer = RefundState.SUCCEEDED
    granted(3001)
    order, _ = pay(learner, course, points=3001)  # pays 69.99
    assert order.total == 6999

    _refund(support, order, 2333, django_capture_on_commit_callbacks)  # a third

    returned = PointsEntry.objects.get(order=order, kind="returned").points
    assert returned == (2 * 3001 * 2333 + 6999) // (2 * 6999) == 1000
    assert selectors.points_balance(learner_id=learner.pk) == 1000

    _refund(support, order, 6999 - 2333, django_capture_on_commit_callbacks)

    assert selectors.points_balance(learner_id=learner.pk) == 3001
    balance = _balances()
    assert -balance(ledger.POINTS_LIABILITY) == 3001
    assert balance(ledger.merchant_pending(merchant.pk)) == 0
    assert balance(ledger.PLATFORM_COMMISSION) == 0


def test_points_are_earned_when_the_order_completes_once(learner, course, pay):
    order, _ = pay(learner, course)  # pays 100.00
    later = order.refund_deadline + timedelta(minutes=1)

    assert order_settle(order_id=order.pk, now=later)

    (lot,) = PointsLot.objects.filter(learner=learner)
    assert (lot.source, lot.points, lot.order_id) == ("earned", 100, order.pk)
    assert lot.expires_at == later + timedelta(days=365)
    assert not order_settle(order_id=order.pk, now=later)
    assert PointsLot.objects.filter(learner=learner).count() == 1
    assert -_balances()(ledger.POINTS_LIABILITY) == 100


def test_a_refund_after_completion_claws_earned_points_back_into_a_visible_debt(
    learner, course, support, gateway_refunds, pay, django_capture_on_commit_callbacks
):
    gateway_refunds.answer = RefundState.SUCCEEDED
    order, _ = pay(learner, course)
    order_settle(order_id=order.pk, now=order.refund_deadline + timedelta(minutes=1))
    pay(learner, CourseFactory(price=200), points=60)  # spends 60 of the 100 earned
    order.refresh_from_db()

    _refund(support, order, order.total, django_capture_on_commit_callbacks)

    assert selectors.points_balance(learner_id=learner.pk) == -60
    debt = PointsLot.objects.get(learner=learner, source="debt")
    assert (debt.points, debt.remaining) == (-60, -60)
    assert -_balances()(ledger.POINTS_LIABILITY) == -60

    # what the learner earns next pays the debt off first
    granted_lot = points_grant(actor=support, learner_id=learner.pk, points=100, reason="goodwill")
    debt.refresh_from_db(), granted_lot.refresh_from_db()
    assert (debt.remaining, granted_lot.remaining) == (0, 40)
    assert selectors.points_balance(learner_id=learner.pk) == 40


def test_expiry_takes_the_oldest_lots_past_their_period_once(learner, granted):
    old, new = granted(300), granted(200)
    PointsLot.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert points_expire_due() == 300
    assert points_expire_due() == 0
    from promotions.tasks import expire_points

    assert expire_points.apply().get() == 0  # the beat task: the same, idempotent

    old.refresh_from_db(), new.refresh_from_db()
    assert (old.remaining, new.remaining) == (0, 200)
    assert PointsEntry.objects.filter(kind="expired").get().points == -300
    assert -_balances()(ledger.POINTS_LIABILITY) == 200


def test_the_expiry_task_is_sent_by_name_from_beat(settings):
    from promotions.tasks import expire_points

    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert expire_points.name in names


def test_ledger_check_catches_points_the_journal_does_not_know(learner, granted):
    from payments.ledger.checks import points_match_liability

    granted(100)
    assert list(points_match_liability()) == []
    lot = PointsLot.objects.get(learner=learner)
    PointsLot.objects.filter(pk=lot.pk).update(remaining=50)

    breaches = list(points_match_liability())

    assert any("history says 100" in b for b in breaches)
    assert any("points_liability owes 100" in b for b in breaches)
    PointsLot.objects.filter(pk=lot.pk).update(remaining=100)  # leave the books sound


def test_ledger_check_catches_points_legs_that_do_not_follow_the_order(learner, course, granted, pay):
    from payments.ledger.checks import points_match_liability
    from payments.models import JournalEntry

    granted(1000)
    order, _ = pay(learner, course, points=1000)
    assert list(points_match_liability()) == []
    leg = JournalEntry.objects.filter(order=order, debit_account=ledger.POINTS_LIABILITY).first()
    JournalEntry.objects.filter(pk=leg.pk).update(amount=leg.amount - 1)

    breaches = list(points_match_liability())

    assert any(f"order {order.order_no}: its points legs" in b for b in breaches)
    JournalEntry.objects.filter(pk=leg.pk).update(amount=leg.amount)


def test_the_readme_worked_example(
    learner, course, merchant, support, gateway_refunds, granted, pay, django_capture_on_commit_callbacks
):
    """¥100.00 course, 20% commission, a ¥30.00 platform coupon, 2000 of 6000 points:
    the learner pays ¥50.00; half of it is refunded; the order completes; the rest is
    refunded after settlement."""
    gateway_refunds.answer = RefundState.SUCCEEDED
    granted(6000)
    CouponFactory(code="PLAT30", amount_off=3000, funded_by="platform")
    order, _ = pay(learner, course, "PLAT30", points=2000)

    _refund(support, order, 2500, django_capture_on_commit_callbacks)

    balance = _balances()
    assert -balance(ledger.merchant_pending(merchant.pk)) == 4000  # 80.00 − 15.00 − 15.00 − 10.00
    assert -balance(ledger.PLATFORM_COMMISSION) == 1000
    assert balance(ledger.PLATFORM_PROMOTIONS) == 1500
    assert balance(ledger.gateway_clearing("sandbox")) == 2500
    assert -balance(ledger.POINTS_LIABILITY) == 5000  # 4000 left + 1000 returned
    assert selectors.points_balance(learner_id=learner.pk) == 5000

    order_settle(order_id=order.pk, now=order.refund_deadline + timedelta(minutes=1))
    assert PointsLot.objects.get(order=order, source="earned").points == 25  # on 25.00 paid, net
    order.refresh_from_db()
    _refund(support, order, 2500, django_capture_on_commit_callbacks)

    assert PointsEntry.objects.filter(order=order, kind="returned").count() == 2
    assert (
        -sum(PointsEntry.objects.filter(order=order, kind="clawed_back").values_list("points", flat=True))
        == 25
    )
    assert selectors.points_balance(learner_id=learner.pk) == 6000
    balance = _balances()
    assert balance(ledger.PLATFORM_PROMOTIONS) == 0
    assert -balance(ledger.POINTS_LIABILITY) == 6000
    assert balance(ledger.POINTS_EXPENSE) == 6000


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KPAY_POINTS_PER_YUAN_VALUE", "30", "must divide 100"),
        ("KPAY_POINTS_PER_YUAN_VALUE", "0", "must divide 100"),
        ("KPAY_POINTS_MAX_SHARE", "1.5", "between 0 and 1"),
        ("KPAY_POINTS_PER_YUAN", "-1", "0 or more"),
    ],
)
def test_points_settings_that_would_create_fractions_of_a_fen_are_refused(name, value, message):
    from tests.test_settings_and_checks import run_manage

    result = run_manage("check", **{name: value})

    assert result.returncode != 0
    assert message in result.stderr


def test_statements_show_what_platform_coupons_and_points_paid_net_of_refunds(
    learner, course, merchant, support, gateway_refunds, granted, pay, django_capture_on_commit_callbacks
):
    """A merchant's statement says how much of its gross sales the platform paid with
    its coupons and learners paid with points, net of what refunds took back."""
    from datetime import timedelta

    from django.utils import timezone

    from settlement.services import statements_generate

    gateway_refunds.answer = RefundState.SUCCEEDED
    granted(6000)
    CouponFactory(code="PLATSTMT", amount_off=3000, funded_by="platform")
    order, _ = pay(learner, course, "PLATSTMT", points=2000)  # 100.00 = 30 coupon + 20 points + 50 paid
    _refund(support, order, 2500, django_capture_on_commit_callbacks)  # half of what was paid

    today = timezone.localdate()
    [statement] = statements_generate(period_start=today, now=timezone.now() + timedelta(days=1))

    assert statement.gross_sales == 10_000  # the merchant is paid on the list price
    assert (statement.platform_coupons, statement.points_redeemed) == (3000 - 1500, 2000 - 1000)
