"""My orders: the list, one order's page and cancelling."""

from django.urls import reverse

from orders.models import Order
from tests.site.conftest import messages_of


def test_cancelling_a_pending_order_from_my_orders(site, learner, course, place_order):
    order = place_order(course)
    my_orders_url = reverse("orders:my-orders")
    cancel_url = reverse("orders:cancel", args=[order.order_no])

    listing = site.get(my_orders_url).content.decode()
    assert f'href="{cancel_url}"' in listing  # to the confirmation, not a one-click cancel
    assert reverse("payments:pay", args=[order.order_no]) in listing

    response = site.post(cancel_url, {"next": my_orders_url, "confirm": "yes"}, follow=True)

    assert response.redirect_chain == [(my_orders_url, 302)]
    assert messages_of(response) == [f"Order {order.order_no} was cancelled."]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert [c.transition for c in order.status_changes.all()] == ["cancel"]
    assert f'href="{cancel_url}"' not in response.content.decode()

    twice = site.post(cancel_url, {"confirm": "yes"}, follow=True)
    assert messages_of(twice) == ["Only an unpaid order can be cancelled."]


def test_cancel_ignores_a_next_pointing_elsewhere(site, course, place_order):
    order = place_order(course)
    response = site.post(
        reverse("orders:cancel", args=[order.order_no]), {"next": "https://evil.example/", "confirm": "yes"}
    )
    assert response.url == reverse("orders:my-orders")


def test_order_page_shows_lines_and_history(site, course, place_order):
    order = place_order(course)
    site.post(reverse("orders:cancel", args=[order.order_no]), {"confirm": "yes"})

    page = site.get(reverse("orders:detail", args=[order.order_no]))

    content = page.content.decode()
    assert page.status_code == 200
    assert course.title in content and "¥99.00" in content
    assert [h["label"] for h in page.context["history"]] == ["Cancelled"]
