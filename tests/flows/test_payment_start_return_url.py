"""Payment start's return URL (the learner's result page, sent to the gateway in the
signed cashier URL) is built from a URL reversed once per public URL, script prefix and
URLconf: it must equal what ``reverse`` gives for every order number."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from django.urls import clear_script_prefix, reverse, set_script_prefix

from orders.numbers import new_public_number
from orders.services import order_checkout
from payments.services import payment_start
from payments.services.payments import _return_url


def reversed_url(order_no: str) -> str:
    from django.conf import settings

    return f"{settings.KPAY_PUBLIC_URL}{reverse('payments:result', args=[order_no])}"


@pytest.mark.parametrize(
    "order_no",
    [new_public_number("K"), "K2612019F3KQ0ZP1XT7A", "a_b-C", "x" * 32],
)
def test_a_plain_order_number_gives_the_reversed_url(order_no):
    assert _return_url(order_no) == reversed_url(order_no)


@pytest.mark.parametrize("order_no", ["a b", "ü", "1%2F", "x" * 33, "0ORDERNOSTANDIN0"])
def test_any_other_order_number_is_reversed_the_ordinary_way(order_no):
    assert _return_url(order_no) == reversed_url(order_no)


def test_the_public_url_and_the_script_prefix_are_followed():
    order_no = new_public_number("K")
    with override_settings(KPAY_PUBLIC_URL="https://pay.example.com"):
        assert _return_url(order_no) == f"https://pay.example.com/payments/pay/{order_no}/result/"
        assert _return_url(order_no) == reversed_url(order_no)
    try:
        set_script_prefix("/shop/")
        assert _return_url(order_no) == reversed_url(order_no)
        assert "/shop/payments/pay/" in _return_url(order_no)
    finally:
        clear_script_prefix()
    assert "/shop/" not in _return_url(order_no)


@pytest.mark.django_db
def test_the_signed_cashier_url_carries_the_result_page(learner, course):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    query = parse_qs(urlsplit(payment.action["code_url"]).query)
    assert query["return_url"] == [reversed_url(order.order_no)]
