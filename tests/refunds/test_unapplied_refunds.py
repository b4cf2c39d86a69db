"""Returning an unapplied payment (received for an order that could not take it) to its payer."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from courses import roles
from courses.models import Enrollment
from orders.models import Order
from orders.services import order_checkout
from orders.tasks import expire_unpaid_orders
from payments import ledger
from payments.exceptions import (
    PaymentNotUnapplied,
    RefundNotAllowed,
    RefundReasonRequired,
    UnappliedAlreadyReturned,
)
from payments.gateways.base import RefundState
from payments.models import JournalEntry, Payment, Refund
from payments.services import payment_start, refund_approve, refund_unapplied
from tests.factories import MerchantStaffFactory, UserFactory

from .conftest import refund_event

pytestmark = pytest.mark.django_db
CLEARING = ledger.gateway_clearing("sandbox")


@pytest.fixture(autouse=True)
def _returned_by_hand(settings):
    """These tests are about staff returning an unapplied payment themselves: kpay's own
    automatic return (on by default, tests/flows/test_double_charge.py) is off here."""
    settings.KPAY_AUTO_RETURN_UNAPPLIED = False


@pytest.fixture
def paid_twice(learner, course, sandbox):
    """``(order, applied, unapplied)``: an order paid by two sandbox payments; the
    second to succeed found the order paid and is owed back."""
    order = order_checkout(learner=learner, course_slug=course.slug).order
    first = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    Payment.objects.filter(pk=first.pk).update(expires_at=first.created_at)  # make room for a new attempt
    second = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(first).status_code == 204
    assert sandbox.pay(second).status_code == 204
    for row in (order, first, second):
        row.refresh_from_db()
    assert first.status == Payment.Status.SUCCEEDED and second.status == Payment.Status.UNAPPLIED
    return order, first, second


def balance(account):
    return ledger.account_balances().get(account, 0)


def return_it(payment, actor, capture, reason="paid twice"):
    with capture(execute=True):
        return refund_unapplied(actor=actor, payment_id=payment.pk, reason=reason)


def test_returning_it_flags_the_payment_again_and_keeps_the_first_flag(
    paid_twice, support, gateway_refunds, django_capture_on_commit_callbacks
):
    _order, _applied, payment = paid_twice
    received_flag = payment.flag
    gateway_refunds.answer = RefundState.SUCCEEDED

    refund = return_it(payment, support, django_capture_on_commit_callbacks)

    payment.refresh_from_db()
    flags = list(payment.status_changes.filter(transition="flag").values_list("reason", flat=True))
    assert flags == [received_flag, f"returned to the payer by refund {refund.refund_no}"]
    assert payment.flag == flags[-1]


def test_support_returns_an_unapplied_payment_without_touching_the_order(
    paid_twice, support, learner, course, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _applied, payment = paid_twice
    status_before = order.status
    assert balance(ledger.UNAPPLIED_RECEIPTS) == -9900 and balance(CLEARING) == 2 * 9900
    gateway_refunds.answer = RefundState.SUCCEEDED

    refund = return_it(payment, support, django_capture_on_commit_callbacks)

    refund.refresh_from_db()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.amount == 9900
    assert refund.payment == payment and refund.approved_by == support
    [sent] = gateway_refunds.requests
    assert (sent.refund_no, sent.payment_no, sent.amount, sent.total) == (
        refund.refund_no,
        payment.payment_no,
        9900,
        9900,
    )
    assert (payment.refunded_amount, payment.refund_reserved) == (9900, 0)
    assert payment.status == Payment.Status.UNAPPLIED and refund.refund_no in payment.flag
    # The order was paid by the other payment: it stays as it was, access included.
    assert order.status == status_before and order.refunded_amount == 0
    assert Enrollment.objects.get(learner=learner, course=course).status == Enrollment.Status.ACTIVE
    # The journal: owed back → nothing owed, and the money left clearing.
    assert balance(ledger.UNAPPLIED_RECEIPTS) == 0 and balance(CLEARING) == 9900
    [entry] = JournalEntry.objects.filter(refund=refund)
    assert (entry.kind, entry.debit_account, entry.credit_account, entry.amount, entry.merchant_id) == (
        JournalEntry.Kind.REFUND,
        ledger.UNAPPLIED_RECEIPTS,
        CLEARING,
        9900,
        None,
    )
    assert not JournalEntry.objects.filter(refund=refund, debit_account__startswith="merchant:").exists()


def test_a_second_return_is_refused_while_the_first_is_under_way_and_after_it(
    paid_twice, support, support2, sandbox, gateway_refunds, django_capture_on_commit_callbacks
):
    _order, _applied, payment = paid_twice
    refund = return_it(payment, support, django_capture_on_commit_callbacks)  # the gateway: processing
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING

    with pytest.raises(UnappliedAlreadyReturned):
        refund_unapplied(actor=support2, payment_id=payment.pk, reason="again")

    # The gateway's notification settles it, once.
    body = refund_event(sandbox, refund)
    assert sandbox.post(body).status_code == 204
    assert sandbox.post(body).status_code == 204
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert balance(ledger.UNAPPLIED_RECEIPTS) == 0 and balance(CLEARING) == 9900

    with pytest.raises(UnappliedAlreadyReturned):
        refund_unapplied(actor=support2, payment_id=payment.pk, reason="again")
    assert Refund.objects.count() == 1 and len(gateway_refunds.requests) == 1


def test_a_failed_return_releases_the_amount_and_can_be_made_again(
    paid_twice, support, gateway_refunds, django_capture_on_commit_callbacks
):
    from payments.exceptions import GatewayRejected

    _order, _applied, payment = paid_twice
    gateway_refunds.answer = GatewayRejected("frozen", gateway_code="FROZEN")
    failed = return_it(payment, support, django_capture_on_commit_callbacks)
    failed.refresh_from_db()
    payment.refresh_from_db()
    assert failed.status == Refund.Status.FAILED and payment.refund_reserved == 0
    assert balance(ledger.UNAPPLIED_RECEIPTS) == -9900

    gateway_refunds.answer = RefundState.SUCCEEDED
    again = return_it(payment, support, django_capture_on_commit_callbacks)
    again.refresh_from_db()
    assert again.status == Refund.Status.SUCCEEDED and balance(ledger.UNAPPLIED_RECEIPTS) == 0


def test_a_late_payment_of_an_expired_order_is_returned_and_the_order_stays_expired(
    learner, course, sandbox, support, gateway_refunds, django_capture_on_commit_callbacks
):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expire_unpaid_orders()
    assert sandbox.pay(payment).status_code == 204
    gateway_refunds.answer = RefundState.SUCCEEDED

    refund = return_it(payment, support, django_capture_on_commit_callbacks)

    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert order.status == Order.Status.EXPIRED and order.refunded_amount == 0
    assert balance(ledger.UNAPPLIED_RECEIPTS) == 0 and balance(CLEARING) == 0


def test_an_applied_payment_cannot_be_returned_this_way(paid_twice, support, gateway_refunds):
    _order, applied, _payment = paid_twice
    with pytest.raises(PaymentNotUnapplied):
        refund_unapplied(actor=support, payment_id=applied.pk, reason="r")
    applied.refresh_from_db()
    assert applied.refund_reserved == 0 and not Refund.objects.exists()
    assert not gateway_refunds.requests


def test_a_reason_is_required(paid_twice, support):
    with pytest.raises(RefundReasonRequired):
        refund_unapplied(actor=support, payment_id=paid_twice[2].pk, reason="  ")


@pytest.mark.parametrize("who", ["merchant_with_permission", "finance", "staff_without_role", "learner"])
def test_only_platform_staff_who_issue_refunds_may_return(paid_twice, course, staff, learner, who):
    from django.contrib.auth.models import Permission

    user = {
        "merchant_with_permission": lambda: MerchantStaffFactory(merchant=course.merchant),
        "finance": lambda: staff(roles.FINANCE),
        "staff_without_role": lambda: UserFactory(is_staff=True),
        "learner": lambda: learner,
    }[who]()
    if who == "merchant_with_permission":  # granted one by one: still the platform's money
        user.user_permissions.add(Permission.objects.get(codename="issue_refund"))
    with pytest.raises(RefundNotAllowed):
        refund_unapplied(actor=user, payment_id=paid_twice[2].pk, reason="r")
    assert not Refund.objects.exists()


def test_a_superuser_may_return(paid_twice, gateway_refunds, django_capture_on_commit_callbacks):
    admin = UserFactory(is_staff=True, is_superuser=True)
    refund = return_it(paid_twice[2], admin, django_capture_on_commit_callbacks)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING


def test_above_the_threshold_a_second_staff_member_approves(
    paid_twice, support, support2, settings, gateway_refunds, django_capture_on_commit_callbacks
):
    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 5000
    gateway_refunds.answer = RefundState.SUCCEEDED
    refund = return_it(paid_twice[2], support, django_capture_on_commit_callbacks)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REQUESTED and refund.first_approved_by == support
    assert not gateway_refunds.requests

    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=support2, refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and balance(ledger.UNAPPLIED_RECEIPTS) == 0


# -- the admin ----------------------------------------------------------------------------
def payment_page(payment):
    return reverse("admin:payments_payment_change", args=[payment.pk])


def return_url(payment):
    return reverse("admin:payments_payment_return", args=[payment.pk])


def test_return_to_payer_from_the_payments_admin_page(
    client, support, paid_twice, gateway_refunds, django_capture_on_commit_callbacks
):
    _order, applied, payment = paid_twice
    gateway_refunds.answer = RefundState.SUCCEEDED
    client.force_login(support)
    page = client.get(payment_page(payment))
    assert page.status_code == 200 and return_url(payment) in page.text and "Return to payer" in page.text
    applied_page = client.get(payment_page(applied))
    assert applied_page.status_code == 200 and "Return to payer" not in applied_page.text
    assert client.get(return_url(payment)).status_code == 200

    empty = client.post(return_url(payment), {"reason": ""})
    assert empty.status_code == 200 and not Refund.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(return_url(payment), {"reason": "paid twice"})

    refund = Refund.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:payments_refund_change", args=[refund.pk])
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.payment == payment
    assert return_url(payment) not in client.get(payment_page(payment)).text  # returned: no button

    again = client.post(return_url(payment), {"reason": "again"})
    assert again.status_code == 200 and "returned to its payer already" in again.text
    wrong = client.post(return_url(applied), {"reason": "r"})
    assert wrong.status_code == 200 and "Only a payment its order could not take" in wrong.text
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("who", ["merchant", "finance"])
def test_others_see_no_button_and_are_refused(client, staff, course, paid_twice, who):
    payment = paid_twice[2]
    if who == "merchant":
        user = MerchantStaffFactory(merchant=course.merchant)
        user.groups.add(Group.objects.get(name=roles.MERCHANT))
    else:
        user = staff(roles.FINANCE)
    client.force_login(user)
    page = client.get(payment_page(payment))
    assert page.status_code == 200 and return_url(payment) not in page.text
    assert client.post(return_url(payment), {"reason": "r"}).status_code == 403
    assert not Refund.objects.exists()


def test_an_unknown_payment_is_not_found(client, support):
    client.force_login(support)
    assert client.get(reverse("admin:payments_payment_return", args=[987654])).status_code == 404


def test_returning_money_paid_twice_does_not_count_as_the_learner_refunding(
    paid_twice, support, learner, gateway_refunds, django_capture_on_commit_callbacks
):
    from core.risk import CheckoutContext
    from riskcontrol.engine import evaluate
    from riskcontrol.rules import KINDS

    order, _applied, payment = paid_twice
    gateway_refunds.answer = RefundState.SUCCEEDED
    return_it(payment, support, django_capture_on_commit_callbacks)
    assert Refund.objects.get(payment=payment).status == Refund.Status.SUCCEEDED

    rule = {
        "pk": 0,
        "name": "refund ratio",
        "kind": "refund_ratio",
        "params": KINDS["refund_ratio"].clean_params({"min_orders": 1, "max_ratio": "0.00"}),
        "action": "review",
        "monitor_only": False,
    }
    context = CheckoutContext(
        learner_id=learner.pk, merchant_id=order.merchant_id, course_ids=(1,), amount=100, currency="CNY"
    )
    [verdict] = evaluate("checkout", context, [rule])[1]
    assert not verdict["hit"], verdict
