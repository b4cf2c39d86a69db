"""The ``promoter_fraud`` rule kind: a referred purchase from the promoter's own device,
or by a promoter whose referred orders are refunded too often."""

import pytest

from core.errors import KpayError
from core.http import ClientInfo
from orders.models import Order
from orders.services import order_checkout
from promoters.models import OrderReferral
from riskcontrol.models import Rule
from riskcontrol.services import rule_save
from tests.factories import CourseFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fraud_rule(db):
    return rule_save(
        rule=Rule(
            name="promoters",
            kind="promoter_fraud",
            params={"min_orders": 2, "max_ratio": "0.50"},
            action="block",
        ),
        actor=None,
    )


def test_a_referred_purchase_from_the_promoters_own_device_is_refused(
    learner, course, promoter, referral, fraud_rule
):
    order_checkout(
        learner=promoter.user, course_slug=CourseFactory().slug, client=ClientInfo(device_id="dev-P")
    )

    with pytest.raises(KpayError) as refused:
        order_checkout(
            learner=learner, course_slug=course.slug, client=ClientInfo(device_id="dev-P"), referral=referral
        )

    assert refused.value.code == "checkout_refused"
    assert not OrderReferral.objects.exists()
    # From another device the same referred purchase goes through.
    placed = order_checkout(
        learner=learner, course_slug=course.slug, client=ClientInfo(device_id="dev-L"), referral=referral
    )
    assert OrderReferral.objects.get().order == placed.order


def test_the_rule_says_nothing_of_unreferred_purchases(learner, course, promoter, fraud_rule):
    order_checkout(
        learner=promoter.user, course_slug=CourseFactory().slug, client=ClientInfo(device_id="dev-P")
    )
    placed = order_checkout(learner=learner, course_slug=course.slug, client=ClientInfo(device_id="dev-P"))
    assert placed.order.status == Order.Status.PENDING_PAYMENT


def test_a_promoter_whose_referred_orders_are_refunded_is_stopped(
    course, promoter, buy_referred, refund, fraud_rule
):
    from promoters.services import click_record, link_for

    link = link_for(promoter=promoter, course_id=course.pk)
    for _ in range(2):
        _link, made = click_record(code=link.code)
        order, _ = buy_referred(UserFactory(), course, made)
        refund(order, 100)
    _link, made = click_record(code=link.code)

    with pytest.raises(KpayError) as refused:
        order_checkout(learner=UserFactory(), course_slug=course.slug, referral=made)
    assert refused.value.code == "checkout_refused"


def test_a_referred_payment_from_the_promoters_own_payer_account_is_held(
    learner, course, promoter, referral, buy_referred
):
    rule_save(
        rule=Rule(
            name="promoters at payment",
            kind="promoter_fraud",
            params={"min_orders": 5, "max_ratio": "0.50"},
            action="review",
        ),
        actor=None,
    )
    # The promoter once paid an order of their own: the sandbox's payer is always the same.
    buy_referred(promoter.user, CourseFactory(), None)

    order, payment = buy_referred(learner, course, referral)

    assert order.status == Order.Status.PAID  # delivery held for review
    hits = [v for v in payment.risk_assessment["verdicts"] if v.get("hit")]
    assert [v["kind"] for v in hits] == ["promoter_fraud"], payment.risk_assessment
