"""The review page of an order held by risk control: which rules hit and why, in words,
amounts in yuan, times local; the learner's orders, payments, refunds, devices and IP
addresses; and a decision the reviewer must choose (no default)."""

import pytest
from django.contrib.auth.models import Group
from django.utils import formats, timezone, translation

from core.http import ClientInfo
from orders.services import order_checkout
from payments.services import payment_start
from riskcontrol.models import ReviewDecision
from tests.factories import CourseFactory, UserFactory

from .test_review_and_payment_stage import rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def risk_staff(db):
    user = UserFactory(username="riskdesk", is_staff=True)
    user.groups.add(Group.objects.get(name="risk"))
    return user


@pytest.fixture
def held(learner, course, sandbox, admin_user):
    """The learner bought twice before from one IP (once shared with another account);
    the third purchase, above ¥50.00, is held for review."""
    campus = ClientInfo(ip="203.0.113.9", device_id="phone-1")
    earlier = order_checkout(learner=learner, course_slug=CourseFactory(price=1000).slug, client=campus).order
    order_checkout(learner=UserFactory(), course_slug=CourseFactory().slug, client=campus)
    rule(admin_user, "Large order", "amount_above", {"amount": 5000}, "review")
    order = order_checkout(learner=learner, course_slug=course.slug, client=campus).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(payment).status_code == 204
    order.refresh_from_db()
    return order, payment, earlier


def page_of(client, order, language):
    response = client.get(
        f"/admin/riskcontrol/heldorder/{order.pk}/change/", headers={"accept-language": language}
    )
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_says_why_in_words_in_yuan_and_local_time(client, risk_staff, held):
    order, _payment, _earlier = held
    client.force_login(risk_staff)

    english = page_of(client, order, "en")
    assert "At checkout: Review" in english and "When paid: Allow" in english
    assert "The order&#x27;s amount ¥99.00 is above ¥50.00." in english
    assert "Large order" in english
    local = formats.date_format(timezone.localtime(order.created_at), "DATETIME_FORMAT")
    assert local in english  # the assessment's time, in the platform's time zone
    assert "&quot;" not in english and "9900" not in english  # no JSON, no fen

    chinese = page_of(client, order, "zh-hans")
    assert "下单时: 人工审核" in chinese and "订单金额 ¥99.00 超过 ¥50.00。" in chinese


def test_the_page_shows_the_learners_history_and_devices(client, risk_staff, held):
    order, payment, earlier = held
    client.force_login(risk_staff)
    page = page_of(client, order, "en")

    assert earlier.order_no in page and order.order_no in page  # the orders
    assert payment.payment_no in page and "Sandbox Pay" in page  # the payments, by channel
    assert "¥10.00" in page and "¥99.00" in page
    assert "203.0.113.9" in page and "phone-1" in page  # where the learner bought from
    assert "2 orders placed" in page
    assert '<strong class="kpay-negative">1</strong>' in page  # another account on the same IP and phone


def test_the_decision_has_no_default_and_must_be_chosen(client, risk_staff, held):
    order, _payment, _earlier = held
    client.force_login(risk_staff)
    page = page_of(client, order, "en")
    assert 'name="verdict"' in page and 'type="radio"' in page
    assert "checked" not in page.split('name="verdict"', 1)[1].split("</div>", 3)[0]  # nothing pre-chosen

    url = f"/admin/riskcontrol/heldorder/{order.pk}/change/"
    refused = client.post(url, {"note": "looks fine"}, headers={"accept-language": "en"})
    assert refused.status_code == 200 and "verdict" in refused.context["adminform"].form.errors
    assert not ReviewDecision.objects.exists()

    assert client.post(url, {"verdict": "approve", "note": "looks fine"}).status_code == 302
    assert ReviewDecision.objects.get(order=order).verdict == "approve"


def test_risk_staff_find_the_queue_on_the_home_page(client, risk_staff, held):
    client.force_login(risk_staff)
    home = client.get("/admin/", headers={"accept-language": "en"})
    queues = {queue.label: queue for queue in home.context["work_queues"]}
    held_queue = queues["Orders held for review"]
    assert held_queue.count == 1 and held_queue.url == "/admin/riskcontrol/heldorder/"
    assert "Refunds to approve" not in queues  # not theirs
    with translation.override("en"):
        assert "Orders held for review" in home.content.decode()
