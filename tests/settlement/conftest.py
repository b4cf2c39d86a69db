from datetime import timedelta

import pytest
from django.utils import timezone

from courses import roles
from payments.gateways.base import RefundState
from payments.models import Refund
from payments.services import refund_issue
from settlement.services import order_settle, payout_request
from tests.factories import CourseFactory, MerchantStaffFactory, UserFactory
from tests.refunds.conftest import _english, buy, gateway_refunds, paid, support  # noqa: F401


@pytest.fixture
def no_refund_window(settings):
    """Orders are due for settlement as soon as they are delivered (so that every
    posting of a test happens now, in today's statement)."""
    settings.KPAY_REFUND_WINDOW = timedelta(0)


@pytest.fixture
def settle():
    """Settle ``order`` (its refund window must have ended by ``now``)."""

    def settle(order, now=None):
        assert order_settle(order_id=order.pk, now=now or timezone.now())
        order.refresh_from_db()
        return order

    return settle


@pytest.fixture
def refund(support, gateway_refunds, django_capture_on_commit_callbacks):  # noqa: F811
    """Refund ``amount`` (everything by default) of ``order``; the gateway says yes."""

    def refund(order, amount=None):
        gateway_refunds.answer = RefundState.SUCCEEDED
        with django_capture_on_commit_callbacks(execute=True):
            made = refund_issue(actor=support, order_id=order.pk, amount=amount, reason="test refund")
        made.refresh_from_db()
        assert made.status == Refund.Status.SUCCEEDED
        order.refresh_from_db()
        return made

    return refund


@pytest.fixture
def merchant(course):
    return course.merchant


@pytest.fixture
def merchant_user(merchant, staff):
    from django.contrib.auth.models import Group

    user = MerchantStaffFactory(merchant=merchant, username="studio-one-staff")
    user.groups.add(Group.objects.get(name=roles.MERCHANT))
    return user


@pytest.fixture
def course2(db):
    return CourseFactory(price=4900, title="Other studio's course")


@pytest.fixture
def merchant2(course2):
    return course2.merchant


@pytest.fixture
def merchant2_user(merchant2):
    from django.contrib.auth.models import Group

    user = MerchantStaffFactory(merchant=merchant2, username="studio-two-staff")
    user.groups.add(Group.objects.get(name=roles.MERCHANT))
    return user


@pytest.fixture
def finance(staff):
    return staff(roles.FINANCE, "finance-fay")


@pytest.fixture
def finance2(staff):
    return staff(roles.FINANCE, "finance-gus")


@pytest.fixture
def settled_orders(buy, course, no_refund_window, settle):  # noqa: F811
    """``n`` orders of ``course`` (99.00 yuan: 89.10 to the merchant) paid and settled."""

    def make(n, on=None):
        orders = []
        for _ in range(n):
            order, _payment = buy(UserFactory(), on or course)
            orders.append(settle(order))
        return orders

    return make


@pytest.fixture
def names(merchant, merchant2):
    merchant.name, merchant2.name = "Studio One", "Rival Two"
    merchant.save(update_fields=["name"])
    merchant2.name = "Rival Two"
    merchant2.save(update_fields=["name"])


@pytest.fixture
def books(
    names, settled_orders, course2, refund, merchant, merchant2, merchant_user, merchant2_user, settings
):
    """Merchant 1: two orders settled (178.20 available), one refunded after settlement
    (89.10), then a 50.00 payout requested (39.10 left). Merchant 2: an order of 49.00
    settled, all of it withdrawn, then refunded: 44.10 in debt. Returns merchant 1's payout."""
    settings.KPAY_PAYOUT_MIN = 100
    _one, two = settled_orders(2)
    refund(two)
    payout = payout_request(
        merchant=merchant,
        amount=5000,
        by=merchant_user,
        account_name="Studio One Ltd",
        bank_name="ICBC",
        account_number="6222020000001234",
    )
    (theirs,) = settled_orders(1, on=course2)
    payout_request(merchant=merchant2, amount=4410, by=merchant2_user)
    refund(theirs)
    return payout
