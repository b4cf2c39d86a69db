"""Links set the referral (last click wins, within the window, across login); checkout
records it; the order says it was referred."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from promoters.models import Click, LearnerReferral, OrderReferral
from promoters.services import COOKIE, Referral, click_record, link_for, referral_of
from tests.factories import CourseFactory, UserFactory

from .conftest import make_promoter

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def link(promoter, course):
    return link_for(promoter=promoter, course_id=course.pk)


def test_following_a_link_counts_a_click_and_sets_the_cookie(client, link, course):
    response = client.get(f"/r/{link.code}")

    assert response.status_code == 302 and response["Location"].endswith(f"/courses/{course.slug}/")
    assert Click.objects.filter(link=link, user=None).count() == 1
    referral = Referral.unsign(response.cookies[COOKIE].value)
    assert referral.link_id == link.pk


def test_an_unknown_code_is_not_found(client):
    assert client.get("/r/nope").status_code == 404
    assert not Click.objects.exists()


def test_a_tampered_cookie_is_ignored(learner):
    assert referral_of(user=learner, cookie="forged:value") is None


def test_the_referral_is_kept_on_the_user_at_login(client, link, learner):
    client.get(f"/r/{link.code}")
    response = client.post("/accounts/login/", {"username": learner.username, "password": "pw-learner-123"})
    assert response.status_code == 302

    kept = LearnerReferral.objects.get(user=learner)
    assert kept.link == link
    # On another device (no cookie), the kept referral still attributes.
    assert referral_of(user=learner, cookie=None).link_id == link.pk


def test_last_click_wins(programme, course, learner):
    first, second = make_promoter(programme), make_promoter(programme)
    earlier = link_for(promoter=first, course_id=course.pk)
    later = link_for(promoter=second, course_id=course.pk)
    now = timezone.now()
    click_record(code=later.code, user=learner, now=now - timedelta(hours=1))
    click_record(code=earlier.code, user=learner, now=now - timedelta(hours=2))  # older: kept as is
    _link, cookie_referral = click_record(code=earlier.code, now=now - timedelta(hours=3))

    assert referral_of(user=learner, cookie=cookie_referral.sign()).link_id == later.pk
    _link, newest = click_record(code=earlier.code, now=now - timedelta(minutes=5))
    assert referral_of(user=learner, cookie=newest.sign()).link_id == earlier.pk


def test_checkout_on_the_site_records_the_promoter(client, link, learner, course, promoter):
    client.get(f"/r/{link.code}")
    client.force_login(learner)
    response = client.post(f"/checkout/{course.slug}/")

    assert response.status_code == 302
    order = Order.objects.get(learner=learner)
    referral = OrderReferral.objects.get(order=order)
    assert (
        referral.promoter == promoter and referral.link == link and referral.commission == 0
    )  # not paid yet
    assert order.promoter_id == promoter.pk  # the order's own column
    assert order.risk_assessment["inputs"]["promoter_id"] == promoter.pk  # the promoter_fraud rule's input


def test_the_api_checkout_uses_the_referral_kept_on_the_user(api_client, link, learner, course, promoter):
    click_record(code=link.code, user=learner)
    token = api_client.post(
        "/api/v1/auth/token/", {"username": learner.username, "password": "pw-learner-123"}
    ).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = api_client.post("/api/v1/orders/", {"course": course.slug}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["referred"] is True
    assert OrderReferral.objects.get(order__order_no=response.json()["order_no"]).promoter == promoter


def test_a_course_outside_the_programme_is_not_attributed(learner, promoter, referral, buy_referred):
    other = CourseFactory(merchant=promoter.merchant)
    order, _ = buy_referred(learner, other, referral)
    assert not OrderReferral.objects.exists()
    assert order.promoter_id is None
    assert order.risk_assessment["inputs"]["promoter_id"] is None


def test_another_merchants_course_is_not_attributed(learner, referral, buy_referred):
    order, _ = buy_referred(learner, CourseFactory(), referral)
    assert not OrderReferral.objects.filter(order=order).exists()


def test_a_refused_promoter_or_closed_programme_no_longer_attributes(
    learner, course, promoter, programme, referral, buy_referred
):
    programme.active = False
    programme.save()
    buy_referred(learner, course, referral)
    assert not OrderReferral.objects.exists()


def test_a_link_is_only_for_approved_promoters_and_programme_courses(programme, course):
    from core.errors import KpayError
    from promoters.models import Promoter

    applicant = make_promoter(programme)
    Promoter.objects.filter(pk=applicant.pk).update(status=Promoter.Status.APPLIED)
    applicant.refresh_from_db()
    with pytest.raises(KpayError) as not_approved:
        link_for(promoter=applicant, course_id=course.pk)
    assert not_approved.value.code == "promoter_not_allowed"
    approved = make_promoter(programme, UserFactory())
    with pytest.raises(KpayError) as not_promoted:
        link_for(promoter=approved, course_id=CourseFactory(merchant=course.merchant).pk)
    assert not_promoted.value.code == "course_not_promoted"


# -- what a course link refers (README, "Promoters": attribution) ----------------------------
def test_a_course_link_refers_another_course_of_the_programme(
    learner, course, promoter, programme, referral, buy_referred
):
    """The link sets the referral to its promoter (客户关系绑定), not to its course: another
    course of the programme bought within the window is the promoter's sale too, at the
    programme's rate, and the referral remembers the link that was clicked."""
    other = CourseFactory(merchant=course.merchant, price=19900)
    programme.courses.add(other)

    order, _payment = buy_referred(learner, other, referral)

    referred = OrderReferral.objects.get(order=order)
    assert order.promoter_id == promoter.pk and referred.promoter == promoter
    assert referred.link.course == course  # the course link clicked, not the course bought
    assert referred.commission == 1990  # 10% of the 199.00 paid


def test_a_course_link_refers_a_plan_of_the_programme_but_not_another(
    learner, course, promoter, programme, referral
):
    from memberships.services.purchase import plan_checkout
    from tests.memberships.helpers import PlanFactory

    in_programme, outside = PlanFactory(merchant=course.merchant), PlanFactory(merchant=course.merchant)
    programme.plans.add(in_programme)

    bought = plan_checkout(learner=learner, plan_slug=in_programme.slug, referral=referral).order
    not_referred = plan_checkout(learner=UserFactory(), plan_slug=outside.slug, referral=referral).order

    assert bought.promoter_id == promoter.pk
    assert OrderReferral.objects.get(order=bought).link.course == course
    assert not_referred.promoter_id is None
    assert not OrderReferral.objects.filter(order=not_referred).exists()


def test_a_course_link_never_refers_another_merchants_programme(learner, course, referral, buy_referred):
    from promoters.models import Programme

    elsewhere = CourseFactory()
    Programme.objects.create(merchant=elsewhere.merchant, rate_bp=2000).courses.add(elsewhere)

    order, _payment = buy_referred(learner, elsewhere, referral)

    assert order.promoter_id is None and not OrderReferral.objects.exists()
