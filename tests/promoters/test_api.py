"""The promoter API: links, statistics, withdrawals."""

import pytest

from promoters.models import ReferralLink
from settlement.models import Payout

pytestmark = pytest.mark.django_db


@pytest.fixture
def promoter_client(api_client, promoter):
    api_client.force_authenticate(promoter.user)
    return api_client


def test_links_and_statistics(promoter_client, promoter, course, learner, referral, buy_referred):
    buy_referred(learner, course, referral)
    made = promoter_client.post(
        f"/api/v1/promoter/{promoter.pk}/links/", {"course": course.slug}, format="json"
    )
    assert made.status_code == 200
    assert made.json()["code"] == ReferralLink.objects.get(promoter=promoter, course=course).code

    mine = promoter_client.get("/api/v1/promoter/").json()

    assert [p["id"] for p in mine] == [promoter.pk]
    assert mine[0]["links"][0]["url"].endswith(f"/r/{made.json()['code']}")
    assert mine[0]["statistics"] == {
        "clicks": 1,
        "orders": 1,
        "pending": 990,
        "available": 0,
        "payouts": 0,
        "paid_out": 0,
    }


def test_a_course_outside_the_programme_gets_no_link(promoter_client, promoter):
    from tests.factories import CourseFactory

    other = CourseFactory(merchant=promoter.merchant)
    response = promoter_client.post(
        f"/api/v1/promoter/{promoter.pk}/links/", {"course": other.slug}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "course_not_promoted"


def test_someone_elses_promoter_is_not_found(api_client, learner, promoter, course):
    api_client.force_authenticate(learner)
    response = api_client.post(
        f"/api/v1/promoter/{promoter.pk}/links/", {"course": course.slug}, format="json"
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "promoter_not_found"


def test_withdrawing_commission(
    promoter_client, promoter, course, learner, referral, buy_referred, no_refund_window, settle, settings
):
    settings.KPAY_PAYOUT_MIN = 100
    order, _ = buy_referred(learner, course, referral)
    settle(order)
    account = {"account_name": "Pat", "bank_name": "ICBC", "account_number": "6222000011112222"}
    url = f"/api/v1/promoter/{promoter.pk}/payouts/"

    too_much = promoter_client.post(url, {"amount": 991, **account}, format="json")
    assert too_much.status_code == 409 and too_much.json()["error"]["code"] == "insufficient_balance"
    made = promoter_client.post(url, {"amount": 990, **account}, format="json")

    assert made.status_code == 201 and made.json()["status"] == "requested"
    payout = Payout.objects.get()
    assert payout.payee == f"promoter:{promoter.pk}" and payout.account_last4 == "2222"


def test_an_applicant_has_nothing_to_withdraw(api_client, learner, programme):
    from promoters.services import promoter_apply

    applied = promoter_apply(user=learner, merchant_id=programme.merchant_id)
    api_client.force_authenticate(learner)
    account = {"account_name": "Pat", "bank_name": "ICBC", "account_number": "6222000011112222"}

    refused = api_client.post(
        f"/api/v1/promoter/{applied.pk}/payouts/", {"amount": 100, **account}, format="json"
    )

    assert refused.status_code == 403 and refused.json()["error"]["code"] == "promoter_not_approved"
    assert not Payout.objects.exists()
