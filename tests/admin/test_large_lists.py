"""Admin lists built for millions of rows (``core.admin.large_tables``): number search on
indexed columns, estimated counts, filters that do not read the list's rows."""

import pytest

from core.admin import large_tables
from courses import roles
from orders.models import Order
from payments.models import JournalEntry, Payment, Refund
from tests.factories import UserFactory

from .pages import admin_url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def paid_orders(own_course, other_course, pay):
    return [pay(UserFactory(), own_course), pay(UserFactory(), other_course)]


def shown(response):
    return list(response.context["cl"].result_list)


def test_a_number_finds_its_row_exactly_as_typed_or_in_lower_case(client, superuser, paid_orders):
    client.force_login(superuser)
    (order, payment), (other_order, _other_payment) = paid_orders
    for term in (order.order_no, order.order_no.lower(), f"  {order.order_no} "):
        assert [o.pk for o in shown(client.get(admin_url(Order), {"q": term}))] == [order.pk]
    assert [p.pk for p in shown(client.get(admin_url(Payment), {"q": payment.payment_no}))] == [payment.pk]
    # A related number: the payments of an order, the journal of an order or a payment.
    assert [p.pk for p in shown(client.get(admin_url(Payment), {"q": order.order_no}))] == [payment.pk]
    for term in (order.order_no, payment.payment_no):
        entries = shown(client.get(admin_url(JournalEntry), {"q": term}))
        assert entries and {e.order_id for e in entries} == {order.pk}
    # Part of a number is not a number: nothing (the old search matched any substring).
    assert shown(client.get(admin_url(Order), {"q": order.order_no[:-1]})) == []
    assert other_order.pk not in [o.pk for o in shown(client.get(admin_url(Order), {"q": order.order_no}))]


def test_a_username_is_exact_and_words_fall_back_to_the_text_fields(client, superuser, paid_orders):
    client.force_login(superuser)
    (order, _payment), _ = paid_orders
    response = client.get(admin_url(Order), {"q": order.learner.username})
    assert [o.pk for o in shown(response)] == [order.pk]
    assert response.context["cl"].search_help_text == large_tables.NUMBER_SEARCH_HELP
    entries = shown(client.get(admin_url(JournalEntry), {"q": "platform commission"}))
    assert entries and all(e.memo == "platform commission" for e in entries)


def test_merchant_staff_find_only_their_own_numbers(client, merchant_user, paid_orders):
    client.force_login(merchant_user)
    (order, _payment), (other_order, other_payment) = paid_orders
    assert [o.pk for o in shown(client.get(admin_url(Order), {"q": order.order_no}))] == [order.pk]
    assert shown(client.get(admin_url(Order), {"q": other_order.order_no})) == []
    assert shown(client.get(admin_url(Payment), {"q": other_payment.payment_no})) == []
    assert shown(client.get(admin_url(JournalEntry), {"q": other_order.order_no})) == []


@pytest.mark.postgres
def test_above_the_limit_the_count_is_the_planners_estimate_and_says_so(
    client, superuser, paid_orders, monkeypatch
):
    client.force_login(superuser)
    response = client.get(admin_url(Order))
    assert not response.context["cl"].paginator.estimated
    assert "about" not in response.text
    monkeypatch.setattr(large_tables, "EXACT_COUNT_LIMIT", 0)
    response = client.get(admin_url(Order))
    paginator = response.context["cl"].paginator
    assert paginator.estimated and paginator.count >= 1
    assert f"about {paginator.count}" in response.text
    assert len(shown(response)) == 2  # the rows themselves are exact


def test_the_merchant_filter_lists_merchants_for_platform_staff_only(
    client, staff_in, merchant_user, own_merchant, other_merchant, paid_orders
):
    client.force_login(staff_in(roles.SUPPORT))
    for model in (Order, Payment, Refund, JournalEntry):
        response = client.get(admin_url(model))
        assert "Rival Academy" in response.text and "Our Studio" in response.text, model
    response = client.get(admin_url(Order), {"merchant__id__exact": own_merchant.pk})
    assert {o.merchant_id for o in shown(response)} == {own_merchant.pk}
    client.force_login(merchant_user)
    response = client.get(admin_url(Order))
    assert "Rival Academy" not in response.text
