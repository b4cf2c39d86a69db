"""The promoter page beyond withdrawals: getting a link per course (to copy, with its QR
code), applying to an open programme, and the page in Chinese."""

import pytest

from promoters.models import Programme, Promoter, ReferralLink
from promoters.services import link_for, promoter_apply
from tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def test_a_new_promoter_gets_a_link_per_course_from_the_page(client, course, promoter):
    client.force_login(promoter.user)
    page = client.get("/promoter/")
    assert "Courses to promote" in page.text and course.title in page.text
    assert "<svg" not in page.text  # no link yet, no QR code

    response = client.post(f"/promoter/{promoter.pk}/links/", {"course": course.pk}, follow=True)

    link = ReferralLink.objects.get(promoter=promoter, course=course)
    assert f"Your link to {course.title} is ready." in response.text
    assert f'readonly value="http://testserver/r/{link.code}"' in response.text
    assert f'data-copy="link-{link.pk}"' in response.text and "<svg" in response.text
    assert "Courses to promote" not in response.text  # every course has its link
    assert client.post(f"/promoter/{promoter.pk}/links/", {"course": course.pk}).status_code == 302
    assert ReferralLink.objects.filter(promoter=promoter).count() == 1  # asked again: the same


@pytest.mark.parametrize("course_field", ["", "abc", "-1", str(2**70), "999999"])
def test_a_link_to_no_such_course_says_so(client, promoter, course_field):
    client.force_login(promoter.user)
    response = client.post(f"/promoter/{promoter.pk}/links/", {"course": course_field}, follow=True)
    assert response.status_code == 200
    assert "This course is not part of the merchant&#x27;s promoter programme." in response.text
    assert not ReferralLink.objects.exists()


def test_no_link_outside_the_programme_for_an_applicant_or_someone_else(client, learner, programme, promoter):
    elsewhere = CourseFactory()
    client.force_login(promoter.user)
    refused = client.post(f"/promoter/{promoter.pk}/links/", {"course": elsewhere.pk}, follow=True)
    assert "not part of the merchant" in refused.text

    applied = promoter_apply(user=learner, merchant_id=programme.merchant_id)
    client.force_login(learner)
    assert "Courses to promote" not in client.get("/promoter/").text
    course = programme.courses.get()
    response = client.post(f"/promoter/{applied.pk}/links/", {"course": course.pk}, follow=True)
    assert "You are not allowed to do this with promoters." in response.text
    assert client.post(f"/promoter/{promoter.pk}/links/", {"course": course.pk}).status_code == 404
    assert not ReferralLink.objects.exists()


def test_a_learner_finds_the_open_programmes_and_applies(client, learner, programme):
    closed = Programme.objects.create(merchant=CourseFactory().merchant, rate_bp=500, active=False)
    client.force_login(learner)

    page = client.get("/promoter/")
    assert 'href="/promoter/"' in page.text  # in the site's menu
    assert "Become a promoter" in page.text and programme.merchant.name in page.text
    assert "Earn 10% of what a learner pays for its courses, when they buy within 30 days" in page.text
    assert closed.merchant.name not in page.text

    response = client.post(f"/promoter/apply/{programme.merchant.slug}/", {"pitch": "my blog"}, follow=True)

    assert f"Your application was sent to {programme.merchant.name}" in response.text
    assert Promoter.objects.get(user=learner).pitch == "my blog"
    assert "Become a promoter" not in response.text  # applied: now a row of its own
    assert "Applied" in response.text


def test_the_promoter_page_in_chinese(client, course, promoter):
    link_for(promoter=promoter, course_id=course.pk)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    client.force_login(promoter.user)

    text = client.get("/promoter/").text

    for chinese in ["推广员", "点击", "待结算佣金", "可提现佣金", "已打款佣金", "我的推广链接", "复制"]:
        assert chinese in text, chinese
    assert "佣金提现" in text and "推广订单（CSV）" in text and "开户名" in text
    assert "Withdraw commission" not in text and "Your links" not in text


def test_each_promoter_keeps_its_latest_withdrawals_however_busy_another_is(programme):
    """The page shows each programme's latest withdrawals: one busy programme of the same
    learner does not crowd out another's older ones (ranked per payee, one query)."""
    from datetime import timedelta

    from django.utils import timezone

    from promoters import selectors
    from settlement.models import Payout

    from .conftest import make_promoter

    busy = make_promoter(programme)
    other_course = CourseFactory()
    other_programme = Programme.objects.create(merchant=other_course.merchant, rate_bp=1000)
    quiet = make_promoter(other_programme, user=busy.user)
    now = timezone.now()

    def payout(promoter, n, minutes_ago):
        return Payout.objects.create(
            payout_no=f"T{promoter.pk}-{n}",
            merchant_id=promoter.merchant_id,
            payee=promoter.account_owner,
            amount=10_000,
            currency="CNY",
            account_name="A",
            bank_name="B",
            account_number="6222020000000000",
            account_last4="0000",
            requested_by=promoter.user,
            requested_at=now - timedelta(minutes=minutes_ago),
        )

    busy_ones = [payout(busy, n, minutes_ago=n) for n in range(5)]
    old = payout(quiet, 0, minutes_ago=600)

    shown = selectors.payouts_by_promoter([busy, quiet], shown=2)

    assert shown[busy.pk] == busy_ones[:2]
    assert shown[quiet.pk] == [old]
    # Rows written here without the payout flow's journal: gone before the ledger's check.
    Payout.objects.filter(payee__in=[busy.account_owner, quiet.account_owner]).delete()
