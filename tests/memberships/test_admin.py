"""Merchant staff manage their plans (prices typed in yuan) and see their members with
their periods in the admin, nothing of another merchant's; support refund a period there."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from courses import roles
from memberships.models import Membership, MembershipPeriod, Plan
from payments.gateways.base import RefundState
from payments.models import Refund
from tests.admin.pages import admin_url
from tests.factories import CourseFactory, MerchantFactory, MerchantStaffFactory, UserFactory
from tests.memberships.helpers import PlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rival(db):
    merchant = MerchantFactory(name="Rival Academy", slug="rival")
    CourseFactory(merchant=merchant, title="Rival secret course", slug="rival-course")
    return merchant


@pytest.fixture
def rival_plan(rival):
    return PlanFactory(merchant=rival, slug="rival-gold", title="Rival Gold Circle")


@pytest.fixture
def studio_staff(studio, client):
    user = MerchantStaffFactory(merchant=studio, username="studio-staff")
    user.groups.add(Group.objects.get(name=roles.MERCHANT))
    client.force_login(user)
    return client


def plan_form(**overrides) -> dict:
    data = {
        "title": "Studio yearly",
        "slug": "studio-yearly",
        "description": "",
        "period": "year",
        "period_days": "",
        "price_yuan": "199.00",
        "currency": "CNY",
        "all_courses": "on",
        "renewal_allowed": "on",
        "is_active": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_merchant_staff_add_a_plan_priced_in_yuan_for_their_own_merchant(studio_staff, studio):
    response = studio_staff.post(admin_url(Plan, "add"), plan_form())

    assert response.status_code == 302, response.context["adminform"].form.errors
    plan = Plan.objects.get(slug="studio-yearly")
    assert (plan.merchant, plan.price, plan.period, plan.period_days) == (studio, 19900, "year", None)


def test_a_price_with_more_than_two_decimals_or_a_days_plan_without_days_is_refused(studio_staff):
    response = studio_staff.post(admin_url(Plan, "add"), plan_form(price_yuan="19.999"))
    assert response.status_code == 200 and "price_yuan" in response.context["adminform"].form.errors
    response = studio_staff.post(admin_url(Plan, "add"), plan_form(period="days", period_days=""))
    assert response.status_code == 200 and "period_days" in response.context["adminform"].form.errors
    assert not Plan.objects.exists()


def test_a_chosen_set_offers_and_takes_the_merchant_s_own_courses_only(studio_staff, studio, rival):
    page = studio_staff.get(admin_url(Plan, "add"))
    assert "Studio One" in page.text and "Rival secret course" not in page.text

    rival_course = rival.courses.get()
    response = studio_staff.post(
        admin_url(Plan, "add"), plan_form(all_courses=None, courses=[str(rival_course.pk)])
    )
    assert response.status_code == 200 and "courses" in response.context["adminform"].form.errors
    own = studio.courses.get(slug="studio-one")
    response = studio_staff.post(admin_url(Plan, "add"), plan_form(all_courses=None, courses=[str(own.pk)]))
    assert response.status_code == 302
    assert list(Plan.objects.get(slug="studio-yearly").courses.all()) == [own]


def test_merchant_staff_see_their_plans_and_members_only(studio_staff, plan, rival_plan, learner, buy_plan):
    buy_plan(learner, plan)
    rival_member = UserFactory(username="rival-member")
    buy_plan(rival_member, rival_plan)

    plans = studio_staff.get(admin_url(Plan))
    assert "Studio monthly" in plans.text and "Rival Gold Circle" not in plans.text
    members = studio_staff.get(admin_url(Membership))
    assert learner.username in members.text and "rival-member" not in members.text
    for url in (
        admin_url(Plan, "change", rival_plan.pk),
        admin_url(Membership, "change", Membership.objects.get(learner=rival_member).pk),
    ):
        response = studio_staff.get(url, follow=True)
        assert "Rival Gold Circle" not in response.text and "rival-member" not in response.text
    # Their member's page shows the periods, and no refund button (merchants do not refund).
    membership = Membership.objects.get(learner=learner)
    page = studio_staff.get(admin_url(Membership, "change", membership.pk))
    period = MembershipPeriod.objects.get(membership=membership)
    assert page.status_code == 200 and period.order_no in page.text
    assert "Refund this period" not in page.text
    refund_page = reverse("admin:memberships_membership_refund_period", args=[membership.pk, period.pk])
    assert studio_staff.get(refund_page).status_code == 403


def test_posting_to_another_merchant_s_plan_changes_nothing(studio_staff, rival_plan):
    response = studio_staff.post(admin_url(Plan, "change", rival_plan.pk), plan_form(price_yuan="0.01"))
    assert response.status_code in (302, 403, 404)
    rival_plan.refresh_from_db()
    assert rival_plan.price == 3000


def test_a_changed_price_is_saved_and_a_sold_plan_keeps_its_length(studio_staff, plan, learner, buy_plan):
    buy_plan(learner, plan)
    page = studio_staff.get(admin_url(Plan, "change", plan.pk))
    assert 'name="period"' not in page.text and 'value="30.00"' in page.text

    response = studio_staff.post(
        admin_url(Plan, "change", plan.pk),
        plan_form(
            title="Studio monthly",
            slug=None,
            period=None,
            period_days=None,
            currency=None,
            price_yuan="45.00",
        ),
    )

    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.price, plan.period, plan.slug) == (4500, "month", "studio-monthly")
    assert MembershipPeriod.objects.get().price == 3000  # the period paid keeps its price


def test_support_refund_a_period_from_the_member_s_page(
    client, plan, learner, buy_plan, support, gateway_refunds, django_capture_on_commit_callbacks, clock
):
    clock.set("2026-01-15 14:00")
    order, _ = buy_plan(learner, plan)
    clock.set("2026-01-28 10:00")
    membership = Membership.objects.get(learner=learner)
    period = MembershipPeriod.objects.get(order_no=order.order_no)
    client.force_login(support)

    page = client.get(admin_url(Membership, "change", membership.pk))
    url = reverse("admin:memberships_membership_refund_period", args=[membership.pk, period.pk])
    assert url in page.text
    form = client.get(url)
    assert "18 whole days left of 32" in form.text and "16.87" in form.text

    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"reason": "moving abroad"})

    refund = Refund.objects.get()
    assert done.status_code == 302 and done.url == admin_url(Refund, "change", refund.pk)
    assert refund.amount == 1687 and refund.status == Refund.Status.SUCCEEDED
    period.refresh_from_db()
    assert period.ended_at is not None
    assert "Refund this period" not in client.get(admin_url(Membership, "change", membership.pk)).text
    # Without a reason nothing happens.
    assert client.post(url, {"reason": ""}).status_code == 200
    assert Refund.objects.count() == 1


def test_platform_staff_choose_the_merchant_and_only_its_courses(client, studio, rival):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    rival_course = rival.courses.get()
    own = studio.courses.get(slug="studio-one")

    refused = client.post(
        admin_url(Plan, "add"),
        plan_form(merchant=str(studio.pk), all_courses=None, courses=[str(rival_course.pk)]),
    )
    assert refused.status_code == 200 and "courses" in refused.context["adminform"].form.errors
    made = client.post(
        admin_url(Plan, "add"), plan_form(merchant=str(studio.pk), all_courses=None, courses=[str(own.pk)])
    )
    assert made.status_code == 302
    assert Plan.objects.get(slug="studio-yearly").merchant == studio
