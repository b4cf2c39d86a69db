import pytest
from django.urls import reverse

from orders.models import Order


@pytest.fixture(autouse=True)
def _english(client):
    """Assertions below read English; the site's default language (zh-hans) has its own test."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def site(client, learner):
    """The test client, logged in as ``learner``."""
    client.force_login(learner)
    return client


@pytest.fixture
def place_order(site):
    """Place an order through the checkout page; returns the order."""

    def place(course):
        response = site.post(reverse("orders:checkout", args=[course.slug]))
        assert response.status_code == 302, response
        order_no = response.url.rstrip("/").split("/")[-1]
        return Order.objects.get(order_no=order_no)

    return place


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]
