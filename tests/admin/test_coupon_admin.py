"""Coupons in the back office: merchants make their own, for their own courses; marketing
staff make platform coupons; everyone sees only what they may."""

from datetime import timedelta

import pytest
from django.utils import timezone

from courses import roles
from promotions.models import Coupon
from tests.factories import CouponFactory, CourseFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/promotions/coupon/add/"


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def _form(**overrides):
    now = timezone.localtime()
    data = {
        "name": "Spring",
        "code": "spring",
        "kind": "amount",
        "amount_off": "1000",
        "min_spend": "0",
        "currency": "CNY",
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": now.strftime("%H:%M:%S"),
        "ends_at_0": (now + timedelta(days=7)).strftime("%Y-%m-%d"),
        "ends_at_1": now.strftime("%H:%M:%S"),
        "quantity": "10",
        "per_learner_limit": "1",
        "scope": "courses",
        "is_active": "on",
        "redemptions-TOTAL_FORMS": "0",
        "redemptions-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_a_merchant_makes_a_coupon_for_its_own_courses(client, merchant_user, own_merchant, other_merchant):
    mine = CourseFactory(merchant=own_merchant)
    theirs = CourseFactory(merchant=other_merchant)
    client.force_login(merchant_user)

    refused = client.post(ADD, _form(courses=[theirs.pk]))
    assert refused.status_code == 200 and not Coupon.objects.exists()

    created = client.post(ADD, _form(courses=[mine.pk]))

    assert created.status_code == 302, created.content.decode()[:2000]
    coupon = Coupon.objects.get()
    assert (coupon.funded_by, coupon.merchant, coupon.code, coupon.created_by) == (
        "merchant",
        own_merchant,
        "SPRING",
        merchant_user,
    )
    assert list(coupon.courses.all()) == [mine]


def test_a_merchant_sees_its_coupons_and_cannot_change_platform_ones(
    client, merchant_user, own_merchant, other_merchant
):
    own = CouponFactory(code="OWN", funded_by="merchant", merchant=own_merchant, scope="merchant")
    CouponFactory(code="RIVAL", funded_by="merchant", merchant=other_merchant, scope="merchant")
    platform = CouponFactory(code="PLATFORM", funded_by="platform", merchant=own_merchant, scope="merchant")
    client.force_login(merchant_user)

    listing = client.get("/admin/promotions/coupon/").content.decode()

    assert "OWN" in listing and "RIVAL" not in listing
    assert client.get(f"/admin/promotions/coupon/{own.pk}/change/").status_code == 200
    page = client.get(f"/admin/promotions/coupon/{platform.pk}/change/").content.decode()
    assert 'name="_save"' not in page


def test_marketing_makes_platform_coupons(client, staff_in):
    marketer = staff_in(roles.MARKETING)
    client.force_login(marketer)

    created = client.post(ADD, _form(scope="all"))

    assert created.status_code == 302, created.content.decode()[:2000]
    coupon = Coupon.objects.get()
    assert (coupon.funded_by, coupon.merchant) == ("platform", None)
    assert client.get("/admin/promotions/redemption/").status_code == 200


def test_support_staff_cannot_make_coupons(client, staff_in):
    client.force_login(staff_in(roles.SUPPORT))

    assert client.get(ADD).status_code == 403


def test_bad_coupons_are_form_errors_not_crashes(client, staff_in):
    client.force_login(staff_in(roles.MARKETING))
    CouponFactory(code="TAKEN")
    issued = CouponFactory(code=None, quantity=5)
    Coupon.objects.filter(pk=issued.pk).update(issued=3)

    duplicate = client.post(ADD, _form(code="taken", scope="all"))
    lowered = client.post(
        f"/admin/promotions/coupon/{issued.pk}/change/",
        _form(code="", scope="all", quantity="2", name=issued.name),
    )
    percent = client.post(
        ADD, _form(code="PCT", scope="all", kind="percent", percent_off="150", amount_off="0")
    )

    assert duplicate.status_code == lowered.status_code == percent.status_code == 200
    assert "already issued" in lowered.content.decode()
    assert Coupon.objects.count() == 2
    assert Coupon.objects.get(pk=issued.pk).quantity == 5


def test_marketing_grants_an_issued_coupon_to_named_learners(client, staff_in, merchant_user):
    from promotions.models import WalletCoupon
    from tests.factories import UserFactory

    coupon = CouponFactory(code=None, quantity=5)
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    marketer = staff_in(roles.MARKETING)
    url = f"/admin/promotions/coupon/{coupon.pk}/grant/"
    client.force_login(marketer)

    unknown = client.post(url, {"learners": "ann nobody", "reason": "apology"})
    assert "No such learners: nobody" in unknown.content.decode()
    assert "Grant to learners" in client.get(f"/admin/promotions/coupon/{coupon.pk}/change/").content.decode()

    granted = client.post(url, {"learners": "ann, bob", "reason": "apology"})

    assert granted.status_code == 302
    assert set(WalletCoupon.objects.values_list("learner__username", "source", "granted_by")) == {
        (ann.username, "granted", marketer.pk),
        (bob.username, "granted", marketer.pk),
    }
    client.force_login(merchant_user)
    assert client.post(url, {"learners": "ann", "reason": "x"}).status_code in (403, 404)
