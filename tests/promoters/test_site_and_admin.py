"""The promoter page, its CSV, applying, and the back office: merchants decide their own
applications only; finance sees promoter balances."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from courses import roles
from promoters.models import Programme, Promoter, PromoterStatusChange
from promoters.services import link_for, promoter_apply
from tests.factories import CourseFactory, MerchantStaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def test_the_promoter_page_shows_links_figures_and_a_csv(
    client, learner, course, promoter, referral, buy_referred, refund
):
    order, _ = buy_referred(learner, course, referral)
    refund(order, 3300)
    client.force_login(promoter.user)

    page = client.get("/promoter/")
    assert page.status_code == 200
    text = page.text
    link = link_for(promoter=promoter, course_id=course.pk)
    assert f"/r/{link.code}" in text and "<svg" in text  # the link and its QR code
    assert '<dd class="clicks">1</dd>' in text and '<dd class="orders">1</dd>' in text
    assert "6.60" in text  # 9.90 less a third

    csv = client.get(f"/promoter/{promoter.pk}/orders.csv")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0] == "order,paid_at,status,paid,refunded,commission"
    assert lines[1].startswith(order.order_no) and lines[1].endswith(",99.00,33.00,9.90")


def test_another_learners_csv_is_not_found(client, learner, promoter):
    client.force_login(learner)
    assert client.get(f"/promoter/{promoter.pk}/orders.csv").status_code == 404


def test_a_learner_applies_once(client, learner, programme):
    client.force_login(learner)
    response = client.post(f"/promoter/apply/{programme.merchant.slug}/", {"pitch": "I teach"})
    assert response.status_code == 302
    applied = Promoter.objects.get(user=learner)
    assert applied.status == Promoter.Status.APPLIED and applied.pitch == "I teach"
    again = client.post(f"/promoter/apply/{programme.merchant.slug}/", follow=True)
    assert "already applied" in again.text
    assert Promoter.objects.filter(user=learner).count() == 1


def test_no_programme_no_application(learner, course):
    from core.errors import KpayError

    with pytest.raises(KpayError) as refused:
        promoter_apply(user=learner, merchant_id=course.merchant_id)
    assert refused.value.code == "programme_not_open"


def merchant_staff(merchant):
    user = MerchantStaffFactory(merchant=merchant)
    user.groups.add(Group.objects.get(name=roles.MERCHANT))
    return user


def test_merchant_staff_approve_their_own_applications_only(client, learner, programme):
    applied = promoter_apply(user=learner, merchant_id=programme.merchant_id)
    other_course = CourseFactory()
    other_programme = Programme.objects.create(merchant=other_course.merchant, rate_bp=500)
    elsewhere = promoter_apply(user=UserFactory(), merchant_id=other_programme.merchant_id)
    client.force_login(merchant_staff(programme.merchant))
    changelist = reverse("admin:promoters_promoter_changelist")

    listing = client.get(changelist)
    assert [p.pk for p in listing.context["cl"].result_list] == [applied.pk]
    response = client.post(
        changelist, {"action": "approve", "_selected_action": [applied.pk, elsewhere.pk]}, follow=True
    )

    assert response.status_code == 200
    applied.refresh_from_db()
    elsewhere.refresh_from_db()
    assert applied.status == Promoter.Status.APPROVED
    assert elsewhere.status == Promoter.Status.APPLIED  # not in their list, not theirs to decide
    assert PromoterStatusChange.objects.filter(promoter=applied, transition="approve").exists()
    assert client.get(reverse("admin:promoters_promoter_change", args=[elsewhere.pk])).status_code in (
        302,
        404,
    )


def test_finance_sees_a_promoters_balances(client, staff, learner, course, promoter, referral, buy_referred):
    buy_referred(learner, course, referral)
    client.force_login(staff(roles.FINANCE, "finance-fay"))
    page = client.get(reverse("admin:promoters_promoter_change", args=[promoter.pk]))
    assert page.status_code == 200
    assert "pending: ¥9.90" in page.text


def test_merchant_staff_see_referred_sales_and_their_cost(
    client, learner, course, promoter, referral, buy_referred
):
    order, _ = buy_referred(learner, course, referral)
    client.force_login(merchant_staff(course.merchant))
    page = client.get(reverse("admin:promoters_orderreferral_changelist"))
    assert page.status_code == 200
    assert order.order_no in page.text and "9.90" in page.text


def test_finance_sees_who_a_payout_pays(
    client, staff, learner, course, promoter, referral, buy_referred, no_refund_window, settle, settings
):
    from promoters.services import promoter_payout_request

    settings.KPAY_PAYOUT_MIN = 100
    order, _ = buy_referred(learner, course, referral)
    settle(order)
    payout = promoter_payout_request(user=promoter.user, promoter_id=promoter.pk, amount=500)
    client.force_login(staff(roles.FINANCE, "finance-fay"))

    page = client.get(reverse("admin:settlement_payout_changelist"))

    assert page.status_code == 200
    assert payout.payout_no in page.text and f"promoter:{promoter.pk}" in page.text


def test_the_promoter_page_and_api_are_constant_in_queries(
    client, api_client, course, promoter, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    link_for(promoter=promoter, course_id=course.pk)
    client.force_login(promoter.user)
    api_client.force_authenticate(promoter.user)
    with CaptureQueriesContext(connection) as one_page:
        assert client.get("/promoter/").status_code == 200
    with CaptureQueriesContext(connection) as one_api:
        assert api_client.get("/api/v1/promoter/").status_code == 200
    for _ in range(3):  # more programmes, promoters and links
        other = CourseFactory()
        programme = Programme.objects.create(merchant=other.merchant, rate_bp=700)
        programme.courses.add(other)
        more = Promoter.objects.create(
            programme=programme,
            merchant=other.merchant,
            user=promoter.user,
            status=Promoter.Status.APPROVED,
            applied_at=promoter.applied_at,
        )
        link_for(promoter=more, course_id=other.pk)

    with django_assert_max_num_queries(len(one_page)):
        assert client.get("/promoter/").text.count("<svg") == 4
    with django_assert_max_num_queries(len(one_api)):
        assert len(api_client.get("/api/v1/promoter/").json()) == 4


def test_a_refused_promoter_no_longer_attributes(learner, course, promoter, referral, buy_referred, staff):
    from core.errors import KpayError
    from promoters.models import OrderReferral
    from promoters.services import promoter_refuse

    with pytest.raises(KpayError) as not_theirs:  # platform support hold no promoters permission
        promoter_refuse(promoter_id=promoter.pk, by=staff(roles.SUPPORT), note="fraud")
    assert not_theirs.value.code == "promoter_not_allowed"
    promoter_refuse(promoter_id=promoter.pk, by=merchant_staff(course.merchant), note="fraud")
    buy_referred(learner, course, referral)
    assert not OrderReferral.objects.exists()
