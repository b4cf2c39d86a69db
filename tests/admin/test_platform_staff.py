"""Platform staff see every merchant; the journal and gateway records are never edited."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from courses import roles
from courses.models import Course, MerchantMember
from orders.models import Order
from payments.models import GatewayEvent, GatewayExchange, JournalEntry, Payment
from tests.factories import UserFactory

from .pages import admin_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_orders(own_course, other_course, pay):
    return [pay(UserFactory(), own_course)[0], pay(UserFactory(), other_course)[0]]


def test_superuser_sees_every_merchant(client, superuser, own_course, other_course, paid_orders):
    client.force_login(superuser)
    response = client.get(admin_url(Course))
    assert own_course.title in response.text and other_course.title in response.text
    for model in (Order, Payment, JournalEntry):
        response = client.get(admin_url(model))
        assert all(order.order_no in response.text for order in paid_orders), model


@pytest.mark.parametrize("role", [roles.SUPPORT, roles.FINANCE])
def test_platform_roles_see_every_merchants_orders(client, staff_in, role, paid_orders):
    client.force_login(staff_in(role))
    response = client.get(admin_url(Order))
    assert response.status_code == 200
    assert all(order.order_no in response.text for order in paid_orders)


def test_finance_reads_the_journal_but_cannot_change_or_delete_it(client, staff_in, paid_orders):
    client.force_login(staff_in(roles.FINANCE))
    entry = JournalEntry.objects.first()

    listing = client.get(admin_url(JournalEntry))
    assert listing.status_code == 200
    assert all(order.order_no in listing.text for order in paid_orders)
    assert str(entry.posting_id) in listing.text

    page = client.get(admin_url(JournalEntry, "change", entry.pk))
    assert page.status_code == 200 and 'name="_save"' not in page.text
    assert client.post(admin_url(JournalEntry, "change", entry.pk), {"amount": 1}).status_code == 403
    assert client.get(admin_url(JournalEntry, "delete", entry.pk)).status_code == 403
    assert client.post(admin_url(JournalEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403
    assert JournalEntry.objects.filter(pk=entry.pk, amount=entry.amount).exists()


@pytest.mark.parametrize("model", [JournalEntry, GatewayEvent, GatewayExchange, Order, Payment])
def test_nobody_adds_changes_or_deletes_records(client, superuser, model, paid_orders):
    GatewayExchange.objects.create(
        gateway="sandbox", operation="query_payment", method="GET", url="http://gw/trades/1"
    )
    request = RequestFactory().get("/")
    request.user = superuser
    model_admin = admin.site.get_model_admin(model)
    obj = model.objects.first()
    assert obj is not None
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    assert model_admin.has_view_permission(request, obj)

    client.force_login(superuser)
    assert client.get(admin_url(model, "add")).status_code == 403
    assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_the_journal_filters_by_kind_and_account(client, staff_in, own_course, paid_orders):
    client.force_login(staff_in(roles.FINANCE))
    account = f"merchant:{own_course.merchant_id}:pending"
    response = client.get(admin_url(JournalEntry), {"account": account, "kind": "payment"})
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert len(shown) == 1 and shown[0].credit_account == account


def test_payments_flagged_filter(client, superuser, paid_orders):
    flagged = Payment.objects.filter(order=paid_orders[0])
    flagged.update(flag="amount mismatch")
    client.force_login(superuser)
    response = client.get(admin_url(Payment), {"flagged": "yes"})
    assert [p.pk for p in response.context["cl"].result_list] == [flagged.get().pk]
    response = client.get(admin_url(Payment), {"q": paid_orders[1].order_no})
    assert [p.order_id for p in response.context["cl"].result_list] == [paid_orders[1].pk]


def test_merchant_members_are_managed_by_superusers_only(client, staff_in, superuser, merchant_user):
    membership = MerchantMember.objects.get(user=merchant_user)
    for user in (staff_in(roles.SUPPORT), merchant_user):
        client.force_login(user)
        assert client.get(admin_url(MerchantMember)).status_code == 403
        assert client.get(admin_url(MerchantMember, "change", membership.pk)).status_code in (302, 403)
    client.force_login(superuser)
    assert client.get(admin_url(MerchantMember)).status_code == 200


def test_gateway_records_are_platform_staff_only(client, staff_in, merchant_user, paid_orders):
    client.force_login(staff_in(roles.FINANCE))
    assert client.get(admin_url(GatewayEvent)).status_code == 200
    assert client.get(admin_url(GatewayExchange)).status_code == 200
    client.force_login(merchant_user)
    assert client.get(admin_url(GatewayEvent)).status_code == 403
    assert client.get(admin_url(GatewayExchange)).status_code == 403


def test_api_tokens_are_not_in_the_admin(client, superuser):
    from knox.models import AuthToken

    assert not admin.site.is_registered(AuthToken)
    client.force_login(superuser)
    page = client.get("/admin/").text
    assert "authtoken" not in page and "/admin/knox/" not in page


@pytest.mark.parametrize("term", ["not-a-uuid", "K2", "merchant share"])
def test_journal_search_takes_any_text(client, staff_in, paid_orders, term):
    client.force_login(staff_in(roles.FINANCE))
    assert client.get(admin_url(JournalEntry), {"q": term}).status_code == 200


def test_journal_search_finds_an_order_and_a_posting(client, staff_in, paid_orders):
    client.force_login(staff_in(roles.FINANCE))
    order = paid_orders[0]
    entry = JournalEntry.objects.filter(order=order).first()
    for term in (order.order_no, str(entry.posting_id)):
        response = client.get(admin_url(JournalEntry), {"q": term})
        assert {e.order_id for e in response.context["cl"].result_list} == {order.pk}
