from datetime import timedelta

import pytest
from django.utils import timezone

from orders.services import order_checkout
from payments.services import payment_start
from promoters.models import Programme, Promoter
from promoters.services import Referral, click_record, link_for
from tests.factories import UserFactory
from tests.refunds.conftest import _english, buy, gateway_refunds, paid, support  # noqa: F401
from tests.settlement.conftest import (  # noqa: F401
    finance,
    finance2,
    merchant,
    merchant_user,
    no_refund_window,
    refund,
    settle,
)


@pytest.fixture
def programme(course):
    programme = Programme.objects.create(merchant=course.merchant, rate_bp=1000)  # 10%
    programme.courses.add(course)
    return programme


def make_promoter(programme, user=None):
    now = timezone.now()
    return Promoter.objects.create(
        programme=programme,
        merchant_id=programme.merchant_id,
        user=user or UserFactory(),
        status=Promoter.Status.APPROVED,
        applied_at=now,
        decided_at=now,
    )


@pytest.fixture
def promoter(programme):
    return make_promoter(programme)


@pytest.fixture
def referral(promoter, course):
    """A click on the promoter's link to ``course``, a minute ago."""
    link = link_for(promoter=promoter, course_id=course.pk)
    _link, made = click_record(code=link.code, now=timezone.now() - timedelta(minutes=1))
    return made


@pytest.fixture
def buy_referred(sandbox):
    """Buy ``course`` as ``learner`` carrying ``referral``: ``(order, payment)``."""

    def buy_it(learner, course, referral: Referral | None, coupon=None):
        order = order_checkout(
            learner=learner, course_slug=course.slug, referral=referral, coupon=coupon
        ).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
        assert sandbox.pay(payment).status_code == 204
        order.refresh_from_db()
        payment.refresh_from_db()
        return order, payment

    return buy_it
