"""Someone else's order is invisible; bad input ends in a message or a 404, never a 500."""

import pytest
from django.urls import reverse
from django.utils import timezone

from courses.services import enrollment_grant
from orders.models import Order
from payments.models import Payment
from tests.factories import UserFactory
from tests.site.conftest import messages_of


def test_another_learners_order_is_a_404_everywhere(client, course, place_order):
    order = place_order(course)
    client.force_login(UserFactory())
    no = order.order_no

    responses = {
        "pay": client.get(reverse("payments:pay", args=[no])),
        "pay POST": client.post(reverse("payments:pay", args=[no]), {"channel": "sandbox"}),
        "status": client.get(reverse("payments:status", args=[no])),
        "result": client.get(reverse("payments:result", args=[no])),
        "detail": client.get(reverse("orders:detail", args=[no])),
        "cancel": client.post(reverse("orders:cancel", args=[no])),
    }

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 404)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not Payment.objects.exists()
    assert order.order_no not in client.get(reverse("orders:my-orders")).content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, course):
    checkout = client.post(reverse("orders:checkout", args=[course.slug]))
    assert checkout.status_code == 302
    assert checkout.url == f"{reverse('login')}?next={course.get_absolute_url()}"
    assert not Order.objects.exists()
    for name in ("courses:my-courses", "orders:my-orders"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    status = client.get(reverse("payments:status", args=["K123"]))
    assert status.status_code == 302 and status.url.startswith(reverse("login"))


def test_checkout_of_an_unknown_course_is_a_404(site):
    assert site.post(reverse("orders:checkout", args=["no-such-course"])).status_code == 404
    assert not Order.objects.exists()


def test_checkout_answers_post_only(site, course):
    assert site.get(reverse("orders:checkout", args=[course.slug])).status_code == 405
    assert site.put(reverse("orders:cancel", args=["K1"])).status_code == 405
    assert not Order.objects.exists()


def test_buying_an_owned_course_says_so_and_places_no_order(site, learner, course):
    enrollment_grant(learner_id=learner.pk, course_ids=[course.pk], order_no="", at=timezone.now())

    response = site.post(reverse("orders:checkout", args=[course.slug]), follow=True)

    assert response.redirect_chain == [(course.get_absolute_url(), 302)]
    assert messages_of(response) == ["You already own this course."]
    assert response.context["owned"] is True
    assert not Order.objects.exists()


@pytest.mark.parametrize("data", [{"channel": "no-such-channel"}, {}], ids=["unknown", "missing"])
def test_an_unknown_channel_is_a_message_and_no_payment(site, course, place_order, data):
    order = place_order(course)
    pay_url = reverse("payments:pay", args=[order.order_no])

    response = site.post(pay_url, data, follow=True)

    assert response.redirect_chain == [(pay_url, 302)]
    assert messages_of(response) == ["This payment method is not available."]
    assert not Payment.objects.exists()


def test_pay_page_of_a_closed_order_says_so_and_starts_nothing(site, course, place_order):
    order = place_order(course)
    site.post(reverse("orders:cancel", args=[order.order_no]), {"confirm": "yes"})
    pay_url = reverse("payments:pay", args=[order.order_no])

    page = site.get(pay_url)
    started = site.post(pay_url, {"channel": "sandbox"}, follow=True)

    assert page.status_code == 200 and page.context["closed"] is True
    assert 'name="channel"' not in page.content.decode()
    assert messages_of(started) == ["This order cannot be paid any more."]
    assert not Payment.objects.exists()
    assert site.get(reverse("payments:status", args=[order.order_no])).json()["closed"] is True


def test_unknown_order_numbers_are_404(site):
    for url in (
        reverse("payments:pay", args=["nope"]),
        reverse("payments:status", args=["nope"]),
        reverse("payments:result", args=["nope"]),
        reverse("orders:detail", args=["nope"]),
    ):
        assert site.get(url).status_code == 404, url
    assert site.post(reverse("orders:cancel", args=["nope"])).status_code == 404
    assert site.post(reverse("orders:cancel", args=["nope"]), {"confirm": "yes"}).status_code == 404
    assert site.get(reverse("orders:cancel", args=["nope"])).status_code == 404


def test_status_and_result_pages_only_read(site, course, place_order):
    order = place_order(course)
    for name in ("payments:status", "payments:result"):
        assert site.post(reverse(name, args=[order.order_no])).status_code == 405
